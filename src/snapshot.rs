//! Snapshots: one task per camera fetches JPEGs on triggers (events, the MQTT command, an
//! interval, bursts after a ring), archives them and hands them to the MQTT side.
//!
//! At most one fetch per camera is in flight; triggers that arrive while it runs share its
//! result. The snapshot URI comes from Media2, else Media, for the configured profile or the
//! highest resolution, and is looked up again after a failed fetch. Only the camera's own host
//! (or hosts the user allowed) may serve it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Notify, mpsc};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use url::Url;

use crate::archive::Archive;
use crate::config::{CameraConfig, SnapshotConfig};
use crate::event::{Kind, Snapshot, SnapshotReason, Update};
use crate::metrics::Metrics;
use crate::onvif::{self, Client, MediaService, MediaVersion, best_profile};

/// How long one snapshot download may take.
pub const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(10);
/// Triggers waiting for the running fetch; more than this share it anyway.
pub const TRIGGER_QUEUE: usize = 8;

/// Why a snapshot is wanted: what a camera's snapshot channel carries, and (unchanged) what the
/// picture is archived and published with. Two words (see [`SnapshotReason`]); make one for an
/// event with `Trigger::for_event(&event)`.
pub type Trigger = SnapshotReason;

/// Why a snapshot could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An ONVIF or HTTP problem.
    #[error(transparent)]
    Onvif(#[from] onvif::Error),
    /// The camera has no media service or profile.
    #[error("the camera offers no media profile to take snapshots from")]
    NoMedia,
    /// The reply was not a JPEG.
    #[error("{url}: the reply is not a JPEG (it starts with {start}); check the snapshot profile")]
    NotJpeg {
        /// The snapshot URL, without credentials.
        url: String,
        /// The first bytes, in hex.
        start: String,
    },
    /// The snapshot URI points at a host that is not the camera's.
    #[error(
        "the snapshot URI's host {host} is not the camera's; add it to snapshot.allowed_hosts if that is expected"
    )]
    HostNotAllowed {
        /// The host.
        host: String,
    },
}

/// Whether `bytes` starts like a JPEG (SOI marker followed by another marker).
pub fn is_jpeg(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF
}

/// Whether `uri` may be fetched for a camera at `camera`: same host, or an allowed one.
pub fn host_allowed(uri: &Url, camera: &Url, allowed: &[String]) -> bool {
    match uri.host_str() {
        Some(h) => {
            camera.host_str() == Some(h) || allowed.iter().any(|a| a.eq_ignore_ascii_case(h))
        }
        None => false,
    }
}

/// Finds a camera's snapshot URI: Media2 first, else Media; the configured profile or the
/// highest resolution; only the camera's own host or an allowed one. A camera with
/// `api = "dahua"` or `"hikvision"` whose ONVIF gives none falls back to the vendor's own
/// snapshot path on its host ([`vendor_snapshot`]); a DoorBird (no ONVIF) always uses it.
pub async fn lookup(client: &Client, camera: &CameraConfig) -> Result<Url, Error> {
    if camera.api == crate::config::Api::DoorBird {
        // No ONVIF to ask: the LAN API's image.cgi.
        return vendor_snapshot(client.device_url(), camera).ok_or(Error::NoMedia);
    }
    match onvif_lookup(client, camera).await {
        Ok(u) => Ok(u),
        Err(e) => vendor_snapshot(client.device_url(), camera).ok_or(e),
    }
}

/// The vendor snapshot URL of a camera whose `api` names a vendor: Dahua
/// `/cgi-bin/snapshot.cgi?channel=N`, Hikvision `/ISAPI/Streaming/channels/N01/picture`,
/// DoorBird `/bha-api/image.cgi`, on the camera's own scheme, host and port.
pub fn vendor_snapshot(device_url: &Url, camera: &CameraConfig) -> Option<Url> {
    let channel = camera.channel.unwrap_or(1);
    let path = match camera.api {
        crate::config::Api::Dahua => crate::dahua::snapshot_path(channel),
        crate::config::Api::Hikvision => crate::hikvision::snapshot_path(channel),
        crate::config::Api::DoorBird => crate::doorbird::IMAGE_PATH.to_owned(),
        crate::config::Api::Auto | crate::config::Api::Onvif => return None,
    };
    crate::source::stream::origin(device_url).join(&path).ok()
}

