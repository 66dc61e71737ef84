//! What the Dahua and Hikvision event sources share: the shape of a vendor rule (a code, the
//! data it needs, the kind it makes), the pure function that applies a table of them, the
//! "exactly one ring per press" window, and bounded JSON flattening into [`Items`].
//!
//! Why not [`crate::rules::Rule`]: its [`crate::rules::Read`] reads a state out of one data
//! item as a boolean, and its [`Timing`] is fixed per rule. A vendor code carries its state
//! beside the data (Dahua `action=Start|Stop|Pulse`, Hikvision `eventState`), and the same
//! Dahua code arrives as a state (Start/Stop) on one model and as a pulse on another, so the
//! timing is decided per message. A vendor rule therefore only says *which kind* a code makes
//! (with data conditions and an object-type map); the vendor parser supplies the [`Edge`].

use std::time::Duration;

use tokio::time::Instant;

use crate::event::{Items, Kind};
use crate::onvif::Notification;
use crate::rules::Timing;

/// How long after the first ring code of a press further ring codes of the same camera are the
/// same press. One Amcrest press sends two to four ring codes within a second (python-amcrest#137,
/// rroller/dahua#52); the reference suggests merging within about 3 s.
pub const RING_WINDOW: Duration = Duration::from_secs(3);

/// Most items flattened out of one JSON document.
pub const MAX_JSON_ITEMS: usize = 64;
/// Longest item value kept from JSON, in bytes (cut at a character boundary).
pub const MAX_JSON_VALUE: usize = 256;
/// Deepest JSON nesting flattened (deeper values are skipped; serde_json itself stops at 128).
pub const MAX_JSON_DEPTH: usize = 8;

/// The state a vendor message reports, read by its parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// Rising edge of a state the device clears itself (Dahua Start, Hikvision active).
    Start,
    /// Falling edge (Dahua Stop, Hikvision inactive).
    Stop,
    /// An occurrence with no falling edge (Dahua Pulse).
    Pulse,
}

/// Which kind a rule makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindFrom {
    /// Always this kind.
    Fixed(Kind),
    /// By an object-type data item (the first of `items` present, any case): the mapped kind,
    /// or `otherwise` when the item is missing or names no class of the map.
    Object {
        /// Data item names to look at, in order.
        items: &'static [&'static str],
        /// Class name (any case) to kind.
        map: &'static [(&'static str, Kind)],
        /// The kind when no class matches.
        otherwise: Kind,
    },
}

/// One record of a vendor table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeRule {
    /// The code (Dahua `Code`, Hikvision `eventType`), ASCII case ignored.
    pub code: &'static str,
    /// Edges the rule applies to; other edges fall through to the next rule.
    pub edges: &'static [Edge],
    /// Data items that must each hold one of their values (any case, trimmed).
    pub when: &'static [(&'static str, &'static [&'static str])],
    /// The kind made.
    pub kind: KindFrom,
    /// Whether the device clears the state itself ([`Timing::Pulse`]: the per-kind hold does).
    /// [`Edge::Pulse`] messages are always pulses.
    pub timing: Timing,
    /// A code that reports a state in its data (a door's `Status=Open|Close`): the data item
    /// and the values that mean active. The message then sets that state, whatever its edge,
    /// and nothing clears it but the next report. `None`: the edge gives the state.
    pub state: Option<(&'static str, &'static [&'static str])>,
    /// Where the knowledge comes from.
    pub evidence: &'static str,
}

/// Every edge.
pub const ALL_EDGES: &[Edge] = &[Edge::Start, Edge::Stop, Edge::Pulse];
/// Only a rising edge or a pulse.
pub const RISING: &[Edge] = &[Edge::Start, Edge::Pulse];

/// What a vendor table makes of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Derived {
    /// The kind.
    pub kind: Kind,
    /// The state after the message.
    pub active: bool,
    /// Whether the device clears the state itself.
    pub timing: Timing,
    /// Index of the deciding rule in its table; `None`: no rule knew the code (kind other).
    pub rule: Option<usize>,
}

/// Applies `table` to a message with `code`, `edge` and `data`: the first rule whose code,
/// edge and conditions hold decides; with none, the message is kind `other` (published,
/// never dropped).
pub fn derive(table: &[CodeRule], code: &str, edge: Edge, data: &Items) -> Derived {
    let found = table.iter().enumerate().find(|(_, r)| {
        r.code.eq_ignore_ascii_case(code.trim())
            && r.edges.contains(&edge)
            && r.when.iter().all(|(item, values)| {
                lookup(data, item)
                    .is_some_and(|v| values.iter().any(|w| v.trim().eq_ignore_ascii_case(w)))
            })
    });
    let (kind, timing, rule) = match found {
        Some((i, r)) => (kind_of(r.kind, data), r.timing, Some(i)),
        None => (Kind::Other, Timing::State, None),
    };
    if let Some((item, on)) = found.and_then(|(_, r)| r.state) {
        let active =
            lookup(data, item).is_some_and(|v| on.iter().any(|w| v.trim().eq_ignore_ascii_case(w)));
        return Derived {
            kind,
            active,
            timing: Timing::State,
            rule,
        };
    }
    Derived {
        kind,
        active: edge != Edge::Stop,
        timing: match (edge, timing) {
            (_, Timing::Pulse(_)) => timing,
            (Edge::Pulse, _) => Timing::Pulse(crate::rules::default_hold(kind)),
            _ => timing,
        },
        rule,
    }
}

