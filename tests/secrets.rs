//! A planted password (the camera's and the broker's) must never leave the places that send it.
//!
//! The whole app runs against the simulated doorbell (whose password is the planted one), a
//! second camera that refuses that password, and a broker that checks it, while every log line
//! at every level (trace included, the `log` output of reqwest, rustls and rumqttc too) goes to
//! a buffer, every MQTT message on `#` is collected, and panics are recorded. A ring, a
//! snapshot, a snapshot command and a shutdown later, none of them may hold the password, its
//! base64 form or the base64 of `user:password` (HTTP Basic). Neither may the output of the
//! `check` command. A third camera is a DoorBird (HTTP Basic with the planted password, its
//! favorites holding the push listener's route token): neither the password nor the token may
//! appear either. The one test in this binary owns the global subscriber and panic hook.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use doorbell_bridge::app::{self, Options};
use doorbell_bridge::onvif::ClientOptions;
use doorbell_bridge::sim::PullPointMode;
use doorbell_bridge::sim::{Personality, SimDoorbell, SimOptions};
use support::bridge::{WAIT, tuning};
use support::broker::{Broker, Options as BrokerOptions, Received, Subscriber};
use support::logs::Capture;
use tokio_util::sync::CancellationToken;

const PLANTED: &str = "Pl4nted-pw-7d1e";
/// The door code, planted too (Home Assistant sends it on the command topic).
const PLANTED_CODE: &str = "C0de-88125";
const MQTT_USER: &str = "bridge";
const CAMERA_USER: &str = "admin";

/// Every form the password could leak in.
fn needles() -> Vec<String> {
    vec![
        PLANTED.to_owned(),
        PLANTED_CODE.to_owned(),
        BASE64.encode(PLANTED),
        BASE64.encode(format!("{CAMERA_USER}:{PLANTED}")),
        BASE64.encode(format!("{MQTT_USER}:{PLANTED}")),
    ]
}

fn assert_clean(what: &str, text: &str) {
    for needle in needles() {
        if let Some(at) = text.find(&needle) {
            let from = text[..at].rfind('\n').map_or(0, |i| i + 1);
            let to = text[at..].find('\n').map_or(text.len(), |i| at + i);
            panic!("{what} holds the password ({needle}): {}", &text[from..to]);
        }
    }
}

/// Installs the trace-level subscriber (which also takes the `log` crate's records) and a panic
/// hook writing into `capture`; independent of RUST_LOG.
fn capture_everything(capture: &Capture) {
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .expect("the only subscriber of this test binary");
    let panics = capture.clone();
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        panics.push(&format!("PANIC: {info}\n"));
        default(info);
    }));
}

fn config_text(
    mqtt_port: u16,
    good: &SimDoorbell,
    wrong: &SimDoorbell,
    bird: &SimDoorbell,
    pushing: &SimDoorbell,
    storage: &Path,
) -> String {
    format!(
        r#"[mqtt]
url = "mqtt://127.0.0.1:{mqtt_port}"
username = "{MQTT_USER}"
password = "{PLANTED}"

[push]
listen = "127.0.0.1:0"
advertise_url = "http://127.0.0.1:0"

[http]
listen = "127.0.0.1:0"
password = "{PLANTED}"

[storage]
path = {storage:?}

[[cameras]]
id = "side_door"
url = "{pushing}"
username = "{CAMERA_USER}"
password = "{PLANTED}"
events = "push"
max_backoff = "2s"

[[cameras]]
id = "front_door"
url = "{good}"
username = "{CAMERA_USER}"
password = "{PLANTED}"
pull_timeout = "1s"
max_backoff = "2s"
[cameras.relay]
enabled = true
code = "{PLANTED_CODE}"

[[cameras]]
id = "back_door"
url = "{wrong}"
username = "{CAMERA_USER}"
password = "{PLANTED}"
tls_insecure = true
pull_timeout = "1s"
max_backoff = "2s"

[[cameras]]
id = "bird"
url = "http://{bird}"
api = "doorbird"
username = "{CAMERA_USER}"
password = "{PLANTED}"
max_backoff = "2s"
"#,
        good = good.device_url(),
        wrong = wrong.device_url(),
        bird = bird.addr(),
        pushing = pushing.device_url(),
        storage = storage.display().to_string(),
    )
}

async fn sim(password: &str) -> SimDoorbell {
    SimDoorbell::start(SimOptions {
        username: CAMERA_USER.into(),
        password: password.into(),
        http_digest: true,
        ..SimOptions::default()
    })
    .await
    .expect("simulator starts")
}

