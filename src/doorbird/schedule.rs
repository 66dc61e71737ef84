//! The DoorBird schedule (`/bha-api/schedule.cgi`): which outputs an input (`doorbell` with
//! its button number, `motion`, `rfid`, ...) triggers, and when.
//!
//! GET answers an array of entries `{"input":..,"param":..,"output":[{"event":..,"param":..,
//! "enabled":..,"schedule":{..}}]}`; POST takes one such entry as JSON and replaces the
//! device's entry of the same input and param (doorbirdpy `schedule_entry.py`, DoorBird LAN
//! API 0.36: one POST per input). An output `event = "http"` with `param = <favorite id>`
//! calls that favorite. The bridge adds one such output, always on (the whole week, as Home
//! Assistant's DoorBird integration does), to each entry of the input, removes outputs that
//! point at its stale favorites, and keeps every other output as the device sent it.

use serde_json::{Value, json};

use super::{Error, Input, MAX_JSON_VALUE, cut};

/// At most this many schedule entries are read.
pub const MAX_ENTRIES: usize = 64;
/// At most this many outputs of one entry are read (and posted back).
pub const MAX_OUTPUTS: usize = 32;
/// The end of the weekly schedule: seconds from Sunday 00:00 to the next (Home Assistant's
/// earlier DoorBird integration: `add_weekday(0, 604800)`).
pub const WEEK_SECONDS: u32 = 604_800;

/// One schedule entry. Outputs are kept as the device sent them, so that posting the entry
/// back changes nothing but what the bridge meant to change.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The input (`doorbell`, `motion`, `rfid`, `fingerprint`).
    pub input: String,
    /// Its parameter: the doorbell button number, a transponder id; empty for motion.
    pub param: String,
    /// The outputs, at most [`MAX_OUTPUTS`].
    pub output: Vec<Value>,
}

impl Entry {
    /// A fresh entry of `input` with no outputs.
    pub fn new(input: Input) -> Entry {
        Entry {
            input: input.as_str().to_owned(),
            param: input.default_param().to_owned(),
            output: Vec::new(),
        }
    }

    /// The JSON posted to `schedule.cgi`.
    pub fn to_json(&self) -> String {
        json!({ "input": self.input, "param": self.param, "output": self.output }).to_string()
    }

    /// Whether an enabled output of this entry calls favorite `id`.
    pub fn calls(&self, id: &str) -> bool {
        self.output
            .iter()
            .any(|o| http_favorite(o) == Some(id) && enabled(o))
    }
}

/// The schedule's entries (at most [`MAX_ENTRIES`]); entries without an input are skipped.
pub fn parse(text: &str) -> Result<Vec<Entry>, Error> {
    let value: Value = serde_json::from_str(text).map_err(|e| Error::Json(e.to_string()))?;
    let list = value
        .as_array()
        .ok_or(Error::Shape("is not a list of schedule entries"))?;
    Ok(list
        .iter()
        .take(MAX_ENTRIES)
        .filter_map(|e| {
            let input = text_of(e.get("input")?)?;
            let param = e.get("param").and_then(text_of).unwrap_or_default();
            let output = e
                .get("output")
                .and_then(Value::as_array)
                .map(|o| o.iter().take(MAX_OUTPUTS).cloned().collect())
                .unwrap_or_default();
            Some(Entry {
                input,
                param,
                output,
            })
        })
        .collect())
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(cut(s.trim(), MAX_JSON_VALUE).to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The favorite id an output calls, if it is an HTTP output.
fn http_favorite(output: &Value) -> Option<&str> {
    if output.get("event").and_then(Value::as_str) != Some("http") {
        return None;
    }
    output.get("param").and_then(Value::as_str).map(str::trim)
}

/// DoorBird writes `"1"`, doorbirdpy sends `true`; a missing flag is on.
fn enabled(output: &Value) -> bool {
    match output.get("enabled") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.trim(), "1" | "true"),
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        Some(_) => false,
    }
}

/// The output that calls favorite `id` all week.
pub fn output_for(id: &str) -> Value {
    json!({
        "event": "http",
        "param": id,
        "enabled": "1",
        "schedule": { "weekdays": [ { "from": "0", "to": WEEK_SECONDS.to_string() } ] },
    })
}

/// Whether `input` is linked to favorite `id`: some entry of the input exists and every one
/// of them calls it (every doorbell button of a device with several rings).
pub fn linked(entries: &[Entry], input: Input, id: &str) -> bool {
    let mut of_input = entries
        .iter()
        .filter(|e| e.input == input.as_str())
        .peekable();
    of_input.peek().is_some() && of_input.all(|e| e.calls(id))
}

/// The entries to post so that `input` calls favorite `id` and no longer calls the favorites
/// in `stale` (the bridge's earlier ones, removed or about to be): each entry of the input
/// that needs a change, or a new entry when the device has none. Empty: nothing to change.
/// Outputs to other favorites and other events are kept as they are.
pub fn relink(entries: &[Entry], input: Input, id: &str, stale: &[String]) -> Vec<Entry> {
    let mut of_input: Vec<Entry> = entries
        .iter()
        .filter(|e| e.input == input.as_str())
        .cloned()
        .collect();
    if of_input.is_empty() {
        of_input.push(Entry::new(input));
    }
    of_input
        .into_iter()
        .filter_map(|mut entry| {
            let before = entry.output.clone();
            let mut ours_seen = false;
            entry.output.retain(|o| match http_favorite(o) {
                Some(fav) if fav == id => {
                    // One enabled output for our favorite; a disabled or duplicate one goes.
                    let keep = !ours_seen && enabled(o);
                    ours_seen |= keep;
                    keep
                }
                Some(fav) => !stale.iter().any(|s| s == fav),
                None => true,
            });
            if !ours_seen {
                if entry.output.len() >= MAX_OUTPUTS {
                    entry.output.pop();
                }
                entry.output.push(output_for(id));
            }
            (entry.output != before).then_some(entry)
        })
        .collect()
}

