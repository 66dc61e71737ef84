//! doorbell-bridge: ONVIF doorbells and cameras to MQTT and Home Assistant, locally.
//!
//! # Data flow
//!
//! ```text
//! camera --long-poll PullMessages, Renew before termination-->
//! source::pullpoint -> SourceMsg (Up, Notification, Down) --bounded mpsc-->   [a task per source]
//! camera::Supervisor: normalise (+ rules) -> Event                             [a task per camera]
//!    Event -> Update::Event ------------------------------------+
//!    Event -> snapshot -> archive::store -> Update::Snapshot ---+-> bounded mpsc<Update>
//! mqtt::publisher -> topics + discovery -> rumqttc -> broker -> Home Assistant
//! mqtt (commands) -> Command -> app router -> the camera's snapshot task
//! archive sweeper (interval) -> select_expired -> delete
//! ```
//!
//! # Layout
//!
//! - [`event`]: the vocabulary shared by the camera side and the MQTT side.
//! - [`config`]: TOML + environment, validated into [`config::Config`].
//! - [`onvif`]: our thin SOAP client (WS-Security, Digest, PullPoint) and notification parsing.
//! - [`source`]: event sources (PullPoint first): each runs its own session and sends raw
//!   notifications to its camera's task.
//! - [`camera`]: the per-camera task: its sources, the normaliser, availability, events.
//! - [`backoff`]: the one retry policy.
//! - [`normalise`]: notifications -> events (Initialized vs Changed, holds, auto-clear), using
//!   the data table in [`rules`].
//! - [`mqtt`]: the bridge to MQTT and Home Assistant discovery (topic contract in `docs/mqtt.md`).
//! - [`sim`]: a simulated ONVIF doorbell (real SOAP over HTTP) for tests and `demo`.
//! - [`vendor`]: what the vendor event sources share: code tables, one ring per press.
//! - [`dahua`]: the Dahua/Amcrest event stream: part reader, code parser, code table.
//! - [`hikvision`]: the Hikvision alert stream and door-station call status, event table.
//! - [`secret`], [`units`]: small building blocks.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod app;
pub mod archive;
pub mod backoff;
pub mod camera;
pub mod cli;
pub mod commands;
pub mod config;
pub mod dahua;
pub mod event;
pub mod health;
pub mod hikvision;
pub mod limits;
pub mod logging;
pub mod metrics;
pub mod mqtt;
pub mod normalise;
pub mod onvif;
pub mod retention;
pub mod rules;
pub mod secret;
pub mod sim;
pub mod snapshot;
pub mod source;
pub mod units;
pub mod vendor;
