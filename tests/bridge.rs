//! The MQTT bridge against a real broker (Mosquitto on a free port; the embedded rumqttd
//! where Mosquitto is missing): exact topics and payloads, Last Will, Home Assistant's birth,
//! a broker restart with rings in between, bad credentials, removed cameras and TLS.

mod support;

use doorbell_bridge::event::{
    CameraId, Command, Kind, Snapshot, SnapshotEvent, SnapshotReason, Update,
};
use doorbell_bridge::mqtt::{Bridge, BridgeStatus};
use serde_json::json;
use support::bridge::*;
use support::broker::{Broker, Options, Subscriber};
use support::proxy::Proxy;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ring_reaches_event_and_doorbell_and_discovery_lists_the_entities() {
    let broker = Broker::start();
    let mut sub = Subscriber::connect(broker.port(), "#").await;
    let bridge = Running::start(&plain(broker.port()), front_door());
    assert_eq!(
        sub.next_on(&format!("{BASE}/status"), WAIT).await.text(),
        "online"
    );
    bridge.send(event(Kind::Ring, true, 1)).await;

    let e = sub.next_on(&format!("{BASE}/front_door/event"), WAIT).await;
    assert!(!e.retain);
    let v = e.json();
    assert_eq!(
        (v["camera"].clone(), v["kind"].clone()),
        (json!("front_door"), json!("ring"))
    );
    assert_eq!(v["trigger"], true);
    let d = sub
        .next_on(&format!("{BASE}/front_door/doorbell"), WAIT)
        .await;
    assert_eq!(d.json()["event_type"], "ring");
    assert_eq!(d.json()["time"], v["time"]);
    let last = sub
        .next_on(&format!("{BASE}/front_door/last_ring"), WAIT)
        .await;
    assert_eq!(json!(last.text()), v["time"]);

    let config = sub.next_on(DISCOVERY, WAIT).await.json();
    assert_eq!(
        config["device"]["identifiers"],
        json!(["doorbell-bridge_front_door"])
    );
    assert_eq!(config["device"]["name"], "Front Door");
    assert_eq!(config["device"]["via_device"], "doorbell-bridge");
    assert_eq!(config["origin"]["name"], "doorbell-bridge");
    let keys: Vec<&String> = config["components"].as_object().unwrap().keys().collect();
    for want in [
        "doorbell",
        "motion",
        "person",
        "snapshot",
        "camera",
        "take_snapshot",
        "last_ring",
    ] {
        assert!(
            keys.iter().any(|k| *k == want),
            "{want} missing from {keys:?}"
        );
    }
    let bridge_device = sub
        .next_on("homeassistant/device/doorbell-bridge/config", WAIT)
        .await;
    assert_eq!(
        bridge_device.json()["components"]["status"]["device_class"],
        "connectivity"
    );

    bridge.stop().await;
    let mut after = Subscriber::connect(broker.port(), &format!("{BASE}/#")).await;
    let status = after.next_on(&format!("{BASE}/status"), WAIT).await;
    assert_eq!((status.text(), status.retain), ("offline".into(), true));
    let cam = after
        .next_on(&format!("{BASE}/front_door/status"), WAIT)
        .await;
    assert_eq!(cam.text(), "offline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_snapshot_arrives_intact_with_its_info() {
    let broker = Broker::start();
    let topic = format!("{BASE}/front_door/snapshot");
    let mut sub = Subscriber::connect(broker.port(), &format!("{topic}/#")).await;
    let mut raw = Subscriber::connect(broker.port(), &topic).await;
    let bridge = Running::start(&plain(broker.port()), front_door());
    // Far above rumqttc's 10 KiB default, both ways.
    let mut jpeg = vec![0xFF, 0xD8];
    jpeg.extend((0..2 * 1024 * 1024).map(|i| (i % 251) as u8));
    let time = jiff::Timestamp::now();
    let snapshot = Snapshot {
        camera: CameraId::new("front_door").unwrap(),
        jpeg: jpeg.clone().into(),
        taken: time,
        reason: SnapshotReason::Event(Box::new(SnapshotEvent {
            kind: Kind::Ring,
            time,
            camera_time: None,
            topic: "tns1:RuleEngine/MyRuleDetector/Visitor".into(),
        })),
        archived: None,
    };
    bridge.send(Update::Snapshot(snapshot)).await;
    let got = raw.next_on(&topic, WAIT).await;
    assert!(got.payload == jpeg, "JPEG changed on the way");
    let info = sub.next_on(&format!("{topic}/info"), WAIT).await.json();
    assert_eq!(info["kind"], "ring");
    assert_eq!(info["size"], jpeg.len());
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn take_snapshot_button_delivers_a_command_and_ignores_others() {
    let broker = Broker::start();
    let sub = Subscriber::connect(broker.port(), "unused").await;
    let mut bridge = Running::start(&plain(broker.port()), front_door());
    bridge.connected().await;
    let set = format!("{BASE}/front_door/snapshot/set");
    // The bridge subscribes before it publishes `online` on the same connection: once
    // `online` is retained, its subscription is in place.
    let mut probe = Subscriber::connect(broker.port(), &format!("{BASE}/status")).await;
    probe.next_on(&format!("{BASE}/status"), WAIT).await;
    for ignored in ["press", "PRESS PRESS", &"P".repeat(1000)] {
        sub.publish(&set, ignored, false).await;
    }
    sub.publish(&format!("{BASE}/garage/snapshot/set"), "PRESS", false)
        .await;
    sub.publish(&set, "PRESS", false).await;
    let command = tokio::time::timeout(WAIT, bridge.commands.recv())
        .await
        .unwrap();
    let front = CameraId::new("front_door").unwrap();
    assert_eq!(command, Some((front, Command::TakeSnapshot)));
    assert!(bridge.commands.try_recv().is_err(), "only PRESS counts");
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_will_marks_the_bridge_offline_when_the_connection_dies() {
    let broker = Broker::start();
    let topic = format!("{BASE}/status");
    let mut sub = Subscriber::connect(broker.port(), &topic).await;
    // A runtime of its own, dropped without any clean shutdown: the socket just closes.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let bridge = {
        let _guard = rt.enter();
        Running::start(&plain(broker.port()), front_door())
    };
    assert_eq!(sub.next_on(&topic, WAIT).await.text(), "online");
    rt.shutdown_background();
    let will = sub.next_on(&topic, WAIT).await;
    assert_eq!(will.text(), "offline");
    let late = Subscriber::connect(broker.port(), &topic)
        .await
        .next_on(&topic, WAIT)
        .await;
    assert_eq!((late.text(), late.retain), ("offline".into(), true));
    drop(bridge);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_assistant_birth_brings_discovery_again() {
    let broker = Broker::start();
    let mut first = Subscriber::connect(broker.port(), DISCOVERY).await;
    let bridge = Running::start(&plain(broker.port()), front_door());
    first.next_on(DISCOVERY, WAIT).await;
    // Subscribed after the announcement: sees exactly the retained copy, then the answer.
    let mut sub = Subscriber::connect(broker.port(), DISCOVERY).await;
    assert!(sub.next_on(DISCOVERY, WAIT).await.retain);
    sub.publish("homeassistant/status", "online", false).await;
    let again = sub.next_on(DISCOVERY, WAIT).await;
    assert!(!again.retain, "a live republish, not the retained copy");
    assert_eq!(again.json()["device"]["name"], "Front Door");
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_loses_no_ring_and_keeps_the_order() {
    let options = Options {
        persistence: true,
        ..Options::default()
    };
    let Some(mut broker) = Broker::mosquitto(options) else {
        return;
    };
    let topic = format!("{BASE}/front_door/event");
    let mut sub = Subscriber::connect_as(broker.port(), &topic, Some("ring-watcher")).await;
    let bridge = Running::start(&plain(broker.port()), front_door());
    bridge.connected().await;
    bridge.send(event(Kind::Ring, true, 1)).await;
    assert_eq!(n_of(&sub.next_on(&topic, WAIT).await), 1);

    broker.stop();
    let status = bridge.status.clone();
    tokio::time::timeout(WAIT, status.wait_until(|s| !s.is_connected()))
        .await
        .expect("bridge notices the broker is gone");
    for n in 2..=6 {
        bridge.send(event(Kind::Ring, true, n)).await;
    }
    tokio::time::timeout(WAIT, status.wait_until(|s| s.queue_depth() >= 10))
        .await
        .expect("rings wait in the bridge's queue");
    broker.restart();

    let mut seen = Vec::new();
    while seen.last() != Some(&6) {
        seen.push(n_of(&sub.next_on(&topic, WAIT).await));
    }
    // At-least-once: a ring may come twice, but none is lost and the order holds.
    assert!(seen.is_sorted(), "out of order: {seen:?}");
    seen.dedup();
    seen.retain(|&n| n != 1);
    assert_eq!(seen, [2, 3, 4, 5, 6], "{}", broker.log());
    assert!(bridge.status.reconnects() >= 1);
    bridge.stop().await;
}

/// While the broker is away the queue is bounded: motion events go first, rings stay, and
/// the bridge says how many it dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_motion_before_rings_and_says_how_many() {
    let options = Options {
        persistence: true,
        ..Options::default()
    };
    let Some(mut broker) = Broker::mosquitto(options) else {
        return;
    };
    let filter = format!("{BASE}/#");
    let mut sub = Subscriber::connect_as(broker.port(), &filter, Some("overflow-watcher")).await;
    // The smallest queue the bridge allows for one camera (MIN_QUEUE_PER_CAMERA).
    let config = mqtt_config(&format!(
        "url = \"mqtt://127.0.0.1:{}\"\nqueue_size = 8",
        broker.port()
    ));
    let bridge = Running::start(&config, front_door());
    bridge.connected().await;

    broker.stop();
    let status = bridge.status.clone();
    tokio::time::timeout(WAIT, status.wait_until(|s| !s.is_connected()))
        .await
        .expect("bridge notices the broker is gone");
    bridge.send(event(Kind::Ring, true, 1)).await;
    for n in 2..=31 {
        bridge.send(event(Kind::Motion, n % 2 == 0, n)).await;
    }
    bridge.send(event(Kind::Ring, true, 99)).await;
    tokio::time::timeout(WAIT, status.wait_until(|s| s.dropped() > 0))
        .await
        .expect("the queue overflows");
    broker.restart();

    let topic = format!("{BASE}/front_door/event");
    let mut seen = Vec::new();
    while seen.last() != Some(&99) {
        seen.push(n_of(&sub.next_on(&topic, WAIT).await));
    }
    assert_eq!(seen.first(), Some(&1), "the first ring survives: {seen:?}");
    assert!(seen.is_sorted(), "in order: {seen:?}");
    let motion = seen.iter().filter(|&&n| (2..=31).contains(&n)).count();
    let dropped = status.dropped();
    assert_eq!(motion as u64 + dropped, 30, "{seen:?}, dropped {dropped}");
    // Only the newest motion events are left.
    assert!(
        seen[1..seen.len() - 1]
            .iter()
            .all(|&n| n > 31 - motion as u64)
    );
    // Retained, so a client that comes later learns it too.
    let dropped_topic = format!("{BASE}/bridge/dropped");
    let mut late = Subscriber::connect(broker.port(), &dropped_topic).await;
    let said = late.next_on(&dropped_topic, WAIT).await;
    assert!(said.retain);
    assert_eq!(said.text(), dropped.to_string());
    bridge.stop().await;
}

/// rumqttc forgets publishes it wrote but the broker never acknowledged when it reconnects
/// with a clean session; the bridge keeps them and sends them again, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacknowledged_rings_are_sent_again_after_a_lost_connection() {
    let broker = Broker::start();
    let proxy = Proxy::start(([127, 0, 0, 1], broker.port()).into()).await;
    let topic = format!("{BASE}/front_door/event");
    let mut sub = Subscriber::connect(broker.port(), &topic).await;
    let bridge = Running::start(&plain(proxy.port()), front_door());
    bridge.send(event(Kind::Ring, true, 1)).await;
    assert_eq!(n_of(&sub.next_on(&topic, WAIT).await), 1);
    // The subscriber can see ring 1 before its PubAck reaches the bridge; until then the
    // bridge rightly counts it as unacknowledged and would send it again.
    let status = bridge.status.clone();
    tokio::time::timeout(
        WAIT,
        status.wait_until(|s| s.in_flight() == 0 && s.queue_depth() == 0),
    )
    .await
    .expect("the broker acknowledges everything sent so far");

    proxy.swallow();
    for n in 2..=4 {
        bridge.send(event(Kind::Ring, true, n)).await;
    }
    // Written by rumqttc, lost on the way, never acknowledged.
    proxy.swallowed(br#""n":"4""#).await;
    assert!(
        status.in_flight() >= 3,
        "rings 2 to 4 wait for their PubAck"
    );
    proxy.cut();

    let mut seen = Vec::new();
    while seen.last() != Some(&4) {
        seen.push(n_of(&sub.next_on(&topic, WAIT).await));
    }
    assert_eq!(seen, [2, 3, 4]);
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_are_reported_and_retried_slowly() {
    let options = Options {
        user: Some(("bridge".into(), "right".into())),
        ..Options::default()
    };
    let Some(broker) = Broker::mosquitto(options) else {
        return;
    };
    let url = format!("url = \"mqtt://127.0.0.1:{}\"", broker.port());
    let wrong = mqtt_config(&format!(
        "{url}\nusername = \"bridge\"\npassword = \"wrong\""
    ));
    let bridge = Running::start(&wrong, front_door());
    tokio::time::timeout(WAIT, bridge.status.wait_until(|s| s.failures() >= 2))
        .await
        .expect("the bridge keeps trying");
    let error = bridge.status.last_error().expect("an error is reported");
    assert!(error.contains("rejected the credentials"), "{error}");
    assert!(error.contains("mqtt.username and mqtt.password"), "{error}");
    assert_eq!(
        bridge.status.retry_in(),
        Some(tuning().max_backoff),
        "slow retries"
    );
    assert!(!bridge.status.is_connected());
    bridge.stop().await;

    let right = mqtt_config(&format!(
        "{url}\nusername = \"bridge\"\npassword = \"right\""
    ));
    let bridge = Running::start(&right, front_door());
    bridge.connected().await;
    assert_eq!(bridge.status.last_error(), None);
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_camera_turns_its_states_off() {
    let broker = Broker::start();
    let motion = format!("{BASE}/front_door/motion");
    let mut sub = Subscriber::connect(broker.port(), &motion).await;
    let bridge = Running::start(&plain(broker.port()), front_door());
    bridge.send(event(Kind::Motion, true, 1)).await;
    assert_eq!(sub.next_on(&motion, WAIT).await.text(), "ON");
    bridge
        .send(Update::Offline {
            camera: CameraId::new("front_door").unwrap(),
            reason: "subscription lost".into(),
        })
        .await;
    let off = sub.next_on(&motion, WAIT).await;
    assert_eq!(off.text(), "OFF");
    let status = format!("{BASE}/front_door/status");
    let mut late = Subscriber::connect(broker.port(), &status).await;
    assert_eq!(late.next_on(&status, WAIT).await.text(), "offline");
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_camera_gets_its_discovery_cleared() {
    let broker = Broker::start();
    let garage = "homeassistant/device/doorbell-bridge_garage/config";
    let list = format!("{BASE}/bridge/cameras");
    let mut sub = Subscriber::connect(broker.port(), "homeassistant/device/+/config").await;
    let mut lists = Subscriber::connect(broker.port(), &list).await;
    let two = vec![
        camera("front_door", "Front Door"),
        camera("garage", "Garage"),
    ];
    let bridge = Running::start(&plain(broker.port()), two);
    assert!(!sub.next_on(garage, WAIT).await.payload.is_empty());
    assert_eq!(
        lists.next_on(&list, WAIT).await.json(),
        json!(["front_door", "garage"])
    );
    bridge.stop().await;

    let bridge = Running::start(&plain(broker.port()), front_door());
    let cleared = sub.next_on(garage, WAIT).await;
    assert!(cleared.payload.is_empty(), "garage discovery cleared");
    assert_eq!(
        lists.next_on(&list, WAIT).await.json(),
        json!(["front_door"])
    );
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_private_ca_and_no_plaintext_fallback() {
    let Pki { ca, cert, key, .. } = test_pki();
    let options = Options {
        tls: Some((ca.clone(), cert, key)),
        ..Options::default()
    };
    let Some(broker) = Broker::mosquitto(options) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let url = format!("url = \"mqtts://localhost:{}\"", broker.tls_port());
    let topic = format!("{BASE}/front_door/event");
    let mut sub = Subscriber::connect(broker.port(), &topic).await;
    let tls = mqtt_config(&format!(
        "{url}\nca_file = {:?}",
        ca_file.display().to_string()
    ));
    let bridge = Running::start(&tls, front_door());
    bridge.connected().await;
    bridge.send(event(Kind::Ring, true, 7)).await;
    assert_eq!(n_of(&sub.next_on(&topic, WAIT).await), 7);
    bridge.stop().await;

    // Without our CA the system roots do not trust the broker: an error, never plaintext.
    let system_roots = mqtt_config(&url);
    let started = Bridge::start_with(
        &system_roots,
        front_door(),
        &TaskTracker::new(),
        CancellationToken::new(),
        tuning(),
    );
    let Ok(bridge) = started else {
        return; // no system roots at all: refused at start, also no fallback
    };
    tokio::time::timeout(WAIT, bridge.status.wait_until(|s| s.failures() >= 1))
        .await
        .expect("the TLS failure is reported");
    let error = bridge.status.last_error().unwrap();
    assert!(error.contains("TLS"), "{error}");
    assert!(error.contains("check mqtt.ca_file"), "{error}");
    assert!(!bridge.status.is_connected());
}

/// Mutual TLS: the broker admits only clients with a certificate from its CA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_with_a_client_certificate() {
    let pki = test_pki();
    let options = Options {
        tls: Some((pki.ca.clone(), pki.cert.clone(), pki.key.clone())),
        require_client_cert: true,
        ..Options::default()
    };
    let Some(broker) = Broker::mosquitto(options) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, pem: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, pem).unwrap();
        path.display().to_string()
    };
    let ca = file("ca.pem", &pki.ca);
    let cert = file("client.pem", &pki.client_cert);
    let key = file("client.key", &pki.client_key);
    let base = format!(
        "url = \"mqtts://localhost:{}\"\nca_file = {ca:?}",
        broker.tls_port()
    );
    let topic = format!("{BASE}/front_door/event");
    let mut sub = Subscriber::connect(broker.port(), &topic).await;

    let with_cert = mqtt_config(&format!(
        "{base}\nclient_cert = {cert:?}\nclient_key = {key:?}"
    ));
    let bridge = Running::start(&with_cert, front_door());
    bridge.connected().await;
    bridge.send(event(Kind::Ring, true, 9)).await;
    assert_eq!(n_of(&sub.next_on(&topic, WAIT).await), 9);
    bridge.stop().await;

    // Without one the broker ends the handshake: reported with a hint, never connected. (An
    // attempt may also end in a reset if the broker closes before reading everything; the
    // bridge retries, and the alert is what it must name.)
    let bridge = Running::start(&mqtt_config(&base), front_door());
    let refused = |s: &BridgeStatus| {
        s.last_error()
            .is_some_and(|e| e.contains("refused our TLS client certificate"))
    };
    let reported = tokio::time::timeout(WAIT, bridge.status.wait_until(refused)).await;
    let error = bridge.status.last_error();
    assert!(reported.is_ok(), "{error:?}");
    assert!(error.unwrap().contains("mqtt.client_cert"));
    assert!(!bridge.status.is_connected());
    bridge.stop().await;
}

#[test]
fn a_missing_ca_file_stops_the_start() {
    let config = mqtt_config("url = \"mqtts://localhost:8883\"\nca_file = \"/nonexistent/ca.pem\"");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    let err = Bridge::start_with(
        &config,
        front_door(),
        &TaskTracker::new(),
        CancellationToken::new(),
        tuning(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "mqtt.ca_file /nonexistent/ca.pem: cannot read the file; check the path and that the bridge may read it"
    );
}
