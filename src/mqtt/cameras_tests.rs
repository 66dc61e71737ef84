//! Update -> messages, exactly.

use bytes::Bytes;
use serde_json::{Value, json};

use super::*;
use crate::event::{Items, Operation, SnapshotEvent};
use crate::mqtt::topics::default_topics;

fn id() -> CameraId {
    CameraId::new("front_door").unwrap()
}

fn cameras() -> Cameras {
    let meta = CameraMeta {
        id: id(),
        name: "Front Door".into(),
        door: None,
    };
    Cameras::new(default_topics(), vec![meta], true)
}

fn event(kind: Kind, active: bool, trigger: bool) -> Event {
    Event {
        camera: id(),
        kind,
        active,
        trigger,
        time: "2026-11-29T08:15:00.123Z".parse().unwrap(),
        camera_time: None,
        topic: "tns1:RuleEngine/MyRuleDetector/Visitor".into(),
        source: Items::default(),
        data: Items::default(),
        operation: Some(Operation::Changed),
    }
}

/// (topic, payload as text, retain, class) for compact assertions.
fn summary(msgs: &[Message]) -> Vec<(String, String, bool, Class)> {
    msgs.iter()
        .map(|m| {
            let text = String::from_utf8_lossy(&m.payload).into_owned();
            (m.topic.to_string(), text, m.retain, m.class)
        })
        .collect()
}

fn row(topic: &str, payload: &str, retain: bool, class: Class) -> (String, String, bool, Class) {
    (
        format!("doorbell-bridge/{topic}"),
        payload.into(),
        retain,
        class,
    )
}

#[test]
fn ring_becomes_event_doorbell_and_last_ring() {
    let mut c = cameras();
    let out = c
        .apply(Update::Event(event(Kind::Ring, true, true)))
        .unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(out[0].topic.as_str(), "doorbell-bridge/front_door/event");
    assert_eq!((out[0].retain, out[0].class), (false, Class::Ring));
    let payload: Value = serde_json::from_slice(&out[0].payload).unwrap();
    assert_eq!(payload["kind"], "ring");
    assert_eq!(payload["time"], "2026-11-29T08:15:00.123Z");
    let doorbell: Value = serde_json::from_slice(&out[1].payload).unwrap();
    assert_eq!(
        doorbell,
        json!({"event_type": "ring", "camera": "front_door", "time": "2026-11-29T08:15:00.123Z"})
    );
    assert_eq!(
        summary(&out[2..]),
        [row(
            "front_door/last_ring",
            "2026-11-29T08:15:00.123Z",
            true,
            Class::Latest
        )]
    );
}

#[test]
fn initialized_ring_state_does_not_ring() {
    let mut c = cameras();
    let out = c
        .apply(Update::Event(event(Kind::Ring, true, false)))
        .unwrap();
    assert_eq!(out.len(), 1, "only the event JSON");
    assert_eq!(out[0].topic.as_str(), "doorbell-bridge/front_door/event");
}

#[test]
fn stateful_kinds_publish_state_and_announce_new_ones() {
    let mut c = cameras();
    let out = c
        .apply(Update::Event(event(Kind::Motion, true, true)))
        .unwrap();
    assert_eq!(
        summary(&out[1..]),
        [row("front_door/motion", "ON", true, Class::Latest)],
        "motion is announced from the start"
    );
    let out = c
        .apply(Update::Event(event(Kind::Tamper, true, true)))
        .unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(
        out[2].topic.as_str(),
        "homeassistant/device/doorbell-bridge_front_door/config"
    );
    let config: Value = serde_json::from_slice(&out[2].payload).unwrap();
    assert_eq!(config["components"]["tamper"]["device_class"], "tamper");
    let again = c
        .apply(Update::Event(event(Kind::Tamper, false, false)))
        .unwrap();
    assert_eq!(again.len(), 2, "no second announcement");
}

#[test]
fn offline_turns_shown_states_off() {
    let mut c = cameras();
    c.apply(Update::Event(event(Kind::Motion, true, true)))
        .unwrap();
    c.apply(Update::Event(event(Kind::Person, true, true)))
        .unwrap();
    let out = c
        .apply(Update::Offline {
            camera: id(),
            reason: "timeout".into(),
        })
        .unwrap();
    assert_eq!(
        summary(&out),
        [
            row("front_door/status", "offline", true, Class::Latest),
            row("front_door/motion", "OFF", true, Class::Latest),
            row("front_door/person", "OFF", true, Class::Latest),
        ]
    );
}

#[test]
fn online_with_new_info_reannounces() {
    let mut c = cameras();
    let info = DeviceInfo {
        manufacturer: Some("Acme".into()),
        ..DeviceInfo::default()
    };
    let online = Update::Online {
        camera: id(),
        info: info.clone(),
    };
    let out = c.apply(online.clone()).unwrap();
    assert_eq!(out.len(), 2);
    let config: Value = serde_json::from_slice(&out[1].payload).unwrap();
    assert_eq!(config["device"]["manufacturer"], "Acme");
    assert_eq!(c.apply(online).unwrap().len(), 1, "same info: status only");
}

