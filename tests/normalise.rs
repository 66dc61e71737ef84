//! Device payloads -> expected events. Every file under tests/fixtures/onvif/<vendor>/ is a
//! complete PullMessagesResponse composed from the public facts in
//! /work/shared/reference/onvif-events.md, in its vendor's envelope style; each must appear in
//! [`CASES`] with the events it produces on a fresh camera.

use std::path::Path;

use doorbell_bridge::config;
use doorbell_bridge::event::{Event, Kind, Operation};
use doorbell_bridge::normalise::Normaliser;
use doorbell_bridge::onvif::xml::parse_messages;

use Kind::*;

/// One expected event: kind, active, trigger, canonical topic, items that must be present in
/// its source or data.
type Want = (
    Kind,
    bool,
    bool,
    &'static str,
    &'static [(&'static str, &'static str)],
);

struct Case {
    file: &'static str,
    xml: &'static str,
    /// Device model from GetDeviceInformation.
    model: Option<&'static str>,
    /// Extra camera config lines (user rules, ring_input).
    config: &'static str,
    want: &'static [Want],
}

macro_rules! case {
    ($file:literal, $model:expr, $config:expr, [$($want:expr),* $(,)?]) => {
        Case {
            file: $file,
            xml: include_str!(concat!("fixtures/onvif/", $file)),
            model: $model,
            config: $config,
            want: &[$($want),*],
        }
    };
}

const VISITOR: &str = "tns1:RuleEngine/MyRuleDetector/Visitor";
const CELL_MOTION: &str = "tns1:RuleEngine/CellMotionDetector/Motion";
const MOTION_ALARM: &str = "tns1:VideoSource/MotionAlarm";
const LINE: &str = "tns1:RuleEngine/LineDetector/Crossed";
const AXIS_PORT: &str = "tns1:Device/tnsaxis:IO/Port";
const AXIS_OA: &str = "tnsaxis:CameraApplicationPlatform/ObjectAnalytics/Device1Scenario1";
const AJAX_OBJECT: &str = "tns1:RuleEngine/ObjectDetection/Object";
const AJAX_ELEMENT: &str = "tns1:RuleEngine/tnsajax:ObjectDetector/Detection";
const DIGITAL_INPUT: &str = "tns1:Device/Trigger/DigitalInput";
const USER_RULE_OTHER: &str = "[[cameras.rules]]\ntopic = \"tns1:IVA/*\"\nkind = \"other\"";
const I8116: Option<&str> = Some("AXIS I8116-E Network Video Intercom");