async fn onvif_lookup(client: &Client, camera: &CameraConfig) -> Result<Url, Error> {
    let services = client.services().await?;
    let candidates = [
        services.media2.map(|url| MediaService {
            url,
            version: MediaVersion::V2,
        }),
        services.media.map(|url| MediaService {
            url,
            version: MediaVersion::V1,
        }),
    ];
    let mut last = Error::NoMedia;
    for media in candidates.into_iter().flatten() {
        match uri_from(client, camera, &media).await {
            Ok(u) => return Ok(u),
            Err(e) => last = e,
        }
    }
    Err(last)
}

async fn uri_from(
    client: &Client,
    camera: &CameraConfig,
    media: &MediaService,
) -> Result<Url, Error> {
    let profiles = client.profiles(media).await?;
    let token = match &camera.snapshot.profile {
        Some(p) => p.clone(),
        None => best_profile(&profiles).ok_or(Error::NoMedia)?.token.clone(),
    };
    let uri = client.snapshot_uri(media, &token).await?;
    if !host_allowed(&uri, client.device_url(), &camera.snapshot.allowed_hosts) {
        return Err(Error::HostNotAllowed {
            host: uri.host_str().unwrap_or("").to_owned(),
        });
    }
    Ok(uri)
}

/// Downloads `uri` (at most `max_size` bytes, [`SNAPSHOT_TIMEOUT`]) and checks it is a JPEG.
pub async fn fetch_jpeg(client: &Client, uri: &Url, max_size: u64) -> Result<Bytes, Error> {
    let bytes = client.fetch(uri, max_size, SNAPSHOT_TIMEOUT).await?;
    if is_jpeg(&bytes) {
        Ok(bytes)
    } else {
        Err(Error::NotJpeg {
            url: onvif::error::redact(uri),
            start: bytes.iter().take(8).map(|x| format!("{x:02x}")).collect(),
        })
    }
}

/// A camera's snapshot task.
pub struct SnapshotTask {
    config: Arc<CameraConfig>,
    client: Client,
    archive: Option<Archive>,
    sweep: Arc<Notify>,
    updates: mpsc::Sender<Update>,
    metrics: Metrics,
    uri: Option<Url>,
    failing: bool,
    archive_failing: bool,
}

impl SnapshotTask {
    /// A task for `config`; `archive` is `None` when nothing is to be stored.
    pub fn new(
        config: Arc<CameraConfig>,
        client: Client,
        archive: Option<Archive>,
        sweep: Arc<Notify>,
        updates: mpsc::Sender<Update>,
        metrics: Metrics,
    ) -> Self {
        Self {
            config,
            client,
            archive,
            sweep,
            updates,
            metrics,
            uri: None,
            failing: false,
            archive_failing: false,
        }
    }

