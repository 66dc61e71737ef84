//! Readings from /proc: a process's CPU time and memory, and what machine this is.

use std::process::Command;
use std::time::Duration;

/// CPU time and memory of one process at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// utime + stime.
    pub cpu: Duration,
    /// VmRSS in KiB (0 when unreadable).
    pub rss_kib: u64,
    /// VmHWM (peak RSS) in KiB.
    pub hwm_kib: u64,
    /// RssAnon (heap, stacks) in KiB.
    pub anon_kib: u64,
    /// RssFile (mapped executable and libraries) in KiB.
    pub file_kib: u64,
}

/// Clock ticks per second for /proc/<pid>/stat (`getconf CLK_TCK`, 100 when unknown).
pub fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// Reads `/proc/<pid>/stat` and `/proc/<pid>/status`; `pid` may be `"self"`.
pub fn usage(pid: &str, ticks: u64) -> Usage {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // After the ')': state is field 3 of the man page, utime 14 and stime 15.
    let tick = |i: usize| fields.get(i - 3).and_then(|f| f.parse::<u64>().ok());
    let cpu_ticks = tick(14).unwrap_or(0) + tick(15).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    Usage {
        cpu: Duration::from_micros(cpu_ticks * 1_000_000 / ticks),
        rss_kib: kib("VmRSS:"),
        hwm_kib: kib("VmHWM:"),
        anon_kib: kib("RssAnon:"),
        file_kib: kib("RssFile:"),
    }
}

/// Threads of a process (`Threads:` in its status).
pub fn threads(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// CPU used between two readings, as a percentage of one core over `wall`.
pub fn percent(before: Usage, after: Usage, wall: Duration) -> f64 {
    let used = after.cpu.saturating_sub(before.cpu).as_secs_f64();
    if wall.is_zero() {
        0.0
    } else {
        100.0 * used / wall.as_secs_f64()
    }
}

/// The machine: CPU count, CPU model, kernel, memory.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    format!(
        "{cpus} CPUs (nproc), {model}, Linux {}, {mem_gib:.0} GiB RAM",
        kernel.trim()
    )
}

/// `mosquitto -h`'s first line (its version).
pub fn mosquitto_version() -> String {
    Command::new("mosquitto")
        .arg("-h")
        .output()
        .ok()
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            text.lines().next().map(str::to_owned)
        })
        .unwrap_or_else(|| "mosquitto (version unknown)".into())
}
