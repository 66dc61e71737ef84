//! DoorBird LAN API answers (info.cgi, favorites.cgi, schedule.cgi) and the query of a
//! favorite's call: the first byte picks which, the rest is the text.
#![no_main]

use doorbell_bridge::doorbird::{self, favorites, rules, schedule};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    match pick % 4 {
        0 => {
            let _ = doorbird::parse_info(&text);
        }
        1 => {
            if let Ok(favs) = favorites::parse(&text) {
                let _ = favorites::plan(&favs, "doorbell-bridge front", "http://127.0.0.1/x");
            }
        }
        2 => {
            if let Ok(entries) = schedule::parse(&text) {
                let _ = schedule::linked(&entries, doorbird::Input::Doorbell, "1");
            }
        }
        _ => {
            if let Some(n) = doorbird::to_notification(&text) {
                let _ = rules::classify(&n);
            }
        }
    }
});
