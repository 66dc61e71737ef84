//! `doorbell-bridge demo`: the simulated doorbell, an embedded MQTT broker (or `--mqtt URL`)
//! and the real bridge, with a temporary archive. It presses the button and toggles motion
//! every few seconds and prints every MQTT message and archived file. Ctrl-C stops it cleanly.
//! `--api dahua` / `--api hikvision` make the simulated doorbell an Amcrest AD410 or a
//! Hikvision DS-KV6113 (the press then arrives on the vendor API, motion on ONVIF too);
//! `--api doorbird` a DoorBird D2101V (no ONVIF: the bridge registers its favorites and the
//! device calls the bridge's push listener on a loopback port). The visitor history page is
//! served on a free loopback port and its address printed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, QoS};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::app::{self, Options};
use crate::cli::DemoApi;
use crate::config::{self, Config};
use crate::sim::{DahuaModel, HikModel, Personality, SimDoorbell, SimOptions};

/// Time between presses.
pub const PRESS_EVERY: Duration = Duration::from_secs(8);
/// Time between motion toggles.
pub const MOTION_EVERY: Duration = Duration::from_secs(5);
/// How long a simulated door-station call rings.
const DEMO_RING: Duration = Duration::from_secs(3);
/// Longest payload text printed.
const SHOWN_PAYLOAD: usize = 120;

/// Runs the demo until `shutdown` fires or `duration` passes.
pub async fn run(
    mqtt: Option<String>,
    duration: Option<Duration>,
    api: DemoApi,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let options = SimOptions {
        personality: personality(api),
        onvif: api != DemoApi::DoorBird,
        // Shorter than PRESS_EVERY, so that every press of a door station rings.
        ring_for: DEMO_RING,
        ..SimOptions::default()
    };
    let sim = SimDoorbell::start(options).await?;
    let broker = broker_url(mqtt)?;
    let archive = std::env::temp_dir().join(format!("doorbell-bridge-demo-{}", std::process::id()));
    let config = demo_config(&sim, &broker, &archive, api)?;
    let id = sim.identity();
    let shown = match api {
        DemoApi::DoorBird => format!("http://{}/bha-api/", sim.addr()),
        _ => sim.device_url().to_string(),
    };
    println!(
        "simulated doorbell: {shown} ({} {})",
        id.manufacturer, id.model
    );
    println!(
        "MQTT broker:        {}",
        config::redact_url(broker.as_str())
    );
    println!("archive:            {}", archive.display());
    println!("(Ctrl-C to stop)\n");
    let watch = watch(&config, shutdown.clone());
    let running = app::start(&config, shutdown.clone(), Options::default()).await?;
    if let Some(addr) = running.http {
        println!("visitor history:    http://{addr}/ (open it in a browser on this host)\n");
    }
    let drive = drive(&sim, api, shutdown.clone());
    let stop = async {
        match duration {
            Some(d) => tokio::select! {
                () = tokio::time::sleep(d) => shutdown.cancel(),
                () = shutdown.cancelled() => {}
            },
            None => shutdown.cancelled().await,
        }
    };
    tokio::join!(watch, drive, stop);
    println!("\nstopping...");
    let clean = running.stopped().await;
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(&archive);
    println!(
        "{}",
        if clean {
            "stopped cleanly"
        } else {
            "stopped (some tasks were late)"
        }
    );
    Ok(())
}

/// The personality `--api` asks for.
pub fn personality(api: DemoApi) -> Personality {
    match api {
        DemoApi::Onvif => Personality::Onvif,
        DemoApi::Dahua => Personality::Dahua(DahuaModel::Ad410),
        DemoApi::Hikvision => Personality::Hikvision(HikModel::Kv6113),
        DemoApi::DoorBird => Personality::DoorBird,
    }
}

/// The broker to use: `--mqtt` (credentials in the URL become username/password), else an
/// embedded one on a free loopback port.
fn broker_url(mqtt: Option<String>) -> anyhow::Result<Url> {
    if let Some(text) = mqtt {
        let text = if text.contains("://") {
            text
        } else {
            format!("mqtt://{text}")
        };
        return Url::parse(&text).map_err(|e| {
            anyhow::anyhow!(
                "--mqtt {:?}: {e}; write it like mqtt://homeassistant.local",
                config::redact_url(&text)
            )
        });
    }
    embedded()
}

#[cfg(feature = "embedded-broker")]
fn embedded() -> anyhow::Result<Url> {
    let addr = crate::mqtt::embedded::start_embedded_broker()
        .map_err(|e| anyhow::anyhow!("cannot start the embedded MQTT broker: {e}"))?;
    Ok(Url::parse(&format!("mqtt://{addr}"))?)
}

#[cfg(not(feature = "embedded-broker"))]
fn embedded() -> anyhow::Result<Url> {
    anyhow::bail!(
        "this build has no embedded MQTT broker (feature embedded-broker); pass --mqtt mqtt://your-broker"
    )
}

