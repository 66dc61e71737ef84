//! Whether a request to open the door is honoured: the one place every door rule lives
//! (pure: the caller passes the clock). Checked in this order, the first that applies wins:
//!
//! 1. a **retained** message never opens (it is an old command the broker kept);
//! 2. a command within [`SUBSCRIBE_GRACE`] of a (re)subscribe is refused: that is when a
//!    broker (or a bridge between brokers) hands over what it queued while we were away, and
//!    a replayed open must not open the door. A person pressing Open in that moment presses
//!    again;
//! 3. a command that waited more than [`MAX_COMMAND_AGE`] before the door task saw it is
//!    refused (never an open from a queue);
//! 4. the camera **offline**: refused, not queued;
//! 5. a **code lockout** after [`MAX_WRONG_CODES`] wrong codes within [`WRONG_CODE_WINDOW`]
//!    refuses every code for [`CODE_LOCKOUT`];
//! 6. a **missing or wrong code** (when one is configured) is refused and counted;
//! 7. at most one open per [`MIN_OPEN_INTERVAL`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::event::{DoorCommand, DoorRefusal};
use crate::secret::Secret;

/// After a (re)subscribe, commands are refused for this long (rule 2).
pub const SUBSCRIBE_GRACE: Duration = Duration::from_secs(2);
/// A command older than this when judged is refused (rule 3).
pub const MAX_COMMAND_AGE: Duration = Duration::from_secs(2);
/// At most one open per door per this long (rule 7).
pub const MIN_OPEN_INTERVAL: Duration = Duration::from_secs(5);
/// Wrong codes within [`WRONG_CODE_WINDOW`] that start a lockout (rule 5).
pub const MAX_WRONG_CODES: usize = 3;
/// The window wrong codes are counted in.
pub const WRONG_CODE_WINDOW: Duration = Duration::from_secs(60);
/// How long every code is refused after too many wrong ones.
pub const CODE_LOCKOUT: Duration = Duration::from_secs(300);

/// The limits; [`Rules::default`] is production, tests shorten the grace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// Rule 2.
    pub subscribe_grace: Duration,
    /// Rule 3.
    pub max_command_age: Duration,
    /// Rule 7.
    pub min_open_interval: Duration,
    /// Rule 5: how many wrong codes.
    pub max_wrong_codes: usize,
    /// Rule 5: within how long.
    pub wrong_code_window: Duration,
    /// Rule 5: locked for how long.
    pub code_lockout: Duration,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            subscribe_grace: SUBSCRIBE_GRACE,
            max_command_age: MAX_COMMAND_AGE,
            min_open_interval: MIN_OPEN_INTERVAL,
            max_wrong_codes: MAX_WRONG_CODES,
            wrong_code_window: WRONG_CODE_WINDOW,
            code_lockout: CODE_LOCKOUT,
        }
    }
}

/// One door's memory of recent requests (bounded: at most `max_wrong_codes` instants).
#[derive(Debug)]
pub struct Policy {
    rules: Rules,
    last_open: Option<Instant>,
    wrong: VecDeque<Instant>,
    locked_until: Option<Instant>,
}

impl Policy {
    /// A door that has not been asked yet.
    pub fn new(rules: Rules) -> Self {
        Policy {
            rules,
            last_open: None,
            wrong: VecDeque::new(),
            locked_until: None,
        }
    }

    /// Judges `command` at `now`: `Ok` means open the door now (and it is recorded as
    /// opened); `Err` names the refusal. `code` is the configured one.
    pub fn decide(
        &mut self,
        command: &DoorCommand,
        code: Option<&Secret>,
        online: bool,
        now: Instant,
    ) -> Result<(), DoorRefusal> {
        let r = &self.rules;
        if command.retained {
            return Err(DoorRefusal::Retained);
        }
        if command.since_subscribe < r.subscribe_grace {
            return Err(DoorRefusal::JustSubscribed);
        }
        if now.saturating_duration_since(command.received) > r.max_command_age {
            return Err(DoorRefusal::Stale);
        }
        if !online {
            return Err(DoorRefusal::Offline);
        }
        if let Some(until) = self.locked_until {
            if now < until {
                return Err(DoorRefusal::CodeLockout);
            }
            self.locked_until = None;
        }
        if let Some(want) = code {
            let Some(given) = &command.code else {
                return Err(DoorRefusal::MissingCode);
            };
            if !same(given.expose().as_bytes(), want.expose().as_bytes()) {
                self.wrong_code(now);
                return Err(DoorRefusal::WrongCode);
            }
            self.wrong.clear();
        }
        if let Some(last) = self.last_open
            && command.received.saturating_duration_since(last) < r.min_open_interval
        {
            return Err(DoorRefusal::TooSoon);
        }
        self.last_open = Some(command.received);
        Ok(())
    }

