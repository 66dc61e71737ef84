//! App options against the app's `schema`, as `AppOptions` of supervisor/apps/options.py checks
//! them when the app starts, plus the structure rules of `SCHEMA_ELEMENT` (validate.py).

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

/// `RE_SCHEMA_ELEMENT` of options.py, unchanged (Rust's regex reads Python's `(?P<name>)`).
static SCHEMA_ELEMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?:|bool|email|url|port",
        r"|device(?:\((?P<filter>subsystem=[a-z]+)\))?",
        r"|str(?:\((?P<s_min>\d+)?,(?P<s_max>\d+)?\))?",
        r"|password(?:\((?P<p_min>\d+)?,(?P<p_max>\d+)?\))?",
        r"|int(?:\((?P<i_min>-?\d+)?,(?P<i_max>-?\d+)?\))?",
        r"|float(?:\((?P<f_min>-?\d*\.?\d+)?,(?P<f_max>-?\d*\.?\d+)?\))?",
        r"|match\((?P<match>.*)\)",
        r"|list\((?P<list>.+)\)",
        r")\??$"
    ))
    .expect("the Supervisor's pattern compiles")
});

/// Structure of `schema`: leaves match `RE_SCHEMA_ELEMENT` (and their `match()` patterns
/// compile), a list holds exactly one element and never directly another list, and mappings
/// nest at most two deep below the top level (a list of cameras whose entries hold a list of
/// strings is fine; cameras holding rules holding mappings is not).
pub fn check_schema(schema: &Value) -> Vec<String> {
    let mut p = Vec::new();
    match schema.as_object() {
        Some(top) => {
            for (k, v) in top {
                check_schema_node(&mut p, k, v, 0);
            }
        }
        None => p.push("schema must be a mapping".into()),
    }
    p
}

fn check_schema_node(p: &mut Vec<String>, path: &str, node: &Value, depth: usize) {
    match node {
        Value::String(t) => match SCHEMA_ELEMENT.captures(t) {
            None => p.push(format!("schema {path}: unknown type {t:?}")),
            Some(c) => {
                if let Some(m) = c.name("match")
                    && let Err(e) = Regex::new(m.as_str())
                {
                    p.push(format!(
                        "schema {path}: match pattern does not compile: {e}"
                    ));
                }
            }
        },
        Value::Array(a) => match a.as_slice() {
            [Value::Array(_)] => p.push(format!("schema {path}: a list may not hold a list")),
            [inner] => check_schema_node(p, &format!("{path}[]"), inner, depth),
            _ => p.push(format!(
                "schema {path}: a list must hold exactly one element type"
            )),
        },
        Value::Object(o) => {
            if depth + 1 > 2 {
                p.push(format!("schema {path}: nested deeper than 2 levels"));
            }
            for (k, v) in o {
                check_schema_node(p, &format!("{path}.{k}"), v, depth + 1);
            }
        }
        other => p.push(format!(
            "schema {path}: {other} is not a type, list or mapping"
        )),
    }
}

/// Validates `options` against `schema` like `AppOptions.__call__`, but strictly: unknown keys
/// and values that only coerce (a number for a string) are problems too.
pub fn validate_options(schema: &Value, options: &Value) -> Vec<String> {
    let mut p = Vec::new();
    validate_dict(&mut p, "", schema, options);
    p
}

fn validate_element(p: &mut Vec<String>, path: &str, typ: &Value, value: &Value) {
    match typ {
        Value::Array(t) => match (t.first(), value.as_array()) {
            (Some(inner), Some(items)) => {
                for (i, item) in items.iter().enumerate() {
                    validate_element(p, &format!("{path}[{i}]"), inner, item);
                }
            }
            _ => p.push(format!("{path}: expected a list, found {value}")),
        },
        Value::Object(_) => validate_dict(p, path, typ, value),
        Value::String(t) => {
            if let Err(e) = validate_single(t, value) {
                p.push(format!("{path}: {e}"));
            }
        }
        _ => p.push(format!("{path}: bad schema node {typ}")),
    }
}

