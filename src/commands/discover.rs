//! `doorbell-bridge discover`: WS-Discovery probe, a table of what answered, and a ready
//! `[[cameras]]` snippet for each.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use crate::event::slugify;
use crate::onvif::discovery::{self as wsdiscovery, Device};

/// Probes `targets` (the multicast group when empty) and prints the answers.
pub async fn run(targets: Vec<SocketAddr>, wait: Duration) -> anyhow::Result<ExitCode> {
    let targets = if targets.is_empty() {
        vec![SocketAddr::V4(wsdiscovery::MULTICAST)]
    } else {
        targets
    };
    eprintln!("probing {} for {wait:?}...", list(&targets));
    let devices = wsdiscovery::probe(&targets, wait)
        .await
        .map_err(|e| anyhow::anyhow!("cannot send the WS-Discovery probe: {e}; check that this host has a network interface with multicast (in a container: host networking)"))?;
    if devices.is_empty() {
        println!(
            "no ONVIF device answered. Check that the camera has ONVIF (and discovery) enabled and is on this network segment; multicast does not cross routers or Docker bridge networks."
        );
        return Ok(ExitCode::from(1));
    }
    print!("{}", render(&devices));
    Ok(ExitCode::SUCCESS)
}

fn list(targets: &[SocketAddr]) -> String {
    targets
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The table and snippets (pure, for tests).
pub fn render(devices: &[Device]) -> String {
    let mut out = String::new();
    for d in devices {
        let name = d.name.clone().unwrap_or_else(|| "camera".into());
        out.push_str(&format!(
            "{}  {}  {}\n  services: {}\n",
            d.from.ip(),
            name,
            d.hardware.as_deref().unwrap_or("-"),
            d.xaddrs.join(" ")
        ));
    }
    out.push_str("\n# Paste into your config and fill in the credentials:\n");
    for d in devices {
        let name = d
            .name
            .clone()
            .unwrap_or_else(|| format!("camera {}", d.from.ip()));
        let url = d
            .xaddrs
            .first()
            .cloned()
            .unwrap_or_else(|| format!("http://{}", d.from.ip()));
        out.push_str(&format!(
            "\n[[cameras]]\nid = \"{}\"\nname = {:?}\nurl = {:?}\nusername = \"admin\"\npassword = \"\"\n",
            slugify(&name),
            name,
            url
        ));
    }
    out
}
