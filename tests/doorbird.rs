//! A DoorBird (`api = "doorbird"`) through the whole daemon: the simulated DoorBird's LAN API
//! behind HTTP Basic, the push listener on a free loopback port, a real broker. Registration
//! (stale favorites removed, the schedule linked, other favorites and outputs kept), a press
//! rings exactly once, motion, a reboot that lost the schedule, and wrong credentials.

mod support;

use std::path::Path;
use std::time::Duration;

use doorbell_bridge::app::{self, Options, Running};
use doorbell_bridge::config;
use doorbell_bridge::sim::{Personality, SimDoorbell, SimOptions};
use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, QoS};
use serde_json::{Value, json};
use support::broker::Broker;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Longest wait for something that must happen (generous: the machine is shared).
const WAIT: Duration = Duration::from_secs(20);
const CAM: &str = "doorbell-bridge/front_door";
const OURS_DOORBELL: &str = "doorbell-bridge front_door (doorbell)";
const OURS_MOTION: &str = "doorbell-bridge front_door (motion)";

/// Every message on `#`, in arrival order.
struct Collector {
    rx: mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    seen: Vec<(String, Vec<u8>)>,
    task: tokio::task::JoinHandle<()>,
}

impl Collector {
    async fn start(port: u16) -> Collector {
        let mut o = MqttOptions::new(
            format!("doorbird-{}", uuid::Uuid::new_v4().simple()),
            "127.0.0.1",
            port,
        );
        o.set_max_packet_size(1 << 24, 1 << 24);
        let (client, mut events) = AsyncClient::new(o, 16);
        let (tx, rx) = mpsc::unbounded_channel();
        let (ready_tx, mut ready) = mpsc::channel(1);
        let task = tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                        let _ = client.subscribe("#", QoS::AtLeastOnce).await;
                    }
                    Ok(Event::Incoming(Incoming::SubAck(_))) => {
                        let _ = ready_tx.try_send(());
                    }
                    Ok(Event::Incoming(Incoming::Publish(p))) => {
                        let _ = tx.send((p.topic.clone(), p.payload.to_vec()));
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        tokio::time::timeout(WAIT, ready.recv())
            .await
            .expect("subscribed");
        Collector {
            rx,
            seen: Vec::new(),
            task,
        }
    }

