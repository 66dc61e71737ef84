//! The soak: many simulated cameras, random faults, broker restarts and rings for a long time,
//! then whether every ring that had to arrive did, how fast cameras resumed, and whether the
//! bridge's memory stayed flat.
//!
//! The decisions (which camera, which fault, how long) come from [`chaos`] with a printed seed;
//! the bookkeeping is [`ledger`]. This file applies them: the simulated cameras, Mosquitto
//! (restarted on the same port), the bridge process, the per-minute and final report.

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use doorbell_bridge::sim::{Fault, SimDoorbell, SimOptions};
use jiff::SignedDuration;
use tokio::sync::mpsc;

use crate::chaos::{self, Blow, Kind, Rng};
use crate::ledger::{Counts, Ledger, When};
use crate::mosquitto::Mosquitto;
use crate::procfs::{self, Usage};
use crate::report::{Dist, ms};
use crate::scenario::{self, BASE};
use crate::watch::{self, Arrival, What};

/// How long after the run every fault stays cleared while the bench waits for the last rings.
pub const DRAIN: Duration = Duration::from_secs(30);
/// A ring pressed while its camera was up counts as lost in the per-minute lines once this much
/// time passed without its doorbell (the final count waits for the drain instead).
pub const LATE: Duration = Duration::from_secs(30);
/// Interval of the progress lines.
pub const REPORT_EVERY: Duration = Duration::from_secs(60);
/// Interval of the broker restarts.
pub const BROKER_RESTART_EVERY: Duration = Duration::from_secs(600);
/// RSS growth is measured from this minute on (startup and the first faults allocate).
pub const RSS_FROM_MINUTE: usize = 3;
/// The memory goal: RSS at the end at most this much above minute [`RSS_FROM_MINUTE`].
pub const RSS_GOAL_PERCENT: f64 = 10.0;
/// How long after a fault clears the bench waits for the camera to be subscribed again before
/// its probe ring (a camera that never resubscribes counts as not resumed).
pub const PROBE_WAIT: Duration = Duration::from_secs(180);
/// How long every camera may take to come online at start.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);
/// Bridge log lines printed per lost ring.
pub const LOG_LINES_PER_LOSS: usize = 12;
/// Lost rings explained one by one in the report.
pub const MAX_LOSSES_EXPLAINED: usize = 20;

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The bridge executable.
    pub bridge: PathBuf,
    /// Extra environment for the bridge.
    pub env: Vec<(String, String)>,
    /// `pull_timeout` of every camera.
    pub pull_timeout: String,
    /// How long faults and rings go on (the drain comes after).
    pub duration: Duration,
    /// Simulated cameras.
    pub cameras: usize,
    /// Seed of the random schedule.
    pub seed: u64,
    /// The bridge's `--log-level`.
    pub log_level: String,
}

/// What a probe task reports: episode `e`'s camera is subscribed again (or gave up).
struct Resubscribed {
    episode: usize,
    camera: usize,
    ok: bool,
}

/// A fault to clear at `at`.
struct Pending {
    at: Instant,
    episode: usize,
    blow: Blow,
}

/// One progress reading.
#[derive(Debug, Clone, Copy)]
struct Reading {
    bridge: Usage,
    broker_cpu: Duration,
}

/// Runs the soak; returns whether the goal was met.
pub async fn run(plan: &Plan) -> anyhow::Result<bool> {
    let mut broker = Mosquitto::start_durable()?;
    let mut sims = Vec::with_capacity(plan.cameras);
    for _ in 0..plan.cameras {
        sims.push(SimDoorbell::start(SimOptions::default()).await?);
    }
    let mut arrivals = watch::start_durable(broker.port(), BASE).await?;
    // Kept after the run: the bridge log is what explains a lost ring.
    let dir = tempfile::Builder::new()
        .prefix("doorbell-bridge-soak-")
        .tempdir()?
        .keep();
    let archive = dir.join("archive");
    std::fs::create_dir_all(&archive)?;
    let config = scenario::write_config(
        &dir,
        &archive,
        broker.port(),
        &sims,
        &plan.pull_timeout,
        "onvif",
    )?;
    let log = dir.join("bridge.log");
    println!("bridge log: {}", log.display());
    let mut bridge = scenario::spawn(&plan.bridge, &plan.env, &config, &plan.log_level, &log)?;
    let result = soak(plan, &mut broker, &sims, &mut arrivals, &bridge, &log).await;
    stop(&mut bridge);
    for sim in sims {
        sim.shutdown().await;
    }
    drop(broker);
    result
}

