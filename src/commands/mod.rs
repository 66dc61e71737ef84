//! The subcommands. Each returns `anyhow::Result<ExitCode>`; `main` prints errors once.

pub mod check;
pub mod demo;
pub mod discover;

use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

use crate::app;
use crate::cli::{Cli, Command};

/// Runs the command `cli` asks for.
pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command.unwrap_or(Command::Run) {
        Command::Version => {
            println!("doorbell-bridge {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { offline, json } => check::run(&cli.config, offline, json),
        Command::Discover { wait, addresses } => {
            let wait =
                crate::units::parse_duration(&wait).map_err(|e| anyhow::anyhow!("--wait {e}"))?;
            runtime()?.block_on(discover::run(addresses, wait))
        }
        Command::Run => {
            let config = crate::config::load(&cli.config)?;
            runtime()?.block_on(async {
                let token = CancellationToken::new();
                tokio::spawn(app::signals(token.clone()));
                app::run(config, token).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { mqtt, duration } => {
            let duration = duration
                .map(|d| {
                    crate::units::parse_duration(&d).map_err(|e| anyhow::anyhow!("--duration {e}"))
                })
                .transpose()?;
            runtime()?.block_on(async {
                let token = CancellationToken::new();
                tokio::spawn(app::signals(token.clone()));
                demo::run(mqtt, duration, token).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
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
