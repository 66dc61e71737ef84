//! The doorbell-bridge benchmark: how fast a press reaches MQTT, and what the bridge costs.
//!
//! Run it with
//!
//! ```text
//! cargo bench --bench bench -- --cameras 1,100,1000
//! ```
//!
//! For each camera count it starts that many simulated doorbells in this process, a fresh
//! Mosquitto on a free port, and the release-built bridge as a separate process; then it
//! measures startup, idle cost, press -> doorbell and press -> snapshot latency (one press at a
//! time, and every camera at once), and the request rate while every camera is down. The
//! figures and their discussion are in `docs/performance.md`.
//!
//! `--api onvif,dahua,hikvision` (default `onvif`) repeats each camera count with other
//! doorbells: Amcrest AD410s whose press is on the Dahua attach stream (5 s heartbeats), and
//! DS-KV6113 door stations (alert stream, call status polled every second). A vendor camera is
//! pressed again only after its ring window (one ring per press), and a door station's call is
//! hung up after each ring, so with one camera the single presses take minutes.
//!
//! # Door
//!
//! ```text
//! cargo bench --bench bench -- --door 200 [--cameras 10]
//! ```
//!
//! measures instead `OPEN` on MQTT -> the camera's door request received (ONVIF and Dahua
//! doors), against the MQTT round trip through the same broker (`door.rs`).
//!
//! # Soak
//!
//! ```text
//! cargo bench --bench bench -- --soak 1h [--cameras 100] [--seed N]
//! ```
//!
//! runs instead, for that long: `--cameras` simulated doorbells (default 100), a Mosquitto
//! restarted on the same port every ten minutes, and the release bridge. Every few seconds a
//! random camera that has no fault gets one (`chaos.rs`): a reboot (offline, rebooted, back
//! after 5-20 s), a network outage (offline with its subscriptions kept, 3 s to 2 min), garbage
//! or HTTP 500 answers (2-30 s), its subscriptions dropped, or its clock jumped by ten minutes
//! to a day (10-90 s); each is cleared after its time. Rings are pressed on random cameras
//! every 0.5-3.5 s throughout, and once more on every camera whose fault cleared, as soon as it
//! holds a subscription again (that ring's delivery is the "resume" time). The schedule comes
//! from a seeded generator: the seed is printed, `--seed` repeats a run.
//!
//! Every minute it prints rings pressed / delivered / lost so far, the bridge's RSS and CPU and
//! Mosquitto's CPU; at the end (after a 30 s drain with every fault cleared) the totals,
//! rings pressed during each kind of fault and how many of those still arrived, resume times
//! (fault cleared -> next ring delivered, and -> `online` again: p50 / p95 / max), the
//! simulator's live subscriptions (leaks), the RSS growth from minute 3 to the end, and whether
//! the goal was met: 0 lost and RSS growth at most 10 %. A ring is lost when it was pressed
//! while its camera had no fault and a live subscription, and no `<base>/<camera>/doorbell`
//! matched it by the end (`ledger.rs` says how a delivery is matched to its press); each lost
//! ring is listed with its camera's faults and the bridge log lines around it (the log is kept;
//! its path is printed). The soak's pure parts (`chaos.rs`, `ledger.rs`) are unit-tested from
//! `tests/bench_soak.rs`, since this binary has no test harness.
//!
//! # Visitor history
//!
//! ```text
//! cargo bench --bench bench -- --history 100000 [--presses 50] [--idle 20s]
//! ```
//!
//! runs instead the bridge's visitor history page over an archive of that many events
//! (`history.rs`): server time and round trip of the first page, a deep page, a rare kind and
//! the live strip (`--presses` requests each), the page's weight, and the bridge's idle CPU
//! with 10 pages open against none.
//!
//! # Clips
//!
//! ```text
//! cargo bench --bench bench -- --clips 1,10 [--clip-bitrate 2000000] [--idle 20s] [--presses 20]
//! ```
//!
//! runs instead, per camera count, the bridge with event clips off and then on against
//! doorbells streaming `--clip-bitrate` bits per second over RTSP (`clips.rs`): CPU, RSS and
//! press -> doorbell latency of both, and the cost per camera.
//!
//! `cargo test --benches` (and `--all-targets`) runs this binary without `--bench`: it then
//! only says how to run it, so the test step stays fast.

