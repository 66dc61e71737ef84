//! `--history N`: the visitor history page of the release bridge over an archive of `N`
//! events (4 cameras, 30 days, a picture and sidecar each, a clip every tenth, ten `door`
//! events for a rare filter). Measures the page's own server time (its `Server-Timing`) and
//! the round trip on loopback for the first page, a deep page, a rare kind and the live
//! strip; the page's weight before pictures; and the bridge's CPU with 10 open pages idle
//! (their live-view streams held) against none.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use doorbell_bridge::sim::{SimDoorbell, SimOptions};

use crate::mosquitto::Mosquitto;
use crate::procfs;
use crate::report::{Dist, ms};
use crate::scenario::{BASE, spawn};

/// What to run.
pub struct Plan {
    /// The bridge executable.
    pub bridge: PathBuf,
    /// Events in the archive.
    pub events: usize,
    /// How long each idle reading lasts.
    pub idle: Duration,
    /// Requests per measured page.
    pub samples: usize,
}

const CAMERAS: usize = 4;
const DAYS: usize = 30;
/// Open pages during the idle reading.
const OPEN_PAGES: usize = 10;
const WAIT: Duration = Duration::from_secs(60);

/// Writes the archive: names only matter to the page, so files are small.
fn fill(root: &Path, events: usize) -> anyhow::Result<String> {
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::system())
        .date();
    let per_day = events.div_ceil(CAMERAS * DAYS);
    let mut n = 0;
    let mut deep = String::new();
    'outer: for d in 0..DAYS {
        let day = today.checked_sub(jiff::Span::new().days(d as i64))?;
        for c in 0..CAMERAS {
            let dir = root.join(format!("c{c}")).join(day.to_string());
            std::fs::create_dir_all(&dir)?;
            for i in 0..per_day {
                if n == events {
                    break 'outer;
                }
                let secs = i * 86_000 / per_day;
                let kind = if n % 10_000 == 5 {
                    "door"
                } else if i % 3 == 0 {
                    "ring"
                } else {
                    "motion"
                };
                let stem = format!(
                    "{:02}{:02}{:02}.{:03}_{kind}",
                    secs / 3600,
                    secs / 60 % 60,
                    secs % 60,
                    i % 1000
                );
                std::fs::write(dir.join(format!("{stem}.jpg")), b"\xff\xd8 bench \xff\xd9")?;
                std::fs::write(dir.join(format!("{stem}.json")), b"{}")?;
                if n % 10 == 0 {
                    std::fs::write(dir.join(format!("{stem}.mp4")), b"mp4")?;
                    std::fs::write(dir.join(format!("{stem}.clip.json")), b"{}")?;
                }
                if d == DAYS / 2 && c == 0 && i == per_day / 2 {
                    deep = format!("c0/{day}/{stem}");
                }
                n += 1;
            }
        }
    }
    Ok(deep)
}

