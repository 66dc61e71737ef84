//! [`Subscription`]: a pull point and when it needs renewing (pure).
//!
//! Expiry comes from what the camera granted, `TerminationTime - CurrentTime` in the camera's
//! own clock, added to our monotonic clock at receipt: camera clocks are often wrong by hours
//! (Tapo C210, EZVIZ DB1), so we never compare a camera time with ours.

use std::time::Duration;

use jiff::Timestamp;
use tokio::time::Instant;
use url::Url;

/// Renew when this fraction of the lifetime has passed (HA renews 10-minute subscriptions
/// after 8 minutes).
pub const RENEW_AT_FRACTION: f64 = 0.8;

/// What the camera answered about a subscription's lifetime, in its own clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Granted {
    /// `CurrentTime` of the response.
    pub current_time: Option<Timestamp>,
    /// `TerminationTime` of the response.
    pub termination_time: Option<Timestamp>,
}

impl Granted {
    /// The lifetime granted: `TerminationTime - CurrentTime`, capped at `requested`; the
    /// requested duration when the camera did not say or said nonsense (not in the future).
    pub fn lifetime(&self, requested: Duration) -> Duration {
        let (Some(current), Some(termination)) = (self.current_time, self.termination_time) else {
            return requested;
        };
        match Duration::try_from(termination.duration_since(current)) {
            Ok(d) if !d.is_zero() => d.min(requested),
            _ => requested,
        }
    }
}

/// A pull point subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Where to send PullMessages, Renew and Unsubscribe (already rewritten like service
    /// addresses).
    pub address: Url,
    /// The address exactly as the camera advertised it, sent as `wsa:To` (WS-Addressing wants
    /// the endpoint reference verbatim; behind NAT it differs from [`Subscription::address`]).
    pub endpoint: String,
    /// The ReferenceParameters children as self-contained XML, echoed as SOAP headers.
    pub reference_parameters: Vec<String>,
    lifetime: Duration,
    renew_at: Instant,
    expires_at: Instant,
    termination_time: Option<Timestamp>,
}

impl Subscription {
    /// A subscription the camera granted at `now` (the instant its answer arrived).
    pub fn new(
        address: Url,
        reference_parameters: Vec<String>,
        granted: Granted,
        requested: Duration,
        now: Instant,
    ) -> Self {
        let mut sub = Subscription {
            endpoint: address.to_string(),
            address,
            reference_parameters,
            lifetime: requested,
            renew_at: now,
            expires_at: now,
            termination_time: granted.termination_time,
        };
        sub.start(granted.lifetime(requested), now);
        sub
    }

