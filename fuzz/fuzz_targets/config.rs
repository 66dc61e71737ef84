//! The config file: TOML parsing and validation, then the topics every camera id makes, which
//! must stay publishable (no wildcard, no extra level).
#![no_main]

use std::path::Path;

use doorbell_bridge::config::from_toml;
use doorbell_bridge::mqtt::topics::{Topic, Topics};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = from_toml(text, Path::new("fuzz.toml")) else {
        return;
    };
    let Ok(topics) = Topics::new(&config.mqtt) else {
        return;
    };
    let levels = topics.bridge_status().as_str().split('/').count();
    for camera in &config.cameras {
        let topic = topics.event(&camera.id);
        assert!(Topic::checked(topic.as_str()).is_ok(), "{topic}");
        assert_eq!(topic.as_str().split('/').count(), levels + 1, "{topic}");
        let discovery = topics.discovery(&topics.camera_device_id(&camera.id));
        assert!(Topic::checked(discovery.as_str()).is_ok(), "{discovery}");
    }
});
