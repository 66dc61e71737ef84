//! Notification -> [`Event`]s: rules, Initialized vs Changed, hold and auto-clear timers.
//!
//! [`Normaliser`] is pure and time-injected: the camera task calls [`Normaliser::handle`] for
//! each message, sleeps until [`Normaliser::next_deadline`] in its `select!` and then calls
//! [`Normaliser::expire`] (mini-redis `db.rs` style). No clock is read here.
//!
//! # Rules of the state machine
//!
//! - State is tracked per (kind, canonical topic, Source items): two inputs, two cameras'
//!   channels or a person and an animal from one message never mask each other. Within that,
//!   each distinct `tt:Key` (e.g. an `ObjectId`) is tracked, and the state is active while any
//!   key is active.
//! - `active` is the state after the message. `trigger` is true only when the state goes from
//!   inactive to active on a Changed message (or one without PropertyOperation).
//! - **Initialized** messages set the state but never trigger: a ring never fires from one,
//!   even with State=true (Reolink Package and Tapo LineCross are sent Initialized true).
//!   **Deleted** clears the key without a trigger.
//!   **Deleted** (the rule or property instance is gone, usually with no Data) is matched to
//!   the rules of its topic and clears that source's state: OFF, never a trigger.
//! - **A repeated `true` of a state while already active is not a second press**: no event,
//!   no trigger; it only pushes a pending auto-clear deadline further out.
//! - **Pulses** (values that mean "it happened" and are never cleared: line crossing
//!   `ObjectId`, the Mobotix bell, Tapo line crossing) are different: **every** Changed
//!   message is a new occurrence and triggers, active or not. Only a duplicate of the last
//!   occurrence (same topic, source, key and `UtcTime`, as redelivered after a resubscribe) is
//!   dropped. A pulse resets after its hold: camera `hold.<kind>`, else the rule's hold
//!   ([`crate::rules::HOLD_RING`] and friends). A `false` ends a pulse early.
//! - An event is returned when the state was unknown, changed, or triggered; repeats of a known
//!   state return nothing.
//! - **Auto-clear**: a state stays on at most camera `auto_clear.<kind>`, else the rule's
//!   built-in default (Uniview person), else for rings [`crate::rules::RING_AUTO_CLEAR`] (a
//!   lost falling edge must not swallow the next press), else forever.
//! - Expiry returns a falling edge (`active` false, `trigger` false, no camera time, no data).
//! - Values with no state (counters, timestamps on `other` topics) are passed on every time,
//!   with `active` = `trigger`: true for a Changed message on an unknown topic (something
//!   happened), false for known diagnostics (a CPU reading is not an occurrence).
//! - **Vendor sources** (`dahua:<Code>`, `hikvision:<eventType>` topics) are read through
//!   their own code tables ([`crate::dahua::rules`], [`crate::hikvision::rules`]) and then
//!   follow the same state rules. One press sends several ring codes (AD110: `_DoTalkAction_`
//!   and `CallNoAnswered`; KV6113: the call status and an `AccessControllerEvent`): only the
//!   first vendor ring of a [`crate::vendor::RING_WINDOW`] triggers.
//! - Unknown topics become kind `other` and are logged once per camera and topic at info.
//!
//! Event fields: `source` holds the Source items followed by the Key items; `data` the Data
//! SimpleItems followed by each ElementItem's items, named `<ElementItem>/<path>`
//! ([`crate::onvif::notification::ElementItem`]).

mod classify;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use tokio::time::Instant;

pub use classify::{Classified, Origin, Vendor, classify, glob, kinds_for_topic, parse_bool};

use crate::config::{CameraConfig, UserRule};
use crate::event::{CameraId, Event, Items, Kind, Operation};
use crate::onvif::Notification;
use crate::rules::{Timing, default_auto_clear};
use crate::vendor::RingWindow;

/// Most states tracked per camera; beyond it inactive states are forgotten first.
pub const MAX_STATES: usize = 1024;
/// Most active keys per state (objects inside a field).
pub const MAX_KEYS: usize = 64;
/// Most distinct unknown topics remembered for the once-per-topic log.
pub const MAX_LOGGED_TOPICS: usize = 1024;

/// The state of one (kind, topic, source).
#[derive(Debug)]
struct Slot {
    /// Active keys (joined Key items; empty string for none).
    active: BTreeSet<String>,
    /// When it clears by itself.
    deadline: Option<Instant>,
    /// For the falling edge made at expiry.
    source: Items,
}

