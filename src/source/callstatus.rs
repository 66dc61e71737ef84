//! The Hikvision door-station call status, polled: `GET /ISAPI/VideoIntercom/callStatus`
//! every `call_poll` (1 s by default). Door stations (DS-KV6113, KV8113, KD8003) mostly keep
//! the call off the alert stream, so this is how their press arrives: `idle` -> `ring` is a
//! press, `ring` -> `onCall` answered, back to `idle` the end of the call
//! ([`crate::hikvision::call::CallTracker`]). The press and an `AccessControllerEvent` on the
//! alert stream for the same press make one ring (the normaliser's ring window).
//!
//! A device that answers the first poll with 404 has no intercom (a camera): the source says
//! so once and stops. Failed polls are retried through the shared backoff (an unreachable
//! station every [`crate::backoff::PROBE_INTERVAL`], one answering errors exponentially, never
//! faster than the poll), quietly after the first; availability follows the alert stream, not
//! this poll.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior, interval, sleep};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::SourceMsg;
use crate::backoff::{Backoff, Failure, random_jitter};
use crate::config::CameraConfig;
use crate::hikvision::call::{self, CALL_STATUS_PATH, CallTracker, MAX_CALL_STATUS};
use crate::onvif::{self, Client};

/// This source's name in logs.
pub const NAME: &str = "callstatus";
/// How long one poll may take.
pub const POLL_TIMEOUT: Duration = Duration::from_secs(3);

/// A door station's call-status poll.
pub struct CallStatus {
    config: Arc<CameraConfig>,
    client: Client,
}

impl CallStatus {
    /// The call-status poll of `config`'s camera, through `client`.
    pub fn new(config: Arc<CameraConfig>, client: Client) -> Self {
        Self { config, client }
    }

    /// Polls until `shutdown`, the camera task is gone, or the device turns out to have no
    /// call status.
    pub async fn run(self, tx: mpsc::Sender<SourceMsg>, shutdown: CancellationToken) {
        let base = super::stream::origin(self.client.device_url());
        let Ok(url) = base.join(CALL_STATUS_PATH) else {
            return;
        };
        let mut tracker = CallTracker::new();
        let mut ticks = interval(self.config.call_poll);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut answered_once = false;
        let mut failing = false;
        let mut backoff = Backoff::with_max(self.config.max_backoff);
        let mut previous: Option<Failure> = None;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let polled = tokio::select! {
                () = shutdown.cancelled() => return,
                r = self.client.fetch(&url, MAX_CALL_STATUS as u64, POLL_TIMEOUT) => r,
            };
            let body = match polled {
                Ok(body) => body,
                Err(onvif::Error::Http { status: 404, .. }) if !answered_once => {
                    info!("no call status on this device (not a door station); not polling it");
                    return;
                }
                Err(e) => {
                    let failure = super::pullpoint::failure(e.retry());
                    let delay = backoff
                        .after(failure, previous, Instant::now(), random_jitter())
                        .max(self.config.call_poll);
                    previous = Some(failure);
                    if failing {
                        debug!("call status poll failed: {e}; again in {delay:?}");
                    } else {
                        warn!("call status poll failed: {e}; polling on");
                        failing = true;
                    }
                    // The last status answered stays the starting point: a door station
                    // ringing when it answers again was pressed meanwhile.
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = sleep(delay) => {}
                    }
                    ticks.reset_immediately();
                    continue;
                }
            };
            backoff.succeeded(Instant::now());
            previous = None;
            answered_once = true;
            let status = match call::parse(&body) {
                Ok(s) => s,
                Err(e) => {
                    if !failing {
                        warn!("call status answer unreadable ({e}); polling on");
                        failing = true;
                    }
                    continue;
                }
            };
            failing = false;
            for change in tracker.observe(status) {
                let n = call::to_notification(change, status);
                if tx.send(SourceMsg::Notification(Box::new(n))).await.is_err() {
                    return;
                }
            }
        }
    }
}
