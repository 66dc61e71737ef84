//! The vocabulary shared by the camera side and the MQTT side.
//!
//! These types are the only thing that crosses between the two worlds: cameras (ONVIF, XML,
//! HTTP) produce [`Update`]s, the MQTT bridge consumes them and sends [`Command`]s back. The
//! camera side never builds a topic; the MQTT side never reads XML.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::{Serialize, Serializer};

use crate::secret::Secret;

/// A camera's id from the config: a lowercase slug `[a-z0-9_]+`, stable in topics and unique ids.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CameraId(String);

/// Why a string is not a valid [`CameraId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a lowercase slug such as {suggestion} (letters a-z, digits, underscore)")]
pub struct InvalidCameraId {
    /// A slug made from the rejected text, to show the user what would work.
    pub suggestion: String,
}

impl CameraId {
    /// Longest id we accept; ids end up in topics, unique ids and file names.
    pub const MAX_LEN: usize = 64;

    /// Validates `id` as a slug.
    pub fn new(id: &str) -> Result<Self, InvalidCameraId> {
        let ok = !id.is_empty()
            && id.len() <= Self::MAX_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(Self(id.to_owned()))
        } else {
            Err(InvalidCameraId {
                suggestion: slugify(id),
            })
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Lowercases `text` and turns every run of other characters into one `_`.
pub fn slugify(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let trimmed = out.trim_end_matches('_');
    let mut slug: String = trimmed.chars().take(CameraId::MAX_LEN).collect();
    if slug.is_empty() {
        slug.push_str("camera");
    }
    slug
}

impl fmt::Display for CameraId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for CameraId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// What an event is about. `as_str` is the name used in topics, payloads and config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// The doorbell button.
    Ring,
    /// Pixel or PIR motion.
    Motion,
    /// A person (human shape, people detector).
    Person,
    /// A vehicle.
    Vehicle,
    /// An animal or pet.
    Animal,
    /// A face.
    Face,
    /// A package left at the door.
    Package,
    /// Something crossed a line.
    LineCrossing,
    /// Something entered a field or zone.
    Intrusion,
    /// Tampering, defocus or a blocked lens.
    Tamper,
    /// Audio detection.
    Sound,
    /// A digital input (a wired bell, a door contact).
    Input,
    /// A relay output.
    Relay,
    /// A door's contact: open (active) or closed, as a door station reports it.
    Door,
    /// A topic no rule knows: published, never dropped, so the user can write a rule.
    Other,
}

impl Kind {
    /// Every kind, in a stable order.
    pub const ALL: [Kind; 15] = [
        Kind::Ring,
        Kind::Motion,
        Kind::Person,
        Kind::Vehicle,
        Kind::Animal,
        Kind::Face,
        Kind::Package,
        Kind::LineCrossing,
        Kind::Intrusion,
        Kind::Tamper,
        Kind::Sound,
        Kind::Input,
        Kind::Relay,
        Kind::Door,
        Kind::Other,
    ];

