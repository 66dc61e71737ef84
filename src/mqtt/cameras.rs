//! What the bridge knows about each camera, and the messages an [`Update`] turns into.
//! Pure: no IO, no clock; the publisher feeds the messages to the outbox.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::discovery::{self, CameraAnnouncement};
use super::queue::{Class, Message};
use super::topics::Topics;
use super::{CameraMeta, DoorMeta, LOCKED, OFF, OFFLINE, ON, ONLINE, OPEN};
use crate::event::{
    CameraId, Clip, ClipStatus, DeviceInfo, DoorOutcome, Event, Kind, Snapshot, SnapshotReason,
    Update, format_time,
};

/// Largest JPEG we publish: below the packet limit, with room for the topic and header.
pub const MAX_SNAPSHOT_PUBLISH: usize = crate::limits::MAX_SNAPSHOT_BYTES;

/// Home Assistant keeps at most this many characters of a sensor state.
pub const MAX_STATE_CHARS: usize = 255;

/// The `event_sources` state: `ok`, or what is down, cut to what Home Assistant keeps.
fn sources_state(down: &str) -> String {
    if down.is_empty() {
        return "ok".to_owned();
    }
    down.chars().take(MAX_STATE_CHARS).collect()
}

#[derive(Debug)]
struct Camera {
    name: String,
    info: DeviceInfo,
    /// Stateful kinds shown (and announced), with their last state.
    states: BTreeMap<Kind, bool>,
    /// Its door, when a relay is enabled.
    door: Option<DoorMeta>,
}

/// Why an update produced nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Skipped {
    /// The camera is not in the config the bridge was started with.
    #[error("camera {0}: not in the bridge's camera list; update ignored")]
    UnknownCamera(CameraId),
    /// The JPEG is too large for one MQTT packet.
    #[error(
        "camera {camera}: snapshot of {size} bytes is larger than {MAX_SNAPSHOT_PUBLISH} bytes; not published (lower snapshot.max_size)"
    )]
    SnapshotTooLarge {
        /// Which camera.
        camera: CameraId,
        /// Its size.
        size: usize,
    },
}

/// All cameras the bridge announces.
#[derive(Debug)]
pub struct Cameras {
    topics: Topics,
    retain_snapshot: bool,
    cameras: BTreeMap<CameraId, Camera>,
}

/// `<base>/<camera>/snapshot/info`.
#[derive(Serialize)]
struct SnapshotInfo<'a> {
    #[serde(flatten)]
    reason: &'a SnapshotReason,
    taken: String,
    archived: Option<&'a std::path::Path>,
    size: usize,
}

/// The `clip` payload.
#[derive(Serialize)]
struct ClipInfo<'a> {
    kind: Kind,
    event_time: String,
    start: Option<String>,
    duration: f64,
    status: ClipStatus,
    /// Below the archive folder, `/` separated.
    path: Option<String>,
    /// Where Home Assistant's media browser finds it (an archive under `/media`, as in the
    /// Home Assistant app).
    media_source: Option<String>,
    gaps: &'a [String],
}

/// Home Assistant's media-source id of a file under `/media` (its local media folder):
/// `media-source://media_source/local/<path below /media>`; `None` elsewhere (pure).
pub fn media_source(path: &std::path::Path) -> Option<String> {
    let rest = path.strip_prefix("/media").ok()?;
    let parts: Vec<&str> = rest
        .components()
        .map(|c| match c {
            std::path::Component::Normal(p) => p.to_str(),
            _ => None,
        })
        .collect::<Option<_>>()?;
    (!parts.is_empty()).then(|| format!("media-source://media_source/local/{}", parts.join("/")))
}

fn clip_info(c: &Clip) -> ClipInfo<'_> {
    ClipInfo {
        kind: c.kind,
        event_time: format_time(c.event_time),
        start: c.start.map(format_time),
        duration: (c.duration.as_secs_f64() * 1000.0).round() / 1000.0,
        status: c.status,
        path: c.relative.as_deref().map(|p| {
            p.components()
                .map(|x| x.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/")
        }),
        media_source: c.path.as_deref().and_then(media_source),
        gaps: &c.gaps,
    }
}

