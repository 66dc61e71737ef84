//! The archive read as a timeline, newest first, a bounded amount per request.
//!
//! The archive's own layout is the index: `<root>/<camera>/<YYYY-MM-DD>/<HHMMSS.mmm>_<kind>[-n]`
//! with `.jpg` (the picture), `.json` (its sidecar), `.mp4` (the clip) and `.clip.json` (the
//! clip's sidecar). Folder and file names sort by time, so a page is read day by day from the
//! newest, one day folder at a time, and the reading stops once the page is full or
//! [`SCAN_BUDGET`] names were read: a request never walks the whole tree. A page that stopped
//! on the budget carries a [`Cursor`] to go on from, like a full one. Only names are read
//! (no sidecar, no metadata), so a page of 50 costs a few folder listings.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::event::CameraId;
use crate::retention::{is_day_folder, is_our_stem};

/// Most file names one request reads before it returns what it has.
pub const SCAN_BUDGET: usize = 60_000;

/// Kinds left out of the timeline unless asked for: the pictures taken on a timer.
pub const HIDDEN_BY_DEFAULT: &[&str] = &["interval"];

/// One archived event: a file stem in a camera's day folder.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId {
    /// `YYYY-MM-DD`, local time.
    pub day: String,
    /// `HHMMSS.mmm_kind[-n]`.
    pub stem: String,
    /// The camera folder.
    pub camera: CameraId,
}

impl EventId {
    /// Reads `camera/day/stem`, accepting only names the archive writes (so never a path
    /// that leaves it).
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('/');
        let (camera, day, stem) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || !is_day_folder(day) || !is_our_stem(stem) {
            return None;
        }
        Some(Self {
            camera: CameraId::new(camera).ok()?,
            day: day.to_owned(),
            stem: stem.to_owned(),
        })
    }

    /// The kind in the stem (`ring` of `081500.123_ring-2`).
    pub fn kind(&self) -> &str {
        kind_of(&self.stem)
    }

    /// `HH:MM:SS` of the stem.
    pub fn clock(&self) -> String {
        let s = &self.stem;
        format!("{}:{}:{}", &s[0..2], &s[2..4], &s[4..6])
    }

    /// The folder-relative path of one of its files (`camera/day/stem.ext`).
    pub fn file(&self, ext: &str) -> String {
        format!("{}/{}/{}.{ext}", self.camera, self.day, self.stem)
    }

    /// Its place in the timeline (for cursors).
    fn key(&self) -> Key<'_> {
        (&self.day, &self.stem, self.camera.as_str())
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.camera, self.day, self.stem)
    }
}

type Key<'a> = (&'a str, &'a str, &'a str);

fn kind_of(stem: &str) -> &str {
    let rest = stem.get(11..).unwrap_or("");
    rest.split_once('-').map_or(rest, |(k, _)| k)
}

/// A place in the timeline: after an event, or from the start of a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// Everything older than this event.
    Before(EventId),
    /// Everything of this day and older.
    FromDay(String),
}

impl Cursor {
    /// Reads what [`Cursor`]'s `Display` wrote: an event id, or a day.
    pub fn parse(text: &str) -> Option<Self> {
        if is_day_folder(text) {
            return Some(Cursor::FromDay(text.to_owned()));
        }
        EventId::parse(text).map(Cursor::Before)
    }

    fn day(&self) -> &str {
        match self {
            Cursor::Before(id) => &id.day,
            Cursor::FromDay(day) => day,
        }
    }

    /// Whether `id` lies after the cursor (is older).
    fn admits(&self, id: &EventId) -> bool {
        match self {
            Cursor::Before(c) => id.key() < c.key(),
            Cursor::FromDay(day) => id.day.as_str() <= day.as_str(),
        }
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cursor::Before(id) => id.fmt(f),
            Cursor::FromDay(day) => f.write_str(day),
        }
    }
}

