//! The MQTT side: publishes [`Update`]s for Home Assistant and delivers [`Command`]s back.
//!
//! [`Bridge::start`] spawns two tasks on the caller's `TaskTracker`:
//!
//! - **connection** (`connection.rs`) owns rumqttc's `EventLoop`: polls it, sleeps with a
//!   capped exponential backoff after an error (rumqttc retries at once by itself), and reports
//!   ConnAck, PubAck, sent packets and incoming messages to the publisher.
//! - **publisher** (`publisher.rs`) drains the bounded `Update` channel without ever waiting
//!   for the broker, turns updates into messages (`cameras.rs`, `discovery.rs`, `topics.rs`),
//!   keeps them in its own outbox (`queue.rs`) and hands them to rumqttc only while connected.
//!   On every ConnAck it re-subscribes and re-announces; on Home Assistant's birth it
//!   re-announces after a short random delay.
//!
//! Shutdown: the publisher ends when every `Sender<Update>` is dropped or the token fires,
//! publishes each camera and the bridge `offline`, sends DISCONNECT and tells the connection
//! task, which polls until the DISCONNECT is out (or a deadline passes). The topic contract
//! is in `docs/mqtt.md`.

mod cameras;
mod connection;
pub mod discovery;
pub mod door;
#[cfg(feature = "embedded-broker")]
pub mod embedded;
mod link;
pub mod probe;
mod publisher;
mod queue;
mod status;
mod tls;
pub mod topics;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::config::{CameraConfig, MqttConfig};
use crate::event::{CameraId, Command, Update};

pub use status::BridgeStatus;
pub use topics::{Topic, TopicError, Topics};

pub use crate::limits::MAX_PACKET_BYTES;
/// Capacity of the `Update` channel. The publisher drains it continuously into its outbox,
/// so a camera only waits if the publisher itself is stuck.
pub const UPDATE_CAPACITY: usize = 256;
/// Capacity of the command channel; commands beyond it are dropped with a warning.
pub const COMMAND_CAPACITY: usize = 16;
/// The momentary-message queue holds at least this many per camera, whatever `queue_size`
/// says: a ring is three momentary messages (event on, doorbell, event off), so every camera
/// ringing at once (the bench's burst) fits twice over instead of dropping rings.
pub const MIN_QUEUE_PER_CAMERA: usize = 8;
/// Largest command payload we look at (`PRESS` is five bytes).
pub const MAX_COMMAND_BYTES: usize = 64;
/// Largest door command read (`{"action":"OPEN","code":...}` with the longest code).
pub const MAX_DOOR_COMMAND_BYTES: usize = 256;
/// Largest `<base>/bridge/cameras` list we read back (a JSON list of ids).
pub const MAX_CAMERA_LIST_BYTES: usize = 64 * 1024;

/// rumqttc request channel: above the in-flight window plus subscribes and the disconnect.
const REQUEST_CAPACITY: usize = queue::IN_FLIGHT_WINDOW + 16;
/// rumqttc's limit of unacknowledged QoS 1 publishes: above our window, so it never stalls.
const RUMQTTC_INFLIGHT: u16 = 100;
/// Connection task -> publisher reports.
const LINK_CAPACITY: usize = 256;

/// Availability payloads.
pub(crate) const ONLINE: &str = "online";
pub(crate) const OFFLINE: &str = "offline";
/// State payloads.
pub(crate) const ON: &str = "ON";
pub(crate) const OFF: &str = "OFF";
/// The button's payload.
pub(crate) const PRESS: &str = "PRESS";
/// The lock's open payload (Home Assistant's `payload_open`), and its state while open.
pub(crate) const OPEN: &str = "OPEN";
/// The lock's state when shut.
pub(crate) const LOCKED: &str = "LOCKED";

/// What the bridge needs to know about a camera to announce it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraMeta {
    /// The camera id.
    pub id: CameraId,
    /// Its display name (the Home Assistant device name).
    pub name: String,
    /// Its door, when `[cameras.relay]` is enabled: a lock entity and a subscribed command
    /// topic. `None`: neither.
    pub door: Option<DoorMeta>,
}

/// What Home Assistant's lock needs to know about a door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorMeta {
    /// The lock's `code_format` (a regular expression) when a code is configured: digits only
    /// when the code is digits (Home Assistant then shows a keypad).
    pub code_format: Option<&'static str>,
}

/// `code_format` for a numeric code.
pub const CODE_FORMAT_DIGITS: &str = r"^\d+$";
/// `code_format` for any other code.
pub const CODE_FORMAT_ANY: &str = "^.{1,64}$";

impl From<&CameraConfig> for CameraMeta {
    fn from(c: &CameraConfig) -> Self {
        CameraMeta {
            id: c.id.clone(),
            name: c.name.clone(),
            door: c.relay.as_ref().map(|r| DoorMeta {
                code_format: r.code.as_ref().map(|code| {
                    if code.expose().bytes().all(|b| b.is_ascii_digit()) {
                        CODE_FORMAT_DIGITS
                    } else {
                        CODE_FORMAT_ANY
                    }
                }),
            }),
        }
    }
}

/// Timing knobs; [`Tuning::default`] is what runs in production, tests make them short.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// First pause after a connection error; doubles up to `max_backoff`.
    pub initial_backoff: Duration,
    /// Longest pause between connection attempts (also used right away after an
    /// authentication failure).
    pub max_backoff: Duration,
    /// Home Assistant's birth is answered after a random delay up to this, so many bridges
    /// do not answer at once.
    pub birth_delay_max: Duration,
    /// How long shutdown may take to flush, publish `offline` and disconnect.
    pub shutdown_deadline: Duration,
    /// MQTT keep-alive.
    pub keep_alive: Duration,
}

