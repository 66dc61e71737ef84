//! The normaliser's state machine with injected time: holds, auto-clear, repeats, Initialized,
//! per-source state, user rules, ring_input, unknown topics, and the pure classify helpers.

use std::path::Path;
use std::time::Duration;

use doorbell_bridge::config::{self, UserRule};
use doorbell_bridge::event::{Event, Items, Kind, Operation};
use doorbell_bridge::normalise::{Normaliser, Origin, classify, kinds_for_topic};
use doorbell_bridge::onvif::Notification;
use doorbell_bridge::rules::{HOLD_RING, NEVER_CLEARED, RING_AUTO_CLEAR};
use tokio::time::Instant;

fn items(pairs: &[(&str, &str)]) -> Items {
    Items(
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
    )
}

fn note(topic: &str, source: &[(&str, &str)], data: &[(&str, &str)]) -> Notification {
    Notification {
        topic: topic.into(),
        raw_topic: topic.into(),
        source: items(source),
        data: items(data),
        operation: Some(Operation::Changed),
        ..Notification::default()
    }
}

fn op(mut n: Notification, op: Option<Operation>) -> Notification {
    n.operation = op;
    n
}

fn visitor(state: &str) -> Notification {
    note(
        "tns1:RuleEngine/MyRuleDetector/Visitor",
        &[("Source", "000")],
        &[("State", state)],
    )
}

fn normaliser(extra: &str) -> Normaliser {
    let toml = format!("[[cameras]]\nid = \"cam\"\nurl = \"192.0.2.1\"\n{extra}\n");
    let cfg = config::from_toml(&toml, Path::new("test.toml")).expect("test config is valid");
    Normaliser::new(&cfg.cameras[0])
}

fn user_rules(toml_rules: &str) -> Vec<UserRule> {
    let toml = format!("[[cameras]]\nid = \"cam\"\nurl = \"192.0.2.1\"\n{toml_rules}\n");
    let cfg = config::from_toml(&toml, Path::new("test.toml")).expect("test config is valid");
    cfg.cameras[0].rules.clone()
}

