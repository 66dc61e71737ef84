//! A simulated ONVIF doorbell: real SOAP over HTTP on a local port, for the tests and for
//! `doorbell-bridge demo`.
//!
//! It speaks to any conforming ONVIF client: SOAP 1.2 (and 1.1), WS-Security UsernameToken
//! digests checked against its own (skewable) clock, optional HTTP Digest, PullPoint
//! subscriptions with a real long poll, Reolink-shaped doorbell, motion and person
//! notifications, and a JPEG snapshot behind HTTP Digest. [`SimDoorbell`] is the control
//! handle: press the button, inject raw messages, inject faults (offline, slow, HTTP 500,
//! garbage, empty polls), reboot, skew the clock, read counters.
//!
//! # Wire contract
//!
//! - Paths: `/onvif/device_service`, `/onvif/media_service` (ver10), `/onvif/media2_service`
//!   (ver20), `/onvif/event_service`, subscriptions at `/onvif/subscription/{id}`, snapshot
//!   `GET /snapshot.jpg`.
//! - Subscription reference: `wsa:Address` plus `wsa:ReferenceParameters` holding
//!   `<dd:SubscriptionId xmlns:dd="urn:doorbell-bridge:sim">{id}</dd:SubscriptionId>`; a
//!   subscription request is routed by its path, or (at `/onvif/event_service`) by that
//!   element echoed in the SOAP header.
//! - Authentication failure (WS-Security): SOAP fault `env:Sender` / `ter:NotAuthorized` with
//!   HTTP 400, the SOAP 1.2 HTTP binding's status for Sender faults (SOAP 1.1 requests get
//!   500). HTTP Digest failure: 401 with a `WWW-Authenticate: Digest` challenge.
//! - Unknown or expired subscription: `env:Sender` / `wsrf-r:ResourceUnknownFault`
//!   (`http://docs.oasis-open.org/wsrf/r-2`), HTTP 400.
//! - Only GetSystemDateAndTime works without credentials. WS-Security accepts only
//!   PasswordDigest, with `wsu:Created` within [`MAX_CREATED_SKEW`] of the device clock.
//! - HTTP Digest: realm `doorbell-bridge-sim`, MD5, `qop=auth`; the uri field must be the
//!   request target; a nonce from before a reboot gets a new challenge with `stale=true`.
//! - Responses use the request's SOAP version. CreatePullPointSubscription ignores `Filter`
//!   (every topic is delivered), defaults to 60 s, caps lifetimes at 1 h and allows
//!   [`MAX_SUBSCRIPTIONS`] at once (`wsnt:SubscribeCreationFailedFault` beyond). PullMessages
//!   caps Timeout at [`MAX_PULL_TIMEOUT`]; Renew answers the new TerminationTime.
//! - Operations answer only at their own service path (else `ter:ActionNotSupported`).
//! - WS-Discovery: a UDP responder on the same IP ([`SimDoorbell::discovery_addr`]) answers
//!   directed Probes with a ProbeMatch named "Simulated Doorbell".

pub mod auth;
mod device;
mod discovery;
mod events;
mod http;
mod jpeg;
mod listener;
mod media;
mod messages;
mod service;
mod soap;
mod state;
mod xsd;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::SignedDuration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use self::messages::Operation;
use self::service::not_supported;
use self::state::{REBOOT_CLOCK, Shared};

pub use self::auth::{MAX_CREATED_SKEW, password_digest};
pub use self::discovery::NAME as DISCOVERY_NAME;
pub use self::events::{MAX_PULL_TIMEOUT, MAX_QUEUED_MESSAGES, MAX_SUBSCRIPTIONS};
pub use self::http::MAX_REQUEST_BYTES;
pub use self::jpeg::SNAPSHOT;

/// How long [`SimDoorbell::shutdown`] waits for the server task.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);

/// How the simulated doorbell starts.
#[derive(Clone)]
pub struct SimOptions {
    /// The one ONVIF account's user name.
    pub username: String,
    /// Its password.
    pub password: String,
    /// Require HTTP Digest on SOAP requests too (the snapshot always requires it).
    pub http_digest: bool,
    /// Require a WS-Security UsernameToken (PasswordDigest) on SOAP requests.
    pub wsse: bool,
    /// Device clock minus system clock at start.
    pub clock_offset: SignedDuration,
    /// Longest subscription lifetime granted (shorter than asked for, like some cameras), so
    /// tests see renewals within seconds.
    pub max_subscription: Duration,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            username: "admin".to_string(),
            password: "password".to_string(),
            http_digest: false,
            wsse: true,
            clock_offset: SignedDuration::ZERO,
            max_subscription: events::MAX_TERMINATION,
        }
    }
}

