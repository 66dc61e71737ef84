//! The binary itself: exit codes, the config error message, and an orderly stop on SIGTERM
//! with the camera and the broker both unreachable.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_doorbell-bridge");

fn closed_port() -> u16 {
    // Bound and dropped: nothing listens there afterwards.
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_bad_config_exits_2_naming_file_key_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[[cameras]]\nid = \"Front Door\"\nurl = \"10.0.0.9\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(
        err.contains(r#"cameras[0].id "Front Door" must be a lowercase slug such as front_door"#),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one message, printed once: {err}");
}

#[test]
fn a_missing_config_says_where_to_get_one() {
    let out = Command::new(BIN)
        .args([
            "check",
            "--offline",
            "--config",
            "/nonexistent/doorbell-bridge.toml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("config.example.toml"), "{err}");
}

#[test]
fn version_prints_the_version() {
    let out = Command::new(BIN).arg("version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.trim(),
        format!("doorbell-bridge {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn sigterm_stops_run_in_order_even_with_nothing_reachable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bridge.toml");
    std::fs::write(
        &path,
        format!(
            "[mqtt]\nurl = \"mqtt://127.0.0.1:{}\"\n[storage]\npath = {:?}\n[[cameras]]\nid = \"door\"\nurl = \"127.0.0.1:{}\"\nusername = \"admin\"\npassword = \"pw\"\n",
            closed_port(),
            dir.path().join("footage").display().to_string(),
            closed_port()
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["run", "--log-format", "json", "--config"])
        .arg(&path)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    // Wait for the bridge to say it runs (a real signal, not a sleep).
    let mut seen = Vec::new();
    loop {
        let line = lines.next().expect("bridge log ended early").unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).expect("JSON log line");
        seen.push(line);
        if v["fields"]["message"] == "bridge running" {
            break;
        }
    }
    let started = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let exit = child.wait().unwrap();
    let took = started.elapsed();
    assert_eq!(exit.code(), Some(0), "{rest:#?}");
    assert!(rest.iter().any(|l| l.contains("\"stopped\"")), "{rest:#?}");
    // A hang guard, not a speed test: the shutdown deadline is 10 s.
    assert!(took < Duration::from_secs(60), "did not stop: {took:?}");
}
