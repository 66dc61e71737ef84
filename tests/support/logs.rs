//! Log output collected in memory, so tests await a log line instead of sleeping.

#![allow(dead_code)] // each test binary uses a different part

use std::io::Write;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::bridge::WAIT;

/// Log output (and panic messages) collected in memory.
#[derive(Clone, Default)]
pub struct Capture {
    text: Arc<Mutex<String>>,
    changed: Arc<Notify>,
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.push(&String::from_utf8_lossy(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    pub fn push(&self, text: &str) {
        self.text.lock().unwrap().push_str(text);
        self.changed.notify_waiters();
    }

    pub fn text(&self) -> String {
        self.text.lock().unwrap().clone()
    }

    /// Waits until the log holds `needle` (a real signal: each write wakes us).
    pub async fn wait_for(&self, needle: &str) {
        let waiting = async {
            loop {
                let changed = self.changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                if self.text.lock().unwrap().contains(needle) {
                    return;
                }
                changed.await;
            }
        };
        tokio::time::timeout(WAIT, waiting)
            .await
            .unwrap_or_else(|_| panic!("no log line with {needle:?} within {WAIT:?}"));
    }

    /// A subscriber writing every event at `level` and above, without colours, into this
    /// capture; for `WithSubscriber::with_subscriber` on one task's future.
    pub fn dispatch(&self, level: tracing::Level) -> tracing::Dispatch {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::Dispatch::new(subscriber)
    }

    /// How many lines hold `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.text().lines().filter(|l| l.contains(needle)).count()
    }
}
