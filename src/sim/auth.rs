//! Credential checks of the simulated doorbell: WS-Security UsernameToken (PasswordDigest) on
//! SOAP bodies and HTTP Digest (RFC 7616, MD5, `qop=auth`) on requests.
//!
//! Pure functions; the nonce bookkeeping lives in the shared state. The server side of HTTP
//! Digest is hand-written (http-auth only implements the client side), but the credentials
//! header is parsed with http-auth's parser: its auth-param grammar is the challenge grammar.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use jiff::{SignedDuration, Timestamp};
use md5::{Digest as _, Md5};
use sha1::Sha1;

use super::soap::UsernameToken;
use super::xsd;

/// How far `wsu:Created` may be from the device clock, either way (ONVIF clients correct their
/// clock by GetSystemDateAndTime; five minutes is the usual device tolerance).
pub const MAX_CREATED_SKEW: SignedDuration = SignedDuration::from_mins(5);

/// The realm of the HTTP Digest challenge.
pub const REALM: &str = "doorbell-bridge-sim";

const PASSWORD_DIGEST: &str = "#PasswordDigest";

/// Why a UsernameToken was rejected (each becomes `ter:NotAuthorized`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WsseError {
    /// No `wsse:Security` header.
    #[error("no WS-Security UsernameToken in the SOAP header")]
    Missing,
    /// `PasswordText` or no Type: the simulator accepts only digests.
    #[error("password type is not PasswordDigest; send a PasswordDigest")]
    NotDigest,
    /// Nonce missing or not Base64.
    #[error("UsernameToken nonce missing or not Base64")]
    BadNonce,
    /// Created missing or not an xsd:dateTime.
    #[error("UsernameToken Created missing or not a date-time")]
    BadCreated,
    /// Created more than [`MAX_CREATED_SKEW`] from the device clock.
    #[error(
        "UsernameToken Created {created} is more than 5 minutes from the device clock {now}; sync with GetSystemDateAndTime"
    )]
    Skew {
        /// The Created value sent.
        created: String,
        /// The device clock.
        now: Timestamp,
    },
    /// Unknown user or wrong password.
    #[error("wrong username or password")]
    WrongCredentials,
}

/// `Base64(SHA1(nonce + created + password))`, the WS-Security PasswordDigest.
pub fn password_digest(nonce: &[u8], created: &str, password: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(nonce);
    sha.update(created.as_bytes());
    sha.update(password.as_bytes());
    BASE64.encode(sha.finalize())
}

/// Checks a UsernameToken against the one account and the device clock `now`.
pub fn check_wsse(
    token: Option<&UsernameToken>,
    username: &str,
    password: &str,
    now: Timestamp,
) -> Result<(), WsseError> {
    let token = token.ok_or(WsseError::Missing)?;
    if !token
        .password_type
        .as_deref()
        .is_some_and(|t| t.ends_with(PASSWORD_DIGEST))
    {
        return Err(WsseError::NotDigest);
    }
    let nonce = token
        .nonce
        .as_deref()
        .and_then(|n| BASE64.decode(n).ok())
        .ok_or(WsseError::BadNonce)?;
    let created_text = token.created.as_deref().ok_or(WsseError::BadCreated)?;
    let created = xsd::parse_date_time(created_text).ok_or(WsseError::BadCreated)?;
    if created.duration_since(now).abs() > MAX_CREATED_SKEW {
        return Err(WsseError::Skew {
            created: created_text.to_string(),
            now,
        });
    }
    let expected = password_digest(&nonce, created_text, password);
    if token.username != username || token.password != expected {
        return Err(WsseError::WrongCredentials);
    }
    Ok(())
}

/// The credentials of an `Authorization: Digest ...` header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestCredentials {
    /// `username`.
    pub username: String,
    /// `realm`.
    pub realm: String,
    /// `nonce` (must be one the simulator issued).
    pub nonce: String,
    /// `uri`: the request target.
    pub uri: String,
    /// `response`: the hash to verify.
    pub response: String,
    /// `qop` (must be `auth`).
    pub qop: String,
    /// `nc`, the nonce count (hex).
    pub nc: String,
    /// `cnonce`.
    pub cnonce: String,
    /// `algorithm` (absent means MD5).
    pub algorithm: Option<String>,
}

