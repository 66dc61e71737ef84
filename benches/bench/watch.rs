//! The bench's MQTT subscriber: a rumqttc client on its own OS thread and single-threaded
//! runtime, so arrival times are taken the moment a message is read and never wait for the
//! simulated cameras' work on the main runtime.
//!
//! [`start`] (the benchmark) subscribes at QoS 0 with a clean session: no acknowledgement
//! round trips of our own in the measurement. [`start_durable`] (the soak) subscribes at
//! QoS 1 with a persistent session on a broker with persistence, so a broker restart loses
//! nothing to the bench's own reconnect, and also reads ring events (their `camera_time`
//! tells which press they are).

use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, QoS, SubscribeFilter};
use tokio::sync::{mpsc, oneshot};

/// Largest packet the subscriber accepts (snapshots).
const MAX_PACKET: usize = 32 * 1024 * 1024;
/// Pause before the subscriber reconnects after an error.
const RETRY: Duration = Duration::from_millis(50);

/// What arrived on a topic the bench watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum What {
    /// `<base>/<camera>/status` = `online`.
    Online,
    /// `<base>/<camera>/status` = `offline`.
    Offline,
    /// `<base>/<camera>/doorbell` (a ring with trigger=true).
    Doorbell,
    /// `<base>/<camera>/snapshot` (a JPEG).
    Snapshot,
    /// `<base>/<camera>/event` of kind `ring` with `trigger: true` (durable mode only).
    RingEvent,
}

/// What a doorbell message or a ring event carries: the bridge's receive `time` (the same in
/// both) and, on the event, the camera's own `camera_time`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingTimes {
    /// `time`.
    pub time: String,
    /// `camera_time` (events only).
    pub camera_time: Option<String>,
}

/// One message: which camera (its index), what, and when it was read.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// Camera index (`c<index>` in the topic).
    pub camera: usize,
    /// What it was.
    pub what: What,
    /// When the subscriber read it.
    pub at: Instant,
    /// For [`What::Doorbell`] and [`What::RingEvent`]: the times in the payload (when it is
    /// the JSON the contract says).
    pub ring: Option<RingTimes>,
}

/// How the subscriber connects.
#[derive(Debug, Clone, Copy)]
struct Mode {
    qos: QoS,
    clean_session: bool,
    leaves: &'static [&'static str],
}

/// The benchmark's subscriber.
const MEASURE: Mode = Mode {
    // QoS 0: no acknowledgement round trips of our own in the measurement.
    qos: QoS::AtMostOnce,
    clean_session: true,
    leaves: &["status", "doorbell", "snapshot"],
};

/// The soak's subscriber.
const DURABLE: Mode = Mode {
    qos: QoS::AtLeastOnce,
    clean_session: false,
    leaves: &["status", "doorbell", "event"],
};

/// Subscribes to status, doorbell and snapshot topics under `base` on the broker at `port`;
/// returns once the broker acknowledged the subscription.
pub async fn start(port: u16, base: &str) -> anyhow::Result<mpsc::UnboundedReceiver<Arrival>> {
    start_mode(port, base, MEASURE).await
}

/// Subscribes to status, doorbell and event topics under `base` at QoS 1 with a persistent
/// session (the broker must keep sessions across restarts: `Mosquitto::start_durable`);
/// returns once the broker acknowledged the subscription.
pub async fn start_durable(
    port: u16,
    base: &str,
) -> anyhow::Result<mpsc::UnboundedReceiver<Arrival>> {
    start_mode(port, base, DURABLE).await
}

async fn start_mode(
    port: u16,
    base: &str,
    mode: Mode,
) -> anyhow::Result<mpsc::UnboundedReceiver<Arrival>> {
    let (tx, rx) = mpsc::unbounded_channel();
    let (ready_tx, ready_rx) = oneshot::channel();
    let base = base.to_owned();
    std::thread::Builder::new()
        .name("bench-mqtt".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a current-thread runtime for the subscriber");
            rt.block_on(run(port, base, mode, tx, ready_tx));
        })?;
    tokio::time::timeout(Duration::from_secs(10), ready_rx)
        .await
        .map_err(|_| anyhow::anyhow!("bench subscriber: no SUBACK from the broker in 10 s"))??;
    Ok(rx)
}

async fn run(
    port: u16,
    base: String,
    mode: Mode,
    tx: mpsc::UnboundedSender<Arrival>,
    ready: oneshot::Sender<()>,
) {
    let mut options = MqttOptions::new(format!("bench-{}", std::process::id()), "127.0.0.1", port);
    options
        .set_max_packet_size(MAX_PACKET, MAX_PACKET)
        .set_keep_alive(Duration::from_secs(30))
        .set_clean_session(mode.clean_session);
    let (client, mut eventloop) = AsyncClient::new(options, 16);
    let mut ready = Some(ready);
    let filters: Vec<SubscribeFilter> = mode
        .leaves
        .iter()
        .map(|leaf| SubscribeFilter::new(format!("{base}/+/{leaf}"), mode.qos))
        .collect();
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Incoming::Publish(p))) => {
                let at = Instant::now();
                if let Some(arrival) = parse(&base, &p.topic, &p.payload, at)
                    && tx.send(arrival).is_err()
                {
                    return;
                }
            }
            Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                let _ = client.try_subscribe_many(filters.clone());
            }
            Ok(Event::Incoming(Incoming::SubAck(_))) => {
                if let Some(r) = ready.take() {
                    let _ = r.send(());
                }
            }
            Ok(_) => {}
            Err(_) if tx.is_closed() => return,
            Err(_) => tokio::time::sleep(RETRY).await,
        }
    }
}

/// `<base>/c<index>/<leaf>` -> an arrival.
fn parse(base: &str, topic: &str, payload: &[u8], at: Instant) -> Option<Arrival> {
    let rest = topic.strip_prefix(base)?.strip_prefix('/')?;
    let (camera, leaf) = rest.split_once('/')?;
    let camera = camera.strip_prefix('c')?.parse().ok()?;
    let (what, ring) = match (leaf, payload) {
        ("status", b"online") => (What::Online, None),
        ("status", _) => (What::Offline, None),
        ("doorbell", _) => (What::Doorbell, ring_times(payload)),
        ("snapshot", [0xFF, 0xD8, ..]) => (What::Snapshot, None),
        ("event", _) => {
            let v: serde_json::Value = serde_json::from_slice(payload).ok()?;
            if v["kind"] != "ring" || v["trigger"] != true {
                return None;
            }
            (What::RingEvent, ring_times(payload))
        }
        _ => return None,
    };
    Some(Arrival {
        camera,
        what,
        at,
        ring,
    })
}

/// `time` and `camera_time` of a doorbell or event payload.
fn ring_times(payload: &[u8]) -> Option<RingTimes> {
    let v: serde_json::Value = serde_json::from_slice(payload).ok()?;
    Some(RingTimes {
        time: v["time"].as_str()?.to_owned(),
        camera_time: v["camera_time"].as_str().map(str::to_owned),
    })
}
