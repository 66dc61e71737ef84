//! `doorbell-bridge events`: what a camera sends and what the rules make of it, for writing a
//! user rule or attaching to a bug report.
//!
//! `--camera ID` runs the daemon's PullPoint source ([`crate::source::pullpoint`]) and prints each NotificationMessage live: its raw
//! topic, items and the events derived from it ([`classify`] for which rule decided, a
//! [`Normaliser`] for the events themselves). `--from-file capture.xml` does the same offline
//! for a saved PullMessagesResponse. `--json` prints only the events, one JSON object per line,
//! in the shape of the MQTT event payload.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::camera::client_for;
use crate::config::{Api, CameraConfig};
use crate::event::{Event, Items};
use crate::metrics::Metrics;
use crate::normalise::{Classified, Normaliser, Origin, classify};
use crate::onvif::{self, Notification};
use crate::rules::RULES;
use crate::source::{self, SOURCE_QUEUE, Source, SourceMsg, presses_source, sources_of};

/// Longest capture file read by `--from-file` (as large as any SOAP answer we accept).
pub const MAX_CAPTURE_BYTES: u64 = onvif::MAX_SOAP_BYTES;
/// Longest ElementItem line (its items) shown in the human output.
const SHOWN_ELEMENT: usize = 200;

/// Prints notifications and their events; counts triggers for `--count`.
pub struct Printer {
    camera: CameraConfig,
    model: Option<String>,
    normaliser: Normaliser,
    json: bool,
    /// Events with `trigger` set so far (new occurrences: presses, new detections).
    pub triggers: u64,
}

impl Printer {
    /// A printer for `camera` (its user rules, ring input, holds).
    pub fn new(camera: &CameraConfig, json: bool) -> Printer {
        Printer {
            camera: camera.clone(),
            model: None,
            normaliser: Normaliser::new(camera),
            json,
            triggers: 0,
        }
    }

    /// Sets the device model (model-specific rules use it).
    pub fn set_model(&mut self, model: Option<&str>) {
        self.model = model.map(str::to_owned);
        self.normaliser.set_model(model);
    }

    /// The text for one notification (received now).
    pub fn show(&mut self, n: &Notification) -> String {
        let classified = classify(
            n,
            self.model.as_deref(),
            &self.camera.rules,
            self.camera.ring_input.as_deref(),
        );
        let events = self
            .normaliser
            .handle(n, jiff::Timestamp::now(), Instant::now());
        self.triggers += events.iter().filter(|e| e.trigger).count() as u64;
        if self.json {
            json_lines(&events)
        } else {
            describe(n, &classified, &events, &self.camera)
        }
    }

    /// When the next hold or auto-clear expires.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.normaliser.next_deadline()
    }

    /// The text for holds and auto-clears that expired by now.
    pub fn expire(&mut self) -> String {
        let events = self
            .normaliser
            .expire(jiff::Timestamp::now(), Instant::now());
        if self.json {
            return json_lines(&events);
        }
        let mut out = String::new();
        for e in &events {
            let _ = writeln!(
                out,
                "(expired) {}\n  event      {}\n",
                e.topic,
                event_line(e)
            );
        }
        out
    }
}

