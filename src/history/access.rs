//! Who may open the history page: the rules (pure, [`judge`]) and the login's state
//! ([`Logins`]: sessions and the wrong-password lockout, bounded).
//!
//! - The trusted proxy (Home Assistant's ingress, which logged the user in) passes.
//! - With `http.password`, everyone else needs a session cookie from the login form.
//! - Without it, only this host (a loopback peer) passes; others are told to set one.
//!
//! The cookie carries a random session token, never the password; the password is compared
//! in constant time through its SHA-256.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::secret::Secret;

/// The session cookie's name.
pub const COOKIE: &str = "doorbell_bridge_session";
/// How long a login lasts.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(30 * 86_400);
/// Most sessions kept; a new login past it ends the oldest.
pub const MAX_SESSIONS: usize = 64;
/// Wrong passwords in a row before logins are refused for [`LOCKOUT`].
pub const FAILURES_BEFORE_LOCKOUT: u32 = 5;
/// How long logins are refused after too many wrong passwords.
pub const LOCKOUT: Duration = Duration::from_secs(60);

/// What a request may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// See the page.
    Open,
    /// Log in first.
    Login,
    /// Not from here: no password is set and the peer is another host.
    Refused,
}

/// The rules (pure).
pub fn judge(
    peer: IpAddr,
    trusted_proxy: Option<IpAddr>,
    has_password: bool,
    session_ok: bool,
) -> Verdict {
    let peer = canonical(peer);
    if trusted_proxy.is_some_and(|p| canonical(p) == peer) {
        Verdict::Open
    } else if has_password {
        if session_ok {
            Verdict::Open
        } else {
            Verdict::Login
        }
    } else if peer.is_loopback() {
        Verdict::Open
    } else {
        Verdict::Refused
    }
}

/// IPv4-mapped IPv6 addresses (a dual-stack listener's view of IPv4 peers) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The session token in a `Cookie` header, if any.
pub fn session_cookie(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
}

/// What a login attempt gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// The new session's token.
    Ok(String),
    /// The password was wrong.
    Wrong,
    /// Too many wrong passwords: try again later.
    LockedOut,
}

/// Sessions and the lockout.
#[derive(Debug)]
pub struct Logins {
    password: Option<[u8; 32]>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    sessions: HashMap<String, Instant>,
    failures: u32,
    locked_until: Option<Instant>,
}

impl Logins {
    /// The login of a page with `password` (none: nobody logs in).
    pub fn new(password: Option<&Secret>) -> Self {
        Self {
            password: password.map(|p| digest(p.expose())),
            state: Mutex::default(),
        }
    }

    /// Whether a password is set.
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    /// Checks `typed` at `now`; a right one opens a session (ending the oldest past
    /// [`MAX_SESSIONS`]).
    pub fn login(&self, typed: &str, now: Instant) -> Login {
        let Some(want) = self.password else {
            return Login::Wrong;
        };
        let mut s = self.state.lock().expect("login state");
        if s.locked_until.is_some_and(|t| now < t) {
            return Login::LockedOut;
        }
        if !same(&digest(typed), &want) {
            s.failures += 1;
            if s.failures >= FAILURES_BEFORE_LOCKOUT {
                s.failures = 0;
                s.locked_until = Some(now + LOCKOUT);
            }
            return Login::Wrong;
        }
        s.failures = 0;
        s.sessions.retain(|_, until| *until > now);
        if s.sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = s
                .sessions
                .iter()
                .min_by_key(|(_, until)| **until)
                .map(|(k, _)| k.clone())
        {
            s.sessions.remove(&oldest);
        }
        let token = random_token();
        s.sessions.insert(token.clone(), now + SESSION_LIFETIME);
        Login::Ok(token)
    }

    /// Whether `token` is a live session at `now`.
    pub fn valid(&self, token: &str, now: Instant) -> bool {
        let s = self.state.lock().expect("login state");
        s.sessions.get(token).is_some_and(|until| *until > now)
    }

    /// Ends a session.
    pub fn logout(&self, token: &str) {
        self.state
            .lock()
            .expect("login state")
            .sessions
            .remove(token);
    }
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// Equal, in time that does not depend on where they differ.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 128 random bits as hex (session tokens, the form token).
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the system's random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_rules_of_the_door_to_the_page() {
        let proxy = Some(ip("172.30.32.2"));
        let lan = ip("192.168.1.50");
        let local = ip("127.0.0.1");
        assert_eq!(judge(ip("172.30.32.2"), proxy, false, false), Verdict::Open);
        assert_eq!(
            judge(ip("::ffff:172.30.32.2"), proxy, true, false),
            Verdict::Open
        );
        assert_eq!(judge(lan, proxy, false, false), Verdict::Refused);
        assert_eq!(judge(lan, None, false, false), Verdict::Refused);
        assert_eq!(judge(local, None, false, false), Verdict::Open);
        assert_eq!(judge(ip("::1"), None, false, false), Verdict::Open);
        assert_eq!(
            judge(local, None, true, false),
            Verdict::Login,
            "a password binds all"
        );
        assert_eq!(judge(lan, None, true, false), Verdict::Login);
        assert_eq!(judge(lan, None, true, true), Verdict::Open);
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        assert_eq!(
            session_cookie("a=1; doorbell_bridge_session=abc; b=2"),
            Some("abc")
        );
        assert_eq!(session_cookie("doorbell_bridge_sessionx=abc"), None);
        assert_eq!(session_cookie(""), None);
    }

    #[test]
    fn a_right_password_opens_a_session_and_wrong_ones_lock_out() {
        let logins = Logins::new(Some(&Secret::new("correct horse")));
        let t0 = Instant::now();
        let Login::Ok(token) = logins.login("correct horse", t0) else {
            panic!("right password refused");
        };
        assert_eq!(token.len(), 32);
        assert!(logins.valid(&token, t0));
        assert!(!logins.valid(&token, t0 + SESSION_LIFETIME));
        assert!(!logins.valid("0123", t0));
        for _ in 0..FAILURES_BEFORE_LOCKOUT {
            assert_eq!(logins.login("guess", t0), Login::Wrong);
        }
        assert_eq!(logins.login("correct horse", t0), Login::LockedOut);
        assert!(matches!(
            logins.login("correct horse", t0 + LOCKOUT),
            Login::Ok(_)
        ));
        logins.logout(&token);
        assert!(!logins.valid(&token, t0));
        assert_eq!(Logins::new(None).login("", t0), Login::Wrong);
    }

    #[test]
    fn sessions_are_bounded() {
        let logins = Logins::new(Some(&Secret::new("correct horse")));
        let t0 = Instant::now();
        let tokens: Vec<String> = (0..=MAX_SESSIONS as u64)
            .map(
                |i| match logins.login("correct horse", t0 + Duration::from_secs(i)) {
                    Login::Ok(t) => t,
                    other => panic!("{other:?}"),
                },
            )
            .collect();
        let now = t0 + Duration::from_secs(MAX_SESSIONS as u64 + 1);
        assert!(!logins.valid(&tokens[0], now), "the oldest went");
        assert!(tokens[1..].iter().all(|t| logins.valid(t, now)));
    }
}