/// The config the demo runs on.
fn demo_config(
    sim: &SimDoorbell,
    broker: &Url,
    archive: &Path,
    api: DemoApi,
) -> anyhow::Result<Config> {
    let mut plain = broker.clone();
    let _ = plain.set_username("");
    let _ = plain.set_password(None);
    let mut text = format!("[mqtt]\nurl = {}\n", toml_str(plain.as_str()));
    if !broker.username().is_empty() {
        text.push_str(&format!("username = {}\n", toml_str(broker.username())));
    }
    if let Some(p) = broker.password() {
        text.push_str(&format!("password = {}\n", toml_str(p)));
    }
    let (url, extra) = match api {
        // The device calls the listener on a free loopback port.
        DemoApi::DoorBird => (format!("http://{}", sim.addr()), "api = \"doorbird\"\n"),
        _ => (sim.device_url().to_string(), "pull_timeout = \"30s\"\n"),
    };
    if api == DemoApi::DoorBird {
        text.push_str("[push]\nlisten = \"127.0.0.1:0\"\nadvertise_url = \"http://127.0.0.1:0\"\n");
    }
    // The visitor history page, on a free loopback port.
    text.push_str("[http]\nlisten = \"127.0.0.1:0\"\n");
    text.push_str(&format!(
        r#"[storage]
path = {}
[[cameras]]
id = "demo_doorbell"
name = "Demo Doorbell"
url = {}
username = "admin"
password = "password"
{extra}[cameras.snapshot]
on = ["ring", "person", "motion"]
"#,
        toml_str(&archive.display().to_string()),
        toml_str(&url)
    ));
    Ok(config::from_toml(&text, &PathBuf::from("(demo)"))?)
}

/// `text` as a TOML string (Rust's `{:?}` escapes differ from TOML's for some characters).
fn toml_str(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// Presses the button and toggles motion until shutdown, once the bridge listens where the
/// press arrives (the ONVIF subscription, or the vendor event stream).
async fn drive(sim: &SimDoorbell, api: DemoApi, shutdown: CancellationToken) {
    let limit = Duration::from_secs(30);
    let listening = match api {
        DemoApi::Onvif => sim.wait_for_subscription(limit).await,
        DemoApi::Dahua | DemoApi::Hikvision => sim.wait_for_streams(1, limit).await,
        DemoApi::DoorBird => {
            sim.wait_until(limit, |s| !s.linked("doorbell").is_empty())
                .await
        }
    };
    if !listening {
        eprintln!("the bridge did not start listening to the simulated doorbell within 30 s");
    }
    let mut press = tokio::time::interval(PRESS_EVERY);
    let mut motion = tokio::time::interval(MOTION_EVERY);
    motion.tick().await;
    let mut moving = false;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = press.tick() => {
                println!("--- pressing the doorbell button");
                sim.press();
            }
            _ = motion.tick() => {
                moving = !moving;
                println!("--- motion {}", if moving { "starts" } else { "stops" });
                sim.set_motion(moving);
            }
        }
    }
}

/// Subscribes to everything the bridge publishes and prints it.
async fn watch(config: &Config, shutdown: CancellationToken) {
    let m = &config.mqtt;
    let mut opts = MqttOptions::new(
        format!("doorbell-bridge-demo-watch-{}", std::process::id()),
        &m.host,
        m.port,
    );
    opts.set_max_packet_size(crate::mqtt::MAX_PACKET_BYTES, crate::mqtt::MAX_PACKET_BYTES);
    if let (Some(u), Some(p)) = (&m.username, &m.password) {
        opts.set_credentials(u, p.expose());
    }
    let (client, mut events) = AsyncClient::new(opts, 16);
    let filters = [
        format!("{}/#", m.base_topic),
        format!("{}/#", m.discovery_prefix),
    ];
    loop {
        let event = tokio::select! {
            () = shutdown.cancelled() => return,
            e = events.poll() => e,
        };
        match event {
            Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                for f in &filters {
                    let _ = client.subscribe(f, QoS::AtMostOnce).await;
                }
            }
            Ok(Event::Incoming(Incoming::Publish(p))) => {
                println!("{}  {}", p.topic, show(&p.payload));
                if p.topic.ends_with("/snapshot/info")
                    && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&p.payload)
                    && let Some(path) = v.get("archived").and_then(|a| a.as_str())
                {
                    println!("    archived: {path}");
                }
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("demo watcher: {e}; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

/// A short, printable form of a payload.
pub fn show(payload: &[u8]) -> String {
    if crate::snapshot::is_jpeg(payload) {
        return format!("<JPEG, {} bytes>", payload.len());
    }
    match std::str::from_utf8(payload) {
        Ok(t) if t.chars().count() > SHOWN_PAYLOAD => {
            format!(
                "{}... ({} bytes)",
                t.chars().take(SHOWN_PAYLOAD).collect::<String>(),
                payload.len()
            )
        }
        Ok(t) => t.to_owned(),
        Err(_) => format!("<{} bytes of binary>", payload.len()),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::cli::{Cli, Command};

    fn api(args: &[&str]) -> Result<DemoApi, clap::Error> {
        let cli = Cli::try_parse_from([&["doorbell-bridge", "demo"], args].concat())?;
        match cli.command {
            Some(Command::Demo { api, .. }) => Ok(api),
            other => panic!("not the demo: {other:?}"),
        }
    }

    #[test]
    fn the_demo_api_flag_picks_the_simulated_device() {
        assert_eq!(api(&[]).unwrap(), DemoApi::Onvif);
        assert_eq!(
            personality(api(&["--api", "dahua"]).unwrap()),
            Personality::Dahua(DahuaModel::Ad410)
        );
        assert_eq!(
            personality(api(&["--api", "hikvision"]).unwrap()),
            Personality::Hikvision(HikModel::Kv6113)
        );
        assert_eq!(
            personality(api(&["--api", "doorbird"]).unwrap()),
            Personality::DoorBird
        );
        let wrong = api(&["--api", "reolink"]).unwrap_err().to_string();
        assert!(
            wrong.contains("dahua") && wrong.contains("hikvision"),
            "{wrong}"
        );
    }
}
