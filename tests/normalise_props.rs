//! Property tests: no Initialized (or Deleted) message ever triggers, whatever the topic,
//! item and value; random and mutated input never panics the parser or the normaliser.

use std::path::Path;
use std::time::Duration;

use doorbell_bridge::config;
use doorbell_bridge::event::{Items, Kind, Operation};
use doorbell_bridge::normalise::Normaliser;
use doorbell_bridge::onvif::Notification;
use doorbell_bridge::onvif::xml::parse_messages;
use proptest::prelude::*;
use tokio::time::Instant;

const TOPICS: &[&str] = &[
    "tns1:RuleEngine/MyRuleDetector/Visitor",
    "tns1:RuleEngine/RingDetector/Detection",
    "tns1:VideoSource/Alarm",
    "tns1:Device/tnsaxis:IO/Port",
    "tns1:Device/Trigger/CallRequest",
    "tns1:Device/Trigger/tnshik:AlarmIn",
    "tns1:Device/Trigger/DigitalInput",
    "tns1:RuleEngine/ObjectDetection/Object",
    "tns1:RuleEngine/LineDetector/Crossed",
    "tns1:RuleEngine/PeopleDetector/People",
    "tnsaxis:CameraApplicationPlatform/ObjectAnalytics/Device1Scenario1",
    "tns1:Monitoring/ProcessorUsage",
    "tnsx:Unknown/Topic",
];
const ITEMS: &[&str] = &[
    "State",
    "Detected",
    "state",
    "LogicalState",
    "ClassTypes",
    "classTypes",
    "active",
    "IsPeople",
    "ObjectId",
    "Value",
];
const VALUES: &[&str] = &[
    "true",
    "false",
    "1",
    "0",
    "TRUE",
    "Ring",
    "CameraBellButton",
    "Human Animal",
    "human",
    "",
    "active",
    "inactive",
    "junk",
];
const SOURCES: &[&str] = &["0", "1", "AlarmIn_1", "000"];

fn normaliser() -> Normaliser {
    let toml = "[[cameras]]\nid = \"cam\"\nurl = \"192.0.2.1\"\nring_input = \"AlarmIn_1\"\n";
    let cfg = config::from_toml(toml, Path::new("test.toml")).unwrap();
    let mut n = Normaliser::new(&cfg.cameras[0]);
    n.set_model(Some("I8116-E"));
    n
}

fn operation() -> impl Strategy<Value = Option<Operation>> {
    prop_oneof![
        Just(None),
        Just(Some(Operation::Initialized)),
        Just(Some(Operation::Changed)),
        Just(Some(Operation::Deleted)),
    ]
}

fn message() -> impl Strategy<Value = Notification> {
    (
        0..TOPICS.len(),
        0..SOURCES.len(),
        proptest::collection::vec((0..ITEMS.len(), 0..VALUES.len()), 0..3),
        operation(),
    )
        .prop_map(|(t, s, data, operation)| Notification {
            topic: TOPICS[t].into(),
            raw_topic: TOPICS[t].into(),
            source: Items(vec![("port".into(), SOURCES[s].into())]),
            data: Items(
                data.into_iter()
                    .map(|(i, v)| (ITEMS[i].into(), VALUES[v].into()))
                    .collect(),
            ),
            operation,
            ..Notification::default()
        })
}

fn now() -> jiff::Timestamp {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

proptest! {
    #[test]
    fn initialized_never_triggers(steps in proptest::collection::vec((message(), 0u64..20), 1..60)) {
        let mut norm = normaliser();
        let mut at = Instant::now();
        for (msg, wait) in steps {
            at += Duration::from_secs(wait);
            for e in norm.expire(now(), at) {
                prop_assert!(!e.trigger && !e.active, "expiry made {e:?}");
            }
            let events = norm.handle(&msg, now(), at);
            if matches!(msg.operation, Some(Operation::Initialized | Operation::Deleted)) {
                for e in &events {
                    prop_assert!(!e.trigger, "{:?} triggered {e:?}", msg.operation);
                    prop_assert!(e.kind != Kind::Ring || !e.trigger);
                }
            }
            for e in &events {
                prop_assert!(!e.trigger || e.active, "a trigger must be active: {e:?}");
            }
        }
    }

    #[test]
    fn random_text_never_panics(text in ".{0,400}") {
        if let Ok(ns) = parse_messages(&text) {
            let mut norm = normaliser();
            for n in &ns {
                norm.handle(n, now(), Instant::now());
            }
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_messages(&text);
    }

    #[test]
    fn random_xml_never_panics(
        topic in "[a-z0-9:/. \\n]{0,40}",
        name in "[A-Za-z:]{0,8}",
        value in ".{0,12}",
        element in "[<>/a-z: =\"]{0,40}",
    ) {
        let xml = format!(
            r#"<e xmlns:w="http://docs.oasis-open.org/wsn/b-2" xmlns:t="http://www.onvif.org/ver10/schema" xmlns:tns1="http://www.onvif.org/ver10/topics"><w:NotificationMessage><w:Topic>{topic}</w:Topic><t:Message PropertyOperation="Changed"><t:Source/><t:Key><t:SimpleItemDescription Name="{name}"/></t:Key><t:Data><t:SimpleItem Name="{name}" Value="{value}"/><t:ElementItem Name="x">{element}</t:ElementItem></t:Data></t:Message></w:NotificationMessage></e>"#,
            value = value.replace(['"', '<', '&'], ""),
        );
        if let Ok(ns) = parse_messages(&xml) {
            let mut norm = normaliser();
            for n in &ns {
                norm.handle(n, now(), Instant::now());
            }
        }
    }

    #[test]
    fn mutated_fixtures_never_panic(
        index in any::<prop::sample::Index>(),
        cuts in proptest::collection::vec((any::<prop::sample::Index>(), 0usize..40, ".{0,10}"), 1..6),
    ) {
        let files = fixtures();
        let mut text = files[index.index(files.len())].clone();
        for (at, len, insert) in cuts {
            let mut start = at.index(text.len().max(1)).min(text.len());
            while !text.is_char_boundary(start) { start -= 1; }
            let mut end = (start + len).min(text.len());
            while !text.is_char_boundary(end) { end -= 1; }
            text.replace_range(start..end, &insert);
        }
        if let Ok(ns) = parse_messages(&text) {
            let mut norm = normaliser();
            let at = Instant::now();
            for n in &ns {
                norm.handle(n, now(), at);
            }
            let _ = norm.expire(now(), at + Duration::from_secs(3600));
        }
    }
}

fn fixtures() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onvif");
    let mut out = Vec::new();
    for vendor in std::fs::read_dir(root).unwrap() {
        for f in std::fs::read_dir(vendor.unwrap().path()).unwrap() {
            out.push(std::fs::read_to_string(f.unwrap().path()).unwrap());
        }
    }
    assert!(!out.is_empty(), "no fixtures");
    out
}
