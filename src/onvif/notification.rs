//! A parsed ONVIF `NotificationMessage`: what the camera sent, before any interpretation.
//!
//! [`super::xml::parse_messages`] / [`super::xml::notifications_in`] turn a PullMessagesResponse
//! into these; [`crate::normalise`] turns them into [`crate::event::Event`]s.

use crate::event::{Items, Operation};

/// One NotificationMessage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notification {
    /// Canonical topic: trimmed, trailing `/` and `/.` removed, every prefix resolved through
    /// the in-scope namespaces and written with the conventional prefix (`tns1`, `tnsaxis`, ...).
    pub topic: String,
    /// The topic text exactly as sent (trimmed), for diagnosis.
    pub raw_topic: String,
    /// Source SimpleItems in document order.
    pub source: Items,
    /// Key SimpleItems in document order.
    pub key: Items,
    /// Data SimpleItems in document order.
    pub data: Items,
    /// Data ElementItems: name and the raw XML of its content.
    pub elements: Items,
    /// The PropertyOperation attribute, if any.
    pub operation: Option<Operation>,
    /// The UtcTime attribute exactly as sent.
    pub utc_time: Option<String>,
}
