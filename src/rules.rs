//! The built-in rule table: which ONVIF topic (and data item, value, device model) means which
//! [`Kind`], and how its state is read. Knowledge lives here as flat records; the logic that
//! applies them is in [`crate::normalise`].
//!
//! The first rule that matches a message decides (user rules from the config come before all of
//! these). A rule matches when its topic pattern matches the canonical topic (`*` = any run of
//! characters, ASCII case ignored), its model and source conditions hold, and its data item is
//! present with a value the [`Read`] understands. So a Mobotix `VideoSource/Alarm` with a State
//! other than `Ring` falls through to the next rule and, in the end, to kind `other`.
//!
//! Evidence is cited as in /work/shared/reference/onvif-events.md: issue numbers, repositories
//! and device models. Confidence (strong / medium / weak) follows that reference.
//! Write topics in canonical form (see [`crate::onvif::topic`]): `tns1:`, `tnsaxis:`,
//! `tnshik:`, `tnssamsung:`, `tnsajax:` prefixes, no repeated inner `tns1:`.

use std::time::Duration;

use crate::event::Kind;

/// One record of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Canonical topic pattern; `*` matches any run of characters; ASCII case is ignored.
    pub topic: &'static str,
    /// Text the device model (GetDeviceInformation) must contain, ignoring case.
    pub model: Option<&'static str>,
    /// A Source item (name, value) that must be present, both ignoring case.
    pub source: Option<(&'static str, &'static str)>,
    /// The Data item (an ElementItem for [`Read::ElementClasses`]) that carries the state,
    /// name ignoring case; the rule matches only when it is present. `None`: the first Data
    /// item that reads as a boolean ([`Read::Bool`]), or none needed ([`Read::Any`]).
    pub item: Option<&'static str>,
    /// How the value is read and the kind(s) it makes.
    pub read: Read,
    /// Whether the device clears the state itself.
    pub timing: Timing,
}

/// How a rule reads the state from its item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// A boolean: `true`/`false`, `1`/`0`, `active`/`inactive`, `on`/`off`, any case. Any
    /// other value: the rule does not match.
    Bool(Kind),
    /// Active when the value is one of these (any case); other values: no match.
    OneOf(Kind, &'static [&'static str]),
    /// Active when the value is not empty.
    NonEmpty(Kind),
    /// Every Changed message (or one without PropertyOperation) is an occurrence; Initialized
    /// and Deleted ones are not. For event topics that carry only an id (`ObjectId`).
    Any(Kind),
    /// A class list separated by spaces or commas: one result per kind in the map, active when
    /// one of its classes is listed (an empty list clears them all). `gate`: a boolean Data
    /// item that must also be true when present (Axis object analytics `active`).
    Classes {
        /// Class name (any case) to kind.
        map: &'static [(&'static str, Kind)],
        /// Boolean item that switches all classes off when false.
        gate: Option<&'static str>,
    },
    /// An ElementItem whose child elements are classes with boolean text
    /// (`<Objects><Human>true</Human>...`): one result per kind in the map.
    ElementClasses(&'static [(&'static str, Kind)]),
    /// Any boolean-looking Data item gives the state (ids and counts skipped); with none, the
    /// message is an occurrence ([`Read::Any`]), or for [`Kind::Other`] a value with no state.
    Generic(Kind),
}

/// Whether the device clears a state itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// The device sends both edges (the camera's `auto_clear` for the kind may still apply).
    State,
    /// Some firmware never clears it: clear after this long unless the camera's `auto_clear`
    /// for the kind says otherwise.
    AutoClear(Duration),
    /// An occurrence with no falling edge: every Changed message is a new one (only a
    /// redelivered duplicate is not); the state resets after this hold unless the camera's
    /// `hold` for the kind says otherwise.
    Pulse(Duration),
}

