//! PullMessages responses: parse every NotificationMessage, then normalise them through one
//! camera's Normaliser (user rules, ring input, holds) and expire its holds.
#![no_main]

use std::sync::LazyLock;
use std::time::Duration;

use doorbell_bridge::config::{CameraConfig, from_toml};
use doorbell_bridge::normalise::Normaliser;
use doorbell_bridge::onvif::xml::parse_messages;
use libfuzzer_sys::fuzz_target;

const CAMERA: &str = r#"
[[cameras]]
id = "front_door"
url = "http://192.0.2.1"
ring_input = "AlarmIn_1"
hold = { line_crossing = "5s" }
auto_clear = { person = "2m" }
[[cameras.rules]]
topic = "tns1:RuleEngine/MyRuleDetector/*"
item = "State"
value = "true"
kind = "ring"
[[cameras.rules]]
topic = "tns1:Monitoring/*"
kind = "ignore"
"#;

static CONFIG: LazyLock<CameraConfig> = LazyLock::new(|| {
    let config = from_toml(CAMERA, std::path::Path::new("fuzz.toml")).expect("valid config");
    config.cameras[0].clone()
});

fuzz_target!(|data: &[u8]| {
    // The client reads bodies with from_utf8_lossy, so do we.
    let text = String::from_utf8_lossy(data);
    let Ok(notifications) = parse_messages(&text) else {
        return;
    };
    let mut normaliser = Normaliser::new(&CONFIG);
    normaliser.set_model(Some("DB1"));
    let now = jiff::Timestamp::UNIX_EPOCH;
    let at = tokio::time::Instant::now();
    for n in &notifications {
        let _ = normaliser.handle(n, now, at);
    }
    let _ = normaliser.next_deadline();
    let _ = normaliser.expire(now, at + Duration::from_secs(3600));
});
