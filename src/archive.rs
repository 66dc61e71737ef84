//! The local footage archive: `<root>/<camera>/<YYYY-MM-DD>/<HHMMSS.mmm>_<name>.jpg` plus a JSON
//! sidecar, written atomically (temporary file, sync, rename), files 0640 and folders 0750.
//! `<name>` is [`SnapshotReason::archive_name`]: the event's kind, or `demand` / `interval`.
//! Dates and times are local time, so the folders read naturally in Home Assistant's media
//! browser; the sidecar carries the exact UTC times. Retention lives in [`crate::retention`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::event::{CameraId, SnapshotReason, format_time};
use crate::retention::{self, RetentionPolicy, SweepReport};

/// Permissions of archived files.
pub const FILE_MODE: u32 = 0o640;
/// Permissions of archive folders.
pub const DIR_MODE: u32 = 0o750;

/// Why a snapshot could not be archived.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The disk is full.
    #[error("archive {path}: the disk is full; free space or lower storage.max_size")]
    DiskFull {
        /// The file being written.
        path: PathBuf,
    },
    /// No permission.
    #[error("archive {path}: permission denied; make storage.path writable by the bridge's user")]
    PermissionDenied {
        /// The file or folder.
        path: PathBuf,
    },
    /// Another IO error.
    #[error("archive {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    fn from_io(path: &Path, source: std::io::Error) -> Self {
        let path = path.to_owned();
        match source.kind() {
            std::io::ErrorKind::StorageFull => Error::DiskFull { path },
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                Error::PermissionDenied { path }
            }
            _ => Error::Io { path, source },
        }
    }
}

/// The JSON beside each JPEG: the reason's fields (as on `snapshot/info`), then the picture's.
#[derive(Serialize)]
struct Sidecar<'a> {
    camera: &'a str,
    #[serde(flatten)]
    reason: &'a SnapshotReason,
    taken: String,
    size: usize,
    sha256: String,
}

/// The archive: cheap to clone.
#[derive(Debug, Clone)]
pub struct Archive {
    root: Arc<PathBuf>,
    policy: RetentionPolicy,
    /// Approximate bytes in the archive: set by sweeps, increased by writes.
    size: Arc<AtomicU64>,
    /// Counts every change (store, clip, sweep, delete), for the history page's live view.
    changes: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Archive {
    /// An archive rooted at `root` (created on first write).
    pub fn new(root: PathBuf, policy: RetentionPolicy) -> Self {
        Self {
            root: Arc::new(root),
            policy,
            size: Arc::new(AtomicU64::new(0)),
            changes: Arc::new(tokio::sync::watch::Sender::new(0)),
        }
    }

    /// Wakes whenever the archive changed (a picture or clip stored, a sweep, a delete).
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Deletes one event of `camera` on `day` (`YYYY-MM-DD`): the files of `stem`
    /// (`HHMMSS.mmm_kind[-n]`): picture, sidecar, clip and clip sidecar (blocking IO).
    /// Names the archive does not write are refused, so nothing outside it is touched.
    /// Returns how many files went.
    pub fn delete_event(&self, camera: &CameraId, day: &str, stem: &str) -> Result<usize, Error> {
        let dir = self.root.join(camera.as_str()).join(day);
        if !retention::is_day_folder(day) || !retention::is_our_stem(stem) {
            return Err(Error::from_io(
                &dir,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "not an archive name"),
            ));
        }
        let mut removed = 0;
        let mut freed = 0u64;
        for ext in ["jpg", "json", "mp4", "clip.json"] {
            let path = dir.join(format!("{stem}.{ext}"));
            let len = std::fs::symlink_metadata(&path).map_or(0, |m| m.len());
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    removed += 1;
                    freed += len;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::from_io(&path, e)),
            }
        }
        let _ = self
            .size
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                Some(s.saturating_sub(freed))
            });
        if removed > 0 {
            self.changed();
        }
        Ok(removed)
    }

    /// Stores a JPEG of `camera`, taken at `taken` for `reason`, and its sidecar (blocking IO:
    /// call from `spawn_blocking`). Returns the path and whether the archive is now over its
    /// size limit (time to sweep).
    pub fn store(
        &self,
        jpeg: &[u8],
        camera: &CameraId,
        reason: &SnapshotReason,
        taken: jiff::Timestamp,
    ) -> Result<(PathBuf, bool), Error> {
        let local = reason
            .archive_time(taken)
            .to_zoned_datetime(jiff::tz::TimeZone::system());
        let dir = self
            .root
            .join(camera.as_str())
            .join(local.strftime("%Y-%m-%d").to_string());
        create_dirs(&dir)?;
        let stem = format!("{}_{}", local.strftime("%H%M%S.%3f"), reason.archive_name());
        let path = free_name(&dir, &stem);
        let side = Sidecar {
            camera: camera.as_str(),
            reason,
            taken: format_time(taken),
            size: jpeg.len(),
            sha256: hex(&Sha256::digest(jpeg)),
        };
        let json = serde_json::to_vec_pretty(&side).expect("sidecar serialises");
        // Sidecar first: a JPEG never appears without its description.
        write_atomic(&retention::sidecar(&path), &json)?;
        write_atomic(&path, jpeg)?;
        let added = (jpeg.len() + json.len()) as u64;
        let total = self.size.fetch_add(added, Ordering::Relaxed) + added;
        self.changed();
        Ok((path, total > self.policy.max_size))
    }

    /// The archive folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Stores an event clip of `camera` and its sidecar (blocking IO: call from
    /// `spawn_blocking`): `<HHMMSS.mmm>_<kind>.mp4` dated by the event's local time, and
    /// `<same>.clip.json`; with no video (`mp4` is `None`) only the sidecar. Sidecar first, each
    /// atomic. Returns the clip's path (or the sidecar's, without video) and whether the
    /// archive is now over its size limit.
    pub fn store_clip(
        &self,
        mp4: Option<&[u8]>,
        sidecar_json: &[u8],
        camera: &CameraId,
        kind: crate::event::Kind,
        event_time: jiff::Timestamp,
    ) -> Result<(PathBuf, bool), Error> {
        let local = event_time.to_zoned_datetime(jiff::tz::TimeZone::system());
        let dir = self
            .root
            .join(camera.as_str())
            .join(local.strftime("%Y-%m-%d").to_string());
        create_dirs(&dir)?;
        let stem = format!("{}_{}", local.strftime("%H%M%S.%3f"), kind.as_str());
        let path = free_name_with(&dir, &stem, "mp4", |p| {
            p.exists() || retention::sidecar(p).exists()
        });
        let side = retention::sidecar(&path);
        write_atomic(&side, sidecar_json)?;
        let mut added = sidecar_json.len() as u64;
        let stored = match mp4 {
            Some(bytes) => {
                write_atomic(&path, bytes)?;
                added += bytes.len() as u64;
                path
            }
            None => side,
        };
        let total = self.size.fetch_add(added, Ordering::Relaxed) + added;
        self.changed();
        Ok((stored, total > self.policy.max_size))
    }

    /// Applies retention now (blocking IO: call from `spawn_blocking`).
    pub fn sweep(&self, now: std::time::SystemTime) -> SweepReport {
        let report = retention::sweep(&self.root, self.policy, now);
        self.size.store(report.remaining, Ordering::Relaxed);
        if report.deleted > 0 {
            self.changed();
        }
        report
    }
}

