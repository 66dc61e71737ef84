//! The soak's bookkeeping: every press, every ring the bridge published, every fault, and
//! from them what was delivered, lost or duplicated and how long cameras took to resume.
//!
//! A press is known by its camera and the `UtcTime` the simulator stamped on it
//! (`SimDoorbell::press` returns it); the bridge publishes that stamp as `camera_time` on
//! `<base>/<camera>/event`, together with its own receive `time`, which the
//! `<base>/<camera>/doorbell` message repeats. So a doorbell message is matched to its event
//! by (camera, `time`), and the event to its press by (camera, `camera_time`). Two rings can
//! carry the same `time` (a press queued during an outage and the press made as it cleared
//! arrive in one PullMessages answer and are published within the same millisecond), so the
//! n-th doorbell message with a `time` goes with the n-th distinct ring event with that
//! `time`: the bridge publishes each ring's event before its doorbell message. A doorbell
//! message beyond its events (the outbox sending it again after a reconnect), or a second
//! doorbell for a press already delivered (the camera's message pulled twice), counts as a
//! duplicate.
//!
//! Pure: no clock is read here, times are passed in. The unit tests run from
//! `tests/bench_soak.rs` (the bench binary has no test harness). Everything grows with the
//! number of presses and faults, which the soak's schedule bounds (at most one ring per
//! `chaos::RING_GAP.0` plus one per fault).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::chaos::Kind;

/// Doorbell messages kept while waiting for their event message (which the bridge publishes
/// first, so this only fills if the order is broken).
pub const MAX_ORPHANS: usize = 1024;

/// The camera's state when it was pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// No fault active and at least one live subscription: the press must be delivered.
    Up,
    /// A fault was active: the press may legitimately never exist on the camera.
    Faulted(Kind),
    /// No fault, but no live subscription (the bridge had not subscribed yet): the press was
    /// queued nowhere.
    Unsubscribed,
}

/// One press.
#[derive(Debug, Clone)]
pub struct Press {
    /// Camera index.
    pub camera: usize,
    /// The `UtcTime` the camera stamped on it.
    pub camera_time: String,
    /// When it was pressed.
    pub at: Instant,
    /// The camera's state then.
    pub when: When,
    /// When its first doorbell message arrived.
    pub delivered: Option<Instant>,
}

/// One fault on one camera, from start to clear and what followed.
#[derive(Debug, Clone)]
pub struct Episode {
    /// Camera index.
    pub camera: usize,
    /// What.
    pub kind: Kind,
    /// When it was inflicted.
    pub started: Instant,
    /// When it was cleared.
    pub cleared: Option<Instant>,
    /// The camera was reported `offline` at or after the clear and not yet `online` again.
    awaiting_online: bool,
    /// The first `online` after the clear, if the camera had been reported offline.
    pub online_at: Option<Instant>,
    /// The press made once the camera had a subscription again after the clear.
    pub probe: Option<usize>,
}

/// Counts so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Every press.
    pub pressed: usize,
    /// Pressed while up and subscribed.
    pub up: usize,
    /// Pressed while a fault was active.
    pub faulted: usize,
    /// Pressed with no fault but no live subscription.
    pub unsubscribed: usize,
    /// Presses delivered at least once (any state).
    pub delivered: usize,
    /// Presses made while up, not delivered, and older than the grace given.
    pub lost: usize,
    /// Doorbell messages beyond the first per press.
    pub duplicates: u64,
    /// Doorbell messages that match no press.
    pub unknown: u64,
}

/// Everything the soak recorded.
#[derive(Debug, Default)]
pub struct Ledger {
    presses: Vec<Press>,
    /// (camera, stamp) -> its presses, oldest first (a camera whose clock went back to 2000
    /// after a reboot can stamp two presses alike).
    by_stamp: HashMap<(usize, String), Vec<usize>>,
    /// (camera, bridge `time`) -> the distinct `camera_time`s of its ring events, in order,
    /// from `<base>/<camera>/event`.
    ring_events: HashMap<(usize, String), Vec<String>>,
    /// (camera, bridge `time`) -> doorbell messages seen with it.
    doorbells: HashMap<(usize, String), usize>,
    orphans: Vec<(usize, String, Instant)>,
    episodes: Vec<Episode>,
    online: HashMap<usize, bool>,
    duplicates: u64,
    unknown: u64,
    /// Presses of one camera with the stamp of an earlier one: a doorbell for that stamp goes
    /// to the oldest of them not yet delivered.
    pub stamp_clashes: u64,
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// Records a press; returns its index.
    pub fn pressed(
        &mut self,
        camera: usize,
        camera_time: String,
        at: Instant,
        when: When,
    ) -> usize {
        let i = self.presses.len();
        let same = self
            .by_stamp
            .entry((camera, camera_time.clone()))
            .or_default();
        if !same.is_empty() {
            self.stamp_clashes += 1;
        }
        same.push(i);
        self.presses.push(Press {
            camera,
            camera_time,
            at,
            when,
            delivered: None,
        });
        i
    }

