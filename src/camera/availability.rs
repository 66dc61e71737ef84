//! When a camera is published `online` or `offline` (pure).
//!
//! The camera is online while the source that delivers its presses is up. A source that goes
//! down and comes back within [`OFFLINE_GRACE`] is not reported at all: Home Assistant does not
//! fire an event entity's trigger for a state that comes from `unavailable`, so a flap right
//! before a ring could swallow it. A camera that never was online is reported at once, and one
//! that stays away is reported when the grace ends.

use std::time::Duration;

use tokio::time::Instant;

/// How long a source may be down before its camera is published `offline`. Outages are
/// noticed within a second or two (a refused or closed connection), so a camera that stays
/// away is reported well within 10 s.
pub const OFFLINE_GRACE: Duration = Duration::from_secs(5);

/// A camera's published availability.
#[derive(Debug, Default)]
pub struct Availability {
    /// What was published: None before anything.
    published: Option<bool>,
    /// The down source's reason and when its grace ends, while it is down and not yet reported.
    pending: Option<(Instant, String)>,
}

impl Availability {
    /// The delivering source is up. True when this changes what was published (worth a log
    /// line); the caller publishes `online` either way, before any event of the session.
    pub fn up(&mut self) -> bool {
        self.pending = None;
        self.published.replace(true) != Some(true)
    }

    /// The delivering source `source` went down at `now` for `reason`. Returns the reason to
    /// publish `offline` with now, if it is due at once (the camera never was online).
    pub fn down(&mut self, source: &str, reason: &str, now: Instant) -> Option<String> {
        let reason = format!("{source}: {reason}");
        match self.published {
            Some(false) => None,
            None => {
                self.published = Some(false);
                Some(reason)
            }
            Some(true) => {
                if self.pending.is_none() {
                    self.pending = Some((now + OFFLINE_GRACE, reason));
                }
                None
            }
        }
    }

    /// When [`Availability::expire`] has something to do.
    pub fn deadline(&self) -> Option<Instant> {
        self.pending.as_ref().map(|(at, _)| *at)
    }

    /// The reason to publish `offline` with, once the grace has passed at `now`.
    pub fn expire(&mut self, now: Instant) -> Option<String> {
        match &self.pending {
            Some((at, _)) if *at <= now => {
                self.published = Some(false);
                self.pending.take().map(|(_, reason)| reason)
            }
            _ => None,
        }
    }

    /// Whether `online` is what was published last.
    pub fn is_online(&self) -> bool {
        self.published == Some(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_camera_that_never_came_up_is_offline_at_once() {
        let now = Instant::now();
        let mut a = Availability::default();
        assert_eq!(
            a.down("pullpoint", "refused", now).as_deref(),
            Some("pullpoint: refused")
        );
        assert_eq!(a.deadline(), None);
        assert_eq!(a.down("pullpoint", "again", now), None);
        assert!(a.up());
        assert!(!a.up());
    }

    #[test]
    fn a_reconnect_within_the_grace_is_not_reported() {
        let now = Instant::now();
        let mut a = Availability::default();
        a.up();
        assert_eq!(a.down("pullpoint", "reset", now), None);
        assert_eq!(a.expire(now + OFFLINE_GRACE / 2), None);
        assert!(!a.up(), "never reported offline, so nothing changed");
        assert_eq!(a.deadline(), None);
        assert_eq!(a.expire(now + OFFLINE_GRACE * 2), None);
    }

    #[test]
    fn a_camera_that_stays_away_is_reported_when_the_grace_ends() {
        let now = Instant::now();
        let mut a = Availability::default();
        a.up();
        a.down("pullpoint", "refused", now);
        // A second report does not push the deadline out.
        a.down("pullpoint", "refused again", now + Duration::from_secs(2));
        assert_eq!(a.deadline(), Some(now + OFFLINE_GRACE));
        assert_eq!(
            a.expire(now + OFFLINE_GRACE).as_deref(),
            Some("pullpoint: refused")
        );
        assert!(!a.is_online());
        assert_eq!(a.deadline(), None);
        assert!(a.up());
    }
}