/// The schedule's URL on `base`.
pub fn url(base: &url::Url) -> Result<url::Url, url::ParseError> {
    base.join(super::SCHEDULE_PATH)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As `tests/fixtures/doorbird/schedule.json` (inline: the crate builds from `src/` alone).
    const LISTING: &str = r#"[{"input":"doorbell","param":"1","output":[{"event":"notify","param":"","enabled":"1","schedule":{"weekdays":[{"from":"0","to":"604800"}]}},{"event":"http","param":"0","enabled":"1","schedule":{"weekdays":[{"from":"0","to":"604800"}]}},{"event":"http","param":"1","enabled":"1","schedule":{"weekdays":[{"from":"0","to":"604800"}]}}]},{"input":"motion","param":"","output":[{"event":"http","param":"2","enabled":"1","schedule":{"weekdays":[{"from":"0","to":"604800"}]}}]},{"input":"rfid","param":"1A2B3C","output":[{"event":"relay","param":"1","enabled":"1","schedule":{"once":{"valid":1}}}]}]"#;

    #[test]
    fn the_listing_gives_every_entry_with_its_outputs() {
        let entries = parse(LISTING).unwrap();
        assert!(!entries.is_empty());
        let inputs: Vec<(&str, &str, usize)> = entries
            .iter()
            .map(|e| (e.input.as_str(), e.param.as_str(), e.output.len()))
            .collect();
        assert_eq!(
            inputs,
            [
                ("doorbell", "1", 3),
                ("motion", "", 1),
                ("rfid", "1A2B3C", 1)
            ]
        );
        assert!(entries[0].calls("1"));
        assert!(!entries[0].calls("notify"));
    }

    #[test]
    fn linking_replaces_the_stale_favorite_and_keeps_every_other_output() {
        let entries = parse(LISTING).unwrap();
        let stale = vec!["1".to_owned(), "2".to_owned()];
        let posts = relink(&entries, Input::Doorbell, "5", &stale);
        assert_eq!(posts.len(), 1);
        let post = &posts[0];
        assert_eq!(
            (post.input.as_str(), post.param.as_str()),
            ("doorbell", "1")
        );
        let events: Vec<(&str, &str)> = post
            .output
            .iter()
            .map(|o| (o["event"].as_str().unwrap(), o["param"].as_str().unwrap()))
            .collect();
        assert_eq!(
            events,
            [("notify", ""), ("http", "0"), ("http", "5")],
            "Home Assistant's favorite 0 stays, our stale 1 goes"
        );
        assert!(post.calls("5"));
        let motion = relink(&entries, Input::Motion, "6", &stale);
        assert_eq!(motion[0].output.len(), 1);
        assert!(motion[0].calls("6"));
    }

    #[test]
    fn a_linked_input_needs_no_change() {
        let entries = parse(LISTING).unwrap();
        assert!(linked(&entries, Input::Doorbell, "1"));
        assert!(relink(&entries, Input::Doorbell, "1", &[]).is_empty());
        assert!(!linked(&entries, Input::Motion, "1"));
    }

    #[test]
    fn a_device_without_the_input_gets_a_new_entry() {
        let posts = relink(&[], Input::Doorbell, "3", &[]);
        assert_eq!(posts.len(), 1);
        assert_eq!(
            (posts[0].input.as_str(), posts[0].param.as_str()),
            ("doorbell", "1")
        );
        let body: Value = serde_json::from_str(&posts[0].to_json()).unwrap();
        assert_eq!(body["output"][0]["event"], "http");
        assert_eq!(body["output"][0]["param"], "3");
        assert_eq!(body["output"][0]["schedule"]["weekdays"][0]["to"], "604800");
        assert!(!linked(&[], Input::Motion, "3"), "no entry is not linked");
        assert_eq!(relink(&[], Input::Motion, "3", &[])[0].param, "");
    }

    #[test]
    fn a_reused_id_is_linked_once_and_a_disabled_link_is_replaced() {
        // The device may give the new favorite the id of the stale one it just removed.
        let entries = parse(LISTING).unwrap();
        let posts = relink(&entries, Input::Doorbell, "1", &["1".to_owned()]);
        assert!(posts.is_empty(), "the entry already calls 1 once");
        let off = vec![Entry {
            input: "motion".into(),
            param: String::new(),
            output: vec![json!({"event": "http", "param": "4", "enabled": "0"})],
        }];
        assert!(!linked(&off, Input::Motion, "4"));
        let posts = relink(&off, Input::Motion, "4", &[]);
        assert_eq!(posts[0].output.len(), 1);
        assert!(posts[0].calls("4"));
    }

    #[test]
    fn a_schedule_is_read_within_bounds() {
        let outputs: Vec<Value> = (0..100).map(|i| output_for(&i.to_string())).collect();
        let entries: Vec<Value> = (0..200)
            .map(|_| json!({"input": "doorbell", "param": "1", "output": outputs}))
            .collect();
        let parsed = parse(&Value::Array(entries).to_string()).unwrap();
        assert_eq!(parsed.len(), MAX_ENTRIES);
        assert!(parsed.iter().all(|e| e.output.len() == MAX_OUTPUTS));
        let posts = relink(&parsed[..1], Input::Doorbell, "new", &[]);
        assert_eq!(posts[0].output.len(), MAX_OUTPUTS);
        assert!(posts[0].calls("new"));
        assert!(matches!(parse("{}"), Err(Error::Shape(_))));
        assert!(parse(r#"[{"param":"1"}]"#).unwrap().is_empty());
    }
}
