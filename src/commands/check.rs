//! `doorbell-bridge check`: validate the config, then test every camera (concurrently, each
//! step under its own timeout) and the MQTT broker, and print a table with a hint for every
//! failure (or JSON with `--json`). `--offline` validates the config and touches no network.
//!
//! Exit codes: 0 when nothing failed (warnings allowed), 1 when a camera or the broker failed,
//! 2 when the config is invalid (reported by `main`). Secrets are never printed: errors carry
//! URLs without credentials, and the report holds no password field.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use super::check_report::{CameraReport, MqttReport, Report, Status, Step, render};
use super::{check_camera, check_push};
use crate::config::{self, Config, MqttConfig};
use crate::mqtt::probe;

/// Default time each step may take (`--timeout`).
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// What `check` is asked to do.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Validate the config only.
    pub offline: bool,
    /// Print JSON instead of the table.
    pub json: bool,
    /// Time each step may take.
    pub step_timeout: Duration,
}

/// Loads and validates the config at `path` (an invalid one is an error, exit 2), then runs
/// the checks and prints the result.
pub fn run(path: &Path, options: &CheckOptions) -> anyhow::Result<ExitCode> {
    let cfg = config::load(path)?;
    let warnings: Vec<String> = config::warn_if_world_readable(path, cfg.inline_passwords)
        .into_iter()
        .collect();
    let report = if options.offline {
        offline_report(&cfg, warnings)
    } else {
        super::runtime()?.block_on(check_all(&cfg, warnings, options.step_timeout))
    };
    if options.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The report of `--offline`: the cameras as configured, no steps.
pub fn offline_report(cfg: &Config, warnings: Vec<String>) -> Report {
    let mut report = Report {
        config: cfg.source.display().to_string(),
        offline: true,
        ok: true,
        warnings,
        cameras: cfg.cameras.iter().map(CameraReport::new).collect(),
        mqtt: None,
        push: None,
    };
    report.settle();
    report
}

/// Checks every camera and the broker concurrently.
pub async fn check_all(cfg: &Config, warnings: Vec<String>, step_timeout: Duration) -> Report {
    // Spawned at once so they run concurrently; awaited in config order.
    let tasks: Vec<_> = cfg
        .cameras
        .iter()
        .map(|cam| {
            let cam = cam.clone();
            let push = cfg.push.clone();
            tokio::spawn(
                async move { check_camera::check(&cam, push.as_ref(), step_timeout).await },
            )
        })
        .collect();
    let mqtt = check_mqtt(&cfg.mqtt, step_timeout).await;
    let push = match &cfg.push {
        Some(p) => Some(check_push::listener(p, step_timeout).await),
        None => None,
    };
    let mut cameras = Vec::with_capacity(tasks.len());
    for (task, cam) in tasks.into_iter().zip(&cfg.cameras) {
        cameras.push(task.await.unwrap_or_else(|e| {
            let mut r = CameraReport::new(cam);
            r.push(Step::fail(
                "reachable",
                format!("the check itself failed: {e}"),
                "please report this as a bug, with the output of --log-level debug",
            ));
            r
        }));
    }
    let mut report = Report {
        config: cfg.source.display().to_string(),
        offline: false,
        ok: true,
        warnings,
        cameras,
        mqtt: Some(mqtt),
        push,
    };
    report.settle();
    report
}

async fn check_mqtt(m: &MqttConfig, timeout: Duration) -> MqttReport {
    let step = match probe::probe(m, timeout).await {
        Ok(()) => Step::ok(
            "connect",
            match &m.username {
                Some(u) => format!("connected as {u} and disconnected"),
                None => "connected (anonymously) and disconnected".to_owned(),
            },
        ),
        Err(e) => Step::fail("connect", e.problem, e.hint),
    };
    let mut report = MqttReport {
        broker: format!("{}:{}", m.host, m.port),
        tls: m.tls,
        ok: true,
        steps: vec![step],
    };
    report.ok = report.steps.iter().all(|s| s.status != Status::Fail);
    report
}
