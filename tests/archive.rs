//! Archive retention over real files of known ages and sizes in a temporary folder.

use std::path::Path;
use std::time::{Duration, SystemTime};

use doorbell_bridge::archive::Archive;
use doorbell_bridge::event::{CameraId, Kind, SnapshotEvent, SnapshotReason};
use doorbell_bridge::retention::{RetentionPolicy, list, sweep};

const DAY: Duration = Duration::from_secs(86_400);

/// Writes a snapshot + sidecar of `size` bytes dated `age` ago.
fn plant(root: &Path, rel: &str, size: usize, age: Duration, now: SystemTime) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, vec![0u8; size]).unwrap();
    std::fs::write(path.with_extension("json"), b"{}").unwrap();
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(now - age).unwrap();
}

/// The reason of a snapshot for an event of `kind` received at `time`.
fn event(kind: Kind, time: jiff::Timestamp) -> SnapshotReason {
    SnapshotReason::Event(Box::new(SnapshotEvent {
        kind,
        time,
        camera_time: None,
        topic: "tns1:RuleEngine/MyRuleDetector/Visitor".into(),
    }))
}

#[test]
fn sweep_deletes_old_then_oldest_and_spares_foreign_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let now = SystemTime::now();
    plant(
        root,
        "door/2026-10-01/080000.000_ring.jpg",
        1000,
        40 * DAY,
        now,
    );
    plant(
        root,
        "door/2026-11-20/080000.000_ring.jpg",
        1000,
        9 * DAY,
        now,
    );
    plant(
        root,
        "door/2026-11-25/080000.000_person.jpg",
        1000,
        4 * DAY,
        now,
    );
    plant(
        root,
        "gate/2026-11-28/120000.500_motion.jpg",
        1000,
        DAY,
        now,
    );
    plant(
        root,
        "gate/2026-11-29/120000.500_ring.jpg",
        1000,
        Duration::ZERO,
        now,
    );
    // Not ours: never counted, never deleted.
    plant(root, "door/2026-10-01/holiday.jpg", 50_000, 400 * DAY, now);
    std::fs::write(root.join("README.txt"), b"mine").unwrap();
    assert_eq!(list(root).len(), 5);

    // 30 days and room for three snapshots (each 1002 bytes with its sidecar).
    let policy = RetentionPolicy {
        max_age: 30 * DAY,
        max_size: 3 * 1002,
    };
    let report = sweep(root, policy, now);
    assert_eq!(report.deleted, 2, "{report:?}");
    assert_eq!(report.remaining, 3 * 1002);
    assert!(!root.join("door/2026-10-01/080000.000_ring.jpg").exists());
    assert!(!root.join("door/2026-10-01/080000.000_ring.json").exists());
    assert!(
        !root.join("door/2026-11-20").exists(),
        "empty day folder kept"
    );
    assert!(root.join("door/2026-10-01/holiday.jpg").exists());
    assert!(root.join("README.txt").exists());
    assert!(root.join("gate/2026-11-29/120000.500_ring.jpg").exists());

    // A second sweep has nothing to do.
    assert_eq!(sweep(root, policy, now).deleted, 0);
}

#[test]
fn store_reports_when_the_archive_outgrows_its_limit() {
    let dir = tempfile::tempdir().unwrap();
    let archive = Archive::new(
        dir.path().to_owned(),
        RetentionPolicy {
            max_age: DAY,
            max_size: 2_000,
        },
    );
    let cam = CameraId::new("door").unwrap();
    let now = jiff::Timestamp::now();
    let ring = event(Kind::Ring, now);
    let jpeg = vec![0xffu8; 900];
    let (_, over) = archive.store(&jpeg, &cam, &ring, now).unwrap();
    assert!(!over);
    let (_, over) = archive.store(&jpeg, &cam, &ring, now).unwrap();
    assert!(over, "two snapshots plus sidecars exceed 2000 bytes");
    let report = archive.sweep(SystemTime::now());
    assert_eq!(report.deleted, 1);
    assert!(report.remaining <= 2_000);
}

