//! What the newest Home Assistant that runs here (2024.3, the last for Python 3.11) needs in
//! place of what the project publishes for 2024.11 and later, spelled out as two pure
//! translations so that everything else is the real thing:
//!
//! - [`blueprint`]: the blueprint's 2024.10 spelling (`triggers:`, `- trigger: state`,
//!   `conditions:`, `actions:`) and 2024.8 spelling (`- action: notify...`) in the older one
//!   (`trigger:`, `- platform: state`, `condition:`, `action:`, `- service: notify...`), which
//!   those versions still read as the same thing, and `min_version` lowered to match. Nothing
//!   else changes: every template, input, wait and condition is the blueprint's own.
//! - [`components`]: the bridge's device discovery (`<prefix>/device/<id>/config`, Home
//!   Assistant 2024.11) as one single-component discovery message per entity
//!   (`<prefix>/<platform>/<id>/<key>/config`), each with the device, origin, availability and
//!   QoS the device message shares with its components, which is how 2024.11 reads them too.

use serde_json::{Map, Value};

/// The oldest version the respelled copy says it needs (the version the test runs).
pub const OLD_MIN_VERSION: &str = "2024.3.0";

/// One line-for-line rewrite: `(what, how many times at least, rewrite)`.
type Rule = (&'static str, usize, fn(&str) -> Option<String>);

fn top_level(line: &str, new: &str, old: &str) -> Option<String> {
    (line.trim_end() == new).then(|| old.to_owned())
}

/// `<indent>- <new>: <value>` as `<indent>- <old>: <value>`.
fn list_key(line: &str, new: &str, old: &str) -> Option<String> {
    let body = line.trim_start();
    let indent = &line[..line.len() - body.len()];
    let value = body
        .strip_prefix("- ")?
        .strip_prefix(new)?
        .strip_prefix(": ")?;
    Some(format!("{indent}- {old}: {value}"))
}

const RULES: &[Rule] = &[
    ("min_version", 1, |l| {
        let body = l.trim_start();
        body.starts_with("min_version:").then(|| {
            let indent = &l[..l.len() - body.len()];
            format!("{indent}min_version: \"{OLD_MIN_VERSION}\"")
        })
    }),
    ("triggers:", 1, |l| top_level(l, "triggers:", "trigger:")),
    ("conditions:", 1, |l| {
        top_level(l, "conditions:", "condition:")
    }),
    ("actions:", 1, |l| top_level(l, "actions:", "action:")),
    ("- trigger: <platform>", 1, |l| {
        list_key(l, "trigger", "platform")
    }),
    ("- action: <service>", 1, |l| {
        list_key(l, "action", "service")
    }),
];

/// The blueprint in Home Assistant 2024.3's spelling (module doc). An error names a rewrite
/// that found nothing to rewrite: the blueprint changed, and this translation must follow.
pub fn blueprint(text: &str) -> Result<String, String> {
    let mut counts = [0usize; RULES.len()];
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let rewritten = RULES
            .iter()
            .enumerate()
            .find_map(|(i, (_, _, rule))| rule(line).map(|new| (i, new)));
        match rewritten {
            Some((i, new)) => {
                counts[i] += 1;
                out.push_str(&new);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    for ((what, least, _), n) in RULES.iter().zip(counts) {
        if n < *least {
            return Err(format!(
                "the blueprint has no `{what}` line to respell for Home Assistant 2024.3: \
                 update tests/ha_support/old_spelling.rs to the blueprint"
            ));
        }
    }
    Ok(out)
}

/// The single-component discovery messages `(topic, payload)` for one device discovery
/// message on `topic` (module doc); `None` for a topic or payload that is not one.
pub fn components(topic: &str, payload: &Value) -> Option<Vec<(String, Value)>> {
    let mut parts = topic.split('/');
    let (prefix, kind, id, config) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if kind != "device" || config != "config" || parts.next().is_some() {
        return None;
    }
    let device = payload.as_object()?;
    let shared: Map<String, Value> = device
        .iter()
        .filter(|(k, _)| *k != "components")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut out = Vec::new();
    for (key, component) in device.get("components")?.as_object()? {
        let mut entity = shared.clone();
        let mut component = component.as_object()?.clone();
        let platform = component.remove("platform")?.as_str()?.to_owned();
        entity.extend(component);
        out.push((
            format!("{prefix}/{platform}/{id}/{key}/config"),
            Value::Object(entity),
        ));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_blueprint_is_respelled_key_for_key_and_nothing_else() {
        let new = "blueprint:\n  homeassistant:\n    min_version: \"2024.11.0\"\ntriggers:\n  - trigger: state\n    entity_id: !input doorbell\nconditions:\n  - condition: template\nactions:\n  - action: \"notify.{{ x }}\"\n    data:\n      actions: \"{{ a }}\"\n  - wait_for_trigger:\n      - trigger: event\n        event_data:\n          action: \"{{ open_action }}\"\n";
        let old = blueprint(new).unwrap();
        assert_eq!(
            old,
            "blueprint:\n  homeassistant:\n    min_version: \"2024.3.0\"\ntrigger:\n  - platform: state\n    entity_id: !input doorbell\ncondition:\n  - condition: template\naction:\n  - service: \"notify.{{ x }}\"\n    data:\n      actions: \"{{ a }}\"\n  - wait_for_trigger:\n      - platform: event\n        event_data:\n          action: \"{{ open_action }}\"\n"
        );
    }

    #[test]
    fn a_blueprint_without_the_new_spelling_is_refused_by_name() {
        let err = blueprint("blueprint:\n  homeassistant:\n    min_version: \"1\"\ntrigger:\n")
            .unwrap_err();
        assert!(err.contains("`triggers:`"), "{err}");
    }

    #[test]
    fn device_discovery_becomes_one_message_per_component_with_the_shared_keys() {
        let device = json!({
            "device": {"identifiers": ["x"], "name": "Front Door"},
            "origin": {"name": "doorbell-bridge"},
            "availability": [{"topic": "a"}],
            "qos": 1,
            "components": {
                "doorbell": {"platform": "event", "unique_id": "u1", "qos": 0},
                "snapshot": {"platform": "image", "unique_id": "u2"}
            }
        });
        let out = components("homeassistant/device/db_front/config", &device).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].0, "homeassistant/event/db_front/doorbell/config");
        assert_eq!(
            out[0].1,
            json!({"device": {"identifiers": ["x"], "name": "Front Door"},
                   "origin": {"name": "doorbell-bridge"}, "availability": [{"topic": "a"}],
                   "qos": 0, "unique_id": "u1"})
        );
        assert_eq!(out[1].0, "homeassistant/image/db_front/snapshot/config");
        assert_eq!(out[1].1["qos"], 1);
        assert!(components("homeassistant/event/x/config", &device).is_none());
        assert!(components("homeassistant/device/x/config", &json!("")).is_none());
    }
}