#[rustfmt::skip]
const CASES: &[Case] = &[
    // Reolink Video Doorbell: the press (JimStar/reolink_cctv#49), 2024 fw echoing headers.
    case!("reolink/doorbell_visitor.xml", None, "", [
        (Ring, true, true, VISITOR, &[("Source", "000"), ("State", "true")]),
    ]),
    // Several messages in one response, all processed (cam2mqtt commit 5e39206).
    case!("reolink/multi_message.xml", None, "", [
        (Person, true, true, "tns1:RuleEngine/MyRuleDetector/PeopleDetect", &[("Source", "VideoSourceToken")]),
        (Motion, true, true, CELL_MOTION, &[("Rule", "000"), ("IsMotion", "true")]),
        (Ring, true, true, VISITOR, &[("State", "true")]),
    ]),
    // Package seen Initialized true: state, not news (onvif-parsers tests/test_reolink.py).
    case!("reolink/package_initialized.xml", None, "", [
        (Package, true, false, "tns1:RuleEngine/MyRuleDetector/Package", &[("State", "true")]),
        (Ring, false, false, VISITOR, &[]),
        (Person, false, false, "tns1:RuleEngine/MyRuleDetector/PeopleDetect", &[]),
    ]),
    // Tapo: classified by the Is<Class> item, whatever the sub-tree.
    case!("tapo/people.xml", None, "", [
        (Person, true, true, "tns1:RuleEngine/PeopleDetector/People", &[("Rule", "MyPeopleDetectorRule"), ("IsPeople", "true")]),
    ]),
    case!("tapo/vehicle_pet.xml", None, "", [
        (Vehicle, true, true, "tns1:RuleEngine/TPSmartEventDetector/TPSmartEvent", &[("IsVehicle", "true")]),
        (Animal, true, true, "tns1:RuleEngine/CellMotionDetector/TpSmartEvent", &[("IsPet", "true")]),
    ]),
    // C250 LineCross Initialized true (home-assistant/core#127991).
    case!("tapo/linecross_initialized.xml", None, "", [
        (LineCrossing, true, false, "tns1:RuleEngine/CellMotionDetector/LineCross", &[("IsLineCross", "true")]),
        (Tamper, false, false, "tns1:RuleEngine/CellMotionDetector/Tamper", &[]),
    ]),
    // Hikvision: two motion topics, two states.
    case!("hikvision/motion.xml", None, "", [
        (Motion, true, true, MOTION_ALARM, &[("Source", "VideoSource_1")]),
        (Motion, true, true, CELL_MOTION, &[("Rule", "MyMotionDetectorRule")]),
    ]),
    case!("hikvision/alarmin.xml", None, "", [
        (Input, true, true, "tns1:Device/Trigger/tnshik:AlarmIn", &[("AlarmInToken", "AlarmIn_1")]),
    ]),
    // The same wired input configured as the bell.
    case!("hikvision/alarmin.xml", None, "ring_input = \"AlarmIn_1\"", [
        (Ring, true, true, "tns1:Device/Trigger/tnshik:AlarmIn", &[("AlarmInToken", "AlarmIn_1")]),
    ]),
    // DS-HD1 line crossing: ObjectId only, a pulse (home-assistant/core#36111).
    case!("hikvision/linedetector.xml", None, "", [
        (LineCrossing, true, true, LINE, &[("ObjectId", "3"), ("Rule", "MyLineDetector1")]),
    ]),
    // Field detection turned on, then the rule deleted (PropertyOperation="Deleted", empty
    // Data): the intrusion clears under its own kind, never as `other`.
    case!("hikvision/field_deleted.xml", None, "", [
        (Intrusion, true, true, "tns1:RuleEngine/FieldDetector/ObjectsInside", &[("ObjectId", "5"), ("IsInside", "true")]),
        (Intrusion, false, false, "tns1:RuleEngine/FieldDetector/ObjectsInside", &[("Rule", "MyFieldDetector1")]),
    ]),
    // Diagnostics, including the 0000-00-00 time: known, kind other, never a trigger.
    case!("hikvision/diagnostics_zero_time.xml", None, "", [
        (Other, false, false, "tns1:Monitoring/OperatingTime/LastReboot", &[("Status", "0000-00-00T00:00:00Z")]),
        (Other, false, false, "tns1:Monitoring/ProcessorUsage", &[("Token", "Processor_Usage"), ("Value", "37")]),
        (Other, true, true, "tns1:VideoSource/ImageTooDark/ImagingService", &[("State", "true")]),
    ]),
    // Axis I8116-E: port 0 is the call button (HA axis DOORBELL_CONFIG); port 1 an input.
    case!("axis/io_port_i8116.xml", I8116, "", [
        (Ring, true, true, AXIS_PORT, &[("port", "0"), ("state", "1")]),
        (Input, true, true, AXIS_PORT, &[("port", "1")]),
    ]),
    // Before the model is known (or on another model) both are inputs.
    case!("axis/io_port_i8116.xml", Some("AXIS P3245-LV"), "", [
        (Input, true, true, AXIS_PORT, &[("port", "0")]),
        (Input, true, true, AXIS_PORT, &[("port", "1")]),
    ]),
    case!("axis/vmd4.xml", None, "", [
        (Motion, true, true, "tnsaxis:CameraApplicationPlatform/VMD/Camera1ProfileANY", &[("active", "1")]),
    ]),
    case!("axis/object_analytics.xml", None, "", [
        (Person, true, true, AXIS_OA, &[("classTypes", "human"), ("objectId", "42")]),
        (Vehicle, false, false, AXIS_OA, &[]),
        (Animal, false, false, AXIS_OA, &[]),
    ]),
    // Mobotix T26: the bell is a value (koush/scrypted onvif-api.ts).
    case!("mobotix/bell.xml", None, "", [
        (Ring, true, true, "tns1:VideoSource/Alarm", &[("State", "CameraBellButton")]),
    ]),
    // Ajax: ring, class lists, ElementItems (prefix declared on the envelope only).
    case!("ajax/ring.xml", None, "", [
        (Ring, true, true, "tns1:RuleEngine/RingDetector/Detection", &[("VideoSourceToken", "9c756e1c82d0-0")]),
    ]),
    case!("ajax/object_classes.xml", None, "", [
        (Person, true, true, AJAX_OBJECT, &[("ClassTypes", "Human Animal")]),
        (Animal, true, true, AJAX_OBJECT, &[]),
        (Vehicle, false, false, AJAX_OBJECT, &[]),
    ]),
    case!("ajax/element_items.xml", None, "", [
        (Person, true, true, AJAX_ELEMENT, &[("Rule", "9c756e1c82d0-0-dk2t3b"), ("Objects/Objects/Human", "true")]),
        (Animal, false, false, AJAX_ELEMENT, &[]),
        (Vehicle, false, false, AJAX_ELEMENT, &[]),
        (LineCrossing, true, true, "tns1:RuleEngine/tnsajax:LineDetector/Crossing", &[("Rule", "9c756e1c82d0-0-dk2t3c"), ("LineCrossing/LineCrossing/Line@points", "0.77 0.7 0.48 0.037")]),
    ]),
    // Hanwha: SimpleItemDescription inside Key, unset clock with milliseconds.
    case!("hanwha/motion_tamper.xml", None, "", [
        (Motion, true, true, "tns1:VideoAnalytics/tnssamsung:MotionDetection", &[("ROIID", "1"), ("State", "true")]),
        (Tamper, false, false, "tns1:VideoAnalytics/tnssamsung:Tampering", &[]),
    ]),
    case!("hanwha/call_request.xml", None, "", [
        (Ring, true, true, "tns1:Device/Trigger/CallRequest", &[("SourceToken", "CallRequest-1")]),
    ]),
    case!("hanwha/digital_input.xml", None, "", [
        (Input, true, true, DIGITAL_INPUT, &[("InputToken", "DI-1"), ("LogicalState", "true")]),
    ]),
    // Uniview person (never cleared by the device: auto-clear, tested elsewhere).
    case!("uniview/human_shape.xml", None, "", [
        (Person, true, true, "tns1:UserAlarm/IVA/HumanShapeDetect", &[("VideoSourceConfigurationToken", "video_source_config1")]),
    ]),
    // HA's fixture from home-assistant/core#35916: ObjectId=0 sent as Initialized.
    case!("uniview/line_initialized.xml", None, "", [
        (LineCrossing, false, false, LINE, &[("ObjectId", "0")]),
    ]),
    // Imou: two roots glued together (home-assistant/core#140575).
    case!("imou/malformed_input.xml", None, "", [
        (Input, false, false, DIGITAL_INPUT, &[("InputToken", "00000")]),
        (Tamper, false, false, "tns1:VideoSource/GlobalSceneChange/ImagingService", &[("Source", "VideoSource000")]),
    ]),
    // SV3C: VideoSoure.
    case!("sv3c/videosoure.xml", None, "", [
        (Motion, true, true, MOTION_ALARM, &[("State", "true")]),
    ]),
    // Bosch IVA: user rule name as the last segment (home-assistant/core#166418).
    case!("bosch/iva_entering_field.xml", None, "", [
        (Intrusion, true, true, "tns1:IVA/EnteringField/Eindringen_in_Feld_1", &[("Source", "1")]),
    ]),
    // ... and a user rule that wants it as plain "other".
    case!("bosch/iva_entering_field.xml", None, USER_RULE_OTHER, [
        (Other, true, true, "tns1:IVA/EnteringField/Eindringen_in_Feld_1", &[("State", "true")]),
    ]),
    case!("foscam/motion.xml", None, "", [
        (Motion, true, true, "tns1:Device/Trigger/MotionDetector", &[("State", "true")]),
    ]),
    // 2N intercom: input, relay, motion; no press on ONVIF (koush/scrypted#1655).
    case!("2n/input_relay_motion.xml", None, "", [
        (Input, true, true, DIGITAL_INPUT, &[("InputToken", "1")]),
        (Relay, true, true, "tns1:Device/Trigger/Relay", &[("RelayLogicalState", "active")]),
        (Motion, false, false, MOTION_ALARM, &[("Source", "VideoSource0")]),
    ]),
    // Unknown namespace declared on the Topic itself; default namespace; whitespace; `//.`.
    case!("generic/unknown_topic.xml", None, "", [
        (Other, true, true, "tnsacme:Doorbell/Chime", &[("Button", "front"), ("Pressed", "true")]),
        (Motion, true, true, CELL_MOTION, &[("VideoSource", "V_SRC_000"), ("State", "true")]),
    ]),
    // tt:Message without the wsnt:Message wrapper, odd prefixes, Simple dialect.
    case!("generic/bare_message.xml", None, "", [
        (Motion, true, true, MOTION_ALARM, &[("State", "TRUE")]),
    ]),
];

