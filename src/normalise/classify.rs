//! Pure classification: what the rules make of one [`Notification`], with no state and no
//! clock. The `events` CLI command and [`super::Normaliser`] share it.

use crate::config::{RuleAction, UserRule};
use crate::event::{Items, Kind, Operation};
use crate::onvif::Notification;
use crate::rules::{RULES, Read, Rule, Timing, default_hold};

/// What one rule made of a message, for one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classified {
    /// The kind.
    pub kind: Kind,
    /// The state after the message; `None`: a value with no state (a counter or timestamp on
    /// an `other` topic).
    pub active: Option<bool>,
    /// Whether the device clears the state itself.
    pub timing: Timing,
    /// Which rule decided.
    pub origin: Origin,
}

/// Which rule decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The camera's user rule at this index.
    User(usize),
    /// A digital input whose Source token equals the camera's `ring_input`.
    RingInput,
    /// The built-in rule at this index of [`RULES`].
    Builtin(usize),
    /// A vendor event source's table (Dahua codes, Hikvision event types): the row at this
    /// index of [`crate::dahua::rules::RULES`] or [`crate::hikvision::rules::RULES`].
    Vendor(Vendor, usize),
    /// No rule knows the topic.
    Unknown,
}

/// Which vendor table decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    /// [`crate::dahua::rules::RULES`].
    Dahua,
    /// [`crate::hikvision::rules::RULES`].
    Hikvision,
    /// [`crate::doorbird::rules::RULES`].
    DoorBird,
}

impl Vendor {
    /// The vendor whose event source makes notifications on `topic` (`dahua:<Code>`,
    /// `hikvision:<eventType>`, `doorbird:<event>`).
    pub fn of_topic(topic: &str) -> Option<Vendor> {
        if topic.starts_with(crate::dahua::codes::TOPIC_PREFIX) {
            Some(Vendor::Dahua)
        } else if topic.starts_with(crate::hikvision::alert::TOPIC_PREFIX) {
            Some(Vendor::Hikvision)
        } else if topic.starts_with(crate::doorbird::TOPIC_PREFIX) {
            Some(Vendor::DoorBird)
        } else {
            None
        }
    }

    /// The evidence of row `index` of this vendor's table.
    pub fn evidence(self, index: usize) -> &'static str {
        let table = match self {
            Vendor::Dahua => crate::dahua::rules::RULES,
            Vendor::Hikvision => crate::hikvision::rules::RULES,
            Vendor::DoorBird => crate::doorbird::rules::RULES,
        };
        table.get(index).map_or("?", |r| r.evidence)
    }
}

/// A vendor source's notification through its own table: one result, kind `other` (origin
/// unknown) when no row knows the code.
fn vendor(n: &Notification, v: Vendor) -> Classified {
    let d = match v {
        Vendor::Dahua => crate::dahua::rules::classify(n),
        Vendor::Hikvision => crate::hikvision::rules::classify(n),
        Vendor::DoorBird => crate::doorbird::rules::classify(n),
    };
    Classified {
        kind: d.kind,
        active: Some(d.active && n.operation != Some(Operation::Deleted)),
        timing: d.timing,
        origin: d.rule.map_or(Origin::Unknown, |i| Origin::Vendor(v, i)),
    }
}

