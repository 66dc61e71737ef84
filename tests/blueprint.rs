//! The Home Assistant blueprints in `blueprints/`, checked offline as Home Assistant would
//! read them: the `blueprint:` block, `!input` against the declared inputs, the selectors, no
//! secrets, and for the ring notification its trigger and condition. Each check returns the
//! problems it finds, and is also run on broken blueprints to show that it catches them.

#[path = "blueprint_support/tagged_yaml.rs"]
mod tagged_yaml;
#[allow(dead_code)]
#[path = "addon_support/yaml.rs"]
mod yaml;

use std::collections::BTreeSet;
use std::path::PathBuf;

use tagged_yaml::Node;

const RING_NOTIFICATION: &str = "blueprints/automation/doorbell-bridge/ring_notification.yaml";

fn read(rel: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn ring_notification() -> Node {
    tagged_yaml::parse(&read(RING_NOTIFICATION))
        .unwrap_or_else(|e| panic!("{RING_NOTIFICATION}: {e}"))
}

/// Selector kinds Home Assistant knows (`homeassistant/helpers/selector.py`), with the keys
/// each may carry that this project uses; a key outside its row is a typo or an old name.
const SELECTORS: &[(&str, &[&str])] = &[
    ("action", &[]),
    ("area", &["multiple", "entity", "device"]),
    ("boolean", &[]),
    ("date", &[]),
    ("datetime", &[]),
    ("device", &["multiple", "filter", "entity"]),
    ("duration", &["enable_day"]),
    (
        "entity",
        &["multiple", "filter", "include_entities", "exclude_entities"],
    ),
    ("icon", &["placeholder"]),
    (
        "number",
        &["min", "max", "step", "unit_of_measurement", "mode"],
    ),
    ("object", &[]),
    ("select", &["options", "multiple", "custom_value", "mode"]),
    ("target", &["entity", "device"]),
    ("template", &[]),
    (
        "text",
        &["multiline", "type", "prefix", "suffix", "multiple"],
    ),
    ("time", &[]),
];

/// Keys a selector's `filter` entries may have, per selector kind.
const FILTER_KEYS: &[(&str, &[&str])] = &[
    (
        "entity",
        &[
            "domain",
            "device_class",
            "integration",
            "supported_features",
        ],
    ),
    (
        "device",
        &["integration", "manufacturer", "model", "entity"],
    ),
];

/// Keys whose value would be a secret if written into the blueprint. A value is allowed only
/// when it is typed at run time (the reply to a notification's text field).
const SECRET_KEYS: &[&str] = &[
    "code",
    "passcode",
    "pin",
    "password",
    "passwd",
    "secret",
    "token",
    "access_token",
    "api_key",
    "api_password",
];

/// The only source a secret-named key may take its value from.
const TYPED_AT_RUN_TIME: &str = "wait.trigger.event.data.reply_text";

fn declared_inputs(doc: &Node) -> Vec<String> {
    match doc.get("blueprint").and_then(|b| b.get("input")) {
        Some(Node::Map(entries)) => entries.iter().map(|(k, _)| k.clone()).collect(),
        _ => Vec::new(),
    }
}

/// `blueprint:` has what the import and the editor need.
fn header_problems(doc: &Node) -> Vec<String> {
    let mut p = Vec::new();
    let Some(b) = doc.get("blueprint") else {
        return vec!["no `blueprint:` block".into()];
    };
    if b.get("name").and_then(Node::str).is_none_or(str::is_empty) {
        p.push("blueprint.name is missing".into());
    }
    if b.get("domain").and_then(Node::str) != Some("automation") {
        p.push("blueprint.domain must be automation".into());
    }
    match b.get("source_url").and_then(Node::str) {
        Some(u) if u.starts_with("https://") && u.ends_with(".yaml") => {}
        other => p.push(format!(
            "blueprint.source_url must be an https URL of the file: {other:?}"
        )),
    }
    if declared_inputs(doc).is_empty() {
        p.push("blueprint.input declares no input".into());
    }
    p
}

/// Every `!input x` outside `blueprint:` names a declared input, every declared input is used,
/// no `!input` sits in the `blueprint:` block or inside a template's text, and a template that
/// names an input reads it through `variables:` (an input is not a template variable by itself).
fn input_problems(doc: &Node) -> Vec<String> {
    let mut p = Vec::new();
    let declared: BTreeSet<String> = declared_inputs(doc).into_iter().collect();
    let mut used = BTreeSet::new();
    let mut nodes = Vec::new();
    doc.walk(&mut Vec::new(), &mut nodes);
    for (path, node) in &nodes {
        let Node::Scalar { value, tag, .. } = node else {
            continue;
        };
        if let Some(name) = node.input_name() {
            if path.starts_with("blueprint") {
                p.push(format!("{path}: !input inside the blueprint block"));
            } else if declared.contains(name) {
                used.insert(name.to_owned());
            } else {
                p.push(format!(
                    "{path}: !input {name} is not declared in blueprint.input"
                ));
            }
        } else if let Some(t) = tag {
            p.push(format!("{path}: unknown tag {t}"));
        }
        if value.contains("!input") {
            p.push(format!(
                "{path}: `!input` inside a string is not substituted"
            ));
        }
    }
    for name in declared.difference(&used) {
        p.push(format!("input {name} is declared but never used"));
    }
    let variables: BTreeSet<&str> = match doc.get("variables") {
        Some(Node::Map(entries)) => entries.iter().map(|(k, _)| k.as_str()).collect(),
        _ => BTreeSet::new(),
    };
    for (path, node) in &nodes {
        let Some(text) = node.str() else { continue };
        if path.starts_with("blueprint") || !(text.contains("{{") || text.contains("{%")) {
            continue;
        }
        for name in &declared {
            if names_identifier(text, name) && !variables.contains(name.as_str()) {
                p.push(format!(
                    "{path}: a template reads input {name}, which is not in `variables:`"
                ));
            }
        }
    }
    p
}

fn names_identifier(text: &str, name: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(name).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + name.len()..].chars().next();
        !before.is_some_and(|c| ident(c) || c == '.' || c == '\'')
            && !after.is_some_and(|c| ident(c) || c == '\'')
    })
}