#[test]
fn snapshot_and_its_info() {
    let mut c = cameras();
    let snap = Snapshot {
        camera: id(),
        jpeg: Bytes::from_static(b"\xff\xd8jpeg"),
        taken: "2026-11-29T08:15:01Z".parse().unwrap(),
        reason: SnapshotReason::Event(Box::new(SnapshotEvent {
            kind: Kind::Ring,
            time: "2026-11-29T08:15:00.123Z".parse().unwrap(),
            camera_time: None,
            topic: "tns1:RuleEngine/MyRuleDetector/Visitor".into(),
        })),
        archived: Some("/footage/front_door/x.jpg".into()),
    };
    let out = c.apply(Update::Snapshot(snap.clone())).unwrap();
    assert_eq!(out[0].payload, snap.jpeg);
    assert!(out[0].retain);
    let info: Value = serde_json::from_slice(&out[1].payload).unwrap();
    assert_eq!(
        info,
        json!({"reason": "event", "kind": "ring", "event_time": "2026-11-29T08:15:00.123Z",
               "topic": "tns1:RuleEngine/MyRuleDetector/Visitor",
               "taken": "2026-11-29T08:15:01.000Z", "archived": "/footage/front_door/x.jpg",
               "size": 6})
    );
    let big = Snapshot {
        jpeg: Bytes::from(vec![0u8; MAX_SNAPSHOT_PUBLISH + 1]),
        ..snap
    };
    assert!(matches!(
        c.apply(Update::Snapshot(big)),
        Err(Skipped::SnapshotTooLarge { .. })
    ));
}

#[test]
fn a_clip_is_published_with_its_archive_and_media_source_paths() {
    let mut c = cameras();
    let clip = crate::event::Clip {
        camera: id(),
        kind: Kind::Ring,
        event_time: "2026-11-29T08:15:00.123Z".parse().unwrap(),
        start: Some("2026-11-29T08:14:56.100Z".parse().unwrap()),
        duration: std::time::Duration::from_millis(12_023),
        path: Some("/media/doorbell-bridge/front_door/2026-11-29/081500.123_ring.mp4".into()),
        relative: Some("front_door/2026-11-29/081500.123_ring.mp4".into()),
        archive: "/media/doorbell-bridge".into(),
        status: crate::event::ClipStatus::Complete,
        gaps: vec![],
    };
    let out = c.apply(Update::Clip(Box::new(clip.clone()))).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].topic.as_str(), "doorbell-bridge/front_door/clip");
    assert!(out[0].retain);
    let info: Value = serde_json::from_slice(&out[0].payload).unwrap();
    assert_eq!(
        info,
        json!({"kind": "ring", "event_time": "2026-11-29T08:15:00.123Z",
               "start": "2026-11-29T08:14:56.100Z", "duration": 12.023, "status": "complete",
               "path": "front_door/2026-11-29/081500.123_ring.mp4",
               "media_source": "media-source://media_source/local/doorbell-bridge/front_door/2026-11-29/081500.123_ring.mp4",
               "gaps": []})
    );
    let elsewhere = crate::event::Clip {
        path: None,
        relative: None,
        start: None,
        archive: "/var/lib/doorbell-bridge/footage".into(),
        status: crate::event::ClipStatus::Missing,
        gaps: vec!["the stream is down".into()],
        ..clip
    };
    let out = c.apply(Update::Clip(Box::new(elsewhere))).unwrap();
    let info: Value = serde_json::from_slice(&out[0].payload).unwrap();
    assert_eq!(info["status"], "missing");
    assert_eq!(info["media_source"], Value::Null);
    assert_eq!(info["gaps"][0], "the stream is down");
    assert_eq!(
        media_source(std::path::Path::new("/var/lib/x.mp4")),
        None,
        "only /media is Home Assistant's media folder"
    );
}

#[test]
fn clock_drift_in_seconds() {
    let mut c = cameras();
    let out = c
        .apply(Update::ClockDrift {
            camera: id(),
            offset_ms: -2500,
        })
        .unwrap();
    assert_eq!(
        summary(&out),
        [row("front_door/clock_drift", "-2.500", true, Class::Latest)]
    );
}

#[test]
fn event_sources_say_ok_or_what_is_down_within_a_sensor_state() {
    let mut c = cameras();
    let mut state = |down: &str| {
        let out = c
            .apply(Update::Sources {
                camera: id(),
                down: down.to_owned(),
            })
            .unwrap();
        assert_eq!(out.len(), 1);
        summary(&out)[0].clone()
    };
    assert_eq!(
        state(""),
        row("front_door/event_sources", "ok", true, Class::Latest)
    );
    let down = "pullpoint: http://cam/onvif: HTTP 500";
    assert_eq!(
        state(down),
        row("front_door/event_sources", down, true, Class::Latest)
    );
    let (_, long, _, _) = state(&"x".repeat(1000));
    assert_eq!(long.chars().count(), MAX_STATE_CHARS);
}

