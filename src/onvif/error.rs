//! [`Error`]: what can go wrong talking to a camera, typed where the supervisor branches, and
//! the [`Retry`] advice it acts on.
//!
//! Every message names the camera URL (never with credentials) and, where the cause is known,
//! says what to do.

use std::time::Duration;

use super::soap::Fault;

/// Hint for credentials a camera rejected at the SOAP level.
pub const HINT_SOAP_AUTH: &str = "check the ONVIF user and its role; Hikvision needs an Administrator-level ONVIF user, and the camera clock must be roughly right";

/// Hint for credentials a camera rejected at the HTTP level.
pub const HINT_HTTP_AUTH: &str =
    "check the username and password (the camera answered HTTP 401 to Digest/Basic)";

/// What went wrong in an ONVIF call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The camera rejected our credentials (SOAP NotAuthorized fault or HTTP 401).
    #[error("{url}: authentication rejected ({detail}); {hint}")]
    Unauthorized {
        /// The URL called, without credentials.
        url: String,
        /// What the camera said.
        detail: String,
        /// What the user should check.
        hint: &'static str,
    },
    /// The pull point subscription is gone (expired, unknown, camera rebooted).
    #[error("{url}: subscription lost ({reason}); a new one is needed")]
    SubscriptionLost {
        /// The subscription address, without credentials.
        url: String,
        /// What the camera said.
        reason: String,
    },
    /// The camera does not implement this call.
    #[error("{url}: the camera does not support {action}")]
    NotSupported {
        /// The URL called.
        url: String,
        /// The SOAP action or operation name.
        action: String,
    },
    /// No complete answer in time.
    #[error("{url}: no answer within {after:?}; check that the camera is reachable")]
    Timeout {
        /// The URL called.
        url: String,
        /// The timeout that expired.
        after: Duration,
    },
    /// Any other SOAP fault.
    #[error("{url}: SOAP fault {code}{}: {reason}", subcode.as_deref().map(|s| format!(" / {s}")).unwrap_or_default())]
    Fault {
        /// The URL called.
        url: String,
        /// The fault code, e.g. `env:Receiver`.
        code: String,
        /// The innermost subcode, e.g. `ter:InvalidArgVal`.
        subcode: Option<String>,
        /// The human reason text.
        reason: String,
    },
    /// Connecting, TLS, or the connection broke.
    #[error("{url}: {detail}; check the address and that the camera is on the network")]
    Transport {
        /// The URL called.
        url: String,
        /// The transport error chain, as text.
        detail: String,
    },
    /// An HTTP error status without a SOAP fault.
    #[error("{url}: HTTP {status}")]
    Http {
        /// The URL called.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The answer was not what an ONVIF camera should send.
    #[error("{url}: malformed answer: {what}")]
    Malformed {
        /// The URL called.
        url: String,
        /// What was wrong.
        what: String,
    },
    /// The answer was larger than we accept.
    #[error("{url}: answer larger than {limit} bytes; stopped reading")]
    TooLarge {
        /// The URL called.
        url: String,
        /// The cap in bytes.
        limit: u64,
    },
}

/// What a supervisor should do after an [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Retrying soon will not help (credentials, unsupported camera): log once with the hint,
    /// report offline, retry only after a long wait.
    Fatal,
    /// The subscription is gone: create a new one at once (then back off if that fails too).
    Resubscribe,
    /// The camera answered with a transient error: retry with backoff.
    Backoff,
    /// No answer at all (refused, reset, timed out): probe cheaply until it answers; a
    /// subscription it held may still be there.
    Unreachable,
}

impl Error {
    /// The advice for this error.
    pub fn retry(&self) -> Retry {
        match self {
            Error::Unauthorized { .. } | Error::NotSupported { .. } => Retry::Fatal,
            Error::SubscriptionLost { .. } => Retry::Resubscribe,
            Error::Timeout { .. } | Error::Transport { .. } => Retry::Unreachable,
            Error::Fault { .. }
            | Error::Http { .. }
            | Error::Malformed { .. }
            | Error::TooLarge { .. } => Retry::Backoff,
        }
    }

    /// The same error naming `url` instead (a request whose query must not be printed).
    pub fn with_url(mut self, url: String) -> Error {
        match &mut self {
            Error::Unauthorized { url: u, .. }
            | Error::SubscriptionLost { url: u, .. }
            | Error::NotSupported { url: u, .. }
            | Error::Timeout { url: u, .. }
            | Error::Fault { url: u, .. }
            | Error::Transport { url: u, .. }
            | Error::Http { url: u, .. }
            | Error::Malformed { url: u, .. }
            | Error::TooLarge { url: u, .. } => *u = url,
        }
        self
    }

