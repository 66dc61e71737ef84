//! `--door N`: how long from an `OPEN` published on MQTT to the camera receiving the door
//! request, against the floor every MQTT round trip pays (a message published and received
//! back through the same broker). Half the simulated cameras are ONVIF (GetRelayOutputs, then
//! SetRelayOutputState: the second is "received"), half Dahua VTOs (one `openDoor` GET).
//! The simulator records each switch with its instant, so the time is taken where the request
//! arrives. The door rules allow one open per door per 5 s: the bench walks over the cameras
//! and waits out that interval between rounds.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use doorbell_bridge::sim::{DahuaModel, Personality, SimDoorbell, SimOptions};
use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, QoS};
use tokio::sync::mpsc;

use crate::mosquitto::Mosquitto;
use crate::report::{Dist, ms};
use crate::scenario::{BASE, spawn};

/// What to run.
pub struct Plan {
    /// The bridge executable.
    pub bridge: PathBuf,
    /// Extra environment for the bridge.
    pub env: Vec<(String, String)>,
    /// Opens measured per API.
    pub samples: usize,
    /// Cameras (half ONVIF, half Dahua).
    pub cameras: usize,
}

/// Longest wait for anything (a failure, not a pace).
const WAIT: Duration = Duration::from_secs(20);
/// Between two rounds over the same doors: the rules' one open per 5 s, and a margin.
const ROUND: Duration = Duration::from_millis(5200);
/// After every camera is online: past the rules' 2 s subscribe grace.
const SETTLE: Duration = Duration::from_secs(3);

