//! Discovery payloads asserted as JSON values: this is what Home Assistant reads.

use serde_json::{Value, json};

use super::*;
use crate::mqtt::topics::default_topics;

fn front_door() -> CameraId {
    CameraId::new("front_door").unwrap()
}

fn announce(info: &DeviceInfo, kinds: &BTreeSet<Kind>) -> Value {
    let id = front_door();
    let cam = CameraAnnouncement {
        id: &id,
        name: "Front Door",
        info,
        kinds,
        door: None,
    };
    serde_json::to_value(camera_config(&default_topics(), &cam)).unwrap()
}

#[test]
fn camera_device_payload() {
    let info = DeviceInfo {
        manufacturer: Some("Acme".into()),
        model: Some("DB-1".into()),
        firmware: Some("1.2.3".into()),
        serial: Some("SN123".into()),
        hardware: None,
        mac: Some("AA:BB:CC:DD:EE:FF".into()),
        configuration_url: Some("http://192.0.2.10/".into()),
    };
    let v = announce(&info, &BTreeSet::new());
    let base = "doorbell-bridge/front_door";
    assert_eq!(
        v["device"],
        json!({
            "identifiers": ["doorbell-bridge_front_door"], "name": "Front Door",
            "connections": [["mac", "aa:bb:cc:dd:ee:ff"]], "manufacturer": "Acme",
            "model": "DB-1", "sw_version": "1.2.3", "serial_number": "SN123",
            "configuration_url": "http://192.0.2.10/", "via_device": "doorbell-bridge"
        })
    );
    assert_eq!(
        v["origin"],
        json!({"name": "doorbell-bridge", "sw_version": env!("CARGO_PKG_VERSION"),
               "support_url": SUPPORT_URL})
    );
    assert_eq!(
        v["availability"],
        json!([{"topic": "doorbell-bridge/status"}, {"topic": format!("{base}/status")}])
    );
    assert_eq!(v["availability_mode"], "all");
    assert_eq!(v["qos"], 1);
    let c = &v["components"];
    assert_eq!(
        c["doorbell"],
        json!({"platform": "event", "unique_id": "doorbell-bridge_front_door_doorbell",
               "name": "Doorbell", "device_class": "doorbell", "event_types": ["ring"],
               "state_topic": format!("{base}/doorbell")})
    );
    assert_eq!(
        c["motion"],
        json!({"platform": "binary_sensor", "unique_id": "doorbell-bridge_front_door_motion",
               "name": "Motion", "device_class": "motion",
               "state_topic": format!("{base}/motion")})
    );
    assert_eq!(c["person"]["device_class"], "occupancy");
    assert_eq!(
        c["snapshot"],
        json!({"platform": "image", "unique_id": "doorbell-bridge_front_door_snapshot",
               "name": "Snapshot", "image_topic": format!("{base}/snapshot"),
               "content_type": "image/jpeg",
               "json_attributes_topic": format!("{base}/snapshot/info")})
    );
    assert_eq!(
        c["camera"],
        json!({"platform": "camera", "unique_id": "doorbell-bridge_front_door_camera",
               "name": null, "topic": format!("{base}/snapshot")})
    );
    assert_eq!(
        c["take_snapshot"],
        json!({"platform": "button", "unique_id": "doorbell-bridge_front_door_take_snapshot",
               "name": "Take snapshot", "command_topic": format!("{base}/snapshot/set"),
               "payload_press": "PRESS"})
    );
    assert_eq!(
        c["last_ring"],
        json!({"platform": "sensor", "unique_id": "doorbell-bridge_front_door_last_ring",
               "name": "Last ring", "device_class": "timestamp",
               "entity_category": "diagnostic", "state_topic": format!("{base}/last_ring")})
    );
    assert_eq!(
        c["status"],
        json!({"platform": "binary_sensor", "unique_id": "doorbell-bridge_front_door_status",
               "name": "Status", "device_class": "connectivity",
               "entity_category": "diagnostic", "state_topic": format!("{base}/status"),
               "payload_on": "online", "payload_off": "offline",
               "availability": [{"topic": "doorbell-bridge/status"}]})
    );
    assert_eq!(c["clock_drift"]["unit_of_measurement"], "s");
    assert_eq!(
        c["event_sources"]["state_topic"],
        format!("{base}/event_sources")
    );
    assert_eq!(c["event_sources"]["entity_category"], "diagnostic");
    let keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "camera",
            "clock_drift",
            "doorbell",
            "event_sources",
            "last_ring",
            "motion",
            "person",
            "snapshot",
            "status",
            "take_snapshot"
        ]
    );
}