mod chaos;
mod clips;
mod door;
mod history;
mod ledger;
mod mosquitto;
mod procfs;
mod report;
mod scenario;
mod soak;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use doorbell_bridge::units::parse_duration;

/// Measures press -> MQTT latency, memory, CPU and startup of the bridge against simulated
/// doorbells and a real Mosquitto.
#[derive(Debug, Parser)]
#[command(name = "bench")]
struct Args {
    /// Camera counts to run, one fresh run each (default 1,100,1000; with --soak one count,
    /// default 100).
    #[arg(long, value_delimiter = ',')]
    cameras: Option<Vec<usize>>,
    /// Doorbells to simulate, one run per camera count each: onvif (a Reolink-shaped ONVIF
    /// doorbell), dahua (an Amcrest AD410), hikvision (a DS-KV6113 door station).
    #[arg(long, value_delimiter = ',', default_value = "onvif", value_parser = scenario::Api::parse)]
    api: Vec<scenario::Api>,
    /// Run the soak for this long (e.g. 1h) instead of the benchmark.
    #[arg(long)]
    soak: Option<String>,
    /// Measure OPEN on MQTT -> the camera's door request instead: this many opens per API
    /// (`--cameras` one count, default 10, half ONVIF, half Dahua).
    #[arg(long)]
    door: Option<usize>,
    /// Measure the visitor history page instead, over an archive of this many events.
    #[arg(long)]
    history: Option<usize>,
    /// Seed of the soak's random schedule (default: a fresh one, printed).
    #[arg(long)]
    seed: Option<u64>,
    /// The bridge's log level in the soak (its log is kept and explains lost rings).
    #[arg(long, default_value = "info")]
    soak_log_level: String,
    /// Single presses per run (one camera at a time, walking over all of them).
    #[arg(long, default_value_t = 200)]
    presses: usize,
    /// Bursts per run (every camera pressed at once).
    #[arg(long, default_value_t = 5)]
    bursts: usize,
    /// Idle window in which CPU is measured.
    #[arg(long, default_value = "20s")]
    idle: String,
    /// Window in which requests to cameras that answer HTTP 500 are counted.
    #[arg(long, default_value = "60s")]
    offline: String,
    /// `pull_timeout` of every camera in the bridge's config.
    #[arg(long, default_value = "20s")]
    pull_timeout: String,
    /// The bridge executable; by default the bench runs `cargo build --release` and uses
    /// target/release/doorbell-bridge.
    #[arg(long)]
    bridge: Option<PathBuf>,
    /// Worker threads of the bench's own runtime (the simulated cameras).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Extra environment for the bridge, KEY=VALUE (repeatable).
    #[arg(long = "env", value_parser = key_value)]
    env: Vec<(String, String)>,
    /// Where the bridge archives snapshots (a temporary folder inside this one); default: the
    /// system temp folder. Snapshots are published after they are archived (fsync'd).
    #[arg(long)]
    archive: Option<PathBuf>,
    /// How events reach the bridge: `pull` (PullPoint), `push` (ONVIF Notify to the push
    /// listener) or `both` (each camera count twice, pull then push, in the same run).
    #[arg(long, default_value = "pull", value_parser = ["pull", "push", "both"])]
    events: String,
    /// Also write the report to this file.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Measure event clips instead: these camera counts, clips off then on.
    #[arg(long, value_delimiter = ',')]
    clips: Option<Vec<usize>>,
    /// Bits per second of each simulated camera's RTSP stream with --clips.
    #[arg(long, default_value_t = 2_000_000)]
    clip_bitrate: u64,
    /// Passed by `cargo bench`; without it the binary only explains itself.
    #[arg(long, hide = true)]
    bench: bool,
}

