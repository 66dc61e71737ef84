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
//! - [`push`]: ONVIF push (WS-BaseNotification Subscribe, Notify to the push listener), for
//!   cameras whose PullPoint is missing or broken.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use tracing::instrument::{Instrumented, WithDispatch, WithSubscriber};

use crate::config::{Api, CameraConfig, Events};
use crate::event::DeviceInfo;
use crate::metrics::Metrics;
use crate::onvif::Client;
use crate::onvif::Notification;
use crate::push::Push;

pub mod callstatus;
pub mod doorbird;
pub mod pullpoint;
pub mod push;
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
    /// ONVIF push: WS-BaseNotification Notify to the push listener ([`push`]). It takes the
    /// PullPoint's place (`events = "push"`, or `auto` once the PullPoint is found broken).
    Push,
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
            Source::Push => "push",
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

/// Whether `source` delivers the camera's ONVIF events (PullPoint or push).
pub fn is_onvif(source: Source) -> bool {
    matches!(source, Source::PullPoint | Source::Push)
}

/// The presses source after `source` came up while `current` was it: ONVIF push takes the
/// PullPoint's place when it delivers instead (an `auto` camera whose PullPoint is broken).
pub fn presses_after_up(current: Source, source: Source) -> Source {
    if current == Source::PullPoint && source == Source::Push {
        Source::Push
    } else {
        current
    }
}

/// The presses source of a camera with `api` and `events` at start.
pub fn presses_at_start(api: Api, events: Events) -> Source {
    presses_after_up(
        presses_source(api),
        if events == Events::Push {
            Source::Push
        } else {
            Source::PullPoint
        },
    )
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
        Source::PullPoint | Source::Push => tokio::spawn(attach(onvif_events(
            config,
            client,
            metrics.clone(),
            ctx.push.clone(),
            tx,
            shutdown,
        ))),
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

/// The camera's ONVIF events, as its `events` says: PullPoint, push, or PullPoint until it is
/// found missing or broken and push (with `[push]`) from then on.
async fn onvif_events(
    config: Arc<CameraConfig>,
    client: Client,
    metrics: Metrics,
    push: Option<Push>,
    tx: mpsc::Sender<SourceMsg>,
    shutdown: CancellationToken,
) {
    let pull = match config.events {
        Events::Push => false,
        Events::Pull => {
            pullpoint::PullPoint::new(config, client, metrics)
                .run(tx, shutdown)
                .await;
            return;
        }
        Events::Auto => {
            let ended = pullpoint::PullPoint::new(config.clone(), client.clone(), metrics.clone())
                .with_push(push.is_some())
                .run(tx.clone(), shutdown.clone())
                .await;
            ended == pullpoint::Ended::Shutdown
        }
    };
    if pull {
        return;
    }
    match push {
        Some(push) => {
            push::PushSource::new(config, client, metrics, push)
                .run(tx, shutdown)
                .await;
        }
        None => {
            // Config validation refuses events = "push" without [push]; a caller without the
            // listener (`events --camera`) gets this.
            let down = SourceMsg::Down(Box::new(Down {
                source: Source::Push,
                reason: "events = \"push\" needs the push listener, which is not running here; \
                         add [push] to the config and run the bridge"
                    .into(),
            }));
            if tx.send(down).await.is_ok() {
                shutdown.cancelled().await;
            }
        }
    }
}

fn attach<F: std::future::Future>(f: F) -> WithDispatch<Instrumented<F>> {
    f.in_current_span().with_current_subscriber()
}

/// Where a PullPoint or push session loop stands between failures: whether it last reported
/// up (`Some(true)`) or down, and the last failure's kind.
#[derive(Debug, Default)]
pub(crate) struct Standing {
    /// The last report: `Some(true)` up, `Some(false)` down, `None` before any.
    pub reported: Option<bool>,
    /// The kind of the last failure, to log only changes.
    pub previous: Option<crate::backoff::Failure>,
}

/// After a failed ONVIF session of `source`: reports it down (once per outage), logs a change
/// of the failure's kind (`lost` is the message for a lost subscription) and waits the backoff.
/// Returns `false` when the loop should end: shutdown, or the camera task is gone.
pub(crate) async fn after_failure(
    source: Source,
    err: &crate::onvif::Error,
    lost: &str,
    standing: &mut Standing,
    backoff: &mut crate::backoff::Backoff,
    tx: &mpsc::Sender<SourceMsg>,
    shutdown: &CancellationToken,
) -> bool {
    use crate::backoff::{Failure, PROBE_INTERVAL, REJECTED_RETRY, random_jitter};
    let failure = pullpoint::failure(err.retry());
    if standing.reported != Some(false) {
        standing.reported = Some(false);
        let down = SourceMsg::Down(Box::new(Down {
            source,
            reason: err.to_string(),
        }));
        if tx.send(down).await.is_err() {
            return false;
        }
    }
    let previous = standing.previous;
    let delay = backoff.after(
        failure,
        previous,
        tokio::time::Instant::now(),
        random_jitter(),
    );
    if previous != Some(failure) {
        match failure {
            Failure::Lost => tracing::info!("{lost}"),
            Failure::Rejected => {
                tracing::warn!(error = %err, "camera refuses us; retrying in {REJECTED_RETRY:?}");
            }
            Failure::Unreachable => {
                tracing::info!(error = %err, "camera unreachable; probing every {PROBE_INTERVAL:?}");
            }
            Failure::Answered => {}
        }
    }
    tracing::debug!("{err:#}; retry in {delay:?}");
    standing.previous = Some(failure);
    if !delay.is_zero() {
        tokio::select! {
            () = shutdown.cancelled() => return false,
            () = tokio::time::sleep(delay) => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_message_stays_small() {
        assert!(std::mem::size_of::<SourceMsg>() <= 2 * std::mem::size_of::<usize>());
    }
}