/// What a request asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// One camera, or all.
    pub camera: Option<CameraId>,
    /// One kind (`ring`, `person`, `interval`, ...), or all but [`HIDDEN_BY_DEFAULT`].
    pub kind: Option<String>,
    /// Start at this day (`YYYY-MM-DD`) and go back from it.
    pub date: Option<String>,
    /// Go on after this place (the next page).
    pub before: Option<Cursor>,
    /// Only events newer than this one (what arrived since the page was drawn).
    pub after: Option<EventId>,
}

impl Query {
    fn wants(&self, id: &EventId) -> bool {
        let kind = id.kind();
        let kind_ok = match &self.kind {
            Some(k) => k == kind,
            None => !HIDDEN_BY_DEFAULT.contains(&kind),
        };
        kind_ok
            && self.before.as_ref().is_none_or(|c| c.admits(id))
            && self.after.as_ref().is_none_or(|a| id.key() > a.key())
    }

    /// The newest day this query can show.
    fn first_day(&self) -> Option<&str> {
        let a = self.date.as_deref();
        let b = self.before.as_ref().map(Cursor::day);
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// What the archive holds of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Which event.
    pub id: EventId,
    /// A picture (`.jpg`) is archived.
    pub picture: bool,
    /// A clip: `Some(true)` with video, `Some(false)` for a clip sidecar alone (the recording
    /// failed), `None` without a clip.
    pub clip: Option<bool>,
}

/// One page of the timeline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// Newest first.
    pub entries: Vec<Entry>,
    /// Where the next page starts, when there may be more.
    pub next: Option<Cursor>,
    /// File names read for this page.
    pub scanned: usize,
}

/// Reads one page of at most `limit` events (blocking IO: call from `spawn_blocking`).
/// Unreadable or foreign folders and files are skipped.
pub fn read_page(root: &Path, q: &Query, limit: usize, budget: usize) -> Page {
    let days = days_by_camera(root, q.camera.as_ref());
    let mut page = Page::default();
    for (day, cameras) in days.iter().rev() {
        if q.first_day().is_some_and(|first| day.as_str() > first) {
            continue;
        }
        if q.after
            .as_ref()
            .is_some_and(|a| day.as_str() < a.day.as_str())
        {
            break;
        }
        if page.scanned >= budget {
            page.next = Some(Cursor::FromDay(day.clone()));
            break;
        }
        let mut found = Vec::new();
        for camera in cameras {
            let names = list_names(&root.join(camera.as_str()).join(day));
            page.scanned += names.len();
            found.extend(
                entries_of(camera, day, &names)
                    .into_iter()
                    .filter(|e| q.wants(&e.id)),
            );
        }
        found.sort_by(|a, b| b.id.key().cmp(&a.id.key()));
        for e in found {
            if page.entries.len() == limit {
                let last = page
                    .entries
                    .last()
                    .expect("limit is at least one")
                    .id
                    .clone();
                page.next = Some(Cursor::Before(last));
                return page;
            }
            page.entries.push(e);
        }
    }
    page
}

/// Every day folder, with the cameras that have it (camera folders that are not camera ids
/// are skipped).
fn days_by_camera(root: &Path, only: Option<&CameraId>) -> BTreeMap<String, Vec<CameraId>> {
    let mut days: BTreeMap<String, Vec<CameraId>> = BTreeMap::new();
    let cameras: Vec<CameraId> = match only {
        Some(c) => vec![c.clone()],
        None => list_names(root)
            .iter()
            .filter_map(|n| CameraId::new(n).ok())
            .collect(),
    };
    for camera in cameras {
        for day in list_names(&root.join(camera.as_str())) {
            if is_day_folder(&day) {
                days.entry(day).or_default().push(camera.clone());
            }
        }
    }
    days
}

