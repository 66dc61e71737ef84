//! WS-Discovery datagrams: ProbeMatches answers (from anyone on the LAN) and Probes (the
//! simulator answers them).
#![no_main]

use std::net::SocketAddr;

use doorbell_bridge::onvif::discovery::{parse_probe, parse_probe_matches};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let from = SocketAddr::from(([192, 0, 2, 1], 3702));
    for device in parse_probe_matches(&text, from) {
        assert!(device.scopes.iter().all(|s| !s.is_empty()));
    }
    let _ = parse_probe(&text);
});
