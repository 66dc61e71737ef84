//! The ring-notification blueprint in a real, running Home Assistant: Mosquitto, the simulated
//! doorbell with its door relay, the whole bridge (`app::start`), and `hass` (from the venv
//! that `.ci/ha-venv` makes) on a fresh config directory, onboarded and given the MQTT
//! integration through its config flow, as a user would. Two fake Companion apps register
//! through the `mobile_app` API with a push URL on this test; every notification Home
//! Assistant sends them is captured there. A press on the simulated doorbell must give the
//! phone a notification titled with the camera's name, with the ring's picture through
//! Home Assistant's image proxy, the tap URL and the "Open door" button; a second press
//! during the cool-down gives none; pressing the button and confirming opens the simulated
//! door's relay through the bridge's lock. A second automation from the same blueprint, in
//! its quiet hours, notifies nobody.
//!
//! Home Assistant 2024.3.3 runs here: the newest for Python 3.11, the only Python this
//! machine has. The blueprint is written for 2024.11 (its `min_version`), so the test loads
//! a copy respelled to 2024.3's syntax with `min_version` lowered, and republishes the
//! bridge's device discovery as single-component discovery messages (2024.3 has no device
//! discovery). Both translations are pure, listed, and tested in
//! `tests/ha_support/old_spelling.rs`; everything else (templates, waits, conditions, the
//! bridge's topics and payloads) is the real thing.

#[path = "ha_support/hass.rs"]
mod hass;
#[path = "ha_support/old_spelling.rs"]
mod old_spelling;
#[path = "ha_support/phone.rs"]
mod phone;
mod support;

use std::path::Path;
use std::time::Duration;

use doorbell_bridge::app;
use doorbell_bridge::config;
use doorbell_bridge::sim::{SimDoorbell, SimOptions};
use hass::{Hass, WAIT};
use phone::PushServer;
use serde_json::{Value, json};
use support::broker::{Broker, Subscriber};
use tokio_util::sync::CancellationToken;

const BLUEPRINT: &str = "blueprints/automation/doorbell-bridge/ring_notification.yaml";
const CAM: &str = "doorbell-bridge/front_door";
const DOORBELL: &str = "event.front_door_doorbell";
const SNAPSHOT: &str = "image.front_door_snapshot";
const LOCK: &str = "lock.front_door_door";
const TAP: &str = "/lovelace/doorbell";
/// How Home Assistant's log names each automation (its logger, with debug on).
const A_LOG: &str = "[homeassistant.components.automation.ring_a]";
const QUIET_LOG: &str = "[homeassistant.components.automation.ring_quiet]";
/// Bridge-side waits (MQTT and the simulator), generous.
const BRIDGE_WAIT: Duration = Duration::from_secs(30);

fn bridge_config(sim: &SimDoorbell, port: u16, archive: &Path) -> config::Config {
    support::bridge::sim_config(
        port,
        archive,
        "",
        sim.device_url().as_str(),
        "api = \"onvif\"\n[cameras.relay]\nenabled = true\npulse = \"300ms\"",
    )
}

/// One automation from the blueprint (`automations.yaml` is YAML, and JSON is YAML).
fn automation(id: &str, phone: &str, inputs: Value) -> Value {
    let mut input = json!({
        "doorbell": DOORBELL,
        "snapshot_image": SNAPSHOT,
        "notify_devices": [phone],
        "tap_path": TAP,
    });
    input
        .as_object_mut()
        .unwrap()
        .extend(inputs.as_object().unwrap().clone());
    json!({
        "id": id,
        "alias": id,
        "use_blueprint": {"path": "doorbell-bridge/ring_notification.yaml", "input": input},
    })
}

/// `HH:MM:SS` of now plus `offset` seconds (Home Assistant runs in UTC here).
fn clock(offset: i64) -> String {
    let t = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(offset))
        .unwrap();
    t.strftime("%H:%M:%S").to_string()
}

/// The doorbell's state in Home Assistant, once it is neither missing nor unavailable.
async fn doorbell_state(ha: &Hass, not: &str) -> String {
    let s = ha
        .wait_state(DOORBELL, WAIT, |s| {
            let state = s["state"].as_str().unwrap_or("unavailable");
            state != "unavailable" && state != not
        })
        .await;
    s["state"].as_str().unwrap().to_owned()
}

