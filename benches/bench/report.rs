//! Latency distributions and the Markdown report.

use std::fmt::Write as _;
use std::time::Duration;

/// A latency distribution (nearest-rank percentiles).
#[derive(Debug, Clone, Default)]
pub struct Dist {
    /// Samples that arrived.
    pub n: usize,
    /// Expected samples that never arrived within the deadline.
    pub missing: usize,
    /// Median.
    pub p50: Duration,
    /// 95th percentile.
    pub p95: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Largest.
    pub max: Duration,
}

impl Dist {
    /// The distribution of `samples`; `missing` counts the ones that never came.
    pub fn of(mut samples: Vec<Duration>, missing: usize) -> Dist {
        samples.sort_unstable();
        let rank = |q: f64| -> Duration {
            if samples.is_empty() {
                return Duration::ZERO;
            }
            let i = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
            samples[i - 1]
        };
        Dist {
            n: samples.len(),
            missing,
            p50: rank(0.50),
            p95: rank(0.95),
            p99: rank(0.99),
            max: samples.last().copied().unwrap_or_default(),
        }
    }

    /// `p50 / p95 / p99 / max` in ms, and what was missing.
    pub fn cells(&self) -> String {
        let mut s = format!(
            "{} / {} / {} / {}",
            ms(self.p50),
            ms(self.p95),
            ms(self.p99),
            ms(self.max)
        );
        if self.missing > 0 {
            let _ = write!(s, " ({} missing)", self.missing);
        }
        s
    }
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// CPU and memory over one phase.
#[derive(Debug, Clone, Copy, Default)]
pub struct Phase {
    /// How long it lasted.
    pub wall: Duration,
    /// Bridge CPU, % of one core.
    pub bridge_cpu: f64,
    /// Bridge CPU time.
    pub bridge_time: Duration,
    /// Bench process (simulated cameras + subscriber) CPU, % of one core.
    pub sim_cpu: f64,
    /// Mosquitto CPU, % of one core.
    pub broker_cpu: f64,
    /// Bridge VmRSS at its end, KiB.
    pub rss_kib: u64,
}

/// Everything measured for one camera count.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Cameras.
    pub cameras: usize,
    /// Which doorbells they were (`onvif`, `dahua`, `hikvision`).
    pub api: &'static str,
    /// How events reached the bridge: `pull` (PullPoint) or `push` (Notify to the listener).
    pub events: &'static str,
    /// Bridge start until every camera was `online`.
    pub startup: Option<Duration>,
    /// Bridge CPU time spent starting (until every camera was online).
    pub startup_cpu: Duration,
    /// Bridge memory at idle.
    pub idle_usage: crate::procfs::Usage,
    /// Idle phase.
    pub idle: Phase,
    /// One press at a time: press -> doorbell message.
    pub single_ring: Dist,
    /// One press at a time: press -> snapshot JPEG.
    pub single_snapshot: Dist,
    /// The single-press phase.
    pub single: Phase,
    /// Every camera at once: press -> doorbell message.
    pub burst_ring: Dist,
    /// Every camera at once: press -> snapshot JPEG.
    pub burst_snapshot: Dist,
    /// The burst phase.
    pub burst: Phase,
    /// Longest time the bench took to press every camera of one burst.
    pub press_spread: Duration,
    /// Requests per camera per second while every camera answers HTTP 500 (whole window).
    pub offline_rate: f64,
    /// The same over the second half of the window (backoff grown).
    pub offline_rate_late: f64,
    /// Fault on until every camera was reported `offline`.
    pub offline_detect: Option<Duration>,
    /// The offline phase.
    pub offline: Phase,
    /// Bridge VmHWM at the end, KiB.
    pub hwm_kib: u64,
    /// Bridge threads.
    pub threads: u64,
    /// SIGTERM until exit.
    pub shutdown: Option<Duration>,
    /// Warnings and errors the bridge logged (distinct messages, with counts).
    pub warnings: Vec<(String, usize)>,
}

