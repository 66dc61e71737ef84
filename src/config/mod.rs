//! Configuration: a TOML file plus `DOORBELL_BRIDGE__SECTION__KEY` environment variables,
//! read into [`raw`] structs (`deny_unknown_fields`) and validated into [`Config`], the only
//! form the rest of the program sees. Every error names the file, the key path and a fix.

mod camera;
mod clip;
pub mod permissions;
pub mod raw;

pub use camera::camera_url;
use camera::validate_camera;
pub use clip::{ClipConfig, ClipStream};

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use crate::event::{CameraId, Kind};
use crate::secret::Secret;
use crate::units::{parse_duration, parse_size};

pub use permissions::{warn_if_world_readable, world_readable};

/// Where the config lives unless `--config` says otherwise.
pub const DEFAULT_PATH: &str = "/etc/doorbell-bridge/doorbell-bridge.toml";
/// Environment variable prefix; sections and keys are separated by `__`.
pub const ENV_PREFIX: &str = "DOORBELL_BRIDGE";
/// Default MQTT broker.
pub const DEFAULT_MQTT_URL: &str = "mqtt://127.0.0.1:1883";
/// Default base topic.
pub const DEFAULT_BASE_TOPIC: &str = "doorbell-bridge";
/// Default Home Assistant discovery prefix.
pub const DEFAULT_DISCOVERY_PREFIX: &str = "homeassistant";
/// Default topic of Home Assistant's birth and last-will messages.
pub const DEFAULT_HA_STATUS_TOPIC: &str = "homeassistant/status";
/// Default length of the queue of events that wait for the broker.
pub const DEFAULT_QUEUE_SIZE: usize = 1000;
/// Default archive folder.
pub const DEFAULT_STORAGE_PATH: &str = "/var/lib/doorbell-bridge/footage";
/// Default archive age limit.
pub const DEFAULT_MAX_AGE: &str = "30d";
/// Default archive size limit.
pub const DEFAULT_MAX_SIZE: &str = "2GiB";
/// Default PullMessages long-poll timeout.
pub const DEFAULT_PULL_TIMEOUT: &str = "60s";
/// Default PullMessages message limit.
pub const DEFAULT_MESSAGE_LIMIT: u32 = 100;
/// Default subscription lifetime (renewed at about 80 % of it).
pub const DEFAULT_SUBSCRIPTION: &str = "10m";
/// Default largest backoff between reconnect attempts.
pub const DEFAULT_MAX_BACKOFF: &str = "60s";
/// Default camera clock drift that is reported.
pub const DEFAULT_DRIFT_THRESHOLD: &str = "5s";
/// Default Hikvision door station call-status poll interval.
pub const DEFAULT_CALL_POLL: &str = "1s";
/// Range of `call_poll`: faster costs the door station, slower delays the ring.
pub const CALL_POLL_RANGE: std::ops::RangeInclusive<Duration> =
    Duration::from_millis(500)..=Duration::from_secs(5);
/// Default largest snapshot.
pub const DEFAULT_SNAPSHOT_MAX_SIZE: &str = "8MiB";
/// Largest `snapshot.max_size` accepted: [`crate::limits::MAX_SNAPSHOT_BYTES`], the bound the
/// publisher applies.
pub const MAX_SNAPSHOT_SIZE: u64 = crate::limits::MAX_SNAPSHOT_BYTES as u64;
/// Largest `password_file` read: a password is short; a wrong path to a device or a huge file
/// must not hang or exhaust the start.
pub const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from (for messages).
    pub source: PathBuf,
    /// MQTT broker and topics.
    pub mqtt: MqttConfig,
    /// The footage archive.
    pub storage: StorageConfig,
    /// Health and metrics endpoint; `None` opens no port.
    pub http: Option<HttpConfig>,
    /// The push listener (ONVIF Notify, vendors that call a URL); `None` opens no port.
    pub push: Option<PushConfig>,
    /// The cameras, in config order.
    pub cameras: Vec<CameraConfig>,
    /// Whether any password is written in the file itself (not in a `*_file`).
    pub inline_passwords: bool,
}