    /// A ring event (`trigger: true`) on `<base>/<camera>/event`.
    pub fn ring_event(&mut self, camera: usize, time: String, camera_time: String) {
        let key = (camera, time);
        let stamps = self.ring_events.entry(key.clone()).or_default();
        if stamps.contains(&camera_time) {
            // The same event sent again (the outbox after a reconnect).
            return;
        }
        stamps.push(camera_time.clone());
        let (camera, time) = key;
        if let Some(k) = self
            .orphans
            .iter()
            .position(|(c, t, _)| *c == camera && *t == time)
        {
            let (_, _, at) = self.orphans.swap_remove(k);
            self.resolve(camera, &camera_time, at);
        }
    }

    /// A message on `<base>/<camera>/doorbell` carrying the bridge's `time`, read at `at`.
    pub fn doorbell(&mut self, camera: usize, time: String, at: Instant) {
        let key = (camera, time);
        let seen = self.doorbells.entry(key.clone()).or_default();
        *seen += 1;
        let nth = *seen;
        let stamp = self
            .ring_events
            .get(&key)
            .and_then(|stamps| stamps.get(nth - 1))
            .cloned();
        match stamp {
            Some(stamp) => self.resolve(camera, &stamp, at),
            None if self.orphans.len() < MAX_ORPHANS => self.orphans.push((key.0, key.1, at)),
            None => self.unknown += 1,
        }
    }

    fn resolve(&mut self, camera: usize, stamp: &str, at: Instant) {
        let Some(same) = self.by_stamp.get(&(camera, stamp.to_owned())) else {
            self.unknown += 1;
            return;
        };
        let waiting = same.iter().copied().find(|&i| {
            let p = &self.presses[i];
            p.delivered.is_none() && p.at <= at
        });
        match waiting {
            Some(i) => self.presses[i].delivered = Some(at),
            None => self.duplicates += 1,
        }
    }

    /// `<base>/<camera>/status` said `online` (or not) at `at`.
    pub fn status(&mut self, camera: usize, online: bool, at: Instant) {
        self.online.insert(camera, online);
        for e in self
            .episodes
            .iter_mut()
            .rev()
            .filter(|e| e.camera == camera)
        {
            let Some(cleared) = e.cleared else {
                continue;
            };
            if e.online_at.is_some() || at < cleared {
                break;
            }
            if !online {
                e.awaiting_online = true;
            } else if e.awaiting_online {
                e.online_at = Some(at);
                e.awaiting_online = false;
            }
            break;
        }
    }

    /// A fault was inflicted; returns the episode's index.
    pub fn fault_started(&mut self, camera: usize, kind: Kind, at: Instant) -> usize {
        self.episodes.push(Episode {
            camera,
            kind,
            started: at,
            cleared: None,
            awaiting_online: false,
            online_at: None,
            probe: None,
        });
        self.episodes.len() - 1
    }

    /// The fault of episode `e` was cleared at `at`.
    pub fn fault_cleared(&mut self, e: usize, at: Instant) {
        let camera = self.episodes[e].camera;
        let offline = self.online.get(&camera) == Some(&false);
        let ep = &mut self.episodes[e];
        ep.cleared = Some(at);
        ep.awaiting_online = offline;
    }

    /// Press `press` was the first after episode `e` cleared and the camera subscribed again.
    pub fn probe(&mut self, e: usize, press: usize) {
        self.episodes[e].probe = Some(press);
    }

