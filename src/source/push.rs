//! The ONVIF push source: WS-BaseNotification Subscribe with a route of the push listener as
//! the consumer, then the camera POSTs `Notify` to it. For cameras whose PullPoint is missing
//! or broken (`events = "push"`, or `auto` after the PullPoint failed; see
//! [`super::pullpoint::pull_point_broken`]).
//!
//! A session: the clock (WS-Security needs its offset), identity, the event service, a fresh
//! route ([`crate::push::Push::register`], its own token, only POST, only from the camera's
//! address unless `push_from` says otherwise), Subscribe with a relative
//! InitialTerminationTime; then
//!
//! - every pushed body is parsed by the guarded parser and its NotificationMessages go to the
//!   camera task as pulled ones do ([`crate::onvif::notify::parse_notify`]);
//! - Renew at 80 % of the lifetime ([`crate::onvif::Subscription`]); a camera that does not
//!   answer is asked again every [`PROBE_INTERVAL`];
//! - the camera is probed with the unauthenticated GetSystemDateAndTime every
//!   [`PUSH_CHECK_INTERVAL`]: a camera that was away, or whose clock jumped (a reboot), is
//!   renewed at once, and a forgotten subscription is made anew ([`Liveness`]);
//! - with neither a renewal answer nor any Notify for longer than the lifetime, the source is
//!   down and starts again.
//!
//! At shutdown it unsubscribes (bounded by [`super::UNSUBSCRIBE_DEADLINE`]); dropping the
//! route then refuses whatever the camera still sends.

use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::pullpoint::{Disposition, disposition, events_service, release, sync_clock};
use super::{Source, SourceMsg};
use crate::backoff::{Backoff, PROBE_INTERVAL};
use crate::config::CameraConfig;
use crate::event::DeviceInfo;
use crate::metrics::Metrics;
use crate::onvif::{self, Client, Subscription};
use crate::push::{Expect, Push, Route, expected_peer};

/// How often a push camera is probed (GetSystemDateAndTime, unauthenticated): the camera
/// pushes only when something happens, so this is how its return after an outage or a reboot
/// is noticed. One small request every 3 s per camera.
pub const PUSH_CHECK_INTERVAL: Duration = Duration::from_secs(3);

/// What the source knows of a push subscription's health (pure): when the camera was last
/// heard (a Notify or a renewal answer), whether the last probe failed, the clock offset it
/// measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    lifetime: Duration,
    heard: Instant,
    away: bool,
    offset: Option<SignedDuration>,
}

impl Liveness {
    /// A subscription of `lifetime` made at `now`, the camera clock `offset` off.
    pub fn new(lifetime: Duration, now: Instant, offset: Option<SignedDuration>) -> Self {
        Liveness {
            lifetime,
            heard: now,
            away: false,
            offset,
        }
    }

    /// The camera answered a renewal (granting `lifetime`) or pushed something at `now`.
    pub fn heard(&mut self, now: Instant, lifetime: Option<Duration>) {
        self.heard = now;
        if let Some(l) = lifetime {
            self.lifetime = l;
        }
    }

    /// When the source is down unless the camera is heard from before.
    pub fn silent_after(&self) -> Instant {
        self.heard + self.lifetime
    }

    /// A probe's result: `Some(offset)` when the camera answered. Returns whether to renew at
    /// once: the camera is back after failing a probe, or its clock jumped by more than
    /// `jump` (a reboot resets it), so it may have forgotten the subscription.
    pub fn probed(&mut self, answer: Option<SignedDuration>, jump: Duration) -> bool {
        let Some(offset) = answer else {
            self.away = true;
            return false;
        };
        let jumped = self.offset.is_some_and(|before| {
            SignedDuration::try_from(jump).is_ok_and(|j| (offset - before).abs() > j)
        });
        let back = std::mem::replace(&mut self.away, false);
        self.offset = Some(offset);
        back || jumped
    }
}

/// Why a session ended.
enum End {
    Shutdown,
    Failed(onvif::Error),
}