/// MQTT settings.
#[derive(Debug, Clone)]
pub struct MqttConfig {
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// `mqtts://`: TLS with certificate verification.
    pub tls: bool,
    /// Username, if the broker wants one.
    pub username: Option<String>,
    /// Password.
    pub password: Option<Secret>,
    /// Client id, stable across restarts.
    pub client_id: String,
    /// Base of every topic we own.
    pub base_topic: String,
    /// Home Assistant discovery prefix.
    pub discovery_prefix: String,
    /// Home Assistant's birth/last-will topic.
    pub ha_status_topic: String,
    /// CA certificate (PEM) for `mqtts://`; system roots when absent.
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key (PEM) for mutual TLS.
    pub client_auth: Option<(PathBuf, PathBuf)>,
    /// Events that may wait for the broker.
    pub queue_size: usize,
    /// Retain the last JPEG on the snapshot topic.
    pub retain_snapshot: bool,
}

/// Archive settings.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// Root folder.
    pub path: PathBuf,
    /// Files older than this are deleted.
    pub max_age: Duration,
    /// The archive is kept below this many bytes, oldest first.
    pub max_size: u64,
}

/// The bridge's HTTP server (`[http]`): health, metrics and the visitor history page.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Address to listen on ([`DEFAULT_HTTP_LISTEN`] when `[http]` names none).
    pub listen: SocketAddr,
    /// Serve the visitor history page at `/` (default on).
    pub history: bool,
    /// The page's password: needed by every client but loopback and the trusted proxy.
    pub password: Option<Secret>,
    /// The one address allowed to pass the page's login and its base path
    /// (`X-Ingress-Path`): Home Assistant's ingress proxy, `172.30.32.2` in the app.
    pub trusted_proxy: Option<IpAddr>,
}

impl HttpConfig {
    /// Whether the page listens beyond this host but can be opened only from it: no
    /// password and no trusted proxy on a non-loopback address. The app then warns at start
    /// that other devices are refused (health and metrics keep answering them).
    pub fn page_refuses_other_hosts(&self) -> bool {
        self.history
            && self.password.is_none()
            && self.trusted_proxy.is_none()
            && !self.listen.ip().is_loopback()
    }
}

/// Where `[http]` listens when it names no address: this host only.
pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:9464";

/// The push listener: where it listens and the URL cameras are told to call.
#[derive(Debug, Clone)]
pub struct PushConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The base URL cameras reach the listener at (`http://192.168.1.5:8090`); routes are
    /// `<advertise_url>/push/<camera>/<token>`.
    pub advertise_url: Url,
}

/// How a camera's ONVIF events arrive (`events` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Events {
    /// PullPoint; push (WS-BaseNotification) when the PullPoint is refused or keeps failing
    /// and `[push]` is configured.
    #[default]
    Auto,
    /// PullPoint only.
    Pull,
    /// Push only (needs `[push]`).
    Push,
}

impl Events {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Events::Auto => "auto",
            Events::Pull => "pull",
            Events::Push => "push",
        }
    }
}

impl std::str::FromStr for Events {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Events::Auto, Events::Pull, Events::Push]
            .into_iter()
            .find(|e| e.as_str() == s.trim())
            .ok_or_else(|| {
                format!("{s:?} is not an event mode; write \"auto\", \"pull\" or \"push\"")
            })
    }
}

/// Which peer may deliver a camera's pushed requests (`push_from` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PushFrom {
    /// The camera's own host address (resolved when the route is registered).
    #[default]
    CameraHost,
    /// Any address (`push_from = "any"`: NAT, a proxy in between).
    Any,
    /// This address.
    Addr(std::net::IpAddr),
}

