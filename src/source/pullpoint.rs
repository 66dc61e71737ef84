//! The ONVIF PullPoint source: clock, identity, CreatePullPointSubscription, then PullMessages
//! and Renew until the camera fails; then back off and start again. It never gives up.
//!
//! A subscription outlives a short outage: after a transport error (the camera does not
//! answer at all) or server trouble (HTTP 5xx, a Receiver fault, garbage) the source keeps
//! it. An unreachable camera is probed at [`crate::backoff::PROBE_INTERVAL`] with the
//! unauthenticated GetSystemDateAndTime, one in trouble is retried with exponential backoff,
//! and the *same* subscription is renewed and pulled once the camera answers, so presses it
//! queued meanwhile are delivered. A new one is made only when the camera says the old one
//! is unknown, it expired, or the camera refused our request; a subscription it replaces
//! while the camera still answers is unsubscribed (best effort, bounded), so the camera's few
//! subscription slots do not fill up. See [`disposition`].

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::{Source, SourceMsg, UNSUBSCRIBE_DEADLINE};
use crate::backoff::{Backoff, Failure};
use crate::config::{CameraConfig, Events};
use crate::event::DeviceInfo;
use crate::metrics::Metrics;
use crate::onvif::{self, Client, Retry, Subscription};

/// Least time between two PullMessages when a camera answers empty at once instead of holding
/// the long poll (wjbeckett's listener backs off the same way).
pub const MIN_PULL_INTERVAL: Duration = Duration::from_secs(1);
/// Shortest PullMessages timeout we send (some cameras take only whole seconds).
pub const MIN_PULL_TIMEOUT: Duration = Duration::from_secs(1);

/// Failed PullPoint sessions in a row (the camera answered, but with an error: a fault, HTTP
/// 5xx, garbage) after which `events = "auto"` gives up pulling and subscribes for push.
/// Unreachable cameras and rejected credentials do not count: push would not help them.
pub const PULL_FAILURES_BEFORE_PUSH: u32 = 3;

/// How a PullPoint source ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// Shutdown (or the camera task is gone).
    Shutdown,
    /// `events = "auto"` with `[push]`: the PullPoint is refused or keeps failing, so push takes
    /// over; the text says why, for the log.
    Push(String),
}

/// Whether `error`, after `streak` failed sessions in a row (this one included), means the
/// PullPoint is missing or broken, and why (pure). A camera that refuses
/// CreatePullPointSubscription as not supported has none; one whose sessions failed
/// [`PULL_FAILURES_BEFORE_PUSH`] times in a row with an answered error has a broken one.
pub fn pull_point_broken(error: &onvif::Error, streak: u32) -> Option<String> {
    match error {
        onvif::Error::NotSupported { action, .. }
            if action.contains("CreatePullPointSubscription") =>
        {
            Some("refuses CreatePullPointSubscription (not supported)".into())
        }
        _ if failure(error.retry()) == Failure::Answered && streak >= PULL_FAILURES_BEFORE_PUSH => {
            Some(format!("failed {streak} times in a row (last: {error})"))
        }
        _ => None,
    }
}

/// What becomes of a subscription after an error (pure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// The camera did not answer, or its server is in trouble: keep it, and renew it once
    /// the camera answers properly again.
    Keep,
    /// The camera refused an operation on it: unsubscribe (best effort) and make a new one.
    Release,
    /// The camera says it is unknown or expired: forget it.
    Gone,
}

/// What to do with the subscription after `error`. A camera that does not answer, answers
/// HTTP 5xx or a SOAP Receiver (1.1: Server) fault, or answers something unreadable (a web
/// server restarting, a proxy in the way) still holds the subscription and queues presses on
/// it: it is kept, and resumed when the camera answers again (an Unsubscribe would fail
/// anyway, and a new subscription would leave the queued presses behind). A Sender fault or a
/// refusal is the camera speaking about our request: the subscription is replaced. A kept
/// subscription that expires meanwhile is replaced too.
pub fn disposition(error: &onvif::Error) -> Disposition {
    let server_trouble = |code: &str| code.ends_with("Receiver") || code.ends_with("Server");
    match error {
        onvif::Error::Http { status, .. } if *status >= 500 => Disposition::Keep,
        onvif::Error::Fault { code, .. } if server_trouble(code) => Disposition::Keep,
        onvif::Error::Malformed { .. } => Disposition::Keep,
        _ => match error.retry() {
            Retry::Unreachable => Disposition::Keep,
            Retry::Resubscribe => Disposition::Gone,
            Retry::Backoff | Retry::Fatal => Disposition::Release,
        },
    }
}

