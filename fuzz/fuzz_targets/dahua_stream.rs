//! Dahua attach bodies: the part reader fed in chunks whose sizes come from the input, every
//! part through the code parser and the code table. Also checks the reader's bounds.
#![no_main]

use doorbell_bridge::dahua::{codes, rules, stream};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let boundary = (split & 1 == 0).then(|| "myboundary".to_owned());
    let mut reader = stream::PartReader::new(boundary);
    let size = usize::from(split >> 1).max(1);
    for chunk in rest.chunks(size) {
        reader.feed(chunk, &mut |item| {
            if let stream::Item::Part(body) = item {
                assert!(body.len() <= stream::MAX_PART);
                if let Ok(code) = codes::parse(&body) {
                    let _ = rules::classify(&code.to_notification());
                }
            }
        });
    }
});
