//! One [`Supervisor`] per camera: the camera's task. It runs the camera's event sources
//! ([`crate::source`], today the PullPoint one) as tasks of their own and owns what comes
//! after them: the one [`Normaliser`], hold deadlines, availability, events, snapshot triggers
//! and the clock-drift report.
//!
//! Each source runs its own session and retry policy and reports [`SourceMsg`]s over one
//! bounded channel; a source that fails is retried on its own. Availability follows the
//! source that delivers presses ([`availability`]): `online` before the first event of every
//! session, `offline` only when it stays down past [`OFFLINE_GRACE`] (at once when it never
//! was up), named after that source. When `offline` is published the MQTT side publishes every
//! stateful kind `OFF`, and the normaliser forgets its state.
//!
//! A source's long poll runs in its own task, so an expiring hold here never aborts it.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Duration, Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::config::{Api, CameraConfig};
use crate::door::CameraLink;
use crate::event::{DeviceInfo, Event, Update};
use crate::metrics::Metrics;
use crate::normalise::Normaliser;
use crate::onvif::{self, Client};
use crate::push::Push;
use crate::snapshot::Trigger;
use crate::source::{
    SOURCE_QUEUE, Source, SourceMsg, is_onvif, presses_after_up, presses_at_start, presses_source,
    pullpoint, sources_of,
};

pub mod availability;

pub use availability::{Availability, OFFLINE_GRACE};

/// A camera's task.
pub struct Supervisor {
    config: Arc<CameraConfig>,
    client: Client,
    updates: mpsc::Sender<Update>,
    snapshots: Option<mpsc::Sender<Trigger>>,
    clips: Option<mpsc::Sender<crate::clip::ClipTrigger>>,
    metrics: Metrics,
    shutdown: CancellationToken,
    push: Option<Push>,
    /// Tells the camera's door task whether the camera is online and which API it speaks.
    door: Option<watch::Sender<CameraLink>>,
}

