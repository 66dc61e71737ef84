//! ONVIF Notify bodies, as a camera POSTs them to the push listener: the guarded parser and the
//! NotificationMessage reader, then every notification's fields read.
#![no_main]

use doorbell_bridge::onvif::notify;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(notifications) = notify::parse_notify(data) {
        for n in &notifications {
            let _ = format!("{n:?}");
        }
    }
});
