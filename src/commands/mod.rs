//! The subcommands. Each returns `anyhow::Result<ExitCode>`; `main` prints errors once.

pub mod check;
pub mod discover;

use std::process::ExitCode;

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
        Command::Run => anyhow::bail!("run: not wired yet"),
        Command::Demo { .. } => anyhow::bail!("demo: not wired yet"),
    }
}

/// The tokio runtime every async command runs on.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))
}
