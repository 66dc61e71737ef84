//! The rules the Home Assistant Supervisor applies to an app's `config.yaml`, written out for
//! an offline test: `SCHEMA_APP_CONFIG` (supervisor/apps/validate.py, 2026; the ingress, panel
//! and watchdog keys as there) and, through
//! [`crate::options`], the options check of `AppOptions`. Where the Supervisor merely warns
//! and drops (unknown keys, unknown options) these checks fail, because there it is a typo on
//! our side. Every check returns the problems it found; an empty list is a pass.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::options::{check_schema, validate_options};

/// Top-level keys of `SCHEMA_APP_CONFIG` (deprecated and migrated ones left out: `advanced`,
/// `codenotary`, `auto_uart`, `snapshot*`). The Supervisor drops any other key silently.
#[rustfmt::skip]
pub const APP_CONFIG_KEYS: &[&str] = &[
    "name", "version", "slug", "description", "arch", "machine", "url", "startup", "boot", "init",
    "stage", "ports", "ports_description", "watchdog", "webui", "ingress", "ingress_port",
    "ingress_entry", "ingress_stream", "panel_icon", "panel_title", "panel_admin", "homeassistant",
    "host_network", "host_pid", "host_ipc", "host_uts", "host_dbus", "devices", "udev", "tmpfs",
    "map", "environment", "privileged", "apparmor", "full_access", "audio", "video", "gpio", "usb",
    "uart", "devicetree", "kernel_modules", "realtime", "hassio_api", "hassio_role",
    "homeassistant_api", "stdin", "legacy", "docker_api", "auth_api", "services", "discovery",
    "backup_exclude", "backup_pre", "backup_post", "backup", "options", "schema", "image",
    "ulimits", "timeout", "journald", "breaking_versions",
];

/// Supported architectures (armhf, armv7 and i386 are deprecated).
pub const ARCHES: &[&str] = &["aarch64", "amd64"];

/// `map` types: `MappingType`, plus the 2026.07 names of the renamed ones.
#[rustfmt::skip]
pub const MAP_TYPES: &[&str] = &[
    "data", "config", "ssl", "addons", "backup", "share", "media", "homeassistant_config",
    "all_addon_configs", "addon_config", "app_config", "local_apps", "all_app_configs",
];

const STARTUP: &[&str] = &["initialize", "system", "services", "application", "once"];
const BOOT: &[&str] = &["auto", "manual", "manual_only"];

/// `RE_SLUG` of apps/const.py.
static SLUG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[-_.A-Za-z0-9]+$").unwrap());
/// `RE_SERVICE` of validate.py.
static SERVICE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(mqtt|mysql):(provide|want|need)$").unwrap());
/// `version_tag`-like: the Supervisor compares versions as strings, so YAML must give one.
static VERSION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[0-9]+\.[0-9]+\.[0-9]+([-.+][0-9A-Za-z.]+)?$").unwrap());
/// `watchdog` of `SCHEMA_APP_CONFIG`: the app's own address and a port, tcp or http(s).
static WATCHDOG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:https?|\[PROTO:\w+\]|tcp)://\[HOST\]:(\[PORT:\d+\]|\d+).*$").unwrap()
});
/// `webui` of `SCHEMA_APP_CONFIG`.
static WEBUI: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:https?|\[PROTO:\w+\])://\[HOST\]:\[PORT:\d+\].*$").unwrap());
/// `docker_image` of supervisor/validate.py.
static IMAGE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([a-zA-Z\-\.:\d{}]+/)*?([\-\w{}]+)/([\-\w{}]+)$").unwrap());

