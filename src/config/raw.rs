//! The config as written: every key optional where a default exists, unknown keys rejected.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{ConfigError, ENV_PREFIX};

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[mqtt]`.
    #[serde(default)]
    pub mqtt: RawMqtt,
    /// `[storage]`.
    #[serde(default)]
    pub storage: RawStorage,
    /// `[http]`.
    #[serde(default)]
    pub http: Option<RawHttp>,
    /// `[push]`.
    #[serde(default)]
    pub push: Option<RawPush>,
    /// `[[cameras]]`.
    #[serde(default)]
    pub cameras: Vec<RawCamera>,
}

/// `[mqtt]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawMqtt {
    pub url: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
    pub client_id: Option<String>,
    pub base_topic: Option<String>,
    pub discovery_prefix: Option<String>,
    pub ha_status_topic: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub queue_size: Option<usize>,
    pub retain_snapshot: Option<bool>,
}

/// `[storage]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawStorage {
    pub path: Option<PathBuf>,
    pub max_age: Option<String>,
    pub max_size: Option<String>,
}

/// `[http]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawHttp {
    pub listen: Option<String>,
    pub history: Option<bool>,
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
    pub trusted_proxy: Option<String>,
}

/// `[push]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawPush {
    pub listen: Option<String>,
    pub advertise_url: Option<String>,
}

/// `[[cameras]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawCamera {
    pub id: String,
    pub name: Option<String>,
    pub url: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
    pub tls_insecure: Option<bool>,
    pub pull_timeout: Option<String>,
    pub message_limit: Option<u32>,
    pub subscription: Option<String>,
    pub max_backoff: Option<String>,
    pub drift_threshold: Option<String>,
    pub set_clock: Option<bool>,
    pub snapshot: Option<RawSnapshot>,
    pub clip: Option<RawClip>,
    #[serde(default)]
    pub rules: Vec<RawRule>,
    pub ring_input: Option<String>,
    #[serde(default)]
    pub hold: BTreeMap<String, String>,
    #[serde(default)]
    pub auto_clear: BTreeMap<String, String>,
    pub api: Option<String>,
    pub channel: Option<u32>,
    pub call_poll: Option<String>,
    pub events: Option<String>,
    pub push_from: Option<String>,
    pub relay: Option<RawRelay>,
}

/// `[cameras.relay]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawRelay {
    pub enabled: Option<bool>,
    pub door: Option<RawDoor>,
    pub pulse: Option<String>,
    pub code: Option<String>,
    pub code_file: Option<PathBuf>,
}

/// `door`: a vendor door number, or an ONVIF relay token.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
#[allow(missing_docs)]
pub enum RawDoor {
    Number(i64),
    Token(String),
}

/// `[cameras.snapshot]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawSnapshot {
    pub enabled: Option<bool>,
    pub on: Option<Vec<String>>,
    pub interval: Option<String>,
    pub burst: Option<u32>,
    pub burst_interval: Option<String>,
    pub profile: Option<String>,
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    pub max_size: Option<String>,
}

/// `[cameras.clip]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawClip {
    pub on: Option<Vec<String>>,
    pub pre: Option<String>,
    pub post: Option<String>,
    pub max: Option<String>,
    pub stream: Option<String>,
}

/// `[[cameras.rules]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawRule {
    pub topic: String,
    pub item: Option<String>,
    pub value: Option<String>,
    pub kind: String,
}

/// Reads the file and the environment (`env` replaces the process environment when given).
pub fn read(path: &Path, env: Option<HashMap<String, String>>) -> Result<RawConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_owned(),
        key: String::new(),
        message: match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "cannot read the config: {e}; copy config.example.toml there or pass --config PATH"
            ),
            _ => format!("cannot read the config: {e}"),
        },
    })?;
    build(&text, path, Some(env))
}

/// Parses TOML text without the environment.
pub fn parse_str(text: &str, source: &Path) -> Result<RawConfig, ConfigError> {
    build(text, source, None)
}

/// `env`: `None` = no environment layer; `Some(None)` = the process environment;
/// `Some(Some(map))` = that map.
fn build(
    text: &str,
    path: &Path,
    env: Option<Option<HashMap<String, String>>>,
) -> Result<RawConfig, ConfigError> {
    let mut builder = config::Config::builder()
        .add_source(config::File::from_str(text, config::FileFormat::Toml));
    if let Some(map) = env {
        // `__` between prefix, section and key keeps snake_case keys intact
        // (rust-cli/config-rs#391): DOORBELL_BRIDGE__MQTT__BASE_TOPIC.
        let source = config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .source(map);
        builder = builder.add_source(source);
    }
    let err = |e: config::ConfigError| ConfigError {
        file: path.to_owned(),
        key: String::new(),
        message: describe(e),
    };
    builder
        .build()
        .map_err(err)?
        .try_deserialize::<RawConfig>()
        .map_err(err)
}

/// The config crate's message, with a hint for the usual mistakes.
fn describe(e: config::ConfigError) -> String {
    let text = e.to_string();
    if text.contains("unknown field") {
        format!("{text}; check the spelling against config.example.toml")
    } else if text.contains("missing field") {
        format!("{text}; see config.example.toml for the required keys")
    } else {
        text
    }
}