    /// The same subscription with `wsa:To` set to the address as the camera advertised it.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = endpoint.into();
        self
    }

    fn start(&mut self, lifetime: Duration, now: Instant) {
        self.lifetime = lifetime;
        self.renew_at = now + lifetime.mul_f64(RENEW_AT_FRACTION);
        self.expires_at = now + lifetime;
    }

    /// The same subscription after a successful Renew answered at `now`. Some cameras
    /// (Reolink) answer every Renew with the *initial* TerminationTime: when the answer repeats
    /// the termination time we already had, the lifetime is the requested one, counted locally.
    pub fn renewed(&self, granted: Granted, requested: Duration, now: Instant) -> Subscription {
        let mut next = self.clone();
        let stale =
            granted.termination_time.is_some() && granted.termination_time == self.termination_time;
        let lifetime = if stale {
            requested
        } else {
            granted.lifetime(requested)
        };
        next.termination_time = granted.termination_time;
        next.start(lifetime, now);
        next
    }

    /// The lifetime granted at the last create or renew.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// When to renew.
    pub fn renew_at(&self) -> Instant {
        self.renew_at
    }

    /// When the camera will drop the subscription unless renewed.
    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }

    /// Whether renewal is due at `now` (about 80 % of the lifetime has passed).
    pub fn renew_due(&self, now: Instant) -> bool {
        now >= self.renew_at
    }

    /// Whether the subscription has expired at `now`.
    pub fn is_expired(&self, now: Instant) -> bool {
        now >= self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Option<Timestamp> {
        Some(text.parse().unwrap())
    }

    fn sub(granted: Granted, now: Instant) -> Subscription {
        let url: Url = "http://cam/onvif/Subscription?Idx=1".parse().unwrap();
        Subscription::new(url, vec![], granted, Duration::from_secs(600), now)
    }

    #[test]
    fn lifetime_comes_from_the_camera_clock_difference() {
        let requested = Duration::from_secs(600);
        let table = [
            // A camera clock an hour behind ours changes nothing.
            (at("2020-01-01T07:00:00Z"), at("2020-01-01T07:05:00Z"), 300),
            (
                at("2026-01-01T00:00:00.500Z"),
                at("2026-01-01T00:01:00.500Z"),
                60,
            ),
            // Capped at what we asked for.
            (at("2026-01-01T00:00:00Z"), at("2026-01-02T00:00:00Z"), 600),
            // Nonsense or missing: the requested duration.
            (at("2026-01-01T00:10:00Z"), at("2026-01-01T00:00:00Z"), 600),
            (at("2026-01-01T00:00:00Z"), at("2026-01-01T00:00:00Z"), 600),
            (None, at("2026-01-01T00:00:00Z"), 600),
            (at("2026-01-01T00:00:00Z"), None, 600),
        ];
        assert!(!table.is_empty());
        for (current_time, termination_time, secs) in table {
            let g = Granted {
                current_time,
                termination_time,
            };
            assert_eq!(g.lifetime(requested), Duration::from_secs(secs), "{g:?}");
        }
    }

    #[test]
    fn renewal_is_due_at_eighty_percent() {
        let t0 = Instant::now();
        let s = sub(
            Granted {
                current_time: at("2026-01-01T00:00:00Z"),
                termination_time: at("2026-01-01T00:05:00Z"),
            },
            t0,
        );
        assert_eq!(s.lifetime(), Duration::from_secs(300));
        assert!(!s.renew_due(t0));
        assert!(!s.renew_due(t0 + Duration::from_secs(239)));
        assert!(s.renew_due(t0 + Duration::from_secs(240)));
        assert_eq!(s.renew_at(), t0 + Duration::from_secs(240));
        assert!(!s.is_expired(t0 + Duration::from_secs(299)));
        assert!(s.is_expired(t0 + Duration::from_secs(300)));
    }

    #[test]
    fn renewal_that_repeats_the_old_termination_time_counts_locally() {
        let t0 = Instant::now();
        let first = Granted {
            current_time: at("2026-01-01T00:00:00Z"),
            termination_time: at("2026-01-01T00:10:00Z"),
        };
        let s = sub(first, t0);
        // Reolink: eight minutes later, Renew answers the initial TerminationTime.
        let t1 = t0 + Duration::from_secs(480);
        let reolink = Granted {
            current_time: at("2026-01-01T00:08:00Z"),
            termination_time: at("2026-01-01T00:10:00Z"),
        };
        let r = s.renewed(reolink, Duration::from_secs(600), t1);
        assert_eq!(r.lifetime(), Duration::from_secs(600));
        assert_eq!(r.expires_at(), t1 + Duration::from_secs(600));
        // A well-behaved camera: the new termination time counts.
        let good = Granted {
            current_time: at("2026-01-01T00:08:00Z"),
            termination_time: at("2026-01-01T00:18:00Z"),
        };
        let r = s.renewed(good, Duration::from_secs(600), t1);
        assert_eq!(r.expires_at(), t1 + Duration::from_secs(600));
        let short = Granted {
            current_time: at("2026-01-01T00:08:00Z"),
            termination_time: at("2026-01-01T00:09:00Z"),
        };
        let r = s.renewed(short, Duration::from_secs(600), t1);
        assert_eq!(r.lifetime(), Duration::from_secs(60));
        assert_eq!(r.renew_at(), t1 + Duration::from_secs(48));
        assert_eq!(r.address, s.address);
    }
}
