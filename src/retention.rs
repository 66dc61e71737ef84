//! Archive retention: which files to delete (pure), and the sweep that lists and deletes them.
//!
//! Only files the bridge wrote are ever considered: `<HHMMSS.mmm>_<name>[-n].jpg` (`name` a kind,
//! `demand`, `interval`, or `other` from earlier builds) and their
//! `.json` sidecars, event clips `<HHMMSS.mmm>_<kind>[-n].mp4` and their `.clip.json` sidecars
//! (a sidecar alone, for a clip that could not be recorded, counts on its own), two levels
//! below the root (`<camera>/<YYYY-MM-DD>/`). Anything else in the folder is left alone and
//! not counted.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Limits the archive is kept within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Files older than this go.
    pub max_age: Duration,
    /// The archive is trimmed below this many bytes, oldest first.
    pub max_size: u64,
}

/// One archived snapshot as found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The JPEG.
    pub path: PathBuf,
    /// When it was written.
    pub modified: SystemTime,
    /// Bytes of the JPEG and its sidecar together.
    pub size: u64,
}

/// What a sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Snapshots deleted.
    pub deleted: usize,
    /// Bytes freed.
    pub freed: u64,
    /// Bytes still in the archive.
    pub remaining: u64,
    /// Files that could not be deleted.
    pub failed: usize,
}

/// Indices into `entries` to delete: everything older than `max_age`, then the oldest until the
/// rest fits in `max_size`. Pure; `entries` may be in any order.
pub fn select_expired(entries: &[Entry], policy: RetentionPolicy, now: SystemTime) -> Vec<usize> {
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&i| (entries[i].modified, entries[i].path.clone()));
    let mut total: u64 = entries.iter().map(|e| e.size).sum();
    let mut expired = Vec::new();
    for i in order {
        let age = now
            .duration_since(entries[i].modified)
            .unwrap_or(Duration::ZERO);
        if age > policy.max_age || total > policy.max_size {
            total -= entries[i].size;
            expired.push(i);
        } else {
            // Sorted oldest first: once one is young enough and the total fits, all later are kept.
            break;
        }
    }
    expired
}

/// Whether `name` is a snapshot file name the bridge writes (`HHMMSS.mmm_name[-n].jpg`).
pub fn is_our_jpeg(name: &str) -> bool {
    name.strip_suffix(".jpg").is_some_and(is_our_stem)
}

/// Whether `name` is a clip the bridge writes (`HHMMSS.mmm_kind[-n].mp4`) or a clip sidecar
/// (`HHMMSS.mmm_kind[-n].clip.json`).
pub fn is_our_clip(name: &str) -> bool {
    name.strip_suffix(".mp4")
        .or_else(|| name.strip_suffix(".clip.json"))
        .is_some_and(is_our_stem)
}

/// Whether `stem` is an archive file stem (`HHMMSS.mmm_name[-n]`).
pub fn is_our_stem(stem: &str) -> bool {
    let b = stem.as_bytes();
    if b.len() < 12 || b[6] != b'.' || b[10] != b'_' {
        return false;
    }
    let digits = b[..6].iter().chain(&b[7..10]).all(u8::is_ascii_digit);
    let rest = &stem[11..];
    let (kind, n) = rest.split_once('-').unwrap_or((rest, "1"));
    digits
        && !kind.is_empty()
        && kind.bytes().all(|c| c.is_ascii_lowercase() || c == b'_')
        && !n.is_empty()
        && n.bytes().all(|c| c.is_ascii_digit())
}

/// Whether `name` looks like a day folder `YYYY-MM-DD`.
pub fn is_day_folder(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// The sidecar of a JPEG (`.json`) or a clip (`.clip.json`); a clip sidecar is its own.
pub fn sidecar(file: &Path) -> PathBuf {
    if file.extension().is_some_and(|e| e == "mp4") {
        file.with_extension("clip.json")
    } else {
        file.with_extension("json")
    }
}

/// Lists the bridge's snapshots under `root` (blocking IO). Unreadable folders are skipped.
pub fn list(root: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    for camera in read_dirs(root) {
        for day in read_dirs(&camera) {
            if !day
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(is_day_folder)
            {
                continue;
            }
            let Ok(files) = std::fs::read_dir(&day) else {
                continue;
            };
            for f in files.flatten() {
                let name = f.file_name();
                let Some(name) = name.to_str() else { continue };
                let path = f.path();
                let orphan_sidecar = name.ends_with(".clip.json");
                if !(is_our_jpeg(name) || is_our_clip(name))
                    || (orphan_sidecar && path.with_extension("").with_extension("mp4").exists())
                {
                    continue;
                }
                let Ok(meta) = f.metadata() else { continue };
                let side = if orphan_sidecar {
                    0
                } else {
                    std::fs::metadata(sidecar(&path)).map_or(0, |m| m.len())
                };
                out.push(Entry {
                    modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    size: meta.len() + side,
                    path,
                });
            }
        }
    }
    out
}

fn read_dirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}