fn kind_of(from: KindFrom, data: &Items) -> Kind {
    match from {
        KindFrom::Fixed(k) => k,
        KindFrom::Object {
            items,
            map,
            otherwise,
        } => items
            .iter()
            .find_map(|i| lookup(data, i))
            .and_then(|v| {
                map.iter()
                    .find(|(class, _)| v.trim().eq_ignore_ascii_case(class))
            })
            .map_or(otherwise, |(_, k)| *k),
    }
}

/// An item by exact name, else ignoring case: Dahua's `action` and its JSON `Action` differ
/// only in case.
fn lookup<'a>(data: &'a Items, name: &str) -> Option<&'a str> {
    data.get(name).or_else(|| data.get_ignore_case(name))
}

/// Whether a derived result of a notification is a new ring: kind ring on a rising edge.
pub fn is_ring(d: &Derived) -> bool {
    d.kind == Kind::Ring && d.active
}

/// Exactly one ring per press: the first ring code of a camera opens a window of
/// [`RING_WINDOW`]; ring codes inside it are the same press. Not extended by later codes, so a
/// visitor who presses again after the window rings again.
#[derive(Debug, Clone, Default)]
pub struct RingWindow {
    opened: Option<Instant>,
}

impl RingWindow {
    /// A window that has seen no ring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a ring code at `at` is a new press (and if so, opens the window there).
    pub fn admit(&mut self, at: Instant) -> bool {
        match self.opened {
            Some(start) if at.saturating_duration_since(start) < RING_WINDOW => false,
            _ => {
                self.opened = Some(at);
                true
            }
        }
    }

    /// When the open window ends, if one is open at `now`.
    pub fn open_until(&self, now: Instant) -> Option<Instant> {
        self.opened
            .map(|s| s + RING_WINDOW)
            .filter(|end| *end > now)
    }
}

/// The 1-based channel a vendor notification is from: Dahua's 0-based `index` plus one,
/// Hikvision's `channelID` as sent. `None` when the message names none.
pub fn channel_of(n: &Notification) -> Option<u32> {
    if let Some(index) = n.source.get("index") {
        return index
            .trim()
            .parse::<u32>()
            .ok()
            .and_then(|i| i.checked_add(1));
    }
    n.source.get("channelID")?.trim().parse().ok()
}

/// Whether a notification belongs to a camera configured with `channel` (`None`: every
/// channel does). A message that names no channel belongs to every camera of the device.
pub fn on_channel(n: &Notification, channel: Option<u32>) -> bool {
    match (channel, channel_of(n)) {
        (Some(want), Some(have)) => want == have,
        _ => true,
    }
}

/// Flattens a JSON value into items: object keys joined with `.`, array elements as `[i]`,
/// strings unquoted, other scalars as JSON text, `null` as empty. At most [`MAX_JSON_ITEMS`]
/// items, values cut to [`MAX_JSON_VALUE`] bytes, nesting beyond [`MAX_JSON_DEPTH`] skipped.
pub fn flatten_json(value: &serde_json::Value, out: &mut Items) {
    flatten(value, &mut String::new(), 0, out);
}

fn flatten(value: &serde_json::Value, path: &mut String, depth: usize, out: &mut Items) {
    use serde_json::Value;
    if out.0.len() >= MAX_JSON_ITEMS || depth > MAX_JSON_DEPTH {
        return;
    }
    let len = path.len();
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(cut(k, MAX_JSON_VALUE));
                flatten(v, path, depth + 1, out);
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push_str(&format!("[{i}]"));
                flatten(v, path, depth + 1, out);
                path.truncate(len);
            }
        }
        scalar => {
            let text = match scalar {
                Value::String(s) => cut(s, MAX_JSON_VALUE).to_owned(),
                Value::Null => String::new(),
                other => cut(&other.to_string(), MAX_JSON_VALUE).to_owned(),
            };
            let name = if path.is_empty() { "value" } else { path };
            out.0.push((name.to_owned(), text));
        }
    }
}