fn json_lines(events: &[Event]) -> String {
    let mut out = String::new();
    for e in events {
        // Event serialises to a JSON object by construction (the MQTT payload relies on it).
        if let Ok(line) = serde_json::to_string(e) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// The human text for one notification (pure).
pub fn describe(
    n: &Notification,
    classified: &[Classified],
    events: &[Event],
    camera: &CameraConfig,
) -> String {
    let mut out = String::new();
    let op = n
        .operation
        .map(|o| o.as_str())
        .unwrap_or("no PropertyOperation");
    let time = n.utc_time.as_deref().unwrap_or("none");
    let _ = writeln!(out, "{}  ({op}, camera time {time})", n.topic);
    if n.raw_topic != n.topic {
        let _ = writeln!(out, "  raw topic  {}", n.raw_topic);
    }
    for (label, items) in [("source", &n.source), ("key", &n.key), ("data", &n.data)] {
        if !items.is_empty() {
            let _ = writeln!(out, "  {label:<10} {}", join(items));
        }
    }
    for element in &n.elements {
        let items = join(&element.items);
        let shown: String = items.chars().take(SHOWN_ELEMENT).collect();
        let more = if shown.len() < items.len() { "..." } else { "" };
        let _ = writeln!(out, "  element    {}: {shown}{more}", element.name);
    }
    if classified.is_empty() {
        let _ = writeln!(out, "  rule       ignored by a user rule");
    }
    for c in classified {
        let _ = writeln!(out, "  rule       {}", rule_line(c, n, camera));
    }
    if events.is_empty() && !classified.is_empty() {
        let _ = writeln!(out, "  event      none (no change of state)");
    }
    for e in events {
        let _ = writeln!(out, "  event      {}", event_line(e));
    }
    out.push('\n');
    out
}

fn rule_line(c: &Classified, n: &Notification, camera: &CameraConfig) -> String {
    let kind = c.kind.as_str();
    match c.origin {
        Origin::User(i) => format!(
            "{kind} from user rule {} (topic {:?})",
            i + 1,
            camera.rules.get(i).map(|r| r.topic.as_str()).unwrap_or("?")
        ),
        Origin::RingInput => format!("{kind} from ring_input (digital input as the bell)"),
        Origin::Builtin(i) => format!(
            "{kind} from built-in rule {:?}",
            RULES.get(i).map(|r| r.topic).unwrap_or("?")
        ),
        Origin::Vendor(v, i) => format!("{kind} from the {v:?} code table ({})", v.evidence(i)),
        Origin::Unknown => format!(
            "{kind}: no rule knows this topic; map it in the camera's config with\n             [[cameras.rules]]\n             topic = {:?}\n             kind = \"motion\"   # or ring, person, ..., ignore",
            n.topic
        ),
    }
}

fn event_line(e: &Event) -> String {
    let state = if e.active { "active" } else { "inactive" };
    let trigger = if e.trigger { ", trigger" } else { "" };
    format!("{} {state}{trigger}", e.kind)
}

fn join(items: &Items) -> String {
    items
        .0
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads a saved PullMessagesResponse (or any XML holding NotificationMessages) and prints
/// what `camera`'s rules make of each message.
pub fn from_file(path: &Path, camera: &CameraConfig, json: bool) -> anyhow::Result<ExitCode> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}; check the path", path.display()))?
        .len();
    if size > MAX_CAPTURE_BYTES {
        anyhow::bail!(
            "{}: {size} bytes is larger than any camera answer we accept ({MAX_CAPTURE_BYTES}); save a single PullMessagesResponse",
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {} as UTF-8 text", path.display()))?;
    let notifications = match vendor_capture(&text) {
        Some(n) => n,
        None => onvif::xml::parse_messages(&text)
            .with_context(|| format!("{}: not usable as a capture", path.display()))?,
    };
    if notifications.is_empty() {
        eprintln!(
            "{}: holds no wsnt:NotificationMessage; save the whole PullMessagesResponse the camera sent",
            path.display()
        );
        return Ok(ExitCode::from(1));
    }
    let mut printer = Printer::new(camera, json);
    for n in &notifications {
        print!("{}", printer.show(n));
    }
    Ok(ExitCode::SUCCESS)
}

/// The notifications of a saved vendor stream, or `None` when `text` is not one: a Dahua
/// attach body (`Code=...` parts), a Hikvision alert stream (`EventNotificationAlert`
/// documents or JSON alerts), or Hikvision call-status answers, one per line.
pub fn vendor_capture(text: &str) -> Option<Vec<Notification>> {
    use crate::hikvision::call;
    use crate::source::stream::{Protocol, Read, Reader};
    let protocol = if text.contains("Code=") {
        Protocol::Dahua
    } else if text.contains("EventNotificationAlert") || text.contains("\"eventType\"") {
        Protocol::Hikvision
    } else if text.contains("\"CallStatus\"") {
        let mut tracker = call::CallTracker::new();
        let mut out = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            if let Ok(status) = call::parse(line.as_bytes()) {
                for change in tracker.observe(status) {
                    out.push(call::to_notification(change, status));
                }
            }
        }
        return Some(out);
    } else {
        return None;
    };
    let mut reader = Reader::new(protocol, None);
    let mut out = Vec::new();
    reader.feed(text.as_bytes(), &mut |r| {
        if let Read::Notification(n) = r {
            out.push(n);
        }
    });
    Some(out)
}

/// When the live watch stops.
#[derive(Debug, Clone, Copy, Default)]
pub struct Until {
    /// After this many triggers.
    pub count: Option<u64>,
    /// After this long.
    pub duration: Option<Duration>,
}

/// Subscribes to `camera` through the daemon's sources (PullPoint, vendor streams, a DoorBird's
/// favorites on the listener of `push`, started here) and prints until `shutdown`,
/// `until.count` triggers or `until.duration`; the source unsubscribes at the end. A camera
/// that fails before it delivers anything is an error (with a hint); one that fails later is
/// retried, as the daemon would, and said so on stderr.
pub async fn live(
    camera: &CameraConfig,
    push: Option<&crate::config::PushConfig>,
    json: bool,
    until: Until,
    shutdown: CancellationToken,
) -> anyhow::Result<ExitCode> {
    let id = &camera.id;
    let hint = "run `doorbell-bridge check` for a step-by-step diagnosis";
    let client = client_for(camera, onvif::ClientOptions::default())
        .with_context(|| format!("camera {id}"))?;
    let (tx, mut rx) = mpsc::channel(SOURCE_QUEUE);
    let stop = shutdown.child_token();
    let config = Arc::new(camera.clone());
    let metrics = Metrics::default();
    // A source the camera calls (a DoorBird) needs the listener; others never register.
    let push = match push.filter(|_| sources_of(camera.api).contains(&Source::DoorBird)) {
        Some(cfg) => Some(
            crate::push::Push::start(cfg, metrics.clone(), stop.clone())
                .await
                .with_context(|| format!("camera {id}"))?,
        ),
        None => None,
    };
    let ctx = source::Context {
        config: config.clone(),
        client: client.clone(),
        metrics,
        push,
    };
    let mut api = camera.api;
    let mut presses = source::presses_at_start(api, camera.events);
    let mut tasks: Vec<_> = sources_of(api)
        .iter()
        .map(|s| source::spawn(*s, &ctx, tx.clone(), stop.clone()))
        .collect();
    let mut printer = Printer::new(camera, json);
    let deadline = until.duration.map(|d| Instant::now() + d);
    let far = Instant::now() + Duration::from_secs(86_400 * 365);
    let mut delivered = false;
    let mut failed = None;
    while until.count.is_none_or(|c| printer.triggers < c) {
        let expiry = printer.next_deadline();
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep_until(deadline.unwrap_or(far)) => break,
            () = tokio::time::sleep_until(expiry.unwrap_or(far)), if expiry.is_some() => {
                print!("{}", printer.expire());
            }
            msg = rx.recv() => match msg {
                None => break,
                Some(SourceMsg::Up { source, info }) => {
                    printer.set_model(info.model.as_deref());
                    presses = source::presses_after_up(presses, source);
                    if source::is_onvif(source) && api == Api::Auto {
                        let (chosen, why) = Api::Auto.resolve(info.manufacturer.as_deref());
                        eprintln!("events through the {} API ({why})", chosen.as_str());
                        api = chosen;
                        presses = source::presses_after_up(presses_source(api), presses);
                        for s in sources_of(api).iter().filter(|s| **s != Source::PullPoint) {
                            tasks.push(source::spawn(*s, &ctx, tx.clone(), stop.clone()));
                        }
                    }
                    if source != presses {
                        continue;
                    }
                    if delivered {
                        eprintln!("the camera is back; waiting for events");
                    } else {
                        eprintln!("subscribed; waiting for events (Ctrl-C to stop)");
                    }
                    delivered = true;
                }
                Some(SourceMsg::Notification(n)) => print!("{}", printer.show(&n)),
                Some(SourceMsg::ClockDrift { .. }) => {}
                Some(SourceMsg::Down(down)) if down.source != presses => {
                    eprintln!("{}: {}", down.source.name(), down.reason);
                }
                Some(SourceMsg::Down(down)) if !delivered => {
                    failed = Some(down.reason);
                    break;
                }
                Some(SourceMsg::Down(down)) => eprintln!("{}; retrying", down.reason),
            },
        }
    }
    stop.cancel();
    drop(tx);
    while rx.recv().await.is_some() {}
    for task in tasks {
        let _ = task.await;
    }
    if let Some(reason) = failed {
        anyhow::bail!("camera {id}: {reason} ({hint})");
    }
    Ok(ExitCode::SUCCESS)
}

/// The camera `--from-file` uses without `--camera`: built-in rules only.
pub fn file_camera() -> CameraConfig {
    let text = "[[cameras]]\nid = \"capture\"\nurl = \"127.0.0.1\"\n";
    crate::config::from_toml(text, Path::new("(capture)"))
        .expect("the built-in capture camera config is valid")
        .cameras
        .remove(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `events --from-file` reads saved vendor streams too, so a capture can go with an issue.
    #[test]
    fn saved_vendor_streams_are_read_as_captures() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let cases = [
            ("dahua/ad110_press.txt", "dahua:_DoTalkAction_"),
            ("hikvision/camera_alerts.txt", "hikvision:VMD"),
            ("hikvision/kv6113_callstatus.txt", "hikvision:callStatus"),
        ];
        assert!(!cases.is_empty());
        for (file, topic) in cases {
            let text = std::fs::read_to_string(root.join(file)).unwrap();
            let found = vendor_capture(&text).unwrap_or_else(|| panic!("{file}: not a capture"));
            assert!(found.iter().any(|n| n.topic == topic), "{file}: {found:?}");
        }
        let onvif = std::fs::read_to_string(root.join("onvif/mobotix/bell.xml")).unwrap();
        assert!(vendor_capture(&onvif).is_none());
    }

    /// A Reolink doorbell press, trimmed from tests/fixtures/onvif/reolink/doorbell_visitor.xml
    /// (inline: the container build copies only src/).
    const VISITOR: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tns1="http://www.onvif.org/ver10/topics"><s:Body><wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:RuleEngine/MyRuleDetector/Visitor</wsnt:Topic><wsnt:Message><tt:Message UtcTime="2024-11-29T08:15:00Z" PropertyOperation="Changed"><tt:Source><tt:SimpleItem Name="Source" Value="000"/></tt:Source><tt:Data><tt:SimpleItem Name="State" Value="true"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage></s:Body></s:Envelope>"#;

    #[test]
    fn a_visitor_message_shows_items_rule_and_ring() {
        let camera = file_camera();
        let mut p = Printer::new(&camera, false);
        let n = &onvif::xml::parse_messages(VISITOR).unwrap()[0];
        let text = p.show(n);
        assert!(
            text.starts_with("tns1:RuleEngine/MyRuleDetector/Visitor  (Changed"),
            "{text}"
        );
        assert!(text.contains("  source     Source=000\n"), "{text}");
        assert!(text.contains("  data       State=true\n"), "{text}");
        assert!(
            text.contains("  rule       ring from built-in rule"),
            "{text}"
        );
        assert!(
            text.contains("  event      ring active, trigger\n"),
            "{text}"
        );
        assert_eq!(p.triggers, 1);
        // The same message again is no news.
        let again = p.show(n);
        assert!(again.contains("event      none"), "{again}");
    }

    #[test]
    fn json_is_the_event_payload() {
        let camera = file_camera();
        let mut p = Printer::new(&camera, true);
        let n = &onvif::xml::parse_messages(VISITOR).unwrap()[0];
        let line = p.show(n);
        let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
        assert_eq!(v["kind"], "ring");
        assert_eq!(v["trigger"], true);
        assert_eq!(v["camera"], "capture");
        assert_eq!(v["data"]["State"], "true");
    }

    #[test]
    fn unknown_topics_suggest_a_rule() {
        let camera = file_camera();
        let n = Notification {
            topic: "tns1:Vendor/Thing".into(),
            raw_topic: "tns1:Vendor/Thing".into(),
            ..Notification::default()
        };
        let mut p = Printer::new(&camera, false);
        let text = p.show(&n);
        assert!(text.contains("no rule knows this topic"), "{text}");
        assert!(text.contains("topic = \"tns1:Vendor/Thing\""), "{text}");
    }
}
