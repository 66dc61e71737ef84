//! The push listener (`src/push/`) and the ONVIF push source through the daemon.
//!
//! Listener tests run a real listener on 127.0.0.1:0 and talk to it with a real HTTP client
//! or raw TCP: every refusal answers its status, delivers nothing and leaves the listener
//! serving the next request.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use doorbell_bridge::config::PushConfig;
use doorbell_bridge::event::CameraId;
use doorbell_bridge::metrics::Metrics;
use doorbell_bridge::push::{self, Expect, Push, Route};
use http::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(20);

async fn listener() -> (Push, Metrics, CancellationToken) {
    doorbell_bridge::onvif::install_crypto_provider();
    let cfg = PushConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        advertise_url: "http://127.0.0.1:0".parse().unwrap(),
    };
    let metrics = Metrics::default();
    let stop = CancellationToken::new();
    let push = Push::start(&cfg, metrics.clone(), stop.clone())
        .await
        .expect("listener starts");
    (push, metrics, stop)
}

fn front() -> CameraId {
    CameraId::new("front").unwrap()
}

fn post_from_loopback(max_body: usize) -> Expect {
    Expect {
        method: Method::POST,
        from: Some("127.0.0.1".parse().unwrap()),
        max_body,
    }
}

/// Asserts that nothing was delivered on `route`.
fn nothing_on(route: &mut Route) {
    assert!(
        route.rx.try_recv().is_err(),
        "a refused request must deliver nothing"
    );
}

/// The status line and the rest of a raw HTTP exchange.
async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    read_answer(&mut s).await
}

async fn read_answer(s: &mut TcpStream) -> String {
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(WAIT, s.read(&mut buf))
        .await
        .expect("an answer")
        .unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn path_of(route: &Route) -> String {
    let url: url::Url = route.url_str().parse().unwrap();
    url.path().to_owned()
}

#[tokio::test]
async fn a_request_on_its_route_is_delivered_with_query_body_and_peer() {
    let (push, metrics, _stop) = listener().await;
    let mut route = push.register(&front(), post_from_loopback(1024));
    assert!(route.url_str().starts_with(&format!(
        "http://127.0.0.1:{}/push/front/",
        push.local_addr().port()
    )));
    let answer = reqwest::Client::new()
        .post(format!("{}?event=ring", route.url_str()))
        .body("<Notify/>")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let got = route.rx.recv().await.unwrap();
    assert_eq!(got.query, "event=ring");
    assert_eq!(&got.body[..], b"<Notify/>");
    assert_eq!(got.peer.ip().to_string(), "127.0.0.1");
    assert_eq!(metrics.push_requests("accepted"), 1);
}

#[tokio::test]
async fn a_path_that_is_no_live_route_is_404_and_delivers_nothing() {
    let (push, metrics, _stop) = listener().await;
    let mut route = push.register(&front(), post_from_loopback(1024));
    let other = push.register(&CameraId::new("back").unwrap(), post_from_loopback(1024));
    let base = format!("http://{}", push.local_addr());
    let token = path_of(&route).rsplit('/').next().unwrap().to_owned();
    let wrong = [
        format!("{base}/"),
        format!("{base}/push/front"),
        format!("{base}/push/front/{}", "0".repeat(32)),
        // The right token under another camera's name.
        format!("{base}/push/back/{token}"),
        format!("{base}/push/front/{token}/extra"),
        format!("{base}/healthz"),
    ];
    let http = reqwest::Client::new();
    for url in &wrong {
        let answer = http.post(url).body("x").send().await.unwrap();
        assert_eq!(answer.status(), 404, "{url}");
    }
    nothing_on(&mut route);
    assert_eq!(metrics.push_requests("not_found"), wrong.len() as u64);
    // A dropped route is gone: its URL is 404 from then on.
    let url = other.url_str().to_owned();
    assert_eq!(push.routes(), 2);
    drop(other);
    assert_eq!(push.routes(), 1);
    let answer = http.post(&url).body("x").send().await.unwrap();
    assert_eq!(answer.status(), 404);
    // Still serving.
    let answer = http.post(route.url_str()).body("ok").send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(&route.rx.recv().await.unwrap().body[..], b"ok");
}

#[tokio::test]
async fn another_method_on_a_route_is_405_and_delivers_nothing() {
    let (push, metrics, _stop) = listener().await;
    let mut route = push.register(&front(), post_from_loopback(1024));
    let answer = reqwest::Client::new()
        .get(route.url_str())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 405);
    assert_eq!(answer.headers()["allow"], "POST");
    nothing_on(&mut route);
    assert_eq!(metrics.push_requests("wrong_method"), 1);
}