impl fmt::Debug for SimOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimOptions")
            .field("username", &self.username)
            .field("password", &"***")
            .field("http_digest", &self.http_digest)
            .field("wsse", &self.wsse)
            .field("clock_offset", &self.clock_offset)
            .finish()
    }
}

/// An injected misbehaviour.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Fault {
    /// Behave.
    #[default]
    None,
    /// Connections refused (listener closed) and open ones closed; back on the same port when
    /// the fault changes.
    Offline,
    /// Every response delayed by this much.
    Slow(Duration),
    /// Every request answered with HTTP 500 and a SOAP Receiver fault.
    Http500,
    /// Every request answered with HTTP 200 and bytes that are not XML.
    Garbage,
    /// PullMessages answers at once with no messages (a camera that does not hold the long
    /// poll); the messages stay queued.
    EmptyPolls,
}

/// Counters, read with [`SimDoorbell::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Every HTTP request received, whatever its path (none while Offline).
    pub requests: u64,
    /// Requests per action: the SOAP operation's local name (`PullMessages`), `snapshot`, or
    /// `(invalid)` for a body that is not a SOAP envelope.
    pub by_action: BTreeMap<String, u64>,
    /// Subscriptions alive when the stats were taken.
    pub live_subscriptions: usize,
    /// Subscriptions ever created.
    pub subscriptions_created: u64,
    /// Successful Renew calls.
    pub renewed: u64,
    /// Successful Unsubscribe calls.
    pub unsubscribed: u64,
    /// Rejected credentials: a missing or wrong UsernameToken, wrong Digest credentials (not
    /// the first 401 challenge of a request that sent none).
    pub auth_failures: u64,
    /// Snapshots served.
    pub snapshots: u64,
}

impl SimStats {
    /// Requests counted for `action`.
    pub fn action(&self, action: &str) -> u64 {
        self.by_action.get(action).copied().unwrap_or(0)
    }
}

/// Control handle of a running simulated doorbell. Cheap to clone; the server stops with
/// [`SimDoorbell::shutdown`] or when the runtime ends.
#[derive(Clone)]
pub struct SimDoorbell {
    shared: Arc<Shared>,
    discovery: SocketAddr,
    stop: CancellationToken,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl fmt::Debug for SimDoorbell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimDoorbell")
            .field("addr", &self.shared.addr)
            .finish_non_exhaustive()
    }
}

