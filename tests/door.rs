//! Opening a door from Home Assistant's lock, and every rule that keeps anything else from
//! opening it. The whole bridge (`app::start`) runs between a real Mosquitto and the simulated
//! doorbell, whose doors record every switch: each test says exactly how many times the door
//! opened (usually never).
//!
//! A "marker" is a command whose refusal the test waits for: the door task judges commands in
//! order, so once the marker's event is out, any open that something replayed before it would
//! have been recorded already.

mod support;

use std::path::Path;
use std::time::Duration;

use doorbell_bridge::app::{self, Options, Running};
use doorbell_bridge::config;
use doorbell_bridge::door::Rules;
use doorbell_bridge::sim::{DahuaModel, Fault, HikModel, Personality, SimDoorbell, SimOptions};
use serde_json::Value;
use support::bridge::WAIT;
use support::broker::{Broker, Subscriber};
use support::logs::Capture;
use tokio_util::sync::CancellationToken;

const CAM: &str = "doorbell-bridge/front_door";
const SET: &str = "doorbell-bridge/front_door/door/set";
const CODE: &str = "4711";

/// A bridge with one door camera, a broker and a subscriber on `#`.
struct Rig {
    broker: Broker,
    sim: SimDoorbell,
    sub: Subscriber,
    logs: Capture,
    running: Option<(Running, CancellationToken)>,
    config: config::Config,
    rules: Rules,
    _archive: tempfile::TempDir,
    _log_guard: tracing::dispatcher::DefaultGuard,
}

fn rules() -> Rules {
    // Tests publish as soon as the bridge is subscribed; the grace has a test of its own.
    Rules {
        subscribe_grace: Duration::ZERO,
        ..Rules::default()
    }
}

fn options(rules: &Rules) -> Options {
    Options {
        door: rules.clone(),
        ..support::bridge::app_options()
    }
}

async fn sim(personality: Personality) -> SimDoorbell {
    SimDoorbell::start(SimOptions {
        personality,
        ..SimOptions::default()
    })
    .await
    .expect("simulator starts")
}

fn config_text(port: u16, sim: &SimDoorbell, archive: &Path, camera: &str) -> String {
    format!(
        r#"[mqtt]
url = "mqtt://127.0.0.1:{port}"
[storage]
path = {:?}
[[cameras]]
id = "front_door"
name = "Front Door"
url = "{}"
username = "admin"
password = "password"
pull_timeout = "1s"
max_backoff = "2s"
{camera}
"#,
        archive.display().to_string(),
        sim.device_url()
    )
}

impl Rig {
    /// Starts everything; `camera` is more TOML for the camera (`api`, `[cameras.relay]`).
    async fn start(sim: SimDoorbell, camera: &str, rules: Rules) -> Rig {
        let logs = Capture::default();
        let guard = tracing::dispatcher::set_default(&logs.dispatch(tracing::Level::INFO));
        let broker = Broker::start();
        let archive = tempfile::tempdir().unwrap();
        let text = config_text(broker.port(), &sim, archive.path(), camera);
        let config = config::from_toml(&text, Path::new("test.toml")).expect("valid config");
        let sub = Subscriber::connect(broker.port(), "#").await;
        let mut rig = Rig {
            broker,
            sim,
            sub,
            logs,
            running: None,
            config,
            rules,
            _archive: archive,
            _log_guard: guard,
        };
        rig.start_bridge().await;
        rig
    }

    async fn start_bridge(&mut self) {
        let token = CancellationToken::new();
        let running = app::start(&self.config, token.clone(), options(&self.rules))
            .await
            .expect("bridge starts");
        self.running = Some((running, token));
    }

    async fn stop_bridge(&mut self) {
        let (running, token) = self.running.take().expect("a running bridge");
        token.cancel();
        assert!(running.stopped().await, "the bridge stops in time");
    }

    /// Waits for the camera's `online`. The bridge subscribes before it publishes anything
    /// on a connection, so from then on a command reaches it.
    async fn online(&mut self) {
        self.state(&format!("{CAM}/status"), "online").await;
    }

    async fn state(&mut self, topic: &str, want: &str) {
        loop {
            if self.sub.next_on(topic, WAIT).await.text() == want {
                return;
            }
        }
    }

