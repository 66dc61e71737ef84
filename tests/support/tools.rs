//! External tools the tests run (bash, jq, shellcheck; ffprobe and ffmpeg for clips; chromium
//! and chromedriver for the browser tests). `.ci/run` installs them and sets
//! `CI`, so there a missing tool fails the test, naming the package to install. Elsewhere the
//! test reports itself skipped on the terminal (not in the captured output that `cargo test`
//! shows only for failures), so it never passes silently.

#![allow(dead_code)] // each test binary uses a different part

use std::io::Write;
use std::process::Command;

/// What a test does about one tool.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Installed: run the test.
    Run,
    /// Not installed, outside CI: skip, with this line for the terminal.
    Skip(String),
    /// Not installed under CI: fail with this message.
    Fail(String),
}

/// Whether `CI` means "in CI" (`CI=true`, as `.ci/run` and most CI services set it).
fn in_ci(ci: Option<&str>) -> bool {
    ci.is_some_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// The decision, pure: `present` is whether `tool --version` ran, `ci` the value of `CI`.
pub fn verdict(tool: &str, package: &str, present: bool, ci: Option<&str>) -> Verdict {
    if present {
        Verdict::Run
    } else if in_ci(ci) {
        Verdict::Fail(format!(
            "{tool} not installed, and CI is set: install it (apt-get install {package}); .ci/run does"
        ))
    } else {
        Verdict::Skip(format!(
            "SKIPPED: {tool} not installed (apt-get install {package})"
        ))
    }
}

/// `true` when every `(tool, package)` is installed. A missing one fails the test under CI and
/// otherwise prints `SKIPPED: ...` straight to the process's stderr and returns `false`.
#[must_use]
pub fn require(test: &str, tools: &[(&str, &str)]) -> bool {
    let ci = std::env::var("CI").ok();
    for (tool, package) in tools {
        // `--version` for most tools, `-version` for ffmpeg's.
        let present = ["--version", "-version"].iter().any(|flag| {
            Command::new(tool)
                .arg(flag)
                .output()
                .is_ok_and(|o| o.status.success())
        });
        match verdict(tool, package, present, ci.as_deref()) {
            Verdict::Run => {}
            Verdict::Fail(message) => panic!("{test}: {message}"),
            Verdict::Skip(line) => {
                // Not eprintln!: the test harness captures that and shows it only on failure.
                let _ = writeln!(std::io::stderr(), "{test}: {line}");
                return false;
            }
        }
    }
    true
}