    /// The counts at `now`; a press made while up counts as lost once `grace` has passed
    /// without its doorbell.
    pub fn counts(&self, now: Instant, grace: Duration) -> Counts {
        // A waiting doorbell message whose `time` has events already is one sent again.
        let repeated = self
            .orphans
            .iter()
            .filter(|(c, t, _)| self.ring_events.contains_key(&(*c, t.clone())))
            .count() as u64;
        let mut c = Counts {
            pressed: self.presses.len(),
            duplicates: self.duplicates + repeated,
            unknown: self.unknown + self.orphans.len() as u64 - repeated,
            ..Counts::default()
        };
        for p in &self.presses {
            match p.when {
                When::Up => c.up += 1,
                When::Faulted(_) => c.faulted += 1,
                When::Unsubscribed => c.unsubscribed += 1,
            }
            if p.delivered.is_some() {
                c.delivered += 1;
            } else if p.when == When::Up && p.at + grace <= now {
                c.lost += 1;
            }
        }
        c
    }

    /// Presses made while up that were never delivered.
    pub fn lost(&self) -> impl Iterator<Item = &Press> {
        self.presses
            .iter()
            .filter(|p| p.when == When::Up && p.delivered.is_none())
    }

    /// Per fault kind: presses made during it, and how many of those were delivered.
    pub fn by_fault(&self) -> Vec<(Kind, usize, usize)> {
        Kind::ALL
            .iter()
            .map(|&k| {
                let during = self.presses.iter().filter(|p| p.when == When::Faulted(k));
                let (n, d) = during.fold((0, 0), |(n, d), p| {
                    (n + 1, d + p.delivered.is_some() as usize)
                });
                (k, n, d)
            })
            .collect()
    }

    /// Per fault kind: how many were inflicted.
    pub fn faults(&self) -> Vec<(Kind, usize)> {
        Kind::ALL
            .iter()
            .map(|&k| (k, self.episodes.iter().filter(|e| e.kind == k).count()))
            .collect()
    }

    /// Clear -> the probe press's doorbell, for every cleared episode whose probe was
    /// delivered; and how many cleared episodes have no delivered probe.
    pub fn resume_ring(&self, kind: Option<Kind>) -> (Vec<Duration>, usize) {
        let mut samples = Vec::new();
        let mut missing = 0;
        for e in self.cleared(kind) {
            let delivered = e.probe.and_then(|i| self.presses[i].delivered);
            match (e.cleared, delivered) {
                (Some(c), Some(d)) => samples.push(d.saturating_duration_since(c)),
                _ => missing += 1,
            }
        }
        (samples, missing)
    }

    /// Clear -> `online`, for episodes after which the camera was reported offline; and how
    /// many of those never came back online.
    pub fn resume_online(&self, kind: Option<Kind>) -> (Vec<Duration>, usize) {
        let mut samples = Vec::new();
        let mut missing = 0;
        for e in self.cleared(kind) {
            match (e.cleared, e.online_at) {
                (Some(c), Some(o)) => samples.push(o.saturating_duration_since(c)),
                _ if e.awaiting_online => missing += 1,
                _ => {}
            }
        }
        (samples, missing)
    }

    fn cleared(&self, kind: Option<Kind>) -> impl Iterator<Item = &Episode> {
        self.episodes
            .iter()
            .filter(move |e| e.cleared.is_some() && kind.is_none_or(|k| e.kind == k))
    }

    /// The episodes of `camera` (to explain a lost press).
    pub fn episodes_of(&self, camera: usize) -> impl Iterator<Item = &Episode> {
        self.episodes.iter().filter(move |e| e.camera == camera)
    }
}

// The bench binary compiles this module with cfg(test) but without its #[test] functions; they
// run from tests/bench_soak.rs.
#[cfg(test)]
#[allow(dead_code, unused_imports)]
mod tests {
    use super::*;

    const GRACE: Duration = Duration::from_secs(30);

    fn secs(t0: Instant, s: u64) -> Instant {
        t0 + Duration::from_secs(s)
    }

    #[test]
    fn a_doorbell_is_matched_to_its_press_through_the_event() {
        let t0 = Instant::now();
        let mut l = Ledger::new();
        l.pressed(3, "2026-01-01T00:00:01.000Z".into(), t0, When::Up);
        l.pressed(3, "2026-01-01T00:00:02.000Z".into(), t0, When::Up);
        l.ring_event(3, "T1".into(), "2026-01-01T00:00:02.000Z".into());
        l.doorbell(3, "T1".into(), secs(t0, 1));
        let c = l.counts(secs(t0, 100), GRACE);
        assert_eq!((c.pressed, c.up, c.delivered, c.lost), (2, 2, 1, 1));
        let lost: Vec<_> = l.lost().map(|p| p.camera_time.as_str()).collect();
        assert_eq!(lost, ["2026-01-01T00:00:01.000Z"]);
    }

