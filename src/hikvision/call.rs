//! Door-station call status: `GET /ISAPI/VideoIntercom/callStatus?format=json` answers
//! `{"CallStatus":{"status":"idle"}}`, `ring` during a call, `onCall` once answered
//! (node-red-contrib-hikvision-ultimate#23 capture; Scrypted polls every second). The pure
//! [`CallTracker`] turns successive polls into notifications: `idle` -> `ring` is a press,
//! `ring` -> `onCall` answered, back to `idle` the end of the call.

use crate::event::{Items, Operation};
use crate::onvif::Notification;

use super::alert::TOPIC_PREFIX;

/// The request path.
pub const CALL_STATUS_PATH: &str = "/ISAPI/VideoIntercom/callStatus?format=json";
/// Largest call-status body read, in bytes (real ones are about 40).
pub const MAX_CALL_STATUS: usize = 4096;
/// The topic of call notifications.
pub const CALL_TOPIC: &str = "hikvision:callStatus";

/// The station's call state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatus {
    /// No call.
    Idle,
    /// A visitor is calling (the press).
    Ring,
    /// The call was answered.
    OnCall,
}

/// Why a call-status body was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallStatusError {
    /// Larger than [`MAX_CALL_STATUS`].
    #[error("the call status answer is larger than {MAX_CALL_STATUS} bytes")]
    TooLarge,
    /// Not `{"CallStatus":{"status":...}}`.
    #[error(
        "the call status answer is not {{\"CallStatus\":{{\"status\":...}}}}; does this station support {CALL_STATUS_PATH}?"
    )]
    Shape,
    /// A status other than idle, ring, onCall.
    #[error("unknown call status {0:?} (expected idle, ring or onCall)")]
    Unknown(String),
}

/// Parses a call-status body.
pub fn parse(body: &[u8]) -> Result<CallStatus, CallStatusError> {
    if body.len() > MAX_CALL_STATUS {
        return Err(CallStatusError::TooLarge);
    }
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| CallStatusError::Shape)?;
    let status = value
        .get("CallStatus")
        .and_then(|c| c.get("status"))
        .and_then(|s| s.as_str())
        .ok_or(CallStatusError::Shape)?;
    match status.trim() {
        s if s.eq_ignore_ascii_case("idle") => Ok(CallStatus::Idle),
        s if s.eq_ignore_ascii_case("ring") || s.eq_ignore_ascii_case("ringing") => {
            Ok(CallStatus::Ring)
        }
        s if s.eq_ignore_ascii_case("onCall") => Ok(CallStatus::OnCall),
        s => Err(CallStatusError::Unknown(
            crate::vendor::cut(s, 64).to_owned(),
        )),
    }
}

impl CallStatus {
    /// The status as the device writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Ring => "ring",
            Self::OnCall => "onCall",
        }
    }
}

/// What a change of call status means, the `call` data item of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallChange {
    /// A visitor pressed the button.
    Press,
    /// Someone answered.
    Answered,
    /// The call ended (answered or not).
    Ended,
}

impl CallChange {
    /// The `call` item value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Press => "press",
            Self::Answered => "answered",
            Self::Ended => "ended",
        }
    }
}

/// Successive polls into changes. The first poll is only the starting point (a call already
/// ringing when the bridge starts is not reported as a new press).
#[derive(Debug, Clone, Default)]
pub struct CallTracker {
    last: Option<CallStatus>,
}

impl CallTracker {
    /// A tracker that has seen no poll.
    pub fn new() -> Self {
        Self::default()
    }

    /// The changes from the previous poll to `now`, in order (at most two: a press answered
    /// between two polls is a press and an answer).
    pub fn observe(&mut self, now: CallStatus) -> Vec<CallChange> {
        use CallChange::*;
        use CallStatus::*;
        let Some(before) = self.last.replace(now) else {
            return Vec::new();
        };
        match (before, now) {
            (Idle, Ring) | (OnCall, Ring) => vec![Press],
            (Idle, OnCall) => vec![Press, Answered],
            (Ring, OnCall) => vec![Answered],
            (Ring | OnCall, Idle) => vec![Ended],
            _ => Vec::new(),
        }
    }

    /// Forgets the last poll (after a reconnect the next poll is a new starting point).
    pub fn reset(&mut self) {
        self.last = None;
    }
}

/// The notification for a change: topic `hikvision:callStatus`, Data `call` and `status`.
pub fn to_notification(change: CallChange, status: CallStatus) -> Notification {
    debug_assert!(CALL_TOPIC.starts_with(TOPIC_PREFIX));
    Notification {
        topic: CALL_TOPIC.to_owned(),
        raw_topic: "callStatus".to_owned(),
        data: Items(vec![
            ("call".to_owned(), change.as_str().to_owned()),
            ("status".to_owned(), status.as_str().to_owned()),
        ]),
        operation: Some(Operation::Changed),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CallChange::*;
    use CallStatus::*;

    #[test]
    fn call_status_bodies_are_parsed() {
        assert_eq!(parse(br#"{"CallStatus":{"status":"idle"}}"#), Ok(Idle));
        assert_eq!(
            parse(br#"{ "CallStatus" : { "status" : "ring" } }"#),
            Ok(Ring)
        );
        assert_eq!(parse(br#"{"CallStatus":{"status":"onCall"}}"#), Ok(OnCall));
        assert_eq!(parse(b"<xml/>"), Err(CallStatusError::Shape));
        assert_eq!(parse(br#"{"status":"idle"}"#), Err(CallStatusError::Shape));
        assert_eq!(
            parse(br#"{"CallStatus":{"status":"busy"}}"#),
            Err(CallStatusError::Unknown("busy".into()))
        );
        assert_eq!(
            parse(&[b' '; MAX_CALL_STATUS + 1]),
            Err(CallStatusError::TooLarge)
        );
    }

    #[test]
    fn idle_to_ring_is_a_press_then_answered_then_ended() {
        let mut t = CallTracker::new();
        assert!(t.observe(Idle).is_empty());
        assert!(t.observe(Idle).is_empty());
        assert_eq!(t.observe(Ring), vec![Press]);
        assert!(
            t.observe(Ring).is_empty(),
            "a ring over several polls is one press"
        );
        assert_eq!(t.observe(OnCall), vec![Answered]);
        assert_eq!(t.observe(Idle), vec![Ended]);
    }

    #[test]
    fn an_unanswered_call_ends_and_a_fast_answer_is_both() {
        let mut t = CallTracker::new();
        t.observe(Idle);
        assert_eq!(t.observe(Ring), vec![Press]);
        assert_eq!(t.observe(Idle), vec![Ended]);
        assert_eq!(t.observe(OnCall), vec![Press, Answered]);
    }

    #[test]
    fn a_call_ringing_at_the_first_poll_is_not_a_press() {
        let mut t = CallTracker::new();
        assert!(t.observe(Ring).is_empty());
        t.reset();
        assert!(t.observe(Ring).is_empty());
        assert_eq!(t.observe(Idle), vec![Ended]);
    }

    #[test]
    fn notifications_name_the_change() {
        let n = to_notification(Press, Ring);
        assert_eq!(n.topic, CALL_TOPIC);
        assert_eq!(n.data.get("call"), Some("press"));
        assert_eq!(n.data.get("status"), Some("ring"));
    }
}
