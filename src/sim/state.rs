//! The simulated doorbell's shared state: clock, fault, sensors, subscriptions, Digest nonces,
//! counters. One `std::sync::Mutex`, never held across an `.await`.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use jiff::{SignedDuration, Timestamp};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::dahua::DahuaQuirks;
use super::door::{DoorSwitch, Relay};
use super::doorbird::Store;
use super::events::Subscription;
use super::hikvision::{Call, HikQuirks};
use super::listener::Ports;
use super::push::PullPointMode;
use super::vendor::{Burst, MAX_QUEUED_BURSTS};
use super::{Fault, SimOptions, SimStats};

/// How many HTTP Digest nonces are remembered (oldest forgotten first).
pub const MAX_DIGEST_NONCES: usize = 256;

/// The clock a camera without NTP shows after a reboot.
pub const REBOOT_CLOCK: Timestamp = Timestamp::constant(946_684_800, 0); // 2000-01-01T00:00:00Z

/// State shared by the handle and the server.
pub struct Shared {
    /// Start options (credentials, auth modes).
    pub options: SimOptions,
    /// Where the server listens (kept across Offline).
    pub addr: SocketAddr,
    inner: Mutex<Inner>,
    /// Woken whenever a subscription is created.
    pub subscribed: Notify,
    /// Woken whenever a request is counted.
    pub requested: Notify,
    /// The listening sockets and the Offline flag.
    ports: Mutex<Ports>,
    /// Wakes the accept loop when `ports` changed.
    pub ports_changed: Notify,
    /// Cancelled to close every open connection; replaced by a fresh token each time.
    connections: Mutex<CancellationToken>,
    /// Vendor event bursts to every open stream.
    pub vendor: tokio::sync::broadcast::Sender<Arc<Burst>>,
    /// The RTSP server's address, fault and counters.
    pub rtsp: super::rtsp::RtspShared,
}

/// Everything behind the lock.
pub struct Inner {
    /// Device clock = system clock + this.
    pub clock_offset: SignedDuration,
    /// What GetSystemDateAndTime reports as DateTimeType.
    pub ntp: bool,
    /// The active fault.
    pub fault: Fault,
    /// Live (and not yet swept) subscriptions by id.
    pub subscriptions: BTreeMap<u64, Subscription>,
    /// Next subscription id (never reused, not even after a reboot).
    pub next_id: u64,
    /// Issued HTTP Digest nonces.
    pub nonces: VecDeque<String>,
    /// Current motion state (for Initialized messages).
    pub motion: bool,
    /// Current person state.
    pub person: bool,
    /// Counters.
    pub stats: SimStats,
    /// What `/snapshot.jpg` serves instead of the built-in JPEG (a broken camera).
    pub snapshot: Option<Vec<u8>>,
    /// Quirks of the Dahua attach stream.
    pub dahua_quirks: DahuaQuirks,
    /// Quirks of the Hikvision alert stream.
    pub hik_quirks: HikQuirks,
    /// The door station's call.
    pub call: Call,
    /// Calls so far (the Dahua `CallID`).
    pub calls: u64,
    /// Vendor events posted so far (the Hikvision `activePostCount`).
    pub posts: u64,
    /// The DoorBird's favorites and schedule.
    pub doorbird: Store,
    /// What the PullPoint does.
    pub pull_point: PullPointMode,
    /// The ONVIF relay outputs.
    pub relays: Vec<Relay>,
    /// Every door and relay switch, oldest first (bounded).
    pub door_switches: Vec<DoorSwitch>,
}

impl Shared {
    /// Fresh state for `options`, serving from `ports` on `addr`.
    pub fn new(options: SimOptions, addr: SocketAddr, ports: Ports) -> Arc<Self> {
        let inner = Inner {
            clock_offset: options.clock_offset,
            ntp: options.clock_offset.is_zero(),
            fault: Fault::None,
            subscriptions: BTreeMap::new(),
            next_id: 1,
            nonces: VecDeque::new(),
            motion: false,
            person: false,
            stats: SimStats::default(),
            snapshot: None,
            dahua_quirks: DahuaQuirks::default(),
            hik_quirks: HikQuirks::default(),
            call: Call::default(),
            calls: 0,
            posts: 0,
            doorbird: Store::default(),
            pull_point: PullPointMode::Works,
            relays: super::door::relays(),
            door_switches: Vec::new(),
        };
        let (vendor, _) = tokio::sync::broadcast::channel(MAX_QUEUED_BURSTS);
        Arc::new(Shared {
            options,
            addr,
            inner: Mutex::new(inner),
            subscribed: Notify::new(),
            requested: Notify::new(),
            ports: Mutex::new(ports),
            ports_changed: Notify::new(),
            connections: Mutex::new(CancellationToken::new()),
            vendor,
            rtsp: super::rtsp::RtspShared::default(),
        })
    }

    /// Locks the state. A poisoned lock (a panic elsewhere) still holds consistent counters.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Locks the socket state.
    pub fn ports(&self) -> MutexGuard<'_, Ports> {
        self.ports
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The device clock now.
    pub fn now(&self) -> Timestamp {
        let offset = self.lock().clock_offset;
        device_time(offset)
    }

    /// The token a newly accepted connection watches.
    pub fn connection_token(&self) -> CancellationToken {
        self.connections
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Closes every open connection (a reboot or going offline).
    pub fn close_connections(&self) {
        let mut token = self.connections.lock().unwrap_or_else(|p| p.into_inner());
        token.cancel();
        *token = CancellationToken::new();
    }

    /// Counts one HTTP request, whatever its path or method.
    pub fn count_request(&self) {
        self.lock().stats.requests += 1;
    }

    /// Counts one request for `action`; returns the fault to apply.
    pub fn count(&self, action: &str) -> Fault {
        let mut inner = self.lock();
        *inner.stats.by_action.entry(action.to_string()).or_default() += 1;
        let fault = inner.fault.clone();
        drop(inner);
        self.requested.notify_waiters();
        fault
    }

    /// Counts one rejected credential.
    pub fn count_auth_failure(&self) {
        self.lock().stats.auth_failures += 1;
    }

    /// Issues and remembers a Digest nonce.
    pub fn issue_nonce(&self) -> String {
        let nonce = super::auth::new_nonce();
        let mut inner = self.lock();
        if inner.nonces.len() >= MAX_DIGEST_NONCES {
            inner.nonces.pop_front();
        }
        inner.nonces.push_back(nonce.clone());
        nonce
    }

    /// Whether `nonce` was issued (and not forgotten by a reboot).
    pub fn knows_nonce(&self, nonce: &str) -> bool {
        self.lock().nonces.iter().any(|n| n == nonce)
    }
}

impl Inner {
    /// The device clock now.
    pub fn now(&self) -> Timestamp {
        device_time(self.clock_offset)
    }
}

fn device_time(offset: SignedDuration) -> Timestamp {
    let now = Timestamp::now();
    now.checked_add(offset).unwrap_or(now)
}
