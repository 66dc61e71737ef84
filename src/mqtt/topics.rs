//! Every MQTT topic the bridge publishes to or subscribes to is built here, and only here.
//!
//! Like zigbee2mqtt's single publish choke point, [`Topic`] can only be made by this module and
//! never holds a wildcard (`+`, `#`), a NUL or an empty level. Dynamic parts (camera ids,
//! device ids) go through [`level`] or [`discovery_id`], so an id can never add a level or a
//! wildcard. The layout is documented in `docs/mqtt.md`; the tests below pin it.

use std::fmt;

use crate::config::MqttConfig;
use crate::event::{CameraId, Kind};

pub use crate::limits::MAX_TOPIC_LEN;

/// A topic we may publish to: no wildcards, no empty levels, no NUL.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Topic(String);

/// A subscription filter (the only place wildcards are allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter(String);

/// Why a text is not a usable topic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{topic:?} is not a usable MQTT topic: {why}; use levels without +, # or empty parts, such as doorbell-bridge"
)]
pub struct TopicError {
    /// The rejected text.
    pub topic: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl Topic {
    /// Checks `text` as a publish topic.
    pub fn checked(text: &str) -> Result<Topic, TopicError> {
        let why = crate::limits::topic_problem(text, MAX_TOPIC_LEN);
        match why {
            None => Ok(Topic(text.to_owned())),
            Some(why) => Err(TopicError {
                topic: text.to_owned(),
                why,
            }),
        }
    }

    /// The topic as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// This topic with more levels, each made safe by [`level`].
    fn join(&self, levels: &[&str]) -> Topic {
        let mut s = self.0.clone();
        for l in levels {
            s.push('/');
            s.push_str(&level(l));
        }
        Topic(s)
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Filter {
    /// The filter as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Makes `text` one safe topic level: `/`, `+`, `#`, NUL and control characters become `_`;
/// an empty text becomes `_`.
pub fn level(text: &str) -> String {
    let s: String = text
        .chars()
        .map(|c| {
            if matches!(c, '/' | '+' | '#') || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if s.is_empty() { "_".to_owned() } else { s }
}

/// Makes `text` a Home Assistant discovery id: only `[A-Za-z0-9_-]`, others become `_`.
pub fn discovery_id(text: &str) -> String {
    let s: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "_".to_owned() } else { s }
}

/// The topic layout for one bridge: base topic, discovery prefix and Home Assistant's status.
#[derive(Debug, Clone)]
pub struct Topics {
    base: Topic,
    discovery: Topic,
    ha_status: Topic,
    bridge_id: String,
}

impl Topics {
    /// Checks the configured prefixes (config validation already did; this is the choke point).
    pub fn new(config: &MqttConfig) -> Result<Topics, TopicError> {
        Ok(Topics {
            base: Topic::checked(&config.base_topic)?,
            discovery: Topic::checked(&config.discovery_prefix)?,
            ha_status: Topic::checked(&config.ha_status_topic)?,
            bridge_id: discovery_id(&config.base_topic),
        })
    }

    /// `<base>/status`: bridge availability (`online`, Last Will `offline`).
    pub fn bridge_status(&self) -> Topic {
        self.base.join(&["status"])
    }

    /// `<base>/bridge/cameras`: retained JSON list of the camera ids we announced.
    pub fn bridge_cameras(&self) -> Topic {
        self.base.join(&["bridge", "cameras"])
    }

    /// `<base>/bridge/dropped`: retained count of events dropped on queue overflow.
    pub fn bridge_dropped(&self) -> Topic {
        self.base.join(&["bridge", "dropped"])
    }

    /// `<base>/<camera>/status`: camera availability.
    pub fn camera_status(&self, camera: &CameraId) -> Topic {
        self.base.join(&[camera.as_str(), "status"])
    }

    /// `<base>/<camera>/event`: one JSON message per event.
    pub fn event(&self, camera: &CameraId) -> Topic {
        self.base.join(&[camera.as_str(), "event"])
    }

    /// `<base>/<camera>/<kind>`: retained `ON`/`OFF` of a stateful kind.
    pub fn state(&self, camera: &CameraId, kind: Kind) -> Topic {
        self.base.join(&[camera.as_str(), kind.as_str()])
    }

    /// `<base>/<camera>/doorbell`: the Home Assistant event entity's topic.
    pub fn doorbell(&self, camera: &CameraId) -> Topic {
        self.base.join(&[camera.as_str(), "doorbell"])
    }

    /// `<base>/<camera>/last_ring`: retained time of the last ring.
    pub fn last_ring(&self, camera: &CameraId) -> Topic {
        self.base.join(&[camera.as_str(), "last_ring"])
    }

    /// `<base>/<camera>/snapshot`: the latest JPEG, raw bytes.
    pub fn snapshot(&self, camera: &CameraId) -> Topic {
        self.base.join(&[camera.as_str(), "snapshot"])
    }

    /// `<base>/<camera>/snapshot/info`: JSON about the latest JPEG.
    pub fn snapshot_info(&self, camera: &CameraId) -> Topic {
        self.base.join(&[camera.as_str(), "snapshot", "info"])
    }

    /// `<base>/<camera>/clip`: retained JSON about the latest event clip.
    pub fn clip(&self, camera: &CameraId) -> Topic {
        self.base.join(&[camera.as_str(), "clip"])
    }

    /// `<base>/<camera>/snapshot/set`: command topic of the "Take snapshot" button.
    pub fn snapshot_set(&self, camera: &CameraId) -> Topic {
        self.base.join(&[camera.as_str(), "snapshot", "set"])
    }

    /// `<base>/<camera>/door/set`: command topic of the door lock (`OPEN`).
    pub fn door_set(&self, camera: &CameraId) -> Topic {
        self.base.join(&[camera.as_str(), "door", "set"])
    }

    /// `<base>/<camera>/lock`: retained state of the door lock (`LOCKED`, `OPEN`).
    pub fn lock(&self, camera: &CameraId) -> Topic {
        self.base.join(&[camera.as_str(), "lock"])
    }

    /// `<base>/<camera>/event_sources`: `ok`, or which event sources are down and why.
    pub fn event_sources(&self, camera: &CameraId) -> Topic {
        self.base.join(&[camera.as_str(), "event_sources"])
    }

    /// `<base>/<camera>/clock_drift`: camera clock minus ours, in seconds.
    pub fn clock_drift(&self, camera: &CameraId) -> Topic {
        self.base.join(&[camera.as_str(), "clock_drift"])
    }

    /// Home Assistant's birth/last-will topic.
    pub fn ha_status(&self) -> &Topic {
        &self.ha_status
    }

    /// `<prefix>/device/<device_id>/config`: device-based discovery.
    pub fn discovery(&self, device_id: &str) -> Topic {
        let id = discovery_id(device_id);
        self.discovery.join(&["device", &id, "config"])
    }

    /// The bridge's own discovery device id (the base topic as a discovery id).
    pub fn bridge_device_id(&self) -> &str {
        &self.bridge_id
    }

    /// A camera's discovery device id: `<bridge id>_<camera id>`.
    pub fn camera_device_id(&self, camera: &CameraId) -> String {
        discovery_id(&format!("{}_{}", self.bridge_id, camera.as_str()))
    }

    /// Everything the bridge subscribes to, on every connect.
    pub fn subscriptions(&self) -> Vec<Filter> {
        vec![
            Filter(self.ha_status.0.clone()),
            Filter(format!("{}/+/snapshot/set", self.base)),
            Filter(self.bridge_cameras().0),
        ]
    }

    /// The door command topics of `cameras` (those with a relay enabled), each by name: a
    /// camera without a relay has no command topic subscribed at all.
    pub fn door_subscriptions<'a>(
        &self,
        cameras: impl IntoIterator<Item = &'a CameraId>,
    ) -> Vec<Filter> {
        cameras
            .into_iter()
            .map(|c| Filter(self.door_set(c).0))
            .collect()
    }

    /// The camera a `door/set` command topic is for, if `topic` is one.
    pub fn parse_door_set(&self, topic: &str) -> Option<CameraId> {
        let rest = topic.strip_prefix(self.base.as_str())?.strip_prefix('/')?;
        let id = rest.strip_suffix("/door/set")?;
        CameraId::new(id).ok()
    }

    /// The camera a `snapshot/set` command topic is for, if `topic` is one.
    pub fn parse_snapshot_set(&self, topic: &str) -> Option<CameraId> {
        let rest = topic.strip_prefix(self.base.as_str())?.strip_prefix('/')?;
        let id = rest.strip_suffix("/snapshot/set")?;
        CameraId::new(id).ok()
    }
}

/// The default layout (`doorbell-bridge`, `homeassistant`), for unit tests.
#[cfg(test)]
pub(crate) fn default_topics() -> Topics {
    let config = crate::config::from_toml("", std::path::Path::new("test.toml"))
        .expect("the empty config is valid");
    Topics::new(&config.mqtt).expect("the default prefixes are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics() -> Topics {
        default_topics()
    }

    fn cam(id: &str) -> CameraId {
        CameraId::new(id).unwrap()
    }

    #[test]
    fn layout_is_the_documented_one() {
        let t = topics();
        let c = cam("front_door");
        let table = [
            (t.bridge_status(), "doorbell-bridge/status"),
            (t.bridge_cameras(), "doorbell-bridge/bridge/cameras"),
            (t.camera_status(&c), "doorbell-bridge/front_door/status"),
            (t.event(&c), "doorbell-bridge/front_door/event"),
            (
                t.state(&c, Kind::Motion),
                "doorbell-bridge/front_door/motion",
            ),
            (t.doorbell(&c), "doorbell-bridge/front_door/doorbell"),
            (t.last_ring(&c), "doorbell-bridge/front_door/last_ring"),
            (t.snapshot(&c), "doorbell-bridge/front_door/snapshot"),
            (t.clip(&c), "doorbell-bridge/front_door/clip"),
            (
                t.snapshot_info(&c),
                "doorbell-bridge/front_door/snapshot/info",
            ),
            (
                t.snapshot_set(&c),
                "doorbell-bridge/front_door/snapshot/set",
            ),
            (
                t.discovery(&t.camera_device_id(&c)),
                "homeassistant/device/doorbell-bridge_front_door/config",
            ),
            (t.door_set(&c), "doorbell-bridge/front_door/door/set"),
            (t.lock(&c), "doorbell-bridge/front_door/lock"),
        ];
        assert!(!table.is_empty());
        for (topic, want) in table {
            assert_eq!(topic.as_str(), want);
        }
        let filters: Vec<_> = t.subscriptions().into_iter().map(|f| f.0).collect();
        assert_eq!(
            filters,
            [
                "homeassistant/status",
                "doorbell-bridge/+/snapshot/set",
                "doorbell-bridge/bridge/cameras"
            ]
        );
    }

    #[test]
    fn wildcards_and_empty_levels_are_refused() {
        let bad = ["", "a/+/b", "a/#", "a//b", "/a", "a/", "a\0b"];
        assert!(!bad.is_empty());
        for text in bad {
            assert!(Topic::checked(text).is_err(), "{text:?} accepted");
        }
        assert!(Topic::checked("home/doorbell-bridge").is_ok());
        let err = Topic::checked("a/#").unwrap_err().to_string();
        assert!(err.contains("wildcard"), "{err}");
    }

    #[test]
    fn dynamic_parts_cannot_inject_levels() {
        let t = topics();
        assert_eq!(level("a/b+c#d"), "a_b_c_d");
        assert_eq!(level(""), "_");
        assert_eq!(
            discovery_id("doorbell bridge/x.y+#é"),
            "doorbell_bridge_x_y___"
        );
        let topic = t.discovery("evil/+/#");
        assert_eq!(topic.as_str(), "homeassistant/device/evil____/config");
        assert!(Topic::checked(topic.as_str()).is_ok());
    }

    #[test]
    fn kind_topics_never_collide_with_fixed_ones() {
        let fixed = [
            "status",
            "event",
            "doorbell",
            "last_ring",
            "snapshot",
            "clock_drift",
            "event_sources",
            "lock",
        ];
        for k in Kind::ALL {
            assert!(!fixed.contains(&k.as_str()), "{k} collides");
        }
    }

    #[test]
    fn door_commands_are_subscribed_by_name_and_parsed_back() {
        let t = topics();
        let c = cam("front_door");
        let filters: Vec<_> = t
            .door_subscriptions([&c])
            .into_iter()
            .map(|f| f.0)
            .collect();
        assert_eq!(filters, ["doorbell-bridge/front_door/door/set"]);
        assert!(t.door_subscriptions([]).is_empty());
        assert!(
            !t.subscriptions()
                .iter()
                .any(|f| f.as_str().contains("door/set")),
            "no wildcard subscription reaches a door"
        );
        assert_eq!(t.parse_door_set(t.door_set(&c).as_str()), Some(c));
        for other in [
            "doorbell-bridge/front_door/door",
            "doorbell-bridge/front_door/snapshot/set",
            "doorbell-bridge/a/b/door/set",
            "other/front_door/door/set",
        ] {
            assert_eq!(t.parse_door_set(other), None, "{other}");
        }
    }

    #[test]
    fn commands_are_parsed_only_for_our_base() {
        let t = topics();
        let c = cam("front_door");
        assert_eq!(t.parse_snapshot_set(t.snapshot_set(&c).as_str()), Some(c));
        for other in [
            "doorbell-bridge/front_door/snapshot",
            "other/front_door/snapshot/set",
            "doorbell-bridge/a/b/snapshot/set",
            "doorbell-bridge/Front/snapshot/set",
            "doorbell-bridgex/front_door/snapshot/set",
        ] {
            assert_eq!(t.parse_snapshot_set(other), None, "{other}");
        }
    }

    mod props {
        use proptest::prelude::*;

        use super::*;

        /// Every topic a camera id makes, for the level checks below.
        fn camera_topics(t: &Topics, c: &CameraId) -> Vec<Topic> {
            let mut all = vec![
                t.camera_status(c),
                t.event(c),
                t.doorbell(c),
                t.last_ring(c),
                t.snapshot(c),
                t.snapshot_info(c),
                t.snapshot_set(c),
                t.clip(c),
                t.clock_drift(c),
                t.event_sources(c),
                t.door_set(c),
                t.lock(c),
                t.discovery(&t.camera_device_id(c)),
            ];
            all.extend(Kind::ALL.iter().map(|k| t.state(c, *k)));
            all
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn a_level_is_always_one_safe_level(text in any::<String>()) {
                let l = level(&text);
                prop_assert!(!l.is_empty());
                prop_assert!(!l.contains(['/', '+', '#', '\0']));
                prop_assert!(!l.chars().any(char::is_control));
                let id = discovery_id(&text);
                prop_assert!(!id.is_empty());
                prop_assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
            }

            #[test]
            fn camera_ids_add_exactly_their_own_level(text in any::<String>()) {
                let Ok(id) = CameraId::new(&text) else {
                    // Whatever was refused, the suggestion offered instead is a valid id.
                    let suggestion = crate::event::slugify(&text);
                    prop_assert!(CameraId::new(&suggestion).is_ok(), "{suggestion:?}");
                    return Ok(());
                };
                let t = topics();
                for topic in camera_topics(&t, &id) {
                    prop_assert!(Topic::checked(topic.as_str()).is_ok(), "{topic}");
                }
                let event = t.event(&id);
                let levels: Vec<&str> = event.as_str().split('/').collect();
                prop_assert_eq!(levels.len(), 3);
                prop_assert_eq!(levels[1], id.as_str());
            }

            #[test]
            fn any_command_topic_maps_back_to_its_own_camera(topic in "[a-z_/+#]{0,40}|.{0,60}") {
                let t = topics();
                if let Some(id) = t.parse_snapshot_set(&topic) {
                    let back = t.snapshot_set(&id);
                    prop_assert_eq!(back.as_str(), topic.as_str());
                }
            }

            #[test]
            fn publish_topics_never_hold_wildcards(text in any::<String>()) {
                if let Ok(topic) = Topic::checked(&text) {
                    prop_assert!(!topic.as_str().contains(['+', '#', '\0']));
                    prop_assert!(topic.as_str().split('/').all(|l| !l.is_empty()));
                }
            }
        }
    }
}
