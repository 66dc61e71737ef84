//! The outbox: everything waiting for the broker, and what rumqttc has but the broker has not
//! yet acknowledged. Pure (no IO, no clock), so the delivery rules are unit-tested.
//!
//! - Momentary messages (events, rings) wait in order in a bounded queue; on overflow the
//!   oldest non-ring message goes first (counted, warned once).
//! - Coalesced messages (retained states, discovery, snapshots) keep only the latest payload
//!   per topic and are re-queued on every connect and on Home Assistant's birth.
//! - rumqttc drops unacknowledged packets when a reconnect gets `session_present = false`
//!   (its `EventLoop::poll`), so momentary messages stay here until their PubAck and go back
//!   to the front of the queue, in order, when the connection is lost.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

use super::topics::Topic;

/// Messages handed to rumqttc and not yet acknowledged, at most. Below rumqttc's inflight
/// limit and its request channel capacity, so handing over never blocks and never collides.
pub const IN_FLIGHT_WINDOW: usize = 32;

/// How a message is kept while it waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Only the latest payload per topic matters (states, discovery, snapshots).
    Latest,
    /// Every message counts, in order (events, commands to clear a topic).
    Event,
    /// An event about a ring: dropped only when nothing else is left to drop.
    Ring,
}

/// One message to publish (always QoS 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Where.
    pub topic: Topic,
    /// What.
    pub payload: Bytes,
    /// Retained on the broker.
    pub retain: bool,
    /// How it waits.
    pub class: Class,
}

impl Message {
    /// A message.
    pub fn new(topic: Topic, payload: impl Into<Bytes>, retain: bool, class: Class) -> Self {
        Message {
            topic,
            payload: payload.into(),
            retain,
            class,
        }
    }
}

#[derive(Debug)]
enum Entry {
    Event { seq: u64, msg: Message },
    Latest { seq: u64, topic: Topic },
}

impl Entry {
    fn seq(&self) -> u64 {
        match self {
            Entry::Event { seq, .. } | Entry::Latest { seq, .. } => *seq,
        }
    }
}

#[derive(Debug)]
struct Latest {
    payload: Bytes,
    retain: bool,
    queued: bool,
}

/// What [`Outbox::push`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Queued.
    Queued,
    /// Queued, and an older message was dropped; `first` is true once per overflow episode
    /// (until the queue has drained), so the caller warns once.
    Overflowed {
        /// First drop since the queue last drained.
        first: bool,
    },
}

/// The outbox. See the module docs.
#[derive(Debug)]
pub struct Outbox {
    queue: VecDeque<Entry>,
    latest: HashMap<Topic, Latest>,
    order: Vec<Topic>,
    events: usize,
    capacity: usize,
    dropped: u64,
    overflowing: bool,
    seq: u64,
    handed: VecDeque<Entry>,
    awaiting: HashMap<u16, Entry>,
}

