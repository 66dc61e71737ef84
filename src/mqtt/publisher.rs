//! The publisher task: drains updates into the outbox, hands messages to rumqttc while
//! connected, answers connects and Home Assistant's birth, and delivers commands.
//!
//! It never awaits rumqttc: handing over is `try_publish` under the [`Link`] lock, bounded by
//! the outbox's in-flight window, so a broker outage never slows the cameras down.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::{AsyncClient, QoS, SubscribeFilter};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::cameras::{Cameras, Skipped};
use super::door::{self, DoorAction};
use super::link::{Link, Report};
use super::queue::{Class, Message, Outbox, Pushed};
use super::status::BridgeStatus;
use super::topics::Topics;
use super::{MAX_COMMAND_BYTES, ONLINE, PRESS, Tuning};
use crate::event::{CameraId, Command, DoorCommand, Update};

/// How many distinct ignored topics (or unknown cameras) are logged; later ones only at debug.
const MAX_LOGGED_ONCE: usize = 64;

/// What the publisher is made of.
pub struct Parts {
    /// Camera state and the messages updates turn into.
    pub cameras: Cameras,
    /// The topic layout.
    pub topics: Topics,
    /// rumqttc's handle.
    pub client: AsyncClient,
    /// Shared with the connection task.
    pub link: Arc<Link>,
    /// Commands for the app.
    pub commands: mpsc::Sender<(CameraId, Command)>,
    /// Health.
    pub status: BridgeStatus,
    /// Timing.
    pub tuning: Tuning,
    /// Capacity of the event queue.
    pub queue_size: usize,
}

/// The publisher task's state.
pub struct Publisher {
    parts: Parts,
    outbox: Outbox,
    /// The connection we have caught up with (`None`: disconnected).
    epoch: Option<u64>,
    /// When to answer Home Assistant's birth.
    announce_at: Option<Instant>,
    /// When the command topics were last subscribed (`None`: disconnected).
    subscribed_at: Option<Instant>,
    logged: HashSet<String>,
}

impl Publisher {
    /// A publisher with an empty outbox.
    pub fn new(parts: Parts) -> Self {
        let outbox = Outbox::new(parts.queue_size);
        Publisher {
            parts,
            outbox,
            epoch: None,
            announce_at: None,
            subscribed_at: None,
            logged: HashSet::new(),
        }
    }

    /// Runs until every update sender is dropped or `shutdown` fires, then publishes
    /// `offline`, disconnects and cancels `done` (the connection task's cue).
    pub async fn run(
        mut self,
        mut updates: mpsc::Receiver<Update>,
        mut reports: mpsc::Receiver<Report>,
        shutdown: CancellationToken,
        done: CancellationToken,
    ) {
        for m in self.parts.cameras.startup(0) {
            self.push(m);
        }
        loop {
            let announce_at = self.announce_at;
            tokio::select! {
                biased;
                () = shutdown.cancelled() => {
                    // Keep what the cameras already sent (their last `offline`s).
                    while let Ok(u) = updates.try_recv() {
                        self.on_update(u);
                    }
                    break;
                }
                r = reports.recv() => match r {
                    Some(r) => self.on_report(r),
                    None => {
                        warn!("the MQTT connection task ended early; stopping the publisher");
                        break;
                    }
                },
                u = updates.recv() => match u {
                    Some(u) => self.on_update(u),
                    None => break,
                },
                () = sleep_until(announce_at.unwrap_or_else(Instant::now)), if announce_at.is_some() => {
                    self.announce_at = None;
                    info!("Home Assistant started; announcing again");
                    self.outbox.requeue_retained();
                }
            }
            self.flush();
        }
        self.finish(&mut reports, done).await;
    }

    /// Publishes `offline` for every camera and the bridge, flushes within the shutdown
    /// deadline, sends DISCONNECT and tells the connection task.
    async fn finish(mut self, reports: &mut mpsc::Receiver<Report>, done: CancellationToken) {
        let deadline = Instant::now() + self.parts.tuning.shutdown_deadline;
        for m in self.parts.cameras.shutdown() {
            self.push(m);
        }
        loop {
            self.flush();
            if self.outbox.depth() == 0 || self.epoch.is_none() {
                break;
            }
            tokio::select! {
                r = reports.recv() => match r {
                    Some(r) => self.on_report(r),
                    None => break,
                },
                () = sleep_until(deadline) => break,
            }
        }
        let left = self.outbox.depth();
        if left > 0 {
            warn!("MQTT shutdown: {left} messages were not sent");
        }
        if let Some(epoch) = self.epoch {
            let client = &self.parts.client;
            let sent = self
                .parts
                .link
                .if_connected(epoch, || client.try_disconnect());
            if !matches!(sent, Some(Ok(()))) {
                debug!("no DISCONNECT sent; the broker publishes the Last Will");
            }
        }
        done.cancel();
    }

