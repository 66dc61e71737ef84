//! The vendor personalities of the simulated doorbell: which device it plays, and the
//! never-ending multipart event streams both vendors serve (one producer task per open
//! stream, fed by the handle through a bounded broadcast channel).

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body::Frame;
use tokio::sync::{broadcast, mpsc};
use tokio::time::{Instant, Interval, MissedTickBehavior};

use super::Fault;
use super::state::Shared;

/// Bursts queued for each open stream before a slow reader loses the oldest.
pub const MAX_QUEUED_BURSTS: usize = 64;
/// Writes buffered between a stream's producer and its connection.
const MAX_QUEUED_WRITES: usize = 16;
/// Pause between the writes of one burst, so that split writes leave as separate segments.
pub const WRITE_GAP: Duration = Duration::from_millis(5);

/// Which device the simulator plays. Every personality serves on the one port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Personality {
    /// A Reolink-shaped ONVIF doorbell: the press is an ONVIF Visitor event.
    #[default]
    Onvif,
    /// A Dahua-family device: the press arrives only on `eventManager.cgi`.
    Dahua(DahuaModel),
    /// A Hikvision device: alert stream, and on door stations call status.
    Hikvision(HikModel),
    /// A DoorBird D2101V: the LAN API only; events call the favorites its schedule links.
    DoorBird,
}

/// Dahua-family models, each with its own press sequence (vendor-apis.md §1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DahuaModel {
    /// Amcrest AD410 (rroller/dahua#52 trace).
    Ad410,
    /// Amcrest AD110 (python-amcrest#137 capture): PIR motion also fires `AlarmLocal`.
    Ad110,
    /// A Dahua VTO door station: `BackKeyLight` State 1 then `CallNoAnswered`.
    Vto,
}

/// Hikvision models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HikModel {
    /// DS-KV6113 door station: JSON alert parts, call status, AccessControllerEvent on a press.
    Kv6113,
    /// A camera: XML alert parts, no button, no call status.
    Camera,
}

/// What the device says it is, on ONVIF and on its own API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    /// Manufacturer (ONVIF GetDeviceInformation).
    pub manufacturer: &'static str,
    /// Model (ONVIF, `deviceType=`, `<model>`).
    pub model: &'static str,
    /// Firmware version.
    pub firmware: &'static str,
    /// Serial number.
    pub serial: &'static str,
}

impl Personality {
    /// What the device reports about itself.
    pub fn identity(self) -> Identity {
        let (manufacturer, model, firmware, serial) = match self {
            Personality::Onvif => (
                super::device::MANUFACTURER,
                super::device::MODEL,
                super::device::FIRMWARE,
                super::device::SERIAL,
            ),
            Personality::Dahua(DahuaModel::Ad410) => {
                ("Amcrest", "AD410", "1.000.0000000.3.R", "SIMAD410000001")
            }
            Personality::Dahua(DahuaModel::Ad110) => {
                ("Amcrest", "AD110", "1.000.00AC006.0.R", "SIMAD110000001")
            }
            Personality::Dahua(DahuaModel::Vto) => {
                ("Dahua", "VTO2202F-P", "4.500.0000000.5.R", "SIMVTO00000001")
            }
            Personality::Hikvision(HikModel::Kv6113) => (
                "HIKVISION",
                "DS-KV6113-WPE1",
                "V2.2.45 build 210101",
                "DS-KV6113-WPE120210101AAWRSIM0001",
            ),
            Personality::Hikvision(HikModel::Camera) => (
                "HIKVISION",
                "DS-2CD2185FWD-I",
                "V5.5.80 build 190528",
                "DS-2CD2185FWD-I20190528AAWRSIM0001",
            ),
            // The serial is the MAC, as DoorBird labels its devices.
            Personality::DoorBird => (
                "DoorBird",
                "DoorBird D2101V",
                "000125 15870439",
                "1CCAE3711234",
            ),
        };
        Identity {
            manufacturer,
            model,
            firmware,
            serial,
        }
    }

    /// The Dahua model, if it plays one.
    pub fn dahua(self) -> Option<DahuaModel> {
        match self {
            Personality::Dahua(m) => Some(m),
            _ => None,
        }
    }