/// First pause after a broker connection error.
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// Longest pause between broker connection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Longest random delay before answering Home Assistant's birth message.
pub const BIRTH_DELAY_MAX: Duration = Duration::from_secs(3);
/// How long the MQTT side may take to flush and disconnect at shutdown.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(3);
/// MQTT keep-alive: a dead broker connection is noticed within 1.5 times this.
pub const KEEP_ALIVE: Duration = Duration::from_secs(30);

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            initial_backoff: INITIAL_BACKOFF,
            max_backoff: MAX_BACKOFF,
            birth_delay_max: BIRTH_DELAY_MAX,
            shutdown_deadline: SHUTDOWN_DEADLINE,
            keep_alive: KEEP_ALIVE,
        }
    }
}

/// Why the bridge could not start (all found before any network IO).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configured topic prefix is unusable.
    #[error("mqtt topics")]
    Topic(#[from] TopicError),
    /// A certificate or key file could not be read.
    #[error("mqtt.{key} {}: cannot read the file; check the path and that the bridge may read it", path.display())]
    ReadFile {
        /// The config key.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// A certificate or key file holds nothing usable.
    #[error("mqtt.{key} {}: {problem}", path.display())]
    BadPem {
        /// The config key.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong, with a hint.
        problem: &'static str,
    },
    /// `mqtts://` without `ca_file` and the system has no CA certificates.
    #[error(
        "mqtt.url is mqtts:// but no system CA certificates were found; set mqtt.ca_file to the broker's CA (PEM)"
    )]
    NoSystemRoots,
    /// rustls refused the TLS settings (e.g. a key that does not match the certificate).
    #[error("mqtt TLS settings rejected; check mqtt.client_cert and mqtt.client_key")]
    Tls(#[source] rustls::Error),
}

/// A running bridge: where updates go in and commands come out.
#[derive(Debug)]
pub struct Bridge {
    /// Camera-side updates; the publisher ends when every clone is dropped.
    pub updates: mpsc::Sender<Update>,
    /// Commands from Home Assistant (the "Take snapshot" button), per camera.
    pub commands: mpsc::Receiver<(CameraId, Command)>,
    /// Connection state and counters, for health checks and metrics.
    pub status: BridgeStatus,
}

impl Bridge {
    /// Starts the bridge with the production [`Tuning`]; see [`Bridge::start_with`].
    pub fn start(
        config: &MqttConfig,
        cameras: Vec<CameraMeta>,
        tracker: &TaskTracker,
        shutdown: CancellationToken,
    ) -> Result<Bridge, Error> {
        Self::start_with(config, cameras, tracker, shutdown, Tuning::default())
    }

    /// Checks the settings (reads the TLS files), then spawns the connection and publisher
    /// tasks on `tracker`. Must be called inside a Tokio runtime. Nothing connects before
    /// this returns `Ok`; a broker that is down is retried forever.
    pub fn start_with(
        config: &MqttConfig,
        cameras: Vec<CameraMeta>,
        tracker: &TaskTracker,
        shutdown: CancellationToken,
        tuning: Tuning,
    ) -> Result<Bridge, Error> {
        let topics = Topics::new(config)?;
        let options = connection::options(config, &topics, &tuning)?;
        let broker = format!("{}:{}", config.host, config.port);
        let (client, mut eventloop) = rumqttc::AsyncClient::new(options, REQUEST_CAPACITY);
        // Events are small and latency is the point: no Nagle delay behind an unacknowledged
        // packet (rumqttc leaves TCP_NODELAY off).
        let mut network = eventloop.network_options();
        network.set_tcp_nodelay(true);
        eventloop.set_network_options(network);
        let queue_size = config
            .queue_size
            .max(cameras.len().saturating_mul(MIN_QUEUE_PER_CAMERA));
        if queue_size > config.queue_size {
            tracing::info!(
                "mqtt.queue_size {} is below {MIN_QUEUE_PER_CAMERA} per camera; using {queue_size} so that every door can ring at once",
                config.queue_size
            );
        }
        let (update_tx, update_rx) = mpsc::channel(UPDATE_CAPACITY);
        let (command_tx, command_rx) = mpsc::channel(COMMAND_CAPACITY);
        let (link_tx, link_rx) = mpsc::channel(LINK_CAPACITY);
        let link = Arc::new(link::Link::default());
        let status = BridgeStatus::default();
        let done = CancellationToken::new();
        let conn = connection::Connection {
            eventloop,
            link: link.clone(),
            reports: link_tx,
            done: done.clone(),
            status: status.clone(),
            tuning: tuning.clone(),
            broker: broker.clone(),
        };
        tracker.spawn(conn.run().instrument(tracing::info_span!("mqtt", %broker)));
        let publisher = publisher::Publisher::new(publisher::Parts {
            cameras: cameras::Cameras::new(topics.clone(), cameras, config.retain_snapshot),
            topics,
            client,
            link,
            commands: command_tx,
            status: status.clone(),
            tuning,
            queue_size,
        });
        let run = publisher.run(update_rx, link_rx, shutdown, done);
        tracker.spawn(run.instrument(tracing::info_span!("mqtt_publisher")));
        Ok(Bridge {
            updates: update_tx,
            commands: command_rx,
            status,
        })
    }
}
