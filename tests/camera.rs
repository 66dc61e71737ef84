//! The camera supervisor against the simulated doorbell: real HTTP on 127.0.0.1:0, real time,
//! short configured timeouts, and the simulator's fault injection. Every wait is for an update
//! or a counted request, never a fixed sleep.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use doorbell_bridge::camera::{Supervisor, client_for};
use doorbell_bridge::config;
use doorbell_bridge::event::{Kind, Update};
use doorbell_bridge::metrics::Metrics;
use doorbell_bridge::onvif::ClientOptions;
use doorbell_bridge::sim::{Fault, SimDoorbell, SimOptions};
use support::logs::Capture;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::instrument::WithSubscriber;

const WAIT: Duration = Duration::from_secs(20);

struct Rig {
    sim: SimDoorbell,
    updates: mpsc::Receiver<Update>,
    seen: Vec<Update>,
    token: CancellationToken,
    task: JoinHandle<()>,
    /// What the supervisor logged at info and above.
    logs: Capture,
}

async fn rig(options: SimOptions, password: &str) -> Rig {
    let sim = SimDoorbell::start(options).await.expect("simulator starts");
    start(sim, password)
}

fn start(sim: SimDoorbell, password: &str) -> Rig {
    start_with(sim, password, "")
}

fn start_with(sim: SimDoorbell, password: &str, extra: &str) -> Rig {
    let toml = format!(
        r#"[[cameras]]
id = "front_door"
url = "{}"
username = "admin"
password = "{password}"
pull_timeout = "1s"
max_backoff = "2s"
{extra}
"#,
        sim.device_url()
    );
    let cfg = config::from_toml(&toml, Path::new("test.toml")).expect("valid config");
    let cam = Arc::new(cfg.cameras[0].clone());
    let options = ClientOptions {
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(2),
        pull_margin: Duration::from_secs(2),
        ..ClientOptions::default()
    };
    let client = client_for(&cam, options).expect("client");
    let (tx, updates) = mpsc::channel(256);
    let token = CancellationToken::new();
    let sup = Supervisor::new(cam, client, tx, None, Metrics::default(), token.clone());
    let logs = Capture::default();
    let run = sup
        .run()
        .with_subscriber(logs.dispatch(tracing::Level::INFO));
    Rig {
        sim,
        updates,
        seen: Vec::new(),
        token,
        task: tokio::spawn(run),
        logs,
    }
}

impl Rig {
    /// The next update matching `want`; panics with what was seen when none comes in time.
    async fn expect(&mut self, what: &str, want: impl Fn(&Update) -> bool) -> Update {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.updates.recv()).await {
                Ok(Some(u)) => {
                    self.seen.push(u.clone());
                    if want(&u) {
                        return u;
                    }
                }
                Ok(None) => panic!("supervisor ended while waiting for {what}"),
                Err(_) => panic!("no {what} within {WAIT:?}; saw {:#?}", self.seen),
            }
        }
    }

    async fn online(&mut self) {
        self.expect("online", |u| matches!(u, Update::Online { .. }))
            .await;
    }

    async fn offline(&mut self) -> String {
        match self
            .expect("offline", |u| matches!(u, Update::Offline { .. }))
            .await
        {
            Update::Offline { reason, .. } => reason,
            _ => unreachable!(),
        }
    }

    /// Presses the button and waits for the ring and its falling edge.
    async fn press_and_ring(&mut self) {
        self.sim.press();
        self.expect("a ring", |u| is_ring(u, true)).await;
        self.expect(
            "the ring's falling edge",
            |u| matches!(u, Update::Event(e) if e.kind == Kind::Ring && !e.active),
        )
        .await;
    }

    async fn stop(self) -> (SimDoorbell, Vec<Update>) {
        self.token.cancel();
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("supervisor stops in time")
            .expect("supervisor does not panic");
        let mut seen = self.seen;
        let mut updates = self.updates;
        while let Ok(u) = updates.try_recv() {
            seen.push(u);
        }
        (self.sim, seen)
    }
}

