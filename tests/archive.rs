//! Archive retention over real files of known ages and sizes in a temporary folder.

use std::path::Path;
use std::time::{Duration, SystemTime};

use doorbell_bridge::archive::{Archive, Meta};
use doorbell_bridge::event::{CameraId, Kind};
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
    let meta = Meta {
        camera: &cam,
        kind: Kind::Ring,
        event_time: jiff::Timestamp::now(),
        camera_time: None,
        topic: None,
        taken: jiff::Timestamp::now(),
    };
    let jpeg = vec![0xffu8; 900];
    let (_, over) = archive.store(&jpeg, &meta).unwrap();
    assert!(!over);
    let (_, over) = archive.store(&jpeg, &meta).unwrap();
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
        let meta = Meta {
            camera: &cam,
            kind: Kind::Motion,
            event_time: now,
            camera_time: None,
            topic: None,
            taken: now,
        };
        archive.store(&jpeg, &meta).unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let checked = reader.join().expect("reader saw only whole files");
    assert!(checked > 0, "the reader never looked");
    assert_eq!(list(&root).len(), 40);
}