fn now() -> jiff::Timestamp {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

fn summary(events: &[Event]) -> Vec<(Kind, bool, bool)> {
    events
        .iter()
        .map(|e| (e.kind, e.active, e.trigger))
        .collect()
}

#[test]
fn a_repeated_true_is_not_a_second_press() {
    let mut n = normaliser("");
    let t0 = Instant::now();
    let press = n.handle(&visitor("true"), now(), t0);
    assert_eq!(summary(&press), [(Kind::Ring, true, true)]);
    assert!(n.handle(&visitor("true"), now(), t0).is_empty());
    let release = n.handle(&visitor("false"), now(), t0);
    assert_eq!(summary(&release), [(Kind::Ring, false, false)]);
    assert!(n.handle(&visitor("false"), now(), t0).is_empty());
    let again = n.handle(&visitor("true"), now(), t0);
    assert_eq!(summary(&again), [(Kind::Ring, true, true)]);
}

#[test]
fn initialized_sets_state_but_never_rings() {
    let mut n = normaliser("");
    let t0 = Instant::now();
    let init = n.handle(
        &op(visitor("true"), Some(Operation::Initialized)),
        now(),
        t0,
    );
    assert_eq!(summary(&init), [(Kind::Ring, true, false)]);
    // Still active: a Changed true is a repeat, not a press.
    assert!(n.handle(&visitor("true"), now(), t0).is_empty());
    // Deleted clears without a trigger.
    let gone = n.handle(&op(visitor("true"), Some(Operation::Deleted)), now(), t0);
    assert_eq!(summary(&gone), [(Kind::Ring, false, false)]);
    assert_eq!(
        summary(&n.handle(&visitor("1"), now(), t0)),
        [(Kind::Ring, true, true)]
    );
}

#[test]
fn a_ring_state_clears_itself_if_the_falling_edge_is_lost() {
    let mut n = normaliser("");
    let t0 = Instant::now();
    n.handle(&visitor("true"), now(), t0);
    assert_eq!(n.next_deadline(), Some(t0 + RING_AUTO_CLEAR));
    assert!(n.expire(now(), t0 + RING_AUTO_CLEAR / 2).is_empty());
    let cleared = n.expire(now(), t0 + RING_AUTO_CLEAR);
    assert_eq!(summary(&cleared), [(Kind::Ring, false, false)]);
    assert_eq!(cleared[0].topic, "tns1:RuleEngine/MyRuleDetector/Visitor");
    assert_eq!(cleared[0].camera_time, None);
    assert_eq!(n.next_deadline(), None);
    // The late falling edge is no news; the next press rings.
    assert!(n.handle(&visitor("false"), now(), t0).is_empty());
    assert_eq!(
        summary(&n.handle(&visitor("true"), now(), t0)),
        [(Kind::Ring, true, true)]
    );
}

fn bell() -> Notification {
    note("tns1:VideoSource/Alarm", &[], &[("State", "Ring")])
}

fn at_time(mut n: Notification, utc: &str) -> Notification {
    n.utc_time = Some(utc.into());
    n
}

#[test]
fn pulses_hold_then_fall() {
    let mut n = normaliser("");
    let t0 = Instant::now();
    assert_eq!(
        summary(&n.handle(&bell(), now(), t0)),
        [(Kind::Ring, true, true)]
    );
    assert_eq!(n.next_deadline(), Some(t0 + HOLD_RING));
    let fell = n.expire(now(), t0 + HOLD_RING);
    assert_eq!(summary(&fell), [(Kind::Ring, false, false)]);
    assert_eq!(n.next_deadline(), None);
}

/// A Mobotix T26 sends the bell as a value and never a false: every press is a ring, inside
/// the hold or long after it.
#[test]
fn a_ring_without_a_falling_edge_rings_every_time() {
    let mut n = normaliser("");
    let t0 = Instant::now();
    let press = |utc| {
        at_time(
            note(
                "tns1:VideoSource/Alarm",
                &[("VideoSourceToken", "VideoSource_0")],
                &[("State", "CameraBellButton")],
            ),
            utc,
        )
    };
    assert_eq!(
        summary(&n.handle(&press("2025-05-02T10:00:00Z"), now(), t0)),
        [(Kind::Ring, true, true)]
    );
    // A second press 2 s later, while the first one's hold still runs.
    let t1 = t0 + Duration::from_secs(2);
    assert_eq!(
        summary(&n.handle(&press("2025-05-02T10:00:02Z"), now(), t1)),
        [(Kind::Ring, true, true)]
    );
    assert_eq!(n.next_deadline(), Some(t1 + HOLD_RING));
    // And one 36 s later, after the hold fell.
    assert_eq!(
        summary(&n.expire(now(), t1 + HOLD_RING)),
        [(Kind::Ring, false, false)]
    );
    let t2 = t0 + Duration::from_secs(36);
    assert_eq!(
        summary(&n.handle(&press("2025-05-02T10:00:36Z"), now(), t2)),
        [(Kind::Ring, true, true)]
    );
    // Without UtcTime every message is new too.
    assert_eq!(
        summary(&n.handle(&bell(), now(), t2)),
        [(Kind::Ring, true, true)]
    );
}

/// The same message delivered again (same topic, source and UtcTime, as after a resubscribe)
/// is not a second press, even after the normaliser forgot its state.
#[test]
fn a_redelivered_pulse_is_not_a_second_ring() {
    let mut n = normaliser("");
    let t0 = Instant::now();
    let press = at_time(bell(), "2025-05-02T10:00:00Z");
    assert_eq!(
        summary(&n.handle(&press, now(), t0)),
        [(Kind::Ring, true, true)]
    );
    assert!(
        n.handle(&press, now(), t0 + Duration::from_secs(1))
            .is_empty()
    );
    n.reset();
    assert!(
        n.handle(&press, now(), t0 + Duration::from_secs(2))
            .is_empty()
    );
    // Initialized is never a press, whatever its time.
    let init = op(
        at_time(bell(), "2025-05-02T10:00:03Z"),
        Some(Operation::Initialized),
    );
    assert_eq!(
        summary(&n.handle(&init, now(), t0 + Duration::from_secs(3))),
        [(Kind::Ring, false, false)]
    );
}

/// Line crossing carries only an `ObjectId`: each Changed message is one crossing, whether the
/// object is new or the same one crossing again.
#[test]
fn every_line_crossing_is_an_occurrence() {
    let mut n = normaliser("");
    let t0 = Instant::now();
    let crossed = |id: &str, utc| {
        let mut m = at_time(
            note(
                "tns1:RuleEngine/LineDetector/Crossed",
                &[("VideoSourceConfigurationToken", "1")],
                &[("ObjectId", id)],
            ),
            utc,
        );
        m.key = items(&[]);
        m
    };
    let mut triggers = 0;
    for (i, (id, utc)) in [
        ("1", "2025-05-02T10:00:00Z"),
        ("2", "2025-05-02T10:00:01Z"),
        ("1", "2025-05-02T10:00:02Z"),
    ]
    .into_iter()
    .enumerate()
    {
        let events = n.handle(&crossed(id, utc), now(), t0 + Duration::from_secs(i as u64));
        assert_eq!(
            summary(&events),
            [(Kind::LineCrossing, true, true)],
            "{id} {utc}"
        );
        triggers += 1;
    }
    assert_eq!(triggers, 3);
    // Ajax sends ClassTypes; a Tapo IsLineCross true repeats are crossings too.
    let tapo = |utc| {
        at_time(
            note(
                "tns1:RuleEngine/PeopleDetector/LineCross",
                &[],
                &[("IsLineCross", "true")],
            ),
            utc,
        )
    };
    let t1 = t0 + Duration::from_secs(10);
    assert_eq!(
        summary(&n.handle(&tapo("2025-05-02T10:00:10Z"), now(), t1)),
        [(Kind::LineCrossing, true, true)]
    );
    assert_eq!(
        summary(&n.handle(&tapo("2025-05-02T10:00:11Z"), now(), t1)),
        [(Kind::LineCrossing, true, true)]
    );
}

/// `PropertyOperation="Deleted"` with no Data: the rule instance is gone, so its state
/// clears (OFF, no trigger) under its own kind, not as `other`.
#[test]
fn a_deleted_property_clears_its_state() {
    let mut n = normaliser("");
    let t0 = Instant::now();
    let field = |data: &[(&str, &str)], key: &[(&str, &str)]| {
        let mut m = note(
            "tns1:RuleEngine/FieldDetector/ObjectsInside",
            &[("VideoSourceConfigurationToken", "VideoSourceToken")],
            data,
        );
        m.key = items(key);
        m
    };
    n.handle(
        &field(&[("IsInside", "true")], &[("ObjectId", "7")]),
        now(),
        t0,
    );
    n.handle(
        &field(&[("IsInside", "true")], &[("ObjectId", "8")]),
        now(),
        t0,
    );
    let deleted = op(field(&[], &[]), Some(Operation::Deleted));
    assert_eq!(
        summary(&n.handle(&deleted, now(), t0)),
        [(Kind::Intrusion, false, false)]
    );
    assert_eq!(n.next_deadline(), None);
    assert_eq!(
        n.unknown_count(),
        0,
        "a Deleted message of a known rule is not unknown"
    );
}

/// A Deleted message never rings, and never claims kinds of rules named by an item it lacks.
#[test]
fn a_deleted_message_never_rings() {
    let mut n = normaliser("");
    let t0 = Instant::now();
    n.handle(&visitor("true"), now(), t0);
    let gone = op(
        note(
            "tns1:RuleEngine/MyRuleDetector/Visitor",
            &[("Source", "000")],
            &[],
        ),
        Some(Operation::Deleted),
    );
    assert_eq!(
        summary(&n.handle(&gone, now(), t0)),
        [(Kind::Ring, false, false)]
    );
    // Deleted again, or for a bell pulse: nothing triggers.
    let bell_gone = op(
        note("tns1:VideoSource/Alarm", &[], &[]),
        Some(Operation::Deleted),
    );
    let events = n.handle(&bell_gone, now(), t0);
    assert!(events.iter().all(|e| !e.trigger && !e.active), "{events:?}");
    // A Tapo-style RuleEngine topic without items is not every Tapo detector at once.
    let tapo_gone = op(
        note("tns1:RuleEngine/PeopleDetector/People", &[], &[]),
        Some(Operation::Deleted),
    );
    let kinds: Vec<Kind> = n
        .handle(&tapo_gone, now(), t0)
        .iter()
        .map(|e| e.kind)
        .collect();
    assert!(
        !kinds.contains(&Kind::Vehicle) && !kinds.contains(&Kind::Animal),
        "{kinds:?}"
    );
}

#[test]
fn holds_and_auto_clears_follow_the_camera_config() {
    let mut n = normaliser(
        "hold = { ring = \"2s\", line_crossing = \"1s\" }\nauto_clear = { person = \"2m\" }",
    );
    let t0 = Instant::now();
    n.handle(&bell(), now(), t0);
    assert_eq!(n.next_deadline(), Some(t0 + Duration::from_secs(2)));
    let line = note(
        "tns1:RuleEngine/LineDetector/Crossed",
        &[("Rule", "MyLineDetectorRule")],
        &[("ObjectId", "7")],
    );
    assert_eq!(
        summary(&n.handle(&line, now(), t0)),
        [(Kind::LineCrossing, true, true)]
    );
    assert_eq!(n.next_deadline(), Some(t0 + Duration::from_secs(1)));
    let both = n.expire(now(), t0 + Duration::from_secs(2));
    assert_eq!(both.len(), 2);
    // Uniview person: built-in 60 s, overridden to 2 min here.
    let person = note(
        "tns1:UserAlarm/IVA/HumanShapeDetect",
        &[("VideoSourceConfigurationToken", "video_source_config1")],
        &[("State", "true")],
    );
    n.handle(&person, now(), t0);
    assert_eq!(n.next_deadline(), Some(t0 + Duration::from_secs(120)));
    let mut plain = normaliser("");
    plain.handle(&person, now(), t0);
    assert_eq!(plain.next_deadline(), Some(t0 + NEVER_CLEARED));
    assert_eq!(
        summary(&plain.expire(now(), t0 + NEVER_CLEARED)),
        [(Kind::Person, false, false)]
    );
}

#[test]
fn two_inputs_do_not_mask_each_other() {
    let mut n = normaliser("");
    let t0 = Instant::now();
    let input = |token: &str, state: &str| {
        note(
            "tns1:Device/Trigger/tnshik:AlarmIn",
            &[("AlarmInToken", token)],
            &[("State", state)],
        )
    };
    assert_eq!(
        summary(&n.handle(&input("AlarmIn_1", "true"), now(), t0)),
        [(Kind::Input, true, true)]
    );
    assert_eq!(
        summary(&n.handle(&input("AlarmIn_2", "true"), now(), t0)),
        [(Kind::Input, true, true)]
    );
    let off = n.handle(&input("AlarmIn_1", "false"), now(), t0);
    assert_eq!(summary(&off), [(Kind::Input, false, false)]);
    assert_eq!(off[0].source.get("AlarmInToken"), Some("AlarmIn_1"));
}

#[test]
fn keys_are_tracked_inside_one_state() {
    let mut n = normaliser("");
    let t0 = Instant::now();
    let inside = |id: &str, v: &str| {
        let mut x = note(
            "tns1:RuleEngine/FieldDetector/ObjectsInside",
            &[("Rule", "MyFieldDetector1")],
            &[("IsInside", v)],
        );
        x.key = items(&[("ObjectId", id)]);
        x
    };
    assert_eq!(
        summary(&n.handle(&inside("1", "true"), now(), t0)),
        [(Kind::Intrusion, true, true)]
    );
    assert!(n.handle(&inside("2", "true"), now(), t0).is_empty());
    assert!(n.handle(&inside("1", "false"), now(), t0).is_empty());
    let last = n.handle(&inside("2", "false"), now(), t0);
    assert_eq!(summary(&last), [(Kind::Intrusion, false, false)]);
    assert_eq!(last[0].source.get("ObjectId"), Some("2"));
}

#[test]
fn reset_forgets_state() {
    let mut n = normaliser("");
    let t0 = Instant::now();
    n.handle(&bell(), now(), t0);
    n.reset();
    assert_eq!(n.next_deadline(), None);
    assert_eq!(
        summary(&n.handle(&bell(), now(), t0)),
        [(Kind::Ring, true, true)]
    );
}

#[test]
fn user_rules_come_first() {
    let rules = "[[cameras.rules]]\ntopic = \"tns1:Device/tnsavg:Logs*\"\nkind = \"ignore\"\n\
                 [[cameras.rules]]\ntopic = \"tns1:Device/tnsaxis:IO/Port\"\nitem = \"port\"\nvalue = \"1\"\nkind = \"ring\"\n\
                 [[cameras.rules]]\ntopic = \"*MyRuleDetector/Visitor\"\nkind = \"other\"";
    let mut n = normaliser(rules);
    let t0 = Instant::now();
    let logs = note("tns1:Device/tnsavg:Logs", &[], &[("Entry", "x")]);
    assert!(n.handle(&logs, now(), t0).is_empty());
    let port = |p: &str| {
        note(
            "tns1:Device/tnsaxis:IO/Port",
            &[("port", p)],
            &[("state", "1")],
        )
    };
    assert_eq!(
        summary(&n.handle(&port("1"), now(), t0)),
        [(Kind::Ring, true, true)]
    );
    assert_eq!(
        summary(&n.handle(&port("2"), now(), t0)),
        [(Kind::Input, true, true)]
    );
    assert_eq!(
        summary(&n.handle(&visitor("true"), now(), t0)),
        [(Kind::Other, true, true)]
    );
    assert_eq!(n.unknown_count(), 0);
}

#[test]
fn ring_input_turns_a_digital_input_into_the_bell() {
    let input = note(
        "tns1:Device/Trigger/DigitalInput",
        &[("InputToken", "DIGIT_INPUT_000")],
        &[("LogicalState", "true")],
    );
    let got = classify(&input, None, &[], Some("digit_input_000"));
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].kind, got[0].active, got[0].origin),
        (Kind::Ring, Some(true), Origin::RingInput)
    );
    let other = classify(&input, None, &[], Some("DIGIT_INPUT_001"));
    assert_eq!(other[0].kind, Kind::Input);
    // Only inputs: a motion source that happens to carry the same token stays motion.
    let motion = note(
        "tns1:VideoSource/MotionAlarm",
        &[("Source", "1")],
        &[("State", "true")],
    );
    assert_eq!(
        classify(&motion, None, &[], Some("1"))[0].kind,
        Kind::Motion
    );
    let mut n = normaliser("ring_input = \"0\"");
    let port = note(
        "tns1:Device/tnsaxis:IO/Port",
        &[("port", "0")],
        &[("state", "1")],
    );
    assert_eq!(
        summary(&n.handle(&port, now(), Instant::now())),
        [(Kind::Ring, true, true)]
    );
}

