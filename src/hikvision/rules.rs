//! The Hikvision `eventType` table: which alert (and call-status change) makes which kind.
//! Evidence per row from vendor-apis.md §2.2-2.3. `eventState` gives the edge (`active`
//! rising, `inactive` falling). Many types post only `active`, repeatedly, and never
//! `inactive` (pyHik `update_stale` clears them after 5 s): those rows are pulses, cleared by
//! the per-kind hold; an `inactive` still ends them early.

use crate::event::Kind::{self, *};
use crate::onvif::Notification;
use crate::rules::{HOLD_DEFAULT, HOLD_RING, Timing};
use crate::vendor::{ALL_EDGES, CodeRule, Derived, Edge, KindFrom, RISING, code_of, derive};

/// `detectionTarget` values (maciej-or/hikvision_next fielddetection_human.xml fixture).
const TARGETS: &[(&str, Kind)] = &[("human", Person), ("vehicle", Vehicle)];
const TARGET_ITEMS: &[&str] = &["detectionTarget"];

const fn row(
    code: &'static str,
    kind: KindFrom,
    timing: Timing,
    evidence: &'static str,
) -> CodeRule {
    CodeRule {
        code,
        edges: ALL_EDGES,
        when: &[],
        kind,
        timing,
        state: None,
        evidence,
    }
}

const fn target(code: &'static str, otherwise: Kind, evidence: &'static str) -> CodeRule {
    row(
        code,
        KindFrom::Object {
            items: TARGET_ITEMS,
            map: TARGETS,
            otherwise,
        },
        Timing::Pulse(HOLD_DEFAULT),
        evidence,
    )
}

/// The table, most specific first.
pub const RULES: &[CodeRule] = &[
    // ---- Doorbell presses ------------------------------------------------------------------
    CodeRule {
        code: "callStatus",
        edges: RISING,
        when: &[("call", &["press"])],
        kind: KindFrom::Fixed(Ring),
        timing: Timing::Pulse(HOLD_RING),
        state: None,
        evidence: "KV6113/KV8113/KD8003 idle -> ring (node-red-contrib-hikvision-ultimate#23; Scrypted getCallStatus)",
    },
    CodeRule {
        code: "AccessControllerEvent",
        edges: RISING,
        when: &[("major", &["3"]), ("minor", &["1024"])],
        kind: KindFrom::Fixed(Ring),
        timing: Timing::Pulse(HOLD_RING),
        state: None,
        evidence: "DS-KV6113 press: major 3 / minor 1024 (Hikvision-Addons#260, one report)",
    },
    // ---- Door ------------------------------------------------------------------------------
    CodeRule {
        code: "AccessControllerEvent",
        edges: ALL_EDGES,
        when: &[("major", &["5"]), ("minor", &["25", "26"])],
        kind: KindFrom::Fixed(Door),
        timing: Timing::State,
        state: Some(("minor", &["25"])),
        evidence: "ACS door opened 5/25, closed 5/26 (Scrypted hikvision-doorbell doorbell-api.ts EventCodeMap)",
    },
    // ---- Motion ----------------------------------------------------------------------------
    row(
        "VMD",
        KindFrom::Fixed(Motion),
        Timing::Pulse(HOLD_DEFAULT),
        "video motion (pyHik SENSOR_MAP; HikSink samples_cam.txt)",
    ),
    row(
        "PIR",
        KindFrom::Fixed(Motion),
        Timing::Pulse(HOLD_DEFAULT),
        "PIR (pyHik SENSOR_MAP; hikvision_next pir.xml)",
    ),
    // ---- Person, vehicle, intrusion, line ----------------------------------------------------
    target(
        "fielddetection",
        Intrusion,
        "intrusion, detectionTarget human/vehicle (hikvision_next fielddetection_human.xml; pyHik)",
    ),
    target(
        "regionEntrance",
        Intrusion,
        "region entrance (pyHik SENSOR_MAP)",
    ),
    target(
        "regionExiting",
        Intrusion,
        "region exiting (pyHik SENSOR_MAP)",
    ),
    target(
        "linedetection",
        LineCrossing,
        "line crossing (pyHik SENSOR_MAP)",
    ),
    // ---- Tamper, input ---------------------------------------------------------------------
    row(
        "tamperdetection",
        KindFrom::Fixed(Tamper),
        Timing::Pulse(HOLD_DEFAULT),
        "video tampering (pyHik SENSOR_MAP)",
    ),
    row(
        "shelteralarm",
        KindFrom::Fixed(Tamper),
        Timing::Pulse(HOLD_DEFAULT),
        "video blocked (pyHik SENSOR_MAP)",
    ),
    row(
        "IO",
        KindFrom::Fixed(Input),
        Timing::State,
        "alarm input (pyHik SENSOR_MAP)",
    ),
];

