//! Event sources: where a camera's raw notifications come from.
//!
//! A camera has one or more sources. Each source is a task that runs its own session against
//! the camera (connect, authenticate, subscribe or attach, read, renew, recreate, back off
//! through [`crate::backoff`]) and reports over one bounded channel to the camera's task
//! ([`crate::camera::Supervisor`]) as [`SourceMsg`]s:
//!
//! - [`SourceMsg::Up`] when it delivers (again), with what the camera says it is; always
//!   before the first notification of a session;
//! - [`SourceMsg::Notification`] for every raw message, in the order the camera sent them;
//! - [`SourceMsg::ClockDrift`] when it measured the camera clock;
//! - [`SourceMsg::Down`] ([`Down`]) when it stopped delivering, with a reason for people (no secrets).
//!
//! The camera task owns everything after that: the one normaliser, hold deadlines,
//! availability (with a grace for short reconnects), events and snapshot triggers. A source
//! that fails retries on its own; the other sources of the camera keep running. A source ends
//! when its shutdown token is cancelled, after releasing what it holds on the camera (bounded
//! by [`UNSUBSCRIBE_DEADLINE`]).
//!
//! A new kind of source (a vendor's HTTP event stream, a polled status, notifications pushed
//! to a listener) is a new file here with a `run(self, tx, shutdown)` loop that sends these
//! messages; the camera task does not change.
//!
//! - [`pullpoint`]: ONVIF PullPoint (CreatePullPointSubscription, PullMessages, Renew).
//! - [`stream`]: the vendor HTTP event streams (Dahua attach, Hikvision alertStream).
//! - [`callstatus`]: a Hikvision door station's call status, polled.
//! - [`doorbird`]: the DoorBird favorites the device calls on the push listener.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use tracing::instrument::{Instrumented, WithDispatch, WithSubscriber};

use crate::config::{Api, CameraConfig};
use crate::event::DeviceInfo;
use crate::metrics::Metrics;
use crate::onvif::Client;
use crate::onvif::Notification;
use crate::push::Push;

pub mod callstatus;
pub mod doorbird;
pub mod pullpoint;
pub mod stream;

/// How long a camera may take to confirm Unsubscribe at shutdown or when replacing a subscription.
pub const UNSUBSCRIBE_DEADLINE: Duration = Duration::from_secs(2);

/// Messages a camera's sources may have queued for its task. The payloads are boxed, so a
/// message is small: every camera's channel allocates a block of 32 slots up front.
pub const SOURCE_QUEUE: usize = 32;

/// Which source a message is from; a new kind of source adds its variant here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// ONVIF PullPoint ([`pullpoint`]).
    PullPoint,
    /// The Dahua HTTP event stream ([`stream`]).
    Dahua,
    /// The Hikvision alert stream ([`stream`]).
    Hikvision,
    /// A Hikvision door station's call status ([`callstatus`]).
    CallStatus,
    /// The DoorBird favorites the device calls on the push listener ([`doorbird`]).
    DoorBird,
}

impl Source {
    /// The name used in availability reasons and logs.
    pub fn name(self) -> &'static str {
        match self {
            Source::PullPoint => "pullpoint",
            Source::Dahua => stream::DAHUA,
            Source::Hikvision => stream::HIKVISION,
            Source::CallStatus => callstatus::NAME,
            Source::DoorBird => doorbird::NAME,
        }
    }
}

/// What a source tells its camera's task.
#[derive(Debug)]
pub enum SourceMsg {
    /// The source delivers events (a new or resumed session).
    Up {
        /// Which source.
        source: Source,
        /// What the camera says it is.
        info: Box<DeviceInfo>,
    },
    /// One raw notification.
    Notification(Box<Notification>),
    /// The camera clock minus ours, as just measured.
    ClockDrift {
        /// Offset in milliseconds.
        offset_ms: i64,
    },
    /// The source stopped delivering.
    Down(Box<Down>),
}

/// A source that stopped delivering, and why.
#[derive(Debug)]
pub struct Down {
    /// Which source.
    pub source: Source,
    /// Why, for people (names the camera URL, never credentials).
    pub reason: String,
}

/// The sources a camera with `api` runs (`auto`: ONVIF until the manufacturer is known).
pub fn sources_of(api: Api) -> &'static [Source] {
    match api {
        Api::Auto | Api::Onvif => &[Source::PullPoint],
        Api::Dahua => &[Source::PullPoint, Source::Dahua],
        Api::Hikvision => &[Source::PullPoint, Source::Hikvision, Source::CallStatus],
        // No ONVIF: a DoorBird has no ONVIF events.
        Api::DoorBird => &[Source::DoorBird],
    }
}

/// The source whose state is a camera's availability: the one that delivers its presses. For
/// Hikvision it is the alert stream (the call status is polled besides).
pub fn presses_source(api: Api) -> Source {
    match api {
        Api::Auto | Api::Onvif => Source::PullPoint,
        Api::Dahua => Source::Dahua,
        Api::Hikvision => Source::Hikvision,
        Api::DoorBird => Source::DoorBird,
    }
}

/// What a camera's sources are started with.
#[derive(Clone)]
pub struct Context {
    /// The camera's config.
    pub config: Arc<CameraConfig>,
    /// Its ONVIF/HTTP client.
    pub client: Client,
    /// The counters.
    pub metrics: Metrics,
    /// The push listener, when `[push]` is configured.
    pub push: Option<Push>,
}

/// Starts `source` of the camera `ctx.config` as a task of its own (in the caller's span and
/// log subscriber), reporting on `tx` until `shutdown`. The daemon's camera task and
/// `events --camera` start their sources through this.
pub fn spawn(
    source: Source,
    ctx: &Context,
    tx: mpsc::Sender<SourceMsg>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    let (config, client, metrics) = (ctx.config.clone(), ctx.client.clone(), &ctx.metrics);
    match source {
        Source::PullPoint => tokio::spawn(attach(
            pullpoint::PullPoint::new(config, client, metrics.clone()).run(tx, shutdown),
        )),
        Source::Dahua => tokio::spawn(attach(
            stream::VendorStream::new(config, client, stream::Protocol::Dahua).run(tx, shutdown),
        )),
        Source::Hikvision => tokio::spawn(attach(
            stream::VendorStream::new(config, client, stream::Protocol::Hikvision)
                .run(tx, shutdown),
        )),
        Source::CallStatus => tokio::spawn(attach(
            callstatus::CallStatus::new(config, client).run(tx, shutdown),
        )),
        Source::DoorBird => tokio::spawn(attach(
            doorbird::DoorBird::new(ctx.clone()).run(tx, shutdown),
        )),
    }
}

fn attach<F: std::future::Future>(f: F) -> WithDispatch<Instrumented<F>> {
    f.in_current_span().with_current_subscriber()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_message_stays_small() {
        assert!(std::mem::size_of::<SourceMsg>() <= 2 * std::mem::size_of::<usize>());
    }
}
