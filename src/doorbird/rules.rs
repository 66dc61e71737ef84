//! The DoorBird code table: which event a request of the device names, and the kind it makes.
//! Each call of a favorite is one occurrence with no falling edge, so every row reads as a
//! pulse: the per-kind hold clears it, and the normaliser's ring window makes one ring of a
//! press however often the device calls.

use crate::event::Kind::{Motion, Ring};
use crate::onvif::Notification;
use crate::rules::Timing;
use crate::vendor::{CodeRule, Derived, Edge, KindFrom, RISING, code_of, derive};

/// The table. The code is the `event` the bridge's favorite URL carries, named after the
/// schedule input it is linked to.
pub const RULES: &[CodeRule] = &[
    CodeRule {
        code: "doorbell",
        edges: RISING,
        when: &[],
        kind: KindFrom::Fixed(Ring),
        timing: Timing::State,
        state: None,
        evidence: "schedule input doorbell calls the favorite on a press (vendor-apis.md §3.1; HA doorbird event.py: event_types [\"ring\"])",
    },
    CodeRule {
        code: "motion",
        edges: RISING,
        when: &[],
        kind: KindFrom::Fixed(Motion),
        timing: Timing::State,
        state: None,
        evidence: "schedule input motion calls the favorite on motion (vendor-apis.md §3.1; HA doorbird event.py: event_types [\"motion\"])",
    },
];

/// What the table makes of a DoorBird notification (from [`super::to_notification`]): a
/// pulse, always.
pub fn classify(n: &Notification) -> Derived {
    derive(RULES, code_of(n), Edge::Pulse, &n.data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doorbird::to_notification;
    use crate::event::Kind;

    #[test]
    fn every_row_has_evidence_and_a_unique_code() {
        assert!(!RULES.is_empty());
        for (i, r) in RULES.iter().enumerate() {
            assert!(!r.evidence.trim().is_empty(), "row {i} has no evidence");
            assert!(
                !RULES[..i].iter().any(|p| p.code == r.code),
                "row {i} ({}) repeats an earlier row",
                r.code
            );
        }
    }

    #[test]
    fn a_press_rings_and_motion_is_motion_both_as_pulses() {
        let ring = classify(&to_notification("event=doorbell").unwrap());
        assert_eq!(
            (ring.kind, ring.active, ring.rule),
            (Kind::Ring, true, Some(0))
        );
        assert_eq!(ring.timing, Timing::Pulse(crate::rules::HOLD_RING));
        let motion = classify(&to_notification("event=motion").unwrap());
        assert_eq!((motion.kind, motion.active), (Kind::Motion, true));
        assert!(matches!(motion.timing, Timing::Pulse(_)));
    }

    #[test]
    fn an_event_no_row_knows_is_other() {
        let d = classify(&to_notification("event=dooropen").unwrap());
        assert_eq!((d.kind, d.rule), (Kind::Other, None));
    }
}
