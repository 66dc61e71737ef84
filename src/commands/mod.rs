//! The subcommands. Each returns `anyhow::Result<ExitCode>`; `main` prints errors once.
//!
//! Exit codes: 0 ok, 1 a check or the command failed (with a hint), 2 the config is invalid.

pub mod check;
pub mod check_camera;
pub mod check_door;
pub mod check_push;
pub mod check_report;
pub mod check_vendor;
pub mod demo;
pub mod discover;
pub mod events;
pub mod snapshot;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::app;
use crate::cli::{Cli, Command};
use crate::config::{self, CameraConfig, Config, ConfigError};

/// Runs the command `cli` asks for.
pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command.unwrap_or(Command::Run) {
        Command::Version => {
            println!("doorbell-bridge {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Check {
            offline,
            json,
            timeout,
        } => {
            let options = check::CheckOptions {
                offline,
                json,
                step_timeout: duration("--timeout", &timeout)?,
            };
            check::run(&cli.config, &options)
        }
        Command::Discover { wait, addresses } => {
            let wait = duration("--wait", &wait)?;
            runtime()?.block_on(discover::run(addresses, wait))
        }
        Command::Events {
            camera,
            from_file,
            json,
            count,
            duration: d,
        } => {
            let until = events::Until {
                count,
                duration: d.map(|d| duration("--duration", &d)).transpose()?,
            };
            run_events(
                &cli.config,
                camera.as_deref(),
                from_file.as_deref(),
                json,
                until,
            )
        }
        Command::Snapshot { camera, output } => {
            let config = config::load(&cli.config)?;
            let camera = find_camera(&config, &camera)?;
            runtime()?.block_on(snapshot::run(&camera, &output))
        }
        Command::Run => {
            let config = config::load(&cli.config)?;
            if let Some(w) = config::warn_if_world_readable(&cli.config, config.inline_passwords) {
                tracing::warn!("{w}");
            }
            runtime()?.block_on(async {
                let token = CancellationToken::new();
                tokio::spawn(app::signals(token.clone()));
                app::run(config, token).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo {
            mqtt,
            duration: d,
            api,
        } => {
            let d = d.map(|d| duration("--duration", &d)).transpose()?;
            runtime()?.block_on(async {
                let token = CancellationToken::new();
                tokio::spawn(app::signals(token.clone()));
                demo::run(mqtt, d, api, token).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run_events(
    path: &Path,
    camera: Option<&str>,
    from_file: Option<&Path>,
    json: bool,
    until: events::Until,
) -> anyhow::Result<ExitCode> {
    let (camera, push) = match camera {
        Some(id) => {
            let config = config::load(path)?;
            (find_camera(&config, id)?, config.push)
        }
        // Only --from-file gets here (clap requires one of the two).
        None => (events::file_camera(), None),
    };
    match from_file {
        Some(file) => events::from_file(file, &camera, json),
        None => runtime()?.block_on(async {
            let token = CancellationToken::new();
            tokio::spawn(app::signals(token.clone()));
            events::live(&camera, push.as_ref(), json, until, token).await
        }),
    }
}

/// A duration option (`30s`, `5m`), with the option's name in the error.
fn duration(option: &str, text: &str) -> anyhow::Result<Duration> {
    crate::units::parse_duration(text).map_err(|e| anyhow::anyhow!("{option} {e}"))
}

/// The configured camera with id `id`; an unknown id is a config error listing the known ones.
pub fn find_camera(config: &Config, id: &str) -> Result<CameraConfig, ConfigError> {
    config
        .cameras
        .iter()
        .find(|c| c.id.as_str() == id)
        .cloned()
        .ok_or_else(|| {
            let known: Vec<&str> = config.cameras.iter().map(|c| c.id.as_str()).collect();
            ConfigError {
                file: config.source.clone(),
                key: String::new(),
                message: if known.is_empty() {
                    format!("has no cameras, so no camera {id:?}; add a [[cameras]] entry")
                } else {
                    format!("has no camera {id:?}; pass one of: {}", known.join(", "))
                },
            }
        })
}

/// Most threads for blocking work (archive writes with their fsyncs, DNS lookups). Tokio's
/// default is 512: a burst of snapshots from many cameras started one thread each (103
/// threads with 100 cameras in the bench), costing memory on small hardware for no speed, as
/// the writes share one disk.
pub const MAX_BLOCKING_THREADS: usize = 8;

/// The tokio runtime every async command runs on.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))
}
