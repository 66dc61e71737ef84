//! The bench's MQTT subscriber: a rumqttc client on its own OS thread and single-threaded
//! runtime, so arrival times are taken the moment a message is read and never wait for the
//! simulated cameras' work on the main runtime.

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
}

/// One message: which camera (its index), what, and when it was read.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    /// Camera index (`c<index>` in the topic).
    pub camera: usize,
    /// What it was.
    pub what: What,
    /// When the subscriber read it.
    pub at: Instant,
}

/// Subscribes to status, doorbell and snapshot topics under `base` on the broker at `port`;
/// returns once the broker acknowledged the subscription.
pub async fn start(port: u16, base: &str) -> anyhow::Result<mpsc::UnboundedReceiver<Arrival>> {
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
            rt.block_on(run(port, base, tx, ready_tx));
        })?;
    tokio::time::timeout(Duration::from_secs(10), ready_rx)
        .await
        .map_err(|_| anyhow::anyhow!("bench subscriber: no SUBACK from the broker in 10 s"))??;
    Ok(rx)
}

async fn run(
    port: u16,
    base: String,
    tx: mpsc::UnboundedSender<Arrival>,
    ready: oneshot::Sender<()>,
) {
    let mut options = MqttOptions::new(format!("bench-{}", std::process::id()), "127.0.0.1", port);
    options
        .set_max_packet_size(MAX_PACKET, MAX_PACKET)
        .set_keep_alive(Duration::from_secs(30));
    let (client, mut eventloop) = AsyncClient::new(options, 16);
    let mut ready = Some(ready);
    // QoS 0: no acknowledgement round trips of our own in the measurement.
    let filters: Vec<SubscribeFilter> = ["status", "doorbell", "snapshot"]
        .iter()
        .map(|leaf| SubscribeFilter::new(format!("{base}/+/{leaf}"), QoS::AtMostOnce))
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
    let what = match (leaf, payload) {
        ("status", b"online") => What::Online,
        ("status", _) => What::Offline,
        ("doorbell", _) => What::Doorbell,
        ("snapshot", [0xFF, 0xD8, ..]) => What::Snapshot,
        _ => return None,
    };
    Some(Arrival { camera, what, at })
}
