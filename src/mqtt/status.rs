//! [`BridgeStatus`]: a cheap, cloneable view of the bridge for `/healthz`, `/metrics` and
//! tests (which await a change instead of sleeping).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

#[derive(Debug)]
struct Inner {
    connected: AtomicBool,
    connects: AtomicU64,
    failures: AtomicU64,
    published: AtomicU64,
    dropped: AtomicU64,
    queue_depth: AtomicUsize,
    in_flight: AtomicUsize,
    last_error: Mutex<Option<String>>,
    retry_in: Mutex<Option<Duration>>,
    changed: watch::Sender<u64>,
}

/// Connection state and counters of a running bridge.
#[derive(Debug, Clone)]
pub struct BridgeStatus {
    inner: Arc<Inner>,
}

impl Default for BridgeStatus {
    fn default() -> Self {
        BridgeStatus {
            inner: Arc::new(Inner {
                connected: AtomicBool::new(false),
                connects: AtomicU64::new(0),
                failures: AtomicU64::new(0),
                published: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
                queue_depth: AtomicUsize::new(0),
                in_flight: AtomicUsize::new(0),
                last_error: Mutex::new(None),
                retry_in: Mutex::new(None),
                changed: watch::Sender::new(0),
            }),
        }
    }
}

fn read<T: Clone>(m: &Mutex<T>) -> T {
    m.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

fn write<T>(m: &Mutex<T>, value: T) {
    *m.lock().unwrap_or_else(|e| e.into_inner()) = value;
}

impl BridgeStatus {
    /// Whether the broker connection is up.
    pub fn is_connected(&self) -> bool {
        self.inner.connected.load(Ordering::Relaxed)
    }

    /// Successful connections (ConnAcks) since start; above 1 means reconnects.
    pub fn connects(&self) -> u64 {
        self.inner.connects.load(Ordering::Relaxed)
    }

    /// Reconnections: connects after the first.
    pub fn reconnects(&self) -> u64 {
        self.connects().saturating_sub(1)
    }

    /// Failed connection attempts and lost connections since start.
    pub fn failures(&self) -> u64 {
        self.inner.failures.load(Ordering::Relaxed)
    }

    /// Messages the broker acknowledged.
    pub fn published(&self) -> u64 {
        self.inner.published.load(Ordering::Relaxed)
    }

    /// Events dropped because the queue overflowed while the broker was unreachable.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// Messages waiting for the broker.
    pub fn queue_depth(&self) -> usize {
        self.inner.queue_depth.load(Ordering::Relaxed)
    }

    /// Messages written to the broker and not yet acknowledged by it.
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::Relaxed)
    }

    /// The last connection error, with its hint; cleared on connect.
    pub fn last_error(&self) -> Option<String> {
        read(&self.inner.last_error)
    }

    /// The pause before the next connection attempt, while disconnected.
    pub fn retry_in(&self) -> Option<Duration> {
        read(&self.inner.retry_in)
    }

    /// Waits until `ready(self)` holds; re-checked after every change.
    pub async fn wait_until(&self, ready: impl Fn(&BridgeStatus) -> bool) {
        let mut rx = self.inner.changed.subscribe();
        while !ready(self) {
            // The sender lives as long as `self`: `changed` cannot fail here.
            let _ = rx.changed().await;
        }
    }

    fn bump(&self) {
        self.inner.changed.send_modify(|n| *n += 1);
    }

    pub(super) fn set_connected(&self) {
        self.inner.connected.store(true, Ordering::Relaxed);
        self.inner.connects.fetch_add(1, Ordering::Relaxed);
        write(&self.inner.last_error, None);
        write(&self.inner.retry_in, None);
        self.bump();
    }

    pub(super) fn set_failed(&self, error: String, retry_in: Duration) {
        self.inner.connected.store(false, Ordering::Relaxed);
        self.inner.failures.fetch_add(1, Ordering::Relaxed);
        write(&self.inner.last_error, Some(error));
        write(&self.inner.retry_in, Some(retry_in));
        self.bump();
    }

    pub(super) fn set_disconnected(&self) {
        self.inner.connected.store(false, Ordering::Relaxed);
        self.bump();
    }

    pub(super) fn add_published(&self, n: u64) {
        self.inner.published.fetch_add(n, Ordering::Relaxed);
        self.bump();
    }

    pub(super) fn set_queue(&self, depth: usize, in_flight: usize, dropped: u64) {
        let before = self.inner.queue_depth.swap(depth, Ordering::Relaxed);
        let flying_before = self.inner.in_flight.swap(in_flight, Ordering::Relaxed);
        let dropped_before = self.inner.dropped.swap(dropped, Ordering::Relaxed);
        if before != depth || flying_before != in_flight || dropped_before != dropped {
            self.bump();
        }
    }
}