fn is_ring(u: &Update, trigger: bool) -> bool {
    matches!(u, Update::Event(e) if e.kind == Kind::Ring && e.trigger == trigger && e.active)
}

#[tokio::test]
async fn press_rings_and_initialized_state_does_not() {
    let mut rig = rig(SimOptions::default(), "password").await;
    rig.online().await;
    // The Initialized Visitor=false arrives first, as state, not as a ring.
    rig.expect(
        "initialized doorbell state",
        |u| matches!(u, Update::Event(e) if e.kind == Kind::Ring && !e.trigger),
    )
    .await;
    rig.press_and_ring().await;
    let (sim, seen) = rig.stop().await;
    let rings = seen.iter().filter(|u| is_ring(u, true)).count();
    assert_eq!(rings, 1, "{seen:#?}");
    assert!(seen.iter().any(|u| matches!(u, Update::ClockDrift { .. })));
    assert!(matches!(seen.last(), Some(Update::Offline { .. })));
    // Shutdown left no subscription behind.
    let stats = sim.stats();
    assert_eq!(stats.unsubscribed, 1, "{stats:?}");
    assert_eq!(stats.live_subscriptions, 0, "{stats:?}");
}

#[tokio::test]
async fn camera_down_at_start_is_retried_until_it_appears() {
    let sim = SimDoorbell::start(SimOptions::default()).await.unwrap();
    sim.set_fault(Fault::Offline);
    let mut rig = start(sim, "password");
    rig.offline().await;
    rig.sim.set_fault(Fault::None);
    rig.online().await;
    rig.press_and_ring().await;
    rig.stop().await;
}

/// A reboot the bridge notices at once (connections closed, subscription unknown) is a new
/// session within the availability grace: online again, never offline in between.
#[tokio::test]
async fn reboot_mid_stream_resubscribes_without_flapping_and_presses_arrive() {
    let mut rig = rig(SimOptions::default(), "password").await;
    rig.online().await;
    rig.sim.reboot();
    rig.online().await;
    assert!(!rig.seen.iter().any(|u| matches!(u, Update::Offline { .. })));
    // The camera clock now says 2000-01-01: WS-Security works through the measured offset.
    rig.press_and_ring().await;
    rig.press_and_ring().await;
    rig.stop().await;
}

#[tokio::test]
async fn dropped_subscriptions_are_recreated_without_going_offline() {
    let mut rig = rig(SimOptions::default(), "password").await;
    rig.online().await;
    rig.sim.drop_subscriptions();
    rig.online().await;
    assert!(!rig.seen.iter().any(|u| matches!(u, Update::Offline { .. })));
    rig.press_and_ring().await;
    let (sim, _) = rig.stop().await;
    assert_eq!(sim.stats().live_subscriptions, 0);
}

#[tokio::test]
async fn http_500_and_garbage_are_survived() {
    let mut rig = rig(SimOptions::default(), "password").await;
    rig.online().await;
    for fault in [Fault::Http500, Fault::Garbage] {
        rig.sim.set_fault(fault);
        rig.offline().await;
        rig.sim.set_fault(Fault::None);
        rig.online().await;
        rig.press_and_ring().await;
    }
    rig.stop().await;
}

#[tokio::test]
async fn a_camera_slower_than_every_timeout_recovers() {
    let mut rig = rig(SimOptions::default(), "password").await;
    rig.online().await;
    rig.sim.set_fault(Fault::Slow(Duration::from_secs(6)));
    let reason = rig.offline().await;
    assert!(reason.contains("no answer within"), "{reason}");
    rig.sim.set_fault(Fault::None);
    rig.online().await;
    rig.press_and_ring().await;
    rig.stop().await;
}

