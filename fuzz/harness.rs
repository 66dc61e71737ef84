//! Harness bodies shared by the cargo-fuzz targets and the bounded proptest pass in
//! `tests/hostile.rs` (`#[path]`-included by both), so an entry point has one harness whether
//! libFuzzer or proptest feeds it.

use doorbell_bridge::onvif::xml::{MAX_ELEMENT_BYTES, MAX_ELEMENT_ITEMS, parse_messages};

/// Owns notification parsing from a PullMessages response: `onvif::xml::parse_messages` (the
/// guarded document parser, then every NotificationMessage: topic, Source, Key, Data,
/// ElementItems). Whatever the bytes, it returns, every item it keeps is cut to
/// [`MAX_ELEMENT_BYTES`], and each ElementItem holds at most [`MAX_ELEMENT_ITEMS`] items and
/// [`MAX_ELEMENT_BYTES`] of paths and values. What the normaliser makes of notifications is
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
        for element in &n.elements {
            assert!(element.name.len() <= MAX_ELEMENT_BYTES);
            assert!(element.items.0.len() <= MAX_ELEMENT_ITEMS);
            let bytes: usize = element.items.0.iter().map(|(p, v)| p.len() + v.len()).sum();
            assert!(
                bytes <= MAX_ELEMENT_BYTES,
                "{} bytes in {}",
                bytes,
                element.name
            );
        }
    }
}