fn normaliser(extra: &str, model: Option<&str>) -> Normaliser {
    let toml = format!("[[cameras]]\nid = \"cam\"\nurl = \"192.0.2.1\"\n{extra}\n");
    let cfg = config::from_toml(&toml, Path::new("test.toml")).expect("test config is valid");
    let mut n = Normaliser::new(&cfg.cameras[0]);
    n.set_model(model);
    n
}

fn run(case: &Case) -> Vec<Event> {
    let notifications = parse_messages(case.xml).unwrap_or_else(|e| panic!("{}: {e}", case.file));
    assert!(!notifications.is_empty(), "{}: no notifications", case.file);
    let mut norm = normaliser(case.config, case.model);
    let now: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
    let at = tokio::time::Instant::now();
    let mut events = Vec::new();
    for n in &notifications {
        let made = norm.handle(n, now, at);
        for e in &made {
            assert_eq!(
                e.camera_time, n.utc_time,
                "{}: camera time kept as sent",
                case.file
            );
            assert_eq!(e.time, now);
        }
        events.extend(made);
    }
    events
}

fn has_item(e: &Event, name: &str, value: &str) -> bool {
    [&e.source, &e.data]
        .iter()
        .any(|items| items.0.iter().any(|(n, v)| n == name && v == value))
}