/// Runs it and returns the report (Markdown).
pub async fn run(plan: &Plan) -> anyhow::Result<String> {
    let broker = Mosquitto::start()?;
    let n = plan.cameras.max(2);
    let mut sims = Vec::with_capacity(n);
    for i in 0..n {
        let personality = if i % 2 == 0 {
            Personality::Onvif
        } else {
            Personality::Dahua(DahuaModel::Vto)
        };
        sims.push(
            SimDoorbell::start(SimOptions {
                personality,
                ..SimOptions::default()
            })
            .await?,
        );
    }
    let dir = tempfile::tempdir()?;
    let mut text = format!(
        "[mqtt]\nurl = \"mqtt://127.0.0.1:{}\"\nbase_topic = \"{BASE}\"\nclient_id = \"bench-bridge\"\n\
         [storage]\npath = {:?}\n",
        broker.port(),
        dir.path().join("footage").display().to_string()
    );
    for (i, sim) in sims.iter().enumerate() {
        let api = if i % 2 == 0 { "onvif" } else { "dahua" };
        text += &format!(
            "[[cameras]]\nid = \"c{i}\"\nurl = \"{}\"\nusername = \"admin\"\npassword = \"password\"\n\
             api = \"{api}\"\n[cameras.snapshot]\nenabled = false\n\
             [cameras.relay]\nenabled = true\npulse = \"200ms\"\n",
            sim.device_url()
        );
    }
    let config = dir.path().join("door.toml");
    std::fs::write(&config, text)?;
    let log = dir.path().join("bridge.log");
    let mut bridge = spawn(&plan.bridge, &plan.env, &config, "warn", &log)?;
    let result = measure(plan, &broker, &sims).await;
    let _ = bridge.kill();
    let _ = bridge.wait();
    if result.is_err() {
        eprintln!(
            "bridge log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
    for sim in sims {
        sim.shutdown().await;
    }
    result
}

/// The bench's MQTT client: every message on `bench/#` with the instant it was read.
async fn client(
    port: u16,
) -> anyhow::Result<(
    AsyncClient,
    mpsc::UnboundedReceiver<(String, Vec<u8>, Instant)>,
)> {
    let mut o = MqttOptions::new("bench-door", "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30));
    let (client, mut events) = AsyncClient::new(o, 64);
    let (tx, rx) = mpsc::unbounded_channel();
    let (ready_tx, mut ready) = mpsc::channel(1);
    let sub = client.clone();
    tokio::spawn(async move {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                    let _ = sub.subscribe(format!("{BASE}/#"), QoS::AtMostOnce).await;
                }
                Ok(Event::Incoming(Incoming::SubAck(_))) => {
                    let _ = ready_tx.try_send(());
                }
                Ok(Event::Incoming(Incoming::Publish(p))) => {
                    let _ = tx.send((p.topic.clone(), p.payload.to_vec(), Instant::now()));
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });
    tokio::time::timeout(WAIT, ready.recv())
        .await
        .map_err(|_| anyhow::anyhow!("the bench's MQTT client did not subscribe"))?;
    Ok((client, rx))
}

async fn measure(plan: &Plan, broker: &Mosquitto, sims: &[SimDoorbell]) -> anyhow::Result<String> {
    let (mqtt, mut rx) = client(broker.port()).await?;
    let mut online = std::collections::HashSet::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while online.len() < sims.len() {
        let (topic, payload, _) = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "only {} of {} cameras came online",
                    online.len(),
                    sims.len()
                )
            })?
            .ok_or_else(|| anyhow::anyhow!("the bench's MQTT client ended"))?;
        if topic.ends_with("/status") && payload == b"online" && topic != format!("{BASE}/status") {
            online.insert(topic);
        }
    }
    tokio::time::sleep(SETTLE).await;
    while rx.try_recv().is_ok() {}
    let (mut floor, mut onvif, mut dahua) = (Vec::new(), Vec::new(), Vec::new());
    let rounds = plan.samples.div_ceil(sims.len() / 2) + 1;
    for round in 0..rounds {
        let started = Instant::now();
        for (i, sim) in sims.iter().enumerate() {
            // The floor: our own message back through the broker.
            let t0 = Instant::now();
            mqtt.publish(format!("{BASE}/echo"), QoS::AtMostOnce, false, "x")
                .await?;
            loop {
                let (topic, _, at) = tokio::time::timeout(WAIT, rx.recv())
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("the bench's MQTT client ended"))?;
                if topic == format!("{BASE}/echo") {
                    floor.push(at - t0);
                    break;
                }
            }
            let before = sim.door_switches().len();
            let t0 = Instant::now();
            mqtt.publish(
                format!("{BASE}/c{i}/door/set"),
                QoS::AtMostOnce,
                false,
                "OPEN",
            )
            .await?;
            anyhow::ensure!(
                sim.wait_for_door_switches(before + 1, WAIT).await,
                "camera c{i} saw no door request (round {round})"
            );
            let switch = sim.door_switches()[before].clone();
            // The first round warms connections and Digest up.
            if round > 0 {
                let took = switch.at.saturating_duration_since(t0);
                if i % 2 == 0 {
                    onvif.push(took)
                } else {
                    dahua.push(took)
                }
            }
        }
        if let Some(rest) = ROUND.checked_sub(started.elapsed()) {
            tokio::time::sleep(rest).await;
        }
    }
    let floor = Dist::of(floor, 0);
    let onvif = Dist::of(onvif, 0);
    let dahua = Dist::of(dahua, 0);
    let over = |d: &Dist| ms(d.p99.saturating_sub(floor.p99));
    Ok(format!(
        "| path | n | p50 / p95 / p99 / max (ms) | p99 over the floor |\n|---|---|---|---|\n\
         | floor: MQTT publish -> received back through the broker | {} | {} | - |\n\
         | `OPEN` -> ONVIF SetRelayOutputState received (after GetRelayOutputs) | {} | {} | {} |\n\
         | `OPEN` -> Dahua `openDoor` received | {} | {} | {} |\n",
        floor.n,
        floor.cells(),
        onvif.n,
        onvif.cells(),
        over(&onvif),
        dahua.n,
        dahua.cells(),
        over(&dahua),
    ))
}
