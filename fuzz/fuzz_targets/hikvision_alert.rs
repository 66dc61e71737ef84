//! Hikvision alertStream bodies in chunks whose size comes from the input, every alert through
//! the eventType table; and the same bytes as a callStatus answer.
#![no_main]

use doorbell_bridge::hikvision::{alert, call, rules};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let mut reader = alert::AlertReader::new();
    for chunk in rest.chunks(usize::from(split).max(1)) {
        reader.feed(chunk, &mut |a| {
            if let alert::Alert::Event(n) = a {
                let _ = rules::classify(&n);
            }
        });
    }
    let mut tracker = call::CallTracker::new();
    if let Ok(status) = call::parse(rest) {
        let _ = tracker.observe(status);
    }
});