impl Outcome {
    /// The run's name in the tables: the doorbells, and `push` when events were pushed.
    pub fn label(&self) -> String {
        match self.events {
            "pull" | "" => self.api.to_owned(),
            events => format!("{} {events}", self.api),
        }
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn opt(d: Option<Duration>) -> String {
    d.map_or_else(|| "—".into(), ms)
}

/// The results as Markdown tables.
pub fn markdown(outcomes: &[Outcome]) -> String {
    let mut s = String::new();
    let head = |s: &mut String, title: &str| {
        let _ = write!(s, "| {title} |");
        for o in outcomes {
            let _ = write!(s, " N = {} {} |", o.cameras, o.label());
        }
        s.push_str("\n|---|");
        for _ in outcomes {
            s.push_str("---|");
        }
        s.push('\n');
    };
    let row = |s: &mut String, name: &str, f: &dyn Fn(&Outcome) -> String| {
        let _ = write!(s, "| {name} |");
        for o in outcomes {
            let _ = write!(s, " {} |", f(o));
        }
        s.push('\n');
    };
    head(&mut s, "latency, ms: p50 / p95 / p99 / max");
    row(&mut s, "single press -> doorbell", &|o| {
        o.single_ring.cells()
    });
    row(&mut s, "single press -> snapshot", &|o| {
        o.single_snapshot.cells()
    });
    row(&mut s, "burst (all ring) -> doorbell", &|o| {
        o.burst_ring.cells()
    });
    row(&mut s, "burst (all ring) -> snapshot", &|o| {
        o.burst_snapshot.cells()
    });
    row(&mut s, "samples single / burst", &|o| {
        format!("{} / {}", o.single_ring.n, o.burst_ring.n)
    });
    row(&mut s, "bench time to press all (burst)", &|o| {
        ms(o.press_spread)
    });
    s.push('\n');
    head(&mut s, "bridge resources");
    row(&mut s, "startup until all online, ms", &|o| opt(o.startup));
    row(&mut s, "CPU time to start, ms", &|o| ms(o.startup_cpu));
    row(&mut s, "RSS idle, MiB", &|o| mib(o.idle.rss_kib));
    row(&mut s, "of which anon / file, MiB", &|o| {
        format!(
            "{} / {}",
            mib(o.idle_usage.anon_kib),
            mib(o.idle_usage.file_kib)
        )
    });
    row(&mut s, "RSS after bursts, MiB", &|o| mib(o.burst.rss_kib));
    row(&mut s, "peak RSS (VmHWM), MiB", &|o| mib(o.hwm_kib));
    row(&mut s, "threads", &|o| o.threads.to_string());
    row(&mut s, "CPU idle, % of a core", &|o| {
        format!("{:.2}", o.idle.bridge_cpu)
    });
    row(&mut s, "CPU single presses, %", &|o| {
        format!("{:.1}", o.single.bridge_cpu)
    });
    row(&mut s, "CPU bursts, %", &|o| {
        format!("{:.1}", o.burst.bridge_cpu)
    });
    row(&mut s, "CPU per ring (single / burst), ms", &|o| {
        let per = |p: &Phase, n: usize| ms(p.bridge_time / n.max(1) as u32);
        format!(
            "{} / {}",
            per(&o.single, o.single_ring.n + o.single_ring.missing),
            per(&o.burst, o.burst_ring.n + o.burst_ring.missing)
        )
    });
    row(&mut s, "CPU all offline, %", &|o| {
        format!("{:.2}", o.offline.bridge_cpu)
    });
    row(
        &mut s,
        "requests / camera / s, all offline (window / 2nd half)",
        &|o| format!("{:.3} / {:.3}", o.offline_rate, o.offline_rate_late),
    );
    row(&mut s, "fault -> all reported offline, ms", &|o| {
        opt(o.offline_detect)
    });
    row(&mut s, "SIGTERM -> exit, ms", &|o| opt(o.shutdown));
    s.push('\n');
    head(
        &mut s,
        "bench process (simulator + subscriber) CPU, % of a core",
    );
    row(&mut s, "idle", &|o| format!("{:.2}", o.idle.sim_cpu));
    row(&mut s, "single presses", &|o| {
        format!("{:.1}", o.single.sim_cpu)
    });
    row(&mut s, "bursts", &|o| format!("{:.1}", o.burst.sim_cpu));
    row(&mut s, "all offline", &|o| {
        format!("{:.2}", o.offline.sim_cpu)
    });
    s.push('\n');
    head(&mut s, "Mosquitto CPU, % of a core");
    row(&mut s, "idle", &|o| format!("{:.2}", o.idle.broker_cpu));
    row(&mut s, "single presses", &|o| {
        format!("{:.1}", o.single.broker_cpu)
    });
    row(&mut s, "bursts", &|o| format!("{:.1}", o.burst.broker_cpu));
    for o in outcomes {
        for (w, n) in &o.warnings {
            let _ = writeln!(
                s,
                "\nN = {} {}: bridge logged {n}x: {w}",
                o.cameras,
                o.label()
            );
        }
    }
    s
}