    #[test]
    fn two_rings_published_in_the_same_millisecond_are_both_delivered() {
        let t0 = Instant::now();
        let mut l = Ledger::new();
        l.pressed(5, "a".into(), t0, When::Faulted(Kind::Outage));
        l.pressed(5, "b".into(), t0, When::Up);
        l.ring_event(5, "T1".into(), "a".into());
        l.doorbell(5, "T1".into(), t0);
        l.ring_event(5, "T1".into(), "b".into());
        l.doorbell(5, "T1".into(), t0);
        let c = l.counts(secs(t0, 100), GRACE);
        assert_eq!((c.delivered, c.lost, c.duplicates, c.unknown), (2, 0, 0, 0));
        // Both events first, then both doorbell messages: the same.
        let mut l = Ledger::new();
        l.pressed(5, "a".into(), t0, When::Up);
        l.pressed(5, "b".into(), t0, When::Up);
        l.ring_event(5, "T1".into(), "a".into());
        l.ring_event(5, "T1".into(), "b".into());
        l.doorbell(5, "T1".into(), t0);
        l.doorbell(5, "T1".into(), t0);
        let c = l.counts(secs(t0, 100), GRACE);
        assert_eq!((c.delivered, c.lost, c.duplicates, c.unknown), (2, 0, 0, 0));
    }

    #[test]
    fn a_press_counts_as_lost_only_after_the_grace() {
        let t0 = Instant::now();
        let mut l = Ledger::new();
        l.pressed(0, "a".into(), t0, When::Up);
        assert_eq!(l.counts(secs(t0, 29), GRACE).lost, 0);
        assert_eq!(l.counts(secs(t0, 30), GRACE).lost, 1);
    }

    #[test]
    fn redelivered_doorbells_are_duplicates_not_deliveries() {
        let t0 = Instant::now();
        let mut l = Ledger::new();
        l.pressed(1, "a".into(), t0, When::Up);
        l.ring_event(1, "T1".into(), "a".into());
        l.doorbell(1, "T1".into(), t0);
        // The outbox sends the same message again after a reconnect.
        l.ring_event(1, "T1".into(), "a".into());
        l.doorbell(1, "T1".into(), secs(t0, 1));
        // The camera's message pulled again: a new bridge time, the same stamp.
        l.ring_event(1, "T2".into(), "a".into());
        l.doorbell(1, "T2".into(), secs(t0, 2));
        let c = l.counts(secs(t0, 100), GRACE);
        assert_eq!((c.delivered, c.duplicates, c.unknown), (1, 2, 0));
        assert_eq!(l.presses[0].delivered, Some(t0));
    }

    #[test]
    fn a_doorbell_before_its_event_waits_for_it() {
        let t0 = Instant::now();
        let mut l = Ledger::new();
        l.pressed(2, "a".into(), t0, When::Up);
        l.doorbell(2, "T1".into(), secs(t0, 1));
        assert_eq!(
            l.counts(t0, GRACE).unknown,
            1,
            "unmatched until the event comes"
        );
        l.ring_event(2, "T1".into(), "a".into());
        let c = l.counts(secs(t0, 100), GRACE);
        assert_eq!((c.delivered, c.unknown, c.lost), (1, 0, 0));
    }

    #[test]
    fn rings_of_other_cameras_or_unknown_stamps_match_nothing() {
        let t0 = Instant::now();
        let mut l = Ledger::new();
        l.pressed(0, "a".into(), t0, When::Up);
        l.ring_event(1, "T1".into(), "a".into());
        l.doorbell(1, "T1".into(), t0);
        let c = l.counts(secs(t0, 100), GRACE);
        assert_eq!((c.delivered, c.unknown, c.lost), (0, 1, 1));
    }

