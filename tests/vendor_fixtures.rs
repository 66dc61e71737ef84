//! Vendor stream captures (tests/fixtures/dahua, tests/fixtures/hikvision) through the pure
//! vendor core: reader, parser, table, one-ring window. Each capture is fed whole and in
//! several chunk sizes and must give the same events; a press rings exactly once, motion never.

use std::path::Path;

use doorbell_bridge::dahua::{codes, rules as dahua_rules, stream};
use doorbell_bridge::event::Kind;
use doorbell_bridge::hikvision::{alert, call, rules as hik_rules};
use doorbell_bridge::normalise::Normaliser;
use doorbell_bridge::onvif::Notification;
use doorbell_bridge::vendor::{Derived, RING_WINDOW, RingWindow, is_ring};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
enum Source {
    /// A Dahua attach body, with the response's Content-Type.
    Dahua(&'static str),
    /// A Hikvision alertStream body.
    HikAlert,
    /// Hikvision callStatus answers, one per line.
    HikCall,
}

struct Case {
    files: &'static [(&'static str, Source)],
    rings: usize,
    kinds: &'static [Kind],
    heartbeats: usize,
    garbage: usize,
}

const DAHUA: Source = Source::Dahua("multipart/x-mixed-replace; boundary=myboundary");

const CASES: &[Case] = &[
    Case {
        files: &[("dahua/ad410_press.txt", DAHUA)],
        rings: 1,
        kinds: &[Kind::Person, Kind::Input, Kind::Ring],
        heartbeats: 2,
        garbage: 0,
    },
    Case {
        files: &[(
            "dahua/ad110_press.txt",
            Source::Dahua("multipart/x-mixed-replace;boundary=--myboundary"),
        )],
        rings: 1,
        kinds: &[Kind::Ring, Kind::Other],
        heartbeats: 2,
        garbage: 0,
    },
    Case {
        files: &[("dahua/ad110_motion.txt", DAHUA)],
        rings: 0,
        kinds: &[Kind::Motion, Kind::Input],
        heartbeats: 1,
        garbage: 0,
    },
    Case {
        files: &[(
            "dahua/camera_quirks.txt",
            Source::Dahua("multipart/x-mixed-replace"),
        )],
        rings: 0,
        kinds: &[Kind::Motion, Kind::Other],
        heartbeats: 2,
        garbage: 0,
    },
    Case {
        files: &[("hikvision/camera_alerts.txt", Source::HikAlert)],
        rings: 0,
        kinds: &[Kind::Motion, Kind::Person, Kind::Tamper],
        heartbeats: 2,
        garbage: 0,
    },
    Case {
        files: &[("hikvision/kb6003_heartbeat.txt", Source::HikAlert)],
        rings: 0,
        kinds: &[Kind::Motion],
        heartbeats: 2,
        garbage: 0,
    },
    // One press seen by the alert stream and the call-status poll: one ring.
    Case {
        files: &[
            ("hikvision/kv6113_press.txt", Source::HikAlert),
            ("hikvision/kv6113_callstatus.txt", Source::HikCall),
        ],
        rings: 1,
        kinds: &[Kind::Ring, Kind::Other],
        heartbeats: 2,
        garbage: 0,
    },
];

#[derive(Debug, Default, PartialEq)]
struct Outcome {
    derived: Vec<(String, Derived)>,
    notifications: Vec<Notification>,
    heartbeats: usize,
    garbage: usize,
}

fn run(bytes: &[u8], source: Source, chunk: usize, out: &mut Outcome) {
    match source {
        Source::Dahua(content_type) => {
            let mut reader =
                stream::PartReader::new(stream::boundary_from_content_type(content_type));
            let mut items = Vec::new();
            for c in bytes.chunks(chunk) {
                reader.feed(c, &mut |i| items.push(i));
            }
            for item in items {
                match item {
                    stream::Item::Heartbeat => out.heartbeats += 1,
                    stream::Item::Garbage(_) => out.garbage += 1,
                    stream::Item::Part(body) => match codes::parse(&body) {
                        Ok(code) => push(out, code.to_notification(), dahua_rules::classify),
                        Err(_) => out.garbage += 1,
                    },
                }
            }
        }
        Source::HikAlert => {
            let mut reader = alert::AlertReader::new();
            let mut alerts = Vec::new();
            for c in bytes.chunks(chunk) {
                reader.feed(c, &mut |a| alerts.push(a));
            }
            for a in alerts {
                match a {
                    alert::Alert::Heartbeat => out.heartbeats += 1,
                    alert::Alert::Garbage(_) => out.garbage += 1,
                    alert::Alert::Event(n) => push(out, n, hik_rules::classify),
                }
            }
        }
        Source::HikCall => {
            let mut tracker = call::CallTracker::new();
            for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let status = call::parse(line).expect("fixture answers parse");
                for change in tracker.observe(status) {
                    push(
                        out,
                        call::to_notification(change, status),
                        hik_rules::classify,
                    );
                }
            }
        }
    }
}

fn push(out: &mut Outcome, n: Notification, classify: fn(&Notification) -> Derived) {
    let d = classify(&n);
    out.derived.push((n.topic.clone(), d));
    out.notifications.push(n);
}

