//! Wiring: the MQTT bridge, one supervisor and snapshot task per camera, the archive sweeper,
//! command routing and the optional health endpoint; then an ordered shutdown under a
//! deadline.
//!
//! Shutdown order: the root token stops the cameras (each unsubscribes within 2 s, reports
//! offline and drops its sender); when the last sender is gone the MQTT publisher publishes
//! everything offline and disconnects. The MQTT side has its own token, cancelled only if the
//! deadline passes, so camera `offline` messages still go out. No task is detached: all are
//! spawned on one `TaskTracker` that `run` waits for.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, info, info_span, warn};

use crate::archive::Archive;
use crate::camera::{HttpClients, Supervisor};
use crate::config::Config;
use crate::door::{self, CameraLink, DOOR_QUEUE, DoorTask};
use crate::event::{CameraId, Command, DoorCommand};
use crate::health;
use crate::metrics::Metrics;
use crate::mqtt::{Bridge, BridgeStatus, CameraMeta, Tuning};
use crate::onvif::ClientOptions;
use crate::push::Push;
use crate::retention::RetentionPolicy;
use crate::snapshot::{SnapshotTask, TRIGGER_QUEUE, Trigger};

/// Default bound on the whole shutdown.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);
/// How often the archive is swept (besides at start and when a write goes over the limit).
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(3600);

/// Knobs for tests and the demo; [`Options::default`] is production.
#[derive(Debug, Clone)]
pub struct Options {
    /// Bound on the whole shutdown.
    pub shutdown_deadline: Duration,
    /// ONVIF client timeouts.
    pub client: ClientOptions,
    /// MQTT timing.
    pub mqtt: Tuning,
    /// The door rules' limits.
    pub door: door::Rules,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            shutdown_deadline: SHUTDOWN_DEADLINE,
            client: ClientOptions::default(),
            mqtt: Tuning::default(),
            door: door::Rules::default(),
        }
    }
}

/// What a started bridge exposes (for `run`, `demo` and tests).
pub struct Running {
    /// MQTT state and counters.
    pub mqtt: BridgeStatus,
    /// Camera counters.
    pub metrics: Metrics,
    /// Where the health endpoint listens, if configured.
    pub http: Option<SocketAddr>,
    /// The push listener, if configured.
    pub push: Option<Push>,
    tracker: TaskTracker,
    mqtt_token: CancellationToken,
    deadline: Duration,
}

