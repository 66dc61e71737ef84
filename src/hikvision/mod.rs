//! The Hikvision family (and EZVIZ on its firmware): the pure parts of the ISAPI event
//! sources. [`alert::AlertReader`] cuts `GET /ISAPI/Event/notification/alertStream` into
//! alerts and heartbeats; [`call`] reads door-station call status polls and tracks their
//! changes; [`rules::classify`] applies the eventType table.

pub mod alert;
pub mod call;
pub mod rules;

/// The alert stream path (pyHik falls back to `/Event/notification/alertStream` on a 404).
pub const ALERT_STREAM_PATH: &str = "/ISAPI/Event/notification/alertStream";
/// Device information where ONVIF has none.
pub const DEVICE_INFO_PATH: &str = "/ISAPI/System/deviceInfo";