/// Runs the binary with `args`; its stdout and stderr together. Killed if it hangs.
fn bridge_command(args: &[&str]) -> String {
    let child = Command::new(env!("CARGO_BIN_EXE_doorbell-bridge"))
        .args(args)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run doorbell-bridge");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let Ok(output) = rx.recv_timeout(Duration::from_secs(60)) else {
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        panic!("doorbell-bridge {args:?} did not finish within 60 s");
    };
    let output = output.expect("doorbell-bridge output");
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The next message on `topic` whose text is `want`, keeping every message seen.
async fn until(sub: &mut Subscriber, seen: &mut Vec<Received>, topic: &str, want: Option<&str>) {
    loop {
        let m = sub.next_on(topic, WAIT).await;
        let done = want.is_none_or(|w| m.text() == w);
        seen.push(m);
        if done {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_planted_password_never_leaks() {
    let capture = Capture::default();
    capture_everything(&capture);
    let broker = Broker::mosquitto(BrokerOptions {
        user: Some((MQTT_USER.into(), PLANTED.into())),
        anonymous_too: true,
        ..BrokerOptions::default()
    })
    // Without Mosquitto the embedded broker takes the password unchecked; still sent.
    .unwrap_or_else(Broker::start);
    let good = sim(PLANTED).await;
    let wrong = sim("another-password").await;
    let bird = SimDoorbell::start(SimOptions {
        username: CAMERA_USER.into(),
        password: PLANTED.into(),
        personality: Personality::DoorBird,
        onvif: false,
        ..SimOptions::default()
    })
    .await
    .expect("simulator starts");
    // A camera whose PullPoint is missing: its events come by push, to a route with a token.
    let pushing = sim(PLANTED).await;
    pushing.set_pull_point(PullPointMode::Unsupported);
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(
        broker.port(),
        &good,
        &wrong,
        &bird,
        &pushing,
        &dir.path().join("footage"),
    );
    let config_file = dir.path().join("doorbell-bridge.toml");
    std::fs::write(&config_file, &text).unwrap();
    let config = doorbell_bridge::config::load(&config_file).expect("valid config");
    assert!(!format!("{config:?}").contains(PLANTED));

    let mut sub = Subscriber::connect(broker.port(), "#").await;
    let mut seen = Vec::new();
    let shutdown = CancellationToken::new();
    let options = Options {
        shutdown_deadline: Duration::from_secs(5),
        client: ClientOptions {
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(2),
            pull_margin: Duration::from_secs(2),
            ..ClientOptions::default()
        },
        mqtt: tuning(),
        door: doorbell_bridge::door::Rules {
            subscribe_grace: Duration::ZERO,
            ..Default::default()
        },
    };
    let running = app::start(&config, shutdown.clone(), options)
        .await
        .expect("app starts");
    let base = "doorbell-bridge/front_door";
    until(
        &mut sub,
        &mut seen,
        &format!("{base}/status"),
        Some("online"),
    )
    .await;

    // A ring brings an event and, after it, a snapshot (Digest-protected on the simulator).
    good.press();
    until(&mut sub, &mut seen, &format!("{base}/event"), None).await;
    until(&mut sub, &mut seen, &format!("{base}/snapshot"), None).await;
    // The Home Assistant button asks for another.
    sub.publish(&format!("{base}/snapshot/set"), "PRESS", false)
        .await;
    until(&mut sub, &mut seen, &format!("{base}/snapshot"), None).await;
    // The door: a wrong code, then the right one (the log names the outcome, never the code).
    let door = format!("{base}/door/set");
    for code in ["0000", PLANTED_CODE] {
        let command = format!(r#"{{"action":"OPEN","code":"{code}"}}"#);
        sub.publish(&door, &command, false).await;
        loop {
            let m = sub.next_on(&format!("{base}/event"), WAIT).await;
            let done = m.text().contains("\"kind\":\"door\"");
            seen.push(m);
            if done {
                break;
            }
        }
    }
    capture.wait_for("door opened on request").await;
    // The camera that refuses the password has said so in the log.
    capture.wait_for("camera refuses us").await;
    // The push camera rings through the listener; its route token is a secret too.
    until(
        &mut sub,
        &mut seen,
        "doorbell-bridge/side_door/status",
        Some("online"),
    )
    .await;
    assert!(pushing.wait_for_push_subscriptions(1, WAIT).await);
    pushing.press();
    until(&mut sub, &mut seen, "doorbell-bridge/side_door/event", None).await;
    let tokens: Vec<String> = pushing
        .push_consumers()
        .iter()
        .map(|url| url.rsplit('/').next().unwrap_or_default().to_owned())
        .collect();
    assert!(
        tokens.iter().all(|t| t.len() >= 32),
        "route tokens: {tokens:?}"
    );

    // The DoorBird registered its favorites (Basic with the password; the route token in the
    // favorite's URL), and a press through them rings, with a snapshot from image.cgi.
    until(
        &mut sub,
        &mut seen,
        "doorbell-bridge/bird/status",
        Some("online"),
    )
    .await;
    let token = bird
        .favorites()
        .iter()
        .find_map(|(_, _, value)| {
            let path = value.split('?').next()?;
            path.rsplit_once("/push/bird/").map(|(_, t)| t.to_owned())
        })
        .expect("the DoorBird holds the bridge's favorite");
    assert!(token.len() >= 16, "a route token: {token}");
    bird.press();
    until(&mut sub, &mut seen, "doorbell-bridge/bird/event", None).await;
    until(&mut sub, &mut seen, "doorbell-bridge/bird/snapshot", None).await;

    // The history page's login, wrong then right: the log names the attempt, never the
    // password; the cookie holds a token.
    let page = format!("http://{}", running.http.expect("[http] configured"));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for typed in ["not-it-at-all", PLANTED] {
        let r = http
            .post(format!("{page}/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("password={typed}"))
            .send()
            .await
            .unwrap();
        let cookie = r
            .headers()
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        assert_clean("the page's cookie", &cookie);
        assert_clean("the login page", &r.text().await.unwrap());
    }
    capture.wait_for("a wrong password").await;

    // `check`, offline and online (which logs in to both cameras, fetches a snapshot and
    // connects to the broker); at trace level and in JSON too.
    let path = config_file.display().to_string();
    let mut outputs = Vec::new();
    for args in [
        vec!["check", "--offline", "--config", &path],
        vec!["check", "--config", &path],
        vec!["--log-level", "trace", "check", "--config", &path],
        vec![
            "--log-level",
            "trace",
            "--log-format",
            "json",
            "check",
            "--config",
            &path,
        ],
    ] {
        outputs.push((args.join(" "), bridge_command(&args)));
    }

    shutdown.cancel();
    assert!(running.stopped().await, "shutdown within the deadline");
    good.shutdown().await;
    wrong.shutdown().await;
    bird.shutdown().await;
    pushing.shutdown().await;
    seen.extend(sub.take_all());

    let logs = capture.text();
    // The capture really holds everything: third-party trace output and our warnings.
    assert!(logs.contains("TRACE"), "no trace-level lines captured");
    assert!(logs.contains("rumqttc"), "no rumqttc output captured");
    assert!(
        logs.contains("reqwest") || logs.contains("hyper"),
        "no HTTP client output captured"
    );
    assert!(
        logs.lines().any(|l| l.contains("WARN")
            && l.contains("back_door")
            && l.contains("tls_insecure is on")),
        "the tls_insecure opt-in is not warned about at start"
    );
    assert!(!logs.contains("PANIC:"), "a panic happened:\n{logs}");
    assert_clean("the log", &logs);
    assert!(
        logs.lines()
            .any(|l| l.contains("WARN") && l.contains("bird") && l.contains("HTTP Basic")),
        "the DoorBird's Basic over http:// is not warned about at start"
    );
    let no_token = |what: &str, text: &str| {
        assert!(!text.contains(&token), "{what} holds the route token");
    };
    no_token("the log", &logs);
    // The push route token: never at info level or above, never on MQTT.
    let info: String = logs
        .lines()
        .filter(|l| {
            [" INFO ", " WARN ", " ERROR "]
                .iter()
                .any(|k| l.contains(k))
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        info.contains("side_door"),
        "the push camera logged nothing at info"
    );
    for token in &tokens {
        if let Some(line) = info.lines().find(|l| l.contains(token.as_str())) {
            panic!("the push route token is in an info-level line: {line}");
        }
        for m in &seen {
            assert!(
                !m.topic.contains(token.as_str()) && !m.text().contains(token.as_str()),
                "the push route token is on MQTT ({})",
                m.topic
            );
        }
    }

    assert!(seen.len() >= 5, "too few MQTT messages: {}", seen.len());
    // The commands on door/set are the test's own (Home Assistant's); all else is the bridge's.
    seen.retain(|m| m.topic != format!("{base}/door/set") || m.payload.is_empty());
    for m in &seen {
        assert_clean(&format!("MQTT topic {}", m.topic), &m.topic);
        assert_clean(&format!("MQTT message on {}", m.topic), &m.text());
        no_token(&format!("MQTT message on {}", m.topic), &m.text());
    }

    for (args, output) in &outputs {
        assert!(!output.is_empty(), "`{args}` printed nothing");
        assert_clean(&format!("`{args}`"), output);
        no_token(&format!("`{args}`"), output);
    }
    let broken = text.replace("pull_timeout = \"1s\"", "pull_timeout = \"soon\"");
    std::fs::write(&config_file, broken).unwrap();
    let output = bridge_command(&["check", "--offline", "--config", &path]);
    assert!(output.contains("pull_timeout"), "{output}");
    assert_clean("`check` of a broken config", &output);
}