    /// The name used in topics, JSON payloads, file names and the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ring => "ring",
            Kind::Motion => "motion",
            Kind::Person => "person",
            Kind::Vehicle => "vehicle",
            Kind::Animal => "animal",
            Kind::Face => "face",
            Kind::Package => "package",
            Kind::LineCrossing => "line_crossing",
            Kind::Intrusion => "intrusion",
            Kind::Tamper => "tamper",
            Kind::Sound => "sound",
            Kind::Input => "input",
            Kind::Relay => "relay",
            Kind::Door => "door",
            Kind::Other => "other",
        }
    }

    /// Whether the kind has an on/off state worth a retained topic and a binary sensor.
    /// `Ring` is momentary (an event entity); `Other` has no single state.
    pub fn is_stateful(self) -> bool {
        !matches!(self, Kind::Ring | Kind::Other)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not a [`Kind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown event kind {0:?}; expected one of ring, motion, person, vehicle, animal, face, package, line_crossing, intrusion, tamper, sound, input, relay, door, other"
)]
pub struct UnknownKind(pub String);

impl FromStr for Kind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The ONVIF `PropertyOperation` of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// State sent when a subscription starts: not news, never a trigger.
    Initialized,
    /// A real change.
    Changed,
    /// The property went away.
    Deleted,
}

impl Operation {
    /// Parses the attribute value; unknown values are `None` (treated like a missing attribute).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "Initialized" => Some(Operation::Initialized),
            "Changed" => Some(Operation::Changed),
            "Deleted" => Some(Operation::Deleted),
            _ => None,
        }
    }

    /// The attribute value as ONVIF spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Initialized => "Initialized",
            Operation::Changed => "Changed",
            Operation::Deleted => "Deleted",
        }
    }
}

impl Serialize for Operation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// SimpleItems (name, value) in document order; serialised as a JSON object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Items(pub Vec<(String, String)>);

impl Items {
    /// The value of the first item named `name` (exact match).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of the first item whose name matches `name` ignoring ASCII case.
    pub fn get_ignore_case(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Items {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// One normalised event: what a camera said, in our words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// The camera it came from.
    pub camera: CameraId,
    /// What it is about.
    pub kind: Kind,
    /// The state after this message.
    pub active: bool,
    /// True only for a new occurrence: a press, a new detection. False for Initialized
    /// messages, falling edges and Deleted.
    pub trigger: bool,
    /// When the bridge received it (our clock, millisecond precision).
    #[serde(serialize_with = "serialize_time")]
    pub time: jiff::Timestamp,
    /// The message's `UtcTime` exactly as the camera sent it (cameras lie; kept for diagnosis).
    pub camera_time: Option<String>,
    /// The canonical ONVIF topic, e.g. `tns1:RuleEngine/MyRuleDetector/Visitor`.
    pub topic: String,
    /// Source SimpleItems.
    pub source: Items,
    /// Data SimpleItems.
    pub data: Items,
    /// The PropertyOperation, when the camera sent one.
    pub operation: Option<Operation>,
}

/// Formats a timestamp as RFC 3339 in UTC with milliseconds, e.g. `2026-11-29T08:15:00.123Z`.
pub fn format_time(t: jiff::Timestamp) -> String {
    format!("{t:.3}")
}

fn serialize_time<S: Serializer>(t: &jiff::Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_time(*t))
}

/// What GetDeviceInformation (and the network settings) told us about a camera.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Manufacturer.
    pub manufacturer: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Firmware version.
    pub firmware: Option<String>,
    /// Serial number.
    pub serial: Option<String>,
    /// Hardware id.
    pub hardware: Option<String>,
    /// MAC address, `aa:bb:cc:dd:ee:ff`, where known.
    pub mac: Option<String>,
    /// The camera's web interface, without credentials.
    pub configuration_url: Option<String>,
}

/// A JPEG taken from a camera, with where it went.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The camera it came from.
    pub camera: CameraId,
    /// The JPEG bytes (checked magic, size capped).
    pub jpeg: Bytes,
    /// When it was taken (our clock).
    pub taken: jiff::Timestamp,
    /// Why it was taken.
    pub reason: SnapshotReason,
    /// Where the archive stored it, if it did.
    pub archived: Option<PathBuf>,
}

/// Why a snapshot was taken: the one description of it from the trigger (`snapshot::Trigger`
/// is this type) through the archive's file name and sidecar to the `snapshot/info` payload.
///
/// Two words: every camera's snapshot channel allocates room for 32 of them up front, so what
/// only events have is boxed.
#[derive(Debug, Clone, PartialEq)]
pub enum SnapshotReason {
    /// An event started and its kind is in `snapshot.on`.
    Event(Box<SnapshotEvent>),
    /// One of the extra frames a ring asked for (`snapshot.burst`); the event is the ring.
    Burst(Box<SnapshotEvent>),
    /// A user asked (MQTT command or HA button).
    Demand,
    /// The periodic timer (`snapshot.interval`).
    Interval,
    /// Someone asked to open the door (accepted or refused): who was at the door.
    Door,
}

/// The event a snapshot was taken for, as far as the picture's description needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotEvent {
    /// The event's kind.
    pub kind: Kind,
    /// The event's receive `time`, which identifies it.
    pub time: jiff::Timestamp,
    /// The event's camera time as sent.
    pub camera_time: Option<String>,
    /// The event's canonical topic.
    pub topic: String,
}

impl SnapshotReason {
    /// The reason for a snapshot of `event`.
    pub fn for_event(event: &Event) -> Self {
        SnapshotReason::Event(Box::new(SnapshotEvent {
            kind: event.kind,
            time: event.time,
            camera_time: event.camera_time.clone(),
            topic: event.topic.clone(),
        }))
    }

    /// `event`, `burst`, `demand`, `interval` or `door`: the `reason` field of
    /// `snapshot/info` and of the archive sidecar.
    pub fn as_str(&self) -> &'static str {
        match self {
            SnapshotReason::Event(_) => "event",
            SnapshotReason::Burst(_) => "burst",
            SnapshotReason::Demand => "demand",
            SnapshotReason::Interval => "interval",
            SnapshotReason::Door => "door",
        }
    }

    /// The event the snapshot is for, if any.
    pub fn event(&self) -> Option<&SnapshotEvent> {
        match self {
            SnapshotReason::Event(e) | SnapshotReason::Burst(e) => Some(e),
            SnapshotReason::Demand | SnapshotReason::Interval | SnapshotReason::Door => None,
        }
    }

    /// The last part of an archived file's name (`<HHMMSS.mmm>_<this>.jpg`): the event's kind
    /// for event and burst pictures, `demand` or `interval` otherwise. Never a kind's name for
    /// those two, so a file name tells which it was. (Before, both were archived as `other`.)
    pub fn archive_name(&self) -> &'static str {
        match self.event() {
            Some(e) => e.kind.as_str(),
            None => self.as_str(),
        }
    }

    /// The time that dates the picture in the archive: the event's, else when it was `taken`.
    pub fn archive_time(&self, taken: jiff::Timestamp) -> jiff::Timestamp {
        self.event().map_or(taken, |e| e.time)
    }
}

/// `reason` and `kind` always (`kind` is `null` without an event), then `event_time`,
/// `camera_time` and `topic` when there is an event; flattened into `snapshot/info` and the
/// archive sidecar, so both describe a picture the same way.
impl Serialize for SnapshotReason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Fields<'a> {
            reason: &'static str,
            kind: Option<Kind>,
            #[serde(skip_serializing_if = "Option::is_none")]
            event_time: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            camera_time: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            topic: Option<&'a str>,
        }
        let event = self.event();
        Fields {
            reason: self.as_str(),
            kind: event.map(|e| e.kind),
            event_time: event.map(|e| format_time(e.time)),
            camera_time: event.and_then(|e| e.camera_time.as_deref()),
            topic: event.map(|e| e.topic.as_str()),
        }
        .serialize(s)
    }
}

/// How much of an event clip there is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClipStatus {
    /// Pre-roll and post as configured.
    Complete,
    /// A clip, with gaps (no pre-roll, the stream stopped, a timestamp jump).
    Partial,
    /// No video at all (the stream was down); only the sidecar was written.
    Missing,
}

/// An event clip, as the archive wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    /// Which camera.
    pub camera: CameraId,
    /// The event's kind.
    pub kind: Kind,
    /// The event's receive time, which identifies it.
    pub event_time: jiff::Timestamp,
    /// When the clip's first frame was (before the event by the pre-roll); `None` when missing.
    pub start: Option<jiff::Timestamp>,
    /// The clip's length.
    pub duration: std::time::Duration,
    /// Where the archive stored the clip (`None` when missing or not written).
    pub path: Option<PathBuf>,
    /// The same path below the archive folder.
    pub relative: Option<PathBuf>,
    /// The archive folder.
    pub archive: PathBuf,
    /// How much of it there is.
    pub status: ClipStatus,
    /// What is missing, for people.
    pub gaps: Vec<String>,
}

/// Camera-side news for the MQTT side. Sent over one bounded channel.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// The camera is subscribed and delivering events.
    Online {
        /// Which camera.
        camera: CameraId,
        /// What the camera says it is.
        info: DeviceInfo,
    },
    /// The camera is not delivering events; its stateful kinds are no longer known.
    Offline {
        /// Which camera.
        camera: CameraId,
        /// A short human reason (no secrets).
        reason: String,
    },
    /// An event.
    Event(Event),
    /// A snapshot.
    Snapshot(Snapshot),
    /// An event clip was written (or could not be): after the event and its snapshot.
    Clip(Box<Clip>),
    /// Which of the camera's event sources are down, for people (`pullpoint: ...`), or
    /// empty when every source delivers. Sent when it changes.
    Sources {
        /// Which camera.
        camera: CameraId,
        /// `<source>: <reason>` per source that is down, joined with `; `; empty: none.
        down: String,
    },
    /// Someone asked to open the door: what became of it (the `door` event).
    Door(Box<DoorReport>),
    /// The door is shut again after an open (the lock shows `LOCKED`), sent by the door
    /// task `pulse` after a successful open.
    DoorLocked {
        /// Which camera.
        camera: CameraId,
    },
    /// The camera clock's offset from ours, measured at connect.
    ClockDrift {
        /// Which camera.
        camera: CameraId,
        /// Camera clock minus our clock, in milliseconds.
        offset_ms: i64,
    },
}

impl Update {
    /// The camera this update is about.
    pub fn camera(&self) -> &CameraId {
        match self {
            Update::Online { camera, .. }
            | Update::Offline { camera, .. }
            | Update::Sources { camera, .. }
            | Update::ClockDrift { camera, .. }
            | Update::DoorLocked { camera } => camera,
            Update::Door(d) => &d.camera,
            Update::Event(e) => &e.camera,
            Update::Snapshot(s) => &s.camera,
            Update::Clip(c) => &c.camera,
        }
    }
}

/// MQTT-side requests for a camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Take a snapshot now.
    TakeSnapshot,
    /// Open the door: the facts of the delivery, which the door task judges
    /// (`door::policy`).
    OpenDoor(DoorCommand),
}

/// An open-the-door request as it arrived: what was asked, and how the message came. The
/// MQTT side only reports; every rule about it is in `door::policy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorCommand {
    /// The code the user typed, if the command carried one.
    pub code: Option<Secret>,
    /// The message was delivered as retained: an old command, never an open.
    pub retained: bool,
    /// Time between the bridge's (re)subscribe to the command topic and this message.
    pub since_subscribe: Duration,
    /// When the bridge received it, so a command that waited is judged by its arrival.
    pub received: Instant,
}

/// What became of a request to open the door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DoorOutcome {
    /// The camera accepted the open request.
    Opened,
    /// The bridge refused it; the door was not touched.
    Refused(DoorRefusal),
    /// The bridge asked the camera, which failed (unreachable, refused credentials, an error
    /// status). The text names the camera URL, never a secret.
    Failed(String),
}

/// Why the bridge refused to open the door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoorRefusal {
    /// The command was a retained message (an old command replayed by the broker).
    Retained,
    /// It arrived within the grace after a (re)subscribe, where a broker could replay old
    /// messages.
    JustSubscribed,
    /// It waited too long before the door task saw it (never an open from a queue).
    Stale,
    /// A code is configured and the command had none.
    MissingCode,
    /// The code was wrong.
    WrongCode,
    /// Too many wrong codes: every code is refused for a while.
    CodeLockout,
    /// The door was opened moments ago.
    TooSoon,
    /// The camera is offline: refused, not queued.
    Offline,
}

