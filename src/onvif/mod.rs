//! Our ONVIF client layer.
//!
//! Written on reqwest and roxmltree rather than taken from a published ONVIF crate: those
//! cannot hold a PullMessages long-poll past 10 s, drop WS-Addressing reference parameters
//! (Axis routes by them) and lose event data.

pub mod notification;
pub mod topic;
pub mod xml;

pub use notification::Notification;
