//! Logging setup: tracing to stderr, human or JSON, level from `--log-level` or `RUST_LOG`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// Default filter when neither `--log-level` nor `RUST_LOG` is set. rumqttd (the demo's embedded broker) logs routine disconnects as errors.
pub const DEFAULT_FILTER: &str = "info,rumqttd=off";

/// Installs the global subscriber. `level` wins over `RUST_LOG`.
pub fn init(level: Option<&str>, format: LogFormat) -> anyhow::Result<()> {
    let filter = match level {
        Some(l) => EnvFilter::try_new(l)
            .map_err(|e| anyhow::anyhow!("--log-level {l:?} is not a level or filter: {e}"))?,
        None => {
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
        }
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Human => builder.with_ansi(false).try_init(),
        LogFormat::Auto => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}
