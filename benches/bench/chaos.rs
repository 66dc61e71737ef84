//! What the soak does to the fleet, decided from a seeded random number generator: which
//! camera, which fault, for how long, when the next ring and the next fault come.
//!
//! Pure: the soak (`soak.rs`) applies the decisions to the simulated cameras. The unit tests
//! run from `tests/bench_soak.rs` (the bench binary has no test harness).

use std::time::Duration;

/// A small, fast, seedable generator (SplitMix64): the same seed gives the same run.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Multiply-shift: no modulo bias worth the name for the small ranges used here.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A duration in `lo..=hi`, to the millisecond.
    pub fn between(&mut self, lo: Duration, hi: Duration) -> Duration {
        let (lo_ms, hi_ms) = (lo.as_millis() as u64, hi.as_millis() as u64);
        if hi_ms <= lo_ms {
            return lo;
        }
        Duration::from_millis(lo_ms + self.below(hi_ms - lo_ms + 1))
    }
}

/// Shortest and longest reboot downtime.
pub const REBOOT_DOWN: (Duration, Duration) = (Duration::from_secs(5), Duration::from_secs(20));
/// Shortest and longest network outage (the camera keeps its subscriptions).
pub const OUTAGE_DOWN: (Duration, Duration) = (Duration::from_secs(3), Duration::from_secs(120));
/// Shortest and longest time a camera answers garbage or HTTP 500.
pub const BAD_ANSWERS: (Duration, Duration) = (Duration::from_secs(2), Duration::from_secs(30));
/// Shortest and longest time a camera's clock stays jumped.
pub const CLOCK_JUMPED: (Duration, Duration) = (Duration::from_secs(10), Duration::from_secs(90));
/// Largest clock jump either way.
pub const MAX_CLOCK_JUMP: Duration = Duration::from_secs(24 * 3600);
/// Smallest clock jump (well beyond the WS-Security window of a few seconds).
pub const MIN_CLOCK_JUMP: Duration = Duration::from_secs(600);
/// Gaps between two faults somewhere in the fleet.
pub const FAULT_GAP: (Duration, Duration) = (Duration::from_secs(2), Duration::from_secs(6));
/// Gaps between two rings somewhere in the fleet.
pub const RING_GAP: (Duration, Duration) =
    (Duration::from_millis(500), Duration::from_millis(3500));

/// The kinds of fault, as the report names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Offline, rebooted (subscriptions, nonces and clock lost), back after a short downtime.
    Reboot,
    /// Offline (connections refused) with the subscriptions kept, like a Wi-Fi drop.
    Outage,
    /// HTTP 200 with bytes that are not XML.
    Garbage,
    /// HTTP 500 with a SOAP Receiver fault.
    Http500,
    /// Every subscription dropped at once (expired, as far as the camera is concerned).
    ExpiredSubscriptions,
    /// The camera clock jumps by minutes to a day, either way, then back.
    ClockJump,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 6] = [
        Kind::Reboot,
        Kind::Outage,
        Kind::Garbage,
        Kind::Http500,
        Kind::ExpiredSubscriptions,
        Kind::ClockJump,
    ];

    /// The name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Reboot => "reboot",
            Kind::Outage => "outage",
            Kind::Garbage => "garbage",
            Kind::Http500 => "http 500",
            Kind::ExpiredSubscriptions => "expired subscriptions",
            Kind::ClockJump => "clock jump",
        }
    }
}

/// One fault to inflict: on which camera, what, for how long (zero: instant, such as dropped
/// subscriptions) and, for a clock jump, by how much (seconds, signed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blow {
    /// Camera index.
    pub camera: usize,
    /// What.
    pub kind: Kind,
    /// How long until it is cleared.
    pub lasts: Duration,
    /// Clock jump in seconds (0 for other kinds).
    pub jump_secs: i64,
}