/// How long a ring pulse (Mobotix bell) stays active. Reolink's battery doorbell pulse is
/// 4-5 s (QuantumEntangledAndy/neolink#418).
pub const HOLD_RING: Duration = Duration::from_secs(5);
/// How long a line crossing stays active.
pub const HOLD_LINE_CROSSING: Duration = Duration::from_secs(5);
/// How long other pulses stay active.
pub const HOLD_DEFAULT: Duration = Duration::from_secs(10);
/// Longest a ring state stays active without a falling edge (a lost falling edge must not
/// swallow the next press).
pub const RING_AUTO_CLEAR: Duration = Duration::from_secs(30);

/// The hold of a pulse of `kind` when its rule names none (user rules, unknown topics, rules
/// read with [`Read::Generic`]).
pub const fn default_hold(kind: Kind) -> Duration {
    match kind {
        Kind::Ring => HOLD_RING,
        Kind::LineCrossing => HOLD_LINE_CROSSING,
        _ => HOLD_DEFAULT,
    }
}

/// The built-in auto-clear of a [`Timing::State`] of `kind`: only rings have one.
pub const fn default_auto_clear(kind: Kind) -> Option<Duration> {
    match kind {
        Kind::Ring => Some(RING_AUTO_CLEAR),
        _ => None,
    }
}

/// Built-in auto-clear for states that some firmware never clears (Uniview person and field
/// detection, home-assistant/core#175055). Long enough to cover a person at the door.
pub const NEVER_CLEARED: Duration = Duration::from_secs(60);

const fn rule(topic: &'static str, item: &'static str, read: Read) -> Rule {
    Rule {
        topic,
        model: None,
        source: None,
        item: Some(item),
        read,
        timing: Timing::State,
    }
}

const fn any(topic: &'static str, read: Read) -> Rule {
    Rule {
        topic,
        model: None,
        source: None,
        item: None,
        read,
        timing: Timing::State,
    }
}

/// A pulse: no falling edge, reset after `hold`.
const fn pulse(r: Rule, hold: Duration) -> Rule {
    Rule {
        timing: Timing::Pulse(hold),
        ..r
    }
}
const fn auto_clear(r: Rule, after: Duration) -> Rule {
    Rule {
        timing: Timing::AutoClear(after),
        ..r
    }
}

const fn on_model(r: Rule, model: &'static str) -> Rule {
    Rule {
        model: Some(model),
        ..r
    }
}

const fn with_source(r: Rule, name: &'static str, value: &'static str) -> Rule {
    Rule {
        source: Some((name, value)),
        ..r
    }
}

use Kind::*;
use Read::{Any, Bool, Classes, ElementClasses, Generic, NonEmpty, OneOf};

/// Ajax `ClassTypes` (openvideolibs/onvif-parsers `tests/test_ajax.py`: `Human`, `Human
/// Animal`, `Human Vehicle`; HA counts `Animal` as pet).
const AJAX_CLASSES: &[(&str, Kind)] = &[
    ("Human", Person),
    ("Animal", Animal),
    ("Pet", Animal),
    ("Vehicle", Vehicle),
];

/// Axis object analytics `classTypes` (2024 fixture in Kane610/axis: `human`); the vehicle
/// and animal names are Axis' AOA class names (medium).
const AXIS_CLASSES: &[(&str, Kind)] = &[
    ("human", Person),
    ("vehicle", Vehicle),
    ("car", Vehicle),
    ("truck", Vehicle),
    ("bus", Vehicle),
    ("bike", Vehicle),
    ("motorcycle", Vehicle),
    ("animal", Animal),
];