/// The page's address, from the bridge's log line.
async fn page_url(log: &Path) -> anyhow::Result<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(rest) = text.split("visitor history on ").nth(1) {
            return Ok(rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the bridge never served the page:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct Sample {
    server: Duration,
    total: Duration,
    bytes: usize,
    scanned: u64,
}

async fn fetch(http: &reqwest::Client, url: &str) -> anyhow::Result<Sample> {
    let t = Instant::now();
    let r = http.get(url).send().await?;
    anyhow::ensure!(r.status() == 200, "{url}: {}", r.status());
    let timing = r
        .headers()
        .get("server-timing")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = r.bytes().await?;
    let total = t.elapsed();
    let dur = timing
        .split("dur=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(0.0);
    let scanned = timing
        .split("desc=\"")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(Sample {
        server: Duration::from_secs_f64(dur / 1000.0),
        total,
        bytes: body.len(),
        scanned,
    })
}

/// Runs it and returns the report (Markdown).
pub async fn run(plan: &Plan) -> anyhow::Result<String> {
    let broker = Mosquitto::start()?;
    let dir = tempfile::tempdir()?;
    let archive = dir.path().join("footage");
    let t = Instant::now();
    let root = archive.clone();
    let events = plan.events;
    let deep = tokio::task::spawn_blocking(move || fill(&root, events)).await??;
    let filled = t.elapsed();
    let mut sims = Vec::new();
    for _ in 0..CAMERAS {
        sims.push(SimDoorbell::start(SimOptions::default()).await?);
    }
    let mut text = format!(
        "[mqtt]\nurl = \"mqtt://127.0.0.1:{}\"\nbase_topic = \"{BASE}\"\nclient_id = \"bench-bridge\"\n\
         [http]\nlisten = \"127.0.0.1:0\"\n\
         [storage]\npath = {:?}\nmax_age = \"365d\"\nmax_size = \"1TiB\"\n",
        broker.port(),
        archive.display().to_string()
    );
    for (i, sim) in sims.iter().enumerate() {
        text += &format!(
            "[[cameras]]\nid = \"c{i}\"\nurl = \"{}\"\nusername = \"admin\"\npassword = \"password\"\n",
            sim.device_url()
        );
    }
    let config = dir.path().join("history.toml");
    std::fs::write(&config, text)?;
    let log = dir.path().join("bridge.log");
    let mut bridge = spawn(&plan.bridge, &[], &config, "info", &log)?;
    let result = measure(plan, &log, bridge.id(), &deep).await;
    let _ = bridge.kill();
    let _ = bridge.wait();
    for sim in sims {
        sim.shutdown().await;
    }
    let body = result?;
    Ok(format!(
        "archive: {} events ({CAMERAS} cameras x {DAYS} days, a clip every tenth), written in {:.1} s\n\n{body}",
        plan.events,
        filled.as_secs_f64()
    ))
}

async fn measure(plan: &Plan, log: &Path, pid: u32, deep: &str) -> anyhow::Result<String> {
    let base = page_url(log).await?;
    let http = reqwest::Client::new();
    let pid = pid.to_string();
    let ticks = procfs::clock_ticks();
    let mut out = String::from(
        "| request | server time p50 / p95 / p99 / max (ms) | round trip p50 / p99 (ms) | bytes | names read |\n|---|---|---|---|---|\n",
    );
    let deep_q = format!("?before={}", deep.replace('/', "%2F"));
    let cases = [
        ("first page (cold)", String::new(), 1),
        ("first page", String::new(), plan.samples),
        ("a page from the middle", deep_q, plan.samples),
        ("rare kind (door)", "?kind=door".to_owned(), plan.samples),
        ("live strip", "?part=live".to_owned(), plan.samples),
    ];
    let mut first_bytes = 0;
    for (name, query, n) in cases {
        let mut server = Vec::new();
        let mut total = Vec::new();
        let mut bytes = 0;
        let mut scanned = 0;
        for _ in 0..n {
            let s = fetch(&http, &format!("{base}{query}")).await?;
            server.push(s.server);
            total.push(s.total);
            bytes = s.bytes;
            scanned = s.scanned;
        }
        if name == "first page" {
            first_bytes = bytes;
        }
        let (sd, td) = (Dist::of(server, 0), Dist::of(total, 0));
        out += &format!(
            "| {name} | {} | {} / {} | {bytes} | {scanned} |\n",
            sd.cells(),
            ms(td.p50),
            ms(td.p99)
        );
    }
    let mut assets = 0;
    for a in ["app.js", "app.css"] {
        assets += fetch(&http, &format!("{base}{a}")).await?.bytes;
    }
    out += &format!(
        "\npage weight before pictures: {} bytes HTML + {assets} bytes script and style = {:.1} KiB\n",
        first_bytes,
        (first_bytes + assets) as f64 / 1024.0
    );
    // Idle: no page, then OPEN_PAGES pages holding their live view.
    let idle = |label: &'static str| {
        let pid = pid.clone();
        async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let before = procfs::usage(&pid, ticks);
            let t = Instant::now();
            tokio::time::sleep(plan.idle).await;
            let pct = procfs::percent(before, procfs::usage(&pid, ticks), t.elapsed());
            format!("| {label} | {pct:.3} % |\n")
        }
    };
    out += "\n| bridge idle | CPU of one core |\n|---|---|\n";
    out += &idle("no page open").await;
    let mut streams = Vec::new();
    for _ in 0..OPEN_PAGES {
        let mut r = http.get(format!("{base}events")).send().await?;
        anyhow::ensure!(r.status() == 200, "events: {}", r.status());
        streams.push(tokio::spawn(async move {
            while let Ok(Some(_)) = r.chunk().await {}
        }));
    }
    out += &idle("10 pages open (live view streams held)").await;
    for s in streams {
        s.abort();
    }
    out += &format!(
        "\nbridge RSS after: {} KiB\n",
        procfs::usage(&pid, ticks).rss_kib
    );
    Ok(out)
}