    /// The Hikvision model, if it plays one.
    pub fn hikvision(self) -> Option<HikModel> {
        match self {
            Personality::Hikvision(m) => Some(m),
            _ => None,
        }
    }
}

/// One part of a Dahua burst: `Code=..;action=..;index=..` and its optional JSON data (laid
/// out compact or pretty-printed as the quirks say when it is written).
#[derive(Debug, Clone, PartialEq)]
pub struct DahuaPart {
    /// The body up to the data.
    pub head: String,
    /// The `data=` JSON.
    pub data: Option<serde_json::Value>,
}

/// One part of a Hikvision burst.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HikPart {
    /// Its Content-Type.
    pub content_type: &'static str,
    /// Its body.
    pub body: Bytes,
}

/// Parts emitted together (one press, one motion change), to every open stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Burst {
    /// For `eventManager.cgi` streams.
    Dahua(Vec<DahuaPart>),
    /// For `alertStream` streams.
    Hikvision(Vec<HikPart>),
}

/// What a stream writes next.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// The stream's heartbeat is due.
    Heartbeat,
    /// An event burst.
    Burst(Arc<Burst>),
}

/// Turns an item into the writes that carry it (empty: nothing to send on this stream).
pub type Framer = fn(&Shared, &Item) -> Vec<Bytes>;

/// Sends `burst` to every open stream (a stream of the other vendor ignores it).
pub fn broadcast(shared: &Shared, burst: Burst) {
    // No receiver (no stream open) is not an error: the events are simply not seen.
    let _ = shared.vendor.send(Arc::new(burst));
}

/// A 200 response with `content_type` whose body never ends: heartbeats every `heartbeat`
/// (none when `None`) and every broadcast burst, framed by `frame`. Under [`Fault::Stall`]
/// the stream goes silent for good (the connection stays open).
pub fn stream_response(
    shared: Arc<Shared>,
    content_type: String,
    heartbeat: Option<Duration>,
    frame: Framer,
) -> Response {
    let (tx, rx) = mpsc::channel(MAX_QUEUED_WRITES);
    let events = shared.vendor.subscribe();
    tokio::spawn(produce(shared, tx, events, heartbeat, frame));
    let mut response = (StatusCode::OK, Body::new(ChannelBody(rx))).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert("mime-version", HeaderValue::from_static("1.0"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Counts the stream open while it lives.
struct OpenStream(Arc<Shared>);

impl OpenStream {
    fn new(shared: Arc<Shared>) -> Self {
        {
            let mut inner = shared.lock();
            inner.stats.streams_opened += 1;
            inner.stats.streams_open += 1;
        }
        shared.requested.notify_waiters();
        OpenStream(shared)
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        let mut inner = self.0.lock();
        inner.stats.streams_open = inner.stats.streams_open.saturating_sub(1);
    }
}

async fn produce(
    shared: Arc<Shared>,
    tx: mpsc::Sender<Bytes>,
    mut events: broadcast::Receiver<Arc<Burst>>,
    heartbeat: Option<Duration>,
    frame: Framer,
) {
    let _open = OpenStream::new(shared.clone());
    let mut tick = heartbeat.map(|every| {
        let mut t = tokio::time::interval_at(Instant::now() + every, every);
        t.set_missed_tick_behavior(MissedTickBehavior::Delay);
        t
    });
    let stalled = || shared.lock().fault == Fault::Stall;
    let mut dead = stalled();
    loop {
        let item = tokio::select! {
            () = tx.closed() => return,
            () = next_tick(&mut tick) => Item::Heartbeat,
            received = events.recv() => match received {
                Ok(burst) => Item::Burst(burst),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            },
        };
        // A stream that saw a stall stays dead: a client must notice and reconnect.
        dead = dead || stalled();
        if dead {
            continue;
        }
        for (i, write) in frame(&shared, &item).into_iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(WRITE_GAP).await;
            }
            if tx.send(write).await.is_err() {
                return;
            }
        }
    }
}

async fn next_tick(tick: &mut Option<Interval>) {
    match tick {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// A response body fed by the stream's producer.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|w| w.map(|b| Ok(Frame::data(b))))
    }
}
