//! Arbitrary text as the history page's event ids and cursors (they come from URLs): whatever
//! parses names a file inside the archive, and prints back as it was read.

use doorbell_bridge::history::index::{Cursor, EventId};
use proptest::prelude::*;

/// Text near the real shape (`camera/YYYY-MM-DD/HHMMSS.mmm_kind-n`), with hostile pieces.
fn near_id() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        Just("front".to_owned()),
        Just("..".to_owned()),
        Just(".".to_owned()),
        Just("%2e%2e".to_owned()),
        Just("".to_owned()),
        Just("2026-11-30".to_owned()),
        Just("091500.500_ring".to_owned()),
        Just("091500.500_ring-2".to_owned()),
        Just("091500.500_ring.jpg".to_owned()),
        "[a-z0-9_./\\\\%-]{0,12}",
    ];
    proptest::collection::vec(part, 0..5).prop_map(|p| p.join("/"))
}

fn check(text: &str) {
    if let Some(id) = EventId::parse(text) {
        assert_eq!(id.to_string(), text, "prints back as read");
        let file = id.file("jpg");
        assert_eq!(file.matches('/').count(), 2, "{file}");
        assert!(!file.starts_with('/') && !file.contains(".."), "{file}");
        assert!(!file.contains('\\') && !file.contains('%'), "{file}");
        for part in file.split('/') {
            assert!(
                !part.is_empty() && part != "." && !part.starts_with('.'),
                "{file}"
            );
        }
    }
    if let Some(c) = Cursor::parse(text) {
        assert_eq!(c.to_string(), text);
    }
}

proptest! {
    #[test]
    fn ids_that_parse_stay_inside_the_archive(text in near_id()) {
        check(&text);
    }

    #[test]
    fn any_text_is_refused_or_read_safely(text in "\\PC{0,80}") {
        check(&text);
    }
}

#[test]
fn the_near_shapes_reach_valid_ids() {
    // The strategy produces real ids too, so the property above is not vacuous.
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = near_id();
    let valid = (0..5000)
        .filter(|_| {
            let text = strategy.new_tree(&mut runner).unwrap().current();
            EventId::parse(&text).is_some()
        })
        .count();
    assert!(valid > 0, "no valid id among 5000 samples");
}