/// Lists, selects and deletes (blocking IO; run it in `spawn_blocking`). Empty day folders that
/// lost files are removed.
pub fn sweep(root: &Path, policy: RetentionPolicy, now: SystemTime) -> SweepReport {
    let entries = list(root);
    let total: u64 = entries.iter().map(|e| e.size).sum();
    let mut report = SweepReport {
        remaining: total,
        ..SweepReport::default()
    };
    let mut days = Vec::new();
    for i in select_expired(&entries, policy, now) {
        let e = &entries[i];
        match std::fs::remove_file(&e.path) {
            Ok(()) => {
                let _ = std::fs::remove_file(sidecar(&e.path));
                report.deleted += 1;
                report.freed += e.size;
                report.remaining -= e.size;
                if let Some(day) = e.path.parent() {
                    days.push(day.to_owned());
                }
            }
            Err(_) => report.failed += 1,
        }
    }
    days.sort();
    days.dedup();
    for day in days {
        // Fails (and keeps the folder) unless it is empty: exactly what we want.
        let _ = std::fs::remove_dir(&day);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, age_s: u64, size: u64, now: SystemTime) -> Entry {
        Entry {
            path: PathBuf::from(name),
            modified: now - Duration::from_secs(age_s),
            size,
        }
    }

    #[test]
    fn age_then_size_oldest_first() {
        let now = SystemTime::now();
        let policy = RetentionPolicy {
            max_age: Duration::from_secs(100),
            max_size: 250,
        };
        let entries = vec![
            entry("young", 10, 100, now),
            entry("ancient", 500, 1, now),
            entry("old", 90, 100, now),
            entry("middle", 50, 100, now),
        ];
        // ancient goes for age; then 300 > 250 so "old" goes; 200 fits.
        let mut got: Vec<_> = select_expired(&entries, policy, now)
            .into_iter()
            .map(|i| entries[i].path.to_str().unwrap().to_owned())
            .collect();
        got.sort();
        assert_eq!(got, vec!["ancient", "old"]);
    }

    #[test]
    fn nothing_to_do_within_limits() {
        let now = SystemTime::now();
        let policy = RetentionPolicy {
            max_age: Duration::from_secs(100),
            max_size: 1000,
        };
        let entries = vec![entry("a", 1, 10, now), entry("b", 2, 10, now)];
        assert!(select_expired(&entries, policy, now).is_empty());
        assert!(select_expired(&[], policy, now).is_empty());
    }

    #[test]
    fn recognises_only_our_names() {
        let ours = ["081500.123_ring.jpg", "235959.999_line_crossing-2.jpg"];
        let theirs = [
            "holiday.jpg",
            "081500.123_ring.png",
            "081500_ring.jpg",
            "081500.123_Ring.jpg",
            "081500.123_.jpg",
            "081500.123_ring-.jpg",
        ];
        assert!(ours.iter().all(|n| is_our_jpeg(n)));
        assert!(theirs.iter().all(|n| !is_our_jpeg(n)), "{theirs:?}");
        assert!(is_our_clip("081500.123_ring.mp4"));
        assert!(is_our_clip("081500.123_ring-2.clip.json"));
        assert!(!is_our_clip("081500.123_ring.json"));
        assert!(!is_our_clip("holiday.mp4"));
        assert!(!is_our_jpeg("081500.123_ring.mp4"));
        assert_eq!(
            sidecar(Path::new("d/081500.123_ring.mp4")),
            Path::new("d/081500.123_ring.clip.json")
        );
        assert_eq!(
            sidecar(Path::new("d/081500.123_ring.jpg")),
            Path::new("d/081500.123_ring.json")
        );
        assert!(is_day_folder("2026-11-29"));
        assert!(!is_day_folder("holidays"));
    }
}