/// The names in a folder that are plain UTF-8 (no symlink, no hidden temporary files).
fn list_names(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter(|e| e.file_type().is_ok_and(|t| !t.is_symlink()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect()
}

/// The events one day folder's file names describe (pure).
pub fn entries_of(camera: &CameraId, day: &str, names: &[String]) -> Vec<Entry> {
    let mut by_stem: BTreeMap<&str, (bool, Option<bool>)> = BTreeMap::new();
    for name in names {
        let (stem, what) = if let Some(s) = name.strip_suffix(".jpg") {
            (s, 0)
        } else if let Some(s) = name.strip_suffix(".mp4") {
            (s, 1)
        } else if let Some(s) = name.strip_suffix(".clip.json") {
            (s, 2)
        } else {
            continue;
        };
        if !is_our_stem(stem) {
            continue;
        }
        let slot = by_stem.entry(stem).or_default();
        match what {
            0 => slot.0 = true,
            1 => slot.1 = Some(true),
            _ => {
                slot.1.get_or_insert(false);
            }
        }
    }
    by_stem
        .into_iter()
        .map(|(stem, (picture, clip))| Entry {
            id: EventId {
                camera: camera.clone(),
                day: day.to_owned(),
                stem: stem.to_owned(),
            },
            picture,
            clip,
        })
        .collect()
}

/// The newest picture of `camera` (any kind, timer pictures too) in its newest `days` day
/// folders (blocking IO).
pub fn latest_picture(root: &Path, camera: &CameraId, days: usize) -> Option<EventId> {
    let dir = root.join(camera.as_str());
    let mut folders: Vec<String> = list_names(&dir)
        .into_iter()
        .filter(|d| is_day_folder(d))
        .collect();
    folders.sort_unstable_by(|a, b| b.cmp(a));
    folders.into_iter().take(days).find_map(|day| {
        let names = list_names(&dir.join(&day));
        entries_of(camera, &day, &names)
            .into_iter()
            .filter(|e| e.picture)
            .max_by(|a, b| a.id.stem.cmp(&b.id.stem))
            .map(|e| e.id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cam(id: &str) -> CameraId {
        CameraId::new(id).unwrap()
    }

    fn touch(root: &Path, rel: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    /// Two cameras over three days; `front` has a clip and a failed clip.
    fn archive() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        for rel in [
            "front/2026-11-29/080000.000_ring.jpg",
            "front/2026-11-29/080000.000_ring.json",
            "front/2026-11-30/090000.000_person.jpg",
            "front/2026-11-30/090000.000_person.mp4",
            "front/2026-11-30/090000.000_person.clip.json",
            "front/2026-11-30/091500.500_ring.jpg",
            "front/2026-11-30/091500.500_ring.clip.json",
            "front/2026-11-30/100000.000_interval.jpg",
            "garage/2026-11-30/093000.000_motion.jpg",
            "garage/2026-12-01/070000.000_vehicle.jpg",
            "garage/2026-12-01/070000.000_vehicle-2.jpg",
            "garage/2026-12-01/.070001.000_ring.jpg.tmp",
            "garage/2026-12-01/notes.txt",
            "Not A Camera/2026-12-01/070000.000_ring.jpg",
            "garage/december/070000.000_ring.jpg",
        ] {
            touch(r, rel);
        }
        dir
    }

    fn ids(page: &Page) -> Vec<String> {
        page.entries.iter().map(|e| e.id.to_string()).collect()
    }

    #[test]
    fn a_page_is_newest_first_across_cameras_without_timer_pictures() {
        let a = archive();
        let page = read_page(a.path(), &Query::default(), 50, SCAN_BUDGET);
        assert_eq!(
            ids(&page),
            [
                "garage/2026-12-01/070000.000_vehicle-2",
                "garage/2026-12-01/070000.000_vehicle",
                "garage/2026-11-30/093000.000_motion",
                "front/2026-11-30/091500.500_ring",
                "front/2026-11-30/090000.000_person",
                "front/2026-11-29/080000.000_ring",
            ]
        );
        assert_eq!(page.next, None);
        let person = &page.entries[4];
        assert!(person.picture);
        assert_eq!(person.clip, Some(true));
        assert_eq!(
            page.entries[3].clip,
            Some(false),
            "a failed recording shows"
        );
        assert_eq!(page.entries[5].clip, None);
    }

    #[test]
    fn pages_follow_each_other_without_gaps_or_repeats() {
        let a = archive();
        let all = ids(&read_page(a.path(), &Query::default(), 50, SCAN_BUDGET));
        assert!(!all.is_empty());
        let mut seen = Vec::new();
        let mut q = Query::default();
        loop {
            let page = read_page(a.path(), &q, 2, SCAN_BUDGET);
            seen.extend(ids(&page));
            match page.next {
                Some(c) => q.before = Some(Cursor::parse(&c.to_string()).unwrap()),
                None => break,
            }
        }
        assert_eq!(seen, all);
    }

    #[test]
    fn a_small_budget_stops_early_and_goes_on_from_the_day_it_left() {
        let a = archive();
        let all = ids(&read_page(a.path(), &Query::default(), 50, SCAN_BUDGET));
        let mut seen = Vec::new();
        let mut q = Query::default();
        let mut requests = 0;
        loop {
            requests += 1;
            let page = read_page(a.path(), &q, 50, 1);
            seen.extend(ids(&page));
            match page.next {
                Some(c) => q.before = Some(c),
                None => break,
            }
        }
        assert_eq!(seen, all);
        assert!(requests >= 3, "one day folder per request: {requests}");
    }

    #[test]
    fn filters_pick_camera_kind_date_and_newer_than() {
        let a = archive();
        let r = a.path();
        let q = |f: fn(&mut Query)| {
            let mut q = Query::default();
            f(&mut q);
            ids(&read_page(r, &q, 50, SCAN_BUDGET))
        };
        assert_eq!(
            q(|q| q.camera = Some(cam("garage"))).len(),
            3,
            "only garage"
        );
        assert_eq!(
            q(|q| q.kind = Some("ring".into())),
            [
                "front/2026-11-30/091500.500_ring",
                "front/2026-11-29/080000.000_ring"
            ]
        );
        assert_eq!(
            q(|q| q.kind = Some("interval".into())),
            ["front/2026-11-30/100000.000_interval"]
        );
        assert_eq!(
            q(|q| q.date = Some("2026-11-29".into())),
            ["front/2026-11-29/080000.000_ring"]
        );
        assert_eq!(
            q(|q| q.after = EventId::parse("front/2026-11-30/091500.500_ring")),
            [
                "garage/2026-12-01/070000.000_vehicle-2",
                "garage/2026-12-01/070000.000_vehicle",
                "garage/2026-11-30/093000.000_motion"
            ]
        );
    }

    #[test]
    fn ids_accept_only_archive_names() {
        let ok = EventId::parse("front/2026-11-30/091500.500_ring-2").unwrap();
        assert_eq!(ok.kind(), "ring");
        assert_eq!(ok.clock(), "09:15:00");
        assert_eq!(ok.file("jpg"), "front/2026-11-30/091500.500_ring-2.jpg");
        for bad in [
            "",
            "front",
            "../2026-11-30/091500.500_ring",
            "front/2026-11-30/../../etc/passwd",
            "front/2026-11-30/091500.500_ring.jpg",
            "front/2026-11-30/091500.500_ring/x",
            "Front/2026-11-30/091500.500_ring",
            "front/2026-13-3x/091500.500_ring",
            "front/2026-11-30/%2e%2e",
        ] {
            assert_eq!(EventId::parse(bad), None, "{bad}");
        }
        assert_eq!(
            Cursor::parse("2026-11-30"),
            Some(Cursor::FromDay("2026-11-30".into()))
        );
        assert_eq!(Cursor::parse("yesterday"), None);
    }

    #[test]
    fn the_latest_picture_includes_timer_pictures() {
        let a = archive();
        assert_eq!(
            latest_picture(a.path(), &cam("front"), 3)
                .unwrap()
                .to_string(),
            "front/2026-11-30/100000.000_interval"
        );
        assert_eq!(latest_picture(a.path(), &cam("porch"), 3), None);
    }

    #[cfg(unix)]
    #[test]
    fn symlinked_folders_are_not_followed() {
        let a = archive();
        let outside = tempfile::tempdir().unwrap();
        touch(outside.path(), "2026-12-02/120000.000_ring.jpg");
        std::os::unix::fs::symlink(outside.path(), a.path().join("porch")).unwrap();
        let page = read_page(a.path(), &Query::default(), 50, SCAN_BUDGET);
        assert!(ids(&page).iter().all(|i| !i.starts_with("porch")));
    }
}
