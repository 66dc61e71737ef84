//! Command-line interface definitions (clap). The commands themselves live in [`crate::commands`].

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::DEFAULT_PATH;

/// ONVIF doorbells and cameras to MQTT and Home Assistant. No frame leaves the house.
#[derive(Debug, Parser)]
#[command(name = "doorbell-bridge", version, about, long_about = None)]
pub struct Cli {
    /// Config file (TOML); keys can be overridden by DOORBELL_BRIDGE__SECTION__KEY variables.
    #[arg(long, short, global = true, env = "DOORBELL_BRIDGE_CONFIG", default_value = DEFAULT_PATH)]
    pub config: PathBuf,
    /// Log level or filter (trace, debug, info, warn, error, or a RUST_LOG-style filter).
    #[arg(long, global = true, env = "DOORBELL_BRIDGE_LOG")]
    pub log_level: Option<String>,
    /// Log format: human on a terminal, json for log collectors.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,
    /// What to do; `run` when left out.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable, colours only on a terminal.
    Auto,
    /// Human-readable, no colours.
    Human,
    /// One JSON object per line.
    Json,
}

/// Which device the demo's simulated doorbell plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum DemoApi {
    /// A Reolink-shaped ONVIF doorbell: the press is an ONVIF event.
    #[default]
    Onvif,
    /// An Amcrest AD410: the press only on the Dahua event stream.
    Dahua,
    /// A Hikvision DS-KV6113 door station: the press on call status and the alert stream.
    Hikvision,
    /// A DoorBird D2101V: no ONVIF; the press is a call of the favorite the bridge registers on
    /// its push listener.
    #[value(name = "doorbird")]
    DoorBird,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bridge (the default).
    Run,
    /// Validate the config, then test each camera and the MQTT connection.
    Check {
        /// Validate the config only; touch no network.
        #[arg(long)]
        offline: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        /// Time each step may take (e.g. 10s, 30s for slow cameras).
        #[arg(long, default_value = "10s")]
        timeout: String,
    },
    /// Show what a camera sends and what the rules make of it (for writing a user rule).
    Events {
        /// The camera to watch (its id in the config); with --from-file, whose rules apply.
        #[arg(long, required_unless_present = "from_file")]
        camera: Option<String>,
        /// Read a saved PullMessagesResponse instead of subscribing (no network, no config
        /// needed without --camera).
        #[arg(long, value_name = "FILE")]
        from_file: Option<PathBuf>,
        /// Print only the derived events, one JSON object per line (the MQTT event payload).
        #[arg(long)]
        json: bool,
        /// Stop after this many triggers (presses, new detections).
        #[arg(long, conflicts_with = "from_file")]
        count: Option<u64>,
        /// Stop after this long (e.g. 5m).
        #[arg(long, conflicts_with = "from_file")]
        duration: Option<String>,
    },
    /// Fetch one snapshot from a camera.
    Snapshot {
        /// The camera (its id in the config).
        #[arg(long)]
        camera: String,
        /// Where to write the JPEG.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Run a simulated doorbell, an MQTT broker and the bridge, and print what flows.
    Demo {
        /// Use this broker instead of the embedded one, e.g. mqtt://homeassistant.local.
        #[arg(long)]
        mqtt: Option<String>,
        /// Stop after this long (e.g. 30s); runs until Ctrl-C when left out.
        #[arg(long)]
        duration: Option<String>,
        /// Which device the simulated doorbell plays.
        #[arg(long, value_enum, default_value_t = DemoApi::Onvif)]
        api: DemoApi,
    },
    /// Find ONVIF cameras on the local network (WS-Discovery) and print config snippets.
    Discover {
        /// How long to wait for answers.
        #[arg(long, default_value = "3s")]
        wait: String,
        /// Probe these addresses directly (host:port) instead of the multicast group.
        #[arg(long = "address")]
        addresses: Vec<std::net::SocketAddr>,
    },
    /// Print the version.
    Version,
}