    fn wrong_code(&mut self, now: Instant) {
        let window = self.rules.wrong_code_window;
        self.wrong
            .retain(|t| now.saturating_duration_since(*t) < window);
        self.wrong.push_back(now);
        if self.wrong.len() >= self.rules.max_wrong_codes {
            self.wrong.clear();
            self.locked_until = Some(now + self.rules.code_lockout);
        }
    }
}

/// Compares two codes in time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(at: Instant, code: Option<&str>) -> DoorCommand {
        DoorCommand {
            code: code.map(Secret::new),
            retained: false,
            since_subscribe: Duration::from_secs(60),
            received: at,
        }
    }

    #[test]
    fn a_retained_command_never_opens_even_with_the_right_code() {
        let now = Instant::now();
        let mut p = Policy::new(Rules::default());
        let mut c = command(now, Some("1234"));
        c.retained = true;
        let code = Secret::new("1234");
        assert_eq!(
            p.decide(&c, Some(&code), true, now),
            Err(DoorRefusal::Retained)
        );
    }

    #[test]
    fn a_command_right_after_a_subscribe_is_refused() {
        let now = Instant::now();
        let mut p = Policy::new(Rules::default());
        let mut c = command(now, None);
        c.since_subscribe = SUBSCRIBE_GRACE - Duration::from_millis(1);
        assert_eq!(
            p.decide(&c, None, true, now),
            Err(DoorRefusal::JustSubscribed)
        );
        c.since_subscribe = SUBSCRIBE_GRACE;
        assert_eq!(p.decide(&c, None, true, now), Ok(()));
    }

    #[test]
    fn a_command_that_waited_is_not_an_open() {
        let then = Instant::now();
        let mut p = Policy::new(Rules::default());
        let now = then + MAX_COMMAND_AGE + Duration::from_millis(1);
        assert_eq!(
            p.decide(&command(then, None), None, true, now),
            Err(DoorRefusal::Stale)
        );
    }

    #[test]
    fn an_offline_camera_is_refused_not_queued() {
        let now = Instant::now();
        let mut p = Policy::new(Rules::default());
        assert_eq!(
            p.decide(&command(now, None), None, false, now),
            Err(DoorRefusal::Offline)
        );
        // Refused means forgotten: the next command is judged on its own.
        assert_eq!(p.decide(&command(now, None), None, true, now), Ok(()));
    }

    #[test]
    fn codes_are_checked_and_wrong_ones_lock_out() {
        let start = Instant::now();
        let code = Secret::new("1234");
        let mut p = Policy::new(Rules::default());
        assert_eq!(
            p.decide(&command(start, None), Some(&code), true, start),
            Err(DoorRefusal::MissingCode)
        );
        for i in 0..MAX_WRONG_CODES as u64 {
            let at = start + Duration::from_secs(i);
            assert_eq!(
                p.decide(&command(at, Some("0000")), Some(&code), true, at),
                Err(DoorRefusal::WrongCode)
            );
        }
        let at = start + Duration::from_secs(10);
        assert_eq!(
            p.decide(&command(at, Some("1234")), Some(&code), true, at),
            Err(DoorRefusal::CodeLockout),
            "the right code is refused during the lockout"
        );
        let after = start + Duration::from_secs(2) + CODE_LOCKOUT;
        assert_eq!(
            p.decide(&command(after, Some("1234")), Some(&code), true, after),
            Ok(())
        );
    }

    #[test]
    fn wrong_codes_spread_out_do_not_lock_out() {
        let start = Instant::now();
        let code = Secret::new("1234");
        let mut p = Policy::new(Rules::default());
        for i in 0..(MAX_WRONG_CODES as u32 * 2) {
            let at = start + WRONG_CODE_WINDOW * i;
            assert_eq!(
                p.decide(&command(at, Some("9")), Some(&code), true, at),
                Err(DoorRefusal::WrongCode)
            );
        }
    }

    #[test]
    fn at_most_one_open_per_interval() {
        let start = Instant::now();
        let mut p = Policy::new(Rules::default());
        assert_eq!(p.decide(&command(start, None), None, true, start), Ok(()));
        let soon = start + MIN_OPEN_INTERVAL - Duration::from_millis(1);
        assert_eq!(
            p.decide(&command(soon, None), None, true, soon),
            Err(DoorRefusal::TooSoon)
        );
        let later = start + MIN_OPEN_INTERVAL;
        assert_eq!(p.decide(&command(later, None), None, true, later), Ok(()));
    }

    #[test]
    fn codes_compare_whole() {
        assert!(same(b"1234", b"1234"));
        assert!(!same(b"1234", b"1235"));
        assert!(!same(b"123", b"1234"));
        assert!(!same(b"", b"1"));
    }
}
