//! How the camera side comes back from reboots and outages, against the simulated doorbell:
//! how soon the next ring arrives once the camera answers again, how often an unreachable
//! camera is tried, presses queued during an outage, subscriptions left on the camera, and
//! availability that does not flap.
//!
//! The bridge reaches the simulator through a counting TCP forwarder on 127.0.0.2 (another
//! host than the simulator's advertised addresses, so every service call is rewritten to go
//! through it): every attempt at an unreachable camera is one accepted connection there. The
//! only sleeps are the outages themselves; every other wait is for an update or a counted
//! request.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use doorbell_bridge::camera::{OFFLINE_GRACE, Supervisor, client_for};
use doorbell_bridge::config;
use doorbell_bridge::event::{Kind, Update};
use doorbell_bridge::metrics::Metrics;
use doorbell_bridge::onvif::ClientOptions;
use doorbell_bridge::sim::{Fault, SimDoorbell, SimOptions};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(20);
/// The goal: the next ring reaches the bridge's output within this of the camera answering.
const RING_AFTER_RETURN: Duration = Duration::from_secs(3);
/// The goal: a camera that stays away is reported within this.
const REPORTED_WITHIN: Duration = Duration::from_secs(10);

/// A TCP forwarder that counts the connections made to it.
struct Forwarder {
    addr: SocketAddr,
    accepted: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Forwarder {
    async fn start(upstream: SocketAddr) -> Forwarder {
        let listener = TcpListener::bind("127.0.0.2:0")
            .await
            .expect("bind forwarder");
        let addr = listener.local_addr().expect("forwarder address");
        let accepted = Arc::new(AtomicU64::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    // A refused upstream closes the client's connection: a transport error.
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Forwarder {
            addr,
            accepted,
            task,
        }
    }

    fn connections(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Rig {
    sim: SimDoorbell,
    forwarder: Forwarder,
    updates: mpsc::Receiver<Update>,
    seen: Vec<Update>,
    token: CancellationToken,
    task: JoinHandle<()>,
}

/// A camera behind the forwarder, with a backoff cap long enough that only probing brings
/// it back quickly.
async fn rig(options: SimOptions) -> Rig {
    let sim = SimDoorbell::start(options).await.expect("simulator starts");
    let forwarder = Forwarder::start(sim.addr()).await;
    let toml = format!(
        r#"[[cameras]]
id = "front_door"
url = "http://{}/onvif/device_service"
username = "admin"
password = "password"
pull_timeout = "1s"
max_backoff = "60s"
"#,
        forwarder.addr
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
    Rig {
        sim,
        forwarder,
        updates,
        seen: Vec::new(),
        token,
        task: tokio::spawn(sup.run()),
    }
}

impl Rig {
    /// The next update matching `want` within `within`; panics with what was seen otherwise.
    async fn expect_within(
        &mut self,
        within: Duration,
        what: &str,
        want: impl Fn(&Update) -> bool,
    ) -> Update {
        let deadline = Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.updates.recv()).await {
                Ok(Some(u)) => {
                    self.seen.push(u.clone());
                    if want(&u) {
                        return u;
                    }
                }
                Ok(None) => panic!("supervisor ended while waiting for {what}"),
                Err(_) => panic!("no {what} within {within:?}; saw {:#?}", self.seen),
            }
        }
    }

    async fn expect(&mut self, what: &str, want: impl Fn(&Update) -> bool) -> Update {
        self.expect_within(WAIT, what, want).await
    }

    async fn online(&mut self) {
        self.expect("online", |u| matches!(u, Update::Online { .. }))
            .await;
    }

    /// Online, and the first PullMessages of the session is being held.
    async fn pulling(&mut self) {
        self.online().await;
        let pulls = self.sim.stats().action("PullMessages");
        assert!(
            self.sim
                .wait_for_requests("PullMessages", pulls + 1, WAIT)
                .await,
            "no PullMessages: {:?}",
            self.sim.stats()
        );
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

fn is_ring(u: &Update) -> bool {
    matches!(u, Update::Event(e) if e.kind == Kind::Ring && e.trigger && e.active)
}

fn is_offline(u: &Update) -> bool {
    matches!(u, Update::Offline { .. })
}

/// A reboot that keeps the camera off the network for `downtime`: the next ring after it
/// answers again arrives within [`RING_AFTER_RETURN`], and while it is away it is tried at
/// most every other second. Prints the figures for docs/performance.md.
async fn rings_soon_after_a_reboot_of(downtime: Duration) {
    let mut rig = rig(SimOptions::default()).await;
    rig.pulling().await;
    // Off the network first, then the reboot: no reconnect can slip in between.
    rig.sim.set_fault(Fault::Offline);
    rig.sim.reboot();
    let before = rig.forwarder.connections();
    // The outage itself: nothing to wait for but time.
    tokio::time::sleep(downtime).await;
    let attempts = rig.forwarder.connections() - before;
    rig.sim.set_fault(Fault::None);
    let back = Instant::now();
    assert!(
        rig.sim.wait_for_subscription(WAIT).await,
        "never subscribed again"
    );
    rig.sim.press();
    rig.expect("the ring after the reboot", is_ring).await;
    let ring_after = back.elapsed();
    let per_second = attempts as f64 / downtime.as_secs_f64();
    eprintln!(
        "reboot of {downtime:?}: next ring {:.2} s after the camera answered; {attempts} attempts while away ({per_second:.2}/s)",
        ring_after.as_secs_f64()
    );
    assert!(
        ring_after <= RING_AFTER_RETURN,
        "the ring came {ring_after:?} after the camera was back"
    );
    // 0.5 attempts per second, plus the one re-poll allowed for a closed long poll.
    let allowed = downtime.as_secs_f64() * 0.5 + 2.0;
    assert!(
        attempts as f64 <= allowed,
        "{attempts} attempts in {downtime:?} of outage"
    );
    let (sim, _) = rig.stop().await;
    // The reboot forgot the old subscription; the new one was unsubscribed at the end.
    assert_eq!(sim.stats().live_subscriptions, 0, "{:?}", sim.stats());
}

#[tokio::test]
async fn a_camera_back_from_a_10_s_reboot_rings_within_3_s_and_is_probed_gently() {
    rings_soon_after_a_reboot_of(Duration::from_secs(10)).await;
}

#[tokio::test]
async fn a_camera_back_from_a_2_min_reboot_rings_within_3_s_and_is_probed_gently() {
    rings_soon_after_a_reboot_of(Duration::from_secs(120)).await;
}

#[tokio::test]
async fn a_press_during_a_short_outage_is_delivered_after_it_on_the_same_subscription() {
    let mut rig = rig(SimOptions::default()).await;
    rig.pulling().await;
    rig.sim.set_fault(Fault::Offline);
    // The camera keeps its subscription and queues the press while it is off the network.
    rig.sim.press();
    tokio::time::sleep(Duration::from_secs(3)).await;
    rig.sim.set_fault(Fault::None);
    rig.expect("the press made during the outage", is_ring)
        .await;
    let stats = rig.sim.stats();
    assert_eq!(stats.subscriptions_created, 1, "{stats:?}");
    assert_eq!(stats.live_subscriptions, 1, "{stats:?}");
    // And the session goes on.
    rig.sim.press();
    rig.expect("the next press", is_ring).await;
    let (sim, _) = rig.stop().await;
    assert_eq!(sim.stats().live_subscriptions, 0, "{:?}", sim.stats());
}

/// A camera whose web server answers errors for a while (HTTP 500 with a Receiver fault, or
/// garbage) still holds the subscription and queues presses on it: the bridge resumes that
/// subscription instead of leaving the press behind on it.
#[tokio::test]
async fn a_press_during_server_errors_is_delivered_after_them_on_the_same_subscription() {
    for fault in [Fault::Http500, Fault::Garbage] {
        let mut rig = rig(SimOptions::default()).await;
        rig.pulling().await;
        let clock = |rig: &Rig| rig.sim.stats().action("GetSystemDateAndTime");
        let before = clock(&rig);
        rig.sim.set_fault(fault.clone());
        // The bridge has met the fault: its session ended and a new start was refused.
        assert!(
            rig.sim
                .wait_for_requests("GetSystemDateAndTime", before + 1, WAIT)
                .await,
            "{fault:?}: the bridge never tried again"
        );
        rig.sim.press();
        // And once more with the press queued.
        assert!(
            rig.sim
                .wait_for_requests("GetSystemDateAndTime", before + 2, WAIT)
                .await,
            "{fault:?}: no retry"
        );
        rig.sim.set_fault(Fault::None);
        rig.expect("the press made during the server errors", is_ring)
            .await;
        let stats = rig.sim.stats();
        assert_eq!(stats.subscriptions_created, 1, "{fault:?}: {stats:?}");
        assert_eq!(stats.live_subscriptions, 1, "{fault:?}: {stats:?}");
        rig.stop().await;
    }
}

#[tokio::test]
async fn a_short_reconnect_does_not_flap_availability() {
    let mut rig = rig(SimOptions::default()).await;
    rig.pulling().await;
    rig.sim.set_fault(Fault::Offline);
    // Shorter than the grace, even with a probe interval on top.
    tokio::time::sleep(Duration::from_secs(1)).await;
    rig.sim.set_fault(Fault::None);
    rig.expect("online again", |u| matches!(u, Update::Online { .. }))
        .await;
    rig.sim.press();
    rig.expect("a ring", is_ring).await;
    // A lost subscription (the camera answers, but forgot it) does not flap either.
    rig.sim.drop_subscriptions();
    rig.expect("online again", |u| matches!(u, Update::Online { .. }))
        .await;
    rig.sim.press();
    rig.expect("a ring", is_ring).await;
    assert!(!rig.seen.iter().any(is_offline), "{:#?}", rig.seen);
    rig.stop().await;
}

#[tokio::test]
async fn a_camera_that_stays_away_is_reported_offline_within_10_s() {
    let mut rig = rig(SimOptions::default()).await;
    rig.pulling().await;
    rig.sim.set_fault(Fault::Offline);
    let away = Instant::now();
    let update = rig
        .expect_within(REPORTED_WITHIN, "offline", is_offline)
        .await;
    let Update::Offline { reason, .. } = update else {
        unreachable!()
    };
    // Not before the grace: a short reconnect would have been reported.
    assert!(
        away.elapsed() >= OFFLINE_GRACE,
        "reported after {:?}",
        away.elapsed()
    );
    assert!(
        reason.starts_with("pullpoint: "),
        "the source is named: {reason}"
    );
    assert!(reason.contains("check the address"), "{reason}");
    // The event-sources diagnostic named the source that went down.
    assert!(
        rig.seen
            .iter()
            .any(|u| matches!(u, Update::Sources { down, .. } if down.starts_with("pullpoint: "))),
        "{:#?}",
        rig.seen
    );
    rig.sim.set_fault(Fault::None);
    rig.online().await;
    rig.sim.press();
    rig.expect("a ring", is_ring).await;
    // And says so again once it delivers.
    let went = rig.seen.iter().position(is_offline).expect("offline seen");
    assert!(
        rig.seen[went..]
            .iter()
            .any(|u| matches!(u, Update::Sources { down, .. } if down.is_empty())),
        "{:#?}",
        rig.seen
    );
    rig.stop().await;
}

#[tokio::test]
async fn online_comes_before_the_first_event_of_a_new_session() {
    let mut rig = rig(SimOptions::default()).await;
    rig.pulling().await;
    // Stays away past the grace: offline, then a new session after the reboot.
    rig.sim.set_fault(Fault::Offline);
    rig.sim.reboot();
    rig.expect("offline", is_offline).await;
    let from = rig.seen.len();
    rig.sim.set_fault(Fault::None);
    // The new subscription's Initialized doorbell state is the session's first event.
    rig.expect(
        "the initialized state",
        |u| matches!(u, Update::Event(e) if e.kind == Kind::Ring),
    )
    .await;
    let session = &rig.seen[from..];
    let online = session
        .iter()
        .position(|u| matches!(u, Update::Online { .. }));
    let event = session.iter().position(|u| matches!(u, Update::Event(_)));
    assert!(
        online.is_some() && online < event,
        "online must come first: {session:#?}"
    );
    rig.stop().await;
}