/// A session: the device, the route the camera calls, the subscription.
struct Session {
    info: Box<DeviceInfo>,
    route: Route,
    sub: Subscription,
}

/// A camera's ONVIF push source.
pub struct PushSource {
    config: Arc<CameraConfig>,
    client: Client,
    metrics: Metrics,
    push: Push,
}

impl PushSource {
    /// The push source of `config`'s camera, through `client`, receiving on `push`.
    pub fn new(config: Arc<CameraConfig>, client: Client, metrics: Metrics, push: Push) -> Self {
        Self {
            config,
            client,
            metrics,
            push,
        }
    }

    /// Runs until `shutdown` (or until the camera task is gone), reporting on `tx` as
    /// [`Source::Push`]. Ends by unsubscribing (bounded).
    pub async fn run(self, tx: mpsc::Sender<SourceMsg>, shutdown: CancellationToken) {
        let mut backoff = Backoff::with_max(self.config.max_backoff);
        let mut standing = super::Standing::default();
        loop {
            let started = tokio::select! {
                () = shutdown.cancelled() => break,
                r = Box::pin(self.start(&tx)) => r,
            };
            let err = match started {
                Ok(mut session) => {
                    backoff.succeeded(Instant::now());
                    standing.previous = None;
                    standing.reported = Some(true);
                    info!(consumer = %session.route.url, "push subscription made; the camera calls the bridge");
                    let up = SourceMsg::Up {
                        source: Source::Push,
                        info: session.info.clone(),
                    };
                    if tx.send(up).await.is_err() {
                        Box::pin(release(&self.client, &session.sub)).await;
                        break;
                    }
                    match Box::pin(self.session(&mut session, &tx, &shutdown)).await {
                        End::Shutdown => {
                            Box::pin(release(&self.client, &session.sub)).await;
                            break;
                        }
                        End::Failed(e) => {
                            if disposition(&e) == Disposition::Release {
                                Box::pin(release(&self.client, &session.sub)).await;
                            }
                            e
                        }
                    }
                }
                Err(e) => e,
            };
            let go_on = super::after_failure(
                Source::Push,
                &err,
                "push subscription lost; subscribing again",
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
    }

    /// Clock, identity, event service, a fresh route, Subscribe.
    async fn start(&self, tx: &mpsc::Sender<SourceMsg>) -> Result<Session, onvif::Error> {
        let offset = sync_clock(&self.client, &self.config).await?;
        let offset_ms = i64::try_from(offset.as_millis()).unwrap_or(i64::MAX);
        let _ = tx.send(SourceMsg::ClockDrift { offset_ms }).await;
        let mut info = self.client.device_information().await?;
        info.mac = self.client.mac_address().await.ok().flatten();
        let events = events_service(&self.client).await?;
        let from = expected_peer(&self.config)
            .await
            .map_err(|detail| onvif::Error::Transport {
                url: onvif::error::redact(self.client.device_url()),
                detail,
            })?;
        let route = self.push.register(
            &self.config.id,
            Expect {
                method: http::Method::POST,
                from,
                max_body: crate::limits::MAX_PACKET_BYTES,
            },
        );
        let sub = self
            .client
            .subscribe_push(&events, route.url_str(), self.config.subscription)
            .await?;
        Ok(Session {
            info: Box::new(info),
            route,
            sub,
        })
    }

    /// Receives, renews and probes until an error or shutdown.
    async fn session(
        &self,
        session: &mut Session,
        tx: &mpsc::Sender<SourceMsg>,
        shutdown: &CancellationToken,
    ) -> End {
        let now = Instant::now();
        let mut live = Liveness::new(session.sub.lifetime(), now, self.client.clock_offset());
        let mut renew_at = session.sub.renew_at();
        let mut probe_at = now + PUSH_CHECK_INTERVAL;
        let mut refused_once = false;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return End::Shutdown,
                pushed = session.route.rx.recv() => {
                    let Some(pushed) = pushed else {
                        return End::Shutdown;
                    };
                    match onvif::notify::parse_notify(&pushed.body) {
                        Ok(notifications) => {
                            live.heard(Instant::now(), None);
                            for n in notifications {
                                if tx.send(SourceMsg::Notification(Box::new(n))).await.is_err() {
                                    return End::Shutdown;
                                }
                            }
                        }
                        Err(e) if !refused_once => {
                            refused_once = true;
                            warn!("the camera pushed something that is not a Notify ({e}); ignored");
                        }
                        Err(e) => debug!("ignored a pushed body: {e}"),
                    }
                }
                () = sleep_until(renew_at) => {
                    let renewed = Box::pin(self.client.renew(&session.sub, self.config.subscription)).await;
                    match renewed {
                        Ok(sub) => {
                            self.metrics.renewed(&self.config.id);
                            live.heard(Instant::now(), Some(sub.lifetime()));
                            renew_at = sub.renew_at();
                            session.sub = sub;
                        }
                        Err(e) => match disposition(&e) {
                            Disposition::Keep => {
                                debug!("push renewal got no good answer ({e}); asking again");
                                renew_at = Instant::now() + PROBE_INTERVAL;
                            }
                            Disposition::Gone | Disposition::Release => {
                                return End::Failed(onvif::Error::SubscriptionLost {
                                    url: onvif::error::redact(&session.sub.address),
                                    reason: format!("renew failed: {e}"),
                                });
                            }
                        },
                    }
                }
                () = sleep_until(probe_at) => {
                    probe_at = Instant::now() + PUSH_CHECK_INTERVAL;
                    let answer = Box::pin(self.client.sync_clock()).await.ok();
                    if let Some(offset) = answer
                        && live.probed(Some(offset), self.config.drift_threshold)
                    {
                        debug!("the camera is back or its clock jumped; renewing now");
                        renew_at = Instant::now();
                        let offset_ms = i64::try_from(offset.as_millis()).unwrap_or(i64::MAX);
                        let _ = tx.send(SourceMsg::ClockDrift { offset_ms }).await;
                    } else if answer.is_none() {
                        live.probed(None, self.config.drift_threshold);
                    }
                }
                () = sleep_until(live.silent_after()) => {
                    return End::Failed(onvif::Error::Timeout {
                        url: onvif::error::redact(&session.sub.address),
                        after: live.lifetime,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JUMP: Duration = Duration::from_secs(5);

    fn secs(s: i64) -> Option<SignedDuration> {
        Some(SignedDuration::from_secs(s))
    }

    #[test]
    fn silence_longer_than_the_lifetime_is_down_and_any_news_pushes_it_back() {
        let t0 = Instant::now();
        let mut live = Liveness::new(Duration::from_secs(60), t0, secs(0));
        assert_eq!(live.silent_after(), t0 + Duration::from_secs(60));
        live.heard(t0 + Duration::from_secs(50), None);
        assert_eq!(live.silent_after(), t0 + Duration::from_secs(110));
        // A renewal that grants less shortens the window.
        live.heard(t0 + Duration::from_secs(55), Some(Duration::from_secs(10)));
        assert_eq!(live.silent_after(), t0 + Duration::from_secs(65));
    }

    #[test]
    fn a_camera_that_comes_back_or_whose_clock_jumps_is_renewed_at_once() {
        let t0 = Instant::now();
        let mut live = Liveness::new(Duration::from_secs(60), t0, secs(0));
        // Steady: no renewal.
        assert!(!live.probed(secs(1), JUMP));
        assert!(!live.probed(secs(-3), JUMP));
        // Away, then back: renew once.
        assert!(!live.probed(None, JUMP));
        assert!(!live.probed(None, JUMP));
        assert!(live.probed(secs(-3), JUMP));
        assert!(!live.probed(secs(-3), JUMP));
        // A reboot set the clock back 26 years between two probes.
        assert!(live.probed(secs(-820_000_000), JUMP));
        assert!(!live.probed(secs(-820_000_001), JUMP));
    }
}
