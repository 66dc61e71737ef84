//! Harness bodies shared by the cargo-fuzz targets and the bounded proptest pass in
//! `tests/hostile.rs` (`#[path]`-included by both), so an entry point has one harness whether
//! libFuzzer or proptest feeds it.

use doorbell_bridge::onvif::xml::{MAX_ELEMENT_BYTES, parse_messages};

/// Owns notification parsing from a PullMessages response: `onvif::xml::parse_messages` (the
/// guarded document parser, then every NotificationMessage: topic, Source, Key, Data,
/// ElementItems). Whatever the bytes, it returns, and every item value it keeps is cut to
/// [`MAX_ELEMENT_BYTES`]. What the normaliser makes of notifications is
/// `tests/normalise_props.rs`'s harness.
pub fn pull_messages(data: &[u8]) {
    // The client reads bodies with from_utf8_lossy, so do we.
    let text = String::from_utf8_lossy(data);
    let Ok(notifications) = parse_messages(&text) else {
        return;
    };
    for n in &notifications {
        let simple = [&n.source, &n.key, &n.data];
        for items in simple {
            for (name, value) in &items.0 {
                assert!(name.len() <= MAX_ELEMENT_BYTES && value.len() <= MAX_ELEMENT_BYTES);
            }
        }
        assert!(
            n.elements
                .0
                .iter()
                .all(|(_, v)| v.len() <= MAX_ELEMENT_BYTES)
        );
    }
}