/// `text` cut to at most `max` bytes at a character boundary.
pub fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The code a vendor notification carries: its topic without the `dahua:`/`hikvision:` prefix.
pub fn code_of(n: &Notification) -> &str {
    n.topic.split_once(':').map_or(&n.topic, |(_, code)| code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_count_from_one_on_both_vendors() {
        let with = |name: &str, value: &str| Notification {
            source: Items(vec![(name.to_owned(), value.to_owned())]),
            ..Default::default()
        };
        assert_eq!(channel_of(&with("index", "0")), Some(1));
        assert_eq!(channel_of(&with("channelID", "2")), Some(2));
        assert_eq!(channel_of(&with("index", "x")), None);
        assert_eq!(channel_of(&Notification::default()), None);
        assert!(on_channel(&with("index", "1"), Some(2)));
        assert!(!on_channel(&with("index", "0"), Some(2)));
        assert!(on_channel(&with("channelID", "3"), None));
        assert!(on_channel(&Notification::default(), Some(4)));
    }

    fn items(pairs: &[(&str, &str)]) -> Items {
        Items(
            pairs
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect(),
        )
    }

    const TABLE: &[CodeRule] = &[
        CodeRule {
            code: "Press",
            edges: RISING,
            when: &[("Action", &["Invite"])],
            kind: KindFrom::Fixed(Kind::Ring),
            timing: Timing::State,
            state: None,
            evidence: "test",
        },
        CodeRule {
            code: "Cross",
            edges: ALL_EDGES,
            when: &[],
            kind: KindFrom::Object {
                items: &["Object.ObjectType", "ObjectType"],
                map: &[("Human", Kind::Person)],
                otherwise: Kind::Intrusion,
            },
            timing: Timing::State,
            state: None,
            evidence: "test",
        },
    ];

    #[test]
    fn a_rule_applies_only_when_its_data_condition_holds() {
        let ring = derive(TABLE, "press", Edge::Pulse, &items(&[("Action", "invite")]));
        assert_eq!(
            (ring.kind, ring.active, ring.rule),
            (Kind::Ring, true, Some(0))
        );
        assert!(matches!(ring.timing, Timing::Pulse(_)));
        let hangup = derive(TABLE, "Press", Edge::Pulse, &items(&[("Action", "Hangup")]));
        assert_eq!((hangup.kind, hangup.rule), (Kind::Other, None));
    }

    #[test]
    fn a_stop_edge_falls_through_a_rule_for_rising_edges_only() {
        let stop = derive(TABLE, "Press", Edge::Stop, &items(&[("Action", "Invite")]));
        assert_eq!((stop.kind, stop.active), (Kind::Other, false));
    }

    #[test]
    fn object_type_picks_the_kind_and_defaults_otherwise() {
        let nested = items(&[("Object.ObjectType", "Human")]);
        assert_eq!(
            derive(TABLE, "Cross", Edge::Start, &nested).kind,
            Kind::Person
        );
        let top = items(&[("ObjectType", "human")]);
        assert_eq!(derive(TABLE, "Cross", Edge::Start, &top).kind, Kind::Person);
        let car = items(&[("ObjectType", "Vehicle")]);
        assert_eq!(
            derive(TABLE, "Cross", Edge::Stop, &car).kind,
            Kind::Intrusion
        );
        assert!(!derive(TABLE, "Cross", Edge::Stop, &car).active);
    }

    #[test]
    fn codes_inside_the_window_are_the_same_press() {
        let t0 = Instant::now();
        let mut w = RingWindow::new();
        assert!(w.admit(t0));
        assert!(!w.admit(t0 + Duration::from_millis(300)));
        assert!(!w.admit(t0 + RING_WINDOW - Duration::from_millis(1)));
        assert_eq!(w.open_until(t0), Some(t0 + RING_WINDOW));
        assert!(w.admit(t0 + RING_WINDOW));
        assert_eq!(w.open_until(t0 + RING_WINDOW * 3), None);
    }

    #[test]
    fn the_window_is_not_extended_by_codes_inside_it() {
        let t0 = Instant::now();
        let mut w = RingWindow::new();
        assert!(w.admit(t0));
        assert!(!w.admit(t0 + Duration::from_secs(2)));
        assert!(w.admit(t0 + Duration::from_millis(3100)));
    }

    #[test]
    fn json_flattens_into_bounded_dotted_items() {
        let v: serde_json::Value = serde_json::from_str(
            r#"{"Action":"Invite","CallSrcMask":4,"Object":{"ObjectType":"Human"},"RegionName":["Door"],"X":null}"#,
        )
        .unwrap();
        let mut out = Items::default();
        flatten_json(&v, &mut out);
        assert_eq!(out.get("Action"), Some("Invite"));
        assert_eq!(out.get("CallSrcMask"), Some("4"));
        assert_eq!(out.get("Object.ObjectType"), Some("Human"));
        assert_eq!(out.get("RegionName[0]"), Some("Door"));
        assert_eq!(out.get("X"), Some(""));

        let many: Vec<u32> = (0..1000).collect();
        let mut out = Items::default();
        flatten_json(
            &serde_json::json!({ "a": many, "b": "é".repeat(500) }),
            &mut out,
        );
        assert_eq!(out.0.len(), MAX_JSON_ITEMS);
        let mut out = Items::default();
        flatten_json(&serde_json::json!({ "b": "é".repeat(500) }), &mut out);
        assert!(out.0[0].1.len() <= MAX_JSON_VALUE);
    }

    #[test]
    fn deep_json_is_skipped_not_recursed() {
        let mut deep = serde_json::json!("leaf");
        for _ in 0..20 {
            deep = serde_json::json!({ "k": deep });
        }
        let mut out = Items::default();
        flatten_json(&deep, &mut out);
        assert!(out.is_empty());
    }
}