/// Builds the bridge with `cargo build --release` and returns its path.
///
/// Not the binary `cargo bench` builds next to this one: that one is compiled with the
/// dev-dependencies' features unified in (regex with its Unicode tables, for one), half a MiB
/// larger than what users run.
fn release_bridge() -> anyhow::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("bench: cargo build --release --bin doorbell-bridge");
    let out = std::process::Command::new(cargo)
        .args(["build", "--release", "--bin", "doorbell-bridge"])
        .args([
            "--message-format",
            "json-render-diagnostics",
            "--manifest-path",
        ])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .stderr(std::process::Stdio::inherit())
        .output()?;
    anyhow::ensure!(out.status.success(), "cargo build --release failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"]["name"] == "doorbell-bridge")
        .find_map(|v| v["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| anyhow::anyhow!("cargo build --release named no doorbell-bridge executable"))
}

fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{s:?}: write KEY=VALUE"))
}

fn duration(flag: &str, text: &str) -> anyhow::Result<Duration> {
    parse_duration(text).map_err(|e| anyhow::anyhow!("--{flag} {e}"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !args.bench {
        println!(
            "benchmark skipped: run it with `cargo bench --bench bench -- --cameras 1,100,1000`"
        );
        return ExitCode::SUCCESS;
    }
    let result = if args.clips.is_some() {
        run_clips(args).map(|()| true)
    } else if args.soak.is_some() {
        run_soak(args)
    } else if args.door.is_some() {
        run_door(args).map(|()| true)
    } else if args.history.is_some() {
        run_history(args).map(|()| true)
    } else {
        run(args).map(|()| true)
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        // The soak ran and said why its goal was not met.
        Ok(false) => ExitCode::from(2),
        Err(e) => {
            eprintln!("bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Default camera counts of the benchmark.
const CAMERAS: [usize; 3] = [1, 100, 1000];
/// Default camera count of the soak.
const SOAK_CAMERAS: usize = 100;

fn run_soak(args: Args) -> anyhow::Result<bool> {
    let text = args.soak.as_deref().unwrap_or_default();
    let cameras = match args.cameras.as_deref() {
        None => SOAK_CAMERAS,
        Some([n]) => (*n).max(1),
        Some(_) => anyhow::bail!("--soak runs one camera count: write e.g. --cameras 100"),
    };
    let seed = match args.seed {
        Some(seed) => seed,
        None => {
            let mut bytes = [0u8; 8];
            getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no random seed: {e}"))?;
            u64::from_le_bytes(bytes)
        }
    };
    let plan = soak::Plan {
        bridge: match &args.bridge {
            Some(path) => path.clone(),
            None => release_bridge()?,
        },
        env: args.env.clone(),
        pull_timeout: args.pull_timeout.clone(),
        duration: duration("soak", text)?,
        cameras,
        seed,
        log_level: args.soak_log_level.clone(),
    };
    println!(
        "date: {}\nmachine: {}\nbroker: {}\nbridge: {}\nsoak: {text}, {cameras} cameras, seed {seed} (repeat with --seed {seed}), pull_timeout {}, env {:?}\n",
        jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M UTC"),
        procfs::machine(),
        procfs::mosquitto_version(),
        plan.bridge.display(),
        args.pull_timeout,
        args.env,
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    rt.block_on(soak::run(&plan))
}

/// Default camera count of the door benchmark.
const DOOR_CAMERAS: usize = 10;

fn run_door(args: Args) -> anyhow::Result<()> {
    let cameras = match args.cameras.as_deref() {
        None => DOOR_CAMERAS,
        Some([n]) => (*n).max(2),
        Some(_) => anyhow::bail!("--door runs one camera count: write e.g. --cameras 10"),
    };
    let plan = door::Plan {
        bridge: match &args.bridge {
            Some(path) => path.clone(),
            None => release_bridge()?,
        },
        env: args.env.clone(),
        samples: args.door.unwrap_or(200).max(1),
        cameras,
    };
    let mut text = format!(
        "date: {}\nmachine: {}\nbroker: {}\nbridge: {}\ndoor: {} opens per API, {cameras} cameras\n\n",
        jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M UTC"),
        procfs::machine(),
        procfs::mosquitto_version(),
        plan.bridge.display(),
        plan.samples,
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    text += &rt.block_on(door::run(&plan))?;
    print!("{text}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, text)?;
    }
    Ok(())
}

fn run_history(args: Args) -> anyhow::Result<()> {
    doorbell_bridge::onvif::install_crypto_provider();
    let plan = history::Plan {
        bridge: match &args.bridge {
            Some(path) => path.clone(),
            None => release_bridge()?,
        },
        events: args.history.unwrap_or(100_000).max(1),
        idle: duration("idle", &args.idle)?,
        samples: args.presses.clamp(1, 200),
    };
    let mut text = format!(
        "date: {}\nmachine: {}\nbridge: {}\nhistory: {} requests per row, idle {}\n\n",
        jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M UTC"),
        procfs::machine(),
        plan.bridge.display(),
        plan.samples,
        args.idle,
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    text += &rt.block_on(history::run(&plan))?;
    print!("{text}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, text)?;
    }
    Ok(())
}

fn run_clips(args: Args) -> anyhow::Result<()> {
    let plan = clips::Plan {
        bridge: match &args.bridge {
            Some(path) => path.clone(),
            None => release_bridge()?,
        },
        cameras: args.clips.clone().unwrap_or_default(),
        bitrate: args.clip_bitrate,
        idle: duration("idle", &args.idle)?,
        presses: args.presses.min(50),
    };
    let mut text = format!(
        "date: {}\nmachine: {}\nbroker: {}\nbridge: {}\n\n",
        jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M UTC"),
        procfs::machine(),
        procfs::mosquitto_version(),
        plan.bridge.display(),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    text += &rt.block_on(clips::run(&plan))?;
    println!("{text}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, text)?;
    }
    Ok(())
}

fn run(args: Args) -> anyhow::Result<()> {
    let plan = scenario::Plan {
        api: scenario::Api::Onvif,
        bridge: match &args.bridge {
            Some(path) => path.clone(),
            None => release_bridge()?,
        },
        pull_timeout: args.pull_timeout.clone(),
        idle: duration("idle", &args.idle)?,
        presses: args.presses,
        bursts: args.bursts,
        offline: duration("offline", &args.offline)?,
        env: args.env.clone(),
        archive: args.archive.clone(),
        push: false,
    };
    let modes: &[bool] = match args.events.as_str() {
        "push" => &[true],
        "both" => &[false, true],
        _ => &[false],
    };
    let size = std::fs::metadata(&plan.bridge)?.len();
    let mut text = format!(
        "date: {}\nmachine: {}\nbroker: {}\nbridge: {} ({:.1} MiB)\nsettings: presses {}, bursts {}, idle {}, offline {}, pull_timeout {}, events {}, env {:?}, archive in {}\n\n",
        jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M UTC"),
        procfs::machine(),
        procfs::mosquitto_version(),
        plan.bridge.display(),
        size as f64 / 1024.0 / 1024.0,
        args.presses,
        args.bursts,
        args.idle,
        args.offline,
        args.pull_timeout,
        args.events,
        args.env,
        args.archive
            .as_deref()
            .unwrap_or(&std::env::temp_dir())
            .display(),
    );
    print!("{text}");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    let mut outcomes = Vec::new();
    for &n in args.cameras.as_deref().unwrap_or(&CAMERAS) {
        for (&api, &push) in args
            .api
            .iter()
            .flat_map(|api| modes.iter().map(move |push| (api, push)))
        {
            // Push is ONVIF's: a vendor doorbell's press is on its own stream.
            if push && api != scenario::Api::Onvif {
                continue;
            }
            let plan = scenario::Plan {
                api,
                push,
                ..plan.clone()
            };
            let mode = if push { "push" } else { "pull" };
            eprintln!("bench: {n} {} camera(s), {mode}...", api.name());
            let outcome = rt.block_on(scenario::run(&plan, n.max(1)))?;
            outcomes.push(outcome);
            // Print as we go: a long run still shows what it has.
            println!("{}", report::markdown(&outcomes[outcomes.len() - 1..]));
        }
    }
    let table = report::markdown(&outcomes);
    text += &table;
    println!("all runs:\n\n{table}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, text)?;
    }
    Ok(())
}
