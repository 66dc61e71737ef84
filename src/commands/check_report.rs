//! What `doorbell-bridge check` found, as data: per-step results with a hint for every
//! failure, rendered as a table for people or serialised as JSON for scripts (pure).

use std::fmt::Write as _;

use serde::Serialize;

use crate::config::CameraConfig;
use crate::event::Kind;

/// The verdict of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Works.
    Ok,
    /// Works, but something deserves attention (clock drift, no media service).
    Warn,
    /// Does not work: the camera (or the broker) fails the check.
    Fail,
    /// Not tried: an earlier step failed, or the feature is turned off.
    Skip,
}

impl Status {
    /// The table's status column.
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        }
    }
}

/// One step's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// The step's name (`reachable`, `clock`, `auth`, ...).
    pub step: &'static str,
    /// The verdict.
    pub status: Status,
    /// What was found (never a secret).
    pub detail: String,
    /// What to try next; set for every warning and failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Step {
    /// A passed step.
    pub fn ok(step: &'static str, detail: impl Into<String>) -> Step {
        Step {
            step,
            status: Status::Ok,
            detail: detail.into(),
            hint: None,
        }
    }

    /// A warning with its hint.
    pub fn warn(step: &'static str, detail: impl Into<String>, hint: impl Into<String>) -> Step {
        Step {
            step,
            status: Status::Warn,
            detail: detail.into(),
            hint: Some(hint.into()),
        }
    }

    /// A failure with its hint.
    pub fn fail(step: &'static str, detail: impl Into<String>, hint: impl Into<String>) -> Step {
        Step {
            step,
            status: Status::Fail,
            detail: detail.into(),
            hint: Some(hint.into()),
        }
    }

    /// A step not tried, and why.
    pub fn skip(step: &'static str, why: impl Into<String>) -> Step {
        Step {
            step,
            status: Status::Skip,
            detail: why.into(),
            hint: None,
        }
    }
}

/// An event topic the camera advertises and what the rules make of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicReport {
    /// The canonical topic.
    pub topic: String,
    /// The kinds the rules (user rules first) may derive from it; empty: ignored by a rule.
    pub kinds: Vec<Kind>,
}

/// Everything found about one camera.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CameraReport {
    /// The camera id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// The device service URL (never with credentials).
    pub url: String,
    /// No step failed.
    pub ok: bool,
    /// The steps, in the order they ran (all of them, skipped ones included).
    pub steps: Vec<Step>,
    /// The advertised event topics (empty when they could not be read).
    pub topics: Vec<TopicReport>,
}

impl CameraReport {
    /// An empty report for `camera`.
    pub fn new(camera: &CameraConfig) -> CameraReport {
        CameraReport {
            id: camera.id.to_string(),
            name: camera.name.clone(),
            url: camera.url.to_string(),
            ok: true,
            steps: Vec::new(),
            topics: Vec::new(),
        }
    }

    /// Adds a step result.
    pub fn push(&mut self, step: Step) {
        self.ok &= step.status != Status::Fail;
        self.steps.push(step);
    }

    /// Marks every step in `names` skipped because of `why`.
    pub fn skip_all(&mut self, names: &[&'static str], why: &str) {
        for name in names {
            self.push(Step::skip(name, why));
        }
    }
}

/// The MQTT part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MqttReport {
    /// `host:port`.
    pub broker: String,
    /// `mqtts://`.
    pub tls: bool,
    /// No step failed.
    pub ok: bool,
    /// The steps (today one: `connect`).
    pub steps: Vec<Step>,
}

/// The push listener part (only when `[push]` is configured).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushReport {
    /// `push.listen`.
    pub listen: String,
    /// `push.advertise_url`.
    pub advertise_url: String,
    /// No step failed.
    pub ok: bool,
    /// The steps (`reachable`, or `listen` when nothing answers).
    pub steps: Vec<Step>,
}

/// The whole result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The config file.
    pub config: String,
    /// Only the config was validated; no network was touched.
    pub offline: bool,
    /// Nothing failed.
    pub ok: bool,
    /// Config-level warnings (a world-readable file).
    pub warnings: Vec<String>,
    /// Per camera, in config order.
    pub cameras: Vec<CameraReport>,
    /// The broker; `None` offline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mqtt: Option<MqttReport>,
    /// The push listener; `None` offline or without `[push]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push: Option<PushReport>,
}

impl Report {
    /// Sets `ok` from the parts.
    pub fn settle(&mut self) {
        self.ok = self.cameras.iter().all(|c| c.ok)
            && self.mqtt.as_ref().is_none_or(|m| m.ok)
            && self.push.as_ref().is_none_or(|p| p.ok);
    }