impl Cameras {
    /// The configured cameras.
    pub fn new(topics: Topics, metas: Vec<CameraMeta>, retain_snapshot: bool) -> Self {
        let cameras = metas
            .into_iter()
            .map(|m| {
                let cam = Camera {
                    name: m.name,
                    info: DeviceInfo::default(),
                    states: BTreeMap::new(),
                    door: m.door,
                };
                (m.id, cam)
            })
            .collect();
        Cameras {
            topics,
            retain_snapshot,
            cameras,
        }
    }

    /// Whether `id` is one of ours.
    pub fn contains(&self, id: &CameraId) -> bool {
        self.cameras.contains_key(id)
    }

    /// Whether `id` is one of ours and has a door (a relay enabled).
    pub fn has_door(&self, id: &CameraId) -> bool {
        self.cameras.get(id).is_some_and(|c| c.door.is_some())
    }

    /// The cameras with a door, whose command topics are subscribed.
    pub fn doors(&self) -> impl Iterator<Item = &CameraId> {
        self.cameras
            .iter()
            .filter(|(_, c)| c.door.is_some())
            .map(|(id, _)| id)
    }

    /// What is published once at start: bridge status and discovery, the camera list, each
    /// camera's discovery and `offline` (no camera is subscribed yet).
    pub fn startup(&self, dropped: u64) -> Vec<Message> {
        let t = &self.topics;
        let ids: Vec<&str> = self.cameras.keys().map(CameraId::as_str).collect();
        let mut out = vec![
            latest(t.bridge_status(), ONLINE),
            latest(
                t.discovery(t.bridge_device_id()),
                json(&discovery::bridge_config(t)),
            ),
            latest(t.bridge_dropped(), dropped.to_string()),
            latest(t.bridge_cameras(), json(&ids)),
        ];
        for (id, cam) in &self.cameras {
            out.push(self.announce(id));
            out.push(latest(t.camera_status(id), OFFLINE));
            if cam.door.is_some() {
                out.push(latest(t.lock(id), LOCKED));
            }
        }
        out
    }

    /// The discovery message of one camera.
    fn announce(&self, id: &CameraId) -> Message {
        let cam = &self.cameras[id];
        let kinds: BTreeSet<Kind> = cam.states.keys().copied().collect();
        let payload = discovery::camera_config(
            &self.topics,
            &CameraAnnouncement {
                id,
                name: &cam.name,
                info: &cam.info,
                kinds: &kinds,
                door: cam.door.as_ref(),
            },
        );
        let device_id = self.topics.camera_device_id(id);
        latest(self.topics.discovery(&device_id), json(&payload))
    }

    /// The messages `update` turns into.
    pub fn apply(&mut self, update: Update) -> Result<Vec<Message>, Skipped> {
        let id = update.camera().clone();
        if !self.contains(&id) {
            return Err(Skipped::UnknownCamera(id));
        }
        let t = &self.topics;
        let mut out = Vec::new();
        match update {
            Update::Online { camera, info } => {
                out.push(latest(t.camera_status(&camera), ONLINE));
                let cam = self.cameras.get_mut(&camera).expect("checked above");
                if cam.info != info {
                    cam.info = info;
                    out.push(self.announce(&camera));
                }
            }
            Update::Offline { camera, .. } => out = self.offline(&camera),
            Update::Event(e) => out = self.event(e),
            Update::Snapshot(s) => out = self.snapshot(s)?,
            Update::Clip(c) => out.push(latest(t.clip(&c.camera), json(&clip_info(&c)))),
            Update::Sources { camera, down } => {
                out.push(latest(t.event_sources(&camera), sources_state(&down)));
            }
            Update::Door(report) => {
                out.push(Message::new(
                    t.event(&report.camera),
                    json(&*report),
                    false,
                    Class::Event,
                ));
                if report.outcome == DoorOutcome::Opened {
                    out.push(latest(t.lock(&report.camera), OPEN));
                }
            }
            Update::DoorLocked { camera } => {
                // A door that reports itself open keeps the lock open until it says closed.
                let reported_open = self.cameras[&camera].states.get(&Kind::Door) == Some(&true);
                if !reported_open {
                    out.push(latest(t.lock(&camera), LOCKED));
                }
            }
            Update::ClockDrift { camera, offset_ms } => {
                let seconds = format!("{:.3}", offset_ms as f64 / 1000.0);
                out.push(latest(t.clock_drift(&camera), seconds));
            }
        }
        Ok(out)
    }