/// Parses an `Authorization` header value; `None` unless it is Digest with its fields.
pub fn parse_digest(header: &str) -> Option<DigestCredentials> {
    let parsed = http_auth::parse_challenges(header).ok()?;
    let credentials = parsed.into_iter().next()?;
    if !credentials.scheme.eq_ignore_ascii_case("digest") {
        return None;
    }
    let mut out = DigestCredentials::default();
    for (name, value) in credentials.params {
        let value = value.to_unescaped();
        match name.to_ascii_lowercase().as_str() {
            "username" => out.username = value,
            "realm" => out.realm = value,
            "nonce" => out.nonce = value,
            "uri" => out.uri = value,
            "response" => out.response = value.to_ascii_lowercase(),
            "qop" => out.qop = value,
            "nc" => out.nc = value,
            "cnonce" => out.cnonce = value,
            "algorithm" => out.algorithm = Some(value),
            _ => {}
        }
    }
    Some(out)
}

/// Why Digest credentials were rejected (all answered with 401 and a fresh challenge).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// Not MD5 / qop=auth, or fields missing.
    #[error("unsupported digest parameters; use MD5 with qop=auth")]
    Unsupported,
    /// The uri field is not the request target.
    #[error("digest uri {sent} is not the request target {target}")]
    WrongUri {
        /// The uri field.
        sent: String,
        /// The request target.
        target: String,
    },
    /// Unknown user or wrong response hash.
    #[error("wrong username or password")]
    WrongCredentials,
}