    fn push(&mut self, msg: Message) {
        if let Pushed::Overflowed { first } = self.outbox.push(msg) {
            if first {
                warn!(
                    "MQTT queue full ({} events) while the broker is unreachable; dropping the oldest non-ring events (see {})",
                    self.parts.queue_size,
                    self.parts.topics.bridge_dropped()
                );
            }
            let dropped = self.outbox.dropped().to_string();
            let topic = self.parts.topics.bridge_dropped();
            self.outbox
                .push(Message::new(topic, dropped, true, Class::Latest));
        }
    }

    /// Hands waiting messages to rumqttc while connected and the window has room.
    fn flush(&mut self) {
        if let Some(epoch) = self.epoch {
            let (link, client) = (&self.parts.link, &self.parts.client);
            self.outbox.hand(|m| {
                link.if_connected(epoch, || {
                    let payload = m.payload.clone();
                    client
                        .try_publish(m.topic.as_str(), QoS::AtLeastOnce, m.retain, payload)
                        .is_ok()
                })
                .unwrap_or(false)
            });
        }
        self.parts.status.set_queue(
            self.outbox.depth(),
            self.outbox.in_flight(),
            self.outbox.dropped(),
        );
    }

    fn on_update(&mut self, update: Update) {
        match self.parts.cameras.apply(update) {
            Ok(msgs) => msgs.into_iter().for_each(|m| self.push(m)),
            Err(skip @ Skipped::UnknownCamera(_)) => self.log_once(skip.to_string()),
            Err(skip) => warn!("{skip}"),
        }
    }

    fn on_report(&mut self, report: Report) {
        match report {
            Report::Connected { epoch } => {
                if self.epoch.is_some() {
                    self.outbox.connection_lost();
                }
                self.epoch = Some(epoch);
                self.subscribe(epoch);
                self.subscribed_at = Some(Instant::now());
                self.outbox.requeue_retained();
            }
            Report::Disconnected { epoch } if self.epoch == Some(epoch) => {
                self.epoch = None;
                self.subscribed_at = None;
                self.outbox.connection_lost();
            }
            Report::Sent { epoch, pkid } if self.epoch == Some(epoch) => self.outbox.sent(pkid),
            Report::Acked { epoch, pkid } if self.epoch == Some(epoch) => {
                if self.outbox.acked(pkid) {
                    self.parts.status.add_published(1);
                }
            }
            Report::Message {
                topic,
                payload,
                retain,
            } => self.on_message(&topic, &payload, retain),
            stale => debug!(?stale, "report about an old connection"),
        }
    }

    fn subscribe(&self, epoch: u64) {
        let filters: Vec<SubscribeFilter> = (self.parts.topics.subscriptions().iter())
            .map(|f| SubscribeFilter::new(f.as_str().to_owned(), QoS::AtLeastOnce))
            .collect();
        let client = &self.parts.client;
        let done = self
            .parts
            .link
            .if_connected(epoch, || client.try_subscribe_many(filters));
        if let Some(Err(e)) = done {
            warn!("cannot subscribe to the MQTT command topics: {e}");
        }
        // Door commands at QoS 0: no broker session keeps an open for us while we are away,
        // so none is replayed after a reconnect or a restart.
        let doors: Vec<SubscribeFilter> = (self.parts.topics)
            .door_subscriptions(self.parts.cameras.doors())
            .iter()
            .map(|f| SubscribeFilter::new(f.as_str().to_owned(), QoS::AtMostOnce))
            .collect();
        if doors.is_empty() {
            return;
        }
        let done = self
            .parts
            .link
            .if_connected(epoch, || client.try_subscribe_many(doors));
        if let Some(Err(e)) = done {
            warn!("cannot subscribe to the door command topics: {e}");
        }
    }

    fn on_message(&mut self, topic: &str, payload: &Bytes, retain: bool) {
        let topics = &self.parts.topics;
        if let Some(camera) = topics.parse_door_set(topic) {
            self.on_door(camera, payload, retain);
        } else if topic == topics.ha_status().as_str() {
            if payload.as_ref() == ONLINE.as_bytes() && self.announce_at.is_none() {
                self.announce_at = Some(Instant::now() + birth_delay(&self.parts.tuning));
            }
        } else if let Some(camera) = topics.parse_snapshot_set(topic) {
            self.on_command(topic, camera, payload);
        } else if topic == topics.bridge_cameras().as_str() {
            self.forget_removed(payload);
        } else {
            self.log_once(format!("ignoring an MQTT message on {topic:?}"));
        }
    }