#[test]
fn never_sends_object_id_or_empty_device_fields() {
    let text = announce(&DeviceInfo::default(), &BTreeSet::new()).to_string();
    for banned in [
        "object_id",
        "obj_id",
        "\"manufacturer\"",
        "\"connections\"",
        "null,\"model",
    ] {
        assert!(!text.contains(banned), "{banned} in {text}");
    }
    let blank = DeviceInfo {
        model: Some("  ".into()),
        ..DeviceInfo::default()
    };
    assert!(
        announce(&blank, &BTreeSet::new())["device"]
            .get("model")
            .is_none()
    );
}

#[test]
fn shown_kinds_add_binary_sensors() {
    let kinds = BTreeSet::from([Kind::Tamper, Kind::LineCrossing, Kind::Ring, Kind::Other]);
    let v = announce(&DeviceInfo::default(), &kinds);
    let c = &v["components"];
    assert_eq!(c["tamper"]["device_class"], "tamper");
    assert_eq!(c["line_crossing"]["name"], "Line crossing");
    assert_eq!(
        c["line_crossing"]["state_topic"],
        "doorbell-bridge/front_door/line_crossing"
    );
    assert!(
        c.get("ring").is_none(),
        "ring is the event entity, not a sensor"
    );
    assert!(c.get("other").is_none());
}

#[test]
fn every_stateful_kind_has_a_considered_device_class() {
    let table: Vec<(Kind, Option<&str>)> =
        Kind::ALL.iter().map(|&k| (k, device_class(k))).collect();
    assert!(!table.is_empty());
    assert!(table.contains(&(Kind::Motion, Some("motion"))));
    assert!(table.contains(&(Kind::Person, Some("occupancy"))));
    assert!(table.contains(&(Kind::Sound, Some("sound"))));
    assert!(table.contains(&(Kind::Input, None)));
}

#[test]
fn bridge_device_payload() {
    let v = serde_json::to_value(bridge_config(&default_topics())).unwrap();
    assert_eq!(v["device"]["identifiers"], json!(["doorbell-bridge"]));
    assert!(v.get("availability").is_none());
    assert_eq!(
        v["components"]["status"],
        json!({"platform": "binary_sensor", "unique_id": "doorbell-bridge_status",
               "name": "Status", "device_class": "connectivity",
               "entity_category": "diagnostic", "state_topic": "doorbell-bridge/status",
               "payload_on": "online", "payload_off": "offline"})
    );
    assert_eq!(
        v["components"]["dropped_events"]["state_topic"],
        "doorbell-bridge/bridge/dropped"
    );
}

#[test]
fn a_door_is_a_lock_that_opens_and_asks_for_its_code() {
    let id = front_door();
    let info = DeviceInfo::default();
    let kinds = BTreeSet::new();
    let with = |door: Option<&DoorMeta>| {
        let cam = CameraAnnouncement {
            id: &id,
            name: "Front Door",
            info: &info,
            kinds: &kinds,
            door,
        };
        serde_json::to_value(camera_config(&default_topics(), &cam)).unwrap()
    };
    assert!(with(None)["components"].get("lock").is_none());
    let plain = DoorMeta { code_format: None };
    let lock = &with(Some(&plain))["components"]["lock"];
    assert_eq!(
        *lock,
        json!({
            "platform": "lock", "unique_id": "doorbell-bridge_front_door_lock", "name": "Door",
            "command_topic": "doorbell-bridge/front_door/door/set",
            "state_topic": "doorbell-bridge/front_door/lock",
            "payload_open": "OPEN", "state_locked": "LOCKED", "state_open": "OPEN",
            "retain": false
        })
    );
    let coded = DoorMeta {
        code_format: Some(crate::mqtt::CODE_FORMAT_DIGITS),
    };
    let lock = &with(Some(&coded))["components"]["lock"];
    assert_eq!(lock["code_format"], r"^\d+$");
    assert_eq!(
        lock["command_template"],
        r#"{"action":"{{ value }}","code":{{ code | tojson }}}"#
    );
}
