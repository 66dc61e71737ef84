//! `--clips 1,10`: what event clips cost. For each camera count, two fresh runs of the release
//! bridge against simulated doorbells whose RTSP stream is padded to `--clip-bitrate`: clips
//! off, then clips on (`pre = "4s"`, `post = "2s"`). Each run measures the bridge's CPU over the
//! idle window (after the pre-roll filled), its RSS, and press -> doorbell latency, so the
//! cost per camera and the unchanged ring path read off one table.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use doorbell_bridge::sim::{SimDoorbell, SimOptions};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::mosquitto::Mosquitto;
use crate::procfs;
use crate::scenario::spawn;
use crate::watch::{self, Arrival, What};

const BASE: &str = "bench";
/// Bound on every wait (a failure, not a pace).
const WAIT: Duration = Duration::from_secs(60);
/// After every camera plays: the pre-roll (4 s) fills, plus a margin.
const WARMUP: Duration = Duration::from_secs(6);

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The bridge executable.
    pub bridge: PathBuf,
    /// Camera counts.
    pub cameras: Vec<usize>,
    /// Bits per second of each camera's stream.
    pub bitrate: u64,
    /// CPU window.
    pub idle: Duration,
    /// Presses per run.
    pub presses: usize,
}

/// One run's figures.
struct Figures {
    cpu: f64,
    rss_mib: f64,
    p50_ms: f64,
    max_ms: f64,
}

/// Runs the plan; returns the report (Markdown).
pub async fn run(plan: &Plan) -> anyhow::Result<String> {
    let mut out = format!(
        "clips: streams of {:.1} Mbit/s (simulated, padded with filler data), idle {:?}, {} presses\n\n\
         | cameras | clips | bridge CPU (% of a core) | RSS (MiB) | press -> doorbell p50 / max (ms) |\n\
         | --- | --- | --- | --- | --- |\n",
        plan.bitrate as f64 / 1e6,
        plan.idle,
        plan.presses
    );
    let mut per_camera = String::new();
    for &n in &plan.cameras {
        let off = one(plan, n, false).await?;
        let on = one(plan, n, true).await?;
        for (mode, f) in [("off", &off), ("on", &on)] {
            out += &format!(
                "| {n} | {mode} | {:.2} | {:.1} | {:.1} / {:.1} |\n",
                f.cpu, f.rss_mib, f.p50_ms, f.max_ms
            );
        }
        per_camera += &format!(
            "- {n} camera(s): clips cost {:.2} % of a core and {:.2} MiB per camera\n",
            (on.cpu - off.cpu) / n as f64,
            (on.rss_mib - off.rss_mib) / n as f64
        );
    }
    out += "\n";
    out += &per_camera;
    Ok(out)
}

async fn one(plan: &Plan, cameras: usize, clips: bool) -> anyhow::Result<Figures> {
    let broker = Mosquitto::start()?;
    let mut sims = Vec::with_capacity(cameras);
    for _ in 0..cameras {
        let sim = SimDoorbell::start(SimOptions::default()).await?;
        sim.set_rtsp_bitrate(plan.bitrate);
        sims.push(sim);
    }
    let mut arrivals = watch::start(broker.port(), BASE).await?;
    let dir = tempfile::tempdir()?;
    let config = write_config(dir.path(), broker.port(), &sims, clips)?;
    let log = dir.path().join("bridge.log");
    let mut bridge = spawn(&plan.bridge, &[], &config, "warn", &log)?;
    let pid = bridge.id().to_string();
    let ticks = procfs::clock_ticks();
    let result = async {
        let mut online = 0;
        while online < cameras {
            if next(&mut arrivals).await?.what == What::Online {
                online += 1;
            }
        }
        for sim in &sims {
            anyhow::ensure!(sim.wait_for_subscription(WAIT).await, "no subscription");
            if clips {
                anyhow::ensure!(
                    sim.wait_for_plays(1, WAIT).await,
                    "the stream is not played"
                );
            }
        }
        tokio::time::sleep(WARMUP).await;
        let (u0, t0) = (procfs::usage(&pid, ticks), Instant::now());
        tokio::time::sleep(plan.idle).await;
        let u1 = procfs::usage(&pid, ticks);
        let cpu = procfs::percent(u0, u1, t0.elapsed());
        let mut latencies = Vec::with_capacity(plan.presses);
        for k in 0..plan.presses {
            let i = k % cameras;
            let polls = sims[i].stats().action("PullMessages");
            let at = Instant::now();
            sims[i].press();
            loop {
                let a = next(&mut arrivals).await?;
                if a.camera == i && a.what == What::Doorbell {
                    latencies.push(a.at - at);
                    break;
                }
            }
            // The next press waits for the poll that follows this ring.
            anyhow::ensure!(
                sims[i]
                    .wait_for_requests("PullMessages", polls + 1, WAIT)
                    .await,
                "no poll after the ring"
            );
        }
        latencies.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        Ok(Figures {
            cpu,
            rss_mib: u1.rss_kib as f64 / 1024.0,
            p50_ms: latencies.get(latencies.len() / 2).copied().map_or(0.0, ms),
            max_ms: latencies.last().copied().map_or(0.0, ms),
        })
    }
    .await;
    let _ = bridge.kill();
    let _ = bridge.wait();
    for sim in sims {
        sim.shutdown().await;
    }
    drop(broker);
    result
}

async fn next(arrivals: &mut UnboundedReceiver<Arrival>) -> anyhow::Result<Arrival> {
    tokio::time::timeout(WAIT, arrivals.recv())
        .await
        .map_err(|_| anyhow::anyhow!("nothing arrived within {WAIT:?}"))?
        .ok_or_else(|| anyhow::anyhow!("the subscriber ended"))
}

fn write_config(
    dir: &Path,
    port: u16,
    sims: &[SimDoorbell],
    clips: bool,
) -> anyhow::Result<PathBuf> {
    let mut text = format!(
        "[mqtt]\nurl = \"mqtt://127.0.0.1:{port}\"\nbase_topic = \"{BASE}\"\nclient_id = \"bench-bridge\"\n\
         [storage]\npath = {:?}\n",
        dir.join("archive").display().to_string()
    );
    for (i, sim) in sims.iter().enumerate() {
        text += &format!(
            "[[cameras]]\nid = \"c{i}\"\nname = \"Bench {i}\"\nurl = \"{}\"\nusername = \"admin\"\n\
             password = \"password\"\npull_timeout = \"20s\"\napi = \"onvif\"\n\
             [cameras.snapshot]\non = [\"ring\"]\n",
            sim.device_url()
        );
        if clips {
            text += "[cameras.clip]\non = [\"ring\"]\npre = \"4s\"\npost = \"2s\"\n";
        }
    }
    let path = dir.join("bench.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}