impl Outbox {
    /// An outbox holding at most `capacity` momentary messages (at least 1).
    pub fn new(capacity: usize) -> Self {
        Outbox {
            queue: VecDeque::new(),
            latest: HashMap::new(),
            order: Vec::new(),
            events: 0,
            capacity: capacity.max(1),
            dropped: 0,
            overflowing: false,
            seq: 0,
            handed: VecDeque::new(),
            awaiting: HashMap::new(),
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Adds a message.
    pub fn push(&mut self, msg: Message) -> Pushed {
        let seq = self.next_seq();
        if msg.class == Class::Latest {
            let entry = self.latest.entry(msg.topic.clone()).or_insert_with(|| {
                self.order.push(msg.topic.clone());
                Latest {
                    payload: Bytes::new(),
                    retain: msg.retain,
                    queued: false,
                }
            });
            entry.payload = msg.payload;
            entry.retain = msg.retain;
            if !entry.queued {
                entry.queued = true;
                self.queue.push_back(Entry::Latest {
                    seq,
                    topic: msg.topic,
                });
            }
            return Pushed::Queued;
        }
        self.queue.push_back(Entry::Event { seq, msg });
        self.events += 1;
        self.trim()
    }

    /// Drops momentary messages beyond the capacity, oldest non-ring first.
    fn trim(&mut self) -> Pushed {
        let mut result = Pushed::Queued;
        while self.events > self.capacity {
            let is_event = |e: &Entry| matches!(e, Entry::Event { .. });
            let victim = self
                .queue
                .iter()
                .position(|e| matches!(e, Entry::Event { msg, .. } if msg.class != Class::Ring))
                .or_else(|| self.queue.iter().position(is_event));
            let Some(i) = victim else { break };
            self.queue.remove(i);
            self.events -= 1;
            self.dropped += 1;
            result = Pushed::Overflowed {
                first: !self.overflowing,
            };
            self.overflowing = true;
        }
        result
    }

    /// Hands waiting messages to `send` in order while the in-flight window has room; stops
    /// at the first message `send` refuses (not connected, channel full). Returns how many
    /// went.
    pub fn hand(&mut self, mut send: impl FnMut(&Message) -> bool) -> usize {
        let mut count = 0;
        while self.in_flight() < IN_FLIGHT_WINDOW {
            let Some(front) = self.queue.front() else {
                break;
            };
            let msg = match front {
                Entry::Event { msg, .. } => msg.clone(),
                Entry::Latest { topic, .. } => {
                    let l = &self.latest[topic];
                    Message::new(topic.clone(), l.payload.clone(), l.retain, Class::Latest)
                }
            };
            if !send(&msg) {
                break;
            }
            let entry = self.queue.pop_front().expect("front was Some");
            match &entry {
                Entry::Event { .. } => self.events -= 1,
                Entry::Latest { topic, .. } => {
                    if let Some(l) = self.latest.get_mut(topic) {
                        l.queued = false;
                    }
                }
            }
            self.handed.push_back(entry);
            count += 1;
        }
        if self.events == 0 {
            self.overflowing = false;
        }
        count
    }

    /// rumqttc sent the oldest handed publish with packet id `pkid` (0 for QoS 0).
    pub fn sent(&mut self, pkid: u16) {
        if let Some(entry) = self.handed.pop_front()
            && pkid != 0
        {
            self.awaiting.insert(pkid, entry);
        }
    }

    /// The broker acknowledged `pkid`.
    pub fn acked(&mut self, pkid: u16) -> bool {
        self.awaiting.remove(&pkid).is_some()
    }

    /// The connection is gone: everything in flight goes back to the front of the queue in
    /// its original order (at-least-once: the broker may have had some already).
    pub fn connection_lost(&mut self) {
        let mut flights: Vec<Entry> = self.handed.drain(..).collect();
        flights.extend(self.awaiting.drain().map(|(_, e)| e));
        flights.sort_by_key(Entry::seq);
        for entry in flights.into_iter().rev() {
            match entry {
                Entry::Event { .. } => {
                    self.events += 1;
                    self.queue.push_front(entry);
                }
                Entry::Latest { ref topic, .. } => match self.latest.get_mut(topic) {
                    Some(l) if !l.queued => {
                        l.queued = true;
                        self.queue.push_front(entry);
                    }
                    _ => {}
                },
            }
        }
        self.trim();
    }

    /// Queues every retained coalesced topic again, ahead of waiting events, in the order
    /// they were first seen (after a connect or Home Assistant's birth).
    pub fn requeue_retained(&mut self) {
        let mut front = Vec::new();
        for topic in &self.order {
            let l = self
                .latest
                .get_mut(topic)
                .expect("order lists known topics");
            if l.retain && !l.queued {
                l.queued = true;
                front.push(topic.clone());
            }
        }
        for topic in front.into_iter().rev() {
            let seq = self.next_seq();
            self.queue.push_front(Entry::Latest { seq, topic });
        }
    }

    /// The latest payload kept for a coalesced topic.
    #[cfg(test)]
    pub fn latest(&self, topic: &Topic) -> Option<&Bytes> {
        self.latest.get(topic).map(|l| &l.payload)
    }

    /// Handed to rumqttc and not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        self.handed.len() + self.awaiting.len()
    }

    /// Messages waiting to be handed over.
    pub fn depth(&self) -> usize {
        self.queue.len()
    }

    /// Momentary messages dropped on overflow since the start.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Nothing waits and nothing is in flight.
    #[cfg(test)]
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty() && self.in_flight() == 0
    }
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
