//! The one retry policy: exponential backoff with jitter, capped, reset after a stable period.
//!
//! Supervisors (each camera, the MQTT connection) own a [`Backoff`]; nobody else sleeps and
//! retries. The policy is pure: callers pass the current [`Instant`] and get a delay back, so it
//! is tested without clocks.
//!
//! Camera sources tell [`Backoff::after`] what kind of [`Failure`] they had: a camera that does
//! not answer at all is probed at the fixed [`PROBE_INTERVAL`] (cheap, and its return is
//! noticed within one interval however long it was away), a lost subscription is recreated at
//! once, a camera that answers with errors backs off exponentially, and rejected credentials
//! wait [`REJECTED_RETRY`].

use std::time::Duration;

use tokio::time::Instant;

/// First delay after a failure.
pub const DEFAULT_INITIAL: Duration = Duration::from_secs(1);
/// A run this long without failure resets the delay to the initial one.
pub const DEFAULT_STABLE_AFTER: Duration = Duration::from_secs(60);
/// Jitter, as a fraction of the delay, added or removed at random.
pub const JITTER: f64 = 0.2;

/// Between two attempts at a camera that does not answer (connection refused, reset, timed
/// out): at most 0.5 attempts per second, and a camera that is back is noticed within this.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(2);
/// Wait after a failure only the user can fix (credentials rejected, events unsupported).
pub const REJECTED_RETRY: Duration = Duration::from_secs(300);

/// What kind of failure a camera source had, for [`Backoff::after`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No answer at all: probe at [`PROBE_INTERVAL`]; the exponential delay is left as it was.
    Unreachable,
    /// The camera no longer knows our subscription: subscribe again at once, backed off
    /// exponentially when that happens twice in a row.
    Lost,
    /// The camera answered with an error (HTTP 500, a fault, garbage): exponential.
    Answered,
    /// Only the user can fix it: [`REJECTED_RETRY`], until a success.
    Rejected,
}

/// Exponential backoff state.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    stable_after: Duration,
    current: Duration,
    /// When the current run started (the last success), if one is running.
    running_since: Option<Instant>,
}

impl Backoff {
    /// A policy starting at `initial`, doubling up to `max`, reset after `stable_after` of success.
    pub fn new(initial: Duration, max: Duration, stable_after: Duration) -> Self {
        let initial = initial.min(max);
        Self {
            initial,
            max,
            stable_after,
            current: initial,
            running_since: None,
        }
    }

    /// The default policy with the given cap.
    pub fn with_max(max: Duration) -> Self {
        Self::new(DEFAULT_INITIAL, max, DEFAULT_STABLE_AFTER)
    }

    /// Records that the supervised thing started working at `now` (connected, subscribed).
    pub fn succeeded(&mut self, now: Instant) {
        if self.running_since.is_none() {
            self.running_since = Some(now);
        }
    }

    /// Records a failure at `now` and returns how long to wait, jittered by `jitter` in
    /// `[-1.0, 1.0]` (pass [`random_jitter`] in production, 0.0 in tests).
    pub fn failed(&mut self, now: Instant, jitter: f64) -> Duration {
        if let Some(since) = self.running_since.take()
            && now.saturating_duration_since(since) >= self.stable_after
        {
            self.current = self.initial;
        }
        let base = self.current;
        self.current = (self.current * 2).min(self.max);
        let factor = 1.0 + JITTER * jitter.clamp(-1.0, 1.0);
        base.mul_f64(factor).min(self.max)
    }

    /// A failure only the user can fix (rejected credentials): wait the longest delay, and keep
    /// waiting that long until a success.
    pub fn fatal(&mut self) -> Duration {
        self.running_since = None;
        self.current = self.max;
        self.max
    }

    /// How long to wait after `failure` at `now`, given the one before it (`previous`, `None`
    /// after a success); `jitter` as for [`Backoff::failed`].
    pub fn after(
        &mut self,
        failure: Failure,
        previous: Option<Failure>,
        now: Instant,
        jitter: f64,
    ) -> Duration {
        match failure {
            Failure::Unreachable => PROBE_INTERVAL,
            Failure::Lost if previous != Some(Failure::Lost) => Duration::ZERO,
            Failure::Rejected => {
                self.fatal();
                REJECTED_RETRY
            }
            Failure::Lost | Failure::Answered => self.failed(now, jitter),
        }
    }