/// Every input has one selector of a known kind with known keys, and optional inputs a
/// default that fits it.
fn selector_problems(doc: &Node) -> Vec<String> {
    let mut p = Vec::new();
    let Some(Node::Map(inputs)) = doc.get("blueprint").and_then(|b| b.get("input")) else {
        return p;
    };
    for (name, input) in inputs {
        if input.get("name").and_then(Node::str).is_none() {
            p.push(format!("input {name}: no name"));
        }
        let Some(Node::Map(selector)) = input.get("selector") else {
            p.push(format!("input {name}: no selector"));
            continue;
        };
        let [(kind, options)] = selector.as_slice() else {
            p.push(format!("input {name}: a selector has exactly one kind"));
            continue;
        };
        let Some((_, allowed)) = SELECTORS.iter().find(|(k, _)| k == kind) else {
            p.push(format!("input {name}: unknown selector kind {kind}"));
            continue;
        };
        if let Node::Map(opts) = options {
            for (key, value) in opts {
                if !allowed.contains(&key.as_str()) {
                    p.push(format!("input {name}: selector {kind} has no option {key}"));
                }
                if key == "filter" {
                    p.extend(filter_problems(name, kind, value));
                }
            }
        }
        if let Some(default) = input.get("default").and_then(Node::str) {
            p.extend(default_problems(name, kind, options, default));
        }
    }
    p
}

fn filter_problems(name: &str, kind: &str, filter: &Node) -> Vec<String> {
    let allowed = FILTER_KEYS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(&[][..], |(_, keys)| keys);
    let Node::Seq(entries) = filter else {
        return vec![format!("input {name}: filter must be a list")];
    };
    let mut p = Vec::new();
    for entry in entries {
        let Node::Map(keys) = entry else {
            p.push(format!("input {name}: a filter entry must be a mapping"));
            continue;
        };
        for (key, _) in keys {
            if !allowed.contains(&key.as_str()) {
                p.push(format!("input {name}: {kind} filter has no key {key}"));
            }
        }
    }
    p
}