/// What the camera task keeps between messages.
struct State {
    normaliser: Normaliser,
    availability: Availability,
    /// The API in use: the configured one, or what `auto` resolved to (`Auto` until the
    /// device said who made it).
    api: Api,
    /// The source whose state is the camera's availability: the one that delivers presses.
    presses: Source,
    /// What the sources said the device is (ONVIF first, the vendor API filling gaps).
    info: DeviceInfo,
    /// The running sources.
    sources: Vec<JoinHandle<()>>,
    /// For sources started later (when `auto` resolves); dropped before the end drain.
    tx: Option<mpsc::Sender<SourceMsg>>,
    /// The sources that are down, and why (at most one entry per [`Source`]).
    down: Vec<(Source, String)>,
    /// The `Update::Sources` text last sent.
    sources_sent: Option<String>,
    /// The drift warning was logged and the clock has not been right since: a camera that
    /// reconnects often is warned about once, not at every session.
    drift_warned: bool,
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
            clips: None,
            metrics,
            shutdown,
            push: None,
            door: None,
        }
    }

    /// Also tells a door task (through `link`) when the camera goes on- and offline.
    pub fn with_door_link(mut self, link: watch::Sender<CameraLink>) -> Self {
        self.door = Some(link);
        self
    }

    /// Publishes the camera's availability and API to the door task, if there is one.
    fn report_link(&self, state: &State) {
        if let Some(link) = &self.door {
            let now = CameraLink {
                // Within the offline grace the press source is already down: no door then.
                online: state.availability.is_online() && state.availability.deadline().is_none(),
                api: state.api,
            };
            link.send_if_modified(|old| std::mem::replace(old, now) != now);
        }
    }

    /// The same supervisor with the push listener its sources may register routes on.
    pub fn with_push(mut self, push: Option<Push>) -> Self {
        self.push = push;
        self
    }

    /// Sends clip triggers to `clips` (the camera's clip task) for events in `clip.on`.
    pub fn with_clips(mut self, clips: mpsc::Sender<crate::clip::ClipTrigger>) -> Self {
        self.clips = Some(clips);
        self
    }

    /// Runs until shutdown. Ends after its sources released what they hold on the camera
    /// (bounded), reporting the camera offline.
    pub async fn run(self) {
        let (tx, mut rx) = mpsc::channel(SOURCE_QUEUE);
        let api = self.config.api;
        let mut state = State {
            normaliser: Normaliser::new(&self.config),
            availability: Availability::default(),
            api,
            presses: presses_at_start(api, self.config.events),
            info: DeviceInfo::default(),
            sources: Vec::new(),
            tx: Some(tx),
            down: Vec::new(),
            sources_sent: None,
            drift_warned: false,
        };
        for source in sources_of(api) {
            self.start_source(*source, &mut state);
        }
        loop {
            let deadline = [
                state.normaliser.next_deadline(),
                state.availability.deadline(),
            ]
            .into_iter()
            .flatten()
            .min();
            tokio::select! {
                () = self.shutdown.cancelled() => break,
                msg = rx.recv() => match msg {
                    Some(msg) => Box::pin(self.handle(msg, &mut state)).await,
                    None => break,
                },
                () = sleep_until(deadline.unwrap_or_else(far_future)), if deadline.is_some() => {
                    Box::pin(self.expire(&mut state)).await;
                }
            }
        }
        if let Some(link) = &self.door {
            link.send_replace(CameraLink::default());
        }
        // Let the sources finish (they unsubscribe, bounded) without blocking on a full queue.
        state.tx = None;
        while rx.recv().await.is_some() {}
        let sources = std::mem::take(&mut state.sources);
        Box::pin(async {
            for s in sources {
                if let Err(e) = s.await {
                    warn!("an event source ended abnormally: {e}");
                }
            }
        })
        .await;
        self.metrics.set_up(&self.config.id, false);
        // Boxed: inline, the update and its send would be part of the task's state for the
        // whole run.
        Box::pin(self.send(Update::Offline {
            camera: self.config.id.clone(),
            reason: "bridge stopping".into(),
        }))
        .await;
        info!("camera task stopped");
    }

    async fn handle(&self, msg: SourceMsg, state: &mut State) {
        match msg {
            SourceMsg::Up { source, info } => {
                let presses = presses_after_up(state.presses, source);
                if presses != state.presses {
                    info!("ONVIF push delivers this camera's events from now on");
                    // The PullPoint it replaces is not down any more: it stopped.
                    state.down.retain(|(s, _)| *s != state.presses);
                    state.presses = presses;
                }
                state.down.retain(|(s, _)| *s != source);
                self.report_sources(state).await;
                merge_info(&mut state.info, *info, is_onvif(source));
                state.normaliser.set_model(state.info.model.as_deref());
                if is_onvif(source) && state.api == Api::Auto {
                    self.resolve_api(state);
                }
                if source != state.presses {
                    debug!(source = source.name(), "event source up");
                    if !state.availability.is_online() {
                        return;
                    }
                } else {
                    self.metrics.set_up(&self.config.id, true);
                    if state.availability.up() {
                        info!(
                            model = state.info.model.as_deref().unwrap_or("?"),
                            source = source.name(),
                            "camera online"
                        );
                    }
                }
                self.report_link(state);
                self.send(Update::Online {
                    camera: self.config.id.clone(),
                    info: state.info.clone(),
                })
                .await;
            }
            SourceMsg::Notification(n) => {
                let now = jiff::Timestamp::now();
                for e in state.normaliser.handle(&n, now, Instant::now()) {
                    self.publish(e).await;
                }
            }
            SourceMsg::ClockDrift { offset_ms } => self.report_drift(offset_ms, state).await,
            SourceMsg::Down(down) if down.source != state.presses => {
                state.down.retain(|(s, _)| *s != down.source);
                state.down.push((down.source, down.reason.clone()));
                self.report_sources(state).await;
                info!(
                    source = down.source.name(),
                    "event source down (the camera's presses come from {}): {}",
                    state.presses.name(),
                    down.reason
                );
            }
            SourceMsg::Down(down) => {
                self.metrics.set_up(&self.config.id, false);
                let source = down.source.name();
                state.down.retain(|(s, _)| *s != down.source);
                state.down.push((down.source, down.reason.clone()));
                self.report_sources(state).await;
                debug!(source, "event source down: {}", down.reason);
                let due = state
                    .availability
                    .down(source, &down.reason, Instant::now());
                self.report_link(state);
                if let Some(reason) = due {
                    self.offline(reason, state).await;
                }
            }
        }
    }

    /// Tells the MQTT side which sources are down, when that changed.
    async fn report_sources(&self, state: &mut State) {
        let down = state
            .down
            .iter()
            .map(|(s, reason)| format!("{}: {reason}", s.name()))
            .collect::<Vec<_>>()
            .join("; ");
        if state.sources_sent.as_deref() == Some(down.as_str()) {
            return;
        }
        state.sources_sent = Some(down.clone());
        self.send(Update::Sources {
            camera: self.config.id.clone(),
            down,
        })
        .await;
    }

    /// Starts `source` as a task of its own, reporting on the camera's channel.
    fn start_source(&self, source: Source, state: &mut State) {
        let Some(tx) = state.tx.clone() else {
            return;
        };
        let ctx = crate::source::Context {
            config: self.config.clone(),
            client: self.client.clone(),
            metrics: self.metrics.clone(),
            push: self.push.clone(),
        };
        state.sources.push(crate::source::spawn(
            source,
            &ctx,
            tx,
            self.shutdown.child_token(),
        ));
    }

    /// `api = "auto"`: the ONVIF manufacturer decides, once; a vendor API's sources start and
    /// deliver the presses from then on.
    fn resolve_api(&self, state: &mut State) {
        let (api, why) = Api::Auto.resolve(state.info.manufacturer.as_deref());
        info!("events through the {} API ({why})", api.as_str());
        state.api = api;
        state.presses = presses_after_up(presses_source(api), state.presses);
        for source in sources_of(api) {
            if *source != Source::PullPoint {
                self.start_source(*source, state);
            }
        }
    }

    /// Hold expiries and the end of an availability grace.
    async fn expire(&self, state: &mut State) {
        for e in state
            .normaliser
            .expire(jiff::Timestamp::now(), Instant::now())
        {
            self.publish(e).await;
        }
        if let Some(reason) = state.availability.expire(Instant::now()) {
            self.offline(reason, state).await;
        }
    }

    async fn offline(&self, reason: String, state: &mut State) {
        warn!(reason, "camera offline");
        state.normaliser.reset();
        self.report_link(state);
        self.send(Update::Offline {
            camera: self.config.id.clone(),
            reason,
        })
        .await;
    }

    /// The event first, then (if configured) a snapshot request: a press never waits for a JPEG.
    async fn publish(&self, event: Event) {
        self.metrics.event(&event);
        let wants_snapshot = event.trigger
            && self.config.snapshot.enabled
            && self.config.snapshot.on.contains(&event.kind);
        let trigger = wants_snapshot.then(|| Trigger::for_event(&event));
        let clip = (event.trigger && self.config.clip.on.contains(&event.kind)).then(|| {
            match Trigger::for_event(&event) {
                Trigger::Event(e) => e,
                _ => unreachable!("for_event makes an event reason"),
            }
        });
        self.send(Update::Event(event)).await;
        if let (Some(t), Some(tx)) = (trigger, &self.snapshots) {
            // A full queue means a fetch is running and queued triggers will share it.
            let _ = tx.try_send(t);
        }
        if let (Some(c), Some(tx)) = (clip, &self.clips) {
            // A full queue means a clip is recording and is being extended already.
            let _ = tx.try_send(c);
        }
    }

    async fn report_drift(&self, offset_ms: i64, state: &mut State) {
        self.metrics.drift(&self.config.id, offset_ms);
        let offset = jiff::SignedDuration::from_millis(offset_ms);
        let drifts = pullpoint::drifts(&self.config, offset);
        let warned = std::mem::replace(&mut state.drift_warned, drifts);
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

/// Fills `into` from `from`: ONVIF's answers (`prefer` true) replace the vendor API's; the
/// vendor API's only fill what ONVIF left empty.
fn merge_info(into: &mut DeviceInfo, from: DeviceInfo, prefer: bool) {
    let fields = [
        (&mut into.manufacturer, from.manufacturer),
        (&mut into.model, from.model),
        (&mut into.firmware, from.firmware),
        (&mut into.serial, from.serial),
        (&mut into.hardware, from.hardware),
        (&mut into.mac, from.mac),
        (&mut into.configuration_url, from.configuration_url),
    ];
    for (slot, value) in fields {
        if value.is_some() && (prefer || slot.is_none()) {
            *slot = value;
        }
    }
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