    /// Back to the initial delay at once (the MQTT connection does this on every ConnAck:
    /// a broker that accepts us is healthy).
    pub fn reset(&mut self) {
        self.running_since = None;
        self.current = self.initial;
    }
}

/// A random value in `[-1.0, 1.0]` for [`Backoff::failed`].
pub fn random_jitter() -> f64 {
    let mut b = [0u8; 2];
    if getrandom::fill(&mut b).is_err() {
        return 0.0;
    }
    f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX) * 2.0 - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn doubles_up_to_the_cap() {
        let now = Instant::now();
        let mut b = Backoff::new(s(1), s(10), s(60));
        let delays: Vec<_> = (0..6).map(|_| b.failed(now, 0.0)).collect();
        assert_eq!(delays, vec![s(1), s(2), s(4), s(8), s(10), s(10)]);
    }

    #[test]
    fn resets_only_after_a_stable_run() {
        let t0 = Instant::now();
        let mut b = Backoff::new(s(1), s(60), s(60));
        for _ in 0..4 {
            b.failed(t0, 0.0);
        }
        // A short run does not reset.
        b.succeeded(t0);
        assert_eq!(b.failed(t0 + s(5), 0.0), s(16));
        // A long one does.
        b.succeeded(t0 + s(10));
        assert_eq!(b.failed(t0 + s(100), 0.0), s(1));
    }

    #[test]
    fn fatal_waits_longest_until_reset() {
        let now = Instant::now();
        let mut b = Backoff::new(s(1), s(30), s(60));
        assert_eq!(b.fatal(), s(30));
        assert_eq!(b.failed(now, 0.0), s(30));
        b.reset();
        assert_eq!(b.failed(now, 0.0), s(1));
    }

    #[test]
    fn an_unreachable_camera_is_probed_at_a_fixed_interval_however_long_it_is_away() {
        let now = Instant::now();
        let mut b = Backoff::new(s(1), s(60), s(60));
        let mut previous = None;
        for _ in 0..100 {
            assert_eq!(
                b.after(Failure::Unreachable, previous, now, 1.0),
                PROBE_INTERVAL
            );
            previous = Some(Failure::Unreachable);
        }
        assert!(PROBE_INTERVAL >= s(2), "at most 0.5 attempts per second");
        // Probing does not grow the delay for a camera that then answers with errors.
        assert_eq!(b.after(Failure::Answered, previous, now, 0.0), s(1));
        assert_eq!(b.after(Failure::Answered, previous, now, 0.0), s(2));
    }

    #[test]
    fn a_lost_subscription_is_recreated_at_once_then_backed_off() {
        let now = Instant::now();
        let mut b = Backoff::new(s(1), s(60), s(60));
        assert_eq!(b.after(Failure::Lost, None, now, 0.0), Duration::ZERO);
        let again = Some(Failure::Lost);
        assert_eq!(b.after(Failure::Lost, again, now, 0.0), s(1));
        assert_eq!(b.after(Failure::Lost, again, now, 0.0), s(2));
    }

    #[test]
    fn rejected_credentials_wait_the_rejected_delay() {
        let now = Instant::now();
        let mut b = Backoff::new(s(1), s(60), s(60));
        assert_eq!(b.after(Failure::Rejected, None, now, 0.0), REJECTED_RETRY);
        let again = Some(Failure::Rejected);
        assert_eq!(b.after(Failure::Rejected, again, now, 0.0), REJECTED_RETRY);
        // Then an answered error keeps the longest delay until a success.
        assert_eq!(b.after(Failure::Answered, again, now, 0.0), s(60));
    }

    #[test]
    fn jitter_stays_within_bounds_and_cap() {
        let now = Instant::now();
        let mut b = Backoff::new(s(10), s(10), s(60));
        assert_eq!(b.failed(now, 1.0), s(10));
        let mut b = Backoff::new(s(10), s(100), s(60));
        assert_eq!(b.failed(now, -1.0), s(8));
        for _ in 0..100 {
            let j = random_jitter();
            assert!((-1.0..=1.0).contains(&j));
        }
    }
}