/// What the rules make of `n`: user rules first (the first match decides; `ignore` gives
/// nothing), then `ring_input` turns a matching digital input into a ring, then the first
/// matching built-in rule, and an unknown topic gives one `other` result.
pub fn classify(
    n: &Notification,
    model: Option<&str>,
    user_rules: &[UserRule],
    ring_input: Option<&str>,
) -> Vec<Classified> {
    let deleted = n.operation == Some(Operation::Deleted);
    if let Some((i, rule)) = user_rules
        .iter()
        .enumerate()
        .find(|(_, r)| user_rule_matches(r, n, deleted))
    {
        return match rule.action {
            RuleAction::Ignore => Vec::new(),
            RuleAction::Kind(kind) => vec![generic(n, kind, Origin::User(i))],
        };
    }
    let mut out = if let Some(v) = Vendor::of_topic(&n.topic) {
        vec![vendor(n, v)]
    } else if deleted {
        builtin_deleted(n, model)
    } else {
        builtin(n, model)
    };
    if let Some(token) = ring_input.map(str::trim).filter(|t| !t.is_empty()) {
        let matches = n
            .source
            .0
            .iter()
            .any(|(_, v)| v.trim().eq_ignore_ascii_case(token));
        for c in out.iter_mut().filter(|c| c.kind == Kind::Input && matches) {
            c.kind = Kind::Ring;
            c.origin = Origin::RingInput;
        }
    }
    if out.is_empty() {
        out.push(generic(n, Kind::Other, Origin::Unknown));
    }
    out
}

/// The kinds a bare topic may produce (for GetEventProperties listings). `items` are the
/// Source and Data item names the device declares for it; when empty, rules that need an item
/// are assumed to apply, except those with a `*` pattern (Tapo's item-named detectors would
/// otherwise claim every RuleEngine topic). Empty result: a user rule ignores the topic.
pub fn kinds_for_topic(
    topic: &str,
    items: &[&str],
    model: Option<&str>,
    user_rules: &[UserRule],
    ring_input: Option<&str>,
) -> Vec<Kind> {
    let has = |name: &str| items.iter().any(|i| i.eq_ignore_ascii_case(name));
    let mut kinds = Vec::new();
    for rule in user_rules.iter().filter(|r| glob(&r.topic, topic)) {
        match (rule.item.as_deref(), rule.action) {
            (None, RuleAction::Ignore) => return kinds,
            (None, RuleAction::Kind(k)) => {
                kinds.push(k);
                return kinds;
            }
            (Some(item), RuleAction::Kind(k)) if items.is_empty() || has(item) => kinds.push(k),
            _ => {}
        }
    }
    for rule in RULES
        .iter()
        .filter(|r| glob(r.topic, topic) && model_ok(r, model))
    {
        let item_ok = match rule.item {
            None => true,
            Some(_) if items.is_empty() => !rule.topic.contains('*'),
            Some(item) => has(item),
        };
        if item_ok {
            kinds.extend(read_kinds(rule.read));
        }
    }
    if ring_input.is_some() && kinds.contains(&Kind::Input) {
        kinds.push(Kind::Ring);
    }
    if kinds.is_empty() {
        kinds.push(Kind::Other);
    }
    kinds.sort();
    kinds.dedup();
    kinds
}

fn read_kinds(read: Read) -> Vec<Kind> {
    match read {
        Read::Bool(k) | Read::OneOf(k, _) | Read::NonEmpty(k) | Read::Any(k) | Read::Generic(k) => {
            vec![k]
        }
        Read::Classes { map, .. } | Read::ElementClasses(map) => map.iter().map(|m| m.1).collect(),
    }
}

/// Whether a user rule applies to `n`. A Deleted message carries no Data, so for it the topic
/// alone decides.
fn user_rule_matches(rule: &UserRule, n: &Notification, deleted: bool) -> bool {
    if !glob(&rule.topic, &n.topic) && !glob(&rule.topic, &n.raw_topic) {
        return false;
    }
    let Some(item) = rule.item.as_deref().filter(|_| !deleted) else {
        return true;
    };
    let value = n
        .source
        .get_ignore_case(item)
        .or_else(|| n.data.get_ignore_case(item))
        .or_else(|| n.key.get_ignore_case(item));
    match (value, rule.value.as_deref()) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(v), Some(want)) => v.trim().eq_ignore_ascii_case(want.trim()),
    }
}

fn model_ok(rule: &Rule, model: Option<&str>) -> bool {
    match (rule.model, model) {
        (None, _) => true,
        (Some(want), Some(have)) => contains_ignore_case(have, want),
        (Some(_), None) => false,
    }
}