/// Fires what the Companion app fires when a notification's button is pressed.
async fn press_button(ha: &Hass, action: &str) {
    ha.post(
        "/api/events/mobile_app_notification_action",
        &json!({ "action": action }),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_ring_notifies_the_phone_through_the_blueprint_and_opens_the_door() {
    const TEST: &str = "home_assistant";
    let Some(hass_bin) = hass::require(TEST) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start();
    let sim = SimDoorbell::start(SimOptions::default()).await.unwrap();
    let push = PushServer::start().await;

    let mut ha = Hass::start(&hass_bin, &dir.path().join("ha")).await;
    ha.onboard().await;
    ha.set_up_mqtt(broker.port()).await;
    let phone_a = ha.register_phone("Phone A", &push.url(), "token-a").await;
    let phone_b = ha.register_phone("Phone B", &push.url(), "token-b").await;

    // The bridge, and its discovery as Home Assistant 2024.3 reads it.
    let mut discovery = Subscriber::connect(broker.port(), "homeassistant/device/+/config").await;
    let mut snapshots = Subscriber::connect(broker.port(), &format!("{CAM}/snapshot")).await;
    let mut bells = Subscriber::connect(broker.port(), &format!("{CAM}/doorbell")).await;
    let mut door = Subscriber::connect(broker.port(), &format!("{CAM}/door/set")).await;
    let mut everything = Subscriber::connect(broker.port(), &format!("{CAM}/#")).await;
    let token = CancellationToken::new();
    let cfg = bridge_config(&sim, broker.port(), &dir.path().join("archive"));
    let running = app::start(&cfg, token.clone(), support::bridge::app_options())
        .await
        .expect("bridge starts");
    assert!(sim.wait_for_subscription(BRIDGE_WAIT).await);
    let topic = "homeassistant/device/doorbell-bridge_front_door/config";
    let device = loop {
        let m = discovery.next_on(topic, BRIDGE_WAIT).await;
        let v = m.json();
        if v["components"]["lock"].is_object() && v["device"]["connections"].is_array() {
            break v;
        }
    };
    for (t, payload) in old_spelling::components(topic, &device).expect("device discovery") {
        discovery.publish(&t, &payload.to_string(), true).await;
    }

    // The blueprint, respelled for 2024.3 (module doc), and two automations from it.
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(BLUEPRINT)).unwrap();
    let old = old_spelling::blueprint(&text).unwrap_or_else(|e| panic!("{e}"));
    ha.install_blueprint("doorbell-bridge/ring_notification.yaml", &old);
    let automations = json!([
        automation("ring_a", &phone_a, json!({"lock_entity": LOCK})),
        automation(
            "ring_quiet",
            &phone_b,
            json!({"quiet_start": clock(-3600), "quiet_end": clock(3600), "cooldown": 0}),
        ),
    ]);
    ha.set_automations(&automations.to_string()).await;
    for id in ["automation.ring_a", "automation.ring_quiet"] {
        ha.wait_state(id, WAIT, |s| s["state"] == "on").await;
    }
    ha.wait_state(LOCK, WAIT, |s| s["state"] == "locked").await;
    ha.wait_state(SNAPSHOT, WAIT, |s| s["state"].is_string())
        .await;

    // A never-rung doorbell is `unknown`, and the blueprint ignores changes from `unknown`:
    // a first press brings the entity to its first event.
    sim.press();
    snapshots
        .next_on(&format!("{CAM}/snapshot"), BRIDGE_WAIT)
        .await;
    let first = doorbell_state(&ha, "unknown").await;
    assert!(
        push.pushes("token-a").is_empty(),
        "{:?}",
        push.pushes("token-a")
    );

    // The ring.
    bells.take_all();
    sim.press();
    bells.next_on(&format!("{CAM}/doorbell"), BRIDGE_WAIT).await;
    let jpeg = snapshots
        .next_on(&format!("{CAM}/snapshot"), BRIDGE_WAIT)
        .await;
    let ring = push
        .wait("token-a", 0, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ring["title"], "Front Door", "{ring:#}");
    assert_eq!(ring["message"], "Someone is at the door.", "{ring:#}");
    let data = &ring["data"];
    assert_eq!(
        data["image"],
        format!("/api/image_proxy/{SNAPSHOT}"),
        "{ring:#}"
    );
    assert_eq!(data["url"], TAP, "{ring:#}");
    assert_eq!(data["clickAction"], TAP, "{ring:#}");
    assert_eq!(
        data["tag"],
        format!("doorbell-bridge-{DOORBELL}"),
        "{ring:#}"
    );
    assert_eq!(data["actions"][0]["title"], "Open door", "{ring:#}");
    let open = data["actions"][0]["action"].as_str().unwrap().to_owned();
    assert!(
        open.len() > "DOORBELL_BRIDGE_OPEN_".len() && open.starts_with("DOORBELL_BRIDGE_OPEN_"),
        "the button's action names this ring: {open}"
    );
    // The picture the phone fetches is the ring's, through the image proxy.
    let (status, image) = ha.get(&format!("/api/image_proxy/{SNAPSHOT}")).await;
    assert_eq!(status, 200);
    assert_eq!(image, jpeg.payload, "the proxy serves the ring's snapshot");
    assert_ne!(doorbell_state(&ha, &first).await, first);

    // A second press during the cool-down: the automation triggers, its conditions hold, and
    // its run is dropped (one run at a time): nobody is notified (counted below).
    let triggered = format!("{A_LOG} Automation trigger 'None' triggered by state of {DOORBELL}");
    let failed = format!("{A_LOG} Conditions not met");
    let (triggers, failures) = (ha.log_count(&triggered), ha.log_count(&failed));
    sim.press();
    bells.next_on(&format!("{CAM}/doorbell"), BRIDGE_WAIT).await;
    ha.wait_log(&triggered, triggers + 1, WAIT).await;
    assert_eq!(
        ha.log_count(&failed),
        failures,
        "the double press failed a condition"
    );

    // "Open door", then the confirmation: the bridge's lock opens the simulated relay.
    // Home Assistant sends each notification before it starts waiting for its button (a few
    // milliseconds, nothing for a finger): the test answers once the wait is set up.
    let waiting = "Open the door when asked and confirmed: Initialized trigger";
    ha.wait_log(waiting, 1, WAIT).await;
    press_button(&ha, &open).await;
    let confirm = push
        .wait("token-a", 1, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(confirm["message"], "Open the door?", "{confirm:#}");
    assert_eq!(confirm["data"]["tag"], data["tag"], "{confirm:#}");
    let yes = &confirm["data"]["actions"][0];
    assert_eq!(yes["authenticationRequired"], true, "{confirm:#}");
    let yes = yes["action"].as_str().unwrap();
    assert!(yes.starts_with("DOORBELL_BRIDGE_CONFIRM_"), "{yes}");
    assert_eq!(sim.door_opens(), 0, "opened before the confirmation");
    let waiting = "Open the door when asked and confirmed: If at step 2: Initialized trigger";
    ha.wait_log(waiting, 1, WAIT).await;
    press_button(&ha, yes).await;
    let command = door.next_on(&format!("{CAM}/door/set"), WAIT).await;
    assert_eq!(command.text(), "OPEN", "the lock's command");
    assert!(
        sim.wait_for_door_switches(1, BRIDGE_WAIT).await,
        "the relay never switched; the bridge said: {:#?}",
        everything
            .take_all()
            .iter()
            .filter(|m| !m.topic.ends_with("/snapshot"))
            .map(|m| (m.topic.clone(), m.text()))
            .collect::<Vec<_>>()
    );
    assert_eq!(sim.door_opens(), 1);
    let pushes = push.pushes("token-a");
    assert_eq!(pushes.len(), 2, "one ring, one confirmation: {pushes:#?}");

    // The automation in its quiet hours saw the rings and stopped at the quiet-hours condition.
    // Conditions are checked in order: a trace that reached the second (the quiet hours) and
    // failed passed the first (a ring). Both rings (the ring and the double press) stop there.
    let quiet = format!("{QUIET_LOG} Conditions not met");
    let at_quiet_hours = |log: &str| {
        log.lines()
            .filter(|l| l.contains(&quiet) && l.contains("'path': 'condition/1'"))
            .count()
    };
    let deadline = std::time::Instant::now() + WAIT;
    while at_quiet_hours(&ha.log()) < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the quiet automation never stopped at its quiet hours twice"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        push.pushes("token-b").is_empty(),
        "{:?}",
        push.pushes("token-b")
    );
    let quiet = ha.wait_state("automation.ring_quiet", WAIT, |_| true).await;
    assert!(quiet["attributes"]["last_triggered"].is_null(), "{quiet}");

    token.cancel();
    assert!(running.stopped().await);
    drop(ha);
    sim.shutdown().await;
}
