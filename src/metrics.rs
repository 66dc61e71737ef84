//! Counters for `/metrics` (Prometheus text format) and the `check`/health output.
//!
//! One cheap-to-clone handle shared by the camera tasks; the MQTT side keeps its own counters
//! in its status handle, and the HTTP endpoint renders both. A mutex around small maps is
//! plenty: a doorbell produces a handful of events per minute.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use crate::event::{CameraId, Event, Kind};

#[derive(Debug, Default)]
struct Counters {
    events: BTreeMap<(CameraId, Kind), u64>,
    rings: BTreeMap<CameraId, u64>,
    snapshots: BTreeMap<CameraId, u64>,
    snapshot_failures: BTreeMap<CameraId, u64>,
    renewals: BTreeMap<CameraId, u64>,
    drift_ms: BTreeMap<CameraId, i64>,
    up: BTreeMap<CameraId, bool>,
    push: BTreeMap<&'static str, u64>,
}

/// Shared counters.
#[derive(Debug, Clone, Default)]
pub struct Metrics(Arc<Mutex<Counters>>);

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut Counters) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Counts an event (and a ring, when it is a press).
    pub fn event(&self, e: &Event) {
        self.with(|c| {
            *c.events.entry((e.camera.clone(), e.kind)).or_default() += 1;
            if e.kind == Kind::Ring && e.trigger {
                *c.rings.entry(e.camera.clone()).or_default() += 1;
            }
        });
    }

    /// Counts a snapshot fetch.
    pub fn snapshot(&self, camera: &CameraId, ok: bool) {
        self.with(|c| {
            let map = if ok {
                &mut c.snapshots
            } else {
                &mut c.snapshot_failures
            };
            *map.entry(camera.clone()).or_default() += 1;
        });
    }

    /// Counts a subscription renewal.
    pub fn renewed(&self, camera: &CameraId) {
        self.with(|c| *c.renewals.entry(camera.clone()).or_default() += 1);
    }

    /// Records the camera clock offset.
    pub fn drift(&self, camera: &CameraId, offset_ms: i64) {
        self.with(|c| {
            c.drift_ms.insert(camera.clone(), offset_ms);
        });
    }

    /// Records whether a camera is subscribed and delivering events.
    pub fn set_up(&self, camera: &CameraId, up: bool) {
        self.with(|c| {
            c.up.insert(camera.clone(), up);
        });
    }

    /// Counts a request to the push listener by its result (`accepted` or a refusal).
    pub fn push_request(&self, result: &'static str) {
        self.with(|c| *c.push.entry(result).or_default() += 1);
    }

    /// Requests to the push listener with this result so far.
    pub fn push_requests(&self, result: &str) -> u64 {
        self.with(|c| c.push.get(result).copied().unwrap_or(0))
    }

    /// Cameras that are not up (never connected, or offline now), in id order.
    pub fn cameras_down<'a>(&self, all: impl IntoIterator<Item = &'a CameraId>) -> Vec<CameraId> {
        self.with(|c| {
            all.into_iter()
                .filter(|id| !c.up.get(*id).copied().unwrap_or(false))
                .cloned()
                .collect()
        })
    }

    /// Appends the Prometheus text for these counters to `out`.
    pub fn render(&self, out: &mut String) {
        self.with(|c| {
            family(
                out,
                "doorbell_bridge_events_total",
                "counter",
                "Events by camera and kind.",
            );
            for ((cam, kind), n) in &c.events {
                let _ = writeln!(
                    out,
                    "doorbell_bridge_events_total{{camera=\"{cam}\",kind=\"{kind}\"}} {n}"
                );
            }
            per_camera(
                out,
                "doorbell_bridge_rings_total",
                "counter",
                "Doorbell presses.",
                &c.rings,
            );
            per_camera(
                out,
                "doorbell_bridge_snapshots_total",
                "counter",
                "Snapshots fetched.",
                &c.snapshots,
            );
            per_camera(
                out,
                "doorbell_bridge_snapshot_failures_total",
                "counter",
                "Snapshot fetches that failed.",
                &c.snapshot_failures,
            );
            per_camera(
                out,
                "doorbell_bridge_subscription_renewals_total",
                "counter",
                "PullPoint subscriptions renewed.",
                &c.renewals,
            );
            if !c.push.is_empty() {
                family(
                    out,
                    "doorbell_bridge_push_requests_total",
                    "counter",
                    "Requests to the push listener by result.",
                );
                for (result, n) in &c.push {
                    let _ = writeln!(
                        out,
                        "doorbell_bridge_push_requests_total{{result=\"{result}\"}} {n}"
                    );
                }
            }
            family(
                out,
                "doorbell_bridge_camera_clock_offset_seconds",
                "gauge",
                "Camera clock minus the bridge's clock.",
            );
            for (cam, ms) in &c.drift_ms {
                let _ = writeln!(
                    out,
                    "doorbell_bridge_camera_clock_offset_seconds{{camera=\"{cam}\"}} {:.3}",
                    *ms as f64 / 1000.0
                );
            }
        });
    }
}

/// Writes the HELP and TYPE lines of a metric family.
pub fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn per_camera<V: std::fmt::Display>(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    map: &BTreeMap<CameraId, V>,
) {
    family(out, name, kind, help);
    for (cam, v) in map {
        let _ = writeln!(out, "{name}{{camera=\"{cam}\"}} {v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Items;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        let cam = CameraId::new("front_door").unwrap();
        let ring = Event {
            camera: cam.clone(),
            kind: Kind::Ring,
            active: true,
            trigger: true,
            time: jiff::Timestamp::UNIX_EPOCH,
            camera_time: None,
            topic: "tns1:RuleEngine/MyRuleDetector/Visitor".into(),
            source: Items::default(),
            data: Items::default(),
            operation: None,
        };
        m.event(&ring);
        m.event(&Event {
            trigger: false,
            active: false,
            ..ring
        });
        m.snapshot(&cam, true);
        m.drift(&cam, -1500);
        let mut out = String::new();
        m.render(&mut out);
        assert!(
            out.contains("doorbell_bridge_events_total{camera=\"front_door\",kind=\"ring\"} 2")
        );
        assert!(out.contains("doorbell_bridge_rings_total{camera=\"front_door\"} 1"));
        assert!(out.contains("doorbell_bridge_snapshots_total{camera=\"front_door\"} 1"));
        assert!(out.contains("clock_offset_seconds{camera=\"front_door\"} -1.500"));
        assert!(out.contains("# TYPE doorbell_bridge_rings_total counter"));
    }
}
