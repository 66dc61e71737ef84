//! The Dahua family (Amcrest, Imou, Lorex): the pure parts of the HTTP event stream
//! `GET /cgi-bin/eventManager.cgi?action=attach&codes=[All]&heartbeat=5`.
//!
//! [`stream::PartReader`] cuts the never-ending multipart body into parts and heartbeats;
//! [`codes::parse`] reads one part into a [`codes::Code`] and a
//! [`crate::onvif::Notification`]; [`rules::classify`] applies the code table. A press sends
//! several ring codes: [`crate::vendor::RingWindow`] makes them one ring.

pub mod codes;
pub mod rules;
pub mod stream;

/// The attach request path and query, with the device-side heartbeat interval in seconds
/// (1-60 per the Dahua HTTP API).
pub fn attach_path(heartbeat_secs: u8) -> String {
    let secs = heartbeat_secs.clamp(1, 60);
    format!("/cgi-bin/eventManager.cgi?action=attach&codes=[All]&heartbeat={secs}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_heartbeat_is_kept_within_what_the_device_accepts() {
        assert!(super::attach_path(5).ends_with("codes=[All]&heartbeat=5"));
        assert!(super::attach_path(0).ends_with("heartbeat=1"));
        assert!(super::attach_path(200).ends_with("heartbeat=60"));
    }
}