    /// Index of the first message after `from` on `topic` matching `want`.
    async fn wait(&mut self, from: usize, topic: &str, want: impl Fn(&[u8]) -> bool) -> usize {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(i) = self.seen[from.min(self.seen.len())..]
                .iter()
                .position(|(t, p)| t == topic && want(p))
            {
                return from + i;
            }
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(m)) => self.seen.push(m),
                _ => panic!(
                    "nothing matching on {topic} within {WAIT:?}; saw {:?}",
                    self.seen
                        .iter()
                        .map(|(t, p)| format!("{t} {}", String::from_utf8_lossy(p)))
                        .collect::<Vec<_>>()
                ),
            }
        }
    }

    fn json(&self, i: usize) -> Value {
        serde_json::from_slice(&self.seen[i].1).expect("JSON payload")
    }

    /// Ring triggers seen so far.
    fn rings(&self) -> usize {
        self.seen
            .iter()
            .filter(|(t, p)| t == &format!("{CAM}/event") && is_ring(p))
            .count()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn is_ring(p: &[u8]) -> bool {
    serde_json::from_slice::<Value>(p).is_ok_and(|v| v["kind"] == "ring" && v["trigger"] == true)
}

fn doorbird_sim() -> SimOptions {
    SimOptions {
        personality: Personality::DoorBird,
        onvif: false,
        username: "ghbvxs0001".into(),
        password: "bird-password".into(),
        ..SimOptions::default()
    }
}

fn config(sim: &SimDoorbell, port: u16, archive: &Path, password: &str) -> config::Config {
    let text = format!(
        r#"[mqtt]
url = "mqtt://127.0.0.1:{port}"
[storage]
path = {:?}
[push]
listen = "127.0.0.1:0"
advertise_url = "http://127.0.0.1:0"
[[cameras]]
id = "front_door"
name = "Front Door"
url = "http://{}"
api = "doorbird"
username = "ghbvxs0001"
password = "{password}"
max_backoff = "2s"
"#,
        archive.display().to_string(),
        sim.addr()
    );
    config::from_toml(&text, Path::new("test.toml")).expect("valid config")
}

fn options() -> Options {
    support::bridge::app_options()
}

/// A bridge running against the simulated DoorBird.
struct Rig {
    _broker: Broker,
    sim: SimDoorbell,
    _dir: tempfile::TempDir,
    mqtt: Collector,
    running: Running,
    token: CancellationToken,
}

impl Rig {
    /// Starts the bridge; `prepare` seeds the device first.
    async fn start(password: &str, prepare: impl FnOnce(&SimDoorbell)) -> Rig {
        let broker = Broker::start();
        let sim = SimDoorbell::start(doorbird_sim()).await.unwrap();
        prepare(&sim);
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(&sim, broker.port(), dir.path(), password);
        let mqtt = Collector::start(broker.port()).await;
        let token = CancellationToken::new();
        let running = app::start(&cfg, token.clone(), options())
            .await
            .expect("bridge starts");
        Rig {
            _broker: broker,
            sim,
            _dir: dir,
            mqtt,
            running,
            token,
        }
    }

    async fn online(&mut self) {
        self.mqtt
            .wait(0, &format!("{CAM}/status"), |p| p == b"online")
            .await;
    }

    async fn stop(self) {
        self.token.cancel();
        assert!(self.running.stopped().await);
        self.sim.shutdown().await;
    }
}

/// The bridge's favorites on the device: `(id, value)` of each title.
fn ours(sim: &SimDoorbell, title: &str) -> Vec<(u64, String)> {
    sim.favorites()
        .into_iter()
        .filter(|(_, t, _)| t == title)
        .map(|(id, _, v)| (id, v))
        .collect()
}

fn http_params(entry: &Value) -> Vec<String> {
    entry["output"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| o["event"] == "http")
        .map(|o| o["param"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Registration removes the stale favorites of an earlier run (and their schedule outputs),
/// keeps Home Assistant's favorite and output, saves one favorite per input with the route
/// URL and links both inputs; the device information comes from info.cgi.
#[tokio::test]
async fn a_doorbird_registration_replaces_stale_favorites_and_links_both_inputs() {
    let mut stale = 0;
    let mut foreign = 0;
    let mut rig = Rig::start("bird-password", |sim| {
        foreign = sim.seed_favorite(
            "Home Assistant (doorbell)",
            "http://192.0.2.7/api/x?token=ha",
        );
        stale = sim.seed_favorite(
            OURS_DOORBELL,
            "http://192.0.2.5:8090/push/front_door/OLD?event=doorbell",
        );
        sim.seed_favorite(
            OURS_MOTION,
            "http://192.0.2.5:8090/push/front_door/OLD?event=motion",
        );
        sim.seed_schedule(json!({"input": "doorbell", "param": "1", "output": [
            {"event": "http", "param": foreign.to_string(), "enabled": "1"},
            {"event": "http", "param": stale.to_string(), "enabled": "1"},
        ]}));
    })
    .await;
    rig.online().await;
    let disc = rig
        .mqtt
        .wait(
            0,
            "homeassistant/device/doorbell-bridge_front_door/config",
            |p| {
                serde_json::from_slice::<Value>(p)
                    .is_ok_and(|v| v["device"]["model"] == "DoorBird D2101V")
            },
        )
        .await;
    assert_eq!(rig.mqtt.json(disc)["device"]["manufacturer"], "DoorBird");

    let doorbell = ours(&rig.sim, OURS_DOORBELL);
    let motion = ours(&rig.sim, OURS_MOTION);
    assert_eq!(doorbell.len(), 1, "one favorite per input: {doorbell:?}");
    assert_eq!(motion.len(), 1, "{motion:?}");
    assert!(doorbell[0].0 != stale, "the stale favorite was replaced");
    assert!(
        doorbell[0].1.contains("/push/front_door/") && doorbell[0].1.ends_with("?event=doorbell")
    );
    assert!(!doorbell[0].1.contains("OLD"));
    assert!(
        rig.sim.favorites().iter().any(|(id, _, _)| *id == foreign),
        "Home Assistant's favorite is left alone"
    );
    let schedule = rig.sim.schedule();
    let bell = schedule.iter().find(|e| e["input"] == "doorbell").unwrap();
    assert_eq!(
        http_params(bell),
        [foreign.to_string(), doorbell[0].0.to_string()],
        "the stale output went, Home Assistant's stayed"
    );
    assert_eq!(rig.sim.linked("doorbell").len(), 2);
    assert_eq!(rig.sim.linked("motion"), [motion[0].1.clone()]);
    rig.stop().await;
}

/// A press makes the device call the favorite once: one ring on the event and doorbell
/// topics, and a snapshot from image.cgi; motion is motion, never a ring.
#[tokio::test]
async fn a_doorbird_press_rings_exactly_once_and_motion_is_motion() {
    let mut rig = Rig::start("bird-password", |_| {}).await;
    rig.online().await;
    rig.sim.press();
    let ring = rig.mqtt.wait(0, &format!("{CAM}/event"), is_ring).await;
    assert_eq!(rig.mqtt.json(ring)["topic"], "doorbird:doorbell");
    rig.mqtt.wait(0, &format!("{CAM}/doorbell"), |_| true).await;
    rig.mqtt
        .wait(0, &format!("{CAM}/snapshot"), |p| {
            p.starts_with(&[0xFF, 0xD8])
        })
        .await;
    assert!(rig.sim.wait_for_favorite_calls(1, WAIT).await);
    rig.sim.set_motion(true);
    let motion = rig
        .mqtt
        .wait(ring, &format!("{CAM}/event"), |p| {
            serde_json::from_slice::<Value>(p).is_ok_and(|v| {
                v["kind"] == "motion" && v["active"] == true && v["topic"] == "doorbird:motion"
            })
        })
        .await;
    // The motion pulse ends by its hold: its falling edge arrives, and no second ring did.
    rig.mqtt
        .wait(motion, &format!("{CAM}/event"), |p| {
            serde_json::from_slice::<Value>(p)
                .is_ok_and(|v| v["kind"] == "motion" && v["active"] == false)
        })
        .await;
    assert!(rig.sim.wait_for_favorite_calls(2, WAIT).await);
    assert_eq!(rig.sim.stats().favorite_call_failures, 0);
    assert_eq!(rig.mqtt.rings(), 1, "one press, one ring");
    rig.stop().await;
}

/// A reboot that kept the favorites but lost the schedule is noticed by the check and linked
/// again, with the same favorites; the next press rings.
#[tokio::test]
async fn a_doorbird_that_lost_its_schedule_in_a_reboot_is_linked_again() {
    let mut rig = Rig::start("bird-password", |_| {}).await;
    rig.online().await;
    let before = rig.sim.favorites();
    rig.sim.reboot();
    rig.sim.lose_schedule();
    assert!(rig.sim.linked("doorbell").is_empty());
    let wait = doorbell_bridge::source::doorbird::CHECK_INTERVAL + WAIT;
    assert!(
        rig.sim
            .wait_until(wait, |s| !s.linked("doorbell").is_empty()
                && !s.linked("motion").is_empty())
            .await,
        "the schedule was linked again"
    );
    assert_eq!(
        rig.sim.favorites(),
        before,
        "the favorites the device kept are reused"
    );
    rig.sim.press();
    rig.mqtt.wait(0, &format!("{CAM}/event"), is_ring).await;
    assert_eq!(rig.mqtt.rings(), 1);
    rig.stop().await;
}

/// Credentials the DoorBird refuses: the camera is offline, its event sources name the
/// DoorBird source, the device's address and the API-Operator hint; nothing was registered.
#[tokio::test]
async fn wrong_credentials_on_a_doorbird_are_an_error_naming_the_camera() {
    let mut rig = Rig::start("not-the-password", |_| {}).await;
    rig.mqtt
        .wait(0, &format!("{CAM}/status"), |p| p == b"offline")
        .await;
    let addr = rig.sim.addr().to_string();
    let i = rig
        .mqtt
        .wait(0, &format!("{CAM}/event_sources"), |p| p != b"ok")
        .await;
    let text = String::from_utf8_lossy(&rig.mqtt.seen[i].1).into_owned();
    assert!(text.starts_with("doorbird:"), "{text}");
    assert!(text.contains(&addr), "names the device: {text}");
    assert!(text.contains("API-Operator"), "{text}");
    assert!(!text.contains("not-the-password"));
    assert!(rig.sim.stats().auth_failures >= 1);
    assert!(rig.sim.favorites().is_empty(), "nothing registered");
    rig.stop().await;
}