#[test]
fn unknown_topics_become_other_and_are_counted() {
    let mut n = normaliser("");
    let t0 = Instant::now();
    let odd = op(note("tnsx:Strange/Thing", &[], &[("Level", "12")]), None);
    let got = n.handle(&odd, now(), t0);
    assert_eq!(summary(&got), [(Kind::Other, true, true)]);
    assert_eq!(got[0].data.get("Level"), Some("12"));
    let init = op(odd.clone(), Some(Operation::Initialized));
    assert_eq!(
        summary(&n.handle(&init, now(), t0)),
        [(Kind::Other, false, false)]
    );
    assert_eq!(n.unknown_count(), 2);
    // A Mobotix Alarm with a value that is not the bell falls through to other.
    assert_eq!(
        classify(
            &note("tns1:VideoSource/Alarm", &[], &[("State", "Input1")]),
            None,
            &[],
            None
        )[0]
        .origin,
        Origin::Unknown
    );
}

#[test]
fn kinds_for_bare_topics() {
    let k = |topic: &str, items: &[&str]| kinds_for_topic(topic, items, None, &[], None);
    assert_eq!(
        k("tns1:RuleEngine/MyRuleDetector/Visitor", &[]),
        [Kind::Ring]
    );
    assert_eq!(
        k("tns1:RuleEngine/CellMotionDetector/Motion", &[]),
        [Kind::Motion]
    );
    assert_eq!(
        k("tns1:RuleEngine/PeopleDetector/People", &["IsPeople"]),
        [Kind::Person]
    );
    assert_eq!(
        k("tns1:RuleEngine/ObjectDetection/Object", &[]),
        [Kind::Person, Kind::Vehicle, Kind::Animal]
    );
    assert_eq!(k("tnsx:Nobody/Knows", &[]), [Kind::Other]);
    let port = "tns1:Device/tnsaxis:IO/Port";
    assert_eq!(
        kinds_for_topic(port, &[], Some("I8116-E"), &[], None),
        [Kind::Ring, Kind::Input]
    );
    assert_eq!(kinds_for_topic(port, &[], None, &[], None), [Kind::Input]);
    let alarm = "tns1:Device/Trigger/tnshik:AlarmIn";
    assert_eq!(
        kinds_for_topic(alarm, &[], None, &[], Some("AlarmIn_1")),
        [Kind::Ring, Kind::Input]
    );
    let ignore = user_rules("[[cameras.rules]]\ntopic = \"tns1:Monitoring/*\"\nkind = \"ignore\"");
    assert!(kinds_for_topic("tns1:Monitoring/ProcessorUsage", &[], None, &ignore, None).is_empty());
}

