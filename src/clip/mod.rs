//! Event clips: one task per camera with `clip.on` keeps an RTSP session to the camera, holds
//! the last seconds of video in a [`preroll::PreRoll`], and on a clip event records until
//! `post` has passed, then writes `<HHMMSS.mmm>_<kind>.mp4` (moov first, [`mp4`]) and its
//! sidecar ([`sidecar`]) into the archive and sends [`Update::Clip`].
//!
//! Nothing is decoded or re-encoded. The ring and its snapshot go out before any of this: the
//! camera task sends the event first and hands the clip task a pointer-sized trigger with
//! `try_send`, like snapshot triggers. The stream's state never touches the camera's
//! availability: a lost stream is retried through [`crate::backoff`], and events while it is
//! down still get a sidecar saying the clip is missing (or partial, when it came back in time).
//! The file is built and written in `spawn_blocking`.

pub mod mp4;
pub mod preroll;
pub mod recording;
pub mod sidecar;
pub mod stream;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::archive::Archive;
use crate::backoff::{Backoff, Failure, random_jitter};
use crate::config::CameraConfig;
use crate::event::{Clip, ClipStatus, SnapshotEvent, Update};
use crate::onvif::Client;
use preroll::{PreRoll, TIMESCALE, ticks};
use recording::{Push, Recording};
use sidecar::ClipSidecar;
use stream::{Item, Stream, StreamError, Video};

/// What a camera's clip channel carries: the event a clip is for (pointer-sized).
pub type ClipTrigger = Box<SnapshotEvent>;
/// Clip events waiting for the task; more are dropped (a clip is already being extended).
pub const CLIP_QUEUE: usize = 8;
/// The most frame data the pre-roll holds, whatever `pre` and the bitrate (8 Mbit/s for 16 s).
pub const MAX_PREROLL_BYTES: usize = 16 << 20;
/// The most frame data one clip holds until it is written.
pub const MAX_CLIP_BYTES: usize = 64 << 20;
/// A clip whose stream sent nothing this long after `post` was due is written as it is.
pub const STALL_GRACE: Duration = Duration::from_secs(3);
/// Frame interval assumed for the last sample before two frames were seen (25 fps).
const DEFAULT_FRAME_TICKS: u32 = TIMESCALE / 25;

/// A camera's clip task.
pub struct ClipTask {
    config: Arc<CameraConfig>,
    client: Client,
    archive: Archive,
    sweep: Arc<Notify>,
    updates: mpsc::Sender<Update>,
}

/// The clip in progress and what it needs besides frames.
struct Active {
    trigger: ClipTrigger,
    rec: Recording,
    /// Wall-clock end: `post` (as extended) plus [`STALL_GRACE`], never past `max`.
    deadline: Instant,
    limit: Instant,
}

/// The live session and what is known of its video.
struct Live {
    stream: Stream,
    video: Option<Video>,
    frame_ticks: u32,
    last_ts: Option<i64>,
}

impl ClipTask {
    /// A task for `config` (whose `clip.on` lists a kind).
    pub fn new(
        config: Arc<CameraConfig>,
        client: Client,
        archive: Archive,
        sweep: Arc<Notify>,
        updates: mpsc::Sender<Update>,
    ) -> Self {
        Self {
            config,
            client,
            archive,
            sweep,
            updates,
        }
    }

