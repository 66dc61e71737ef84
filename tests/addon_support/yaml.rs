//! YAML as the Supervisor reads it: one document turned into JSON values, and a warning for
//! plain scalars where PyYAML (YAML 1.1, used by the Supervisor) and a YAML 1.2 reader differ.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};
use yaml_rust2::{Yaml, YamlLoader};

/// Parses YAML text (one document) into JSON values, as PyYAML and then json would see it.
pub fn yaml_to_json(text: &str) -> Result<Value, String> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| e.to_string())?;
    match docs.as_slice() {
        [doc] => convert(doc),
        _ => Err(format!("expected one YAML document, found {}", docs.len())),
    }
}

fn convert(y: &Yaml) -> Result<Value, String> {
    Ok(match y {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::Real(r) => Value::from(r.parse::<f64>().map_err(|e| format!("{r}: {e}"))?),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(a) => Value::Array(a.iter().map(convert).collect::<Result<_, _>>()?),
        Yaml::Hash(h) => {
            let mut map = Map::new();
            for (k, v) in h {
                let key = k.as_str().ok_or_else(|| format!("non-string key {k:?}"))?;
                map.insert(key.to_owned(), convert(v)?);
            }
            Value::Object(map)
        }
        Yaml::Alias(_) | Yaml::BadValue => return Err(format!("unsupported YAML node {y:?}")),
    })
}

/// Plain (unquoted) scalars that YAML 1.1 (PyYAML, which the Supervisor uses) reads as
/// something other than what a YAML 1.2 reader sees: `yes`/`no`/`on`/`off` booleans and
/// base-60 numbers such as `1:30`.
pub fn yaml11_ambiguities(text: &str) -> Vec<String> {
    struct Scan(Vec<String>);
    impl MarkedEventReceiver for Scan {
        fn on_event(&mut self, ev: Event, mark: Marker) {
            if let Event::Scalar(v, TScalarStyle::Plain, ..) = ev {
                let bool11 = [
                    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON",
                    "off", "Off", "OFF",
                ];
                static SEXAGESIMAL: LazyLock<Regex> = LazyLock::new(|| {
                    Regex::new(r"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$").unwrap()
                });
                if bool11.contains(&v.as_str()) || SEXAGESIMAL.is_match(&v) {
                    self.0.push(format!(
                        "line {}: plain scalar {v:?} means something else in YAML 1.1; quote it",
                        mark.line()
                    ));
                }
            }
        }
    }
    let mut scan = Scan(Vec::new());
    if let Err(e) = Parser::new_from_str(text).load(&mut scan, true) {
        scan.0.push(e.to_string());
    }
    scan.0
}