/// The edge an alert reports: `active` rising, `inactive` falling, anything else a pulse.
pub fn edge(n: &Notification) -> Edge {
    match n.data.get("eventState").map(str::trim) {
        Some(s) if s.eq_ignore_ascii_case("active") => Edge::Start,
        Some(s) if s.eq_ignore_ascii_case("inactive") => Edge::Stop,
        _ => Edge::Pulse,
    }
}

/// What the table makes of a Hikvision notification (an alert or a call-status change).
pub fn classify(n: &Notification) -> Derived {
    derive(RULES, code_of(n), edge(n), &n.data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hikvision::alert::{Alert, read_xml};
    use crate::hikvision::call::{CallChange, CallStatus, to_notification};

    fn alert(event_type: &str, state: &str, extra: &str) -> Notification {
        let xml = format!(
            "<EventNotificationAlert version=\"2.0\" xmlns=\"http://www.hikvision.com/ver20/XMLSchema\"><channelID>1</channelID><eventType>{event_type}</eventType><eventState>{state}</eventState>{extra}</EventNotificationAlert>"
        );
        match read_xml(&xml) {
            Alert::Event(n) => n,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_row_has_evidence() {
        assert!(!RULES.is_empty());
        assert!(RULES.iter().all(|r| !r.evidence.trim().is_empty()));
    }

    #[test]
    fn event_types_map_to_kinds() {
        let cases = [
            ("VMD", "", Motion),
            ("PIR", "", Motion),
            (
                "fielddetection",
                "<detectionTarget>human</detectionTarget>",
                Person,
            ),
            (
                "linedetection",
                "<detectionTarget>vehicle</detectionTarget>",
                Vehicle,
            ),
            ("regionEntrance", "", Intrusion),
            ("regionExiting", "", Intrusion),
            ("linedetection", "", LineCrossing),
            ("tamperdetection", "", Tamper),
            ("shelteralarm", "", Tamper),
            ("IO", "", Input),
            ("facedetection", "", Other),
        ];
        for (t, extra, kind) in cases {
            let d = classify(&alert(t, "active", extra));
            assert_eq!((d.kind, d.active), (kind, true), "{t} {extra}");
        }
        let off = classify(&alert("VMD", "inactive", ""));
        assert_eq!((off.kind, off.active), (Motion, false));
    }

    #[test]
    fn active_only_types_are_cleared_by_the_hold() {
        assert_eq!(
            classify(&alert("VMD", "active", "")).timing,
            Timing::Pulse(HOLD_DEFAULT)
        );
        assert_eq!(classify(&alert("IO", "active", "")).timing, Timing::State);
    }

    #[test]
    fn only_access_controller_event_3_1024_rings() {
        let extra = |major: u32, minor: u32| {
            format!(
                "<AccessControllerEvent><majorEventType>{major}</majorEventType><subEventType>{minor}</subEventType></AccessControllerEvent>"
            )
        };
        let press = classify(&alert("AccessControllerEvent", "active", &extra(3, 1024)));
        assert_eq!((press.kind, press.active), (Ring, true));
        let unlocked = classify(&alert("AccessControllerEvent", "active", &extra(5, 21)));
        assert_eq!(unlocked.kind, Other);
    }

    #[test]
    fn access_control_door_events_are_the_door_state() {
        let extra = |minor: u32| {
            format!(
                "<AccessControllerEvent><majorEventType>5</majorEventType><subEventType>{minor}</subEventType></AccessControllerEvent>"
            )
        };
        let opened = classify(&alert("AccessControllerEvent", "active", &extra(25)));
        assert_eq!(
            (opened.kind, opened.active, opened.timing),
            (Door, true, Timing::State)
        );
        let closed = classify(&alert("AccessControllerEvent", "active", &extra(26)));
        assert_eq!((closed.kind, closed.active), (Door, false));
    }

    #[test]
    fn a_call_press_rings_and_answered_or_ended_are_other() {
        let press = classify(&to_notification(CallChange::Press, CallStatus::Ring));
        assert_eq!(
            (press.kind, press.active, press.timing),
            (Ring, true, Timing::Pulse(HOLD_RING))
        );
        for change in [CallChange::Answered, CallChange::Ended] {
            let d = classify(&to_notification(change, CallStatus::Idle));
            assert_eq!(d.kind, Other, "{change:?}");
        }
    }
}