/// One camera.
#[derive(Debug, Clone)]
pub struct CameraConfig {
    /// Slug id used in topics and files.
    pub id: CameraId,
    /// Display name.
    pub name: String,
    /// The device service URL (`http://host/onvif/device_service` unless given in full).
    pub url: Url,
    /// ONVIF user.
    pub username: Option<String>,
    /// ONVIF password.
    pub password: Option<Secret>,
    /// Accept self-signed HTTPS certificates from this camera.
    pub tls_insecure: bool,
    /// PullMessages long-poll timeout.
    pub pull_timeout: Duration,
    /// PullMessages message limit.
    pub message_limit: u32,
    /// Subscription lifetime requested.
    pub subscription: Duration,
    /// Largest pause between reconnect attempts.
    pub max_backoff: Duration,
    /// Clock drift above which we warn.
    pub drift_threshold: Duration,
    /// Set the camera clock to ours when it drifts (off unless the user turns it on).
    pub set_clock: bool,
    /// Snapshot settings.
    pub snapshot: SnapshotConfig,
    /// Event clip settings (`[cameras.clip]`); off unless `on` lists a kind.
    pub clip: ClipConfig,
    /// User rules, evaluated before the built-in ones.
    pub rules: Vec<UserRule>,
    /// A digital input token whose activation is a ring (a wired bell).
    pub ring_input: Option<String>,
    /// Per-kind hold for pulse events (line crossing, Mobotix ring): reset after this long.
    pub hold: BTreeMap<Kind, Duration>,
    /// Per-kind auto-clear for states some firmware never clears (Uniview person).
    pub auto_clear: BTreeMap<Kind, Duration>,
    /// Which API delivers the camera's events besides ONVIF.
    pub api: Api,
    /// The channel (1-based) of an NVR or multi-channel device whose events are this camera's;
    /// `None`: every channel's.
    pub channel: Option<u32>,
    /// How often a Hikvision door station's call status is polled.
    pub call_poll: Duration,
    /// How ONVIF events arrive: PullPoint, push, or PullPoint falling back to push.
    pub events: Events,
    /// Which peer may deliver this camera's pushed requests.
    pub push_from: PushFrom,
    /// The door relay; `None` unless `[cameras.relay]` says `enabled = true`.
    pub relay: Option<RelayConfig>,
}

/// Default `relay.pulse`.
pub const DEFAULT_RELAY_PULSE: &str = "1s";
/// Range of `relay.pulse`: long enough for a strike to move, short enough that a door is
/// not left open.
pub const RELAY_PULSE_RANGE: std::ops::RangeInclusive<Duration> =
    Duration::from_millis(200)..=Duration::from_secs(30);
/// Longest `relay.code` (Home Assistant's keypad codes are short).
pub const MAX_RELAY_CODE_CHARS: usize = 64;

/// A camera's door relay (`[cameras.relay]`, when enabled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayConfig {
    /// Which door or relay.
    pub door: Door,
    /// ONVIF bistable relays: active, then inactive after this; every API: how long the
    /// lock shows open when the device does not report its door.
    pub pulse: Duration,
    /// The code Home Assistant must send; `None`: no code asked.
    pub code: Option<Secret>,
}

/// `relay.door`: a number (vendor door `N`; ONVIF: the `N`th relay the device lists) or an
/// ONVIF relay token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Door {
    /// 1-based door or relay number.
    Number(u32),
    /// An ONVIF `RelayOutputToken`.
    Token(String),
}

impl fmt::Display for Door {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Door::Number(n) => write!(f, "{n}"),
            Door::Token(t) => write!(f, "{t:?}"),
        }
    }
}

/// How a camera's door is opened, per API (`docs/cameras.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayApi {
    /// ONVIF DeviceIO: GetRelayOutputs, SetRelayOutputState.
    Onvif,
    /// Dahua `accessControl.cgi?action=openDoor`.
    Dahua,
    /// Hikvision `PUT /ISAPI/AccessControl/RemoteControl/door/N`.
    Hikvision,
    /// DoorBird `GET /bha-api/open-door.cgi?r=N`.
    DoorBird,
}

impl RelayApi {
    /// The name in logs and `check`.
    pub fn as_str(self) -> &'static str {
        match self {
            RelayApi::Onvif => "onvif",
            RelayApi::Dahua => "dahua",
            RelayApi::Hikvision => "hikvision",
            RelayApi::DoorBird => "doorbird",
        }
    }
}

/// Which API delivers a camera's events (`api` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Api {
    /// The ONVIF manufacturer decides (GetDeviceInformation): Dahua, Amcrest, Imou, Lorex ->
    /// [`Api::Dahua`]; Hikvision, EZVIZ -> [`Api::Hikvision`]; anything else [`Api::Onvif`].
    #[default]
    Auto,
    /// ONVIF only.
    Onvif,
    /// ONVIF where the device answers it, plus the Dahua HTTP event stream.
    Dahua,
    /// ONVIF where the device answers it, plus the Hikvision alert stream and call status.
    Hikvision,
    /// The DoorBird LAN API only (DoorBird has no ONVIF events): an HTTP favorite the device
    /// calls on the listener of `[push]`, device information and snapshots from `/bha-api/`.
    /// HTTP Basic, the only scheme the LAN API offers. `auto` never picks it.
    DoorBird,
}

