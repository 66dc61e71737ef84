//! One run for one camera count: N simulated doorbells, a fresh Mosquitto, the bridge as a
//! separate process, then the phases (startup, idle, single presses, bursts, all offline,
//! shutdown).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use doorbell_bridge::sim::{
    DahuaModel, DahuaQuirks, Fault, HikModel, Personality, SimDoorbell, SimOptions,
};
use doorbell_bridge::vendor::RING_WINDOW;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::mosquitto::Mosquitto;
use crate::procfs::{self, Usage};
use crate::report::{Dist, Outcome, Phase};
use crate::watch::{self, Arrival, What};

/// Base topic of the bench's bridge.
pub const BASE: &str = "bench";
/// How long one single press may take to show up before it counts as missing.
const SINGLE_DEADLINE: Duration = Duration::from_secs(10);
/// How long the bridge may take to stop after SIGTERM.
const STOP_DEADLINE: Duration = Duration::from_secs(20);
/// Distinct warning messages the report lists.
pub const MAX_WARNINGS: usize = 10;
/// Settling time after the last camera came online, before the idle window (retained
/// startup messages, first long polls).
const SETTLE: Duration = Duration::from_secs(2);

/// Extra time a vendor camera waits after [`RING_WINDOW`] before it is pressed again, so that
/// its next press is a new ring and not part of the last one.
const RING_WINDOW_MARGIN: Duration = Duration::from_millis(250);

/// Which doorbell the simulated cameras play, and the `api` the bridge is configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// A Reolink-shaped ONVIF doorbell: the press on PullPoint.
    Onvif,
    /// An Amcrest AD410: ONVIF for motion, the press on the Dahua attach stream.
    Dahua,
    /// A Hikvision DS-KV6113 door station: the alert stream and the call status polled every
    /// second.
    Hikvision,
}

impl Api {
    /// Reads `onvif`, `dahua` or `hikvision`.
    pub fn parse(text: &str) -> Result<Api, String> {
        match text {
            "onvif" => Ok(Api::Onvif),
            "dahua" => Ok(Api::Dahua),
            "hikvision" => Ok(Api::Hikvision),
            _ => Err(format!("{text:?}: write onvif, dahua or hikvision")),
        }
    }

    /// The config value (and the report's name).
    pub fn name(self) -> &'static str {
        match self {
            Api::Onvif => "onvif",
            Api::Dahua => "dahua",
            Api::Hikvision => "hikvision",
        }
    }

    fn options(self) -> SimOptions {
        let personality = match self {
            Api::Onvif => Personality::Onvif,
            Api::Dahua => Personality::Dahua(DahuaModel::Ad410),
            Api::Hikvision => Personality::Hikvision(HikModel::Kv6113),
        };
        SimOptions {
            personality,
            ..SimOptions::default()
        }
    }

    fn vendor(self) -> bool {
        self != Api::Onvif
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Which doorbells the cameras are.
    pub api: Api,
    /// The bridge executable.
    pub bridge: PathBuf,
    /// `pull_timeout` written into the bridge's config.
    pub pull_timeout: String,
    /// Idle window.
    pub idle: Duration,
    /// Single presses.
    pub presses: usize,
    /// Bursts (every camera at once).
    pub bursts: usize,
    /// Window in which requests to offline cameras are counted.
    pub offline: Duration,
    /// Extra environment for the bridge (e.g. tuning knobs).
    pub env: Vec<(String, String)>,
    /// Parent of the snapshot archive (a temporary folder when `None`).
    pub archive: Option<PathBuf>,
    /// ONVIF push instead of the PullPoint: `[push]` on 127.0.0.1 and `events = "push"`.
    pub push: bool,
}

/// CPU readings of the bridge, the bench and Mosquitto at one moment.
#[derive(Clone, Copy)]
struct Mark {
    at: Instant,
    bridge: Usage,
    bench: Usage,
    broker: Usage,
}