fn default_problems(name: &str, kind: &str, options: &Node, default: &str) -> Vec<String> {
    let bad = |why: &str| vec![format!("input {name}: default {default:?} {why}")];
    match kind {
        "time" => {
            let parts: Vec<&str> = default.split(':').collect();
            let ok = parts.len() == 3
                && parts
                    .iter()
                    .all(|x| x.len() == 2 && x.bytes().all(|b| b.is_ascii_digit()))
                && parts[0] < "24"
                && parts[1] < "60"
                && parts[2] < "60";
            if ok { vec![] } else { bad("is not HH:MM:SS") }
        }
        "number" => {
            let num = |key| {
                options
                    .get(key)
                    .and_then(Node::str)
                    .and_then(|v| v.parse::<f64>().ok())
            };
            match default.parse::<f64>() {
                Ok(v) if num("min").is_none_or(|m| v >= m) && num("max").is_none_or(|m| v <= m) => {
                    vec![]
                }
                _ => bad("is not a number between min and max"),
            }
        }
        "entity" => {
            if default.is_empty() || default.contains('.') {
                vec![]
            } else {
                bad("is neither empty nor an entity id")
            }
        }
        _ => vec![],
    }
}

/// Nothing in it is a secret: secret-named keys take only what is typed at run time, no input
/// asks for a password, no URL carries a token.
fn secret_problems(doc: &Node) -> Vec<String> {
    let mut p = Vec::new();
    let mut nodes = Vec::new();
    doc.walk(&mut Vec::new(), &mut nodes);
    for (path, node) in &nodes {
        let key = path.rsplit('.').next().unwrap_or_default();
        if SECRET_KEYS.contains(&key) {
            match node.str() {
                Some(v) if v.contains(TYPED_AT_RUN_TIME) && !v.contains('\'') => {}
                _ => p.push(format!(
                    "{path}: a secret must not be written into a blueprint; ask for it at run time"
                )),
            }
        }
        if let Some(v) = node.str() {
            let lower = v.to_ascii_lowercase();
            if ["token=", "access_token", "api_password", "password="]
                .iter()
                .any(|s| lower.contains(s))
            {
                p.push(format!("{path}: carries a credential: {v:?}"));
            }
        }
        if path.ends_with("selector.text.type") && node.str() == Some("password") {
            p.push(format!(
                "{path}: an input that asks for a password would be stored"
            ));
        }
    }
    p
}

/// The ring notification fires on the doorbell event entity, not from unavailable or unknown,
/// and only for a ring.
fn ring_trigger_problems(doc: &Node) -> Vec<String> {
    let mut p = Vec::new();
    let Some(Node::Seq(triggers)) = doc.get("triggers") else {
        return vec!["no `triggers:` list".into()];
    };
    let [trigger] = triggers.as_slice() else {
        return vec![format!("expected one trigger, found {}", triggers.len())];
    };
    if trigger.get("trigger").and_then(Node::str) != Some("state") {
        p.push("the trigger must be a state trigger".into());
    }
    let entity_input = trigger.get("entity_id").and_then(Node::input_name);
    match entity_input {
        Some(input) => {
            let filter = doc
                .get("blueprint")
                .and_then(|b| b.get("input"))
                .and_then(|i| i.get(input))
                .and_then(|i| i.get("selector"))
                .and_then(|s| s.get("entity"))
                .and_then(|e| e.get("filter"));
            let is_doorbell = matches!(filter, Some(Node::Seq(f)) if f.iter().any(|e| {
                e.get("domain").and_then(Node::str) == Some("event")
                    && e.get("device_class").and_then(Node::str) == Some("doorbell")
            }));
            if !is_doorbell {
                p.push(format!(
                    "input {input} must select event entities of class doorbell"
                ));
            }
        }
        None => p.push("the trigger's entity_id must be an !input".into()),
    }
    let not_from: BTreeSet<&str> = match trigger.get("not_from") {
        Some(Node::Seq(v)) => v.iter().filter_map(Node::str).collect(),
        _ => BTreeSet::new(),
    };
    for state in ["unavailable", "unknown"] {
        if !not_from.contains(state) {
            p.push(format!("the trigger must ignore changes from {state}"));
        }
    }
    let checks_ring = match doc.get("conditions") {
        Some(Node::Seq(conditions)) => conditions.iter().any(|c| {
            c.get("condition").and_then(Node::str) == Some("template")
                && c.get("value_template")
                    .and_then(Node::str)
                    .is_some_and(|t| t.contains("trigger.to_state.attributes.event_type == 'ring'"))
        }),
        _ => false,
    };
    if !checks_ring {
        p.push("a condition must check that the event_type is ring".into());
    }
    p
}