    /// The failed steps as `camera/step` (or `mqtt/step`).
    pub fn failures(&self) -> Vec<String> {
        let cams = self.cameras.iter().map(|c| (c.id.as_str(), &c.steps));
        let mqtt = self.mqtt.iter().map(|m| ("mqtt", &m.steps));
        let push = self.push.iter().map(|p| ("push", &p.steps));
        cams.chain(mqtt)
            .chain(push)
            .flat_map(|(who, steps)| {
                steps
                    .iter()
                    .filter(|s| s.status == Status::Fail)
                    .map(move |s| format!("{who}/{}", s.step))
            })
            .collect()
    }
}

/// The table for people.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "config {}: valid, {} camera(s)",
        report.config,
        report.cameras.len()
    );
    for w in &report.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    for cam in &report.cameras {
        let _ = writeln!(out, "\ncamera {} ({}) at {}", cam.id, cam.name, cam.url);
        steps(&mut out, &cam.steps);
        topics(&mut out, &cam.topics);
    }
    if let Some(m) = &report.mqtt {
        let tls = if m.tls { " (TLS)" } else { "" };
        let _ = writeln!(out, "\nmqtt broker {}{tls}", m.broker);
        steps(&mut out, &m.steps);
    }
    if let Some(p) = &report.push {
        let _ = writeln!(
            out,
            "\npush listener {} (advertised as {})",
            p.listen, p.advertise_url
        );
        steps(&mut out, &p.steps);
    }
    let _ = writeln!(out);
    let failures = report.failures();
    if report.offline {
        let _ = writeln!(
            out,
            "offline: the config is valid; run without --offline to test the cameras and the broker"
        );
    } else if failures.is_empty() {
        let _ = writeln!(out, "result: every check passed");
    } else {
        let _ = writeln!(
            out,
            "result: {} check(s) failed ({}); see the hints above",
            failures.len(),
            failures.join(", ")
        );
    }
    out
}

const STEP_WIDTH: usize = 10;

fn steps(out: &mut String, steps: &[Step]) {
    for s in steps {
        let _ = writeln!(
            out,
            "  {:<5} {:<STEP_WIDTH$} {}",
            s.status.label(),
            s.step,
            s.detail
        );
        if let Some(h) = &s.hint {
            let _ = writeln!(out, "  {:<5} {:<STEP_WIDTH$} hint: {h}", "", "");
        }
    }
}

fn topics(out: &mut String, topics: &[TopicReport]) {
    if topics.is_empty() {
        return;
    }
    let _ = writeln!(out, "  event topics and what the rules make of them:");
    let width = topics.iter().map(|t| t.topic.len()).max().unwrap_or(0);
    for t in topics {
        let kinds = if t.kinds.is_empty() {
            "(ignored by a user rule)".to_owned()
        } else {
            t.kinds
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(out, "    {:<width$}  -> {kinds}", t.topic);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let mut cam = CameraReport {
            id: "front_door".into(),
            name: "Front Door".into(),
            url: "http://cam/onvif/device_service".into(),
            ok: true,
            steps: Vec::new(),
            topics: vec![TopicReport {
                topic: "tns1:RuleEngine/MyRuleDetector/Visitor".into(),
                kinds: vec![Kind::Ring],
            }],
        };
        cam.push(Step::ok("reachable", "cam:80 accepts connections"));
        cam.push(Step::fail("auth", "rejected", "check the password"));
        cam.skip_all(&["device"], "auth failed");
        let mut r = Report {
            config: "c.toml".into(),
            offline: false,
            ok: true,
            warnings: vec![],
            cameras: vec![cam],
            mqtt: Some(MqttReport {
                broker: "b:1883".into(),
                tls: false,
                ok: true,
                steps: vec![Step::ok("connect", "connected")],
            }),
            push: None,
        };
        r.settle();
        r
    }

    #[test]
    fn a_failed_step_fails_the_camera_and_the_report() {
        let r = report();
        assert!(!r.cameras[0].ok);
        assert!(!r.ok);
        assert_eq!(r.failures(), ["front_door/auth"]);
    }

    #[test]
    fn table_shows_status_hint_and_topics() {
        let text = render(&report());
        assert!(text.contains("  FAIL  auth       rejected\n"), "{text}");
        assert!(text.contains("hint: check the password"), "{text}");
        assert!(text.contains("skip  device"), "{text}");
        assert!(
            text.contains("tns1:RuleEngine/MyRuleDetector/Visitor  -> ring"),
            "{text}"
        );
        assert!(
            text.contains("1 check(s) failed (front_door/auth)"),
            "{text}"
        );
    }

    #[test]
    fn json_has_lowercase_statuses_and_no_empty_hints() {
        let v = serde_json::to_value(report()).unwrap();
        assert_eq!(v["cameras"][0]["steps"][1]["status"], "fail");
        assert_eq!(v["cameras"][0]["steps"][1]["hint"], "check the password");
        assert!(v["cameras"][0]["steps"][0].get("hint").is_none());
        assert_eq!(v["cameras"][0]["topics"][0]["kinds"][0], "ring");
        assert_eq!(v["mqtt"]["steps"][0]["status"], "ok");
    }
}