/// The backoff class of an error with this advice.
pub fn failure(retry: Retry) -> Failure {
    match retry {
        Retry::Unreachable => Failure::Unreachable,
        Retry::Resubscribe => Failure::Lost,
        Retry::Backoff => Failure::Answered,
        Retry::Fatal => Failure::Rejected,
    }
}

/// A subscription and the device it is on.
struct Held {
    info: Box<DeviceInfo>,
    sub: Subscription,
}

/// Why a session ended.
enum End {
    Shutdown,
    Failed(onvif::Error),
}

/// A camera's PullPoint source.
pub struct PullPoint {
    config: Arc<CameraConfig>,
    client: Client,
    metrics: Metrics,
    push_ready: bool,
}

impl PullPoint {
    /// The PullPoint source of `config`'s camera, through `client`.
    pub fn new(config: Arc<CameraConfig>, client: Client, metrics: Metrics) -> Self {
        Self {
            config,
            client,
            metrics,
            push_ready: false,
        }
    }

    /// With `ready`, a broken PullPoint ends the source with [`Ended::Push`] when the camera's
    /// `events` is `auto` (the push listener is configured). Without, it is logged once that
    /// push would need `[push]`, and pulling goes on.
    pub fn with_push(mut self, ready: bool) -> Self {
        self.push_ready = ready;
        self
    }

    /// Runs until `shutdown` (or until the camera task is gone), reporting on `tx`. Ends by
    /// unsubscribing what it holds (bounded by [`UNSUBSCRIBE_DEADLINE`]).
    pub async fn run(self, tx: mpsc::Sender<SourceMsg>, shutdown: CancellationToken) -> Ended {
        let mut backoff = Backoff::with_max(self.config.max_backoff);
        let mut standing = super::Standing::default();
        let mut held: Option<Held> = None;
        // Sessions in a row that failed with an answered error, reset by a PullMessages that
        // worked or another kind of failure.
        let mut streak = 0u32;
        let mut said_push_needs_config = false;
        let auto = self.config.events == Events::Auto;
        let mut ended = Ended::Shutdown;
        loop {
            // Boxed, like renew and unsubscribe: the task's future is allocated for the whole
            // run, so only the held poll should decide its size (docs/performance.md).
            // Whether the camera answered its clock and identity this time, so an error is the
            // PullPoint's own (a camera in trouble as a whole says nothing about its PullPoint).
            let mut camera_answered = false;
            let started = tokio::select! {
                () = shutdown.cancelled() => break,
                r = Box::pin(self.start(&mut held, &tx, &mut camera_answered)) => r,
            };
            let err = match started {
                Ok(mut session) => {
                    backoff.succeeded(Instant::now());
                    standing.previous = None;
                    standing.reported = Some(true);
                    let up = SourceMsg::Up {
                        source: Source::PullPoint,
                        info: session.info.clone(),
                    };
                    if tx.send(up).await.is_err() {
                        held = Some(session);
                        break;
                    }
                    let end = self
                        .pull_loop(&mut session.sub, &tx, &shutdown, &mut streak)
                        .await;
                    let err = match end {
                        End::Shutdown => {
                            held = Some(session);
                            break;
                        }
                        End::Failed(e) => e,
                    };
                    match disposition(&err) {
                        Disposition::Keep => held = Some(session),
                        Disposition::Release => Box::pin(self.release(&session.sub)).await,
                        Disposition::Gone => {}
                    }
                    err
                }
                Err(e) => e,
            };
            if camera_answered && failure(err.retry()) == Failure::Answered {
                streak += 1;
            } else {
                streak = 0;
            }
            if let Some(why) = pull_point_broken(&err, streak).filter(|_| auto) {
                if self.push_ready {
                    info!("the camera's PullPoint {why}; switching to ONVIF push");
                    ended = Ended::Push(why);
                    break;
                }
                if !said_push_needs_config {
                    said_push_needs_config = true;
                    warn!(
                        "the camera's PullPoint {why}; ONVIF push could take over but needs the \
                         push listener: add [push] with listen and advertise_url to the config. \
                         Still pulling"
                    );
                }
            }
            let go_on = super::after_failure(
                Source::PullPoint,
                &err,
                "subscription lost; subscribing again",
                &mut standing,
                &mut backoff,
                &tx,
                &shutdown,
            )
            .await;
            if !go_on {
                break;
            }
        }
        if let Some(h) = held {
            Box::pin(self.release(&h.sub)).await;
        }
        ended
    }