/// Picks the next fault on one of the `healthy` cameras (those with no fault active); `None`
/// when every camera is already faulted.
pub fn next_blow(rng: &mut Rng, healthy: &[usize]) -> Option<Blow> {
    if healthy.is_empty() {
        return None;
    }
    let camera = healthy[rng.below(healthy.len() as u64) as usize];
    let kind = Kind::ALL[rng.below(Kind::ALL.len() as u64) as usize];
    let (lasts, jump_secs) = match kind {
        Kind::Reboot => (rng.between(REBOOT_DOWN.0, REBOOT_DOWN.1), 0),
        Kind::Outage => (rng.between(OUTAGE_DOWN.0, OUTAGE_DOWN.1), 0),
        Kind::Garbage | Kind::Http500 => (rng.between(BAD_ANSWERS.0, BAD_ANSWERS.1), 0),
        Kind::ExpiredSubscriptions => (Duration::ZERO, 0),
        Kind::ClockJump => {
            let size = rng.between(MIN_CLOCK_JUMP, MAX_CLOCK_JUMP).as_secs() as i64;
            let sign = if rng.below(2) == 0 { -1 } else { 1 };
            (rng.between(CLOCK_JUMPED.0, CLOCK_JUMPED.1), sign * size)
        }
    };
    Some(Blow {
        camera,
        kind,
        lasts,
        jump_secs,
    })
}

/// Picks a camera among `n` for the next ring.
pub fn ring_camera(rng: &mut Rng, n: usize) -> usize {
    rng.below(n as u64) as usize
}

/// A gap drawn from `range` (see [`FAULT_GAP`], [`RING_GAP`]).
pub fn gap(rng: &mut Rng, range: (Duration, Duration)) -> Duration {
    rng.between(range.0, range.1)
}

// The bench binary compiles this module with cfg(test) but without its #[test] functions; they
// run from tests/bench_soak.rs.
#[cfg(test)]
#[allow(dead_code, unused_imports)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_run() {
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        let healthy: Vec<usize> = (0..100).collect();
        for _ in 0..1000 {
            assert_eq!(next_blow(&mut a, &healthy), next_blow(&mut b, &healthy));
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }

    #[test]
    fn faults_stay_within_their_bounds_and_on_healthy_cameras() {
        let mut rng = Rng::new(7);
        let healthy = [3, 5, 9];
        let mut seen = std::collections::HashSet::new();
        for _ in 0..5000 {
            let b = next_blow(&mut rng, &healthy).expect("cameras are healthy");
            assert!(healthy.contains(&b.camera), "{b:?}");
            seen.insert(b.kind);
            let (lo, hi) = match b.kind {
                Kind::Reboot => REBOOT_DOWN,
                Kind::Outage => OUTAGE_DOWN,
                Kind::Garbage | Kind::Http500 => BAD_ANSWERS,
                Kind::ExpiredSubscriptions => (Duration::ZERO, Duration::ZERO),
                Kind::ClockJump => CLOCK_JUMPED,
            };
            assert!(lo <= b.lasts && b.lasts <= hi, "{b:?}");
            if b.kind == Kind::ClockJump {
                let jump = b.jump_secs.unsigned_abs();
                assert!(MIN_CLOCK_JUMP.as_secs() <= jump && jump <= MAX_CLOCK_JUMP.as_secs());
            } else {
                assert_eq!(b.jump_secs, 0, "{b:?}");
            }
        }
        assert_eq!(seen.len(), Kind::ALL.len(), "every kind comes up");
    }

    #[test]
    fn no_fault_when_every_camera_is_faulted() {
        assert_eq!(next_blow(&mut Rng::new(1), &[]), None);
    }

    #[test]
    fn below_and_between_stay_in_range() {
        let mut rng = Rng::new(99);
        assert_eq!(rng.below(0), 0);
        for _ in 0..10_000 {
            assert!(rng.below(7) < 7);
            let d = rng.between(Duration::from_millis(500), Duration::from_millis(3500));
            assert!(Duration::from_millis(500) <= d && d <= Duration::from_millis(3500));
            assert!(ring_camera(&mut rng, 20) < 20);
        }
        let lo = Duration::from_secs(3);
        assert_eq!(rng.between(lo, lo), lo);
    }
}
