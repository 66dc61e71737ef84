//! One [`Supervisor`] per camera: connect, read device information, subscribe, pull, renew,
//! recreate; it never gives up.
//!
//! Errors are classified by [`onvif::Error::retry`]: a lost subscription is recreated at once
//! (then backed off if that fails too), transport problems back off exponentially with jitter
//! (reset after a stable minute), rejected credentials wait long and are logged once with a hint.
//! Availability goes `online` after a successful subscribe and `offline` after the first failed
//! cycle; the MQTT side then publishes every stateful kind `OFF`, so no stale `ON` remains.
//!
//! The PullMessages future is kept alive across hold-expiry timers (it is pinned outside the
//! `select!`), so an expiring hold never aborts a long poll and loses the events in it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::backoff::{Backoff, random_jitter};
use crate::config::CameraConfig;
use crate::event::{DeviceInfo, Event, Update};
use crate::metrics::Metrics;
use crate::normalise::Normaliser;
use crate::onvif::{self, Client, Retry, Subscription};
use crate::snapshot::Trigger;

/// How long a camera may take to confirm Unsubscribe at shutdown or when replacing a subscription.
pub const UNSUBSCRIBE_DEADLINE: Duration = Duration::from_secs(2);
/// Least time between two PullMessages when a camera answers empty at once instead of holding
/// the long poll (wjbeckett's listener backs off the same way).
pub const MIN_PULL_INTERVAL: Duration = Duration::from_secs(1);
/// Shortest PullMessages timeout we send (some cameras take only whole seconds).
pub const MIN_PULL_TIMEOUT: Duration = Duration::from_secs(1);
/// Wait after a fatal error (credentials rejected, events unsupported) before trying again.
pub const FATAL_RETRY: Duration = Duration::from_secs(300);

/// A camera's supervisor task.
pub struct Supervisor {
    config: Arc<CameraConfig>,
    client: Client,
    updates: mpsc::Sender<Update>,
    snapshots: Option<mpsc::Sender<Trigger>>,
    metrics: Metrics,
    shutdown: CancellationToken,
    /// The drift warning was logged and the clock has not been right since: a camera that
    /// reconnects often is warned about once, not at every session.
    drift_warned: AtomicBool,
}

/// Why a session ended.
enum End {
    /// Shutdown was asked for.
    Shutdown,
    /// The camera failed.
    Failed(onvif::Error),
}

