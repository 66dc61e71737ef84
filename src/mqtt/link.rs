//! The seam between the connection task and the publisher.
//!
//! [`Link`] says whether rumqttc is connected, and in which connection ("epoch"). The
//! publisher hands a message to rumqttc only under its lock and only in the epoch it has
//! caught up with; the connection task flips it to disconnected and drains rumqttc's request
//! channel under the same lock. So nothing handed over for one connection can be sent on the
//! next one ahead of the messages the publisher re-queues (rumqttc would otherwise send
//! requests left in its channel first after a reconnect).

use std::sync::Mutex;

use bytes::Bytes;

/// What the connection task reports to the publisher, in order.
#[derive(Debug)]
pub enum Report {
    /// ConnAck received: connection `epoch` is up.
    Connected {
        /// Which connection.
        epoch: u64,
    },
    /// Connection `epoch` is gone; nothing handed over in it will be sent.
    Disconnected {
        /// Which connection.
        epoch: u64,
    },
    /// rumqttc wrote the oldest handed-over publish with this packet id.
    Sent {
        /// Which connection.
        epoch: u64,
        /// Packet id (0 for QoS 0).
        pkid: u16,
    },
    /// The broker acknowledged a QoS 1 publish.
    Acked {
        /// Which connection.
        epoch: u64,
        /// Packet id.
        pkid: u16,
    },
    /// A message on one of our subscriptions (payload size already bounded).
    Message {
        /// Its topic.
        topic: String,
        /// Its payload.
        payload: Bytes,
        /// Delivered with the retain flag: a message the broker kept, not one just sent.
        retain: bool,
    },
}

#[derive(Debug, Default)]
struct State {
    connected: bool,
    epoch: u64,
}

/// Connection state shared by the two tasks. See the module docs.
#[derive(Debug, Default)]
pub struct Link {
    state: Mutex<State>,
}

impl Link {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere; the two fields stay consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks a new connection up and returns its epoch.
    pub fn connected(&self) -> u64 {
        let mut s = self.lock();
        s.epoch += 1;
        s.connected = true;
        s.epoch
    }

    /// Marks the connection down and runs `drain` (rumqttc's `clean`) under the lock.
    /// Returns the epoch that ended, if one was up.
    pub fn disconnected(&self, drain: impl FnOnce()) -> Option<u64> {
        let mut s = self.lock();
        let was = s.connected.then_some(s.epoch);
        s.connected = false;
        drain();
        was
    }

    /// Runs `hand` under the lock if connection `epoch` is still up; `None` otherwise.
    pub fn if_connected<R>(&self, epoch: u64, hand: impl FnOnce() -> R) -> Option<R> {
        let s = self.lock();
        (s.connected && s.epoch == epoch).then(hand)
    }

    /// Whether some connection is up.
    pub fn is_connected(&self) -> bool {
        self.lock().connected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handing_over_needs_the_current_connection() {
        let link = Link::default();
        assert_eq!(link.if_connected(0, || ()), None);
        let first = link.connected();
        assert_eq!(link.if_connected(first, || 1), Some(1));
        let mut drained = false;
        assert_eq!(link.disconnected(|| drained = true), Some(first));
        assert!(drained);
        assert_eq!(link.if_connected(first, || 1), None);
        assert_eq!(link.disconnected(|| ()), None, "already down");
        let second = link.connected();
        assert_eq!(link.if_connected(first, || 1), None, "stale epoch");
        assert_eq!(link.if_connected(second, || 2), Some(2));
    }
}