impl Api {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Api::Auto => "auto",
            Api::Onvif => "onvif",
            Api::Dahua => "dahua",
            Api::Hikvision => "hikvision",
            Api::DoorBird => "doorbird",
        }
    }

    /// The door API of a camera with this (resolved) API; `None`: the API has no way to
    /// open a door (a relay there is a config error). `auto` is resolved first, at run time.
    pub fn relay(self) -> Option<RelayApi> {
        match self {
            Api::Auto | Api::Onvif => Some(RelayApi::Onvif),
            Api::Dahua => Some(RelayApi::Dahua),
            Api::Hikvision => Some(RelayApi::Hikvision),
            Api::DoorBird => Some(RelayApi::DoorBird),
        }
    }

    /// What `auto` becomes for a device whose ONVIF manufacturer is `manufacturer`, with the
    /// reason for the log and `check`. Any other value is returned as it is.
    pub fn resolve(self, manufacturer: Option<&str>) -> (Api, String) {
        if self != Api::Auto {
            return (self, format!("api = \"{}\" in the config", self.as_str()));
        }
        let Some(m) = manufacturer.map(str::trim).filter(|m| !m.is_empty()) else {
            return (
                Api::Onvif,
                "api = \"auto\" and the device names no manufacturer".into(),
            );
        };
        let lower = m.to_ascii_lowercase();
        let api = AUTO_API
            .iter()
            .find(|(name, _)| lower.contains(name))
            .map_or(Api::Onvif, |(_, api)| *api);
        (
            api,
            format!("api = \"auto\" and the ONVIF manufacturer is {m:?}"),
        )
    }
}

/// Manufacturer (lower case, contained in GetDeviceInformation's) -> API, for `api = "auto"`.
/// Imou and Lorex sell Dahua firmware; EZVIZ Hikvision's (docs/cameras.md).
pub const AUTO_API: &[(&str, Api)] = &[
    ("dahua", Api::Dahua),
    ("amcrest", Api::Dahua),
    ("imou", Api::Dahua),
    ("lorex", Api::Dahua),
    ("hikvision", Api::Hikvision),
    ("ezviz", Api::Hikvision),
];

impl std::str::FromStr for Api {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Api::Auto, Api::Onvif, Api::Dahua, Api::Hikvision, Api::DoorBird]
            .into_iter()
            .find(|a| a.as_str() == s.trim())
            .ok_or_else(|| {
                format!(
                    "{s:?} is not an API; write \"auto\", \"onvif\", \"dahua\", \"hikvision\" or \"doorbird\""
                )
            })
    }
}

/// When and how snapshots are taken for one camera.
#[derive(Debug, Clone)]
pub struct SnapshotConfig {
    /// Whether snapshots are taken at all.
    pub enabled: bool,
    /// Kinds whose trigger takes a snapshot.
    pub on: Vec<Kind>,
    /// Take one every this long (`None`: off).
    pub interval: Option<Duration>,
    /// Extra frames after a ring.
    pub burst: u32,
    /// Pause between burst frames.
    pub burst_interval: Duration,
    /// Media profile token; `None` picks the highest resolution.
    pub profile: Option<String>,
    /// Hosts other than the camera's own that may serve its snapshots.
    pub allowed_hosts: Vec<String>,
    /// Largest JPEG accepted.
    pub max_size: u64,
}

/// What a user rule does with a matching message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleAction {
    /// Map it to this kind.
    Kind(Kind),
    /// Drop it.
    Ignore,
}

/// A user rule: topic pattern (with `*`), optional item name and value, and an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRule {
    /// Topic pattern, canonical form, `*` matches any run of characters.
    pub topic: String,
    /// Source or Data item name that must be present.
    pub item: Option<String>,
    /// Value that item must have (case-insensitive).
    pub value: Option<String>,
    /// What to do.
    pub action: RuleAction,
}

/// A config problem: the file, the key path and what is wrong (with a hint).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// Key path such as `cameras[1].id`; empty for file-level problems.
    pub key: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}: {} {}", self.file.display(), self.key, self.message)
        }
    }
}

/// Loads `path` with overrides from the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    load_with_env(path, None)
}

/// Loads `path`; `env` replaces the process environment (for tests).
pub fn load_with_env(
    path: &Path,
    env: Option<std::collections::HashMap<String, String>>,
) -> Result<Config, ConfigError> {
    let raw = raw::read(path, env)?;
    validate(raw, path)
}