#[tokio::test]
async fn camera_clock_jumping_a_day_ahead_mid_run() {
    let mut rig = rig(SimOptions::default(), "password").await;
    rig.online().await;
    let before = rig.sim.stats();
    rig.sim
        .set_clock_offset(jiff::SignedDuration::from_hours(24));
    rig.press_and_ring().await;
    rig.press_and_ring().await;
    let after = rig.sim.stats();
    // The jump was felt: the simulator rejected a token made with the old offset ...
    assert!(
        after.auth_failures > before.auth_failures,
        "no request was rejected after the jump: {after:?}"
    );
    // ... and the bridge read the camera clock again. The presses that rang since came through
    // authenticated pulls, which the simulator accepts only within MAX_CREATED_SKEW of its
    // clock: the offset now in use is about a day.
    assert!(
        after.action("GetSystemDateAndTime") > before.action("GetSystemDateAndTime"),
        "the camera clock was not measured again: {after:?}"
    );
    // The session recovered in place: same subscription, no offline in between.
    assert_eq!(
        after.subscriptions_created, before.subscriptions_created,
        "a new subscription was made: {after:?}"
    );
    let (_, seen) = rig.stop().await;
    let offline = seen
        .iter()
        .filter(|u| matches!(u, Update::Offline { .. }))
        .count();
    assert_eq!(offline, 1, "only the stop is an offline: {seen:#?}");
    // The new offset reached the clock-drift sensor mid-session, not only at the next connect.
    let day_ms = 86_400_000;
    assert!(
        seen.iter().any(|u| matches!(
            u,
            Update::ClockDrift { offset_ms, .. } if (offset_ms - day_ms).abs() < 60_000
        )),
        "the day's drift was not reported: {seen:#?}"
    );
}

#[tokio::test]
async fn wrong_password_is_a_clear_error_with_slow_retries() {
    let mut rig = rig(SimOptions::default(), "not-the-password").await;
    let reason = rig.offline().await;
    assert!(reason.contains("authentication rejected"), "{reason}");
    assert!(reason.contains("check the"), "no hint: {reason}");
    assert!(!reason.contains("not-the-password"), "secret in message");
    // A second attempt would be a request beyond the first cycle's: none comes soon.
    let before = rig.sim.stats().requests;
    let clock_reads = rig.sim.stats().action("GetSystemDateAndTime");
    let more = rig
        .sim
        .wait_for_requests(
            "GetSystemDateAndTime",
            clock_reads + 1,
            Duration::from_secs(3),
        )
        .await;
    assert!(!more, "retried fast after a rejected password");
    assert!(rig.sim.stats().requests <= before + 1);
    rig.stop().await;
}

#[tokio::test]
async fn an_outage_is_not_hammered() {
    let mut rig = rig(SimOptions::default(), "password").await;
    rig.online().await;
    // Every request during the outage reaches the simulator and is counted.
    rig.sim.set_fault(Fault::Http500);
    rig.offline().await;
    let before = rig.sim.stats().requests;
    let window = Duration::from_secs(8);
    let started = tokio::time::Instant::now();
    // Wait out the window by waiting for an impossible number of requests.
    rig.sim
        .wait_for_requests("GetSystemDateAndTime", u64::MAX, window)
        .await;
    let during = rig.sim.stats().requests - before;
    let secs = started.elapsed().as_secs_f64();
    assert!(
        (during as f64) <= secs + 1.0,
        "{during} requests in {secs:.1} s of outage"
    );
    rig.sim.set_fault(Fault::None);
    rig.online().await;
    rig.press_and_ring().await;
    rig.stop().await;
}

#[tokio::test]
async fn empty_answers_at_once_are_not_hammered() {
    let mut rig = rig(SimOptions::default(), "password").await;
    rig.online().await;
    rig.sim.set_fault(Fault::EmptyPolls);
    let before = rig.sim.stats().action("PullMessages");
    let started = tokio::time::Instant::now();
    rig.sim
        .wait_for_requests("PullMessages", u64::MAX, Duration::from_secs(4))
        .await;
    let pulls = rig.sim.stats().action("PullMessages") - before;
    let secs = started.elapsed().as_secs_f64();
    assert!((pulls as f64) <= secs + 1.0, "{pulls} pulls in {secs:.1} s");
    rig.sim.set_fault(Fault::None);
    rig.press_and_ring().await;
    rig.stop().await;
}

