//! The limits that both the configuration and the MQTT side obey, defined once: the MQTT
//! packet size, the largest snapshot that fits in one packet, and what makes a text a usable
//! publish topic.
//!
//! They live below both sides so that `config` validates against the same numbers and the
//! same topic rule that the MQTT side enforces, without importing the MQTT side.

/// Largest MQTT packet we send or accept (both ways; rumqttc's default is 10 KiB).
pub const MAX_PACKET_BYTES: usize = 16 * 1024 * 1024;
/// Room in a packet kept for the topic and the headers.
pub const PACKET_HEADROOM: usize = 64 * 1024;
/// Largest snapshot published: one packet less its headroom. `snapshot.max_size` may not be
/// larger (a larger one would be downloaded and then never published).
pub const MAX_SNAPSHOT_BYTES: usize = MAX_PACKET_BYTES - PACKET_HEADROOM;
/// Longest topic we build (the MQTT limit is 65535 bytes; ours stay far below).
pub const MAX_TOPIC_LEN: usize = 1024;
/// Longest configured topic prefix (`base_topic`, `discovery_prefix`, the status topic), so
/// that every topic built under it stays within [`MAX_TOPIC_LEN`].
pub const MAX_TOPIC_PREFIX_LEN: usize = 200;

/// What makes `text` unusable as a topic we publish to, or `None` when it is usable: it must
/// not be empty or longer than `max_len`, hold a wildcard (`+`, `#`) or a NUL, or have an
/// empty level.
pub fn topic_problem(text: &str, max_len: usize) -> Option<&'static str> {
    if text.is_empty() {
        Some("it is empty")
    } else if text.len() > max_len {
        Some("it is too long")
    } else if text.contains(['+', '#']) {
        Some("it contains a wildcard")
    } else if text.contains('\0') {
        Some("it contains a NUL character")
    } else if text.split('/').any(str::is_empty) {
        Some("it has an empty level")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_rule() {
        assert_eq!(topic_problem("doorbell-bridge/front", 100), None);
        for (text, why) in [
            ("", "it is empty"),
            ("a/+/b", "it contains a wildcard"),
            ("a/#", "it contains a wildcard"),
            ("a\0b", "it contains a NUL character"),
            ("a//b", "it has an empty level"),
            ("/a", "it has an empty level"),
            ("a/", "it has an empty level"),
        ] {
            assert_eq!(topic_problem(text, 100), Some(why), "{text:?}");
        }
        assert_eq!(topic_problem(&"a".repeat(11), 10), Some("it is too long"));
    }

    #[test]
    fn a_snapshot_fits_in_one_packet() {
        assert_eq!(MAX_SNAPSHOT_BYTES + PACKET_HEADROOM, MAX_PACKET_BYTES);
        const { assert!(MAX_TOPIC_PREFIX_LEN * 2 < MAX_TOPIC_LEN) };
    }
}