    #[test]
    fn faulted_and_unsubscribed_presses_are_never_lost() {
        let t0 = Instant::now();
        let mut l = Ledger::new();
        l.pressed(0, "a".into(), t0, When::Faulted(Kind::Outage));
        l.pressed(0, "b".into(), t0, When::Faulted(Kind::Outage));
        l.pressed(0, "c".into(), t0, When::Unsubscribed);
        l.ring_event(0, "T1".into(), "b".into());
        l.doorbell(0, "T1".into(), t0);
        let c = l.counts(secs(t0, 100), GRACE);
        assert_eq!(
            (c.faulted, c.unsubscribed, c.delivered, c.lost),
            (2, 1, 1, 0)
        );
        let outage = l
            .by_fault()
            .into_iter()
            .find(|(k, _, _)| *k == Kind::Outage);
        assert_eq!(outage, Some((Kind::Outage, 2, 1)));
    }

    #[test]
    fn a_second_press_with_the_same_stamp_is_a_clash() {
        let t0 = Instant::now();
        let mut l = Ledger::new();
        l.pressed(0, "a".into(), t0, When::Up);
        l.pressed(0, "a".into(), t0, When::Up);
        l.pressed(1, "a".into(), t0, When::Up);
        assert_eq!(l.stamp_clashes, 1);
    }

    #[test]
    fn presses_stamped_alike_after_a_reboot_are_each_delivered() {
        let t0 = Instant::now();
        let mut l = Ledger::new();
        // The camera's clock went back to 2000 at each reboot: two presses, one stamp.
        l.pressed(0, "2000-01-01T00:00:08.025Z".into(), t0, When::Up);
        l.ring_event(0, "T1".into(), "2000-01-01T00:00:08.025Z".into());
        l.doorbell(0, "T1".into(), secs(t0, 1));
        l.pressed(
            0,
            "2000-01-01T00:00:08.025Z".into(),
            secs(t0, 240),
            When::Up,
        );
        l.ring_event(0, "T2".into(), "2000-01-01T00:00:08.025Z".into());
        l.doorbell(0, "T2".into(), secs(t0, 241));
        let c = l.counts(secs(t0, 400), GRACE);
        assert_eq!((c.delivered, c.lost, c.duplicates), (2, 0, 0));
        // A third doorbell for that stamp is a duplicate.
        l.ring_event(0, "T3".into(), "2000-01-01T00:00:08.025Z".into());
        l.doorbell(0, "T3".into(), secs(t0, 242));
        assert_eq!(l.counts(secs(t0, 400), GRACE).duplicates, 1);
    }

    #[test]
    fn resume_times_run_from_the_clear() {
        let t0 = Instant::now();
        let mut l = Ledger::new();
        let e = l.fault_started(4, Kind::Reboot, t0);
        l.status(4, false, secs(t0, 5));
        l.fault_cleared(e, secs(t0, 10));
        // Online before the clear would not count; after it does.
        l.status(4, true, secs(t0, 12));
        let p = l.pressed(4, "a".into(), secs(t0, 12), When::Up);
        l.probe(e, p);
        l.ring_event(4, "T1".into(), "a".into());
        l.doorbell(4, "T1".into(), secs(t0, 13));
        assert_eq!(l.resume_online(None), (vec![Duration::from_secs(2)], 0));
        assert_eq!(l.resume_ring(None), (vec![Duration::from_secs(3)], 0));
        assert_eq!(l.resume_ring(Some(Kind::Outage)), (vec![], 0));
    }

    #[test]
    fn a_camera_reported_offline_late_still_has_its_online_time_measured() {
        let t0 = Instant::now();
        let mut l = Ledger::new();
        l.status(1, true, t0);
        let e = l.fault_started(1, Kind::Outage, t0);
        l.fault_cleared(e, secs(t0, 3));
        l.status(1, false, secs(t0, 4));
        assert_eq!(l.resume_online(None), (vec![], 1), "still away");
        l.status(1, true, secs(t0, 9));
        assert_eq!(l.resume_online(None), (vec![Duration::from_secs(6)], 0));
    }

    #[test]
    fn a_camera_that_never_went_offline_has_no_online_time() {
        let t0 = Instant::now();
        let mut l = Ledger::new();
        l.status(1, true, t0);
        let e = l.fault_started(1, Kind::Garbage, t0);
        l.fault_cleared(e, secs(t0, 3));
        l.status(1, true, secs(t0, 4));
        assert_eq!(l.resume_online(None), (vec![], 0));
        assert_eq!(l.resume_ring(None), (vec![], 1), "no probe delivered");
    }
}