impl SimDoorbell {
    /// Starts a simulated doorbell on `127.0.0.1:0` (a free port).
    pub async fn start(options: SimOptions) -> std::io::Result<SimDoorbell> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), options).await
    }

    /// Starts a simulated doorbell on `addr`.
    pub async fn start_on(addr: SocketAddr, options: SimOptions) -> std::io::Result<SimDoorbell> {
        let listener = listener::bind(addr)?;
        let addr = listener.local_addr()?;
        let shared = Shared::new(options, addr, listener::Ports::new(listener));
        let stop = CancellationToken::new();
        let server = axum::serve(
            listener::SimListener::new(shared.clone()),
            http::router(shared.clone()),
        )
        .with_graceful_shutdown(stop.clone().cancelled_owned());
        let udp = discovery::bind(addr).await?;
        let discovery = udp.local_addr()?;
        let responder = discovery::respond(
            udp,
            format!("http://{addr}/onvif/device_service"),
            format!("urn:uuid:{}", uuid::Uuid::new_v4()),
            stop.clone(),
        );
        let task = tokio::spawn(async move {
            // Serving only ends at shutdown; accept errors are retried inside the listener.
            let (_, ()) = tokio::join!(server.into_future(), responder);
        });
        Ok(SimDoorbell {
            shared,
            discovery,
            stop,
            task: Arc::new(Mutex::new(Some(task))),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The UDP address its WS-Discovery responder answers directed probes on (name scope
    /// "Simulated Doorbell", XAddrs the device service URL).
    pub fn discovery_addr(&self) -> SocketAddr {
        self.discovery
    }

    /// The device service URL, `http://127.0.0.1:PORT/onvif/device_service`.
    pub fn device_url(&self) -> url::Url {
        let text = format!("http://{}/onvif/device_service", self.shared.addr);
        url::Url::parse(&text).expect("a socket address always makes a valid URL")
    }

    /// Presses the doorbell button: Visitor `State` true, then false (both Changed). Returns
    /// the `UtcTime` both messages carry, as sent (the bridge publishes it as `camera_time`),
    /// so a caller can tell its presses apart in what the bridge publishes.
    pub fn press(&self) -> String {
        let mut inner = self.shared.lock();
        let now = inner.now();
        events::broadcast(
            &mut inner,
            &messages::visitor(true, Operation::Changed, now),
        );
        events::broadcast(
            &mut inner,
            &messages::visitor(false, Operation::Changed, now),
        );
        xsd::format_precise(now)
    }

    /// Sets the motion state (`CellMotionDetector/Motion`, `IsMotion`), Changed.
    pub fn set_motion(&self, on: bool) {
        let mut inner = self.shared.lock();
        inner.motion = on;
        let message = messages::motion(on, Operation::Changed, inner.now());
        events::broadcast(&mut inner, &message);
    }

    /// Sets the person state (`MyRuleDetector/PeopleDetect`, `State`), Changed.
    pub fn set_person(&self, on: bool) {
        let mut inner = self.shared.lock();
        inner.person = on;
        let message = messages::person(on, Operation::Changed, inner.now());
        events::broadcast(&mut inner, &message);
    }

    /// Queues a raw `<wsnt:NotificationMessage>` element (with its own namespace declarations)
    /// verbatim on every live subscription.
    pub fn inject(&self, notification_message_xml: &str) {
        events::broadcast(&mut self.shared.lock(), notification_message_xml);
    }

    /// Sets the injected fault ([`Fault::None`] to behave again).
    pub fn set_fault(&self, fault: Fault) {
        let offline = fault == Fault::Offline;
        self.shared.lock().fault = fault;
        listener::set_offline(&self.shared, offline);
    }

    /// Drops every subscription (as a camera that lost them); pollers get the unknown fault.
    pub fn drop_subscriptions(&self) {
        events::drop_all(&mut self.shared.lock());
    }

    /// Reboots: subscriptions and Digest nonces forgotten, open connections closed, the clock
    /// back at 2000-01-01T00:00:00Z (a camera without NTP).
    pub fn reboot(&self) {
        {
            let mut inner = self.shared.lock();
            events::drop_all(&mut inner);
            inner.nonces.clear();
            inner.clock_offset = REBOOT_CLOCK.duration_since(jiff::Timestamp::now());
            inner.ntp = false;
        }
        self.shared.close_connections();
    }

    /// Sets the device clock to system clock + `offset`.
    pub fn set_clock_offset(&self, offset: SignedDuration) {
        self.shared.lock().clock_offset = offset;
    }

    /// Serves `body` at the snapshot URI instead of the built-in JPEG (`None` restores it):
    /// an HTML error page, a huge picture, whatever a broken camera sends.
    pub fn set_snapshot(&self, body: Option<Vec<u8>>) {
        self.shared.lock().snapshot = body;
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> SimStats {
        let mut inner = self.shared.lock();
        events::sweep(&mut inner);
        let mut stats = inner.stats.clone();
        stats.live_subscriptions = inner.subscriptions.len();
        stats
    }

    /// Resolves `true` as soon as a live subscription exists, `false` after `timeout`.
    pub async fn wait_for_subscription(&self, timeout: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.shared.subscribed.notified();
                if self.stats().live_subscriptions > 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }

    /// Resolves `true` once at least `count` requests for `action` (as in
    /// [`SimStats::by_action`]) have arrived, `false` after `timeout`. Lets a test act while a
    /// long poll is held, without sleeping.
    pub async fn wait_for_requests(&self, action: &str, count: u64, timeout: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.shared.requested.notified();
                if self.shared.lock().stats.action(action) >= count {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }

    /// Stops the server: no new connections, open ones closed, the task awaited (at most
    /// [`SHUTDOWN_TIMEOUT`]).
    pub async fn shutdown(self) {
        self.stop.cancel();
        self.shared.close_connections();
        listener::release(&self.shared);
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut task) = task
            && tokio::time::timeout(SHUTDOWN_TIMEOUT, &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}