    /// Starts a session: the clock first (unauthenticated, so it doubles as the cheap probe of
    /// a camera that was away), then the held subscription renewed if the camera still has
    /// it, else identity, services and a new subscription.
    async fn start(
        &self,
        held: &mut Option<Held>,
        tx: &mpsc::Sender<SourceMsg>,
        camera_answered: &mut bool,
    ) -> Result<Held, onvif::Error> {
        let offset = self.sync_clock().await?;
        *camera_answered = true;
        let offset_ms = i64::try_from(offset.as_millis()).unwrap_or(i64::MAX);
        let _ = tx.send(SourceMsg::ClockDrift { offset_ms }).await;
        if let Some(h) = held.take() {
            if h.sub.is_expired(Instant::now()) {
                debug!("the held subscription expired; replacing it");
                self.release(&h.sub).await;
            } else {
                match self.client.renew(&h.sub, self.config.subscription).await {
                    Ok(sub) => {
                        self.metrics.renewed(&self.config.id);
                        info!("camera answers again; resumed the subscription");
                        return Ok(Held { info: h.info, sub });
                    }
                    Err(e) => match disposition(&e) {
                        Disposition::Keep => {
                            *held = Some(h);
                            return Err(e);
                        }
                        Disposition::Gone => debug!("the camera forgot the subscription: {e}"),
                        Disposition::Release => self.release(&h.sub).await,
                    },
                }
            }
        }
        let mut info = self.client.device_information().await?;
        // Best effort: many cameras restrict GetNetworkInterfaces; the MAC only links the
        // device in Home Assistant's registry.
        info.mac = self.client.mac_address().await.ok().flatten();
        let events = self.events_service().await?;
        let sub = subscribe(&self.client, &events, self.config.subscription).await?;
        Ok(Held {
            info: Box::new(info),
            sub,
        })
    }

    /// The event service address, or a clear error when the camera has none.
    async fn events_service(&self) -> Result<url::Url, onvif::Error> {
        events_service(&self.client).await
    }