type Check = fn(&Node) -> Vec<String>;

/// The automation's own `variables:` are rendered before its run starts, with `trigger` and
/// `this` only: a template there that reads a run variable (`context`, `wait`, `repeat`) is an
/// error, and Home Assistant stops the automation before its first action, on every ring. Such
/// variables belong in a `variables` step of the actions.
fn variables_problems(doc: &Node) -> Vec<String> {
    let mut p = Vec::new();
    let Some(Node::Map(entries)) = doc.get("variables") else {
        return p;
    };
    for (name, node) in entries {
        let mut nodes = Vec::new();
        node.walk(&mut vec![format!("variables.{name}")], &mut nodes);
        for (path, n) in nodes {
            let Some(text) = n.str() else { continue };
            for run_variable in ["context", "wait", "repeat"] {
                if names_identifier(text, run_variable) {
                    p.push(format!(
                        "{path}: reads {run_variable}, which the automation's variables do not \
                         have (set it in a `variables` step of the actions)"
                    ));
                }
            }
        }
    }
    p
}

const CHECKS: &[(&str, Check)] = &[
    ("header", header_problems),
    ("inputs", input_problems),
    ("selectors", selector_problems),
    ("secrets", secret_problems),
    ("ring trigger", ring_trigger_problems),
    ("automation variables", variables_problems),
];

#[test]
fn the_ring_notification_blueprint_passes_every_check() {
    let doc = ring_notification();
    let problems: Vec<String> = CHECKS
        .iter()
        .flat_map(|(what, check)| check(&doc).into_iter().map(move |p| format!("{what}: {p}")))
        .collect();
    assert!(
        problems.is_empty(),
        "{RING_NOTIFICATION}:\n  {}",
        problems.join("\n  ")
    );
    assert_eq!(
        yaml::yaml11_ambiguities(&read(RING_NOTIFICATION)),
        Vec::<String>::new(),
        "Home Assistant reads YAML 1.1"
    );
}

/// Broken blueprints, each with the problem its check must report.
const BROKEN: &[(&str, &str, &str)] = &[
    (
        "inputs",
        "blueprint: {input: {a: {selector: {text: }}}}\nx: !input b\n",
        "!input b is not declared",
    ),
    (
        "inputs",
        "blueprint: {input: {a: {selector: {text: }}, b: {selector: {text: }}}}\nx: !input a\n",
        "input b is declared but never used",
    ),
    (
        "inputs",
        "blueprint: {input: {a: {selector: {text: }}}}\nx: !input a\ny: \"{{ a }}\"\n",
        "not in `variables:`",
    ),
    (
        "inputs",
        "blueprint: {input: {a: {selector: {text: }}}}\nx: !input a\ny: \"{{ '!input a' }}\"\n",
        "inside a string",
    ),
    (
        "selectors",
        "blueprint: {input: {a: {name: A, selector: {entitty: {}}}}}\n",
        "unknown selector kind entitty",
    ),
    (
        "selectors",
        "blueprint: {input: {a: {name: A, selector: {entity: {filter: [{domian: event}]}}}}}\n",
        "entity filter has no key domian",
    ),
    (
        "selectors",
        "blueprint: {input: {a: {name: A, default: '25:00:00', selector: {time: }}}}\n",
        "is not HH:MM:SS",
    ),
    (
        "selectors",
        "blueprint: {input: {a: {name: A, default: 900, selector: {number: {min: 0, max: 600}}}}}\n",
        "between min and max",
    ),
    (
        "secrets",
        "actions: [{action: lock.open, data: {code: '1234'}}]\n",
        "a secret must not be written",
    ),
    (
        "secrets",
        "actions: [{action: lock.open, data: {code: !input door_code}}]\n",
        "a secret must not be written",
    ),
    (
        "secrets",
        "x: {image: '/api/image_proxy/image.a?token=abc'}\n",
        "carries a credential",
    ),
    (
        "ring trigger",
        "triggers: [{trigger: state, entity_id: !input d, not_from: [unavailable]}]\n",
        "ignore changes from unknown",
    ),
    (
        "ring trigger",
        "blueprint: {input: {d: {selector: {entity: {filter: [{domain: binary_sensor}]}}}}}\n\
         triggers: [{trigger: state, entity_id: !input d, not_from: [unavailable, unknown]}]\n",
        "must select event entities of class doorbell",
    ),
    (
        "ring trigger",
        "triggers: [{trigger: state, entity_id: !input d, not_from: [unavailable, unknown]}]\n\
         conditions: [{condition: template, value_template: '{{ true }}'}]\n",
        "event_type is ring",
    ),
    (
        "automation variables",
        "variables: {open_action: \"OPEN_{{ context.id }}\"}\n",
        "reads context",
    ),
];

