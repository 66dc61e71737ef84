//! The `doorbell-bridge` command: parse the command line, set up logging, run the chosen
//! command, print the error chain once. Exit codes: 0 ok, 1 runtime failure, 2 bad config.

use std::process::ExitCode;

use clap::Parser;
use doorbell_bridge::cli::Cli;
use doorbell_bridge::config::ConfigError;
use doorbell_bridge::{commands, logging};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = logging::init(cli.log_level.as_deref(), cli.log_format) {
        eprintln!("doorbell-bridge: {e:#}");
        return ExitCode::from(2);
    }
    match commands::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("doorbell-bridge: {e:#}");
            if e.downcast_ref::<ConfigError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