impl DoorRefusal {
    /// The `reason` field of the `door` event and of the log line.
    pub fn as_str(self) -> &'static str {
        match self {
            DoorRefusal::Retained => "retained",
            DoorRefusal::JustSubscribed => "just_subscribed",
            DoorRefusal::Stale => "stale",
            DoorRefusal::MissingCode => "missing_code",
            DoorRefusal::WrongCode => "wrong_code",
            DoorRefusal::CodeLockout => "code_lockout",
            DoorRefusal::TooSoon => "too_soon",
            DoorRefusal::Offline => "offline",
        }
    }
}

impl DoorOutcome {
    /// `opened`, `refused` or `failed`: the `outcome` field of the `door` event.
    pub fn as_str(&self) -> &'static str {
        match self {
            DoorOutcome::Opened => "opened",
            DoorOutcome::Refused(_) => "refused",
            DoorOutcome::Failed(_) => "failed",
        }
    }
}

/// One request to open the door and what became of it: published as the `door` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorReport {
    /// Which camera.
    pub camera: CameraId,
    /// When the bridge decided (our clock).
    pub time: jiff::Timestamp,
    /// The outcome.
    pub outcome: DoorOutcome,
}

/// `{"camera", "kind": "door", "action": "open", "outcome", "reason", "time"}`.
impl Serialize for DoorReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Fields<'a> {
            camera: &'a CameraId,
            kind: &'static str,
            action: &'static str,
            outcome: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            reason: Option<&'a str>,
            time: String,
        }
        let reason = match &self.outcome {
            DoorOutcome::Opened => None,
            DoorOutcome::Refused(r) => Some(r.as_str()),
            DoorOutcome::Failed(why) => Some(why.as_str()),
        };
        Fields {
            camera: &self.camera,
            kind: "door",
            action: "open",
            outcome: self.outcome.as_str(),
            reason,
            time: format_time(self.time),
        }
        .serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_ids_are_slugs() {
        assert!(CameraId::new("front_door").is_ok());
        assert!(CameraId::new("cam2").is_ok());
        for bad in ["", "Front Door", "a/b", "a+b", "a#", "é", &"a".repeat(65)] {
            assert!(CameraId::new(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            CameraId::new("Front Door").unwrap_err().suggestion,
            "front_door"
        );
        assert_eq!(slugify("//"), "camera");
    }

    #[test]
    fn kinds_round_trip() {
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>().unwrap(), k);
        }
        assert!("doorbell".parse::<Kind>().is_err());
        assert!(!Kind::Ring.is_stateful());
        assert!(Kind::Motion.is_stateful());
    }

    fn ring() -> Event {
        Event {
            camera: CameraId::new("front_door").unwrap(),
            kind: Kind::Ring,
            active: true,
            trigger: true,
            time: "2026-11-29T08:15:00.123456Z".parse().unwrap(),
            camera_time: Some("2026-11-29T08:14:59Z".into()),
            topic: "tns1:RuleEngine/MyRuleDetector/Visitor".into(),
            source: Items::default(),
            data: Items::default(),
            operation: Some(Operation::Changed),
        }
    }

    #[test]
    fn a_snapshot_reason_is_two_words() {
        // Every camera's trigger channel allocates 32 slots up front (docs/performance.md).
        assert!(std::mem::size_of::<SnapshotReason>() <= 2 * std::mem::size_of::<usize>());
    }

    #[test]
    fn a_snapshot_reason_carries_the_event_it_was_made_for() {
        let e = ring();
        let reason = SnapshotReason::for_event(&e);
        assert_eq!(reason.as_str(), "event");
        let got = reason.event().expect("an event reason has its event");
        assert_eq!(
            (
                got.kind,
                got.time,
                got.camera_time.as_deref(),
                got.topic.as_str()
            ),
            (e.kind, e.time, e.camera_time.as_deref(), e.topic.as_str())
        );
        let taken: jiff::Timestamp = "2026-11-29T08:15:01Z".parse().unwrap();
        assert_eq!(reason.archive_time(taken), e.time);
        assert_eq!(SnapshotReason::Demand.archive_time(taken), taken);
        assert_eq!(SnapshotReason::Interval.event(), None);
    }

    #[test]
    fn demand_and_interval_pictures_are_archived_under_their_own_names() {
        let SnapshotReason::Event(e) = SnapshotReason::for_event(&ring()) else {
            unreachable!()
        };
        let names: Vec<_> = [
            SnapshotReason::Event(e.clone()),
            SnapshotReason::Burst(e),
            SnapshotReason::Demand,
            SnapshotReason::Interval,
        ]
        .iter()
        .map(|r| (r.as_str(), r.archive_name()))
        .collect();
        assert_eq!(
            names,
            [
                ("event", "ring"),
                ("burst", "ring"),
                ("demand", "demand"),
                ("interval", "interval")
            ]
        );
        // A file name alone tells an event's picture from the others. (A door picture is
        // named `door` whether a door event or an open request took it.)
        for k in Kind::ALL {
            assert!(!["demand", "interval"].contains(&k.as_str()), "{k:?}");
        }
    }

    #[test]
    fn a_snapshot_reason_serialises_the_same_fields_everywhere() {
        let reason = SnapshotReason::for_event(&ring());
        assert_eq!(
            serde_json::to_value(&reason).unwrap(),
            serde_json::json!({
                "reason": "event", "kind": "ring", "event_time": "2026-11-29T08:15:00.123Z",
                "camera_time": "2026-11-29T08:14:59Z",
                "topic": "tns1:RuleEngine/MyRuleDetector/Visitor"
            })
        );
        assert_eq!(
            serde_json::to_value(SnapshotReason::Interval).unwrap(),
            serde_json::json!({"reason": "interval", "kind": null})
        );
    }

    #[test]
    fn a_door_report_names_its_outcome_and_reason() {
        let report = |outcome| DoorReport {
            camera: CameraId::new("front_door").unwrap(),
            time: "2026-11-29T08:15:00.123Z".parse().unwrap(),
            outcome,
        };
        assert_eq!(
            serde_json::to_value(report(DoorOutcome::Refused(DoorRefusal::WrongCode))).unwrap(),
            serde_json::json!({
                "camera": "front_door", "kind": "door", "action": "open", "outcome": "refused",
                "reason": "wrong_code", "time": "2026-11-29T08:15:00.123Z"
            })
        );
        let opened = serde_json::to_value(report(DoorOutcome::Opened)).unwrap();
        assert_eq!(opened["outcome"], "opened");
        assert!(opened.get("reason").is_none());
    }

    #[test]
    fn event_serialises_with_millisecond_times() {
        let e = Event {
            camera: CameraId::new("front_door").unwrap(),
            kind: Kind::Ring,
            active: true,
            trigger: true,
            time: "2026-11-29T08:15:00.123456Z".parse().unwrap(),
            camera_time: Some("0000-00-00T00:00:00Z".into()),
            topic: "tns1:RuleEngine/MyRuleDetector/Visitor".into(),
            source: Items(vec![("Source".into(), "000".into())]),
            data: Items(vec![("State".into(), "true".into())]),
            operation: Some(Operation::Changed),
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "camera": "front_door", "kind": "ring", "active": true, "trigger": true,
                "time": "2026-11-29T08:15:00.123Z", "camera_time": "0000-00-00T00:00:00Z",
                "topic": "tns1:RuleEngine/MyRuleDetector/Visitor",
                "source": {"Source": "000"}, "data": {"State": "true"}, "operation": "Changed"
            })
        );
    }
}