    fn on_command(&mut self, topic: &str, camera: CameraId, payload: &Bytes) {
        let valid = payload.len() <= MAX_COMMAND_BYTES && payload.as_ref() == PRESS.as_bytes();
        if !valid || !self.parts.cameras.contains(&camera) {
            let shown = String::from_utf8_lossy(&payload[..payload.len().min(MAX_COMMAND_BYTES)]);
            self.log_once(format!(
                "ignoring {shown:?} on {topic:?}; the only command is {PRESS} for a configured camera"
            ));
            return;
        }
        match self
            .parts
            .commands
            .try_send((camera.clone(), Command::TakeSnapshot))
        {
            Ok(()) => debug!(%camera, "snapshot requested"),
            Err(mpsc::error::TrySendError::Full(_)) => {
                warn!(%camera, "too many commands waiting; snapshot request dropped")
            }
            Err(mpsc::error::TrySendError::Closed(_)) => debug!("nobody takes commands"),
        }
    }

    /// A door command: the facts go to the camera's door task, which judges them. A retained
    /// one is cleared from the broker (an empty retained message) so it is not found again.
    fn on_door(&mut self, camera: CameraId, payload: &Bytes, retain: bool) {
        if !self.parts.cameras.has_door(&camera) {
            self.log_once(format!(
                "ignoring a door command for {camera}: it has no relay enabled"
            ));
            return;
        }
        if payload.is_empty() {
            // Clearing a retained command (ours or someone's): nothing asked.
            return;
        }
        if retain {
            info!(%camera, "found a retained door command; clearing it (a retained command never opens the door)");
            let topic = self.parts.topics.door_set(&camera);
            self.push(Message::new(topic, Bytes::new(), true, Class::Event));
        }
        let code = match door::parse(payload) {
            Ok(DoorAction::Open(code)) => code,
            Ok(DoorAction::Lock) => {
                debug!(%camera, "LOCK asked; the door locks by itself");
                return;
            }
            Err(why) => {
                self.log_once(format!(
                    "ignoring a door command for {camera}: {why}; send OPEN"
                ));
                return;
            }
        };
        let since_subscribe = self.subscribed_at.map_or(Duration::ZERO, |at| at.elapsed());
        let command = DoorCommand {
            code,
            retained: retain,
            since_subscribe,
            received: std::time::Instant::now(),
        };
        match self
            .parts
            .commands
            .try_send((camera.clone(), Command::OpenDoor(command)))
        {
            Ok(()) => debug!(%camera, "door open requested"),
            Err(mpsc::error::TrySendError::Full(_)) => {
                warn!(%camera, "too many commands waiting; door open request dropped")
            }
            Err(mpsc::error::TrySendError::Closed(_)) => debug!("nobody takes commands"),
        }
    }

    /// Reads back the retained camera list and clears cameras no longer configured.
    fn forget_removed(&mut self, payload: &Bytes) {
        let Ok(ids) = serde_json::from_slice::<Vec<String>>(payload) else {
            self.log_once(format!(
                "{} holds no list of camera ids; ignored",
                self.parts.topics.bridge_cameras()
            ));
            return;
        };
        let removed: Vec<CameraId> = ids
            .iter()
            .filter_map(|id| CameraId::new(id).ok())
            .filter(|id| !self.parts.cameras.contains(id))
            .collect();
        for id in removed {
            info!(camera = %id, "no longer configured; removing it from Home Assistant");
            for m in self.parts.cameras.forget(&id) {
                self.push(m);
            }
        }
    }

    fn log_once(&mut self, message: String) {
        if self.logged.len() < MAX_LOGGED_ONCE && self.logged.insert(message.clone()) {
            warn!("{message}");
        } else {
            debug!("{message}");
        }
    }
}

/// A random pause up to `birth_delay_max`, so many bridges do not answer a birth at once.
fn birth_delay(tuning: &Tuning) -> Duration {
    let max = tuning.birth_delay_max.as_millis() as u64;
    // A failing OS random source only makes the delay predictable.
    let r = getrandom::u64().unwrap_or(0);
    Duration::from_millis(r.checked_rem(max + 1).unwrap_or(0))
}