/// Whether `rule`'s topic, model and source conditions hold for `n` (its item aside).
fn applies(rule: &Rule, n: &Notification, model: Option<&str>) -> bool {
    if !glob(rule.topic, &n.topic) || !model_ok(rule, model) {
        return false;
    }
    rule.source.is_none_or(|(name, value)| {
        n.source
            .get_ignore_case(name)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case(value))
    })
}

/// A Deleted message (no Data: the rule or property instance is gone): every kind the rules of
/// its topic can make, inactive. Rules with a `*` pattern that need an item (Tapo's detectors,
/// named by item across all of `RuleEngine`) apply only when the item is present, as in
/// [`kinds_for_topic`]; a diagnostic (`other`) stays a value with no state.
fn builtin_deleted(n: &Notification, model: Option<&str>) -> Vec<Classified> {
    let mut out: Vec<Classified> = Vec::new();
    for (i, rule) in RULES.iter().enumerate() {
        let item_ok = match rule.item {
            Some(item) if rule.topic.contains('*') => n.data.get_ignore_case(item).is_some(),
            _ => true,
        };
        if !item_ok || !applies(rule, n, model) {
            continue;
        }
        for kind in read_kinds(rule.read) {
            if out.iter().any(|c| c.kind == kind) {
                continue;
            }
            out.push(Classified {
                kind,
                active: (kind != Kind::Other).then_some(false),
                timing: rule.timing,
                origin: Origin::Builtin(i),
            });
        }
    }
    out
}

fn builtin(n: &Notification, model: Option<&str>) -> Vec<Classified> {
    for (i, rule) in RULES.iter().enumerate() {
        if !applies(rule, n, model) {
            continue;
        }
        let out = read(rule, n, Origin::Builtin(i));
        if !out.is_empty() {
            return out;
        }
    }
    Vec::new()
}

/// Applies one rule's reading; empty when its item is missing or unreadable.
fn read(rule: &Rule, n: &Notification, origin: Origin) -> Vec<Classified> {
    let one = |kind, active: Option<bool>| {
        active.map_or_else(Vec::new, |a| {
            vec![Classified {
                kind,
                active: Some(a),
                timing: rule.timing,
                origin,
            }]
        })
    };
    let item = rule.item.and_then(|name| n.data.get_ignore_case(name));
    if rule.item.is_some() && item.is_none() && !matches!(rule.read, Read::ElementClasses(_)) {
        return Vec::new();
    }
    match rule.read {
        Read::Bool(k) => one(k, item.map_or_else(|| generic_bool(&n.data), parse_bool)),
        Read::OneOf(k, values) => one(
            k,
            item.filter(|v| values.iter().any(|w| v.trim().eq_ignore_ascii_case(w)))
                .map(|_| occurrence(n)),
        ),
        Read::NonEmpty(k) => one(k, item.map(|v| !v.trim().is_empty() && occurrence(n))),
        Read::Any(k) => one(k, Some(occurrence(n))),
        Read::Classes { map, gate } => {
            let gate_open = gate
                .and_then(|g| n.data.get_ignore_case(g))
                .is_none_or(|v| parse_bool(v) != Some(false));
            let listed: Vec<&str> = item
                .unwrap_or("")
                .split([' ', ',', '\t', '\n'])
                .filter(|c| !c.is_empty())
                .collect();
            per_kind(map, |class| {
                gate_open && listed.iter().any(|l| l.eq_ignore_ascii_case(class))
            })
            .into_iter()
            .flat_map(|(k, a)| one(k, Some(a)))
            .collect()
        }
        Read::ElementClasses(map) => {
            let Some(element) = rule.item.and_then(|name| n.element(name)) else {
                return Vec::new();
            };
            let found: Vec<(&str, bool)> = element
                .leaves()
                .filter_map(|(name, text)| Some((name, parse_bool(text)?)))
                .collect();
            if found.is_empty() {
                return Vec::new();
            }
            per_kind(map, |class| {
                found
                    .iter()
                    .any(|(name, on)| *on && name.eq_ignore_ascii_case(class))
            })
            .into_iter()
            .flat_map(|(k, a)| one(k, Some(a)))
            .collect()
        }
        Read::Generic(k) => vec![generic(n, k, origin)],
    }
}