/// Starts everything (inside a Tokio runtime); cameras stop when `shutdown` fires.
pub async fn start(
    config: &Config,
    shutdown: CancellationToken,
    options: Options,
) -> anyhow::Result<Running> {
    let tracker = TaskTracker::new();
    let metrics = Metrics::default();
    let mqtt_token = CancellationToken::new();
    let metas = config.cameras.iter().map(CameraMeta::from).collect();
    let bridge = Bridge::start_with(
        &config.mqtt,
        metas,
        &tracker,
        mqtt_token.clone(),
        options.mqtt,
    )?;
    let Bridge {
        updates,
        commands,
        status,
    } = bridge;
    let archive = Archive::new(
        config.storage.path.clone(),
        RetentionPolicy {
            max_age: config.storage.max_age,
            max_size: config.storage.max_size,
        },
    );
    let sweep = Arc::new(Notify::new());
    tracker.spawn(sweeper(archive.clone(), sweep.clone(), shutdown.clone()));
    let push = match &config.push {
        None => None,
        Some(p) => {
            let push = Push::start(p, metrics.clone(), shutdown.clone()).await?;
            info!(
                "push listener on {} (cameras are told to call {})",
                push.local_addr(),
                p.advertise_url
            );
            Some(push)
        }
    };
    warn_if_anonymous(config);
    let mut routes: HashMap<CameraId, Routes> = HashMap::new();
    let mut http = HttpClients::default();
    for cam in &config.cameras {
        let cfg = Arc::new(cam.clone());
        if cfg.tls_insecure {
            warn!(camera = %cfg.id, "tls_insecure is on: this camera's HTTPS certificate is not verified");
        }
        if cfg.api == crate::config::Api::DoorBird && cfg.url.scheme() == "http" {
            // The LAN API offers HTTP Basic only (docs/security.md).
            warn!(camera = %cfg.id, "a DoorBird answers HTTP Basic only: over http:// its API-Operator password crosses the LAN readable; use https:// (with tls_insecure for its self-signed certificate) where the device offers it");
        }
        let client = http.client_for(&cfg, options.client.clone())?;
        let span = info_span!("camera", id = %cfg.id);
        let snapshots = if cfg.snapshot.enabled {
            let (tx, rx) = mpsc::channel(TRIGGER_QUEUE);
            let task = SnapshotTask::new(
                cfg.clone(),
                client.clone(),
                Some(archive.clone()),
                sweep.clone(),
                updates.clone(),
                metrics.clone(),
            );
            tracker.spawn(
                task.run(rx, shutdown.child_token())
                    .instrument(span.clone()),
            );
            Some(tx)
        } else {
            None
        };
        let clips = cfg.clip.enabled().then(|| {
            let (tx, rx) = mpsc::channel(crate::clip::CLIP_QUEUE);
            let task = crate::clip::ClipTask::new(
                cfg.clone(),
                client.clone(),
                archive.clone(),
                sweep.clone(),
                updates.clone(),
            );
            tracker.spawn(
                task.run(rx, shutdown.child_token())
                    .instrument(span.clone()),
            );
            tx
        });
        let mut sup = Supervisor::new(
            cfg.clone(),
            client.clone(),
            updates.clone(),
            snapshots.clone(),
            metrics.clone(),
            shutdown.child_token(),
        )
        .with_push(push.clone());
        let door = match &cfg.relay {
            Some(relay) => {
                let (link_tx, link_rx) = tokio::sync::watch::channel(CameraLink::default());
                sup = sup.with_door_link(link_tx);
                let (tx, rx) = mpsc::channel(DOOR_QUEUE);
                let task = DoorTask::new(
                    cfg.clone(),
                    relay.clone(),
                    client,
                    updates.clone(),
                    snapshots.clone(),
                    link_rx,
                    options.door.clone(),
                );
                tracker.spawn(
                    task.run(rx, shutdown.child_token())
                        .instrument(span.clone()),
                );
                Some(tx)
            }
            None => None,
        };
        routes.insert(cfg.id.clone(), Routes { snapshots, door });
        if let Some(tx) = clips {
            sup = sup.with_clips(tx);
        }
        tracker.spawn(sup.run().instrument(span));
    }
    // The cameras hold the only senders now: the publisher ends after the last one's offline.
    drop(updates);
    tracker.spawn(route_commands(commands, routes, shutdown.clone()));
    let http = match &config.http {
        None => None,
        Some(h) => {
            let sources = health::Sources {
                metrics: metrics.clone(),
                mqtt: status.clone(),
                cameras: Arc::new(config.cameras.iter().map(|c| c.id.clone()).collect()),
            };
            let history = h.history.then(|| {
                let names = config
                    .cameras
                    .iter()
                    .map(|c| (c.id.clone(), c.name.clone()))
                    .collect();
                crate::history::History::new(archive.clone(), names, h, shutdown.clone())
            });
            if h.page_refuses_other_hosts() {
                warn!(
                    "http.listen {} is open to other hosts but http.password is not set: the \
                     visitor history page opens only on this host; set http.password (or \
                     password_file) to open it from your phone",
                    h.listen
                );
            }
            let page = history.is_some();
            let (addr, server) =
                health::serve(h.listen, sources, history, shutdown.clone()).await?;
            info!("health and metrics on http://{addr}/healthz and /metrics");
            if page {
                info!("visitor history on http://{addr}/");
            }
            tracker.spawn(server);
            Some(addr)
        }
    };
    tracker.close();
    Ok(Running {
        mqtt: status,
        metrics,
        http,
        push,
        tracker,
        mqtt_token,
        deadline: options.shutdown_deadline,
    })
}

impl Running {
    /// Waits for every task after shutdown was asked for; past the deadline the MQTT side is
    /// told to stop too, and stragglers are reported.
    pub async fn stopped(self) -> bool {
        if tokio::time::timeout(self.deadline, self.tracker.wait())
            .await
            .is_ok()
        {
            return true;
        }
        warn!(
            "shutdown is taking longer than {:?}; stopping MQTT now",
            self.deadline
        );
        self.mqtt_token.cancel();
        let done = tokio::time::timeout(Duration::from_secs(2), self.tracker.wait())
            .await
            .is_ok();
        if !done {
            warn!("{} task(s) did not stop in time", self.tracker.len());
        }
        done
    }
}