/// Every topic in Home Assistant's parser table (reference §4) is known, with a typical item.
#[test]
fn home_assistant_topics_are_all_known() {
    let table: &[(&str, &str, &str)] = &[
        ("tns1:VideoSource/MotionAlarm", "State", "true"),
        ("tns1:Device/Trigger/tnshik:AlarmIn", "State", "true"),
        (
            "tns1:VideoSource/ImageTooBlurry/AnalyticsService",
            "State",
            "true",
        ),
        (
            "tns1:VideoSource/ImageTooDark/ImagingService",
            "State",
            "true",
        ),
        (
            "tns1:VideoSource/ImageTooBright/RecordingService",
            "State",
            "true",
        ),
        (
            "tns1:VideoSource/GlobalSceneChange/ImagingService",
            "State",
            "true",
        ),
        (
            "tns1:AudioAnalytics/Audio/DetectedSound",
            "IsSoundDetected",
            "true",
        ),
        (
            "tns1:RuleEngine/FieldDetector/ObjectsInside",
            "IsInside",
            "true",
        ),
        (
            "tns1:RuleEngine/CellMotionDetector/Motion",
            "IsMotion",
            "true",
        ),
        ("tns1:RuleEngine/MotionRegionDetector/Motion", "State", "1"),
        ("tns1:RuleEngine/TamperDetector/Tamper", "IsTamper", "true"),
        (
            "tns1:Device/HardwareFailure/StorageFailure",
            "Failed",
            "false",
        ),
        (
            "tns1:RuleEngine/MyRuleDetector/DogCatDetect",
            "State",
            "true",
        ),
        (
            "tns1:RuleEngine/MyRuleDetector/VehicleDetect",
            "State",
            "true",
        ),
        (
            "tns1:RuleEngine/MyRuleDetector/PeopleDetect",
            "State",
            "true",
        ),
        ("tns1:RuleEngine/MyRuleDetector/FaceDetect", "State", "true"),
        ("tns1:RuleEngine/MyRuleDetector/Visitor", "State", "true"),
        ("tns1:RuleEngine/MyRuleDetector/Package", "State", "true"),
        ("tns1:RuleEngine/PeopleDetector/People", "IsPeople", "true"),
        (
            "tns1:RuleEngine/TPSmartEventDetector/TPSmartEvent",
            "IsVehicle",
            "true",
        ),
        (
            "tns1:RuleEngine/CellMotionDetector/People",
            "IsPeople",
            "true",
        ),
        (
            "tns1:RuleEngine/CellMotionDetector/TpSmartEvent",
            "IsPet",
            "true",
        ),
        (
            "tns1:RuleEngine/CellMotionDetector/LineCross",
            "IsLineCross",
            "true",
        ),
        (
            "tns1:RuleEngine/CellMotionDetector/Tamper",
            "IsTamper",
            "true",
        ),
        (
            "tns1:RuleEngine/CellMotionDetector/Intrusion",
            "IsIntrusion",
            "true",
        ),
        ("tns1:Device/Trigger/DigitalInput", "LogicalState", "true"),
        ("tns1:Device/Trigger/Relay", "LogicalState", "active"),
        ("tns1:Monitoring/ProcessorUsage", "Value", "0.37"),
        (
            "tns1:Monitoring/OperatingTime/LastReboot",
            "Status",
            "2024-01-01T00:00:00Z",
        ),
        (
            "tns1:Monitoring/OperatingTime/LastReset",
            "Status",
            "2024-01-01T00:00:00Z",
        ),
        (
            "tns1:Monitoring/OperatingTime/LastClockSynchronization",
            "Status",
            "2024-01-01T00:00:00Z",
        ),
        (
            "tns1:Monitoring/Backup/Last",
            "Status",
            "2024-01-01T00:00:00Z",
        ),
        ("tns1:RecordingConfig/JobState", "State", "Active"),
        ("tns1:RuleEngine/LineDetector/Crossed", "ObjectId", "0"),
        ("tns1:RuleEngine/CountAggregation/Counter", "Count", "5"),
        ("tns1:UserAlarm/IVA/HumanShapeDetect", "State", "true"),
        (
            "tns1:RuleEngine/tnsajax:MotionDetector/Detection",
            "Detected",
            "true",
        ),
        (
            "tns1:RuleEngine/ObjectDetection/Object",
            "ClassTypes",
            "Human",
        ),
        (
            "tns1:RuleEngine/tnsajax:LineDetector/Crossing",
            "ClassTypes",
            "Human",
        ),
        ("tns1:MediaControl/VideoEncoderConfiguration", "Config", "x"),
    ];
    assert!(!table.is_empty());
    for (topic, item, value) in table {
        let got = classify(
            &note(topic, &[("Source", "1")], &[(item, value)]),
            None,
            &[],
            None,
        );
        assert!(!got.is_empty(), "{topic}");
        for c in &got {
            assert_ne!(
                c.origin,
                Origin::Unknown,
                "{topic} is not in the rule table"
            );
        }
    }
}