    /// Pulls and renews until an error or shutdown.
    async fn pull_loop(
        &self,
        sub: &mut Subscription,
        tx: &mpsc::Sender<SourceMsg>,
        shutdown: &CancellationToken,
        streak: &mut u32,
    ) -> End {
        let mut measured = self.client.clock_offset();
        let mut closed_once = false;
        loop {
            // Renew now when it would fall due during the shortest poll we make.
            if sub.renew_due(Instant::now() + MIN_PULL_TIMEOUT) {
                let renewed = tokio::select! {
                    () = shutdown.cancelled() => return End::Shutdown,
                    r = Box::pin(self.client.renew(sub, self.config.subscription)) => r,
                };
                match renewed {
                    Ok(s) => {
                        *sub = s;
                        self.metrics.renewed(&self.config.id);
                    }
                    Err(e) => return End::Failed(Box::pin(self.renew_failed(sub, e)).await),
                }
            }
            let until_renew = sub.renew_at().saturating_duration_since(Instant::now());
            let timeout = self
                .config
                .pull_timeout
                .min(until_renew.max(MIN_PULL_TIMEOUT));
            let started = Instant::now();
            let result = tokio::select! {
                r = self.client.pull(sub, timeout, self.config.message_limit) => r,
                () = shutdown.cancelled() => return End::Shutdown,
            };
            match result {
                Ok(r) => {
                    *streak = 0;
                    // The client measures the clock again when the camera rejects a request
                    // for its time (a clock that jumped): report the new offset at once.
                    let offset = self.client.clock_offset();
                    if offset != measured {
                        measured = offset;
                        let offset_ms = offset
                            .and_then(|o| i64::try_from(o.as_millis()).ok())
                            .unwrap_or(0);
                        if tx.send(SourceMsg::ClockDrift { offset_ms }).await.is_err() {
                            return End::Shutdown;
                        }
                    }
                    let count = r.notifications.len();
                    for n in r.notifications {
                        let msg = SourceMsg::Notification(Box::new(n));
                        if tx.send(msg).await.is_err() {
                            return End::Shutdown;
                        }
                    }
                    if count == 0 && started.elapsed() < MIN_PULL_INTERVAL {
                        tokio::select! {
                            () = shutdown.cancelled() => return End::Shutdown,
                            () = sleep_until(started + MIN_PULL_INTERVAL) => {}
                        }
                    }
                }
                // Cameras may close an idle long poll: normal once, an error if it repeats.
                Err(onvif::Error::Transport { .. }) if !closed_once => {
                    closed_once = true;
                    continue;
                }
                Err(e) => return End::Failed(e),
            }
            closed_once = false;
        }
    }

    /// The error a session ends with after Renew failed with `e`: kept as it is when the camera
    /// did not answer (the subscription is renewed again when it does); otherwise the
    /// subscription is as good as gone: released, and recreated at once.
    async fn renew_failed(&self, sub: &Subscription, e: onvif::Error) -> onvif::Error {
        debug!("renew failed: {e:#}");
        match disposition(&e) {
            Disposition::Keep | Disposition::Gone => e,
            Disposition::Release => {
                self.release(sub).await;
                onvif::Error::SubscriptionLost {
                    url: onvif::error::redact(&sub.address),
                    reason: format!("renew failed: {e}"),
                }
            }
        }
    }

    /// Unsubscribes, best effort and bounded.
    async fn release(&self, sub: &Subscription) {
        release(&self.client, sub).await;
    }

    async fn sync_clock(&self) -> Result<jiff::SignedDuration, onvif::Error> {
        sync_clock(&self.client, &self.config).await
    }
}

/// The event service address of the camera, or a clear error when it has none.
pub async fn events_service(client: &Client) -> Result<url::Url, onvif::Error> {
    let services = client.services().await?;
    services.events.ok_or_else(|| onvif::Error::NotSupported {
        url: onvif::error::redact(client.device_url()),
        action: "the event service (PullPoint)".into(),
    })
}

/// Measures the camera clock; sets it to ours first when the user turned `set_clock` on and it
/// drifts beyond the threshold. A camera that refuses keeps working through the offset.
pub async fn sync_clock(
    client: &Client,
    config: &CameraConfig,
) -> Result<jiff::SignedDuration, onvif::Error> {
    let offset = client.sync_clock().await?;
    if !config.set_clock || !drifts(config, offset) {
        return Ok(offset);
    }
    match client.set_system_time(jiff::Timestamp::now()).await {
        Ok(after) => {
            info!(
                "set the camera clock (it was {:.1} s off; set_clock is on)",
                offset.as_secs_f64()
            );
            Ok(after)
        }
        Err(e) => {
            warn!("could not set the camera clock: {e}");
            Ok(offset)
        }
    }
}

/// CreatePullPointSubscription for `lifetime` on the event service at `events` (the daemon,
/// `events --camera` and `check` subscribe through this).
pub async fn subscribe(
    client: &Client,
    events: &url::Url,
    lifetime: Duration,
) -> Result<Subscription, onvif::Error> {
    client.create_pull_point(events, lifetime).await
}

/// Unsubscribes `sub`, best effort, waiting at most [`UNSUBSCRIBE_DEADLINE`].
pub async fn release(client: &Client, sub: &Subscription) {
    let unsubscribe = client.unsubscribe(sub);
    match tokio::time::timeout(UNSUBSCRIBE_DEADLINE, unsubscribe).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => debug!("unsubscribe failed: {e}"),
        Err(_) => debug!("unsubscribe got no answer within {UNSUBSCRIBE_DEADLINE:?}"),
    }
}