fn stop(bridge: &mut Child) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &bridge.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = bridge.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = bridge.kill();
    let _ = bridge.wait();
}

/// Everything the soak loop works with.
struct Soak<'a> {
    plan: &'a Plan,
    sims: &'a [SimDoorbell],
    ledger: Ledger,
    rng: Rng,
    pid: String,
    ticks: u64,
    broker_pid: String,
    /// CPU time of Mosquitto instances already stopped.
    broker_cpu_before: Duration,
    /// Per camera: the active fault and its episode.
    active: Vec<Option<(Kind, usize)>>,
    /// Per camera: its latest episode.
    latest: Vec<Option<usize>>,
    pending: Vec<Pending>,
    probes: mpsc::UnboundedSender<Resubscribed>,
    started: Instant,
    wall_start: jiff::Timestamp,
    restarts: usize,
    readings: Vec<Reading>,
    probes_gave_up: usize,
}

async fn soak(
    plan: &Plan,
    broker: &mut Mosquitto,
    sims: &[SimDoorbell],
    arrivals: &mut mpsc::UnboundedReceiver<Arrival>,
    bridge: &Child,
    log: &std::path::Path,
) -> anyhow::Result<bool> {
    let (probe_tx, mut probe_rx) = mpsc::unbounded_channel();
    let mut s = Soak {
        plan,
        sims,
        ledger: Ledger::new(),
        rng: Rng::new(plan.seed),
        pid: bridge.id().to_string(),
        ticks: procfs::clock_ticks(),
        broker_pid: broker.pid(),
        broker_cpu_before: Duration::ZERO,
        active: vec![None; sims.len()],
        latest: vec![None; sims.len()],
        pending: Vec::new(),
        probes: probe_tx,
        started: Instant::now(),
        wall_start: jiff::Timestamp::now(),
        restarts: 0,
        readings: Vec::new(),
        probes_gave_up: 0,
    };
    s.startup(arrivals).await?;
    let t0 = Instant::now();
    let end = t0 + plan.duration;
    let mut next_ring = t0 + chaos::gap(&mut s.rng, chaos::RING_GAP);
    let mut next_fault = t0 + chaos::gap(&mut s.rng, chaos::FAULT_GAP);
    let mut next_restart = t0 + BROKER_RESTART_EVERY;
    let mut next_report = t0 + REPORT_EVERY;
    s.readings.push(s.reading());
    loop {
        let next_clear = s.pending.iter().map(|p| p.at).min().unwrap_or(end);
        let wake = next_ring
            .min(next_fault)
            .min(next_restart)
            .min(next_report)
            .min(next_clear)
            .min(end);
        tokio::select! {
            a = arrivals.recv() => s.arrival(a.ok_or_else(|| anyhow::anyhow!("the bench subscriber stopped"))?),
            Some(r) = probe_rx.recv() => {
                s.resubscribed(r);
            }
            () = tokio::time::sleep_until(wake.into()) => {}
        }
        let now = Instant::now();
        if now >= end {
            break;
        }
        if now >= next_clear {
            s.clear_due(now);
        }
        if now >= next_ring {
            let camera = chaos::ring_camera(&mut s.rng, sims.len());
            s.press(camera);
            next_ring = now + chaos::gap(&mut s.rng, chaos::RING_GAP);
        }
        if now >= next_fault {
            s.inflict();
            next_fault = now + chaos::gap(&mut s.rng, chaos::FAULT_GAP);
        }
        if now >= next_restart {
            s.restart_broker(broker)?;
            next_restart = now + BROKER_RESTART_EVERY;
        }
        if now >= next_report {
            s.progress(now);
            next_report += REPORT_EVERY;
        }
    }
    // The drain: every fault cleared, probes still pressed, until DRAIN after the last press.
    let now = Instant::now();
    for p in &mut s.pending {
        p.at = now;
    }
    s.clear_due(now);
    let probes_until = now + DRAIN;
    let mut drain_until = now + DRAIN;
    println!("run over: every fault cleared, draining for {DRAIN:?}");
    while Instant::now() < drain_until {
        tokio::select! {
            a = arrivals.recv() => s.arrival(a.ok_or_else(|| anyhow::anyhow!("the bench subscriber stopped"))?),
            Some(r) = probe_rx.recv() => {
                if Instant::now() < probes_until && s.resubscribed(r) {
                    drain_until = Instant::now() + DRAIN;
                }
            }
            () = tokio::time::sleep_until(drain_until.into()) => {}
        }
    }
    s.readings.push(s.reading());
    Ok(s.report(log))
}

