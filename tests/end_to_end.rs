//! The whole bridge (`app::start`) between the simulated doorbell and a real broker, with a
//! real archive folder: a press becomes an event, then a JPEG on MQTT and on disk.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use doorbell_bridge::app::{self, Options, Running};
use doorbell_bridge::config;
use doorbell_bridge::sim::{Fault, SimDoorbell, SimOptions};
use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, QoS};
use serde_json::Value;
use support::broker::Broker;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(20);
const CAM: &str = "doorbell-bridge/front_door";

/// Every message on `#`, in arrival order.
struct Collector {
    rx: mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    seen: Vec<(String, Vec<u8>)>,
    client: AsyncClient,
    task: tokio::task::JoinHandle<()>,
}

impl Collector {
    async fn start(port: u16) -> Collector {
        let mut o = MqttOptions::new(
            format!("e2e-{}", uuid::Uuid::new_v4().simple()),
            "127.0.0.1",
            port,
        );
        o.set_max_packet_size(1 << 24, 1 << 24);
        let (client, mut events) = AsyncClient::new(o, 16);
        let (tx, rx) = mpsc::unbounded_channel();
        let (ready_tx, mut ready) = mpsc::channel(1);
        let sub = client.clone();
        let task = tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                        let _ = sub.subscribe("#", QoS::AtLeastOnce).await;
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
            client,
            task,
        }
    }

    /// Index (in arrival order) of the first message after `from` on `topic` matching `want`.
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
                        .map(|(t, _)| t.as_str())
                        .collect::<Vec<_>>()
                ),
            }
        }
    }

    /// Presses the Home Assistant "Take snapshot" button.
    async fn take_snapshot(&self) {
        self.client
            .publish(
                format!("{CAM}/snapshot/set"),
                QoS::AtLeastOnce,
                false,
                "PRESS",
            )
            .await
            .unwrap();
    }

    fn json(&self, i: usize) -> Value {
        serde_json::from_slice(&self.seen[i].1).expect("JSON payload")
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Polls `cond` until it holds (a bounded wait for a counter, not a pace).
async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn is_ring(p: &[u8]) -> bool {
    serde_json::from_slice::<Value>(p).is_ok_and(|v| v["kind"] == "ring" && v["trigger"] == true)
}

fn config(sim: &SimDoorbell, port: u16, archive: &Path, extra: &str) -> config::Config {
    let text = format!(
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
{extra}
"#,
        archive.display().to_string(),
        sim.device_url()
    );
    config::from_toml(&text, Path::new("test.toml")).expect("valid config")
}

fn options() -> Options {
    support::bridge::app_options()
}

async fn start(cfg: &config::Config) -> (Running, CancellationToken) {
    let token = CancellationToken::new();
    let running = app::start(cfg, token.clone(), options())
        .await
        .expect("bridge starts");
    (running, token)
}

fn archived_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "jpg") {
                out.push(p);
            }
        }
    }
    out
}

fn file_name(path: &Path) -> &str {
    path.file_name()
        .and_then(|n| n.to_str())
        .expect("a file name")
}

/// The JSON sidecar of an archived JPEG.
fn sidecar(jpeg: &Path) -> Value {
    let bytes = std::fs::read(jpeg.with_extension("json")).expect("sidecar beside the JPEG");
    serde_json::from_slice(&bytes).expect("sidecar JSON")
}