    /// The next `door` event on the camera's event topic.
    async fn door_event(&mut self) -> Value {
        loop {
            let m = self.sub.next_on(&format!("{CAM}/event"), WAIT).await;
            let v = m.json();
            if v["kind"] == "door" {
                assert!(!m.retain, "an event is never retained");
                return v;
            }
        }
    }

    async fn open(&self, payload: &str) {
        self.sub.publish(SET, payload, false).await;
    }

    async fn refused(&mut self, payload: &str, reason: &str) {
        self.open(payload).await;
        let e = self.door_event().await;
        assert_eq!(
            (e["outcome"].as_str(), e["reason"].as_str()),
            (Some("refused"), Some(reason)),
            "{e}"
        );
    }

    async fn opened(&mut self, payload: &str) {
        self.open(payload).await;
        let e = self.door_event().await;
        assert_eq!(e["outcome"], "opened", "{e}");
    }

    async fn stop(mut self) {
        if self.running.is_some() {
            self.stop_bridge().await;
        }
        self.sim.clone().shutdown().await;
    }
}

fn relay(extra: &str) -> String {
    format!("[cameras.relay]\nenabled = true\npulse = \"300ms\"\n{extra}")
}

fn with_code(payload: &str, code: &str) -> String {
    format!(r#"{{"action":"{payload}","code":"{code}"}}"#)
}

#[tokio::test]
async fn an_onvif_bistable_relay_opens_from_the_lock_and_goes_back_after_the_pulse() {
    let sim = sim(Personality::Onvif).await;
    let mut rig = Rig::start(sim, &format!("api = \"onvif\"\n{}", relay("")), rules()).await;
    rig.online().await;
    rig.opened("OPEN").await;
    rig.state(&format!("{CAM}/lock"), "OPEN").await;
    rig.state(&format!("{CAM}/lock"), "LOCKED").await;
    let switches = rig.sim.door_switches();
    let what: Vec<_> = switches.iter().map(|s| (s.door.as_str(), s.what)).collect();
    assert_eq!(what, [("Door1", "active"), ("Door1", "inactive")]);
    assert!(
        switches[1].at.duration_since(switches[0].at) >= Duration::from_millis(300),
        "inactive only after the pulse"
    );
    // The door's picture, and the log line.
    loop {
        let info = rig
            .sub
            .next_on(&format!("{CAM}/snapshot/info"), WAIT)
            .await
            .json();
        if info["reason"] == "door" {
            break;
        }
    }
    rig.logs.wait_for("door opened on request").await;
    rig.stop().await;
}

#[tokio::test]
async fn a_monostable_onvif_relay_gets_the_pulse_as_its_delay_and_is_not_switched_back() {
    let sim = sim(Personality::Onvif).await;
    let camera = format!("api = \"onvif\"\n{}", relay("door = \"Door2\""));
    let mut rig = Rig::start(sim, &camera, rules()).await;
    rig.online().await;
    rig.opened("OPEN").await;
    rig.state(&format!("{CAM}/lock"), "LOCKED").await;
    let what: Vec<_> = rig
        .sim
        .door_switches()
        .iter()
        .map(|s| (s.door.clone(), s.what))
        .collect();
    assert_eq!(
        what,
        [
            ("Door2".to_owned(), "settings"),
            ("Door2".to_owned(), "active")
        ]
    );
    rig.stop().await;
}

#[tokio::test]
async fn a_dahua_door_station_opens_from_the_lock() {
    let sim = sim(Personality::Dahua(DahuaModel::Vto)).await;
    let mut rig = Rig::start(
        sim,
        &format!("api = \"dahua\"\n{}", relay("door = 2")),
        rules(),
    )
    .await;
    rig.online().await;
    rig.opened("UNLOCK").await;
    rig.state(&format!("{CAM}/lock"), "OPEN").await;
    let what: Vec<_> = rig
        .sim
        .door_switches()
        .iter()
        .map(|s| (s.api, s.door.clone(), s.what))
        .collect();
    assert_eq!(what, [("dahua", "2".to_owned(), "open")]);
    rig.stop().await;
}

#[tokio::test]
async fn a_hikvision_door_station_opens_from_the_lock() {
    let sim = sim(Personality::Hikvision(HikModel::Kv6113)).await;
    let mut rig = Rig::start(sim, &format!("api = \"hikvision\"\n{}", relay("")), rules()).await;
    rig.online().await;
    rig.opened("OPEN").await;
    let what: Vec<_> = rig
        .sim
        .door_switches()
        .iter()
        .map(|s| (s.api, s.door.clone(), s.what))
        .collect();
    assert_eq!(what, [("hikvision", "1".to_owned(), "open")]);
    rig.stop().await;
}

#[tokio::test]
async fn a_doorbird_opens_its_relay_from_the_lock() {
    let sim = sim(Personality::DoorBird).await;
    let camera = format!(
        "api = \"doorbird\"\n{}\n[push]\nlisten = \"127.0.0.1:0\"\nadvertise_url = \"http://127.0.0.1:0\"\n",
        relay("door = 2")
    );
    let mut rig = Rig::start(sim, &camera, rules()).await;
    rig.online().await;
    rig.opened("OPEN").await;
    let what: Vec<_> = rig
        .sim
        .door_switches()
        .iter()
        .map(|s| (s.api, s.door.clone(), s.what))
        .collect();
    assert_eq!(what, [("doorbird", "2".to_owned(), "open")]);
    rig.stop().await;
}

#[tokio::test]
async fn a_door_that_fails_to_open_is_reported_failed() {
    // An AD410 has no relay: the device refuses, the bridge says so.
    let sim = sim(Personality::Dahua(DahuaModel::Ad410)).await;
    let mut rig = Rig::start(sim, &format!("api = \"dahua\"\n{}", relay("")), rules()).await;
    rig.online().await;
    rig.open("OPEN").await;
    let e = rig.door_event().await;
    assert_eq!(e["outcome"], "failed", "{e}");
    assert!(e["reason"].as_str().unwrap().contains("HTTP 400"), "{e}");
    assert_eq!(rig.sim.door_opens(), 0);
    rig.logs.wait_for("door open failed").await;
    rig.stop().await;
}

#[tokio::test]
async fn a_retained_command_never_opens_the_door_and_the_bridge_clears_it() {
    let sim = sim(Personality::Onvif).await;
    let logs_broker = Broker::start();
    let logs = Capture::default();
    let _guard = tracing::dispatcher::set_default(&logs.dispatch(tracing::Level::INFO));
    let archive = tempfile::tempdir().unwrap();
    let text = config_text(logs_broker.port(), &sim, archive.path(), &relay(""));
    let config = config::from_toml(&text, Path::new("test.toml")).unwrap();
    // Someone left a retained OPEN on the broker before the bridge started.
    let mut sub = Subscriber::connect(logs_broker.port(), "#").await;
    sub.publish(SET, "OPEN", true).await;
    assert_eq!(sub.next_on(SET, WAIT).await.text(), "OPEN");
    let mut check = Subscriber::connect(logs_broker.port(), SET).await;
    let kept = check.next_on(SET, WAIT).await;
    assert!(
        kept.retain && kept.text() == "OPEN",
        "the planted command is retained"
    );
    drop(check);
    let token = CancellationToken::new();
    let running = app::start(&config, token.clone(), options(&rules()))
        .await
        .unwrap();
    loop {
        let m = sub.next_on(&format!("{CAM}/event"), WAIT).await.json();
        if m["kind"] == "door" {
            assert_eq!(
                (m["outcome"].as_str(), m["reason"].as_str()),
                (Some("refused"), Some("retained")),
                "{m}"
            );
            break;
        }
    }
    // The bridge cleared it: an empty retained message on the command topic.
    let cleared = sub.next_on(SET, WAIT).await;
    assert!(cleared.payload.is_empty(), "{}", cleared.text());
    logs.wait_for("found a retained door command").await;
    assert_eq!(sim.door_opens(), 0);
    assert!(sim.door_switches().is_empty());
    token.cancel();
    assert!(running.stopped().await);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_command_topic_is_subscribed_at_qos_0() {
    let sim = sim(Personality::Onvif).await;
    let mut rig = Rig::start(sim, &relay(""), rules()).await;
    rig.online().await;
    // Mosquitto logs every subscription with its granted QoS.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let log = rig.broker.log();
        if log.contains("doorbell-bridge/front_door/door/set (QoS 0)") {
            assert!(!log.contains("door/set (QoS 1)"), "{log}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no QoS 0 door subscription in the broker log:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    rig.stop().await;
}

#[tokio::test]
async fn a_command_right_after_a_subscribe_is_refused() {
    let sim = sim(Personality::Onvif).await;
    let long = Rules {
        subscribe_grace: Duration::from_secs(3600),
        ..Rules::default()
    };
    let mut rig = Rig::start(sim, &relay(""), long).await;
    rig.online().await;
    rig.refused("OPEN", "just_subscribed").await;
    assert_eq!(rig.sim.door_opens(), 0);
    rig.stop().await;
}

#[tokio::test]
async fn wrong_and_missing_codes_are_refused_and_repeated_wrong_codes_lock_out() {
    let sim = sim(Personality::Onvif).await;
    let patient = Rules {
        wrong_code_window: Duration::from_secs(3600),
        ..rules()
    };
    let mut rig = Rig::start(sim, &relay(&format!("code = \"{CODE}\"")), patient).await;
    rig.online().await;
    // Home Assistant asks for the code (and sends it through the template).
    let discovery = rig
        .sub
        .next_on(
            "homeassistant/device/doorbell-bridge_front_door/config",
            WAIT,
        )
        .await
        .json();
    let lock = &discovery["components"]["lock"];
    assert_eq!(lock["platform"], "lock");
    assert_eq!(lock["payload_open"], "OPEN");
    assert_eq!(lock["code_format"], r"^\d+$");
    assert_eq!(lock["command_topic"], SET);
    rig.refused("OPEN", "missing_code").await;
    for _ in 0..doorbell_bridge::door::policy::MAX_WRONG_CODES {
        rig.refused(&with_code("OPEN", "0000"), "wrong_code").await;
    }
    rig.refused(&with_code("OPEN", CODE), "code_lockout").await;
    assert_eq!(rig.sim.door_opens(), 0);
    rig.logs.wait_for("door open request refused").await;
    assert!(
        rig.logs.count("reason=\"wrong_code\"") >= 1 || rig.logs.count("reason=wrong_code") >= 1,
        "{}",
        rig.logs.text()
    );
    rig.stop().await;
}

#[tokio::test]
async fn the_right_code_opens_the_door() {
    let sim = sim(Personality::Onvif).await;
    let mut rig = Rig::start(sim, &relay(&format!("code = \"{CODE}\"")), rules()).await;
    rig.online().await;
    rig.opened(&with_code("OPEN", CODE)).await;
    assert!(rig.sim.wait_for_door_switches(2, WAIT).await);
    assert_eq!(rig.sim.door_opens(), 1);
    rig.stop().await;
}

#[tokio::test]
async fn a_second_open_within_seconds_is_refused() {
    let sim = sim(Personality::Onvif).await;
    let slow = Rules {
        min_open_interval: Duration::from_secs(3600),
        ..rules()
    };
    let mut rig = Rig::start(sim, &relay(""), slow).await;
    rig.online().await;
    rig.opened("OPEN").await;
    rig.refused("OPEN", "too_soon").await;
    assert_eq!(rig.sim.door_opens(), 1);
    rig.stop().await;
}

#[tokio::test]
async fn an_open_while_the_camera_is_offline_is_refused_not_queued() {
    let sim = sim(Personality::Onvif).await;
    sim.set_fault(Fault::Offline);
    let mut rig = Rig::start(sim, &relay(""), rules()).await;
    // The camera never came up: its door task knows it is offline. The bridge's own
    // `online` says it is subscribed.
    rig.logs.wait_for("camera offline").await;
    rig.state("doorbell-bridge/status", "online").await;
    rig.refused("OPEN", "offline").await;
    rig.sim.set_fault(Fault::None);
    rig.online().await;
    // Nothing was queued: the next open is the first.
    rig.opened("OPEN").await;
    assert!(rig.sim.wait_for_door_switches(2, WAIT).await);
    assert_eq!(rig.sim.door_opens(), 1);
    rig.stop().await;
}

#[tokio::test]
async fn without_a_relay_there_is_no_lock_and_no_command_subscription() {
    let sim = sim(Personality::Onvif).await;
    let mut rig = Rig::start(sim, "[cameras.relay]\nenabled = false\n", rules()).await;
    rig.online().await;
    let discovery = rig
        .sub
        .next_on(
            "homeassistant/device/doorbell-bridge_front_door/config",
            WAIT,
        )
        .await
        .json();
    assert!(discovery["components"].get("lock").is_none(), "{discovery}");
    rig.open("OPEN").await;
    // Marker: a snapshot command goes through the same connection and router.
    rig.sub
        .publish(&format!("{CAM}/snapshot/set"), "PRESS", false)
        .await;
    loop {
        let info = rig
            .sub
            .next_on(&format!("{CAM}/snapshot/info"), WAIT)
            .await
            .json();
        if info["reason"] == "demand" {
            break;
        }
    }
    assert!(
        !rig.broker.log().contains("door/set ("),
        "{}",
        rig.broker.log()
    );
    assert!(
        !rig.sub
            .take_all()
            .iter()
            .any(|m| m.topic.ends_with("/event") && m.json()["kind"] == "door"),
        "no door event without a relay"
    );
    assert_eq!(rig.sim.door_opens(), 0);
    assert!(!rig.logs.text().contains("anyone on the network"));
    rig.stop().await;
}

#[tokio::test]
async fn an_anonymous_broker_with_a_relay_is_warned_about() {
    let sim = sim(Personality::Onvif).await;
    let rig = Rig::start(sim, &relay(""), rules()).await;
    rig.logs
        .wait_for("anyone on the network who can publish to it could open the door")
        .await;
    rig.stop().await;
}

#[tokio::test]
async fn restart_and_reconnect_never_replay_an_open() {
    let sim = sim(Personality::Onvif).await;
    let mut rig = Rig::start(sim, &relay(&format!("code = \"{CODE}\"")), rules()).await;
    rig.online().await;
    rig.opened(&with_code("OPEN", CODE)).await;
    assert!(rig.sim.wait_for_door_switches(2, WAIT).await);
    // The broker restarts: the bridge reconnects and subscribes again.
    rig.sub.take_all();
    rig.broker.stop();
    rig.broker.restart();
    rig.online().await;
    rig.refused("OPEN", "missing_code").await;
    assert_eq!(rig.sim.door_opens(), 1, "a reconnect replayed an open");
    // The bridge restarts.
    rig.stop_bridge().await;
    rig.sub.take_all();
    rig.start_bridge().await;
    rig.online().await;
    rig.refused("OPEN", "missing_code").await;
    assert_eq!(rig.sim.door_opens(), 1, "a restart replayed an open");
    rig.stop().await;
}

/// A door station reports its door on its event stream: a `door` binary sensor, and the lock
/// shows the door until it says closed.
async fn door_reports(personality: Personality, api: &str) {
    let sim = sim(personality).await;
    let mut rig = Rig::start(sim, &format!("api = \"{api}\"\n{}", relay("")), rules()).await;
    rig.online().await;
    rig.opened("OPEN").await;
    rig.state(&format!("{CAM}/door"), "ON").await;
    loop {
        let d = rig
            .sub
            .next_on(
                "homeassistant/device/doorbell-bridge_front_door/config",
                WAIT,
            )
            .await
            .json();
        if let Some(door) = d["components"].get("door") {
            assert_eq!(door["platform"], "binary_sensor", "{door}");
            assert_eq!(door["device_class"], "door", "{door}");
            break;
        }
    }
    rig.sim.close_door();
    rig.state(&format!("{CAM}/door"), "OFF").await;
    rig.state(&format!("{CAM}/lock"), "LOCKED").await;
    assert_eq!(rig.sim.door_opens(), 1);
    rig.stop().await;
}

#[tokio::test]
async fn a_dahua_vto_reports_its_door_and_the_lock_follows_it() {
    door_reports(Personality::Dahua(DahuaModel::Vto), "dahua").await;
}

#[tokio::test]
async fn a_hikvision_station_reports_its_door_and_the_lock_follows_it() {
    door_reports(Personality::Hikvision(HikModel::Kv6113), "hikvision").await;
}

#[tokio::test]
async fn stopping_within_the_pulse_switches_a_bistable_relay_back() {
    let sim = sim(Personality::Onvif).await;
    let camera = "[cameras.relay]\nenabled = true\npulse = \"30s\"\n";
    let mut rig = Rig::start(sim, camera, rules()).await;
    rig.online().await;
    rig.opened("OPEN").await;
    rig.stop_bridge().await;
    let what: Vec<_> = rig.sim.door_switches().iter().map(|s| s.what).collect();
    assert_eq!(what, ["active", "inactive"], "the relay was left active");
    rig.stop().await;
}
