//! doorbell-bridge: ONVIF doorbells and cameras, and the vendor APIs of doorbells that keep
//! the press off ONVIF, to MQTT and Home Assistant, locally.
//!
//! # Data flow
//!
//! ```text
//! camera --PullMessages long poll | Dahua attach stream | Hikvision alertStream, callStatus poll-->
//! source::{pullpoint, stream, callstatus} -> SourceMsg (Up, Notification, ClockDrift, Down)
//!     --bounded mpsc-->                                                [a task per source]
//! camera::Supervisor: normalise (rules, vendor code tables) -> Event  [a task per camera]
//!    Event -> Update::Event -----------------------------------------+
//!    Event -> Trigger -> snapshot task -> archive -> Update::Snapshot -+-> bounded mpsc<Update>
//!    Event -> ClipTrigger -> clip task (RTSP, pre-roll) -> archive -> Update::Clip -+
//! mqtt::publisher -> outbox -> topics + discovery -> rumqttc -> broker -> Home Assistant
//! mqtt commands (<base>/<camera>/snapshot/set) -> app router -> that camera's snapshot task
//! mqtt <base>/<camera>/door/set -> DoorCommand -> app router -> that camera's door task
//!    -> door::policy -> door::relay (ONVIF DeviceIO | Dahua | Hikvision) -> Update::Door
//! archive sweeper (start, hourly, over the size limit) -> retention::select_expired -> delete
//! ```
//!
//! # Layout
//!
//! - [`app`]: wiring, command routing, the sweeper, ordered shutdown with a deadline.
//! - [`archive`]: atomic JPEG + sidecar writes under the archive folder.
//! - [`backoff`]: the one retry policy (exponential, probe interval, rejected-credentials wait).
//! - [`camera`]: the per-camera task: its sources, the normaliser, availability, events.
//! - [`cli`]: the command-line definitions; [`commands`]: the subcommands.
//! - [`clip`]: event clips: the RTSP pre-roll buffer, recording, the MP4 writer, the sidecar.
//! - [`config`]: TOML + environment, validated into [`config::Config`].
//! - [`dahua`]: the Dahua/Amcrest event stream: part reader, code parser, code table.
//! - [`doorbird`]: the DoorBird LAN API: device information, favorites, schedule, code table.
//! - [`door`]: opening a camera's door: the rules (pure), the per-API requests, the task.
//! - [`event`]: the vocabulary shared by the camera side and the MQTT side.
//! - [`health`]: the health and metrics HTTP server (only when `[http]` is configured).
//! - [`hikvision`]: the Hikvision alert stream and door-station call status, event table.
//! - [`limits`]: the limits the config and the MQTT side share, and the topic-validity rule.
//! - [`listen`]: bounded TCP listening (connection count, lifetime) for our HTTP servers.
//! - [`logging`]: tracing setup.
//! - [`metrics`]: counters for `/metrics` and `check`.
//! - [`mqtt`]: the bridge to MQTT and Home Assistant discovery (topic contract in `docs/mqtt.md`).
//! - [`normalise`]: notifications -> events (Initialized vs Changed, pulses, holds, auto-clear).
//! - [`onvif`]: our SOAP client (WS-Security, Digest, PullPoint), notification parsing,
//!   WS-Discovery.
//! - [`push`]: the push listener (only when `[push]` is configured): one unguessable route
//!   per registration, for cameras that call a URL (ONVIF Notify, DoorBird).
//! - [`retention`]: which archived files to delete (pure) and the sweep.
//! - [`rules`]: the ONVIF rule table, with evidence per row.
//! - [`secret`]: a password that never prints itself.
//! - [`sim`]: a simulated doorbell (ONVIF, Dahua, Hikvision and DoorBird personalities, an
//!   RTSP stream) for tests and `demo`.
//! - [`snapshot`]: the per-camera snapshot task: triggers, one fetch at a time, bursts.
//! - [`source`]: event sources; each runs its own session and sends raw notifications to its
//!   camera's task.
//! - [`units`]: durations and sizes in the config.
//! - [`vendor`]: what the vendor event sources share: code tables, one ring per press.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod app;
pub mod archive;
pub mod backoff;
pub mod camera;
pub mod cli;
pub mod clip;
pub mod commands;
pub mod config;
pub mod dahua;
pub mod door;
pub mod doorbird;
pub mod event;
pub mod health;
pub mod hikvision;
pub mod history;
pub mod limits;
pub mod listen;
pub mod logging;
pub mod metrics;
pub mod mqtt;
pub mod normalise;
pub mod onvif;
pub mod push;
pub mod retention;
pub mod rules;
pub mod secret;
pub mod sim;
pub mod snapshot;
pub mod source;
pub mod units;
pub mod vendor;