#[tokio::test]
async fn press_gives_event_then_jpeg_on_mqtt_and_in_the_archive() {
    let broker = Broker::start();
    let sim = SimDoorbell::start(SimOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&sim, broker.port(), dir.path(), "");
    let mut mqtt = Collector::start(broker.port()).await;
    let (running, token) = start(&cfg).await;

    // Discovery describes the camera as a device with a doorbell event entity.
    let d = mqtt
        .wait(
            0,
            "homeassistant/device/doorbell-bridge_front_door/config",
            |p| !p.is_empty(),
        )
        .await;
    let disc = mqtt.json(d);
    assert_eq!(disc["components"]["doorbell"]["platform"], "event");
    assert_eq!(disc["components"]["doorbell"]["device_class"], "doorbell");
    mqtt.wait(0, &format!("{CAM}/status"), |p| p == b"online")
        .await;
    assert!(sim.wait_for_subscription(WAIT).await);
    // Once online, the device block carries what the camera said, MAC included.
    let d = mqtt
        .wait(
            0,
            "homeassistant/device/doorbell-bridge_front_door/config",
            |p| {
                serde_json::from_slice::<Value>(p)
                    .is_ok_and(|v| v["device"]["connections"].is_array())
            },
        )
        .await;
    let device = &mqtt.json(d)["device"];
    assert_eq!(device["model"], "Simulated Doorbell");
    assert_eq!(device["connections"][0][0], "mac");
    assert_eq!(device["connections"][0][1], "02:00:5e:10:00:01");

    sim.press();
    let event = mqtt.wait(0, &format!("{CAM}/event"), is_ring).await;
    let e = mqtt.json(event);
    assert_eq!(e["camera"], "front_door");
    assert_eq!(e["topic"], "tns1:RuleEngine/MyRuleDetector/Visitor");
    assert_eq!(e["operation"], "Changed");
    let bell = mqtt.wait(0, &format!("{CAM}/doorbell"), |_| true).await;
    assert_eq!(mqtt.json(bell)["event_type"], "ring");
    // The JPEG follows the event, never the other way round.
    let jpeg = mqtt
        .wait(0, &format!("{CAM}/snapshot"), |p| {
            p.starts_with(b"\xff\xd8")
        })
        .await;
    assert!(jpeg > event, "snapshot published before the event");
    let info = mqtt
        .wait(jpeg, &format!("{CAM}/snapshot/info"), |_| true)
        .await;
    let info = mqtt.json(info);
    assert_eq!(info["kind"], "ring");
    assert_eq!(info["event_time"], e["time"]);
    let path = PathBuf::from(info["archived"].as_str().expect("archived path"));
    assert!(path.starts_with(dir.path()), "{path:?}");
    assert_eq!(std::fs::read(&path).unwrap(), mqtt.seen[jpeg].1);
    assert!(file_name(&path).ends_with("_ring.jpg"), "{path:?}");
    let side = sidecar(&path);
    assert_eq!(
        (&side["reason"], &side["kind"], &side["event_time"]),
        (&info["reason"], &info["kind"], &info["event_time"]),
        "the sidecar and snapshot/info describe the picture alike: {side}"
    );
    assert_eq!(side["topic"], e["topic"]);

    // The Home Assistant button takes a picture on demand.
    let before = mqtt.seen.len();
    mqtt.take_snapshot().await;
    let info = mqtt
        .wait(before, &format!("{CAM}/snapshot/info"), |p| {
            serde_json::from_slice::<Value>(p).is_ok_and(|v| v["reason"] == "demand")
        })
        .await;
    let info = mqtt.json(info);
    assert_eq!(info["kind"], Value::Null);
    let path = PathBuf::from(info["archived"].as_str().expect("archived path"));
    assert!(
        file_name(&path).ends_with("_demand.jpg"),
        "a demand picture is archived as such, not as other: {path:?}"
    );
    assert_eq!(sidecar(&path)["reason"], "demand");
    assert_eq!(archived_files(dir.path()).len(), 2);

    // Shutdown: unsubscribed, everything offline, in time.
    let stop_from = mqtt.seen.len();
    token.cancel();
    assert!(running.stopped().await, "shutdown missed its deadline");
    mqtt.wait(stop_from, &format!("{CAM}/status"), |p| p == b"offline")
        .await;
    mqtt.wait(stop_from, "doorbell-bridge/status", |p| p == b"offline")
        .await;
    assert_eq!(sim.stats().live_subscriptions, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn broken_snapshots_never_hold_back_the_ring() {
    let broker = Broker::start();
    let sim = SimDoorbell::start(SimOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &sim,
        broker.port(),
        dir.path(),
        "[cameras.snapshot]\nmax_size = \"4KiB\"",
    );
    let mut mqtt = Collector::start(broker.port()).await;
    let (running, token) = start(&cfg).await;
    mqtt.wait(0, &format!("{CAM}/status"), |p| p == b"online")
        .await;

    // Not a JPEG, then too large: the ring still arrives, no picture is published or kept.
    let bodies = [b"<html>503 busy</html>".to_vec(), vec![0xff; 64 * 1024]];
    for (n, body) in bodies.into_iter().enumerate() {
        sim.set_snapshot(Some(body));
        let from = mqtt.seen.len();
        sim.press();
        mqtt.wait(from, &format!("{CAM}/event"), is_ring).await;
        // Wait until the failed fetch is counted before the camera serves something else
        // (a press during a fetch shares that fetch's result).
        let want = format!(
            "doorbell_bridge_snapshot_failures_total{{camera=\"front_door\"}} {}",
            n + 1
        );
        eventually(&want, || {
            let mut m = String::new();
            running.metrics.render(&mut m);
            m.contains(&want)
        })
        .await;
    }
    // A good picture again: the URI is looked up afresh and the fetch works.
    sim.set_snapshot(None);
    let from = mqtt.seen.len();
    sim.press();
    mqtt.wait(from, &format!("{CAM}/snapshot"), |p| {
        p.starts_with(b"\xff\xd8")
    })
    .await;
    let jpegs = mqtt
        .seen
        .iter()
        .filter(|(t, _)| t == &format!("{CAM}/snapshot"))
        .count();
    assert_eq!(jpegs, 1, "a broken reply was published as a snapshot");
    token.cancel();
    assert!(running.stopped().await);
}

#[tokio::test]
async fn an_unwritable_archive_still_publishes_the_picture() {
    let broker = Broker::start();
    let sim = SimDoorbell::start(SimOptions::default()).await.unwrap();
    // /sys refuses every write, even root's (mode bits would not stop root).
    let cfg = config(
        &sim,
        broker.port(),
        Path::new("/sys/doorbell-bridge-test"),
        "",
    );
    let mut mqtt = Collector::start(broker.port()).await;
    let (running, token) = start(&cfg).await;
    mqtt.wait(0, &format!("{CAM}/status"), |p| p == b"online")
        .await;
    for _ in 0..2 {
        let from = mqtt.seen.len();
        sim.press();
        mqtt.wait(from, &format!("{CAM}/event"), is_ring).await;
        let info = mqtt
            .wait(from, &format!("{CAM}/snapshot/info"), |_| true)
            .await;
        assert!(mqtt.json(info)["archived"].is_null());
    }
    token.cancel();
    assert!(running.stopped().await);
}

#[tokio::test]
async fn stops_in_time_with_the_broker_and_the_camera_gone() {
    let mut broker = Broker::start();
    let sim = SimDoorbell::start(SimOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&sim, broker.port(), dir.path(), "");
    let (running, token) = start(&cfg).await;
    assert!(sim.wait_for_subscription(WAIT).await);
    running.mqtt.wait_until(|s| s.is_connected()).await;
    broker.stop();
    sim.set_fault(Fault::Offline);
    token.cancel();
    // Bounded by the deadline (8 s) plus the MQTT side's own 2 s: it returns either way.
    let _clean = tokio::time::timeout(Duration::from_secs(15), running.stopped())
        .await
        .expect("the bridge stops within its deadline");
}

#[tokio::test]
async fn a_ring_takes_a_burst_of_extra_frames() {
    let broker = Broker::start();
    let sim = SimDoorbell::start(SimOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let extra = "[cameras.snapshot]\nburst = 2\nburst_interval = \"200ms\"";
    let cfg = config(&sim, broker.port(), dir.path(), extra);
    let mut mqtt = Collector::start(broker.port()).await;
    let (running, token) = start(&cfg).await;
    mqtt.wait(0, &format!("{CAM}/status"), |p| p == b"online")
        .await;
    sim.press();
    let mut from = mqtt.wait(0, &format!("{CAM}/event"), is_ring).await;
    let ring_time = mqtt.json(from)["time"].clone();
    for reason in ["event", "burst", "burst"] {
        let info = mqtt
            .wait(from, &format!("{CAM}/snapshot/info"), |_| true)
            .await;
        let info_json = mqtt.json(info);
        assert_eq!(info_json["reason"], reason, "{info_json}");
        assert_eq!(info_json["kind"], "ring");
        assert_eq!(info_json["event_time"], ring_time);
        from = info + 1;
    }
    // The burst is over: the next picture is the one the button asks for. (Burst frames once
    // asked for bursts of their own, and one ring never stopped taking pictures.)
    mqtt.take_snapshot().await;
    let next = mqtt
        .wait(from, &format!("{CAM}/snapshot/info"), |_| true)
        .await;
    assert_eq!(mqtt.json(next)["reason"], "demand");
    let mut names: Vec<_> = archived_files(dir.path())
        .iter()
        .map(|p| file_name(p).split_once('_').unwrap().1.to_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["demand.jpg", "ring-2.jpg", "ring-3.jpg", "ring.jpg"],
        "burst frames are archived as the ring's, dated by it, so numbered"
    );
    token.cancel();
    assert!(running.stopped().await);
}

// ---- Vendor event sources: presses that are not on ONVIF ------------------------------------

use doorbell_bridge::sim::{DahuaModel, HikModel, HikQuirks, Personality};

fn vendor_sim(personality: Personality) -> SimOptions {
    SimOptions {
        personality,
        ..SimOptions::default()
    }
}

fn event_on(p: &[u8], topic: &str, active: bool) -> bool {
    serde_json::from_slice::<Value>(p).is_ok_and(|v| v["topic"] == topic && v["active"] == active)
}

/// Ring triggers among the events seen so far.
fn rings_seen(mqtt: &Collector) -> usize {
    mqtt.seen
        .iter()
        .filter(|(t, p)| t == &format!("{CAM}/event") && is_ring(p))
        .count()
}

/// A bridge running against a simulated vendor doorbell, once the camera is online.
struct VendorRig {
    _broker: Broker,
    sim: SimDoorbell,
    _dir: tempfile::TempDir,
    mqtt: Collector,
    running: Running,
    token: CancellationToken,
}

impl VendorRig {
    async fn start(options: SimOptions, extra: &str) -> VendorRig {
        Self::start_with(options, extra, |_| {}).await
    }

    /// As [`VendorRig::start`], with `prepare` applied to the device before the bridge starts.
    async fn start_with(
        options: SimOptions,
        extra: &str,
        prepare: impl FnOnce(&SimDoorbell),
    ) -> VendorRig {
        let broker = Broker::start();
        let sim = SimDoorbell::start(options).await.unwrap();
        prepare(&sim);
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(&sim, broker.port(), dir.path(), extra);
        let mut mqtt = Collector::start(broker.port()).await;
        let (running, token) = start(&cfg).await;
        mqtt.wait(0, &format!("{CAM}/status"), |p| p == b"online")
            .await;
        VendorRig {
            _broker: broker,
            sim,
            _dir: dir,
            mqtt,
            running,
            token,
        }
    }

    async fn stop(self) {
        self.token.cancel();
        assert!(self.running.stopped().await);
        self.sim.shutdown().await;
    }
}

/// An AD410 (api auto: the ONVIF manufacturer is Amcrest) presses: its five codes ring once,
/// on the doorbell topic, from the Dahua stream.
#[tokio::test]
async fn an_ad410_press_rings_exactly_once_through_the_dahua_stream() {
    let mut rig = VendorRig::start(vendor_sim(Personality::Dahua(DahuaModel::Ad410)), "").await;
    assert!(
        rig.sim.wait_for_streams(1, WAIT).await,
        "auto chose the Dahua stream"
    );
    rig.sim.press();
    let ring = rig.mqtt.wait(0, &format!("{CAM}/event"), is_ring).await;
    assert_eq!(rig.mqtt.json(ring)["topic"], "dahua:CallNoAnswered");
    rig.mqtt.wait(0, &format!("{CAM}/doorbell"), |_| true).await;
    // The last code of the press: nothing after it may ring again.
    rig.mqtt
        .wait(ring, &format!("{CAM}/event"), |p| {
            event_on(p, "dahua:CallNoAnswered", false)
        })
        .await;
    assert_eq!(rings_seen(&rig.mqtt), 1, "one press, one ring");
    rig.stop().await;
}

/// An AD110 press (`_DoTalkAction_` Invite, then `CallNoAnswered`) rings once; its motion
/// (PIR plus `AlarmLocal`) never rings.
#[tokio::test]
async fn an_ad110_press_rings_once_and_its_motion_never_rings() {
    let mut rig = VendorRig::start(
        vendor_sim(Personality::Dahua(DahuaModel::Ad110)),
        "api = \"dahua\"",
    )
    .await;
    assert!(rig.sim.wait_for_streams(1, WAIT).await);
    rig.sim.set_motion(true);
    let motion = rig
        .mqtt
        .wait(0, &format!("{CAM}/event"), |p| {
            event_on(p, "dahua:AlarmLocal", true)
        })
        .await;
    rig.mqtt
        .wait(0, &format!("{CAM}/event"), |p| {
            event_on(p, "dahua:ProfileAlarmTransmit", true)
        })
        .await;
    assert_eq!(rings_seen(&rig.mqtt), 0, "AD110 motion is not a press");
    rig.sim.press();
    let ring = rig
        .mqtt
        .wait(motion, &format!("{CAM}/event"), is_ring)
        .await;
    assert_eq!(rig.mqtt.json(ring)["topic"], "dahua:_DoTalkAction_");
    rig.mqtt
        .wait(ring, &format!("{CAM}/event"), |p| {
            event_on(p, "dahua:CallNoAnswered", true)
        })
        .await;
    assert_eq!(
        rings_seen(&rig.mqtt),
        1,
        "Invite and CallNoAnswered are one press"
    );
    rig.stop().await;
}

/// A KV6113 door station (api auto: HIKVISION): the call status goes idle -> ring and an
/// AccessControllerEvent comes on the alert stream; together they ring once.
#[tokio::test]
async fn a_kv6113_press_rings_once_from_call_status_and_alert_stream() {
    let mut rig = VendorRig::start(
        vendor_sim(Personality::Hikvision(HikModel::Kv6113)),
        "call_poll = \"500ms\"",
    )
    .await;
    assert!(
        rig.sim.wait_for_streams(1, WAIT).await,
        "auto chose the alert stream"
    );
    // The poll has a starting point before the press.
    eventually("a call status poll", || {
        rig.sim.stats().call_status_polls >= 2
    })
    .await;
    rig.sim.press();
    let ring = rig.mqtt.wait(0, &format!("{CAM}/event"), is_ring).await;
    let topic = rig.mqtt.json(ring)["topic"].as_str().unwrap().to_owned();
    assert!(topic.starts_with("hikvision:"), "{topic}");
    // Both reports of the press have arrived: the call status and the access event.
    rig.mqtt
        .wait(0, &format!("{CAM}/event"), |p| {
            event_on(p, "hikvision:callStatus", true)
        })
        .await;
    rig.mqtt
        .wait(0, &format!("{CAM}/event"), |p| {
            event_on(p, "hikvision:AccessControllerEvent", true)
        })
        .await;
    rig.sim.answer();
    rig.mqtt
        .wait(ring, &format!("{CAM}/event"), |p| {
            serde_json::from_slice::<Value>(p).is_ok_and(|v| v["data"]["call"] == "answered")
        })
        .await;
    assert_eq!(rings_seen(&rig.mqtt), 1, "one press, one ring");
    rig.stop().await;
}

/// Older Hikvision firmware answers 404 on `/ISAPI/Event/notification/alertStream`: the
/// bridge opens `/Event/notification/alertStream` instead and the press rings through it.
#[tokio::test]
async fn an_older_hikvision_without_the_isapi_alert_stream_rings_through_the_legacy_path() {
    let mut rig = VendorRig::start_with(
        vendor_sim(Personality::Hikvision(HikModel::Kv6113)),
        "api = \"hikvision\"\ncall_poll = \"5s\"",
        |sim| {
            sim.set_hik_quirks(HikQuirks {
                legacy_path: true,
                ..HikQuirks::default()
            })
        },
    )
    .await;
    assert!(
        rig.sim.wait_for_streams(1, WAIT).await,
        "the older path is open"
    );
    assert!(
        rig.sim.stats().action("alertStream") >= 1,
        "the ISAPI path was tried first"
    );
    rig.sim.press();
    rig.mqtt
        .wait(0, &format!("{CAM}/event"), |p| {
            event_on(p, "hikvision:AccessControllerEvent", true)
        })
        .await;
    rig.mqtt.wait(0, &format!("{CAM}/doorbell"), |_| true).await;
    rig.stop().await;
}

/// A door station answering errors is polled with the shared backoff, not every `call_poll`:
/// a station that is failing costs little, and the poll comes back when it answers again.
#[tokio::test]
async fn a_failing_door_station_call_status_poll_backs_off() {
    let rig = VendorRig::start(
        vendor_sim(Personality::Hikvision(HikModel::Kv6113)),
        "api = \"hikvision\"\ncall_poll = \"500ms\"",
    )
    .await;
    eventually("a call status poll", || {
        rig.sim.stats().action("callStatus") >= 2
    })
    .await;
    rig.sim.set_fault(Fault::Http500);
    let before = rig.sim.stats().action("callStatus");
    // A window, not a wait for readiness: the count over it is what is asserted.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let polls = rig.sim.stats().action("callStatus") - before;
    assert!(
        polls <= 6,
        "{polls} polls in 8 s of HTTP 500; every 500 ms would be 16"
    );
    rig.sim.set_fault(Fault::None);
    let resumed = rig.sim.stats().action("callStatus") + 1;
    assert!(
        rig.sim
            .wait_for_requests("callStatus", resumed, Duration::from_secs(30))
            .await,
        "polled again after the errors"
    );
    rig.stop().await;
}

/// A Dahua stream that stays open but silent is noticed by its watchdog and opened again; a
/// press after the stall rings.
#[tokio::test]
async fn a_stalled_dahua_stream_is_noticed_and_replaced() {
    let mut rig = VendorRig::start(
        vendor_sim(Personality::Dahua(DahuaModel::Ad410)),
        "api = \"dahua\"",
    )
    .await;
    assert!(rig.sim.wait_for_streams(1, WAIT).await);
    rig.sim.set_fault(Fault::Stall);
    let watchdog = doorbell_bridge::source::stream::DAHUA_IDLE * 3;
    assert!(
        rig.sim.wait_for_streams(2, watchdog).await,
        "the silent stream was replaced"
    );
    rig.sim.set_fault(Fault::None);
    // The stream opened during the stall is silent too: the next one works.
    assert!(rig.sim.wait_for_streams(3, watchdog).await);
    rig.sim.press();
    rig.mqtt.wait(0, &format!("{CAM}/event"), is_ring).await;
    rig.stop().await;
}

/// A doorbell that answers only its vendor API (no ONVIF at all) still rings with
/// `api = "dahua"`, is online through the stream, and is identified by the vendor API.
#[tokio::test]
async fn a_doorbell_without_onvif_works_through_the_vendor_api_alone() {
    let options = SimOptions {
        onvif: false,
        ..vendor_sim(Personality::Dahua(DahuaModel::Ad410))
    };
    let mut rig = VendorRig::start(options, "api = \"dahua\"").await;
    let disc = rig
        .mqtt
        .wait(
            0,
            "homeassistant/device/doorbell-bridge_front_door/config",
            |p| serde_json::from_slice::<Value>(p).is_ok_and(|v| v["device"]["model"] == "AD410"),
        )
        .await;
    assert_eq!(rig.mqtt.json(disc)["device"]["manufacturer"], "Dahua");
    rig.sim.press();
    rig.mqtt.wait(0, &format!("{CAM}/doorbell"), |_| true).await;
    // The ring's picture comes from the vendor snapshot path.
    rig.mqtt
        .wait(0, &format!("{CAM}/snapshot"), |p| {
            p.starts_with(&[0xFF, 0xD8])
        })
        .await;
    rig.stop().await;
}