fn create_dirs(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|e| Error::from_io(dir, e))
}

/// `<stem>.jpg`, or `<stem>-2.jpg`, ... when taken (two snapshots in one millisecond).
fn free_name(dir: &Path, stem: &str) -> PathBuf {
    free_name_with(dir, stem, "jpg", |p| p.exists())
}

/// `<stem>.<ext>`, or `<stem>-2.<ext>`, ... while `taken` says a name is in use.
fn free_name_with(dir: &Path, stem: &str, ext: &str, taken: impl Fn(&Path) -> bool) -> PathBuf {
    let first = dir.join(format!("{stem}.{ext}"));
    if !taken(&first) {
        return first;
    }
    (2..)
        .map(|n| dir.join(format!("{stem}-{n}.{ext}")))
        .find(|p| !taken(p))
        .expect("some suffix is free")
}

/// Writes `bytes` to a hidden temporary file beside `path`, syncs, sets the mode, renames.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().expect("archive paths have a parent");
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("snapshot");
    let tmp = dir.join(format!(".{name}.tmp"));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(FILE_MODE)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::from_io(path, e)
    })
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    fn ring() -> SnapshotReason {
        SnapshotReason::Event(Box::new(crate::event::SnapshotEvent {
            kind: crate::event::Kind::Ring,
            time: "2026-11-29T08:15:00.123Z".parse().unwrap(),
            camera_time: Some("2026-11-29T08:15:00Z".into()),
            topic: "tns1:RuleEngine/MyRuleDetector/Visitor".into(),
        }))
    }

    fn taken() -> jiff::Timestamp {
        "2026-11-29T08:15:00.400Z".parse().unwrap()
    }

    fn policy() -> RetentionPolicy {
        RetentionPolicy {
            max_age: Duration::from_secs(86_400),
            max_size: 1 << 20,
        }
    }

    #[test]
    fn stores_jpeg_and_sidecar_with_modes() {
        let dir = tempfile::tempdir().unwrap();
        let archive = Archive::new(dir.path().to_owned(), policy());
        let cam = CameraId::new("front_door").unwrap();
        let (path, over) = archive
            .store(b"\xff\xd8jpeg\xff\xd9", &cam, &ring(), taken())
            .unwrap();
        assert!(!over);
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(retention::is_our_jpeg(name), "{name}");
        assert!(path.starts_with(dir.path().join("front_door")));
        assert_eq!(std::fs::read(&path).unwrap(), b"\xff\xd8jpeg\xff\xd9");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, FILE_MODE);
        let day = path.parent().unwrap();
        let dmode = std::fs::metadata(day).unwrap().permissions().mode() & 0o777;
        assert_eq!(dmode, DIR_MODE);
        let side: serde_json::Value =
            serde_json::from_slice(&std::fs::read(retention::sidecar(&path)).unwrap()).unwrap();
        assert_eq!(side["reason"], "event");
        assert_eq!(side["kind"], "ring");
        assert_eq!(side["size"], 8);
        assert_eq!(side["event_time"], "2026-11-29T08:15:00.123Z");
        assert_eq!(side["camera_time"], "2026-11-29T08:15:00Z");
        assert_eq!(side["topic"], "tns1:RuleEngine/MyRuleDetector/Visitor");
        assert_eq!(side["taken"], "2026-11-29T08:15:00.400Z");
        assert_eq!(side["sha256"].as_str().unwrap().len(), 64);
        // No temporary file is left behind.
        let leftovers: Vec<_> = std::fs::read_dir(day)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        // Same millisecond again: a new name, nothing overwritten.
        let (second, _) = archive
            .store(b"\xff\xd8two\xff\xd9", &cam, &ring(), taken())
            .unwrap();
        assert_ne!(second, path);
        assert_eq!(std::fs::read(&path).unwrap(), b"\xff\xd8jpeg\xff\xd9");
    }

    #[test]
    fn demand_and_interval_pictures_are_archived_as_such_at_the_time_taken() {
        let dir = tempfile::tempdir().unwrap();
        let archive = Archive::new(dir.path().to_owned(), policy());
        let cam = CameraId::new("front_door").unwrap();
        for (reason, name) in [
            (SnapshotReason::Demand, "demand"),
            (SnapshotReason::Interval, "interval"),
        ] {
            let (path, _) = archive
                .store(b"\xff\xd8pic\xff\xd9", &cam, &reason, taken())
                .unwrap();
            let file = path.file_name().unwrap().to_str().unwrap();
            let local = taken().to_zoned_datetime(jiff::tz::TimeZone::system());
            assert_eq!(
                file,
                format!("{}_{name}.jpg", local.strftime("%H%M%S.%3f")),
                "named after the reason, dated when taken"
            );
            assert!(retention::is_our_jpeg(file), "retention must see {file}");
            let side: serde_json::Value =
                serde_json::from_slice(&std::fs::read(retention::sidecar(&path)).unwrap()).unwrap();
            assert_eq!(side["reason"], name);
            assert_eq!(side["kind"], serde_json::Value::Null, "not kind other");
            assert_eq!(side["taken"], "2026-11-29T08:15:00.400Z");
            assert!(side.get("event_time").is_none(), "{side}");
        }
    }

    #[test]
    fn deleting_an_event_removes_its_files_only_and_tells_the_page() {
        let dir = tempfile::tempdir().unwrap();
        let archive = Archive::new(dir.path().to_owned(), policy());
        let cam = CameraId::new("front_door").unwrap();
        let mut changes = archive.changes();
        let (path, _) = archive
            .store(b"\xff\xd8a\xff\xd9", &cam, &ring(), taken())
            .unwrap();
        let (other, _) = archive
            .store(b"\xff\xd8b\xff\xd9", &cam, &ring(), taken())
            .unwrap();
        assert!(changes.has_changed().unwrap());
        changes.mark_unchanged();
        let day = path
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        let stem = path.file_stem().unwrap().to_str().unwrap();
        assert_eq!(archive.delete_event(&cam, day, stem).unwrap(), 2);
        assert!(!path.exists() && !retention::sidecar(&path).exists());
        assert!(
            other.exists(),
            "the other picture of that millisecond stays"
        );
        assert!(changes.has_changed().unwrap());
        assert_eq!(archive.delete_event(&cam, day, stem).unwrap(), 0);
        for (d, s) in [("..", stem), (day, "../../x"), (day, "passwd")] {
            assert!(archive.delete_event(&cam, d, s).is_err(), "{d}/{s}");
        }
    }

    #[test]
    fn read_only_folder_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let ro = dir.path().join("ro");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o500)).unwrap();
        // Root ignores mode bits; /sys refuses everyone (EPERM), so use it there.
        let root = if std::fs::write(ro.join("probe"), b"x").is_ok() {
            PathBuf::from("/sys/doorbell-bridge-test")
        } else {
            ro
        };
        let archive = Archive::new(root, policy());
        let cam = CameraId::new("front_door").unwrap();
        let err = archive
            .store(b"\xff\xd8\xff\xd9", &cam, &ring(), taken())
            .unwrap_err();
        assert!(matches!(err, Error::PermissionDenied { .. }), "{err}");
        assert!(err.to_string().contains("storage.path"));
    }
}