/// Parses a TOML string (no environment), for tests and `check` on generated configs.
pub fn from_toml(text: &str, source: &Path) -> Result<Config, ConfigError> {
    let raw = raw::parse_str(text, source)?;
    validate(raw, source)
}

struct Ctx<'a> {
    file: &'a Path,
}

impl Ctx<'_> {
    fn err(&self, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.to_owned(),
            key: key.into(),
            message: message.into(),
        }
    }

    fn duration(&self, key: &str, text: &str) -> Result<Duration, ConfigError> {
        parse_duration(text).map_err(|m| self.err(key, m))
    }

    fn size(&self, key: &str, text: &str) -> Result<u64, ConfigError> {
        parse_size(text).map_err(|m| self.err(key, m))
    }

    /// A secret given inline or as `<key>_file` (contents trimmed), not both.
    fn secret(
        &self,
        key: &str,
        inline: Option<String>,
        file: Option<PathBuf>,
    ) -> Result<Option<Secret>, ConfigError> {
        match (inline, file) {
            (Some(_), Some(_)) => Err(self.err(
                key,
                format!("is given twice; set {key} or {key}_file, not both"),
            )),
            (Some(p), None) => Ok(Some(Secret::new(p))),
            (None, Some(f)) => {
                let text = read_secret_file(&f).map_err(|e| {
                    self.err(
                        format!("{key}_file"),
                        format!(
                            "cannot read {}: {e}; check the path and that the bridge may read it",
                            f.display()
                        ),
                    )
                })?;
                Ok(Some(Secret::new(text.trim())))
            }
            (None, None) => Ok(None),
        }
    }
}

/// Reads at most [`MAX_SECRET_FILE_BYTES`] of a secret file; more is an error, not a cut.
fn read_secret_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_SECRET_FILE_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_SECRET_FILE_BYTES} bytes, so not a password file"
        )));
    }
    Ok(text)
}

fn validate(raw: raw::RawConfig, file: &Path) -> Result<Config, ConfigError> {
    let ctx = Ctx { file };
    let inline_passwords = raw.mqtt.password.is_some()
        || raw.http.as_ref().is_some_and(|h| h.password.is_some())
        || raw
            .cameras
            .iter()
            .any(|c| c.password.is_some() || c.relay.as_ref().is_some_and(|r| r.code.is_some()));
    let mqtt = validate_mqtt(&ctx, raw.mqtt)?;
    let storage = raw.storage;
    let storage = StorageConfig {
        path: storage
            .path
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STORAGE_PATH)),
        max_age: ctx.duration(
            "storage.max_age",
            storage.max_age.as_deref().unwrap_or(DEFAULT_MAX_AGE),
        )?,
        max_size: ctx.size(
            "storage.max_size",
            storage.max_size.as_deref().unwrap_or(DEFAULT_MAX_SIZE),
        )?,
    };
    let http = match raw.http {
        None => None,
        Some(h) => Some(validate_http(&ctx, h)?),
    };
    let push = match raw.push {
        None => None,
        Some(p) => Some(validate_push(&ctx, p)?),
    };
    let mut cameras = Vec::with_capacity(raw.cameras.len());
    for (i, cam) in raw.cameras.into_iter().enumerate() {
        let cam = validate_camera(&ctx, i, cam)?;
        if cam.events == Events::Push && push.is_none() {
            return Err(ctx.err(
                format!("cameras[{i}].events"),
                "is \"push\", which needs the push listener; add a [push] section with listen \
                 (e.g. \"0.0.0.0:8090\") and advertise_url (e.g. \"http://192.168.1.5:8090\", \
                 an address of this host the camera can reach), or write events = \"auto\"",
            ));
        }
        if cam.api == Api::DoorBird && push.is_none() {
            return Err(ctx.err(
                format!("cameras[{i}].api"),
                "is \"doorbird\": a DoorBird tells of a press only by calling a URL stored on it, \
                 which needs the push listener; add a [push] section with listen (e.g. \
                 \"0.0.0.0:8090\") and advertise_url (e.g. \"http://192.168.1.5:8090\", an address \
                 of this host the DoorBird can reach)",
            ));
        }
        if cam.api == Api::DoorBird && cam.events != Events::Auto {
            return Err(ctx.err(
                format!("cameras[{i}].events"),
                format!(
                    "is read only for ONVIF events, and a DoorBird has none (api = \"doorbird\"); \
                     remove events = \"{}\"",
                    cam.events.as_str()
                ),
            ));
        }
        if let Some(other) = cameras.iter().position(|c: &CameraConfig| c.id == cam.id) {
            return Err(ctx.err(
                format!("cameras[{i}].id"),
                format!(
                    "\"{}\" is already used by cameras[{other}]; every camera needs its own id",
                    cam.id
                ),
            ));
        }
        cameras.push(cam);
    }
    Ok(Config {
        source: file.to_owned(),
        mqtt,
        storage,
        http,
        push,
        cameras,
        inline_passwords,
    })
}