/// Checks the whole `config.yaml` (already converted to JSON).
pub fn check_app_config(c: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let Some(obj) = c.as_object() else {
        return vec!["config.yaml is not a mapping".into()];
    };
    for key in obj.keys() {
        if !APP_CONFIG_KEYS.contains(&key.as_str()) {
            p.push(format!(
                "unknown top-level key {key:?} (the Supervisor drops it)"
            ));
        }
    }
    for key in ["name", "version", "slug", "description"] {
        match obj.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => {}
            other => p.push(format!("{key} must be a non-empty string, found {other:?}")),
        }
    }
    let text = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or_default();
    if !VERSION.is_match(text("version")) {
        p.push(format!(
            "version {:?} is not a quoted x.y.z string",
            obj.get("version")
        ));
    }
    if !SLUG.is_match(text("slug")) {
        p.push(format!(
            "slug {:?} is not URI-safe ([-_.A-Za-z0-9]+)",
            text("slug")
        ));
    }
    match obj.get("arch").and_then(Value::as_array) {
        Some(a) if !a.is_empty() => {
            for arch in a {
                if !arch.as_str().is_some_and(|s| ARCHES.contains(&s)) {
                    p.push(format!("arch {arch} is not one of {ARCHES:?}"));
                }
            }
        }
        other => p.push(format!("arch must be a non-empty list, found {other:?}")),
    }
    check_enum(&mut p, obj, "startup", STARTUP);
    check_enum(&mut p, obj, "boot", BOOT);
    for key in [
        "init",
        "host_network",
        "ingress",
        "ingress_stream",
        "panel_admin",
        "hassio_api",
        "homeassistant_api",
        "apparmor",
        "journald",
    ] {
        if obj.get(key).is_some_and(|v| !v.is_boolean()) {
            p.push(format!("{key} must be a boolean"));
        }
    }
    if let Some(v) = obj.get("homeassistant")
        && !v.as_str().is_some_and(|s| VERSION.is_match(s))
    {
        p.push(format!("homeassistant {v} is not a quoted version"));
    }
    // `network_port` (1..=65535) or 0 (the Supervisor picks a free port).
    if let Some(port) = obj.get("ingress_port")
        && !port.as_i64().is_some_and(|p| (0..=65535).contains(&p))
    {
        p.push(format!(
            "ingress_port {port} is not a port (1..=65535) or 0"
        ));
    }
    for key in ["ingress_entry", "panel_icon", "panel_title"] {
        if obj.get(key).is_some_and(|v| !v.is_string()) {
            p.push(format!("{key} must be a string"));
        }
    }
    // Stricter than the Supervisor (any string): the sidebar draws only Material Design icons.
    if let Some(icon) = obj.get("panel_icon").and_then(Value::as_str)
        && !icon.starts_with("mdi:")
    {
        p.push(format!(
            "panel_icon {icon:?} is not a Material Design icon (mdi:NAME)"
        ));
    }
    for (key, re) in [("watchdog", &*WATCHDOG), ("webui", &*WEBUI)] {
        if let Some(v) = obj.get(key)
            && !v.as_str().is_some_and(|s| re.is_match(s))
        {
            p.push(format!("{key} {v} does not match {}", re.as_str()));
        }
    }
    if let Some(t) = obj.get("timeout")
        && !t.as_i64().is_some_and(|t| (10..=300).contains(&t))
    {
        p.push(format!("timeout {t} is not an integer in 10..=300"));
    }
    if let Some(url) = obj.get("url")
        && !url
            .as_str()
            .is_some_and(|u| u.starts_with("https://") || u.starts_with("http://"))
    {
        p.push(format!("url {url} is not an http(s) URL"));
    }
    if let Some(image) = obj.get("image") {
        match image.as_str() {
            Some(i) if IMAGE.is_match(i) && !i.contains("{arch}") => {}
            _ => p.push(format!(
                "image {image} is not a generic image name (no tag, no {{arch}})"
            )),
        }
    }
    match obj.get("services") {
        None => {}
        Some(Value::Array(list)) => {
            for s in list {
                if !s.as_str().is_some_and(|s| SERVICE.is_match(s)) {
                    p.push(format!("service {s} is not service:provide|want|need"));
                }
            }
        }
        Some(other) => p.push(format!("services must be a list, found {other}")),
    }
    check_map(&mut p, obj.get("map"));
    let schema = obj
        .get("schema")
        .cloned()
        .unwrap_or(Value::Object(Map::new()));
    let options = obj
        .get("options")
        .cloned()
        .unwrap_or(Value::Object(Map::new()));
    p.extend(check_schema(&schema));
    p.extend(
        validate_options(&schema, &options)
            .into_iter()
            .map(|e| format!("options: {e}")),
    );
    p
}

fn check_enum(p: &mut Vec<String>, obj: &Map<String, Value>, key: &str, allowed: &[&str]) {
    if let Some(v) = obj.get(key)
        && !v.as_str().is_some_and(|s| allowed.contains(&s))
    {
        p.push(format!("{key} {v} is not one of {allowed:?}"));
    }
}

fn check_map(p: &mut Vec<String>, map: Option<&Value>) {
    let Some(map) = map else { return };
    let Some(list) = map.as_array() else {
        p.push("map must be a list".into());
        return;
    };
    for entry in list {
        match entry {
            Value::String(s) => {
                let (ty, mode) = s.split_once(':').unwrap_or((s, "ro"));
                if !MAP_TYPES.contains(&ty) || !["ro", "rw"].contains(&mode) {
                    p.push(format!("map entry {s:?} is not TYPE[:ro|:rw]"));
                }
            }
            Value::Object(o) => {
                if !o
                    .get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| MAP_TYPES.contains(&t))
                {
                    p.push(format!("map entry {entry} has no valid type"));
                }
                for (k, v) in o {
                    let ok = match k.as_str() {
                        "type" => true,
                        "read_only" => v.is_boolean(),
                        "path" => v.as_str().is_some_and(|s| s.starts_with('/')),
                        _ => false,
                    };
                    if !ok {
                        p.push(format!("map entry {entry}: bad key or value {k:?}"));
                    }
                }
            }
            other => p.push(format!(
                "map entry {other} is neither a string nor a mapping"
            )),
        }
    }
}