/// Everything alive during one run.
struct Run {
    plan: Plan,
    broker_pid: String,
    sims: Vec<SimDoorbell>,
    arrivals: UnboundedReceiver<Arrival>,
    bridge: Child,
    pid: String,
    ticks: u64,
    /// Per camera: the PullMessages count that means a fresh long poll is held (ONVIF), the
    /// callStatus count that means the bridge saw the call end (Hikvision).
    ready_at: Vec<u64>,
    /// Per camera: when its last press's ring window is over (vendor cameras).
    window_ends: Vec<Instant>,
    log: PathBuf,
}

/// Runs the plan with `cameras` doorbells.
pub async fn run(plan: &Plan, cameras: usize) -> anyhow::Result<Outcome> {
    let broker = Mosquitto::start()?;
    let mut sims = Vec::with_capacity(cameras);
    for _ in 0..cameras {
        let sim = SimDoorbell::start(plan.api.options()).await?;
        if plan.api == Api::Dahua {
            // A press's five parts in one write (a quirk real AD410s show too), so the latency
            // is the bridge's and not the simulator's 5 ms gaps before the third part, the ring.
            sim.set_dahua_quirks(DahuaQuirks {
                parts_in_one_write: true,
                ..DahuaQuirks::default()
            });
        }
        sims.push(sim);
    }
    let arrivals = watch::start(broker.port(), BASE).await?;
    let dir = tempfile::tempdir()?;
    let archive = tempfile::tempdir_in(plan.archive.as_deref().unwrap_or(dir.path()))?;
    let mut config = write_config(
        dir.path(),
        archive.path(),
        broker.port(),
        &sims,
        &plan.pull_timeout,
        plan.api.name(),
    )?;
    if plan.push {
        config = with_push(&config)?;
    }
    let log = dir.path().join("bridge.log");
    let started = Instant::now();
    let bridge = spawn(&plan.bridge, &plan.env, &config, "warn", &log)?;
    let pid = bridge.id().to_string();
    let mut run = Run {
        plan: plan.clone(),
        broker_pid: broker.pid(),
        ready_at: vec![1; sims.len()],
        window_ends: vec![Instant::now(); sims.len()],
        sims,
        arrivals,
        bridge,
        pid,
        ticks: procfs::clock_ticks(),
        log,
    };
    let mut result = run.phases(started).await;
    match &mut result {
        Ok(o) => o.warnings = run.warnings(),
        Err(_) => eprintln!("bridge log (tail):\n{}", run.log_tail()),
    }
    let _ = run.bridge.kill();
    let _ = run.bridge.wait();
    for sim in run.sims {
        sim.shutdown().await;
    }
    drop(broker);
    result
}

