//! One Dahua event body, `Code=CallNoAnswered;action=Start;index=0;data={...}`, into a typed
//! [`Code`] and then a [`Notification`] (topic `dahua:<Code>`, Source `index`, Data `action`
//! followed by the JSON `data` flattened, e.g. `Action` = `Invite`, `Object.ObjectType` =
//! `Human`).
//!
//! Forgiving (vendor-apis.md §1.2–1.3): keys in any case, spaces around `;` and `=`, a pair
//! split over two lines (`...;index` then `=6`, AD110), pretty-printed JSON over many lines
//! (taken to the end of the body), JSON that does not parse (kept raw, cut). Bounded: the
//! body is at most [`super::stream::MAX_PART`]; pairs, names and values have limits here.

use crate::event::{Items, Operation};
use crate::onvif::Notification;
use crate::vendor::{Edge, MAX_JSON_VALUE, cut, flatten_json};

/// Longest code name accepted (the longest known, `CrossRegionDetection`, has 20).
pub const MAX_CODE: usize = 64;
/// Most `key=value` pairs read before `data`.
pub const MAX_PAIRS: usize = 16;
/// Longest value of a pair before `data`, in bytes.
pub const MAX_PAIR_VALUE: usize = 128;

/// The topic prefix of Dahua notifications.
pub const TOPIC_PREFIX: &str = "dahua:";

/// The `action` of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A state begins.
    Start,
    /// A state ends.
    Stop,
    /// An occurrence with no end.
    Pulse,
    /// Anything else (`State` on `VideoMotionInfo`, ...), as sent (cut).
    Other(String),
}

impl Action {
    /// Reads an `action` value, any case.
    pub fn parse(text: &str) -> Self {
        match text.trim() {
            t if t.eq_ignore_ascii_case("start") => Self::Start,
            t if t.eq_ignore_ascii_case("stop") => Self::Stop,
            t if t.eq_ignore_ascii_case("pulse") => Self::Pulse,
            t => Self::Other(cut(t, MAX_PAIR_VALUE).to_owned()),
        }
    }

    /// The text sent for it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Start => "Start",
            Self::Stop => "Stop",
            Self::Pulse => "Pulse",
            Self::Other(s) => s,
        }
    }

    /// The edge it reports: `Start`/`Stop` are states, anything else an occurrence.
    pub fn edge(&self) -> Edge {
        match self {
            Self::Start => Edge::Start,
            Self::Stop => Edge::Stop,
            Self::Pulse | Self::Other(_) => Edge::Pulse,
        }
    }
}

/// One parsed event body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    /// The code, e.g. `CallNoAnswered`.
    pub code: String,
    /// The action.
    pub action: Action,
    /// `index`: the 0-based channel (NVRs), when sent and numeric.
    pub index: Option<u32>,
    /// The `data` JSON flattened, other pairs before it, in order.
    pub data: Items,
}

/// Why a body is not an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// No `Code=` pair.
    #[error("no Code= in the event body; expected Code=<name>;action=<Start|Stop|Pulse>")]
    NoCode,
    /// The code is empty, too long or has characters a code never has.
    #[error("the event code is not a name (at most {MAX_CODE} letters, digits and _)")]
    BadCode,
}

/// Parses one event body (a part from [`super::stream::PartReader`]).
pub fn parse(body: &str) -> Result<Code, CodeError> {
    let (head, json) = split_data(body);
    // Joining the lines of the head mends a pair split over two lines.
    let head: String = head.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    let mut code = None;
    let mut action = Action::Other(String::new());
    let mut index = None;
    let mut data = Items::default();
    for pair in head.split(';').take(MAX_PAIRS) {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if key.eq_ignore_ascii_case("code") {
            code = Some(value);
        } else if key.eq_ignore_ascii_case("action") {
            action = Action::parse(value);
        } else if key.eq_ignore_ascii_case("index") {
            index = value.parse().ok();
        } else if !key.is_empty() && key.len() <= MAX_PAIR_VALUE {
            data.0
                .push((key.to_owned(), cut(value, MAX_PAIR_VALUE).to_owned()));
        }
    }
    let code = code.ok_or(CodeError::NoCode)?;
    let valid = !code.is_empty()
        && code.len() <= MAX_CODE
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid {
        return Err(CodeError::BadCode);
    }
    if let Some(json) = json.map(str::trim).filter(|j| !j.is_empty()) {
        match serde_json::from_str::<serde_json::Value>(json) {
            Ok(value) => flatten_json(&value, &mut data),
            Err(_) => data
                .0
                .push(("data".to_owned(), cut(json, MAX_JSON_VALUE).to_owned())),
        }
    }
    Ok(Code {
        code: code.to_owned(),
        action,
        index,
        data,
    })
}