    /// `offline`, and every stateful kind the camera has shown `OFF` (no stale `ON`).
    pub fn offline(&mut self, id: &CameraId) -> Vec<Message> {
        let t = &self.topics;
        let mut out = vec![latest(t.camera_status(id), OFFLINE)];
        if let Some(cam) = self.cameras.get_mut(id) {
            for (kind, active) in cam.states.iter_mut() {
                *active = false;
                out.push(latest(t.state(id, *kind), OFF));
            }
        }
        out
    }

    fn event(&mut self, e: Event) -> Vec<Message> {
        let t = &self.topics;
        let id = e.camera.clone();
        let class = if e.kind == Kind::Ring {
            Class::Ring
        } else {
            Class::Event
        };
        let mut out = vec![Message::new(t.event(&id), json(&e), false, class)];
        if e.kind == Kind::Ring && e.trigger {
            let doorbell = serde_json::json!({
                "event_type": "ring",
                "camera": id.as_str(),
                "time": format_time(e.time),
            });
            out.push(Message::new(
                t.doorbell(&id),
                json(&doorbell),
                false,
                Class::Ring,
            ));
            out.push(latest(t.last_ring(&id), format_time(e.time)));
        }
        if e.kind == Kind::Door && self.cameras[&id].door.is_some() {
            // The device reports its door: the lock shows what it says.
            out.push(latest(t.lock(&id), if e.active { OPEN } else { LOCKED }));
        }
        if e.kind.is_stateful() {
            out.push(latest(
                t.state(&id, e.kind),
                if e.active { ON } else { OFF },
            ));
            let cam = self.cameras.get_mut(&id).expect("checked by apply");
            let new = cam.states.insert(e.kind, e.active).is_none();
            if new && !discovery::ANNOUNCED_KINDS.contains(&e.kind) {
                out.push(self.announce(&id));
            }
        }
        out
    }

    fn snapshot(&self, s: Snapshot) -> Result<Vec<Message>, Skipped> {
        let t = &self.topics;
        if s.jpeg.len() > MAX_SNAPSHOT_PUBLISH {
            return Err(Skipped::SnapshotTooLarge {
                camera: s.camera,
                size: s.jpeg.len(),
            });
        }
        let info = SnapshotInfo {
            reason: &s.reason,
            taken: format_time(s.taken),
            archived: s.archived.as_deref(),
            size: s.jpeg.len(),
        };
        Ok(vec![
            Message::new(
                t.snapshot(&s.camera),
                s.jpeg.clone(),
                self.retain_snapshot,
                Class::Latest,
            ),
            latest(t.snapshot_info(&s.camera), json(&info)),
        ])
    }

    /// What is published at shutdown: every camera `offline` (and its states `OFF`), then
    /// the bridge `offline`.
    pub fn shutdown(&mut self) -> Vec<Message> {
        let ids: Vec<CameraId> = self.cameras.keys().cloned().collect();
        let mut out: Vec<Message> = ids.iter().flat_map(|id| self.offline(id)).collect();
        out.push(latest(self.topics.bridge_status(), OFFLINE));
        out
    }

    /// Clears everything a camera no longer configured left retained: its discovery (Home
    /// Assistant removes the device), status, states, last ring and snapshot.
    pub fn forget(&self, id: &CameraId) -> Vec<Message> {
        let t = &self.topics;
        let mut topics = vec![
            t.discovery(&t.camera_device_id(id)),
            t.camera_status(id),
            t.last_ring(id),
            t.snapshot(id),
            t.snapshot_info(id),
            t.clip(id),
            t.clock_drift(id),
            t.event_sources(id),
            t.lock(id),
        ];
        topics.extend(
            Kind::ALL
                .into_iter()
                .filter(|k| k.is_stateful())
                .map(|k| t.state(id, k)),
        );
        topics
            .into_iter()
            .map(|topic| Message::new(topic, bytes::Bytes::new(), true, Class::Event))
            .collect()
    }
}

/// A retained, coalesced message.
fn latest(topic: super::topics::Topic, payload: impl Into<bytes::Bytes>) -> Message {
    Message::new(topic, payload, true, Class::Latest)
}

/// Serialises our own payload types (which cannot fail: string keys, no foreign maps).
///
/// Shrunk to fit: the outbox keeps retained payloads (discovery is about 4 KiB per camera) for
/// as long as the bridge runs, and `to_vec` leaves up to half of its buffer unused.
fn json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(value).expect("our payload types always serialise");
    bytes.shrink_to_fit();
    bytes
}

#[cfg(test)]
#[path = "cameras_tests.rs"]
mod tests;