/// One (kind, active) per distinct kind of `map`, active when any of its classes is on.
fn per_kind(map: &[(&str, Kind)], on: impl Fn(&str) -> bool) -> Vec<(Kind, bool)> {
    let mut out: Vec<(Kind, bool)> = Vec::new();
    for (class, kind) in map {
        let active = on(class);
        match out.iter_mut().find(|(k, _)| k == kind) {
            Some(entry) => entry.1 |= active,
            None => out.push((*kind, active)),
        }
    }
    out
}

/// The reading for user rules, [`Read::Generic`] and unknown topics: a boolean-looking Data
/// item gives a state; without one the message is an occurrence, or for `other` a value.
fn generic(n: &Notification, kind: Kind, origin: Origin) -> Classified {
    let (active, timing) = match generic_bool(&n.data) {
        Some(b) => (Some(b), Timing::State),
        None if kind == Kind::Other => (None, Timing::State),
        None => (Some(occurrence(n)), Timing::Pulse(default_hold(kind))),
    };
    Classified {
        kind,
        active,
        timing,
        origin,
    }
}

/// Whether a message without a boolean is a new occurrence: not when it only reports the
/// initial state or a deletion.
fn occurrence(n: &Notification) -> bool {
    !matches!(
        n.operation,
        Some(Operation::Initialized | Operation::Deleted)
    )
}

/// The first Data item that reads as a boolean, skipping ids, counts and measurements
/// (`ObjectId` = `0` is an id, not "off").
fn generic_bool(data: &Items) -> Option<bool> {
    data.0
        .iter()
        .filter(|(name, _)| {
            let lower = name.to_ascii_lowercase();
            !(lower.ends_with("id") || matches!(lower.as_str(), "count" | "value" | "status"))
        })
        .find_map(|(_, v)| parse_bool(v))
}

/// `true`/`false`, `1`/`0`, `active`/`inactive`, `on`/`off`, in any case.
pub fn parse_bool(value: &str) -> Option<bool> {
    let v = value.trim();
    let is = |w: &str| v.eq_ignore_ascii_case(w);
    if is("true") || is("1") || is("active") || is("on") {
        Some(true)
    } else if is("false") || is("0") || is("inactive") || is("off") {
        Some(false)
    } else {
        None
    }
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .to_ascii_lowercase()
        .contains(&needle.to_ascii_lowercase())
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters and ASCII case
/// is ignored. Hand-written: one wildcard needs no glob crate (greedy match with backtracking
/// to the last `*`, linear in practice).
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi].eq_ignore_ascii_case(&t[ti]) {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches() {
        assert!(glob("tns1:RuleEngine/*", "tns1:RuleEngine/X/Y"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(glob("TNS1:device/*/port", "tns1:Device/tnsaxis:IO/Port"));
        assert!(!glob("a*b", "aXXc"));
        assert!(!glob("abc", "ab"));
        assert!(!glob("ab", "abc"));
    }

    #[test]
    fn booleans() {
        for (v, want) in [
            ("true", Some(true)),
            (" TRUE ", Some(true)),
            ("1", Some(true)),
            ("Active", Some(true)),
            ("ON", Some(true)),
            ("false", Some(false)),
            ("0", Some(false)),
            ("inactive", Some(false)),
            ("off", Some(false)),
            ("Ring", None),
            ("", None),
        ] {
            assert_eq!(parse_bool(v), want, "{v:?}");
        }
    }
}