/// The body before `data=` and the JSON after it (to the end of the body: it spans lines).
fn split_data(body: &str) -> (&str, Option<&str>) {
    let lower = body.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("data") {
        let at = from + i;
        let before_ok = at == 0 || matches!(lower.as_bytes()[at - 1], b';' | b' ' | b'\n' | b'\r');
        let rest = &body[at + 4..];
        if before_ok && let Some(value) = rest.trim_start().strip_prefix('=') {
            return (&body[..at], Some(value));
        }
        from = at + 4;
    }
    (body, None)
}

impl Code {
    /// The notification the rules read: topic `dahua:<code>`, Source `index`, Data `action`
    /// then the other pairs and the JSON items. Dahua sends no time, so `utc_time` is empty.
    pub fn to_notification(&self) -> Notification {
        let mut data = Items(vec![("action".to_owned(), self.action.as_str().to_owned())]);
        data.0.extend(self.data.0.iter().cloned());
        let source = Items(
            self.index
                .map(|i| vec![("index".to_owned(), i.to_string())])
                .unwrap_or_default(),
        );
        Notification {
            topic: format!("{TOPIC_PREFIX}{}", self.code),
            raw_topic: self.code.clone(),
            source,
            data,
            operation: Some(Operation::Changed),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_press_with_multi_line_json_is_parsed() {
        let body = "Code=_DoTalkAction_;action=Pulse;index=0;data={\n   \"Action\" : \"Invite\",\n   \"CallID\" : \"16\",\n   \"CallSrcMask\" : 4\n}";
        let c = parse(body).unwrap();
        assert_eq!(c.code, "_DoTalkAction_");
        assert_eq!(c.action, Action::Pulse);
        assert_eq!(c.index, Some(0));
        assert_eq!(c.data.get("Action"), Some("Invite"));
        assert_eq!(c.data.get("CallSrcMask"), Some("4"));
        let n = c.to_notification();
        assert_eq!(n.topic, "dahua:_DoTalkAction_");
        assert_eq!(n.source.get("index"), Some("0"));
        assert_eq!(n.data.get("action"), Some("Pulse"));
        assert_eq!(n.data.get("Action"), Some("Invite"));
        assert_eq!(n.operation, Some(Operation::Changed));
    }

    #[test]
    fn a_pair_split_over_two_lines_is_joined() {
        let c = parse("Code=ProfileAlarmTransmit;action=Start;index\r\n=6").unwrap();
        assert_eq!(c.index, Some(6));
        assert_eq!(c.action, Action::Start);
    }

    #[test]
    fn keys_in_any_case_and_spaces_are_accepted() {
        let c = parse(" code = VideoMotion ; Action = stop ; INDEX = 2 ").unwrap();
        assert_eq!(
            (c.code.as_str(), c.action, c.index),
            ("VideoMotion", Action::Stop, Some(2))
        );
    }

    #[test]
    fn other_actions_are_kept_as_sent() {
        let c = parse("Code=VideoMotionInfo;action=State;index=0").unwrap();
        assert_eq!(c.action, Action::Other("State".into()));
        assert_eq!(c.action.edge(), Edge::Pulse);
    }

    #[test]
    fn nested_object_types_are_flattened() {
        let body = "Code=CrossRegionDetection;action=Start;index=0;data={\"Object\":{\"ObjectType\":\"Human\",\"ObjectID\":12},\"Name\":\"Rule1\"}";
        let c = parse(body).unwrap();
        assert_eq!(c.data.get("Object.ObjectType"), Some("Human"));
        assert_eq!(c.data.get("Name"), Some("Rule1"));
    }

    #[test]
    fn broken_json_is_kept_raw_and_cut() {
        let body = format!("Code=X;action=Start;data={{\"a\": {}", "1,".repeat(1000));
        let c = parse(&body).unwrap();
        assert!(c.data.get("data").unwrap().len() <= MAX_JSON_VALUE);
    }

    #[test]
    fn a_body_without_a_code_is_an_error_that_says_what_was_expected() {
        assert_eq!(parse("Heartbeat"), Err(CodeError::NoCode));
        assert_eq!(parse("action=Start;index=0"), Err(CodeError::NoCode));
        assert!(CodeError::NoCode.to_string().contains("Code=<name>"));
        assert_eq!(parse("Code=;action=Start"), Err(CodeError::BadCode));
        assert_eq!(parse("Code=a/b;action=Start"), Err(CodeError::BadCode));
        let long = format!("Code={};action=Start", "A".repeat(MAX_CODE + 1));
        assert_eq!(parse(&long), Err(CodeError::BadCode));
    }

    #[test]
    fn a_word_containing_data_is_not_the_data_pair() {
        let c = parse("Code=NewFile;action=Pulse;metadata=x;data={\"File\":\"a.jpg\"}").unwrap();
        assert_eq!(c.data.get("metadata"), Some("x"));
        assert_eq!(c.data.get("File"), Some("a.jpg"));
    }

    #[test]
    fn pairs_are_bounded() {
        let body = format!("Code=A;action=Start;{}", "k=v;".repeat(10_000));
        let c = parse(&body).unwrap();
        assert!(c.data.0.len() <= MAX_PAIRS);
    }
}