#[test]
fn a_reader_never_sees_a_partial_snapshot() {
    use doorbell_bridge::retention::is_our_jpeg;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    const SIZE: usize = 512 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    let archive = Archive::new(
        root.clone(),
        RetentionPolicy {
            max_age: DAY,
            max_size: u64::MAX,
        },
    );
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (root, done) = (root.clone(), done.clone());
        std::thread::spawn(move || {
            let mut checked = 0usize;
            while !done.load(Ordering::Relaxed) {
                for e in list(&root) {
                    let name = e.path.file_name().unwrap().to_str().unwrap().to_owned();
                    assert!(is_our_jpeg(&name));
                    // Every visible JPEG is whole: first and last byte are where they belong.
                    if let Ok(bytes) = std::fs::read(&e.path) {
                        assert_eq!(bytes.len(), SIZE, "{name} visible before it was complete");
                        assert_eq!(bytes[SIZE - 1], 0xd9);
                        checked += 1;
                    }
                }
            }
            checked
        })
    };
    let cam = CameraId::new("door").unwrap();
    let mut jpeg = vec![0u8; SIZE];
    jpeg[0] = 0xff;
    jpeg[SIZE - 1] = 0xd9;
    for _ in 0..40 {
        let now = jiff::Timestamp::now();
        archive
            .store(&jpeg, &cam, &event(Kind::Motion, now), now)
            .unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let checked = reader.join().expect("reader saw only whole files");
    assert!(checked > 0, "the reader never looked");
    assert_eq!(list(&root).len(), 40);
}

/// Archives keep files from before demand and interval pictures had their own names
/// (`_other.jpg`): retention lists and expires those and today's names alike.
#[test]
fn retention_sweeps_every_name_the_archive_writes_and_the_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    let archive = Archive::new(
        root.clone(),
        RetentionPolicy {
            max_age: DAY,
            max_size: u64::MAX,
        },
    );
    let cam = CameraId::new("door").unwrap();
    let now = jiff::Timestamp::now();
    let reasons = [
        event(Kind::Ring, now),
        event(Kind::LineCrossing, now),
        SnapshotReason::Burst(Box::new(SnapshotEvent {
            kind: Kind::Ring,
            time: now,
            camera_time: None,
            topic: "tns1:RuleEngine/MyRuleDetector/Visitor".into(),
        })),
        SnapshotReason::Demand,
        SnapshotReason::Interval,
    ];
    let mut names = Vec::new();
    for reason in &reasons {
        let (path, _) = archive
            .store(b"\xff\xd8\xff\xd9", &cam, reason, now)
            .unwrap();
        names.push(path.file_name().unwrap().to_str().unwrap().to_owned());
    }
    let ends: Vec<_> = names
        .iter()
        .map(|n| n.split_once('_').unwrap().1.to_owned())
        .collect();
    assert_eq!(
        ends,
        [
            "ring.jpg",
            "line_crossing.jpg",
            "ring-2.jpg",
            "demand.jpg",
            "interval.jpg"
        ],
        "{names:?}"
    );
    // What demand and interval pictures were called before.
    let sys_now = SystemTime::now();
    plant(
        &root,
        "door/2026-10-01/080000.000_other.jpg",
        10,
        40 * DAY,
        sys_now,
    );
    plant(
        &root,
        "door/2026-10-01/080001.000_other-2.jpg",
        10,
        40 * DAY,
        sys_now,
    );
    assert_eq!(list(&root).len(), reasons.len() + 2);

    let policy = RetentionPolicy {
        max_age: DAY,
        max_size: u64::MAX,
    };
    assert_eq!(
        sweep(&root, policy, sys_now).deleted,
        2,
        "the old names expire"
    );
    let later = sys_now + 2 * DAY;
    assert_eq!(
        sweep(&root, policy, later).deleted,
        reasons.len(),
        "so do today's"
    );
    assert!(list(&root).is_empty());
}