#[test]
fn fixtures_make_their_events() {
    assert!(CASES.len() >= 20, "the fixture table is (nearly) empty");
    for case in CASES {
        let events = run(case);
        let got: Vec<_> = events
            .iter()
            .map(|e| (e.kind, e.active, e.trigger, e.topic.as_str()))
            .collect();
        let want: Vec<_> = case.want.iter().map(|w| (w.0, w.1, w.2, w.3)).collect();
        assert_eq!(got, want, "{} (model {:?})", case.file, case.model);
        for (e, w) in events.iter().zip(case.want) {
            for (name, value) in w.4 {
                assert!(
                    has_item(e, name, value),
                    "{}: {e:?} lacks {name}={value}",
                    case.file
                );
            }
        }
    }
}

#[test]
fn every_fixture_file_is_in_the_table() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onvif");
    let mut files = Vec::new();
    for vendor in std::fs::read_dir(&root).unwrap() {
        let vendor = vendor.unwrap().path();
        for f in std::fs::read_dir(&vendor).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "xml") {
                files.push(
                    f.strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    assert!(files.len() >= 20, "fixtures missing: {files:?}");
    let vendors: std::collections::BTreeSet<_> =
        files.iter().filter_map(|f| f.split('/').next()).collect();
    assert!(vendors.len() >= 10, "too few vendors: {vendors:?}");
    for f in &files {
        assert!(CASES.iter().any(|c| c.file == f), "{f} has no row in CASES");
    }
}

#[test]
fn camera_times_are_kept_as_sent() {
    let case = CASES
        .iter()
        .find(|c| c.file == "hikvision/diagnostics_zero_time.xml")
        .unwrap();
    assert_eq!(
        run(case)[0].camera_time.as_deref(),
        Some("0000-00-00T00:00:00Z")
    );
    let ajax = CASES.iter().find(|c| c.file == "ajax/ring.xml").unwrap();
    assert_eq!(
        run(ajax)[0].camera_time.as_deref(),
        Some("2026-03-08T16:19:05.928881")
    );
}

#[test]
fn element_items_are_published_as_items_not_xml() {
    let case = CASES
        .iter()
        .find(|c| c.file == "ajax/element_items.xml")
        .unwrap();
    let person = run(case).into_iter().find(|e| e.kind == Person).unwrap();
    let json = serde_json::to_value(&person).unwrap();
    let data = json["data"].as_object().unwrap();
    assert_eq!(data["Objects/Objects/Human"], "true");
    assert_eq!(data["Objects/Objects/Vehicle"], "false");
    assert!(
        data.values().all(|v| !v.as_str().unwrap().contains('<')),
        "XML in the event data: {data:?}"
    );
}

#[test]
fn replaying_a_fixture_is_not_news() {
    // The same response twice (a camera resending its state) triggers nothing the second time.
    // A response that ends in a deletion leaves nothing to resend: replaying it is a new on.
    let mut replayed = 0;
    for case in CASES {
        let notifications = parse_messages(case.xml).unwrap();
        if notifications
            .iter()
            .any(|n| n.operation == Some(Operation::Deleted))
        {
            continue;
        }
        replayed += 1;
        let mut norm = normaliser(case.config, case.model);
        let now: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let at = tokio::time::Instant::now();
        for n in &notifications {
            norm.handle(n, now, at);
        }
        for n in &notifications {
            let again = norm.handle(n, now, at);
            assert!(
                again.iter().all(|e| !e.trigger || e.kind == Other),
                "{}: repeat triggered {again:?}",
                case.file
            );
        }
    }
    assert!(replayed > 20, "only {replayed} fixtures replayed");
}