type SlotId = (Kind, String, String);

/// Turns one camera's notifications into events; see the module docs for the rules.
#[derive(Debug)]
pub struct Normaliser {
    camera: CameraId,
    model: Option<String>,
    rules: Vec<UserRule>,
    ring_input: Option<String>,
    hold: BTreeMap<Kind, Duration>,
    auto_clear: BTreeMap<Kind, Duration>,
    slots: HashMap<SlotId, Slot>,
    /// Per pulse slot, the key and `UtcTime` of its last occurrence: a message equal to it is
    /// a redelivered duplicate, not a new press. Kept across [`Normaliser::reset`], since
    /// redelivery happens after a resubscribe.
    last_pulses: HashMap<SlotId, (String, String)>,
    /// Exactly one ring per press from vendor sources (several ring codes per press).
    vendor_rings: RingWindow,
    logged: HashSet<String>,
    unknown: u64,
}

impl Normaliser {
    /// A normaliser for `camera` (its user rules, ring input, holds and auto-clears).
    pub fn new(camera: &CameraConfig) -> Self {
        Self {
            camera: camera.id.clone(),
            model: None,
            rules: camera.rules.clone(),
            ring_input: camera.ring_input.clone(),
            hold: camera.hold.clone(),
            auto_clear: camera.auto_clear.clone(),
            slots: HashMap::new(),
            last_pulses: HashMap::new(),
            vendor_rings: RingWindow::new(),
            logged: HashSet::new(),
            unknown: 0,
        }
    }

    /// Sets the device model from GetDeviceInformation (model-specific rules use it).
    pub fn set_model(&mut self, model: Option<&str>) {
        self.model = model.map(str::to_owned);
    }

    /// How many messages had a topic no rule knows.
    pub fn unknown_count(&self) -> u64 {
        self.unknown
    }

    /// The events one notification makes, received at `now` (our clock) / `at` (monotonic).
    pub fn handle(&mut self, n: &Notification, now: jiff::Timestamp, at: Instant) -> Vec<Event> {
        let results = classify(
            n,
            self.model.as_deref(),
            &self.rules,
            self.ring_input.as_deref(),
        );
        let mut events = Vec::new();
        for c in results {
            if c.origin == Origin::Unknown {
                self.log_unknown(n);
            }
            let vendor = matches!(c.origin, Origin::Vendor(..));
            if let Some(mut e) = self.apply(n, c, now, at) {
                // One vendor press sends several ring codes within a second: the first rings.
                if vendor && e.trigger && e.kind == Kind::Ring && !self.vendor_rings.admit(at) {
                    e.trigger = false;
                }
                events.push(e);
            }
        }
        events
    }