fn validate_http(ctx: &Ctx<'_>, h: raw::RawHttp) -> Result<HttpConfig, ConfigError> {
    let listen = h.listen.as_deref().unwrap_or(DEFAULT_HTTP_LISTEN);
    let listen = listen.parse().map_err(|_| {
        ctx.err(
            "http.listen",
            format!("{listen:?} is not an address; write it like {DEFAULT_HTTP_LISTEN}"),
        )
    })?;
    let password = ctx.secret("http.password", h.password, h.password_file)?;
    if password
        .as_ref()
        .is_some_and(|p| p.expose().len() < MIN_PAGE_PASSWORD)
    {
        return Err(ctx.err(
            "http.password",
            format!(
                "is shorter than {MIN_PAGE_PASSWORD} characters; the page's login guards your \
                 visitors' pictures, choose a longer one"
            ),
        ));
    }
    let trusted_proxy = match h.trusted_proxy {
        None => None,
        Some(text) => Some(text.trim().parse::<IpAddr>().map_err(|_| {
            ctx.err(
                "http.trusted_proxy",
                format!(
                    "{text:?} is not an IP address; write the proxy's address, such as \
                     \"172.30.32.2\" (Home Assistant's ingress), or remove it"
                ),
            )
        })?),
    };
    Ok(HttpConfig {
        listen,
        history: h.history.unwrap_or(true),
        password,
        trusted_proxy,
    })
}

/// The shortest page password accepted.
pub const MIN_PAGE_PASSWORD: usize = 8;

fn validate_push(ctx: &Ctx<'_>, p: raw::RawPush) -> Result<PushConfig, ConfigError> {
    let Some(listen) = p.listen else {
        return Err(ctx.err(
            "push.listen",
            "is missing; write the address to listen on, such as \"0.0.0.0:8090\", or remove [push]",
        ));
    };
    let listen = listen.parse().map_err(|_| {
        ctx.err(
            "push.listen",
            format!("{listen:?} is not an address; write it like 0.0.0.0:8090"),
        )
    })?;
    let hint = "write the URL cameras reach this host at, such as http://192.168.1.5:8090";
    let Some(text) = p.advertise_url else {
        return Err(ctx.err(
            "push.advertise_url",
            format!("is required with push.listen; {hint}"),
        ));
    };
    let advertise_url = Url::parse(text.trim()).map_err(|e| {
        ctx.err(
            "push.advertise_url",
            format!("{:?} is not a URL ({e}); {hint}", redact_url(&text)),
        )
    })?;
    if !matches!(advertise_url.scheme(), "http" | "https") {
        return Err(ctx.err(
            "push.advertise_url",
            format!("has scheme {:?}; {hint}", advertise_url.scheme()),
        ));
    }
    if !advertise_url.username().is_empty() || advertise_url.password().is_some() {
        return Err(ctx.err(
            "push.advertise_url",
            "contains credentials; the listener takes none, remove them",
        ));
    }
    if advertise_url.query().is_some() || advertise_url.fragment().is_some() {
        return Err(ctx.err(
            "push.advertise_url",
            format!("has a query or fragment; {hint}"),
        ));
    }
    let unspecified = match advertise_url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_unspecified(),
        Some(url::Host::Ipv6(ip)) => ip.is_unspecified(),
        Some(url::Host::Domain(d)) => d.is_empty(),
        None => true,
    };
    if unspecified {
        return Err(ctx.err(
            "push.advertise_url",
            format!("has no host a camera can call; {hint}"),
        ));
    }
    Ok(PushConfig {
        listen,
        advertise_url,
    })
}