fn md5_hex(text: &str) -> String {
    let hash = Md5::digest(text.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// The expected `response` for qop=auth MD5 (RFC 7616 §3.4.1).
pub fn digest_response(c: &DigestCredentials, method: &str, password: &str) -> String {
    let ha1 = md5_hex(&format!("{}:{}:{}", c.username, c.realm, password));
    let ha2 = md5_hex(&format!("{method}:{}", c.uri));
    md5_hex(&format!(
        "{ha1}:{}:{}:{}:{}:{ha2}",
        c.nonce, c.nc, c.cnonce, c.qop
    ))
}

/// Checks Digest credentials for a request (`target` = path and query as sent). The nonce is
/// checked separately against the issued ones.
pub fn check_digest(
    c: &DigestCredentials,
    method: &str,
    target: &str,
    username: &str,
    password: &str,
) -> Result<(), DigestError> {
    let md5 = c
        .algorithm
        .as_deref()
        .is_none_or(|a| a.eq_ignore_ascii_case("MD5"));
    if !md5 || c.qop != "auth" || c.nonce.is_empty() || c.nc.is_empty() || c.cnonce.is_empty() {
        return Err(DigestError::Unsupported);
    }
    if c.uri != target {
        return Err(DigestError::WrongUri {
            sent: c.uri.clone(),
            target: target.to_string(),
        });
    }
    if c.username != username
        || c.realm != REALM
        || c.response != digest_response(c, method, password)
    {
        return Err(DigestError::WrongCredentials);
    }
    Ok(())
}

/// The `WWW-Authenticate` value for a fresh `nonce`.
pub fn challenge(nonce: &str, stale: bool) -> String {
    let stale = if stale { ", stale=true" } else { "" };
    format!(r#"Digest realm="{REALM}", qop="auth", algorithm=MD5, nonce="{nonce}"{stale}"#)
}

/// A fresh random nonce (hex).
pub fn new_nonce() -> String {
    let mut bytes = [0u8; 16];
    // The OS random source failing is not something a test simulator can recover from; a
    // predictable nonce is harmless here.
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST_TYPE: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest";

    fn token(password: &str, created: &str) -> UsernameToken {
        let nonce = b"0123456789abcdef";
        UsernameToken {
            username: "admin".into(),
            password: password_digest(nonce, created, password),
            password_type: Some(DIGEST_TYPE.into()),
            nonce: Some(BASE64.encode(nonce)),
            created: Some(created.into()),
        }
    }

    #[test]
    fn password_digest_matches_the_onvif_programmers_guide() {
        // ONVIF Application Programmer's Guide, section 6.1.1.3 example.
        let nonce = BASE64.decode("LKqI6G/AikKCQrN0zqZFlg==").expect("base64");
        let digest = password_digest(&nonce, "2010-09-16T07:50:45Z", "userpassword");
        assert_eq!(digest, "tuOSpGlFlIXsozq4HFNeeGeFLEI=");
    }

    #[test]
    fn wsse_window_and_password() {
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().expect("time");
        let check = |t: &UsernameToken| check_wsse(Some(t), "admin", "password", now);
        let cases = [
            ("2024-05-01T12:00:00Z", "password", true),
            ("2024-05-01T12:04:59Z", "password", true),
            ("2024-05-01T11:55:30.5Z", "password", true),
            ("2024-05-01T12:05:01Z", "password", false),
            ("2024-05-01T11:54:00Z", "password", false),
            ("2024-05-01T12:00:00Z", "wrong", false),
        ];
        assert!(!cases.is_empty());
        for (created, password, ok) in cases {
            assert_eq!(
                check(&token(password, created)).is_ok(),
                ok,
                "{created} {password}"
            );
        }
        assert!(matches!(
            check(&token("password", "2024-05-01T13:00:00Z")),
            Err(WsseError::Skew { .. })
        ));
        let mut text = token("password", "2024-05-01T12:00:00Z");
        text.password_type = None;
        assert_eq!(check(&text), Err(WsseError::NotDigest));
        assert_eq!(
            check_wsse(None, "admin", "password", now),
            Err(WsseError::Missing)
        );
        let mut other_user = token("password", "2024-05-01T12:00:00Z");
        other_user.username = "guest".into();
        assert_eq!(check(&other_user), Err(WsseError::WrongCredentials));
    }

    #[test]
    fn digest_matches_the_rfc_2617_example() {
        let header = r#"Digest username="Mufasa", realm="testrealm@host.com",
            nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth,
            nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1",
            opaque="5ccc069c403ebaf9f0171e9517f40e41""#;
        let c = parse_digest(&header.replace('\n', " ")).expect("digest header");
        assert_eq!(c.username, "Mufasa");
        assert_eq!(c.nc, "00000001");
        assert_eq!(digest_response(&c, "GET", "Circle Of Life"), c.response);
        // The realm differs from ours, so the full check refuses it.
        assert_eq!(
            check_digest(&c, "GET", "/dir/index.html", "Mufasa", "Circle Of Life"),
            Err(DigestError::WrongCredentials)
        );
        assert!(matches!(
            check_digest(&c, "GET", "/other", "Mufasa", "Circle Of Life"),
            Err(DigestError::WrongUri { .. })
        ));
        assert_eq!(parse_digest("Basic YWJjOmRlZg=="), None);
    }

    #[test]
    fn digest_accepts_what_http_auth_answers() {
        let nonce = new_nonce();
        let mut client = http_auth::PasswordClient::try_from(challenge(&nonce, false).as_str())
            .expect("challenge parses");
        let params = http_auth::PasswordParams {
            username: "admin",
            password: "password",
            uri: "/snapshot.jpg",
            method: "GET",
            body: None,
        };
        let header = client.respond(&params).expect("response");
        let c = parse_digest(&header).expect("credentials");
        assert_eq!(c.nonce, nonce);
        assert_eq!(
            check_digest(&c, "GET", "/snapshot.jpg", "admin", "password"),
            Ok(())
        );
        assert_eq!(
            check_digest(&c, "GET", "/snapshot.jpg", "admin", "other"),
            Err(DigestError::WrongCredentials)
        );
    }
}