/// The checks above must be able to fail: one broken config per rule.
#[test]
fn supervisor_checks_catch_broken_configs() {
    type Mutation = fn(&mut Value);
    let cases: &[(&str, Mutation, &str)] = &[
        (
            "unknown key",
            |c| c["host_networks"] = serde_json::json!(true),
            "unknown top-level key",
        ),
        (
            "no name",
            |c| c["name"] = serde_json::json!(null),
            "name must be",
        ),
        (
            "bad slug",
            |c| c["slug"] = serde_json::json!("doorbell bridge"),
            "URI-safe",
        ),
        (
            "old arch",
            |c| c["arch"] = serde_json::json!(["armv7"]),
            "arch",
        ),
        (
            "unquoted version",
            |c| c["version"] = serde_json::json!(0.1),
            "version",
        ),
        (
            "bad service",
            |c| c["services"] = serde_json::json!(["mqtt:use"]),
            "service",
        ),
        (
            "bad map",
            |c| c["map"] = serde_json::json!([{"type": "media", "read_only": "no"}]),
            "map entry",
        ),
        (
            "timeout",
            |c| c["timeout"] = serde_json::json!(5),
            "timeout",
        ),
        (
            "arch image",
            |c| c["image"] = serde_json::json!("ghcr.io/x/{arch}-y"),
            "image",
        ),
        (
            "ingress port",
            |c| c["ingress_port"] = serde_json::json!(70000),
            "ingress_port",
        ),
        (
            "ingress flag",
            |c| c["ingress"] = serde_json::json!("yes"),
            "ingress must be a boolean",
        ),
        (
            "panel title",
            |c| c["panel_title"] = serde_json::json!(["Visitors"]),
            "panel_title must be a string",
        ),
        (
            "panel icon",
            |c| c["panel_icon"] = serde_json::json!("doorbell"),
            "panel_icon",
        ),
        (
            "watchdog host",
            |c| c["watchdog"] = serde_json::json!("tcp://localhost:8099"),
            "watchdog",
        ),
        (
            "watchdog scheme",
            |c| c["watchdog"] = serde_json::json!("udp://[HOST]:[PORT:8099]"),
            "watchdog",
        ),
        (
            "webui",
            |c| c["webui"] = serde_json::json!("http://[HOST]:8099/"),
            "webui",
        ),
        (
            "option not in schema",
            |c| c["options"]["colour"] = serde_json::json!("red"),
            "not in the schema",
        ),
        (
            "bad list value",
            |c| c["options"]["log_level"] = serde_json::json!("loud"),
            "log_level",
        ),
        (
            "bad match",
            |c| c["options"]["storage_max_age"] = serde_json::json!("30 days"),
            "storage_max_age",
        ),
        (
            "missing required",
            |c| c["schema"]["must"] = serde_json::json!("str"),
            "required but missing",
        ),
        (
            "camera without url",
            |c| c["options"]["cameras"] = serde_json::json!([{"id": "a"}]),
            "cameras[0].url",
        ),
        (
            "camera id",
            |c| c["options"]["cameras"] = serde_json::json!([{"id": "A b", "url": "x"}]),
            "cameras[0].id",
        ),
        (
            "unknown type",
            |c| c["schema"]["x"] = serde_json::json!("string?"),
            "unknown type",
        ),
        (
            "list in list",
            |c| c["schema"]["x"] = serde_json::json!([["str"]]),
            "may not hold a list",
        ),
        (
            "too deep",
            |c| c["schema"]["x"] = serde_json::json!([{"a": [{"b": [{"c": "str"}]}]}]),
            "deeper",
        ),
        (
            "bad pattern",
            |c| c["schema"]["x"] = serde_json::json!("match(([)?"),
            "does not compile",
        ),
    ];
    assert!(!cases.is_empty());
    let good = crate::load_yaml("ha-addon/config.yaml");
    for (name, mutate, want) in cases {
        let mut c = good.clone();
        mutate(&mut c);
        let problems = check_app_config(&c);
        assert!(
            problems.iter().any(|p| p.contains(want)),
            "{name}: want a problem containing {want:?}, got {problems:?}"
        );
    }
    let ambiguous = "a: yes\nb: 1:30\nc: 'on'\n";
    assert_eq!(crate::yaml::yaml11_ambiguities(ambiguous).len(), 2);
}