#[test]
fn each_check_reports_the_broken_blueprint_it_is_for() {
    assert!(!BROKEN.is_empty());
    for (what, yaml, expected) in BROKEN {
        let (_, check) = CHECKS.iter().find(|(w, _)| w == what).unwrap();
        let doc = tagged_yaml::parse(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
        let problems = check(&doc);
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{what} on {yaml:?}: expected {expected:?}, got {problems:?}"
        );
    }
}

#[test]
fn the_ring_notification_sends_the_picture_through_the_image_proxy_and_never_stores_a_code() {
    let text = read(RING_NOTIFICATION);
    let doc = ring_notification();
    assert!(text.contains("image: \"/api/image_proxy/{{ snapshot_image }}\""));
    assert_eq!(doc.get("mode").and_then(Node::str), Some("single"));
    assert_eq!(doc.get("max_exceeded").and_then(Node::str), Some("silent"));
    let mut nodes = Vec::new();
    doc.walk(&mut Vec::new(), &mut nodes);
    let at = |suffix: &str| -> Vec<&Node> {
        nodes
            .iter()
            .filter(|(p, _)| p.ends_with(suffix))
            .map(|(_, n)| *n)
            .collect()
    };
    // The cool-down is a delay in the one run that mode: single allows.
    assert!(
        at("delay")
            .iter()
            .any(|n| n.input_name() == Some("cooldown"))
    );
    // The door opens only through lock.open on the chosen lock, after two answers.
    let opens: Vec<_> = at("action")
        .into_iter()
        .filter(|n| n.str().is_some_and(|a| a.starts_with("lock.")))
        .collect();
    assert!(!opens.is_empty());
    assert!(opens.iter().all(|n| n.str() == Some("lock.open")));
    assert!(
        at("target.entity_id")
            .iter()
            .all(|n| n.str() == Some("{{ lock_entity }}"))
    );
    assert_eq!(
        at("wait_for_trigger").len(),
        2,
        "the open button, then the confirmation"
    );
    // The tap action and the picture go to both platforms' keys.
    assert!(
        text.contains("url: \"{{ tap_path }}\"")
            && text.contains("clickAction: \"{{ tap_path }}\"")
    );
}

/// The buttons' names once read `context` in the automation's `variables:`, where it does not
/// exist: every ring stopped with "Error rendering variables" before the notification (found
/// by tests/home_assistant.rs in a running Home Assistant).
#[test]
fn a_ring_reaches_the_notification_because_no_automation_variable_reads_a_run_variable() {
    assert_eq!(
        variables_problems(&ring_notification()),
        Vec::<String>::new()
    );
    let text = read(RING_NOTIFICATION);
    assert!(text.contains("open_action: \"DOORBELL_BRIDGE_OPEN_{{ context.id }}\""));
}