fn validate_mqtt(ctx: &Ctx<'_>, m: raw::RawMqtt) -> Result<MqttConfig, ConfigError> {
    let text = m.url.as_deref().unwrap_or(DEFAULT_MQTT_URL);
    let hint = "write it like mqtt://192.168.1.10:1883 or mqtts://broker.lan:8883";
    let url = Url::parse(text).map_err(|e| {
        ctx.err(
            "mqtt.url",
            format!("{:?} is not a URL ({e}); {hint}", redact_url(text)),
        )
    })?;
    let tls = match url.scheme() {
        "mqtt" | "tcp" => false,
        "mqtts" | "ssl" => true,
        other => {
            return Err(ctx.err(
                "mqtt.url",
                format!("has scheme {other:?}; use mqtt:// or mqtts:// ({hint})"),
            ));
        }
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ctx.err(
            "mqtt.url",
            "contains credentials; put them in mqtt.username and mqtt.password (or password_file)",
        ));
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| ctx.err("mqtt.url", format!("has no host; {hint}")))?
        .trim_matches(['[', ']'])
        .to_owned();
    let port = url.port().unwrap_or(if tls { 8883 } else { 1883 });
    let base_topic = m
        .base_topic
        .unwrap_or_else(|| DEFAULT_BASE_TOPIC.to_owned());
    check_topic_base(ctx, "mqtt.base_topic", &base_topic)?;
    let discovery_prefix = m
        .discovery_prefix
        .unwrap_or_else(|| DEFAULT_DISCOVERY_PREFIX.to_owned());
    check_topic_base(ctx, "mqtt.discovery_prefix", &discovery_prefix)?;
    let ha_status_topic = m
        .ha_status_topic
        .unwrap_or_else(|| DEFAULT_HA_STATUS_TOPIC.to_owned());
    check_topic_base(ctx, "mqtt.ha_status_topic", &ha_status_topic)?;
    let client_id = match m.client_id {
        Some(id) if !id.is_empty() && id.len() <= 64 => id,
        Some(_) => {
            return Err(ctx.err(
                "mqtt.client_id",
                "must be 1 to 64 characters; leave it out to derive one from base_topic",
            ));
        }
        None => format!("doorbell-bridge-{}", crate::event::slugify(&base_topic)),
    };
    let client_auth = match (m.client_cert, m.client_key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => {
            return Err(ctx.err(
                "mqtt.client_cert",
                "and mqtt.client_key go together; set both for mutual TLS, or neither",
            ));
        }
    };
    if (m.ca_file.is_some() || client_auth.is_some()) && !tls {
        return Err(ctx.err(
            "mqtt.ca_file",
            "is set but mqtt.url is not mqtts://; use mqtts:// so the certificates are used",
        ));
    }
    let queue_size = m.queue_size.unwrap_or(DEFAULT_QUEUE_SIZE);
    if !(1..=1_000_000).contains(&queue_size) {
        return Err(ctx.err("mqtt.queue_size", "must be between 1 and 1000000"));
    }
    Ok(MqttConfig {
        host,
        port,
        tls,
        password: ctx.secret("mqtt.password", m.password, m.password_file)?,
        username: m.username,
        client_id,
        base_topic,
        discovery_prefix,
        ha_status_topic,
        ca_file: m.ca_file,
        client_auth,
        queue_size,
        retain_snapshot: m.retain_snapshot.unwrap_or(true),
    })
}

/// Topic prefixes we publish under may have levels but no wildcards or empty levels.
fn check_topic_base(ctx: &Ctx<'_>, key: &str, topic: &str) -> Result<(), ConfigError> {
    if crate::limits::topic_problem(topic, crate::limits::MAX_TOPIC_PREFIX_LEN).is_some() {
        return Err(ctx.err(
            key,
            format!(
                "{topic:?} is not a usable topic prefix; use levels without +, # or empty parts, such as doorbell-bridge"
            ),
        ));
    }
    Ok(())
}

/// A URL for messages: any `user:password@` part removed.
pub fn redact_url(text: &str) -> String {
    match Url::parse(text) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Ok(_) => text.to_owned(),
        Err(_) => match (text.find("://"), text.rfind('@')) {
            (Some(s), Some(at)) if at > s => format!("{}***@{}", &text[..s + 3], &text[at + 1..]),
            _ => text.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests;