    /// Turns a SOAP fault from `url` into the most specific error.
    pub fn from_fault(url: &str, action: &str, fault: Fault) -> Error {
        let url = url.to_owned();
        if fault.is_not_authorized() {
            Error::Unauthorized {
                url,
                detail: fault.summary(),
                hint: HINT_SOAP_AUTH,
            }
        } else if fault.is_action_not_supported() {
            Error::NotSupported {
                url,
                action: short_action(action).to_owned(),
            }
        } else if fault.is_subscription_lost() {
            Error::SubscriptionLost {
                url,
                reason: fault.summary(),
            }
        } else {
            Error::Fault {
                url,
                code: fault.code,
                subcode: fault.subcode,
                reason: fault.reason,
            }
        }
    }

    /// Whether this came from a SOAP NotAuthorized fault (rather than HTTP 401).
    pub(crate) fn is_soap_auth(&self) -> bool {
        matches!(self, Error::Unauthorized { hint, .. } if *hint == HINT_SOAP_AUTH)
    }
}

/// The operation name of a SOAP action URI: `.../EventPortType/GetEventPropertiesRequest` ->
/// `GetEventPropertiesRequest`.
fn short_action(action: &str) -> &str {
    action.rsplit('/').next().unwrap_or(action)
}

/// `url` as text with any user name and password removed.
pub fn redact(url: &url::Url) -> String {
    if url.username().is_empty() && url.password().is_none() {
        return url.to_string();
    }
    let mut clean = url.clone();
    // Only fails for URLs that cannot have credentials, which then have none to remove.
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    clean.to_string()
}

/// A reqwest error chain as one line, without the URL reqwest would add (ours may carry a
/// query the camera considers private; we print the URL ourselves, redacted).
pub(crate) fn transport_detail(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    if text.contains("certificate") {
        text.push_str(HINT_TLS);
    }
    text
}

/// Added to a transport error about the camera's certificate (verified unless the camera's
/// `tls_insecure` is on).
pub const HINT_TLS: &str = " (the camera's HTTPS certificate is not trusted; if it is self-signed, set tls_insecure = true for this camera)";

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(code: &str, subcode: Option<&str>, reason: &str) -> Fault {
        Fault {
            code: code.into(),
            subcode: subcode.map(Into::into),
            reason: reason.into(),
        }
    }

    #[test]
    fn faults_become_typed_errors() {
        let table = [
            (
                fault(
                    "env:Sender",
                    Some("ter:NotAuthorized"),
                    "Sender not Authorized",
                ),
                Retry::Fatal,
            ),
            (
                fault("SOAP-ENV:Sender", Some("ter:ActionNotSupported"), "x"),
                Retry::Fatal,
            ),
            (
                fault("s:Receiver", Some("wsrf-rw:ResourceUnknownFault"), ""),
                Retry::Resubscribe,
            ),
            (
                fault("env:Receiver", None, "Subscription has expired"),
                Retry::Resubscribe,
            ),
            (
                fault("env:Receiver", Some("ter:InvalidArgVal"), "bad"),
                Retry::Backoff,
            ),
        ];
        assert!(!table.is_empty());
        for (f, want) in table {
            let text = format!("{f:?}");
            let err = Error::from_fault("http://cam/onvif", "a/b/PullMessagesRequest", f);
            assert_eq!(err.retry(), want, "{text}");
        }
    }

    #[test]
    fn messages_are_lowercase_and_hint() {
        let err = Error::from_fault(
            "http://10.0.0.2/onvif/device_service",
            "x",
            fault(
                "env:Sender",
                Some("ter:NotAuthorized"),
                "Sender not Authorized",
            ),
        );
        let text = err.to_string();
        assert!(text.starts_with("http://10.0.0.2/onvif/device_service: authentication rejected"));
        assert!(text.contains("Administrator-level"), "{text}");
        assert!(err.is_soap_auth());
        let err = Error::from_fault(
            "u",
            "http://www.onvif.org/ver10/events/wsdl/EventPortType/GetEventPropertiesRequest",
            fault("env:Sender", Some("ter:ActionNotSupported"), ""),
        );
        assert_eq!(
            err.to_string(),
            "u: the camera does not support GetEventPropertiesRequest"
        );
    }

    #[test]
    fn redacts_credentials() {
        let url: url::Url = "http://admin:hunter2@cam:8080/onvif?x=1".parse().unwrap();
        assert_eq!(redact(&url), "http://cam:8080/onvif?x=1");
    }
}