/// Whether the camera clock is further from ours than the configured threshold.
pub fn drifts(config: &CameraConfig, offset: jiff::SignedDuration) -> bool {
    jiff::SignedDuration::try_from(config.drift_threshold)
        .is_ok_and(|threshold| offset.abs() > threshold)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `auto` gives up pulling only for a PullPoint that is missing or keeps failing with an
    /// answer: not for an unreachable camera, rejected credentials or a missing event service.
    #[test]
    fn a_pull_point_is_broken_when_refused_or_failing_in_a_row() {
        use onvif::Error;
        let url = || "http://cam/onvif".to_owned();
        let refused = Error::NotSupported {
            url: url(),
            action: "CreatePullPointSubscriptionRequest".into(),
        };
        let no_events = Error::NotSupported {
            url: url(),
            action: "the event service (PullPoint)".into(),
        };
        let fault = Error::Fault {
            url: url(),
            code: "env:Receiver".into(),
            subcode: None,
            reason: "x".into(),
        };
        let away = Error::Transport {
            url: url(),
            detail: "refused".into(),
        };
        let rejected = Error::Unauthorized {
            url: url(),
            detail: "no".into(),
            hint: "",
        };
        let n = PULL_FAILURES_BEFORE_PUSH;
        assert!(pull_point_broken(&refused, 0).is_some());
        assert!(pull_point_broken(&no_events, n).is_none());
        assert!(pull_point_broken(&fault, n - 1).is_none());
        assert!(pull_point_broken(&fault, n).is_some());
        assert!(pull_point_broken(&away, n + 5).is_none());
        assert!(pull_point_broken(&rejected, n + 5).is_none());
    }

    /// A camera in trouble (no answer, HTTP 5xx, a Receiver fault, garbage) keeps its
    /// subscription and the presses queued on it; one that refuses our request does not.
    #[test]
    fn a_subscription_survives_unless_the_camera_refuses_it() {
        use onvif::Error;
        let url = || "http://cam/onvif".to_owned();
        let fault = |code: &str| Error::Fault {
            url: url(),
            code: code.into(),
            subcode: None,
            reason: "x".into(),
        };
        let table = [
            (
                Error::Transport {
                    url: url(),
                    detail: "refused".into(),
                },
                Disposition::Keep,
                Failure::Unreachable,
            ),
            (
                Error::Timeout {
                    url: url(),
                    after: Duration::from_secs(1),
                },
                Disposition::Keep,
                Failure::Unreachable,
            ),
            (
                Error::Http {
                    url: url(),
                    status: 500,
                },
                Disposition::Keep,
                Failure::Answered,
            ),
            (
                Error::Http {
                    url: url(),
                    status: 503,
                },
                Disposition::Keep,
                Failure::Answered,
            ),
            (fault("env:Receiver"), Disposition::Keep, Failure::Answered),
            (fault("s:Server"), Disposition::Keep, Failure::Answered),
            (
                Error::Malformed {
                    url: url(),
                    what: "not XML".into(),
                },
                Disposition::Keep,
                Failure::Answered,
            ),
            (fault("env:Sender"), Disposition::Release, Failure::Answered),
            (
                Error::Http {
                    url: url(),
                    status: 404,
                },
                Disposition::Release,
                Failure::Answered,
            ),
            (
                Error::SubscriptionLost {
                    url: url(),
                    reason: "unknown".into(),
                },
                Disposition::Gone,
                Failure::Lost,
            ),
            (
                Error::Unauthorized {
                    url: url(),
                    detail: "no".into(),
                    hint: "",
                },
                Disposition::Release,
                Failure::Rejected,
            ),
        ];
        assert!(!table.is_empty());
        for (error, keep, fail) in table {
            assert_eq!(disposition(&error), keep, "{error:?}");
            assert_eq!(failure(error.retry()), fail, "{error:?}");
        }
    }
}
