//! Arbitrary bytes through the vendor stream readers, in arbitrary chunks: no panic, parts
//! within their limits, and the same items whatever the chunking.

use doorbell_bridge::dahua::{codes, rules as dahua_rules, stream};
use doorbell_bridge::hikvision::{alert, rules as hik_rules};
use proptest::prelude::*;

fn dahua_items(bytes: &[u8], chunk: usize) -> Vec<stream::Item> {
    let mut reader = stream::PartReader::new(Some("myboundary".into()));
    let mut items = Vec::new();
    for c in bytes.chunks(chunk) {
        reader.feed(c, &mut |i| items.push(i));
    }
    items
}

fn alerts(bytes: &[u8], chunk: usize) -> Vec<alert::Alert> {
    let mut reader = alert::AlertReader::new();
    let mut out = Vec::new();
    for c in bytes.chunks(chunk) {
        reader.feed(c, &mut |a| out.push(a));
    }
    out
}

/// Bytes made mostly of the pieces the readers look for, so that cases reach deep states.
fn stream_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"--myboundary\r\n".to_vec()),
        Just(b"Content-Length:12\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"HTTP/1.1 200 OK\r\n".to_vec()),
        Just(b"Heartbeat".to_vec()),
        Just(b"Code=CallNoAnswered;action=Start;index".to_vec()),
        Just(b"=0;data={\"a\":[1,{\"b\":\"}\"}]}".to_vec()),
        Just(b"<EventNotificationAlert><eventType>VMD</eventType>".to_vec()),
        Just(b"</EventNotificationAlert>".to_vec()),
        Just(b"{\"eventType\":\"IO\",".to_vec()),
        Just(b"--boundary\r\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..16),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn dahua_parts_are_the_same_whatever_the_chunking(bytes in stream_bytes(), chunk in 1usize..40) {
        let whole = dahua_items(&bytes, usize::MAX);
        prop_assert_eq!(&dahua_items(&bytes, chunk), &whole);
        for item in whole {
            if let stream::Item::Part(body) = item {
                prop_assert!(body.len() <= stream::MAX_PART);
                if let Ok(code) = codes::parse(&body) {
                    let _ = dahua_rules::classify(&code.to_notification());
                }
            }
        }
    }

    #[test]
    fn hikvision_alerts_are_the_same_whatever_the_chunking(bytes in stream_bytes(), chunk in 1usize..40) {
        let whole = alerts(&bytes, usize::MAX);
        prop_assert_eq!(&alerts(&bytes, chunk), &whole);
        for a in whole {
            if let alert::Alert::Event(n) = a {
                let _ = hik_rules::classify(&n);
            }
        }
    }
}
