//! The subcommands. Each returns `anyhow::Result<ExitCode>`; `main` prints errors once.

pub mod check;

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
        Command::Run => anyhow::bail!("run: not wired yet"),
        Command::Demo { .. } => anyhow::bail!("demo: not wired yet"),
    }
}