impl Soak<'_> {
    async fn startup(
        &mut self,
        arrivals: &mut mpsc::UnboundedReceiver<Arrival>,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let mut online = vec![false; self.sims.len()];
        while online.iter().any(|o| !o) {
            let a = tokio::time::timeout_at(deadline.into(), arrivals.recv())
                .await
                .ok()
                .flatten();
            let Some(a) = a else {
                let n = online.iter().filter(|o| **o).count();
                anyhow::bail!(
                    "only {n} of {} cameras came online in {STARTUP_TIMEOUT:?}",
                    self.sims.len()
                );
            };
            if let Some(o) = online.get_mut(a.camera) {
                match a.what {
                    What::Online => *o = true,
                    What::Offline => *o = false,
                    _ => {}
                }
            }
            self.arrival(a);
        }
        println!(
            "{} cameras online after {} ms; soak for {:?}, seed {}",
            self.sims.len(),
            self.started.elapsed().as_millis(),
            self.plan.duration,
            self.plan.seed
        );
        Ok(())
    }

    fn arrival(&mut self, a: Arrival) {
        if a.camera >= self.sims.len() {
            return;
        }
        match (a.what, a.ring) {
            (What::Online, _) => self.ledger.status(a.camera, true, a.at),
            (What::Offline, _) => self.ledger.status(a.camera, false, a.at),
            (What::Doorbell, Some(r)) => self.ledger.doorbell(a.camera, r.time, a.at),
            (What::RingEvent, Some(r)) => {
                if let Some(camera_time) = r.camera_time {
                    self.ledger.ring_event(a.camera, r.time, camera_time);
                }
            }
            _ => {}
        }
    }

    /// Presses camera `i`; returns the press's index and how the camera was.
    fn press(&mut self, i: usize) -> (usize, When) {
        let sim = &self.sims[i];
        let when = match self.active[i] {
            Some((kind, _)) => When::Faulted(kind),
            None if sim.stats().live_subscriptions == 0 => When::Unsubscribed,
            None => When::Up,
        };
        let stamp = sim.press();
        (self.ledger.pressed(i, stamp, Instant::now(), when), when)
    }

    fn inflict(&mut self) {
        let healthy: Vec<usize> = (0..self.sims.len())
            .filter(|&i| self.active[i].is_none())
            .collect();
        let Some(blow) = chaos::next_blow(&mut self.rng, &healthy) else {
            return;
        };
        let sim = &self.sims[blow.camera];
        match blow.kind {
            Kind::Reboot => {
                sim.set_fault(Fault::Offline);
                sim.reboot();
            }
            Kind::Outage => sim.set_fault(Fault::Offline),
            Kind::Garbage => sim.set_fault(Fault::Garbage),
            Kind::Http500 => sim.set_fault(Fault::Http500),
            Kind::ExpiredSubscriptions => sim.drop_subscriptions(),
            Kind::ClockJump => sim.set_clock_offset(SignedDuration::from_secs(blow.jump_secs)),
        }
        let now = Instant::now();
        let episode = self.ledger.fault_started(blow.camera, blow.kind, now);
        self.active[blow.camera] = Some((blow.kind, episode));
        self.latest[blow.camera] = Some(episode);
        self.pending.push(Pending {
            at: now + blow.lasts,
            episode,
            blow,
        });
        if blow.lasts.is_zero() {
            self.clear_due(now);
        }
    }

    /// Clears every fault due by `now` and starts waiting for its camera to resubscribe.
    fn clear_due(&mut self, now: Instant) {
        let (due, rest): (Vec<Pending>, Vec<Pending>) =
            self.pending.drain(..).partition(|p| p.at <= now);
        self.pending = rest;
        for p in due {
            let sim = self.sims[p.blow.camera].clone();
            match p.blow.kind {
                Kind::Reboot | Kind::Outage | Kind::Garbage | Kind::Http500 => {
                    sim.set_fault(Fault::None)
                }
                Kind::ExpiredSubscriptions => {}
                Kind::ClockJump => sim.set_clock_offset(SignedDuration::ZERO),
            }
            self.active[p.blow.camera] = None;
            self.ledger.fault_cleared(p.episode, Instant::now());
            let tx = self.probes.clone();
            let (episode, camera) = (p.episode, p.blow.camera);
            tokio::spawn(async move {
                let ok = sim.wait_for_subscription(PROBE_WAIT).await;
                let _ = tx.send(Resubscribed {
                    episode,
                    camera,
                    ok,
                });
            });
        }
    }

    /// A cleared camera is subscribed again: its probe ring. Returns whether it pressed.
    fn resubscribed(&mut self, r: Resubscribed) -> bool {
        if !r.ok {
            self.probes_gave_up += 1;
            return false;
        }
        if self.active[r.camera].is_some() || self.latest[r.camera] != Some(r.episode) {
            // Faulted again before it resubscribed: that episode has no probe (the latest one's
            // probe presses; two at once would carry the same stamp).
            return false;
        }
        let (press, when) = self.press(r.camera);
        if when == When::Up {
            self.ledger.probe(r.episode, press);
        }
        true
    }

    fn restart_broker(&mut self, broker: &mut Mosquitto) -> anyhow::Result<()> {
        self.broker_cpu_before += procfs::usage(&self.broker_pid, self.ticks).cpu;
        let at = Instant::now();
        tokio::task::block_in_place(|| broker.restart())?;
        self.broker_pid = broker.pid();
        self.restarts += 1;
        println!(
            "{}: broker restarted on port {} ({} ms)",
            self.clock(at),
            broker.port(),
            at.elapsed().as_millis()
        );
        Ok(())
    }

    fn reading(&self) -> Reading {
        Reading {
            bridge: procfs::usage(&self.pid, self.ticks),
            broker_cpu: self.broker_cpu_before + procfs::usage(&self.broker_pid, self.ticks).cpu,
        }
    }

    /// `mm:ss` since the soak began.
    fn clock(&self, at: Instant) -> String {
        let s = at.saturating_duration_since(self.started).as_secs();
        format!("{:02}:{:02}", s / 60, s % 60)
    }

    fn progress(&mut self, now: Instant) {
        let r = self.reading();
        let prev = *self.readings.last().expect("a first reading");
        self.readings.push(r);
        let c = self.ledger.counts(now, LATE);
        let pct = |d: Duration| 100.0 * d.as_secs_f64() / REPORT_EVERY.as_secs_f64();
        println!(
            "minute {:>3}: {} | faults {} (active {}) | bridge RSS {:.1} MiB, CPU {:.1} % | mosquitto CPU {:.1} % | broker restarts {}",
            self.readings.len() - 1,
            counts_line(&c),
            self.ledger.faults().iter().map(|(_, n)| n).sum::<usize>(),
            self.active.iter().filter(|a| a.is_some()).count(),
            r.bridge.rss_kib as f64 / 1024.0,
            pct(r.bridge.cpu.saturating_sub(prev.bridge.cpu)),
            pct(r.broker_cpu.saturating_sub(prev.broker_cpu)),
            self.restarts,
        );
    }

    /// The final report; returns whether the goal was met.
    fn report(&self, log: &std::path::Path) -> bool {
        let now = Instant::now();
        let c = self.ledger.counts(now, Duration::ZERO);
        let first = self.readings.first().expect("a first reading");
        let last = self.readings.last().expect("a last reading");
        let wall = self.started.elapsed();
        println!(
            "\n## Soak: {} cameras, {:?}, seed {}\n",
            self.sims.len(),
            self.plan.duration,
            self.plan.seed
        );
        println!("rings: {}", counts_line(&c));
        println!(
            "  lost = pressed while the camera was up and subscribed, no doorbell by the end of the {DRAIN:?} drain; \
             duplicates = doorbell messages beyond the first per press; unmatched = doorbells that match no press"
        );
        if self.ledger.stamp_clashes > 0 {
            println!(
                "  presses stamped like an earlier one of their camera (a clock back at 2000 after a reboot): {}",
                self.ledger.stamp_clashes
            );
        }
        println!(
            "\n| fault | inflicted | rings pressed during it | of those delivered |\n|---|---|---|---|"
        );
        let faults = self.ledger.faults();
        for (kind, pressed, delivered) in self.ledger.by_fault() {
            let n = faults
                .iter()
                .find(|(k, _)| *k == kind)
                .map_or(0, |(_, n)| *n);
            println!("| {} | {n} | {pressed} | {delivered} |", kind.name());
        }
        println!("broker restarts: {}", self.restarts);
        println!(
            "\n| resume after the fault cleared, ms: p50 / p95 / max (n) | next ring delivered | `online` again |\n|---|---|---|"
        );
        let row = |name: &str, kind: Option<Kind>| {
            let (ring, ring_missing) = self.ledger.resume_ring(kind);
            let (online, online_missing) = self.ledger.resume_online(kind);
            println!(
                "| {name} | {} | {} |",
                resume_cells(ring, ring_missing),
                resume_cells(online, online_missing)
            );
        };
        row("all faults", None);
        for kind in Kind::ALL {
            row(kind.name(), Some(kind));
        }
        println!(
            "  next ring: pressed as soon as the camera holds a subscription again, measured from the clear; \
             missing: no subscription within {PROBE_WAIT:?} ({} cameras), faulted again first, or not delivered. \
             `online` again: only episodes after which the camera was reported offline",
            self.probes_gave_up
        );
        let subs: Vec<_> = self.sims.iter().map(SimDoorbell::stats).collect();
        println!(
            "\nsimulator: live subscriptions at the end {} for {} cameras (most on one: {}), created {}, renewed {}, unsubscribed {}",
            subs.iter().map(|s| s.live_subscriptions).sum::<usize>(),
            self.sims.len(),
            subs.iter().map(|s| s.live_subscriptions).max().unwrap_or(0),
            subs.iter().map(|s| s.subscriptions_created).sum::<u64>(),
            subs.iter().map(|s| s.renewed).sum::<u64>(),
            subs.iter().map(|s| s.unsubscribed).sum::<u64>(),
        );
        let cpu = |a: Duration, b: Duration| {
            100.0 * b.saturating_sub(a).as_secs_f64() / wall.as_secs_f64()
        };
        println!(
            "CPU over the run, % of a core: bridge {:.2}, mosquitto {:.2}",
            cpu(first.bridge.cpu, last.bridge.cpu),
            cpu(first.broker_cpu, last.broker_cpu)
        );
        let rss: Vec<String> = self
            .readings
            .iter()
            .map(|r| format!("{:.1}", r.bridge.rss_kib as f64 / 1024.0))
            .collect();
        println!(
            "bridge RSS per minute, MiB (start, minutes 1.., end after the drain): {}",
            rss.join(" ")
        );
        println!(
            "bridge peak RSS (VmHWM): {:.1} MiB",
            last.bridge.hwm_kib as f64 / 1024.0
        );
        let growth = self
            .readings
            .get(RSS_FROM_MINUTE)
            .filter(|_| self.readings.len() > RSS_FROM_MINUTE + 1)
            .map(|from| {
                let (a, b) = (from.bridge.rss_kib as f64, last.bridge.rss_kib as f64);
                (a, b, if a > 0.0 { 100.0 * (b - a) / a } else { 0.0 })
            });
        let memory_ok = match growth {
            Some((a, b, pct)) => {
                println!(
                    "RSS growth from minute {RSS_FROM_MINUTE} to the end: {:.1} -> {:.1} MiB, {pct:+.1} % (goal: at most {RSS_GOAL_PERCENT} %)",
                    a / 1024.0,
                    b / 1024.0
                );
                pct <= RSS_GOAL_PERCENT
            }
            None => {
                println!(
                    "RSS growth: not judged (the run is shorter than {} minutes)",
                    RSS_FROM_MINUTE + 1
                );
                false
            }
        };
        let warnings = scenario::warnings(log);
        for (w, n) in &warnings {
            println!("bridge logged {n}x: {w}");
        }
        let lost: Vec<_> = self.ledger.lost().collect();
        for p in lost.iter().take(MAX_LOSSES_EXPLAINED) {
            let wall = self.wall_of(p.at);
            println!(
                "\nlost: camera c{} pressed at {} ({} UTC), camera_time {}",
                p.camera,
                self.clock(p.at),
                wall.strftime("%H:%M:%S%.3f"),
                p.camera_time
            );
            for e in self.ledger.episodes_of(p.camera) {
                println!(
                    "  fault {} from {} to {}",
                    e.kind.name(),
                    self.clock(e.started),
                    e.cleared.map_or_else(|| "-".into(), |c| self.clock(c))
                );
            }
            for line in log_lines(log, p.camera, wall) {
                println!("  log: {line}");
            }
        }
        let met = c.lost == 0 && memory_ok;
        println!(
            "\ngoal (0 lost, RSS flat within {RSS_GOAL_PERCENT} % after minute {RSS_FROM_MINUTE}): {}",
            if met { "met" } else { "NOT met" }
        );
        met
    }

    fn wall_of(&self, at: Instant) -> jiff::Timestamp {
        let since = SignedDuration::try_from(at.saturating_duration_since(self.started))
            .unwrap_or_default();
        self.wall_start
            .checked_add(since)
            .unwrap_or(self.wall_start)
    }
}

