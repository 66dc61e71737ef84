//! The day-one commands, run as the built binary against the simulated doorbell (started in
//! the test) and the harness broker: `check` (online, `--json`, wrong password, MQTT down,
//! `--offline`), `events` (from a capture and live), `snapshot`, `discover --address`. The
//! health endpoint is tested through `app::start` in `tests/health.rs`.
//!
//! Every wait is for a real signal (the child exiting, a subscription existing); no sleeps.

mod support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use doorbell_bridge::config;
use doorbell_bridge::sim::{SimDoorbell, SimOptions};
use support::broker::Broker;

const BIN: &str = env!("CARGO_BIN_EXE_doorbell-bridge");
const WAIT: Duration = Duration::from_secs(20);
const WRONG: &str = "Wr0ng-Passw0rd-For-Tests";
const FIXTURE: &str = "tests/fixtures/onvif/reolink/doorbell_visitor.xml";

/// A config file (mode 600) in its own temp dir.
struct Config {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn write_config(text: &str) -> Config {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("doorbell-bridge.toml");
    std::fs::write(&path, text).expect("write config");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    Config { _dir: dir, path }
}

fn camera_toml(url: &str, password: &str) -> String {
    format!(
        r#"[[cameras]]
id = "front_door"
name = "Front Door"
url = "{url}"
username = "admin"
password = "{password}"
pull_timeout = "2s"
"#
    )
}

fn sim_config(sim: &SimDoorbell, mqtt_port: u16, password: &str) -> Config {
    write_config(&format!(
        "[mqtt]\nurl = \"mqtt://127.0.0.1:{mqtt_port}\"\n{}",
        camera_toml(sim.device_url().as_str(), password)
    ))
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Runs the binary with `args` (off the async threads, so the simulator keeps serving).
async fn bridge(config: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("--config").arg(config).args(args);
    cmd.env("DOORBELL_BRIDGE_LOG", "warn");
    tokio::task::spawn_blocking(move || cmd.output().expect("run doorbell-bridge"))
        .await
        .expect("runner thread")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn step<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["step"] == name)
        .unwrap_or_else(|| panic!("no step {name} in {v}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn check_passes_against_a_healthy_sim_with_a_table_and_json() {
    let broker = Broker::start();
    let sim = SimDoorbell::start(SimOptions::default()).await.unwrap();
    let cfg = sim_config(&sim, broker.port(), "password");

    let out = bridge(&cfg.path, &["check"]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for name in [
        "reachable",
        "clock",
        "auth",
        "device",
        "services",
        "pullpoint",
        "snapshot",
        "topics",
        "api",
        "relay",
        "connect",
    ] {
        assert!(
            stdout.contains(&format!("  ok    {name:<10} ")),
            "{name} not ok:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("tns1:RuleEngine/MyRuleDetector/Visitor") && stdout.contains("-> ring"),
        "{stdout}"
    );
    assert!(stdout.contains("result: every check passed"), "{stdout}");

    let out = bridge(&cfg.path, &["check", "--json"]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("check --json is JSON");
    assert_eq!(v["ok"], true);
    let cam = &v["cameras"][0];
    assert_eq!(cam["id"], "front_door");
    assert_eq!(cam["steps"].as_array().unwrap().len(), 10, "{cam}");
    for s in cam["steps"].as_array().unwrap() {
        assert_eq!(s["status"], "ok", "{s}");
    }
    assert!(
        step(cam, "snapshot")["detail"]
            .as_str()
            .unwrap()
            .contains("bytes of JPEG"),
        "{cam}"
    );
    let visitor = cam["topics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["topic"] == "tns1:RuleEngine/MyRuleDetector/Visitor")
        .expect("Visitor topic listed");
    assert_eq!(visitor["kinds"], serde_json::json!(["ring"]));
    assert_eq!(step(&v["mqtt"], "connect")["status"], "ok");
    // The check left no subscription behind.
    assert_eq!(sim.stats().live_subscriptions, 0);
    sim.shutdown().await;
}

/// `check` on a Hikvision door station says which API was chosen and why, that the alert
/// stream connects and speaks, and what the call status is.
#[tokio::test(flavor = "multi_thread")]
async fn check_names_the_vendor_api_and_tests_its_sources() {
    use doorbell_bridge::sim::{HikModel, Personality};
    let broker = Broker::start();
    let sim = SimDoorbell::start(SimOptions {
        personality: Personality::Hikvision(HikModel::Kv6113),
        alert_heartbeat: std::time::Duration::from_secs(1),
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let cfg = sim_config(&sim, broker.port(), "password");
    let out = bridge(&cfg.path, &["check", "--json"]).await;
    let (stdout, stderr) = text(&out);
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("check --json is JSON");
    let cam = &v["cameras"][0];
    let api = step(cam, "api");
    assert_eq!(api["status"], "ok", "{cam}\n{stderr}");
    let detail = api["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("hikvision (") && detail.contains("HIKVISION"),
        "{detail}"
    );
    assert_eq!(step(cam, "hikvision")["status"], "ok", "{cam}");
    let call = step(cam, "callstatus");
    assert_eq!(call["status"], "ok", "{cam}");
    assert!(call["detail"].as_str().unwrap().contains("idle"), "{call}");
    sim.shutdown().await;
}

/// `check` on a doorbell that answers only its vendor API (`api = "dahua"`, no ONVIF) skips
/// the ONVIF steps with the reason instead of failing them, and tests the Dahua stream.
#[tokio::test(flavor = "multi_thread")]
async fn check_on_a_doorbell_without_onvif_skips_the_onvif_steps_and_tests_its_vendor_api() {
    use doorbell_bridge::sim::{DahuaModel, Personality};
    let broker = Broker::start();
    let sim = SimDoorbell::start(SimOptions {
        personality: Personality::Dahua(DahuaModel::Ad410),
        onvif: false,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let cfg = write_config(&format!(
        "[mqtt]\nurl = \"mqtt://127.0.0.1:{}\"\n{}api = \"dahua\"\n",
        broker.port(),
        camera_toml(sim.device_url().as_str(), "password")
    ));
    let out = bridge(&cfg.path, &["check", "--json"]).await;
    let (stdout, stderr) = text(&out);
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("check --json is JSON");
    let cam = &v["cameras"][0];
    for name in ["auth", "device", "pullpoint", "snapshot"] {
        let s = step(cam, name);
        assert_eq!(s["status"], "skip", "{name}: {cam}\n{stderr}");
        assert!(
            s["detail"].as_str().unwrap().contains("vendor API alone"),
            "{s}"
        );
    }
    assert_eq!(step(cam, "api")["status"], "ok", "{cam}");
    assert_eq!(step(cam, "dahua")["status"], "ok", "{cam}");
    assert!(out.status.success(), "no step failed: {cam}\n{stderr}");
    sim.shutdown().await;
}

/// `check` lists the relays or doors a camera reports, for each API, and never switches one.
#[tokio::test(flavor = "multi_thread")]
async fn check_lists_the_relays_and_never_switches_one() {
    use doorbell_bridge::sim::{DahuaModel, HikModel, Personality};
    let broker = Broker::start();
    let cases = [
        (Personality::Onvif, "onvif", "relay Door1 (bistable)"),
        (
            Personality::Dahua(DahuaModel::Vto),
            "dahua",
            "Info.status=Close",
        ),
        (
            Personality::Hikvision(HikModel::Kv6113),
            "hikvision",
            "RemoteControlDoor",
        ),
    ];
    for (personality, api, want) in cases {
        let sim = SimDoorbell::start(SimOptions {
            personality,
            ..SimOptions::default()
        })
        .await
        .unwrap();
        let cfg = write_config(&format!(
            "[mqtt]\nurl = \"mqtt://127.0.0.1:{}\"\n{}api = \"{api}\"\n[cameras.relay]\nenabled = true\n",
            broker.port(),
            camera_toml(sim.device_url().as_str(), "password")
        ));
        let out = bridge(&cfg.path, &["check", "--json"]).await;
        let (stdout, stderr) = text(&out);
        let v: serde_json::Value = serde_json::from_str(&stdout).expect("check --json is JSON");
        let relay = step(&v["cameras"][0], "relay");
        assert_eq!(relay["status"], "ok", "{api}: {relay}\n{stderr}");
        assert!(
            relay["detail"].as_str().unwrap().contains(want),
            "{api}: {relay}"
        );
        assert!(
            sim.door_switches().is_empty(),
            "{api}: check switched a door"
        );
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn check_with_a_wrong_password_fails_auth_with_a_hint_and_never_prints_it() {
    let broker = Broker::start();
    let sim = SimDoorbell::start(SimOptions::default()).await.unwrap();
    let cfg = sim_config(&sim, broker.port(), WRONG);
    for args in [&["check"][..], &["check", "--json"][..]] {
        let out = bridge(&cfg.path, args).await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}\n{stdout}\n{stderr}");
        assert!(
            !stdout.contains(WRONG) && !stderr.contains(WRONG),
            "password printed:\n{stdout}\n{stderr}"
        );
        if args.len() == 2 {
            let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
            let auth = step(&v["cameras"][0], "auth");
            assert_eq!(auth["status"], "fail", "{auth}");
            assert!(
                auth["hint"].as_str().unwrap().contains("ONVIF user"),
                "{auth}"
            );
            assert_eq!(step(&v["cameras"][0], "pullpoint")["status"], "skip");
            assert_eq!(v["ok"], false);
        } else {
            assert!(stdout.contains("  FAIL  auth "), "{stdout}");
            assert!(stdout.contains("hint: check the ONVIF user"), "{stdout}");
            assert!(stdout.contains("front_door/auth"), "{stdout}");
        }
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn check_fails_the_mqtt_step_with_a_hint_when_the_broker_is_down() {
    let cfg = write_config(&format!(
        "[mqtt]\nurl = \"mqtt://127.0.0.1:{}\"\n",
        closed_port()
    ));
    let out = bridge(&cfg.path, &["check", "--json", "--timeout", "5s"]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let connect = step(&v["mqtt"], "connect");
    assert_eq!(connect["status"], "fail", "{connect}");
    assert!(
        connect["hint"].as_str().unwrap().contains("mqtt.url"),
        "{connect}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_offline_touches_no_network() {
    // A "camera" and a "broker" that would notice any connection.
    let camera = TcpListener::bind("127.0.0.1:0").unwrap();
    let broker = TcpListener::bind("127.0.0.1:0").unwrap();
    let cfg = write_config(&format!(
        "[mqtt]\nurl = \"mqtt://{}\"\n{}{}",
        broker.local_addr().unwrap(),
        camera_toml(&format!("http://{}", camera.local_addr().unwrap()), WRONG),
        camera_toml("http://192.0.2.1", "x").replace("front_door", "unreachable")
    ));
    let out = bridge(&cfg.path, &["check", "--offline"]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("valid, 2 camera(s)"), "{stdout}");
    assert!(!stdout.contains(WRONG), "{stdout}");
    for l in [&camera, &broker] {
        l.set_nonblocking(true).unwrap();
        let err = l.accept().expect_err("--offline connected somewhere");
        assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    }
    let out = bridge(&cfg.path, &["check", "--offline", "--json"]).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["ok"].clone(), v["offline"].clone()),
        (true.into(), true.into())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_reports_an_invalid_config_with_exit_code_2() {
    let cfg = write_config("[[cameras]]\nid = \"Front Door\"\nurl = \"cam\"\n");
    let out = bridge(&cfg.path, &["check", "--offline"]).await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cameras[0].id"), "{stderr}");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn check_warns_about_a_world_readable_config() {
    use std::os::unix::fs::PermissionsExt;
    let cfg = write_config("[[cameras]]\nid = \"cam\"\nurl = \"cam\"\npassword = \"x\"\n");
    std::fs::set_permissions(&cfg.path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = bridge(&cfg.path, &["check", "--offline"]).await;
    let (stdout, _) = text(&out);
    assert!(out.status.success());
    assert!(
        stdout.contains("warning:") && stdout.contains("chmod 600"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn events_from_a_capture_prints_the_ring_as_json_and_for_people() {
    let nowhere = Path::new("/nonexistent/doorbell-bridge.toml");
    let out = bridge(nowhere, &["events", "--from-file", FIXTURE, "--json"]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    let e = &lines[0];
    assert_eq!(e["kind"], "ring");
    assert_eq!(
        (e["active"].clone(), e["trigger"].clone()),
        (true.into(), true.into())
    );
    assert_eq!(e["topic"], "tns1:RuleEngine/MyRuleDetector/Visitor");
    assert_eq!(e["source"], serde_json::json!({"Source": "000"}));
    assert_eq!(e["camera_time"], "2024-11-29T08:15:00Z");

    let out = bridge(nowhere, &["events", "--from-file", FIXTURE]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("tns1:RuleEngine/MyRuleDetector/Visitor"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Source=000") && stdout.contains("State=true"),
        "{stdout}"
    );
    assert!(
        stdout.contains("event      ring active, trigger"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn events_from_garbage_fails_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("capture.xml");
    std::fs::write(&file, "<not closed").unwrap();
    let out = bridge(
        Path::new("/nonexistent"),
        &["events", "--from-file", file.to_str().unwrap()],
    )
    .await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("capture.xml"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn events_live_shows_a_press() {
    let sim = SimDoorbell::start(SimOptions::default()).await.unwrap();
    let cfg = sim_config(&sim, closed_port(), "password");
    let mut cmd = Command::new(BIN);
    cmd.arg("--config")
        .arg(&cfg.path)
        .args([
            "events",
            "--camera",
            "front_door",
            "--json",
            "--count",
            "1",
            "--duration",
            "60s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn events");
    assert!(
        sim.wait_for_subscription(WAIT).await,
        "events never subscribed"
    );
    sim.press();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let ring = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON line"))
        .find(|e| e["kind"] == "ring" && e["trigger"] == true)
        .unwrap_or_else(|| panic!("no ring line in:\n{stdout}"));
    assert_eq!(ring["camera"], "front_door");
    // It unsubscribed on the way out.
    assert_eq!(sim.stats().unsubscribed, 1);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_writes_a_jpeg_and_fails_on_a_wrong_password() {
    let sim = SimDoorbell::start(SimOptions {
        http_digest: true,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("front.jpg");
    let cfg = sim_config(&sim, closed_port(), "password");
    let args = [
        "snapshot",
        "--camera",
        "front_door",
        "-o",
        file.to_str().unwrap(),
    ];
    let out = bridge(&cfg.path, &args).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let jpeg = std::fs::read(&file).expect("snapshot written");
    assert_eq!(&jpeg[..3], b"\xFF\xD8\xFF");
    assert_eq!(sim.stats().snapshots, 1);

    std::fs::remove_file(&file).unwrap();
    let cfg = sim_config(&sim, closed_port(), WRONG);
    let out = bridge(&cfg.path, &args).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("authentication rejected"), "{stderr}");
    assert!(stderr.contains("check"), "{stderr}");
    assert!(!stderr.contains(WRONG) && !stdout.contains(WRONG));
    assert!(!file.exists());

    let out = bridge(
        &cfg.path,
        &["snapshot", "--camera", "back_door", "-o", "x.jpg"],
    )
    .await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("front_door"), "{stderr}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn discover_finds_the_sim_and_prints_a_usable_snippet() {
    let sim = SimDoorbell::start(SimOptions::default()).await.unwrap();
    let addr = sim.discovery_addr().to_string();
    let out = bridge(
        Path::new("/nonexistent"),
        &["discover", "--address", &addr, "--wait", "2s"],
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("Simulated Doorbell"), "{stdout}");
    let snippet = &stdout[stdout.find("[[cameras]]").expect("a snippet")..];
    let filled = snippet.replace("password = \"\"", "password = \"password\"");
    let cfg = config::from_toml(&filled, Path::new("snippet.toml")).expect("snippet is valid");
    assert_eq!(cfg.cameras.len(), 1);
    assert_eq!(cfg.cameras[0].id.as_str(), "simulated_doorbell");
    assert_eq!(cfg.cameras[0].url, sim.device_url());
    sim.shutdown().await;
}

/// `check` on a DoorBird (no ONVIF): the LAN API's device information, the bridge's
/// favorites for the camera, which inputs the schedule links to them, and an image.cgi
/// snapshot; the ONVIF steps are not run.
#[tokio::test(flavor = "multi_thread")]
async fn check_on_a_doorbird_reads_its_favorites_and_schedule() {
    use doorbell_bridge::sim::Personality;
    let broker = Broker::start();
    let sim = SimDoorbell::start(SimOptions {
        personality: Personality::DoorBird,
        onvif: false,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let bell = sim.seed_favorite(
        "doorbell-bridge front_door (doorbell)",
        "http://192.0.2.5:8090/push/front_door/x?event=doorbell",
    );
    sim.seed_favorite(
        "doorbell-bridge front_door (motion)",
        "http://192.0.2.5:8090/push/front_door/x?event=motion",
    );
    sim.seed_schedule(serde_json::json!({"input": "doorbell", "param": "1",
        "output": [{"event": "http", "param": bell.to_string(), "enabled": "1"}]}));
    let cfg = write_config(&format!(
        "[mqtt]\nurl = \"mqtt://127.0.0.1:{}\"\n[push]\nlisten = \"127.0.0.1:0\"\nadvertise_url = \"http://127.0.0.1:8090\"\n{}api = \"doorbird\"\n",
        broker.port(),
        camera_toml(&format!("http://{}", sim.addr()), "password")
    ));
    let out = bridge(&cfg.path, &["check", "--json"]).await;
    let (stdout, stderr) = text(&out);
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("check --json is JSON");
    let cam = &v["cameras"][0];
    assert_eq!(step(cam, "api")["status"], "ok", "{cam}\n{stderr}");
    let device = step(cam, "device");
    assert_eq!(device["status"], "ok", "{cam}");
    assert!(
        device["detail"].as_str().unwrap().contains("D2101V"),
        "{device}"
    );
    assert_eq!(step(cam, "favorites")["status"], "ok", "{cam}");
    let schedule = step(cam, "schedule");
    assert_eq!(schedule["status"], "warn", "{cam}");
    assert!(
        schedule["detail"].as_str().unwrap().contains("motion"),
        "{schedule}"
    );
    assert_eq!(step(cam, "snapshot")["status"], "ok", "{cam}");
    assert!(
        cam["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["step"] != "pullpoint"),
        "no ONVIF steps on a DoorBird: {cam}"
    );
    sim.shutdown().await;
}