    /// The earliest moment a hold or auto-clear expires.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.slots.values().filter_map(|s| s.deadline).min()
    }

    /// Falling edges (`trigger` false) for every hold or auto-clear expired at `at`.
    pub fn expire(&mut self, now: jiff::Timestamp, at: Instant) -> Vec<Event> {
        let mut events = Vec::new();
        for ((kind, topic, _), slot) in &mut self.slots {
            if slot.deadline.is_some_and(|d| d <= at) {
                slot.deadline = None;
                slot.active.clear();
                events.push(Event {
                    camera: self.camera.clone(),
                    kind: *kind,
                    active: false,
                    trigger: false,
                    time: now,
                    camera_time: None,
                    topic: topic.clone(),
                    source: slot.source.clone(),
                    data: Items::default(),
                    operation: None,
                });
            }
        }
        events.sort_by(|a, b| (a.kind, &a.topic).cmp(&(b.kind, &b.topic)));
        events
    }

    /// Forgets all state (after a resubscribe or going offline); the camera will send its
    /// Initialized state again.
    pub fn reset(&mut self) {
        self.slots.clear();
    }

    fn apply(
        &mut self,
        n: &Notification,
        c: Classified,
        now: jiff::Timestamp,
        at: Instant,
    ) -> Option<Event> {
        let news = !matches!(
            n.operation,
            Some(Operation::Initialized | Operation::Deleted)
        );
        let Some(value) = c.active else {
            // A value with no state: news when nobody knows the topic, never for known
            // diagnostics (a CPU reading is not an occurrence).
            let trigger = news && c.origin == Origin::Unknown;
            return Some(self.event(n, c.kind, trigger, trigger, now));
        };
        let value = value && n.operation != Some(Operation::Deleted);
        let clear_after = self.clear_after(c.kind, c.timing);
        let id: SlotId = (c.kind, n.topic.clone(), join(&n.source));
        let pulse = matches!(c.timing, Timing::Pulse(_));
        if value && news && pulse && self.duplicate_pulse(&id, n) {
            return None;
        }
        let known = self.slots.contains_key(&id);
        if !known {
            self.make_room();
        }
        let slot = self.slots.entry(id).or_insert_with(|| Slot {
            active: BTreeSet::new(),
            deadline: None,
            source: n.source.clone(),
        });
        let was_active = !slot.active.is_empty();
        let key = join(&n.key);
        if value {
            if slot.active.len() >= MAX_KEYS && !slot.active.contains(&key) {
                slot.active.clear();
            }
            slot.active.insert(key);
            slot.deadline = clear_after.map(|d| at + d);
        } else {
            if n.operation == Some(Operation::Deleted) && key.is_empty() {
                // The whole rule instance is gone: every key of it.
                slot.active.clear();
            } else {
                slot.active.remove(&key);
            }
            if slot.active.is_empty() {
                slot.deadline = None;
            }
        }
        let is_active = !slot.active.is_empty();
        let trigger = news && is_active && (!was_active || pulse);
        (!known || trigger || was_active != is_active)
            .then(|| self.event(n, c.kind, is_active, trigger, now))
    }

    fn event(
        &self,
        n: &Notification,
        kind: Kind,
        active: bool,
        trigger: bool,
        now: jiff::Timestamp,
    ) -> Event {
        let mut source = n.source.clone();
        source.0.extend(n.key.0.iter().cloned());
        let mut data = n.data.clone();
        data.0.extend(n.element_data());
        Event {
            camera: self.camera.clone(),
            kind,
            active,
            trigger,
            time: now,
            camera_time: n.utc_time.clone(),
            topic: n.topic.clone(),
            source,
            data,
            operation: n.operation,
        }
    }

    /// How long a state of `kind` with `timing` may stay active without a falling edge.
    fn clear_after(&self, kind: Kind, timing: Timing) -> Option<Duration> {
        let configured = match timing {
            Timing::Pulse(_) => self.hold.get(&kind),
            Timing::State | Timing::AutoClear(_) => self.auto_clear.get(&kind),
        };
        configured.copied().or(match timing {
            Timing::Pulse(hold) | Timing::AutoClear(hold) => Some(hold),
            Timing::State => default_auto_clear(kind),
        })
    }

    /// Whether `n` repeats the last occurrence of pulse slot `id` (same key and `UtcTime`);
    /// remembers it as the last one otherwise. A message without `UtcTime` is always new.
    fn duplicate_pulse(&mut self, id: &SlotId, n: &Notification) -> bool {
        let Some(time) = &n.utc_time else {
            return false;
        };
        let this = (join(&n.key), time.clone());
        if self.last_pulses.get(id) == Some(&this) {
            return true;
        }
        if self.last_pulses.len() >= MAX_STATES && !self.last_pulses.contains_key(id) {
            self.last_pulses.clear();
        }
        self.last_pulses.insert(id.clone(), this);
        false
    }

    /// Keeps the number of slots bounded: forgets inactive ones, then (a camera inventing
    /// sources) everything.
    fn make_room(&mut self) {
        if self.slots.len() < MAX_STATES {
            return;
        }
        self.slots.retain(|_, s| !s.active.is_empty());
        if self.slots.len() >= MAX_STATES {
            self.slots.clear();
        }
    }

    fn log_unknown(&mut self, n: &Notification) {
        self.unknown += 1;
        if self.logged.len() >= MAX_LOGGED_TOPICS || !self.logged.insert(n.topic.clone()) {
            return;
        }
        tracing::info!(
            camera = %self.camera,
            // Debug-formatted: the camera chose these texts, and a newline in them must not
            // start a forged log line.
            topic = ?n.topic,
            raw_topic = ?n.raw_topic,
            source = ?join(&n.source),
            key = ?join(&n.key),
            data = ?join(&n.data),
            "unknown event topic, published as kind other; add a [[cameras.rules]] entry to map it"
        );
    }
}

/// `name=value` pairs joined with `, `: a stable identity and a readable log field.
fn join(items: &Items) -> String {
    let mut out = String::new();
    for (i, (name, value)) in items.0.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}