/// Writes the bridge's config for `sims` (cameras `c0`, `c1`, ...) into `dir`.
pub fn write_config(
    dir: &Path,
    archive: &Path,
    port: u16,
    sims: &[SimDoorbell],
    pull_timeout: &str,
    api: &str,
) -> anyhow::Result<PathBuf> {
    let mut text = format!(
        "[mqtt]\nurl = \"mqtt://127.0.0.1:{port}\"\nbase_topic = \"{BASE}\"\nclient_id = \"bench-bridge\"\n\
         [storage]\npath = {:?}\n",
        archive.display().to_string()
    );
    for (i, sim) in sims.iter().enumerate() {
        text += &format!(
            "[[cameras]]\nid = \"c{i}\"\nname = \"Bench {i}\"\nurl = \"{}\"\nusername = \"admin\"\n\
             password = \"password\"\npull_timeout = \"{pull_timeout}\"\napi = \"{api}\"\n\
             [cameras.snapshot]\non = [\"ring\"]\n",
            sim.device_url()
        );
    }
    let path = dir.join("bench.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// The config at `config` with the push listener on a free loopback port and every camera on
/// `events = "push"`.
pub fn with_push(config: &Path) -> anyhow::Result<PathBuf> {
    let text = std::fs::read_to_string(config)?;
    let text = text.replace(
        "[storage]",
        "[push]\nlisten = \"127.0.0.1:0\"\nadvertise_url = \"http://127.0.0.1:0\"\n[storage]",
    );
    let text = text.replace(
        "[cameras.snapshot]",
        "events = \"push\"\n[cameras.snapshot]",
    );
    let path = config.with_file_name("bench-push.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Starts the bridge at `bridge` with `config`, logging at `level` into `log`.
pub fn spawn(
    bridge: &Path,
    env: &[(String, String)],
    config: &Path,
    level: &str,
    log: &Path,
) -> anyhow::Result<Child> {
    let out = std::fs::File::create(log)?;
    Command::new(bridge)
        .arg("--config")
        .arg(config)
        .args(["--log-level", level, "--log-format", "human", "run"])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .with_context(|| format!("cannot start {}", bridge.display()))
}

impl Run {
    async fn phases(&mut self, started: Instant) -> anyhow::Result<Outcome> {
        let n = self.sims.len();
        let mut o = Outcome {
            cameras: n,
            api: self.plan.api.name(),
            events: if self.plan.push { "push" } else { "pull" },
            ..Outcome::default()
        };
        o.startup = Some(self.until_all(What::Online, started).await?);
        o.startup_cpu = procfs::usage(&self.pid, self.ticks).cpu;
        tokio::time::sleep(SETTLE).await;
        let idle = self.mark();
        tokio::time::sleep(self.plan.idle).await;
        o.idle = self.measure(idle);
        o.idle_usage = procfs::usage(&self.pid, self.ticks);
        let (ring, snap, phase) = self.single_presses().await?;
        (o.single_ring, o.single_snapshot, o.single) = (ring, snap, phase);
        let (ring, snap, phase, spread) = self.bursts().await?;
        (o.burst_ring, o.burst_snapshot, o.burst, o.press_spread) = (ring, snap, phase, spread);
        o.threads = procfs::threads(&self.pid);
        let (rates, detect, phase) = self.offline().await?;
        (
            (o.offline_rate, o.offline_rate_late),
            o.offline_detect,
            o.offline,
        ) = (rates, detect, phase);
        o.hwm_kib = procfs::usage(&self.pid, self.ticks).hwm_kib;
        o.shutdown = self.stop().await;
        Ok(o)
    }

    fn mark(&self) -> Mark {
        Mark {
            at: Instant::now(),
            bridge: procfs::usage(&self.pid, self.ticks),
            bench: procfs::usage("self", self.ticks),
            broker: procfs::usage(&self.broker_pid, self.ticks),
        }
    }

    /// CPU of the bridge, the bench and Mosquitto since `start`.
    fn measure(&self, start: Mark) -> Phase {
        let end = self.mark();
        let wall = end.at - start.at;
        Phase {
            wall,
            bridge_cpu: procfs::percent(start.bridge, end.bridge, wall),
            bridge_time: end.bridge.cpu.saturating_sub(start.bridge.cpu),
            sim_cpu: procfs::percent(start.bench, end.bench, wall),
            broker_cpu: procfs::percent(start.broker, end.broker, wall),
            rss_kib: end.bridge.rss_kib,
        }
    }

    /// Waits until every camera's last status is `what`; returns the time since `since`.
    async fn until_all(&mut self, what: What, since: Instant) -> anyhow::Result<Duration> {
        let n = self.sims.len();
        let deadline =
            Instant::now() + Duration::from_secs(60) + Duration::from_millis(50) * n as u32;
        let mut done = HashSet::new();
        let mut last = since;
        while done.len() < n {
            let Some(a) = self.next(deadline).await else {
                anyhow::bail!("only {} of {n} cameras became {what:?} in time", done.len());
            };
            if a.at < since || !matches!(a.what, What::Online | What::Offline) {
                continue;
            }
            if a.what == what {
                done.insert(a.camera);
                last = a.at;
            } else {
                done.remove(&a.camera);
            }
        }
        Ok(last - since)
    }

    async fn next(&mut self, deadline: Instant) -> Option<Arrival> {
        tokio::time::timeout_at(deadline.into(), self.arrivals.recv())
            .await
            .ok()
            .flatten()
    }

    /// Waits until camera `i` can be pressed so that the press is a new ring: ONVIF, once it
    /// holds a fresh long poll; a vendor camera, once its stream is open and its last press's
    /// ring window is over (a Hikvision door station also once the bridge polled the call's
    /// end).
    async fn ready(&mut self, i: usize) -> anyhow::Result<()> {
        let sim = &self.sims[i];
        if self.plan.push {
            // Push: ready while the subscription lives; nothing is held between presses.
            if !sim.wait_for_push_subscriptions(1, SINGLE_DEADLINE).await {
                anyhow::bail!("camera {i}: no push subscription");
            }
            return Ok(());
        }
        let (action, want) = match self.plan.api {
            Api::Onvif => ("PullMessages", self.ready_at[i]),
            Api::Dahua => ("", 0),
            Api::Hikvision => ("callStatus", self.ready_at[i]),
        };
        if !action.is_empty() && !sim.wait_for_requests(action, want, SINGLE_DEADLINE).await {
            anyhow::bail!("camera {i}: no new {action} after its last press");
        }
        if self.plan.api.vendor() {
            if sim.stats().streams_open == 0 {
                let opened = sim.stats().streams_opened + 1;
                if !sim.wait_for_streams(opened, SINGLE_DEADLINE).await {
                    anyhow::bail!("camera {i}: the bridge has no event stream open");
                }
            }
            tokio::time::sleep_until(self.window_ends[i].into()).await;
        }
        if self.plan.api == Api::Onvif {
            self.ready_at[i] = sim.stats().action("PullMessages") + 1;
        }
        Ok(())
    }

    /// After camera `i`'s press was delivered: a door station's call is hung up, and the next
    /// press waits until the bridge polled the idle status twice (one poll may have been in
    /// flight); a vendor camera's next press waits for the end of the ring window.
    fn pressed(&mut self, i: usize, at: Instant) {
        if !self.plan.api.vendor() {
            return;
        }
        self.window_ends[i] = at + RING_WINDOW + RING_WINDOW_MARGIN;
        if self.plan.api == Api::Hikvision {
            let sim = &self.sims[i];
            sim.hang_up();
            self.ready_at[i] = sim.stats().action("callStatus") + 2;
        }
    }

    /// Presses `cameras` (each once, as fast as possible) and collects doorbell and snapshot
    /// arrivals until `deadline`.
    async fn press(
        &mut self,
        cameras: &[usize],
        deadline: Duration,
    ) -> anyhow::Result<(Vec<Duration>, Vec<Duration>, usize, usize, Duration)> {
        for &i in cameras {
            self.ready(i).await?;
        }
        let mut pressed = vec![None; self.sims.len()];
        let first = Instant::now();
        for &i in cameras {
            pressed[i] = Some(Instant::now());
            self.sims[i].press();
        }
        let spread = first.elapsed();
        let deadline = Instant::now() + deadline;
        let mut want: HashSet<(usize, What)> = cameras
            .iter()
            .flat_map(|&i| [(i, What::Doorbell), (i, What::Snapshot)])
            .collect();
        let (mut rings, mut snaps) = (Vec::new(), Vec::new());
        while !want.is_empty() {
            let Some(a) = self.next(deadline).await else {
                break;
            };
            if !want.remove(&(a.camera, a.what)) {
                continue;
            }
            let Some(at) = pressed[a.camera] else {
                continue;
            };
            match a.what {
                What::Doorbell => rings.push(a.at - at),
                _ => snaps.push(a.at - at),
            }
        }
        for &i in cameras {
            if let Some(at) = pressed[i] {
                self.pressed(i, at);
            }
        }
        let lost_rings = want.iter().filter(|(_, w)| *w == What::Doorbell).count();
        let lost_snaps = want.len() - lost_rings;
        Ok((rings, snaps, lost_rings, lost_snaps, spread))
    }

    async fn single_presses(&mut self) -> anyhow::Result<(Dist, Dist, Phase)> {
        let n = self.sims.len();
        let start = self.mark();
        let (mut rings, mut snaps, mut lost_r, mut lost_s) = (Vec::new(), Vec::new(), 0, 0);
        for k in 0..self.plan.presses {
            // A fixed walk over the cameras (7919 is prime, so it visits them all).
            let i = (k * 7919) % n;
            let (r, s, lr, ls, _) = self.press(&[i], SINGLE_DEADLINE).await?;
            rings.extend(r);
            snaps.extend(s);
            (lost_r, lost_s) = (lost_r + lr, lost_s + ls);
        }
        let phase = self.measure(start);
        Ok((Dist::of(rings, lost_r), Dist::of(snaps, lost_s), phase))
    }

    async fn bursts(&mut self) -> anyhow::Result<(Dist, Dist, Phase, Duration)> {
        let n = self.sims.len();
        let all: Vec<usize> = (0..n).collect();
        let deadline = Duration::from_secs(30) + Duration::from_millis(20) * n as u32;
        let start = self.mark();
        let (mut rings, mut snaps, mut lost_r, mut lost_s) = (Vec::new(), Vec::new(), 0, 0);
        let mut spread = Duration::ZERO;
        for _ in 0..self.plan.bursts {
            let (r, s, lr, ls, sp) = self.press(&all, deadline).await?;
            rings.extend(r);
            snaps.extend(s);
            (lost_r, lost_s) = (lost_r + lr, lost_s + ls);
            spread = spread.max(sp);
        }
        let phase = self.measure(start);
        Ok((
            Dist::of(rings, lost_r),
            Dist::of(snaps, lost_s),
            phase,
            spread,
        ))
    }

    fn requests(&self) -> u64 {
        self.sims.iter().map(|s| s.stats().requests).sum()
    }

    /// Every camera answers HTTP 500 and loses its subscription; counts what the bridge sends
    /// over the whole window and over its second half (backoff grown).
    async fn offline(&mut self) -> anyhow::Result<((f64, f64), Option<Duration>, Phase)> {
        let start = self.mark();
        let before = self.requests();
        for sim in &self.sims {
            sim.set_fault(Fault::Http500);
            sim.drop_subscriptions();
            if self.plan.api.vendor() {
                // The open event stream would go on: close it as a camera that went away does.
                sim.reboot();
            }
        }
        let detect = self.until_all(What::Offline, start.at).await.ok();
        let half = start.at + self.plan.offline / 2;
        tokio::time::sleep_until(half.into()).await;
        let (middle, at_half) = (self.requests(), Instant::now());
        tokio::time::sleep_until((start.at + self.plan.offline).into()).await;
        let end = self.requests();
        let phase = self.measure(start);
        let n = self.sims.len() as f64;
        let rate = (end - before) as f64 / n / phase.wall.as_secs_f64();
        let late = (end - middle) as f64 / n / at_half.elapsed().as_secs_f64();
        Ok(((rate, late), detect, phase))
    }

    /// SIGTERM, then the time until the process exits.
    async fn stop(&mut self) -> Option<Duration> {
        let start = Instant::now();
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid])
            .status()
            .is_ok_and(|s| s.success());
        if !sent {
            return None;
        }
        while start.elapsed() < STOP_DEADLINE {
            if let Ok(Some(status)) = self.bridge.try_wait() {
                if !status.success() {
                    eprintln!("bridge exited with {status}");
                }
                return Some(start.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        None
    }

    fn warnings(&self) -> Vec<(String, usize)> {
        warnings(&self.log)
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// Distinct WARN/ERROR lines of the bridge log at `log` (without their timestamps; digits, such
/// as ports and ids, as `#`), with counts; at most [`MAX_WARNINGS`] distinct ones.
pub fn warnings(log: &Path) -> Vec<(String, usize)> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut seen: Vec<(String, usize)> = Vec::new();
    for line in text.lines() {
        let Some(i) = line.find("WARN").or_else(|| line.find("ERROR")) else {
            continue;
        };
        // Digits (ports, ids) differ per camera: the same message for every camera counts once.
        let msg: String = line[i..]
            .chars()
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .collect();
        if let Some((_, n)) = seen.iter_mut().find(|(m, _)| *m == msg) {
            *n += 1;
        } else if seen.len() < MAX_WARNINGS {
            seen.push((msg, 1));
        }
    }
    seen
}