    /// Serves triggers until shutdown or until every trigger sender is gone.
    pub async fn run(mut self, mut triggers: mpsc::Receiver<Trigger>, shutdown: CancellationToken) {
        let mut interval = self.config.snapshot.interval.map(|d| {
            let mut i = tokio::time::interval_at(Instant::now() + d, d);
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            i
        });
        let mut bursts: VecDeque<(Instant, Trigger)> = VecDeque::new();
        loop {
            let next_burst = bursts.front().map(|(at, _)| *at);
            let trigger = tokio::select! {
                () = shutdown.cancelled() => break,
                t = triggers.recv() => match t {
                    Some(t) => t,
                    None => break,
                },
                _ = async { interval.as_mut().expect("guarded").tick().await }, if interval.is_some() => Trigger::Interval,
                () = sleep_until(next_burst.unwrap_or_else(Instant::now)), if next_burst.is_some() => {
                    bursts.pop_front().expect("guarded").1
                }
            };
            debug!(?trigger, "taking a snapshot");
            let mut shared = vec![trigger];
            // Boxed here and below: the task's future is allocated for the whole run, and
            // with these inline it was 3.3 KiB per camera while idle (docs/performance.md).
            let result = tokio::select! {
                () = shutdown.cancelled() => break,
                r = Box::pin(self.fetch()) => r,
            };
            // Triggers that came in while we fetched share this picture.
            while let Ok(t) = triggers.try_recv() {
                shared.push(t);
            }
            let now = Instant::now();
            for t in &shared {
                bursts.extend(burst_frames(t, &self.config.snapshot, now));
            }
            Box::pin(self.deliver(result, shared.swap_remove(0))).await;
        }
        debug!("snapshot task stopped");
    }

    /// Fetches one JPEG, looking the URI up when needed (and again after a failure).
    pub async fn fetch(&mut self) -> Result<Bytes, Error> {
        let uri = match &self.uri {
            Some(u) => u.clone(),
            None => {
                let u = lookup(&self.client, &self.config).await?;
                self.uri = Some(u.clone());
                u
            }
        };
        let result = fetch_jpeg(&self.client, &uri, self.config.snapshot.max_size).await;
        if result.is_err() {
            self.uri = None;
        }
        result
    }

    /// Archives and publishes a fetched JPEG, or logs the failure (once per failing streak).
    async fn deliver(&mut self, result: Result<Bytes, Error>, trigger: Trigger) {
        let jpeg = match result {
            Ok(j) => j,
            Err(e) => {
                self.metrics.snapshot(&self.config.id, false);
                if self.failing {
                    debug!("snapshot failed again: {e}");
                } else {
                    warn!("snapshot failed: {e}");
                    self.failing = true;
                }
                return;
            }
        };
        if std::mem::take(&mut self.failing) {
            info!("snapshots work again");
        }
        self.metrics.snapshot(&self.config.id, true);
        let taken = jiff::Timestamp::now();
        let archived = self.store(&jpeg, &trigger, taken).await;
        let _ = self
            .updates
            .send(Update::Snapshot(Snapshot {
                camera: self.config.id.clone(),
                jpeg,
                taken,
                reason: trigger,
                archived,
            }))
            .await;
    }

    /// Writes to the archive off the async threads. A failure is logged once (with its hint)
    /// until a write works again; the snapshot still goes to MQTT and the next write retries.
    async fn store(
        &mut self,
        jpeg: &Bytes,
        trigger: &Trigger,
        taken: jiff::Timestamp,
    ) -> Option<std::path::PathBuf> {
        let archive = self.archive.clone()?;
        let (camera, jpeg, trigger) = (self.config.id.clone(), jpeg.clone(), trigger.clone());
        let result =
            tokio::task::spawn_blocking(move || archive.store(&jpeg, &camera, &trigger, taken))
                .await;
        let problem = match result {
            Ok(Ok((path, over))) => {
                if over {
                    self.sweep.notify_one();
                }
                if std::mem::take(&mut self.archive_failing) {
                    info!("archiving works again");
                }
                return Some(path);
            }
            Ok(Err(e)) => e.to_string(),
            Err(e) => format!("the writer task failed: {e}"),
        };
        if self.archive_failing {
            debug!("snapshot not archived: {problem}");
        } else {
            warn!("snapshot not archived: {problem}");
            self.archive_failing = true;
        }
        None
    }
}

