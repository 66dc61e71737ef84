//! The Dahua code table (Amcrest, Imou, Lorex on the same firmware): which code, with which
//! action and data, makes which kind. Evidence per row from vendor-apis.md §1.4–1.5. The first
//! matching row decides; a code no row knows is kind `other`, published with its data.

use crate::event::Kind::{self, *};
use crate::onvif::Notification;
use crate::rules::Timing;
use crate::vendor::{ALL_EDGES, CodeRule, Derived, Edge, KindFrom, RISING, code_of, derive};

use super::codes::Action;

/// IVS object types (rroller/dahua `translate_event_code`, Scrypted sample JSON).
const OBJECTS: &[(&str, Kind)] = &[
    ("Human", Person),
    ("Vehicle", Vehicle),
    ("MotorVehicle", Vehicle),
    ("NonMotor", Vehicle),
];
/// Where the object type sits: `data.Object.ObjectType` (rroller, Scrypted); amcrest2mqtt
/// reads a top-level `ObjectType`.
const OBJECT_ITEMS: &[&str] = &["Object.ObjectType", "ObjectType"];

const fn row(
    code: &'static str,
    edges: &'static [Edge],
    when: &'static [(&'static str, &'static [&'static str])],
    kind: KindFrom,
    evidence: &'static str,
) -> CodeRule {
    CodeRule {
        code,
        edges,
        when,
        kind,
        timing: Timing::State,
        state: None,
        evidence,
    }
}

/// The table, most specific first.
pub const RULES: &[CodeRule] = &[
    // ---- Doorbell presses ------------------------------------------------------------------
    row(
        "_DoTalkAction_",
        RISING,
        &[("Action", &["Invite"])],
        KindFrom::Fixed(Ring),
        "AD110 press: Pulse with Action=Invite (python-amcrest#137 capture; amcrest2mqtt AD110)",
    ),
    // Start/Stop is the call's state: Stop clears the ring (never a press), so the next press
    // within the ring auto-clear rings again.
    row(
        "CallNoAnswered",
        ALL_EDGES,
        &[],
        KindFrom::Fixed(Ring),
        "AD110/AD410/VTO press: Start, Stop at the end of the call (python-amcrest#137, rroller/dahua#52, HA docs #24740)",
    ),
    row(
        "PhoneCallDetect",
        ALL_EDGES,
        &[],
        KindFrom::Fixed(Ring),
        "Amcrest press: Start or Pulse (rroller/dahua translate_event_code, Scrypted amcrest)",
    ),
    row(
        "BackKeyLight",
        RISING,
        &[("State", &["1", "2"])],
        KindFrom::Fixed(Ring),
        "VTO: State 1 or 2 is a call (rroller/dahua README table and translate_event_code)",
    ),
    // AlarmLocal fires on motion on the AD110 and is an alarm input on cameras: never a ring
    // (python-amcrest#137, amcrest2mqtt b84537d). A user who wired a bell can make it one
    // with ring_input.
    row(
        "AlarmLocal",
        ALL_EDGES,
        &[],
        KindFrom::Fixed(Input),
        "alarm input, AD110 motion (python-amcrest#137; amcrest2mqtt b84537d)",
    ),
    // ---- Door ------------------------------------------------------------------------------
    CodeRule {
        code: "DoorStatus",
        edges: ALL_EDGES,
        when: &[("Status", &["Open", "Close"])],
        kind: KindFrom::Fixed(Door),
        timing: Timing::State,
        state: Some(("Status", &["Open"])),
        evidence: "VTO door contact: DoorStatus Pulse with Status Open/Close (elad-bar/DahuaVTO2MQTT MQTTEvents.MD; rroller/dahua)",
    },
    // ---- Motion ----------------------------------------------------------------------------
    row(
        "VideoMotion",
        ALL_EDGES,
        &[],
        KindFrom::Fixed(Motion),
        "video motion Start/Stop (rroller/dahua#166 capture)",
    ),
    row(
        "ProfileAlarmTransmit",
        ALL_EDGES,
        &[],
        KindFrom::Fixed(Motion),
        "AD110 PIR, SenseMethod PassiveInfrared (python-amcrest#137 capture)",
    ),
    // ---- Person and vehicle ----------------------------------------------------------------
    row(
        "SmartMotionHuman",
        ALL_EDGES,
        &[],
        KindFrom::Fixed(Person),
        "smart motion (rroller/dahua client.py code list; Scrypted amcrest-api.ts)",
    ),
    row(
        "SmartMotionVehicle",
        ALL_EDGES,
        &[],
        KindFrom::Fixed(Vehicle),
        "smart motion (rroller/dahua client.py code list; Scrypted amcrest-api.ts)",
    ),
    row(
        "CrossRegionDetection",
        ALL_EDGES,
        &[],
        KindFrom::Object {
            items: OBJECT_ITEMS,
            map: OBJECTS,
            otherwise: Intrusion,
        },
        "IVS intrusion with object type (rroller translate_event_code; Scrypted; AD410 #52)",
    ),
    row(
        "CrossLineDetection",
        ALL_EDGES,
        &[],
        KindFrom::Object {
            items: OBJECT_ITEMS,
            map: OBJECTS,
            otherwise: LineCrossing,
        },
        "IVS tripwire with object type (rroller translate_event_code; Scrypted)",
    ),
];