#[tokio::test]
async fn short_subscriptions_are_renewed() {
    let options = SimOptions {
        max_subscription: Duration::from_secs(3),
        ..SimOptions::default()
    };
    let mut rig = rig(options, "password").await;
    rig.online().await;
    assert!(
        rig.sim
            .wait_for_requests("Renew", 3, Duration::from_secs(15))
            .await,
        "no renewals: {:?}",
        rig.sim.stats()
    );
    rig.press_and_ring().await;
    let (sim, seen) = rig.stop().await;
    // Renewals kept the one subscription alive: no resubscribe happened.
    assert_eq!(sim.stats().subscriptions_created, 1, "{seen:#?}");
}

fn drift_ms(u: &Update) -> Option<i64> {
    match u {
        Update::ClockDrift { offset_ms, .. } => Some(*offset_ms),
        _ => None,
    }
}

#[tokio::test]
async fn digest_only_camera() {
    let options = SimOptions {
        wsse: false,
        http_digest: true,
        ..SimOptions::default()
    };
    let mut rig = rig(options, "password").await;
    rig.online().await;
    rig.press_and_ring().await;
    rig.stop().await;
}

#[tokio::test]
async fn a_camera_a_day_ahead_works_and_its_clock_is_left_alone() {
    let options = SimOptions {
        clock_offset: jiff::SignedDuration::from_hours(24),
        ..SimOptions::default()
    };
    let mut rig = rig(options, "password").await;
    let drift = rig.expect("clock drift", |u| drift_ms(u).is_some()).await;
    let ms = drift_ms(&drift).unwrap();
    assert!((ms - 86_400_000).abs() < 5_000, "{ms}");
    rig.online().await;
    rig.press_and_ring().await;
    let (sim, _) = rig.stop().await;
    assert_eq!(sim.stats().action("SetSystemDateAndTime"), 0);
}

/// A drifting camera is warned about once, not at every reconnect; again once it drifts after
/// having been right.
#[tokio::test]
async fn clock_drift_is_warned_about_once_per_episode() {
    const WARNING: &str = "camera clock is";
    let options = SimOptions {
        clock_offset: jiff::SignedDuration::from_hours(24),
        ..SimOptions::default()
    };
    let mut rig = rig(options, "password").await;
    let sessions = [true, true, false, true];
    for (i, drifting) in sessions.into_iter().enumerate() {
        let offset = if drifting { 24 } else { 0 };
        rig.sim
            .set_clock_offset(jiff::SignedDuration::from_hours(offset));
        if i > 0 {
            rig.sim.drop_subscriptions();
        }
        let drift = rig.expect("clock drift", |u| drift_ms(u).is_some()).await;
        let ms = drift_ms(&drift).unwrap();
        assert_eq!(ms.abs() > 60_000, drifting, "session {i}: {ms} ms");
        rig.online().await;
    }
    let logs = rig.logs.clone();
    rig.stop().await;
    assert_eq!(logs.count(WARNING), 2, "{}", logs.text());
}

#[tokio::test]
async fn set_clock_fixes_a_drifting_camera_when_asked() {
    let options = SimOptions {
        clock_offset: jiff::SignedDuration::from_hours(-3),
        ..SimOptions::default()
    };
    let sim = SimDoorbell::start(options).await.unwrap();
    let mut rig = start_with(sim, "password", "set_clock = true");
    let drift = rig.expect("clock drift", |u| drift_ms(u).is_some()).await;
    let ms = drift_ms(&drift).unwrap();
    assert!(ms.abs() < 2_000, "clock still {ms} ms off");
    rig.online().await;
    let (sim, _) = rig.stop().await;
    assert_eq!(sim.stats().action("SetSystemDateAndTime"), 1);
}
