//! HTTP Digest and Basic, remembered per origin so later requests skip the 401 round trip.
//!
//! http-auth does the challenge parsing and the Digest arithmetic (nonce counts included); this
//! file only keeps one `PasswordClient` per `scheme://host:port` (SOAP and snapshot URLs may live
//! on different ports with different realms).

use std::collections::HashMap;
use std::sync::Mutex;

use http_auth::{PasswordClient, PasswordParams};
use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};
use url::Url;

use super::client::Credentials;

/// Origins we remember challenges for; a camera has one or two, so this only bounds a
/// misbehaving one that redirects us around.
const MAX_ORIGINS: usize = 8;

/// What a 401 taught us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Learned {
    /// No challenge we can answer.
    Nothing,
    /// A new challenge.
    Fresh,
    /// A Digest challenge saying our nonce was merely stale: the password was fine.
    Stale,
}

/// The remembered challenges of one camera.
#[derive(Default)]
pub(crate) struct HttpAuth {
    by_origin: Mutex<HashMap<String, PasswordClient>>,
}

fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// The request target exactly as reqwest sends it: path plus query. Digest hashes it, and a
/// camera compares it byte for byte.
pub(crate) fn request_target(url: &Url) -> &str {
    &url[url::Position::BeforePath..url::Position::AfterQuery]
}

impl HttpAuth {
    /// The `Authorization` value for a request, when we know a challenge for its origin.
    pub(crate) fn authorization(
        &self,
        url: &Url,
        method: &str,
        credentials: &Credentials,
    ) -> Option<String> {
        let mut map = self.by_origin.lock().unwrap_or_else(|e| e.into_inner());
        let client = map.get_mut(&origin(url))?;
        client
            .respond(&PasswordParams {
                username: &credentials.username,
                password: credentials.password.expose(),
                uri: request_target(url),
                method,
                body: None,
            })
            .ok()
    }

    /// Remembers the challenge of a 401 answer from `url`.
    pub(crate) fn learn(&self, url: &Url, headers: &HeaderMap) -> Learned {
        let mut builder = PasswordClient::builder();
        let mut any = false;
        for value in headers.get_all(WWW_AUTHENTICATE) {
            builder = builder.header_value(value);
            any = true;
        }
        if !any {
            return Learned::Nothing;
        }
        let Ok(client) = builder.build() else {
            return Learned::Nothing;
        };
        let stale = matches!(&client, PasswordClient::Digest(d) if d.stale());
        let mut map = self.by_origin.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ORIGINS {
            map.clear();
        }
        map.insert(origin(url), client);
        if stale {
            Learned::Stale
        } else {
            Learned::Fresh
        }
    }
}

/// The `Authorization` value a [`super::Client`] sends for `method` on `url` after a 401 whose
/// `WWW-Authenticate` values are `challenges`, or `None` when it cannot answer them. The one
/// entry point of the challenge parsing for fuzzing and property tests; a camera controls every
/// byte of `challenges`.
pub fn answer_challenge(
    url: &Url,
    challenges: &[&[u8]],
    method: &str,
    credentials: &Credentials,
) -> Option<String> {
    let mut headers = HeaderMap::new();
    for value in challenges {
        if let Ok(value) = reqwest::header::HeaderValue::from_bytes(value) {
            headers.append(WWW_AUTHENTICATE, value);
        }
    }
    let auth = HttpAuth::default();
    match auth.learn(url, &headers) {
        Learned::Nothing => None,
        Learned::Fresh | Learned::Stale => auth.authorization(url, method, credentials),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn remembers_a_digest_challenge_per_origin() {
        let auth = HttpAuth::default();
        let creds = Credentials {
            username: "admin".into(),
            password: Secret::new("pw"),
        };
        let url: Url = "http://cam:8080/onvif/snap.jpg?ch=1".parse().unwrap();
        assert_eq!(auth.authorization(&url, "GET", &creds), None);
        let mut headers = HeaderMap::new();
        headers.insert(
            WWW_AUTHENTICATE,
            r#"Digest realm="cam", nonce="abc", qop="auth""#.parse().unwrap(),
        );
        assert_eq!(auth.learn(&url, &headers), Learned::Fresh);
        let value = auth.authorization(&url, "GET", &creds).unwrap();
        assert!(value.starts_with("Digest "), "{value}");
        assert!(value.contains(r#"uri="/onvif/snap.jpg?ch=1""#), "{value}");
        assert!(value.contains("nc=00000001"), "{value}");
        let again = auth.authorization(&url, "GET", &creds).unwrap();
        assert!(again.contains("nc=00000002"), "{again}");
        let other: Url = "http://cam:80/onvif".parse().unwrap();
        assert_eq!(auth.authorization(&other, "GET", &creds), None);

        headers.insert(
            WWW_AUTHENTICATE,
            r#"Digest realm="cam", nonce="def", qop="auth", stale=true"#
                .parse()
                .unwrap(),
        );
        assert_eq!(auth.learn(&url, &headers), Learned::Stale);
        assert_eq!(auth.learn(&url, &HeaderMap::new()), Learned::Nothing);
    }
}