/// The table, most specific first.
pub const RULES: &[Rule] = &[
    // ---- Doorbell presses ------------------------------------------------------------------
    // Reolink Video Doorbell PoE/WiFi: Visitor State true then false (strong:
    // JimStar/reolink_cctv#49, koush/scrypted#1376, HA parsers). Not sent behind an NVR.
    rule(
        "tns1:RuleEngine/MyRuleDetector/Visitor",
        "State",
        Bool(Ring),
    ),
    // Ajax video doorbell (medium/weak: foXaCe/ajax-security-hass onvif_client.py, #117).
    rule(
        "tns1:RuleEngine/RingDetector/Detection",
        "Detected",
        Bool(Ring),
    ),
    // Mobotix T26: the bell is a State value and never clears (medium:
    // koush/scrypted plugins/onvif/src/onvif-api.ts). Other Alarm values fall through.
    pulse(
        rule(
            "tns1:VideoSource/Alarm",
            "State",
            OneOf(Ring, &["Ring", "CameraBellButton"]),
        ),
        HOLD_RING,
    ),
    // Axis I8116-E intercom: I/O port 0 is the call button (medium: HA axis event.py
    // DOORBELL_CONFIG = ("I8116-E", "0")). Other ports and models are inputs (below).
    on_model(
        with_source(
            rule("tns1:Device/tnsaxis:IO/Port", "state", Bool(Ring)),
            "port",
            "0",
        ),
        "I8116-E",
    ),
    // Hanwha/Samsung call button (weak: one third-party design document).
    rule("tns1:Device/Trigger/CallRequest", "State", Bool(Ring)),
    // ---- Reolink AI detectors (strong: HA parsers, cam2mqtt, onvif-parsers test_reolink) -----
    rule(
        "tns1:RuleEngine/MyRuleDetector/PeopleDetect",
        "State",
        Bool(Person),
    ),
    rule(
        "tns1:RuleEngine/MyRuleDetector/FaceDetect",
        "State",
        Bool(Face),
    ),
    rule(
        "tns1:RuleEngine/MyRuleDetector/VehicleDetect",
        "State",
        Bool(Vehicle),
    ),
    rule(
        "tns1:RuleEngine/MyRuleDetector/DogCatDetect",
        "State",
        Bool(Animal),
    ),
    // Seen Initialized true (a package lying there): a latched state, not news.
    rule(
        "tns1:RuleEngine/MyRuleDetector/Package",
        "State",
        Bool(Package),
    ),
    // ---- Motion ----------------------------------------------------------------------------
    // Hikvision, Reolink, Imou, D-Link, SV3C (typo fixed by canonicalisation), 2N (strong).
    rule("tns1:VideoSource/MotionAlarm", "State", Bool(Motion)),
    // Everyone (strong); an unnamed camera sends State instead (dmitrif/onvif2mqtt#39).
    rule(
        "tns1:RuleEngine/CellMotionDetector/Motion",
        "IsMotion",
        Bool(Motion),
    ),
    rule(
        "tns1:RuleEngine/CellMotionDetector/Motion",
        "State",
        Bool(Motion),
    ),
    // Axis motion region, values 1/0 (strong: HA parsers).
    rule(
        "tns1:RuleEngine/MotionRegionDetector/Motion",
        "State",
        Bool(Motion),
    ),
    // Axis legacy VMD, VMD4 ACAP (empty Source), PIR (strong: agsh mockup, Kane610/axis).
    rule(
        "tns1:VideoAnalytics/tnsaxis:MotionDetection",
        "motion",
        Bool(Motion),
    ),
    rule(
        "tnsaxis:CameraApplicationPlatform/VMD/*",
        "active",
        Bool(Motion),
    ),
    rule("tns1:Device/tnsaxis:Sensor/PIR", "state", Bool(Motion)),
    // Ajax motion: Detected, some firmware State (strong: onvif-parsers test_ajax.py).
    rule(
        "tns1:RuleEngine/tnsajax:MotionDetector/Detection",
        "Detected",
        Bool(Motion),
    ),
    rule(
        "tns1:RuleEngine/tnsajax:MotionDetector/Detection",
        "State",
        Bool(Motion),
    ),
    // Hanwha (strong: home-assistant/core#66493).
    rule(
        "tns1:VideoAnalytics/tnssamsung:MotionDetection",
        "State",
        Bool(Motion),
    ),
    // Foscam V8EP (home-assistant/core#132521; data item not recorded).
    any("tns1:Device/Trigger/MotionDetector", Generic(Motion)),
    // Bosch motion (weak: home-assistant/core#166418).
    any("tns1:VideoAnalytics/MotionAlarm", Generic(Motion)),
    // ---- Objects ---------------------------------------------------------------------------
    // Ajax AI classes; empty when cleared (strong: onvif-parsers test_ajax.py).
    rule(
        "tns1:RuleEngine/ObjectDetection/Object",
        "ClassTypes",
        Classes {
            map: AJAX_CLASSES,
            gate: None,
        },
    ),
    // Ajax object list as an ElementItem (strong: home-assistant/core#160692).
    rule(
        "tns1:RuleEngine/tnsajax:ObjectDetector/Detection",
        "Objects",
        ElementClasses(AJAX_CLASSES),
    ),
    // Axis object analytics: classTypes + active (strong: 2024 Kane610/axis fixture); a
    // scenario without classes is read as motion (weak).
    rule(
        "tnsaxis:CameraApplicationPlatform/ObjectAnalytics/*",
        "classTypes",
        Classes {
            map: AXIS_CLASSES,
            gate: Some("active"),
        },
    ),
    rule(
        "tnsaxis:CameraApplicationPlatform/ObjectAnalytics/*",
        "active",
        Bool(Motion),
    ),
    // Uniview: never returns to false on IPC2124LR3-PF40M-D fw IPC_D1202-B0007P79D1904
    // (strong: home-assistant/core#175055).
    auto_clear(
        rule("tns1:UserAlarm/IVA/HumanShapeDetect", "State", Bool(Person)),
        NEVER_CLEARED,
    ),
    // Uniview vehicle (medium: wjbeckett listener).
    rule(
        "tns1:VehicleAlarm/IVB/VehicleDetect",
        "State",
        Bool(Vehicle),
    ),
    // Hanwha analytics (medium).
    rule(
        "tns1:VideoSource/tnssamsung:FaceDetection",
        "State",
        Bool(Face),
    ),
    // ---- Lines and fields ------------------------------------------------------------------
    // Line crossing is an event: ObjectId only, no falling edge (strong:
    // home-assistant/core#36111 DS-HD1, #35916 Uniview sends ObjectId=0 as Initialized).
    // Ajax sends ClassTypes, non-empty = crossed (medium).
    pulse(
        rule(
            "tns1:RuleEngine/LineDetector/Crossed",
            "ClassTypes",
            NonEmpty(LineCrossing),
        ),
        HOLD_LINE_CROSSING,
    ),
    pulse(
        any("tns1:RuleEngine/LineDetector/Crossed", Any(LineCrossing)),
        HOLD_LINE_CROSSING,
    ),
    pulse(
        rule(
            "tns1:RuleEngine/tnsajax:LineDetector/Crossing",
            "ClassTypes",
            NonEmpty(LineCrossing),
        ),
        HOLD_LINE_CROSSING,
    ),
    pulse(
        any(
            "tns1:RuleEngine/tnsajax:LineDetector/Crossing",
            Any(LineCrossing),
        ),
        HOLD_LINE_CROSSING,
    ),
    // Uniview field detection also never clears on IPC2124LR3 (home-assistant/core#175055).
    auto_clear(
        on_model(
            rule(
                "tns1:RuleEngine/FieldDetector/ObjectsInside",
                "IsInside",
                Bool(Intrusion),
            ),
            "IPC2124LR3",
        ),
        NEVER_CLEARED,
    ),
    // Hikvision, Reolink (strong); Key ObjectId per object.
    rule(
        "tns1:RuleEngine/FieldDetector/ObjectsInside",
        "IsInside",
        Bool(Intrusion),
    ),
    // Bosch IVA task "entering field", user rule name as last segment (home-assistant/core#166418).
    any("tns1:IVA/EnteringField/*", Generic(Intrusion)),
    // ---- Tamper ----------------------------------------------------------------------------
    any("tns1:RuleEngine/TamperDetector/Tamper", Generic(Tamper)),
    // A scene change means the camera was moved or covered; blur is defocus (HA: problem).
    rule(
        "tns1:VideoSource/GlobalSceneChange/*",
        "State",
        Bool(Tamper),
    ),
    rule("tns1:VideoSource/ImageTooBlurry/*", "State", Bool(Tamper)),
    rule(
        "tns1:VideoAnalytics/tnssamsung:Tampering",
        "State",
        Bool(Tamper),
    ),
    rule(
        "tns1:VideoSource/tnssamsung:DefocusDetection",
        "State",
        Bool(Tamper),
    ),
    // ---- Sound -----------------------------------------------------------------------------
    any("tns1:AudioAnalytics/Audio/DetectedSound", Generic(Sound)),
    rule(
        "tns1:AudioSource/tnssamsung:AudioDetection",
        "State",
        Bool(Sound),
    ),
    // ---- Inputs and relays (a wired bell: set ring_input) -------------------------------------
    // ONVIF standard, 2N, Imou (malformed root fixed by canonicalisation), NVRs (strong).
    rule(
        "tns1:Device/Trigger/DigitalInput",
        "LogicalState",
        Bool(Input),
    ),
    // Avigilon variant (medium).
    rule("tns1:Device/Trigger/DigitalInput", "Level", Bool(Input)),
    any(
        "tns1:Device/Trigger/tnssamsung:DigitalInput",
        Generic(Input),
    ),
    // Hikvision alarm input (strong: home-assistant/core#140491); HA calls it motion, we keep
    // it an input so ring_input = "AlarmIn_1" can make it the bell.
    rule("tns1:Device/Trigger/tnshik:AlarmIn", "State", Bool(Input)),
    // Axis I/O ports and virtual inputs (strong: Kane610/axis fixtures).
    rule("tns1:Device/tnsaxis:IO/Port", "state", Bool(Input)),
    rule("tns1:Device/tnsaxis:IO/VirtualInput", "active", Bool(Input)),
    // Relays: active/inactive (strong); 2N names the item RelayLogicalState (koush/scrypted#1655).
    rule("tns1:Device/Trigger/Relay", "LogicalState", Bool(Relay)),
    rule(
        "tns1:Device/Trigger/Relay",
        "RelayLogicalState",
        Bool(Relay),
    ),
    // ---- Tapo / VIGI: classified by item name, not by topic (the same detector moved between
    // sub-trees across firmware; strong: HA tests, Tapo-Control#304, core#127991, #142708) ------
    rule("tns1:RuleEngine/*", "IsPeople", Bool(Person)),
    rule("tns1:RuleEngine/*", "IsVehicle", Bool(Vehicle)),
    rule("tns1:RuleEngine/*", "IsPet", Bool(Animal)),
    // Seen Initialized true on a C250: reset like a pulse so it cannot stay on.
    pulse(
        rule("tns1:RuleEngine/*", "IsLineCross", Bool(LineCrossing)),
        HOLD_LINE_CROSSING,
    ),
    rule("tns1:RuleEngine/*", "IsTamper", Bool(Tamper)),
    rule("tns1:RuleEngine/*", "IsIntrusion", Bool(Intrusion)),
    rule("tns1:RuleEngine/*", "IsMotion", Bool(Motion)),
    // ---- Known diagnostics: kind other, but not "unknown" (no log line) ----------------------
    // Hikvision OperatingTime Status timestamps (may be 0000-00-00T00:00:00Z), CPU usage.
    any("tns1:Monitoring/*", Generic(Other)),
    any("tns1:Device/HardwareFailure/*", Generic(Other)),
    // Too dark at night is not tampering.
    any("tns1:VideoSource/ImageTooDark/*", Generic(Other)),
    any("tns1:VideoSource/ImageTooBright/*", Generic(Other)),
    any("tns1:VideoSource/tnssamsung:Fog", Generic(Other)),
    any("tns1:RecordingConfig/*", Generic(Other)),
    // HA ignores this one deliberately.
    any("tns1:MediaControl/*", Generic(Other)),
    any("tns1:RuleEngine/CountAggregation/Counter", Generic(Other)),
    any("tns1:Device/tnsaxis:Intercom/*", Generic(Other)),
    any("tns1:Configuration/*", Generic(Other)),
];