impl Supervisor {
    /// A supervisor for `config`, reporting on `updates`, asking `snapshots` for pictures.
    pub fn new(
        config: Arc<CameraConfig>,
        client: Client,
        updates: mpsc::Sender<Update>,
        snapshots: Option<mpsc::Sender<Trigger>>,
        metrics: Metrics,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            config,
            client,
            updates,
            snapshots,
            metrics,
            shutdown,
            drift_warned: AtomicBool::new(false),
        }
    }

    /// Runs until shutdown. Ends by unsubscribing (bounded) and reporting the camera offline.
    pub async fn run(self) {
        let mut backoff = Backoff::with_max(self.config.max_backoff);
        let mut normaliser = Normaliser::new(&self.config);
        let mut online: Option<bool> = None;
        let mut last_retry: Option<Retry> = None;
        loop {
            let err = match self
                .session(&mut normaliser, &mut backoff, &mut online)
                .await
            {
                End::Shutdown => break,
                End::Failed(e) => e,
            };
            normaliser.reset();
            self.metrics.set_up(&self.config.id, false);
            if online != Some(false) {
                warn!(error = %err, "camera offline");
                self.send(Update::Offline {
                    camera: self.config.id.clone(),
                    reason: err.to_string(),
                })
                .await;
                online = Some(false);
            }
            let retry = err.retry();
            let delay = match retry {
                Retry::Resubscribe if last_retry != Some(Retry::Resubscribe) => {
                    info!("subscription lost; subscribing again");
                    Duration::ZERO
                }
                Retry::Fatal => {
                    if last_retry != Some(Retry::Fatal) {
                        warn!(error = %err, "camera refuses us; retrying in {FATAL_RETRY:?}");
                    }
                    FATAL_RETRY
                }
                _ => {
                    let d = backoff.failed(Instant::now(), random_jitter());
                    debug!("{err:#}; retry in {d:?}");
                    d
                }
            };
            last_retry = Some(retry);
            if !delay.is_zero() {
                tokio::select! {
                    () = self.shutdown.cancelled() => break,
                    () = sleep(delay) => {}
                }
            }
        }
        self.metrics.set_up(&self.config.id, false);
        self.send(Update::Offline {
            camera: self.config.id.clone(),
            reason: "bridge stopping".into(),
        })
        .await;
        info!("camera task stopped");
    }

    /// One connect-subscribe-pull cycle.
    async fn session(
        &self,
        normaliser: &mut Normaliser,
        backoff: &mut Backoff,
        online: &mut Option<bool>,
    ) -> End {
        // Boxed, like the renew and unsubscribe below: the task's future is allocated for the
        // whole run, so only the held poll should decide its size (docs/performance.md).
        let (info, sub) = tokio::select! {
            () = self.shutdown.cancelled() => return End::Shutdown,
            r = Box::pin(self.setup()) => match r {
                Ok(v) => v,
                Err(e) => return End::Failed(e),
            },
        };
        normaliser.set_model(info.model.as_deref());
        backoff.succeeded(Instant::now());
        self.metrics.set_up(&self.config.id, true);
        if *online != Some(true) {
            info!(
                model = info.model.as_deref().unwrap_or("?"),
                "camera online"
            );
            *online = Some(true);
        }
        self.send(Update::Online {
            camera: self.config.id.clone(),
            info,
        })
        .await;
        let mut sub = sub;
        let end = self.pull_loop(&mut sub, normaliser).await;
        // Leave no subscription behind where the camera still answers.
        let gone = matches!(&end, End::Failed(e) if e.retry() == Retry::Resubscribe);
        if !gone {
            let unsubscribe = Box::pin(self.client.unsubscribe(&sub));
            let _ = tokio::time::timeout(UNSUBSCRIBE_DEADLINE, unsubscribe).await;
        }
        end
    }

    /// Clock, identity, services and a new subscription: what a session starts with.
    async fn setup(&self) -> Result<(DeviceInfo, Subscription), onvif::Error> {
        let offset = self.sync_clock().await?;
        self.report_drift(offset).await;
        let mut info = self.client.device_information().await?;
        // Best effort: many cameras restrict GetNetworkInterfaces; the MAC only links the
        // device in Home Assistant's registry.
        info.mac = self.client.mac_address().await.ok().flatten();
        let services = self.client.services().await?;
        let events = services.events.ok_or_else(|| onvif::Error::NotSupported {
            url: onvif::error::redact(self.client.device_url()),
            action: "the event service (PullPoint)".into(),
        })?;
        let sub = self
            .client
            .create_pull_point(&events, self.config.subscription)
            .await?;
        Ok((info, sub))
    }

    /// Pulls and renews until an error or shutdown.
    async fn pull_loop(&self, sub: &mut Subscription, normaliser: &mut Normaliser) -> End {
        let mut closed_once = false;
        loop {
            // Renew now when it would fall due during the shortest poll we make.
            if sub.renew_due(Instant::now() + MIN_PULL_TIMEOUT) {
                let renewed = tokio::select! {
                    () = self.shutdown.cancelled() => return End::Shutdown,
                    r = Box::pin(self.client.renew(sub, self.config.subscription)) => r,
                };
                match renewed {
                    Ok(s) => {
                        *sub = s;
                        self.metrics.renewed(&self.config.id);
                    }
                    // Renew failed: the subscription is as good as gone; recreate it.
                    Err(e) => {
                        debug!("renew failed: {e:#}");
                        return End::Failed(onvif::Error::SubscriptionLost {
                            url: sub.address.to_string(),
                            reason: format!("renew failed: {e}"),
                        });
                    }
                }
            }
            let until_renew = sub.renew_at().saturating_duration_since(Instant::now());
            let timeout = self
                .config
                .pull_timeout
                .min(until_renew.max(MIN_PULL_TIMEOUT));
            let started = Instant::now();
            let result = tokio::select! {
                r = self.pull_once(sub, timeout, normaliser) => r,
                () = self.shutdown.cancelled() => return End::Shutdown,
            };
            match result {
                Ok(0) if started.elapsed() < MIN_PULL_INTERVAL => {
                    if self.idle(started + MIN_PULL_INTERVAL, normaliser).await {
                        return End::Shutdown;
                    }
                }
                Ok(_) => {}
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

    /// One PullMessages, serving hold-expiry deadlines while it waits. Returns how many
    /// notifications arrived.
    async fn pull_once(
        &self,
        sub: &Subscription,
        timeout: Duration,
        normaliser: &mut Normaliser,
    ) -> Result<usize, onvif::Error> {
        // Pinned where it is made: `tokio::pin!` on a named future kept a second, moved-from
        // copy of it in this function's state (1.5 KiB per camera, for the whole run).
        let mut pull = std::pin::pin!(self.client.pull(sub, timeout, self.config.message_limit));
        loop {
            let deadline = normaliser.next_deadline();
            tokio::select! {
                r = &mut pull => {
                    let r = r?;
                    let now = jiff::Timestamp::now();
                    let at = Instant::now();
                    for n in &r.notifications {
                        for e in normaliser.handle(n, now, at) {
                            Box::pin(self.publish(e)).await;
                        }
                    }
                    return Ok(r.notifications.len());
                }
                () = sleep_until(deadline.unwrap_or_else(far_future)), if deadline.is_some() => {
                    self.expire(normaliser).await;
                }
            }
        }
    }

    /// Waits until `until`, serving deadlines; true if shutdown came first.
    async fn idle(&self, until: Instant, normaliser: &mut Normaliser) -> bool {
        loop {
            let deadline = normaliser.next_deadline().filter(|d| *d < until);
            tokio::select! {
                () = self.shutdown.cancelled() => return true,
                () = sleep_until(until) => return false,
                () = sleep_until(deadline.unwrap_or_else(far_future)), if deadline.is_some() => {
                    self.expire(normaliser).await;
                }
            }
        }
    }

    async fn expire(&self, normaliser: &mut Normaliser) {
        for e in normaliser.expire(jiff::Timestamp::now(), Instant::now()) {
            Box::pin(self.publish(e)).await;
        }
    }

    /// The event first, then (if configured) a snapshot request: a press never waits for a JPEG.
    /// Callers box it: inline, it doubled the size of the held poll's state (every camera's
    /// task carries that size for its whole run).
    async fn publish(&self, event: Event) {
        self.metrics.event(&event);
        let wants_snapshot = event.trigger
            && self.config.snapshot.enabled
            && self.config.snapshot.on.contains(&event.kind);
        let trigger = wants_snapshot.then(|| Trigger::for_event(&event));
        self.send(Update::Event(event)).await;
        if let (Some(t), Some(tx)) = (trigger, &self.snapshots) {
            // A full queue means a fetch is running and queued triggers will share it.
            let _ = tx.try_send(t);
        }
    }

    /// Measures the camera clock; sets it to ours first when the user turned `set_clock` on
    /// and it drifts beyond the threshold. A camera that refuses keeps working through the
    /// offset.
    async fn sync_clock(&self) -> Result<jiff::SignedDuration, onvif::Error> {
        let offset = self.client.sync_clock().await?;
        if !self.config.set_clock || !self.drifts(offset) {
            return Ok(offset);
        }
        match self.client.set_system_time(jiff::Timestamp::now()).await {
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

    /// Whether the camera clock is further from ours than the configured threshold.
    fn drifts(&self, offset: jiff::SignedDuration) -> bool {
        jiff::SignedDuration::try_from(self.config.drift_threshold)
            .is_ok_and(|threshold| offset.abs() > threshold)
    }

    async fn report_drift(&self, offset: jiff::SignedDuration) {
        let offset_ms = i64::try_from(offset.as_millis()).unwrap_or(i64::MAX);
        self.metrics.drift(&self.config.id, offset_ms);
        let drifts = self.drifts(offset);
        let warned = self.drift_warned.swap(drifts, Ordering::Relaxed);
        if drifts {
            let dir = if offset_ms > 0 { "ahead of" } else { "behind" };
            let secs = offset_ms.abs() as f64 / 1000.0;
            if warned {
                debug!("camera clock is still {secs:.1} s {dir} ours");
            } else {
                warn!(
                    "camera clock is {secs:.1} s {dir} ours; the bridge compensates, but enable NTP on the camera so its timestamps are right"
                );
            }
        }
        self.send(Update::ClockDrift {
            camera: self.config.id.clone(),
            offset_ms,
        })
        .await;
    }

    /// Sends to the MQTT side; the publisher drains continuously, so this waits only briefly.
    /// A closed channel means the bridge is stopping: nothing to do.
    async fn send(&self, update: Update) {
        let _ = self.updates.send(update).await;
    }
}

/// The ONVIF client for a configured camera (credentials and TLS choice from the config), with
/// an HTTP client of its own; a bridge with many cameras uses [`HttpClients`] instead.
pub fn client_for(
    config: &CameraConfig,
    options: onvif::ClientOptions,
) -> Result<Client, onvif::Error> {
    let (credentials, options) = settings(config, options);
    Client::new(config.url.clone(), credentials, options)
}

/// The HTTP clients a bridge's cameras share, one per distinct [`onvif::ClientOptions`]
/// (in practice one, or two with `tls_insecure` cameras). A client per camera cost about
/// 100 KiB and 2 ms each (the system CA certificates, loaded by every client): 1000 cameras
/// took 100 MiB and 2.5 s to start (docs/performance.md). Connections are still pooled per
/// camera (per host and port).
#[derive(Debug, Default)]
pub struct HttpClients {
    built: Vec<(onvif::ClientOptions, reqwest::Client)>,
}

impl HttpClients {
    /// The ONVIF client for a configured camera, sharing an HTTP client with the others.
    pub fn client_for(
        &mut self,
        config: &CameraConfig,
        options: onvif::ClientOptions,
    ) -> Result<Client, onvif::Error> {
        let (credentials, options) = settings(config, options);
        let http = match self.built.iter().find(|(o, _)| *o == options) {
            Some((_, http)) => http.clone(),
            None => {
                let http =
                    onvif::client::http_client(&options).map_err(|e| onvif::Error::Transport {
                        url: onvif::error::redact(&config.url),
                        detail: onvif::error::transport_detail(e),
                    })?;
                self.built.push((options.clone(), http.clone()));
                http
            }
        };
        Client::with_http(config.url.clone(), credentials, options, http)
    }
}

/// A camera's credentials and client options from its config.
fn settings(
    config: &CameraConfig,
    options: onvif::ClientOptions,
) -> (Option<onvif::Credentials>, onvif::ClientOptions) {
    let credentials = config.username.as_ref().map(|username| onvif::Credentials {
        username: username.clone(),
        password: config.password.clone().unwrap_or_default(),
    });
    let options = onvif::ClientOptions {
        tls_insecure: config.tls_insecure,
        ..options
    };
    (credentials, options)
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cameras_share_one_http_client_per_tls_setting() {
        let text = r#"
            [[cameras]]
            id = "a"
            url = "http://127.0.0.1:1/onvif/device_service"
            [[cameras]]
            id = "b"
            url = "http://127.0.0.1:2/onvif/device_service"
            [[cameras]]
            id = "c"
            url = "https://127.0.0.1:3/onvif/device_service"
            tls_insecure = true
        "#;
        let config = crate::config::from_toml(text, std::path::Path::new("t.toml")).unwrap();
        assert_eq!(config.cameras.len(), 3);
        let mut http = HttpClients::default();
        for cam in &config.cameras {
            let client = http
                .client_for(cam, onvif::ClientOptions::default())
                .unwrap();
            assert_eq!(client.device_url(), &cam.url);
            assert_eq!(client.options().tls_insecure, cam.tls_insecure);
        }
        assert_eq!(http.built.len(), 2, "one client for a and b, one for c");
    }
}
