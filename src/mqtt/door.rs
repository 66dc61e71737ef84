//! What a message on `<base>/<camera>/door/set` asks (pure). Home Assistant's lock sends its
//! payload as is (`OPEN`, `UNLOCK`, `LOCK`) or, with a code configured, our
//! `command_template`'s JSON `{"action": "OPEN", "code": "1234"}` (`code` is `null` when the
//! user typed none). Whether the door opens is not decided here (`door::policy`).

use serde::Deserialize;

use super::MAX_DOOR_COMMAND_BYTES;
use crate::secret::Secret;

/// The lock's `command_template` when a code is configured: the action and the code as JSON.
pub const COMMAND_TEMPLATE: &str = r#"{"action":"{{ value }}","code":{{ code | tojson }}}"#;

/// What a door command asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DoorAction {
    /// Open the door (`OPEN`, or `UNLOCK`: a strike unlocks by opening), with the code given.
    Open(Option<Secret>),
    /// `LOCK`: nothing to do, the door locks by itself.
    Lock,
}

#[derive(Deserialize)]
struct Json {
    action: String,
    #[serde(default)]
    code: Option<serde_json::Value>,
}

/// Reads a door command; the error says what was wrong (never the payload, which may hold
/// a code).
pub fn parse(payload: &[u8]) -> Result<DoorAction, &'static str> {
    if payload.len() > MAX_DOOR_COMMAND_BYTES {
        return Err("too long for a door command");
    }
    let text = std::str::from_utf8(payload)
        .map_err(|_| "not UTF-8")?
        .trim();
    let (action, code) = if text.starts_with('{') {
        let json: Json = serde_json::from_str(text)
            .map_err(|_| "not the lock's JSON ({\"action\": \"OPEN\", \"code\": ...})")?;
        let code = match json.code {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) if s.is_empty() || s == "None" => None,
            Some(serde_json::Value::String(s)) => Some(Secret::new(s)),
            Some(serde_json::Value::Number(n)) => Some(Secret::new(n.to_string())),
            Some(_) => return Err("its code is neither text nor a number"),
        };
        (json.action, code)
    } else {
        (text.to_owned(), None)
    };
    match action.trim() {
        "OPEN" | "UNLOCK" => Ok(DoorAction::Open(code)),
        "LOCK" => Ok(DoorAction::Lock),
        _ => Err("not OPEN, UNLOCK or LOCK"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_templated_commands_are_read() {
        assert_eq!(parse(b"OPEN"), Ok(DoorAction::Open(None)));
        assert_eq!(parse(b" UNLOCK\n"), Ok(DoorAction::Open(None)));
        assert_eq!(parse(b"LOCK"), Ok(DoorAction::Lock));
        assert_eq!(
            parse(br#"{"action":"OPEN","code":"1234"}"#),
            Ok(DoorAction::Open(Some(Secret::new("1234"))))
        );
        assert_eq!(
            parse(br#"{"action":"OPEN","code":4711}"#),
            Ok(DoorAction::Open(Some(Secret::new("4711"))))
        );
        assert_eq!(
            parse(br#"{"action":"OPEN","code":null}"#),
            Ok(DoorAction::Open(None))
        );
        assert_eq!(parse(br#"{"action":"OPEN"}"#), Ok(DoorAction::Open(None)));
    }

    #[test]
    fn anything_else_is_refused_without_echoing_it() {
        for bad in [
            &b""[..],
            b"open",
            b"PRESS",
            b"{\"action\":\"OPEN\",\"code\":[1]}",
            b"{not json",
            b"\xff\xfe",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse(&[b'x'; MAX_DOOR_COMMAND_BYTES + 1]).is_err());
        let err = parse(br#"{"action":"DANCE","code":"9876"}"#).unwrap_err();
        assert!(!err.contains("9876"));
    }
}