/// Sweeps at start, every [`SWEEP_INTERVAL`], and when a write pushed the archive over its limit.
async fn sweeper(archive: Archive, wake: Arc<Notify>, shutdown: CancellationToken) {
    loop {
        let a = archive.clone();
        match tokio::task::spawn_blocking(move || a.sweep(std::time::SystemTime::now())).await {
            Ok(r) if r.deleted > 0 || r.failed > 0 => info!(
                deleted = r.deleted,
                freed = r.freed,
                remaining = r.remaining,
                failed = r.failed,
                "archive swept"
            ),
            Ok(_) => {}
            Err(e) => warn!("archive sweep failed: {e}"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = wake.notified() => {}
            () = tokio::time::sleep(SWEEP_INTERVAL) => {}
        }
    }
}

/// With a door relay enabled and no MQTT username, anyone who can reach the broker can open
/// the door: said once at start.
fn warn_if_anonymous(config: &Config) {
    if let Some(doors) = exposed_doors(config) {
        warn!(
            doors,
            "a door relay is enabled and the MQTT broker is used without a username: anyone on the network who can publish to it could open the door; give the broker users and an ACL (docs/security.md)"
        );
    }
}

/// How many doors anyone on the broker could open: `Some` when a relay is enabled and the
/// broker is used without a username (pure).
pub fn exposed_doors(config: &Config) -> Option<usize> {
    let doors = config.cameras.iter().filter(|c| c.relay.is_some()).count();
    (doors > 0 && config.mqtt.username.is_none()).then_some(doors)
}

/// Where one camera's commands go.
struct Routes {
    snapshots: Option<mpsc::Sender<Trigger>>,
    door: Option<mpsc::Sender<DoorCommand>>,
}

/// Delivers MQTT commands to the camera they name.
async fn route_commands(
    mut commands: mpsc::Receiver<(CameraId, Command)>,
    routes: HashMap<CameraId, Routes>,
    shutdown: CancellationToken,
) {
    loop {
        let (camera, command) = tokio::select! {
            () = shutdown.cancelled() => return,
            c = commands.recv() => match c {
                Some(c) => c,
                None => return,
            },
        };
        let route = routes.get(&camera);
        match command {
            Command::TakeSnapshot => match route.and_then(|r| r.snapshots.as_ref()) {
                // Full means a fetch is running; this request shares its picture.
                Some(tx) => {
                    let _ = tx.try_send(Trigger::Demand);
                }
                None => {
                    info!(camera = %camera, "snapshot asked for, but snapshots are off for this camera");
                }
            },
            Command::OpenDoor(c) => match route.and_then(|r| r.door.as_ref()) {
                Some(tx) => {
                    // Never a queue of opens: a busy door task means this one is dropped.
                    if tx.try_send(c).is_err() {
                        warn!(camera = %camera, "door open request dropped: the door is busy with earlier ones");
                    }
                }
                None => {
                    info!(camera = %camera, "door open asked for, but this camera has no relay enabled");
                }
            },
        }
    }
}

/// `run`: starts, tells systemd it is ready, pings its watchdog, and stops on `shutdown`.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let running = start(&config, shutdown.clone(), Options::default()).await?;
    info!(cameras = config.cameras.len(), "bridge running");
    let _ = sd_notify::notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status("running"),
    ]);
    let watchdog = sd_notify::watchdog_enabled();
    let ping = async {
        match watchdog {
            Some(every) => loop {
                tokio::time::sleep(every / 2).await;
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
            },
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = shutdown.cancelled() => {}
        () = ping => {}
    }
    info!("stopping");
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    running.stopped().await;
    info!("stopped");
    Ok(())
}

/// Cancels `token` on the first SIGINT or SIGTERM; a second one exits at once.
pub async fn signals(token: CancellationToken) {
    let mut first = true;
    loop {
        if wait_for_signal().await.is_err() {
            return;
        }
        if !first {
            eprintln!("second signal: exiting now");
            std::process::exit(130);
        }
        first = false;
        token.cancel();
    }
}

async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r,
        _ = term.recv() => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(mqtt: &str, relay: bool) -> Config {
        let text = format!(
            "[mqtt]\n{mqtt}\n[[cameras]]\nid = \"a\"\nurl = \"192.168.1.20\"\n[cameras.relay]\nenabled = {relay}\n"
        );
        crate::config::from_toml(&text, std::path::Path::new("t.toml")).unwrap()
    }

    #[test]
    fn only_a_relay_on_an_anonymous_broker_is_warned_about() {
        assert_eq!(exposed_doors(&config("", true)), Some(1));
        assert_eq!(exposed_doors(&config("", false)), None);
        assert_eq!(exposed_doors(&config("username = \"bridge\"", true)), None);
    }
}
