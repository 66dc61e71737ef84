//! HTTP authentication headers: the `WWW-Authenticate` challenges a camera sends the client
//! (one value per line), and the `Authorization` header the simulator parses and checks.
#![no_main]

use doorbell_bridge::onvif::{Credentials, answer_challenge};
use doorbell_bridge::secret::Secret;
use doorbell_bridge::sim::auth;
use libfuzzer_sys::fuzz_target;
use url::Url;

const PASSWORD: &str = "fuzz-password-7c1f";

fuzz_target!(|data: &[u8]| {
    let url: Url = "http://192.0.2.1:8080/onvif/snap.jpg?ch=1".parse().unwrap();
    let credentials = Credentials {
        username: "admin".into(),
        password: Secret::new(PASSWORD),
    };
    let challenges: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    if let Some(answer) = answer_challenge(&url, &challenges, "GET", &credentials) {
        // Digest sends a hash, Basic the base64 of user:password; never the plain password.
        assert!(!answer.contains(PASSWORD), "password in {answer:?}");
    }
    let text = String::from_utf8_lossy(data);
    if let Some(c) = auth::parse_digest(&text) {
        let _ = auth::digest_response(&c, "GET", PASSWORD);
        let _ = auth::check_digest(&c, "GET", "/snapshot.jpg", "admin", PASSWORD);
    }
});