#[test]
fn unknown_cameras_are_skipped() {
    let mut c = cameras();
    let other = CameraId::new("garage").unwrap();
    let err = c
        .apply(Update::ClockDrift {
            camera: other,
            offset_ms: 0,
        })
        .unwrap_err();
    assert!(err.to_string().contains("garage"));
}

#[test]
fn startup_and_shutdown() {
    let mut c = cameras();
    let start = summary(&c.startup(0));
    assert_eq!(start[0], row("status", "online", true, Class::Latest));
    assert!(start.contains(&row(
        "bridge/cameras",
        "[\"front_door\"]",
        true,
        Class::Latest
    )));
    assert!(start.contains(&row("front_door/status", "offline", true, Class::Latest)));
    c.apply(Update::Event(event(Kind::Motion, true, true)))
        .unwrap();
    let end = summary(&c.shutdown());
    assert_eq!(
        end,
        [
            row("front_door/status", "offline", true, Class::Latest),
            row("front_door/motion", "OFF", true, Class::Latest),
            row("status", "offline", true, Class::Latest),
        ]
    );
}

#[test]
fn forgetting_clears_discovery_with_empty_retained_payloads() {
    let c = cameras();
    let out = c.forget(&CameraId::new("old_cam").unwrap());
    assert!(!out.is_empty());
    assert_eq!(
        out[0].topic.as_str(),
        "homeassistant/device/doorbell-bridge_old_cam/config"
    );
    assert!(out.iter().all(|m| m.payload.is_empty() && m.retain));
}

fn door_cameras() -> Cameras {
    let meta = CameraMeta {
        id: id(),
        name: "Front Door".into(),
        door: Some(crate::mqtt::DoorMeta { code_format: None }),
    };
    Cameras::new(default_topics(), vec![meta], true)
}

#[test]
fn every_door_request_is_an_event_and_an_open_shows_on_the_lock() {
    use crate::event::{DoorOutcome, DoorRefusal, DoorReport};
    let mut c = door_cameras();
    assert!(c.has_door(&id()));
    assert_eq!(c.doors().collect::<Vec<_>>(), [&id()]);
    let startup = summary(&c.startup(0));
    assert!(startup.contains(&row("front_door/lock", "LOCKED", true, Class::Latest)));
    let report = |outcome| {
        Update::Door(Box::new(DoorReport {
            camera: id(),
            time: "2026-11-29T08:15:00.123Z".parse().unwrap(),
            outcome,
        }))
    };
    let refused = c
        .apply(report(DoorOutcome::Refused(DoorRefusal::WrongCode)))
        .unwrap();
    assert_eq!(refused.len(), 1, "a refusal leaves the lock alone");
    let (topic, payload, retain, class) = summary(&refused).remove(0);
    assert_eq!(
        (topic.as_str(), retain, class),
        ("doorbell-bridge/front_door/event", false, Class::Event)
    );
    let v: Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(
        (v["kind"].as_str(), v["reason"].as_str()),
        (Some("door"), Some("wrong_code"))
    );
    let opened = summary(&c.apply(report(DoorOutcome::Opened)).unwrap());
    assert_eq!(
        opened[1],
        row("front_door/lock", "OPEN", true, Class::Latest)
    );
    let locked = summary(&c.apply(Update::DoorLocked { camera: id() }).unwrap());
    assert_eq!(
        locked,
        [row("front_door/lock", "LOCKED", true, Class::Latest)]
    );
    assert!(!cameras().has_door(&id()));
}

#[test]
fn a_door_that_reports_itself_drives_the_lock() {
    let mut c = door_cameras();
    let opened = summary(
        &c.apply(Update::Event(event(Kind::Door, true, true)))
            .unwrap(),
    );
    assert!(
        opened.contains(&row("front_door/lock", "OPEN", true, Class::Latest)),
        "{opened:?}"
    );
    assert!(
        opened.contains(&row("front_door/door", "ON", true, Class::Latest)),
        "{opened:?}"
    );
    // The pulse ends while the door is still open: the lock stays open.
    assert!(
        c.apply(Update::DoorLocked { camera: id() })
            .unwrap()
            .is_empty()
    );
    let closed = summary(
        &c.apply(Update::Event(event(Kind::Door, false, false)))
            .unwrap(),
    );
    assert!(
        closed.contains(&row("front_door/lock", "LOCKED", true, Class::Latest)),
        "{closed:?}"
    );
    // Without a relay the door is only a binary sensor.
    let mut plain = cameras();
    let out = summary(
        &plain
            .apply(Update::Event(event(Kind::Door, true, true)))
            .unwrap(),
    );
    assert!(!out.iter().any(|m| m.0.ends_with("/lock")), "{out:?}");
}