fn outcome(case: &Case, chunk: usize) -> Outcome {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out = Outcome::default();
    for (file, source) in case.files {
        let bytes = std::fs::read(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        run(&bytes, *source, chunk, &mut out);
    }
    out
}

#[test]
fn every_capture_gives_its_events_and_rings_once_per_press() {
    assert!(!CASES.is_empty());
    for case in CASES {
        let name = case.files[0].0;
        let whole = outcome(case, usize::MAX);
        assert!(!whole.derived.is_empty(), "{name}: no events");
        // The whole capture arrives within one press: the window admits one ring, and the
        // camera's normaliser (what the daemon runs) triggers exactly that one.
        let mut window = RingWindow::new();
        let at = Instant::now();
        let rings = whole
            .derived
            .iter()
            .filter(|(_, d)| is_ring(d))
            .filter(|_| window.admit(at))
            .count();
        assert_eq!(rings, case.rings, "{name}: rings in {:?}", whole.derived);
        assert_eq!(
            normalised_rings(&whole.notifications, at),
            case.rings,
            "{name}: rings through the normaliser"
        );
        for kind in case.kinds {
            assert!(
                whole.derived.iter().any(|(_, d)| d.kind == *kind),
                "{name}: no {kind:?} in {:?}",
                whole.derived
            );
        }
        assert_eq!(whole.heartbeats, case.heartbeats, "{name}: heartbeats");
        assert_eq!(whole.garbage, case.garbage, "{name}: garbage");
        for chunk in [1, 3, 17, 256] {
            assert_eq!(outcome(case, chunk), whole, "{name} in chunks of {chunk}");
        }
    }
}

/// Ring triggers the camera's normaliser makes of `notifications`, all received at `at`.
fn normalised_rings(notifications: &[Notification], at: Instant) -> usize {
    let cfg = doorbell_bridge::config::from_toml(
        "[[cameras]]\nid = \"cam\"\nurl = \"192.0.2.1\"\n",
        Path::new("test.toml"),
    )
    .expect("test config is valid");
    let mut normaliser = Normaliser::new(&cfg.cameras[0]);
    let now = jiff::Timestamp::now();
    notifications
        .iter()
        .flat_map(|n| normaliser.handle(n, now, at))
        .filter(|e| e.kind == Kind::Ring && e.trigger)
        .count()
}

/// A second press after the window rings again; one inside it does not.
#[test]
fn a_second_press_after_the_window_rings_again() {
    let case = CASES
        .iter()
        .find(|c| c.files[0].0 == "dahua/ad410_press.txt")
        .expect("the AD410 press capture is in the table");
    let out = outcome(case, usize::MAX);
    let cfg = doorbell_bridge::config::from_toml(
        "[[cameras]]\nid = \"cam\"\nurl = \"192.0.2.1\"\n",
        Path::new("test.toml"),
    )
    .unwrap();
    let mut normaliser = Normaliser::new(&cfg.cameras[0]);
    let now = jiff::Timestamp::now();
    let t0 = Instant::now();
    let mut rings_at = |at: Instant| {
        out.notifications
            .iter()
            .flat_map(|n| normaliser.handle(n, now, at))
            .filter(|e| e.kind == Kind::Ring && e.trigger)
            .count()
    };
    assert_eq!(rings_at(t0), 1);
    assert_eq!(rings_at(t0 + RING_WINDOW / 2), 0, "inside the window");
    assert_eq!(rings_at(t0 + RING_WINDOW * 2), 1, "after the window");
}

#[test]
fn ad110_motion_never_rings() {
    let case = CASES
        .iter()
        .find(|c| c.files[0].0 == "dahua/ad110_motion.txt")
        .expect("the AD110 motion capture is in the table");
    let out = outcome(case, usize::MAX);
    assert!(out.derived.iter().all(|(_, d)| d.kind != Kind::Ring));
    assert!(out.derived.iter().any(|(t, _)| t == "dahua:AlarmLocal"));
}

#[test]
fn a_press_without_the_window_would_ring_more_than_once() {
    // The window is what makes one ring: the AD110 press sends two ring codes (Invite and
    // CallNoAnswered Start), and without the window both would ring.
    let case = CASES
        .iter()
        .find(|c| c.files[0].0 == "dahua/ad110_press.txt")
        .expect("the AD110 press capture is in the table");
    let out = outcome(case, usize::MAX);
    assert_eq!(out.derived.iter().filter(|(_, d)| is_ring(d)).count(), 2);
}

/// A DoorBird calls its favorite once per press: each call outside the ring window rings,
/// a repeated call inside it is the same press; motion calls never ring.
#[test]
fn doorbird_calls_ring_once_per_window_and_motion_never_rings() {
    let ring = doorbell_bridge::doorbird::to_notification("event=doorbell").unwrap();
    let motion = doorbell_bridge::doorbird::to_notification("event=motion").unwrap();
    let t0 = Instant::now();
    assert_eq!(normalised_rings(&[ring.clone(), ring.clone()], t0), 1);
    assert_eq!(normalised_rings(std::slice::from_ref(&motion), t0), 0);
    let cfg = doorbell_bridge::config::from_toml(
        "[[cameras]]\nid = \"cam\"\nurl = \"192.0.2.1\"\n",
        Path::new("test.toml"),
    )
    .unwrap();
    let mut normaliser = Normaliser::new(&cfg.cameras[0]);
    let now = jiff::Timestamp::now();
    let events = normaliser.handle(&motion, now, t0);
    assert_eq!(events.len(), 1);
    assert!(events[0].kind == Kind::Motion && events[0].active && events[0].trigger);
    assert!(
        normaliser.next_deadline().is_some(),
        "motion is a pulse cleared by its hold"
    );
    let mut rings_at = |at: Instant| {
        normaliser
            .handle(&ring, now, at)
            .iter()
            .filter(|e| e.kind == Kind::Ring && e.trigger)
            .count()
    };
    assert_eq!(rings_at(t0), 1);
    assert_eq!(rings_at(t0 + RING_WINDOW / 2), 0);
    assert_eq!(rings_at(t0 + RING_WINDOW * 2), 1);
}