#[tokio::test]
async fn a_declared_oversize_body_is_413_before_it_is_sent() {
    let (push, metrics, _stop) = listener().await;
    let mut route = push.register(&front(), post_from_loopback(100));
    // Only the head is sent: the answer comes without the body ever arriving.
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n",
        path_of(&route)
    );
    let answer = raw(push.local_addr(), head.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    nothing_on(&mut route);
    assert_eq!(metrics.push_requests("too_large"), 1);
}

#[tokio::test]
async fn an_oversize_body_without_a_length_is_cut_at_the_limit() {
    let (push, _metrics, _stop) = listener().await;
    let mut route = push.register(&front(), post_from_loopback(100));
    // Chunked, 3 x 50 bytes: refused once the count passes 100.
    let chunk = format!("32\r\n{}\r\n", "a".repeat(50));
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{chunk}{chunk}{chunk}0\r\n\r\n",
        path_of(&route)
    );
    let answer = raw(push.local_addr(), request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    nothing_on(&mut route);
    // At the limit exactly is fine.
    let answer = reqwest::Client::new()
        .post(route.url_str())
        .body("b".repeat(100))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(route.rx.recv().await.unwrap().body.len(), 100);
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_408_and_delivers_nothing() {
    let (push, metrics, _stop) = listener().await;
    let mut route = push.register(&front(), post_from_loopback(1024));
    let mut s = TcpStream::connect(push.local_addr()).await.unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789",
        path_of(&route)
    );
    s.write_all(head.as_bytes()).await.unwrap();
    // The other 90 bytes never come: the listener answers after BODY_TIMEOUT.
    let answer = read_answer(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    nothing_on(&mut route);
    assert_eq!(metrics.push_requests("slow_body"), 1);
    assert!(push::BODY_TIMEOUT < WAIT);
}

#[tokio::test]
async fn a_head_that_does_not_arrive_in_time_is_cut_off() {
    let (push, _metrics, _stop) = listener().await;
    let mut route = push.register(&front(), post_from_loopback(1024));
    let mut s = TcpStream::connect(push.local_addr()).await.unwrap();
    s.write_all(b"POST /push/front/").await.unwrap();
    // Nothing more: the connection is closed (hyper may answer 408 first).
    let answer = read_answer(&mut s).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(WAIT, s.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the connection must be closed");
    nothing_on(&mut route);
    assert!(push::HEADER_TIMEOUT < WAIT);
}

#[tokio::test]
async fn a_request_from_another_address_is_403_unless_any_is_allowed() {
    let (push, metrics, _stop) = listener().await;
    let mut route = push.register(&front(), post_from_loopback(1024));
    let mut any = push.register(
        &front(),
        Expect {
            from: None,
            ..post_from_loopback(1024)
        },
    );
    let addr = push.local_addr();
    let from_other = |path: String| async move {
        // 127.0.0.2 is loopback too on Linux: a real peer with another address.
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let mut s = socket.connect(addr).await.unwrap();
        let request = format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
        s.write_all(request.as_bytes()).await.unwrap();
        read_answer(&mut s).await
    };
    let answer = from_other(path_of(&route)).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    nothing_on(&mut route);
    assert_eq!(metrics.push_requests("wrong_source"), 1);
    let answer = from_other(path_of(&any)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let got = any.rx.recv().await.unwrap();
    assert_eq!(got.peer.ip().to_string(), "127.0.0.2");
}

#[tokio::test]
async fn a_full_route_queue_is_503_and_the_listener_keeps_serving() {
    let (push, metrics, _stop) = listener().await;
    let mut route = push.register(&front(), post_from_loopback(1024));
    let http = reqwest::Client::new();
    for _ in 0..push::ROUTE_QUEUE {
        let a = http.post(route.url_str()).body("x").send().await.unwrap();
        assert_eq!(a.status(), 200);
    }
    let a = http.post(route.url_str()).body("x").send().await.unwrap();
    assert_eq!(a.status(), 503);
    assert_eq!(metrics.push_requests("busy"), 1);
    for _ in 0..push::ROUTE_QUEUE {
        route.rx.recv().await.unwrap();
    }
    let a = http.post(route.url_str()).body("x").send().await.unwrap();
    assert_eq!(a.status(), 200);
}

#[tokio::test]
async fn a_busy_port_is_an_error_naming_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let cfg = PushConfig {
        listen: addr,
        advertise_url: "http://127.0.0.1:8090".parse().unwrap(),
    };
    let err = Push::start(&cfg, Metrics::default(), CancellationToken::new())
        .await
        .err()
        .expect("the port is taken");
    let text = format!("{err:#}");
    assert!(text.contains(&format!("push.listen {addr}")), "{text}");
    assert!(text.contains("remove [push]"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// ONVIF push through the daemon: the simulated doorbell POSTs Notify to the bridge's listener.

use std::path::Path;

use doorbell_bridge::app::{self, Options, Running};
use doorbell_bridge::config;
use doorbell_bridge::sim::{PullPointMode, SimDoorbell, SimOptions};
use support::broker::{Broker, Subscriber};
use support::logs::Capture;

const CAM: &str = "doorbell-bridge/front_door";
const PUSH: &str = "[push]\nlisten = \"127.0.0.1:0\"\nadvertise_url = \"http://127.0.0.1:0\"\n";

fn config_of(sim: &SimDoorbell, port: u16, dir: &Path, push: &str, camera: &str) -> config::Config {
    let text = format!(
        r#"[mqtt]
url = "mqtt://127.0.0.1:{port}"
[storage]
path = {:?}
{push}
[[cameras]]
id = "front_door"
url = "{}"
username = "admin"
password = "password"
pull_timeout = "1s"
max_backoff = "2s"
{camera}
[cameras.snapshot]
enabled = false
"#,
        dir.display().to_string(),
        sim.device_url()
    );
    config::from_toml(&text, Path::new("test.toml")).expect("valid config")
}

fn options() -> Options {
    support::bridge::app_options()
}

/// A simulated doorbell granting `lifetime` subscriptions, a broker, the bridge and a
/// subscriber on everything.
struct Rig {
    sim: SimDoorbell,
    _broker: Broker,
    _dir: tempfile::TempDir,
    mqtt: Subscriber,
    running: Running,
    stop: CancellationToken,
}

impl Rig {
    async fn start(lifetime: Duration, mode: PullPointMode, push: &str, camera: &str) -> Rig {
        let broker = Broker::start();
        let sim = SimDoorbell::start(SimOptions {
            max_subscription: lifetime,
            ..SimOptions::default()
        })
        .await
        .unwrap();
        sim.set_pull_point(mode);
        let dir = tempfile::tempdir().unwrap();
        let cfg = config_of(&sim, broker.port(), dir.path(), push, camera);
        let mqtt = Subscriber::connect(broker.port(), "doorbell-bridge/#").await;
        let stop = CancellationToken::new();
        let running = app::start(&cfg, stop.clone(), options())
            .await
            .expect("bridge starts");
        Rig {
            sim,
            _broker: broker,
            _dir: dir,
            mqtt,
            running,
            stop,
        }
    }

    /// The next event on the camera's event topic that is `kind` and `active`.
    async fn event(&mut self, kind: &str, active: bool) -> serde_json::Value {
        loop {
            let m = self.mqtt.next_on(&format!("{CAM}/event"), WAIT).await;
            let v = m.json();
            if v["kind"] == kind && v["active"] == active {
                return v;
            }
        }
    }

    async fn online(&mut self) {
        loop {
            let m = self.mqtt.next_on(&format!("{CAM}/status"), WAIT).await;
            if m.text() == "online" {
                return;
            }
        }
    }

    async fn stop(self) -> SimDoorbell {
        self.stop.cancel();
        assert!(self.running.stopped().await, "shutdown missed its deadline");
        self.sim
    }
}

/// Polls `cond` until it holds (a bounded wait on a counter, not a pace).
async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_camera_rings_and_moves_across_several_renewed_terminations() {
    let mut rig = Rig::start(
        Duration::from_secs(2),
        PullPointMode::Unsupported,
        PUSH,
        "events = \"push\"",
    )
    .await;
    rig.online().await;
    assert!(rig.sim.wait_for_push_subscriptions(1, WAIT).await);
    rig.sim.press();
    let ring = rig.event("ring", true).await;
    assert_eq!(ring["trigger"], true);
    assert_eq!(ring["topic"], "tns1:RuleEngine/MyRuleDetector/Visitor");
    rig.sim.set_motion(true);
    rig.event("motion", true).await;
    rig.sim.set_motion(false);
    rig.event("motion", false).await;
    // Three 2-second terminations renewed: the same subscription keeps delivering.
    let sim = rig.sim.clone();
    eventually("three renewals", || sim.stats().renewed >= 3).await;
    rig.sim.press();
    rig.event("ring", true).await;
    let stats = rig.sim.stats();
    assert_eq!(stats.push_subscriptions_created, 1, "{stats:?}");
    assert_eq!(stats.live_push_subscriptions, 1);
    assert!(stats.notifies_sent >= 3, "{stats:?}");
    assert_eq!(stats.notify_failures, 0, "{stats:?}");
    assert_eq!(
        stats.action("CreatePullPointSubscription"),
        0,
        "events = push never pulls"
    );
    let sim = rig.stop().await;
    // Unsubscribed at shutdown.
    assert_eq!(sim.stats().live_push_subscriptions, 0);
    assert_eq!(sim.stats().unsubscribed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reboot_that_forgets_the_push_subscription_is_noticed_and_the_next_ring_arrives() {
    // Long terminations: the reboot is noticed by the probe, not by a renewal falling due.
    let mut rig = Rig::start(
        Duration::from_secs(600),
        PullPointMode::Works,
        PUSH,
        "events = \"push\"",
    )
    .await;
    rig.online().await;
    assert!(rig.sim.wait_for_push_subscriptions(1, WAIT).await);
    let first = rig.sim.push_consumers();
    rig.sim.reboot();
    assert_eq!(rig.sim.stats().live_push_subscriptions, 0);
    assert!(rig.sim.wait_for_push_subscriptions(2, WAIT).await);
    let second = rig.sim.push_consumers();
    assert_eq!(second.len(), 1);
    assert_ne!(first, second, "a new subscription gets a new route");
    rig.sim.press();
    rig.event("ring", true).await;
    // The old route is gone: what is sent there is refused.
    let old = reqwest::Client::new()
        .post(&first[0])
        .body("<x/>")
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 404);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_falls_back_to_push_when_the_pull_point_is_refused() {
    let mut rig = Rig::start(
        Duration::from_secs(60),
        PullPointMode::Unsupported,
        PUSH,
        "",
    )
    .await;
    assert!(rig.sim.wait_for_push_subscriptions(1, WAIT).await);
    rig.online().await;
    rig.sim.press();
    rig.event("ring", true).await;
    let stats = rig.sim.stats();
    assert!(stats.action("CreatePullPointSubscription") >= 1);
    assert_eq!(stats.live_subscriptions, stats.live_push_subscriptions);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_falls_back_to_push_when_pulls_keep_failing() {
    let mut rig = Rig::start(Duration::from_secs(60), PullPointMode::Failing, PUSH, "").await;
    assert!(rig.sim.wait_for_push_subscriptions(1, WAIT).await);
    let pulls = rig.sim.stats().action("PullMessages");
    assert!(
        pulls >= u64::from(doorbell_bridge::source::pullpoint::PULL_FAILURES_BEFORE_PUSH),
        "switched after {pulls} failed pulls"
    );
    rig.sim.press();
    rig.event("ring", true).await;
    // The broken pull point was released when push took over.
    let stats = rig.sim.stats();
    assert_eq!(stats.live_subscriptions, 1, "{stats:?}");
    assert_eq!(stats.live_push_subscriptions, 1, "{stats:?}");
    rig.stop().await;
}

// One thread: every task of the bridge logs through this test's subscriber.
#[tokio::test(flavor = "current_thread")]
async fn auto_without_push_keeps_pulling_and_says_what_to_add() {
    let logs = Capture::default();
    let _guard = tracing::dispatcher::set_default(&logs.dispatch(tracing::Level::INFO));
    let mut rig = Rig::start(Duration::from_secs(60), PullPointMode::Unsupported, "", "").await;
    logs.wait_for("needs the push listener: add [push]").await;
    assert!(rig.running.push.is_none(), "no [push], no listener");
    // The camera is offline (its PullPoint is what it has); the PullPoint source goes on,
    // retrying the refused call after the long wait for refusals.
    loop {
        let m = rig.mqtt.next_on(&format!("{CAM}/status"), WAIT).await;
        if m.text() == "offline" {
            break;
        }
    }
    let stats = rig.sim.stats();
    assert_eq!(stats.push_subscriptions_created, 0);
    assert_eq!(stats.action("Subscribe"), 0);
    assert_eq!(logs.count("needs the push listener"), 1, "said once");
    rig.stop().await;
}

#[test]
fn events_push_without_the_listener_is_a_config_error_saying_what_to_add() {
    let text = "[[cameras]]\nid = \"door\"\nurl = \"192.168.1.21\"\nevents = \"push\"\n";
    let err = config::from_toml(text, Path::new("t.toml")).unwrap_err();
    assert_eq!(err.key, "cameras[0].events");
    assert!(
        err.message.contains("add a [push] section"),
        "{}",
        err.message
    );
    assert!(err.message.contains("advertise_url"), "{}", err.message);
}

// ---------------------------------------------------------------------------------------------
// `check`: whether push is used or needed, a test Subscribe, whether the listener answers.

use doorbell_bridge::commands::check::check_all;

fn step<'a>(
    steps: &'a [doorbell_bridge::commands::check_report::Step],
    name: &str,
) -> &'a doorbell_bridge::commands::check_report::Step {
    steps
        .iter()
        .find(|s| s.step == name)
        .unwrap_or_else(|| panic!("no {name} step in {steps:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_says_push_is_used_tests_subscribe_and_finds_the_running_listener() {
    use doorbell_bridge::commands::check_report::Status;
    let sim = SimDoorbell::start(SimOptions::default()).await.unwrap();
    sim.set_pull_point(PullPointMode::Unsupported);
    // A running listener (as the bridge's would be) at the advertised address.
    let (push, _metrics, _stop) = listener().await;
    let advertise = format!("http://{}", push.local_addr());
    let dir = tempfile::tempdir().unwrap();
    let push_section =
        format!("[push]\nlisten = \"127.0.0.1:0\"\nadvertise_url = \"{advertise}\"\n");
    let cfg = config_of(&sim, 1, dir.path(), &push_section, "");
    let report = check_all(&cfg, vec![], Duration::from_secs(5)).await;
    let cam = &report.cameras[0];
    let pull = step(&cam.steps, "pullpoint");
    assert_eq!(pull.status, Status::Warn, "{pull:?}");
    assert!(
        pull.hint.as_deref().unwrap().contains("uses ONVIF push"),
        "{pull:?}"
    );
    let sub = step(&cam.steps, "push");
    assert_eq!(sub.status, Status::Ok, "{sub:?}");
    assert!(sub.detail.contains("/push/front_door/***"), "{sub:?}");
    assert_eq!(sim.stats().push_subscriptions_created, 1);
    assert_eq!(sim.stats().live_push_subscriptions, 0, "unsubscribed");
    let listener = report.push.as_ref().expect("a push report");
    let reach = step(&listener.steps, "reachable");
    assert_eq!(reach.status, Status::Ok, "{reach:?}");
    assert!(
        reach.detail.contains("cannot be told from here"),
        "{reach:?}"
    );
    // Without [push], the same camera fails its pullpoint step, saying what to add.
    let cfg = config_of(&sim, 1, dir.path(), "", "");
    let report = check_all(&cfg, vec![], Duration::from_secs(5)).await;
    let pull = step(&report.cameras[0].steps, "pullpoint");
    assert_eq!(pull.status, Status::Fail);
    assert!(
        pull.hint.as_deref().unwrap().contains("add [push]"),
        "{pull:?}"
    );
    assert!(report.push.is_none());
    assert!(report.cameras[0].steps.iter().all(|s| s.step != "push"));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_of_a_stopped_bridge_says_the_listen_port_is_free() {
    use doorbell_bridge::commands::check_report::Status;
    let sim = SimDoorbell::start(SimOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on the advertised port (a bound and closed one).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let push_section =
        format!("[push]\nlisten = \"127.0.0.1:0\"\nadvertise_url = \"http://{closed}\"\n");
    let cfg = config_of(&sim, 1, dir.path(), &push_section, "");
    let report = check_all(&cfg, vec![], Duration::from_secs(5)).await;
    // The PullPoint works: push is not needed.
    assert_eq!(
        step(&report.cameras[0].steps, "pullpoint").status,
        Status::Ok
    );
    assert_eq!(step(&report.cameras[0].steps, "push").status, Status::Skip);
    let listen = step(&report.push.as_ref().unwrap().steps, "listen");
    assert_eq!(listen.status, Status::Ok, "{listen:?}");
    assert!(listen.detail.contains("is free"), "{listen:?}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_in_trouble_as_a_whole_keeps_pulling_and_never_switches_to_push() {
    // Every request answered HTTP 500 (the clock too) says nothing about the PullPoint.
    let mut rig = Rig::start(Duration::from_secs(60), PullPointMode::Works, PUSH, "").await;
    rig.online().await;
    let clock = |sim: &SimDoorbell| sim.stats().action("GetSystemDateAndTime");
    let before = clock(&rig.sim);
    rig.sim.set_fault(doorbell_bridge::sim::Fault::Http500);
    let failures = u64::from(doorbell_bridge::source::pullpoint::PULL_FAILURES_BEFORE_PUSH) + 1;
    assert!(
        rig.sim
            .wait_for_requests("GetSystemDateAndTime", before + failures, WAIT)
            .await
    );
    rig.sim.set_fault(doorbell_bridge::sim::Fault::None);
    rig.online().await;
    rig.sim.press();
    rig.event("ring", true).await;
    let stats = rig.sim.stats();
    assert_eq!(stats.push_subscriptions_created, 0, "{stats:?}");
    assert_eq!(stats.action("Subscribe"), 0, "{stats:?}");
    rig.stop().await;
}

#[tokio::test]
async fn more_cameras_than_connections_are_all_served_at_once() {
    // Each client keeps its connection pooled; the listener closes it after the answer, so
    // idle clients never hold the connection limit.
    let (push, _metrics, _stop) = listener().await;
    let mut route = push.register(&front(), post_from_loopback(1024));
    let clients: Vec<reqwest::Client> = (0..push::MAX_CONNECTIONS + 8)
        .map(|_| reqwest::Client::new())
        .collect();
    for round in 0..2 {
        for c in &clients {
            let a = c.post(route.url_str()).body("x").send().await.unwrap();
            assert_eq!(a.status(), 200, "round {round}");
            // The connection ends with the answer: its permit is free at once.
            assert_eq!(a.headers()["connection"], "close");
            route.rx.recv().await.unwrap();
        }
    }
}
