//! The normaliser's property harness: `Normaliser::handle` and `expire` on generated
//! notifications (topics of the rule table and arbitrary ones, items, values, operations, waits)
//! never panic, never trigger from Initialized or Deleted messages, and trigger only active
//! events. Parsing notifications out of a PullMessages response has its own harness in
//! `tests/hostile.rs` (`pull_messages_survive_anything`).

use std::path::Path;
use std::time::Duration;

use doorbell_bridge::config;
use doorbell_bridge::event::{Items, Operation};
use doorbell_bridge::normalise::Normaliser;
use doorbell_bridge::onvif::Notification;
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

/// One of `table` mostly (what the rules match), sometimes any text (what a camera may send).
fn pick(table: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(table).prop_map(String::from),
        1 => ".{0,24}",
    ]
}

fn message() -> impl Strategy<Value = Notification> {
    (
        pick(TOPICS),
        pick(SOURCES),
        proptest::collection::vec((pick(ITEMS), pick(VALUES)), 0..3),
        operation(),
    )
        .prop_map(|(topic, source, data, operation)| Notification {
            raw_topic: topic.clone(),
            topic,
            source: Items(vec![("port".into(), source)]),
            data: Items(data),
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
                }
            }
            for e in &events {
                prop_assert!(!e.trigger || e.active, "a trigger must be active: {e:?}");
            }
        }
    }
}