/// The extra frames a ring asks for: `burst` more, `burst_interval` apart from `now`. A burst
/// frame asks for none (one ring would otherwise never stop taking pictures).
fn burst_frames(
    t: &Trigger,
    cfg: &SnapshotConfig,
    now: Instant,
) -> impl Iterator<Item = (Instant, Trigger)> {
    let ring = match t {
        Trigger::Event(e) if e.kind == Kind::Ring => Some(e.clone()),
        _ => None,
    };
    ring.into_iter().flat_map(move |e| {
        (1..=cfg.burst).map(move |n| (now + cfg.burst_interval * n, Trigger::Burst(e.clone())))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::SnapshotEvent;

    fn event(kind: Kind) -> Trigger {
        Trigger::Event(Box::new(SnapshotEvent {
            kind,
            time: jiff::Timestamp::UNIX_EPOCH,
            camera_time: None,
            topic: "tns1:RuleEngine/MyRuleDetector/Visitor".into(),
        }))
    }

    fn settings(burst: u32) -> SnapshotConfig {
        SnapshotConfig {
            enabled: true,
            on: vec![Kind::Ring],
            interval: None,
            burst,
            burst_interval: Duration::from_millis(200),
            profile: None,
            allowed_hosts: Vec::new(),
            max_size: 1 << 20,
        }
    }

    #[test]
    fn a_trigger_is_two_words() {
        // Every camera's trigger channel allocates 32 slots up front (docs/performance.md).
        assert!(std::mem::size_of::<Trigger>() <= 2 * std::mem::size_of::<usize>());
    }

    #[test]
    fn an_event_trigger_is_the_reason_its_picture_is_published_with() {
        let e = crate::event::Event {
            camera: crate::event::CameraId::new("front_door").unwrap(),
            kind: Kind::Person,
            active: true,
            trigger: true,
            time: jiff::Timestamp::UNIX_EPOCH,
            camera_time: None,
            topic: "tns1:RuleEngine/PeopleDetector/People".into(),
            source: crate::event::Items::default(),
            data: crate::event::Items::default(),
            operation: None,
        };
        let t = Trigger::for_event(&e);
        assert_eq!(t.as_str(), "event");
        assert_eq!(t.archive_name(), "person");
    }

    #[test]
    fn a_ring_asks_for_burst_frames_at_even_steps() {
        let now = Instant::now();
        let Trigger::Event(ring) = event(Kind::Ring) else {
            unreachable!()
        };
        let frames: Vec<_> =
            burst_frames(&Trigger::Event(ring.clone()), &settings(2), now).collect();
        let frame = Trigger::Burst(ring);
        assert_eq!(
            frames,
            [
                (now + Duration::from_millis(200), frame.clone()),
                (now + Duration::from_millis(400), frame),
            ]
        );
    }

    #[test]
    fn only_rings_ask_for_burst_frames_and_frames_ask_for_none() {
        let now = Instant::now();
        let frames: Vec<_> = burst_frames(&event(Kind::Ring), &settings(2), now).collect();
        assert!(!frames.is_empty());
        let frame = frames[0].1.clone();
        for t in [
            event(Kind::Motion),
            Trigger::Demand,
            Trigger::Interval,
            frame,
        ] {
            assert_eq!(burst_frames(&t, &settings(2), now).count(), 0, "{t:?}");
        }
        assert_eq!(
            burst_frames(&event(Kind::Ring), &settings(0), now).count(),
            0
        );
    }

    #[test]
    fn jpeg_magic() {
        assert!(is_jpeg(b"\xff\xd8\xff\xe0rest"));
        assert!(!is_jpeg(b"<html>"));
        assert!(!is_jpeg(b"\xff\xd8"));
        assert!(!is_jpeg(b""));
    }

    #[test]
    fn only_the_cameras_host_or_allowed_ones() {
        let cam: Url = "http://192.168.1.20/onvif/device_service".parse().unwrap();
        let same: Url = "http://192.168.1.20:8080/snap.jpg".parse().unwrap();
        let other: Url = "http://10.9.9.9/snap.jpg".parse().unwrap();
        assert!(host_allowed(&same, &cam, &[]));
        assert!(!host_allowed(&other, &cam, &[]));
        assert!(host_allowed(&other, &cam, &["10.9.9.9".into()]));
    }
}
