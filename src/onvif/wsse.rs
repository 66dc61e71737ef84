//! WS-Security UsernameToken with `PasswordDigest` (pure, but for the random nonce).
//!
//! `PasswordDigest = Base64(SHA1(nonce + created + password))`, where `nonce` is the raw bytes
//! (sent base64-encoded) and `created` the exact `wsu:Created` text. `Created` must be close to
//! the camera's clock, so the client shifts it by the measured offset.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use quick_xml::escape::escape;
use sha1::{Digest as _, Sha1};

/// Length of the random nonce in bytes.
pub const NONCE_BYTES: usize = 16;

const NS_WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
const NS_WSU: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
const TYPE_DIGEST: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest";
const ENCODING_BASE64: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary";

/// A ready UsernameToken: everything but the password, which only went into the digest.
#[derive(Clone, PartialEq, Eq)]
pub struct UsernameToken {
    /// The user name.
    pub username: String,
    /// `Base64(SHA1(nonce + created + password))`.
    pub digest: String,
    /// The nonce, base64.
    pub nonce: String,
    /// The `wsu:Created` text.
    pub created: String,
}

impl std::fmt::Debug for UsernameToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsernameToken")
            .field("username", &self.username)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

/// `Base64(SHA1(nonce + created + password))`.
pub fn password_digest(nonce: &[u8], created: &str, password: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(nonce);
    sha.update(created.as_bytes());
    sha.update(password.as_bytes());
    STANDARD.encode(sha.finalize())
}

impl UsernameToken {
    /// A token from a given nonce and `Created` text (deterministic; for tests and the sim).
    pub fn with_nonce(username: &str, password: &str, nonce: &[u8], created: &str) -> Self {
        Self {
            username: username.to_owned(),
            digest: password_digest(nonce, created, password),
            nonce: STANDARD.encode(nonce),
            created: created.to_owned(),
        }
    }

    /// A token with a fresh random nonce.
    pub fn new(username: &str, password: &str, created: &str) -> Result<Self, getrandom::Error> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce)?;
        Ok(Self::with_nonce(username, password, &nonce, created))
    }

    /// The `wsse:Security` header element.
    pub fn to_xml(&self) -> String {
        format!(
            "<wsse:Security xmlns:wsse=\"{NS_WSSE}\" xmlns:wsu=\"{NS_WSU}\"><wsse:UsernameToken>\
             <wsse:Username>{}</wsse:Username>\
             <wsse:Password Type=\"{TYPE_DIGEST}\">{}</wsse:Password>\
             <wsse:Nonce EncodingType=\"{ENCODING_BASE64}\">{}</wsse:Nonce>\
             <wsu:Created>{}</wsu:Created></wsse:UsernameToken></wsse:Security>",
            escape(&self.username),
            self.digest,
            self.nonce,
            escape(&self.created),
        )
    }
}

/// Checks a received token against `password` (for the simulated camera and tests).
pub fn verify(digest: &str, nonce_b64: &str, created: &str, password: &str) -> bool {
    STANDARD
        .decode(nonce_b64.trim())
        .is_ok_and(|nonce| password_digest(&nonce, created.trim(), password) == digest.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of the ONVIF Application Programmer's Guide (user authentication):
    /// nonce `LKqI6G/AikKCQrN0zqZFlg==`, created `2010-09-16T07:50:45Z`, password
    /// `userpassword` give `tuOSpGlFlIXsozq4HFNeeGeFLEI=`.
    #[test]
    fn digest_matches_the_onvif_example() {
        let nonce = STANDARD.decode("LKqI6G/AikKCQrN0zqZFlg==").unwrap();
        assert_eq!(
            password_digest(&nonce, "2010-09-16T07:50:45Z", "userpassword"),
            "tuOSpGlFlIXsozq4HFNeeGeFLEI="
        );
        let token =
            UsernameToken::with_nonce("user", "userpassword", &nonce, "2010-09-16T07:50:45Z");
        assert_eq!(token.nonce, "LKqI6G/AikKCQrN0zqZFlg==");
        assert!(verify(
            &token.digest,
            &token.nonce,
            &token.created,
            "userpassword"
        ));
        assert!(!verify(
            &token.digest,
            &token.nonce,
            &token.created,
            "wrong"
        ));
    }

    #[test]
    fn token_xml_is_escaped_and_hides_the_password() {
        let token = UsernameToken::new("a<b&c", "secret", "2026-01-01T00:00:00Z").unwrap();
        let xml = token.to_xml();
        assert!(
            xml.contains("<wsse:Username>a&lt;b&amp;c</wsse:Username>"),
            "{xml}"
        );
        assert!(!xml.contains("secret"));
        assert!(!format!("{token:?}").contains(&token.digest));
        roxmltree::Document::parse(&xml).unwrap();
        let other = UsernameToken::new("u", "secret", "2026-01-01T00:00:00Z").unwrap();
        assert_ne!(token.nonce, other.nonce, "nonces must be fresh");
    }
}