    /// Runs until shutdown or until every trigger sender is gone.
    pub async fn run(self, mut triggers: mpsc::Receiver<ClipTrigger>, shutdown: CancellationToken) {
        let clip = &self.config.clip;
        let mut preroll = PreRoll::new(ticks(clip.pre), MAX_PREROLL_BYTES);
        let mut backoff = Backoff::with_max(self.config.max_backoff);
        let mut previous: Option<Failure> = None;
        let mut failing = false;
        let mut live: Option<Live> = None;
        let mut retry_at = Instant::now();
        let mut active: Option<Active> = None;
        loop {
            let deadline = active.as_ref().map(|a| a.deadline);
            tokio::select! {
                () = shutdown.cancelled() => break,
                t = triggers.recv() => {
                    let Some(t) = t else { break };
                    self.trigger(t, &preroll, &mut active);
                }
                () = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    let mut a = active.take().expect("guarded");
                    a.rec.gap(if live.is_some() {
                        "the stream stopped sending before post ended"
                    } else {
                        "the stream was down"
                    });
                    self.write(a, live.as_ref().and_then(|l| l.video.clone()), 0).await;
                }
                () = sleep_until(retry_at), if live.is_none() => {
                    // Shutdown does not wait for a slow camera's DESCRIBE.
                    let connected = tokio::select! {
                        () = shutdown.cancelled() => break,
                        r = Box::pin(self.connect()) => r,
                    };
                    match connected {
                        Ok(l) => {
                            if std::mem::take(&mut failing) {
                                info!("clip stream works again");
                            } else {
                                debug!("clip stream open");
                            }
                            backoff.succeeded(Instant::now());
                            previous = None;
                            live = Some(l);
                        }
                        Err(e) => {
                            retry_at = Instant::now() + self.failed(&e, &mut backoff, &mut previous, &mut failing);
                        }
                    }
                }
                item = async { live.as_mut().expect("guarded").stream.next().await }, if live.is_some() => {
                    let l = live.as_mut().expect("guarded");
                    match item {
                        Ok(Item::Frame { frame, new_parameters, loss }) => {
                            if let Some(last) = l.last_ts {
                                let step = frame.ts - last;
                                if step > 0 && step < i64::from(TIMESCALE) {
                                    l.frame_ticks = step as u32;
                                }
                            }
                            l.last_ts = Some(frame.ts);
                            if new_parameters || l.video.is_none() {
                                let before = l.video.as_ref().map(|v| v.sample_entry.clone());
                                l.video = l.stream.video();
                                let changed = before.is_some()
                                    && before != l.video.as_ref().map(|v| v.sample_entry.clone());
                                if changed && let Some(mut a) = active.take() {
                                    a.rec.gap("the stream's parameters changed; the clip ends there");
                                    self.write(a, l.video.clone(), l.frame_ticks).await;
                                }
                            }
                            if loss > 0 && let Some(a) = active.as_mut() {
                                a.rec.gap("RTP packets were lost");
                            }
                            preroll.push(frame.clone());
                            if let Some(a) = active.as_mut()
                                && a.rec.push(frame) == Push::Done
                            {
                                let a = active.take().expect("just matched");
                                self.write(a, l.video.clone(), l.frame_ticks).await;
                            }
                        }
                        Ok(Item::Other) => {}
                        Err(e) => {
                            live = None;
                            preroll.clear();
                            if let Some(a) = active.as_mut() {
                                a.rec.gap(format!("the stream was lost: {}", e.message));
                            }
                            retry_at = Instant::now() + self.failed(&e, &mut backoff, &mut previous, &mut failing);
                        }
                    }
                }
            }
        }
        if let Some(mut a) = active.take() {
            a.rec.gap("the bridge stopped before post ended");
            let video = live.as_ref().and_then(|l| l.video.clone());
            let ticks = live.as_ref().map_or(0, |l| l.frame_ticks);
            self.write(a, video, ticks).await;
        }
        debug!("clip task stopped");
    }

    /// A clip event: extends the clip in progress, or starts one from the pre-roll.
    fn trigger(&self, t: ClipTrigger, preroll: &PreRoll, active: &mut Option<Active>) {
        let clip = &self.config.clip;
        let now = Instant::now();
        match active {
            Some(a) => {
                a.rec.extend();
                a.deadline = (now + clip.post).min(a.limit) + STALL_GRACE;
            }
            None => {
                let rec =
                    Recording::start(preroll, ticks(clip.post), ticks(clip.max), MAX_CLIP_BYTES);
                let limit = now + clip.max;
                *active = Some(Active {
                    trigger: t,
                    rec,
                    deadline: (now + clip.post).min(limit) + STALL_GRACE,
                    limit,
                });
            }
        }
    }

    async fn connect(&self) -> Result<Live, StreamError> {
        let (url, creds) = stream::resolve(&self.client, &self.config).await?;
        let stream = Stream::open(&url, creds).await?;
        let video = stream.video();
        Ok(Live {
            stream,
            video,
            frame_ticks: DEFAULT_FRAME_TICKS,
            last_ts: None,
        })
    }

    /// Logs a stream failure (a warning once per failing streak) and says how long to wait.
    fn failed(
        &self,
        e: &StreamError,
        backoff: &mut Backoff,
        previous: &mut Option<Failure>,
        failing: &mut bool,
    ) -> Duration {
        let delay = backoff.after(e.failure, *previous, Instant::now(), random_jitter());
        *previous = Some(e.failure);
        if std::mem::replace(failing, true) {
            debug!("clip stream failed again: {e}; retrying in {delay:?}");
        } else {
            warn!("clip stream failed: {e}; retrying in {delay:?} (events still ring)");
        }
        delay
    }

    /// Builds the MP4 and writes it with its sidecar off the async threads, then tells MQTT.
    async fn write(&self, a: Active, video: Option<Video>, frame_ticks: u32) {
        let done = a.rec.finish();
        let event = a.trigger;
        let seconds = |t: i64| t as f64 / f64::from(TIMESCALE);
        let durations = mp4::durations(&done.frames, frame_ticks.max(1));
        let total: i64 = durations.iter().map(|&d| i64::from(d)).sum();
        let (status, mut gaps) = (done.status, done.gaps);
        let video = match (video, status) {
            (None, ClipStatus::Complete | ClipStatus::Partial) => {
                gaps.push("the stream's video parameters are unknown".into());
                None
            }
            (v, _) => v,
        };
        let status = if video.is_none() {
            ClipStatus::Missing
        } else {
            status
        };
        let start = (status != ClipStatus::Missing).then(|| {
            event.time
                - jiff::SignedDuration::from_micros(done.preroll * 1_000_000 / i64::from(TIMESCALE))
        });
        let mut side = ClipSidecar::new(self.config.id.as_str(), event.kind, event.time, status);
        side.gaps = gaps.clone();
        if let (Some(v), Some(start)) = (&video, start) {
            side.start = Some(crate::event::format_time(start));
            side.duration = seconds(total);
            side.preroll = seconds(done.preroll);
            side.codec = Some(v.codec.clone());
            side.resolution = Some(v.resolution);
            side.frames = done.frames.len();
        }
        let json = side.to_json();
        let (archive, camera, kind, time) = (
            self.archive.clone(),
            self.config.id.clone(),
            event.kind,
            event.time,
        );
        let frames = done.frames;
        let result = tokio::task::spawn_blocking(move || {
            let file = video.as_ref().map(|v| {
                let track = mp4::Track {
                    sample_entry: &v.sample_entry,
                    width: v.resolution.0,
                    height: v.resolution.1,
                    last_duration: frame_ticks.max(1),
                };
                mp4::write(&track, &frames)
            });
            archive.store_clip(file.as_deref(), &json, &camera, kind, time)
        })
        .await;
        let path = match result {
            Ok(Ok((path, over))) => {
                if over {
                    self.sweep.notify_one();
                }
                info!(path = %path.display(), status = ?status, "clip written");
                (status != ClipStatus::Missing).then_some(path)
            }
            Ok(Err(e)) => {
                warn!("clip not archived: {e}");
                None
            }
            Err(e) => {
                warn!("clip writer failed: {e}");
                None
            }
        };
        let root = self.archive.root().to_owned();
        let relative = path
            .as_ref()
            .and_then(|p| p.strip_prefix(&root).ok())
            .map(std::path::Path::to_path_buf);
        let clip = Clip {
            camera: self.config.id.clone(),
            kind: event.kind,
            event_time: event.time,
            start: start.filter(|_| path.is_some()),
            duration: if path.is_some() {
                Duration::from_secs_f64(seconds(total))
            } else {
                Duration::ZERO
            },
            status: if path.is_some() {
                status
            } else {
                ClipStatus::Missing
            },
            path,
            relative,
            archive: root,
            gaps,
        };
        let _ = self.updates.send(Update::Clip(Box::new(clip))).await;
    }
}