fn counts_line(c: &Counts) -> String {
    format!(
        "pressed {} (up {}, faulted {}, unsubscribed {}), delivered {}, lost {}, duplicates {}, unmatched {}",
        c.pressed, c.up, c.faulted, c.unsubscribed, c.delivered, c.lost, c.duplicates, c.unknown
    )
}

fn resume_cells(samples: Vec<Duration>, missing: usize) -> String {
    if samples.is_empty() {
        return if missing > 0 {
            format!("— ({missing} missing)")
        } else {
            "—".into()
        };
    }
    let d = Dist::of(samples, missing);
    let mut s = format!("{} / {} / {} ({})", ms(d.p50), ms(d.p95), ms(d.max), d.n);
    if missing > 0 {
        s += &format!(" ({missing} missing)");
    }
    s
}

/// The bridge's log lines about camera `c<camera>` from a minute before `at` to half a minute
/// after, at most [`LOG_LINES_PER_LOSS`] (the human log format starts with an RFC 3339 time).
fn log_lines(log: &std::path::Path, camera: usize, at: jiff::Timestamp) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let needle = format!("c{camera}");
    let from = at - SignedDuration::from_secs(60);
    let to = at + SignedDuration::from_secs(30);
    text.lines()
        .filter(|l| {
            l.split(|ch: char| !ch.is_ascii_alphanumeric())
                .any(|w| w == needle)
        })
        .filter(|l| {
            l.split_whitespace()
                .next()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .is_some_and(|t| from <= t && t <= to)
        })
        .take(LOG_LINES_PER_LOSS)
        .map(str::to_owned)
        .collect()
}