fn validate_dict(p: &mut Vec<String>, path: &str, typ: &Value, value: &Value) {
    let (Some(typ), Some(value)) = (typ.as_object(), value.as_object()) else {
        p.push(format!("{path}: expected a mapping, found {value}"));
        return;
    };
    let join = |k: &str| {
        if path.is_empty() {
            k.to_owned()
        } else {
            format!("{path}.{k}")
        }
    };
    for (k, v) in value {
        match typ.get(k) {
            Some(t) => validate_element(p, &join(k), t, v),
            None => p.push(format!("{}: not in the schema", join(k))),
        }
    }
    for (k, t) in typ {
        // `_check_missing_options`: only a type string (or a list of one) ending in `?` may
        // be left out; a mapping or a list of mappings must be present.
        let leaf = match t {
            Value::Array(a) => a.first().unwrap_or(t),
            _ => t,
        };
        let optional = leaf.as_str().is_some_and(|s| s.ends_with('?'));
        if !value.contains_key(k) && !optional {
            p.push(format!("{}: required but missing", join(k)));
        }
    }
}

fn validate_single(typ: &str, value: &Value) -> Result<(), String> {
    let c = SCHEMA_ELEMENT
        .captures(typ)
        .ok_or_else(|| format!("unknown type {typ:?}"))?;
    let num = |name: &str| c.name(name).and_then(|m| m.as_str().parse::<f64>().ok());
    let in_range = |x: f64, lo: &str, hi: &str| {
        num(lo).is_none_or(|l| x >= l) && num(hi).is_none_or(|h| x <= h)
    };
    let bad = || Err(format!("{value} is not a valid {typ}"));
    if value.is_null() {
        return Err("null is not allowed; leave the key out".into());
    }
    let base = typ.split(['(', '?']).next().unwrap_or_default();
    match base {
        "str" | "password" => match value.as_str() {
            Some(s)
                if in_range(s.chars().count() as f64, "s_min", "s_max")
                    && in_range(s.chars().count() as f64, "p_min", "p_max") =>
            {
                Ok(())
            }
            _ => bad(),
        },
        "int" => match value.as_i64() {
            Some(i) if in_range(i as f64, "i_min", "i_max") => Ok(()),
            _ => bad(),
        },
        "float" => match value.as_f64() {
            Some(f) if in_range(f, "f_min", "f_max") => Ok(()),
            _ => bad(),
        },
        "bool" => {
            if value.is_boolean() {
                Ok(())
            } else {
                bad()
            }
        }
        "port" => match value.as_i64() {
            Some(1..=65535) => Ok(()),
            _ => bad(),
        },
        "email" => match value.as_str() {
            Some(s)
                if s.split_once('@')
                    .is_some_and(|(a, b)| !a.is_empty() && b.contains('.')) =>
            {
                Ok(())
            }
            _ => bad(),
        },
        "url" => match value.as_str() {
            Some(s)
                if Regex::new(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#\s]+")
                    .unwrap()
                    .is_match(s) =>
            {
                Ok(())
            }
            _ => bad(),
        },
        "device" => {
            if value.is_string() {
                Ok(())
            } else {
                bad()
            }
        }
        "match" => {
            // `vol.Match` uses Python's re.match: anchored at the start only.
            let pattern = c.name("match").map(|m| m.as_str()).unwrap_or_default();
            let re = Regex::new(&format!("^(?:{pattern})")).map_err(|e| e.to_string())?;
            match value.as_str() {
                Some(s) if re.is_match(s) => Ok(()),
                _ => bad(),
            }
        }
        "list" => {
            let choices = c.name("list").map(|m| m.as_str()).unwrap_or_default();
            match value.as_str() {
                Some(s) if choices.split('|').any(|x| x == s) => Ok(()),
                _ => bad(),
            }
        }
        _ => Err(format!("unknown type {typ:?}")),
    }
}
