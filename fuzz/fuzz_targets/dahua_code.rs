//! One Dahua event body: the code parser, the notification it makes and the code table.
#![no_main]

use doorbell_bridge::dahua::{codes, rules};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(code) = codes::parse(&text) {
        assert!(code.code.len() <= codes::MAX_CODE);
        let n = code.to_notification();
        let _ = rules::classify(&n);
    }
});