/// What the table makes of a Dahua notification (from [`super::codes::Code::to_notification`]).
pub fn classify(n: &Notification) -> Derived {
    let action = n.data.get("action").unwrap_or_default();
    derive(RULES, code_of(n), Action::parse(action).edge(), &n.data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dahua::codes::parse;

    fn kind_of(body: &str) -> (Kind, bool, Timing) {
        let d = classify(&parse(body).unwrap().to_notification());
        (d.kind, d.active, d.timing)
    }

    #[test]
    fn every_row_has_evidence_and_a_unique_code_and_condition() {
        assert!(!RULES.is_empty());
        for (i, r) in RULES.iter().enumerate() {
            assert!(!r.evidence.trim().is_empty(), "row {i} has no evidence");
            let dup = RULES[..i]
                .iter()
                .any(|p| p.code == r.code && p.when == r.when && p.edges == r.edges);
            assert!(!dup, "row {i} ({}) repeats an earlier row", r.code);
        }
    }

    #[test]
    fn ring_codes_ring() {
        let invite = "Code=_DoTalkAction_;action=Pulse;index=0;data={\"Action\":\"Invite\"}";
        assert_eq!(
            kind_of(invite),
            (Ring, true, Timing::Pulse(crate::rules::HOLD_RING))
        );
        assert_eq!(
            kind_of("Code=CallNoAnswered;action=Start;index=0"),
            (Ring, true, Timing::State)
        );
        assert_eq!(kind_of("Code=PhoneCallDetect;action=Start;index=0").0, Ring);
        assert_eq!(kind_of("Code=PhoneCallDetect;action=Pulse;index=0").0, Ring);
        for state in ["1", "2"] {
            let body = format!("Code=BackKeyLight;action=Pulse;index=0;data={{\"State\":{state}}}");
            assert_eq!(kind_of(&body).0, Ring, "State {state}");
        }
    }

    #[test]
    fn codes_that_look_like_a_press_but_are_not_do_not_ring() {
        let hangup = "Code=_DoTalkAction_;action=Pulse;index=0;data={\"Action\":\"Hangup\"}";
        assert_eq!(kind_of(hangup).0, Other);
        let unlock = "Code=BackKeyLight;action=Pulse;index=0;data={\"State\":8}";
        assert_eq!(kind_of(unlock).0, Other);
        // The end of an unanswered call is not a press: it clears the ring.
        assert_eq!(
            kind_of("Code=CallNoAnswered;action=Stop;index=0"),
            (Ring, false, Timing::State)
        );
    }

    #[test]
    fn alarm_local_never_rings() {
        for action in ["Start", "Stop", "Pulse"] {
            let body = format!("Code=AlarmLocal;action={action};index=0");
            assert_eq!(kind_of(&body).0, Input, "{action}");
        }
    }

    #[test]
    fn start_and_stop_are_state_and_pulse_a_pulse() {
        assert_eq!(
            kind_of("Code=VideoMotion;action=Start;index=0"),
            (Motion, true, Timing::State)
        );
        assert_eq!(
            kind_of("Code=VideoMotion;action=Stop;index=0"),
            (Motion, false, Timing::State)
        );
        assert_eq!(
            kind_of("Code=ProfileAlarmTransmit;action=Pulse;index=0"),
            (Motion, true, Timing::Pulse(crate::rules::HOLD_DEFAULT))
        );
    }

    #[test]
    fn object_types_choose_person_vehicle_or_the_detector_kind() {
        let human = "Code=CrossRegionDetection;action=Start;index=0;data={\"Object\":{\"ObjectType\":\"Human\"}}";
        assert_eq!(kind_of(human).0, Person);
        let car = "Code=CrossLineDetection;action=Start;index=0;data={\"ObjectType\":\"Vehicle\"}";
        assert_eq!(kind_of(car).0, Vehicle);
        assert_eq!(
            kind_of("Code=CrossLineDetection;action=Start;index=0").0,
            LineCrossing
        );
        assert_eq!(
            kind_of("Code=CrossRegionDetection;action=Stop;index=0").0,
            Intrusion
        );
        assert_eq!(
            kind_of("Code=SmartMotionHuman;action=Start;index=0").0,
            Person
        );
        assert_eq!(
            kind_of("Code=SmartMotionVehicle;action=Stop;index=0").0,
            Vehicle
        );
    }

    #[test]
    fn a_vto_door_status_is_the_door_state() {
        let open = "Code=DoorStatus;action=Pulse;index=0;data={\"Status\":\"Open\"}";
        assert_eq!(kind_of(open), (Door, true, Timing::State));
        let close = "Code=DoorStatus;action=Pulse;index=0;data={\"Status\":\"Close\"}";
        assert_eq!(kind_of(close), (Door, false, Timing::State));
        assert_eq!(kind_of("Code=DoorStatus;action=Pulse;index=0").0, Other);
    }

    #[test]
    fn unknown_codes_are_kind_other_never_dropped() {
        let d = classify(
            &parse("Code=NewFile;action=Pulse;index=0")
                .unwrap()
                .to_notification(),
        );
        assert_eq!((d.kind, d.active, d.rule), (Other, true, None));
    }
}
