//! Opening a camera's door: one [`DoorTask`] per camera with `[cameras.relay]` enabled.
//!
//! The MQTT side turns a message on `<base>/<camera>/door/set` into an
//! [`crate::event::DoorCommand`] (the facts: code, retain flag, time since subscribe, arrival)
//! and the app router hands it to this camera's task. The task judges it ([`policy`]: every
//! rule, pure), opens through the camera's API ([`relay`]), and reports every request,
//! accepted or refused, as an `Update::Door` (the `door` event), a log line at info and a
//! snapshot with reason `door`. After a successful open it waits `pulse`, switches a bistable
//! ONVIF relay back, and sends `Update::DoorLocked`. It never queues an open: a command is
//! judged when it arrives and then forgotten. At shutdown a relay still active is switched
//! back first.

pub mod policy;
pub mod relay;

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::{Api, CameraConfig, RelayApi, RelayConfig};
use crate::event::{DoorCommand, DoorOutcome, DoorReport, SnapshotReason, Update};
use crate::onvif::Client;
use crate::snapshot::Trigger;

pub use policy::{Policy, Rules};

/// Commands waiting for a door task; beyond it they are refused by the router (never queued
/// long: [`policy::MAX_COMMAND_AGE`] refuses what waited).
pub const DOOR_QUEUE: usize = 4;
/// Attempts to switch a bistable relay back before giving up (with a warning).
pub const MAX_RELEASE_ATTEMPTS: u32 = 5;
/// Pause between those attempts.
pub const RELEASE_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// What the door task needs to know about its camera, from the camera's task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CameraLink {
    /// The camera is online (its press source is up, or within the offline grace).
    pub online: bool,
    /// The API in use (`auto` until the device named its maker).
    pub api: Api,
}

/// The door task of one camera.
pub struct DoorTask {
    camera: Arc<CameraConfig>,
    relay: RelayConfig,
    client: Client,
    updates: mpsc::Sender<Update>,
    snapshots: Option<mpsc::Sender<Trigger>>,
    link: watch::Receiver<CameraLink>,
    policy: Policy,
}

impl DoorTask {
    /// The task for `camera` (whose relay is enabled), reporting on `updates`.
    pub fn new(
        camera: Arc<CameraConfig>,
        relay: RelayConfig,
        client: Client,
        updates: mpsc::Sender<Update>,
        snapshots: Option<mpsc::Sender<Trigger>>,
        link: watch::Receiver<CameraLink>,
        rules: Rules,
    ) -> Self {
        DoorTask {
            camera,
            relay,
            client,
            updates,
            snapshots,
            link,
            policy: Policy::new(rules),
        }
    }

    /// Judges and carries out commands until `shutdown`; a relay left active is switched
    /// back before it returns.
    pub async fn run(
        mut self,
        mut commands: mpsc::Receiver<DoorCommand>,
        shutdown: CancellationToken,
    ) {
        let mut pending: Option<(tokio::time::Instant, Option<String>)> = None;
        loop {
            let relock = pending.as_ref().map(|(at, _)| *at);
            tokio::select! {
                () = shutdown.cancelled() => break,
                c = commands.recv() => match c {
                    Some(c) => {
                        if let Some(opened) = Box::pin(self.handle(c)).await {
                            let at = tokio::time::Instant::now() + self.relay.pulse;
                            // A second open cannot come within the pulse (policy), but keep a
                            // relay that is still active in the queue of things to release.
                            let release = opened.release.or(pending.take().and_then(|p| p.1));
                            pending = Some((at, release));
                        }
                    }
                    None => break,
                },
                () = tokio::time::sleep_until(relock.unwrap_or_else(tokio::time::Instant::now)), if relock.is_some() => {
                    if let Some((_, release)) = pending.take() {
                        Box::pin(self.relock(release, MAX_RELEASE_ATTEMPTS)).await;
                    }
                }
            }
        }
        // Stopping within the pulse: switch the relay back now, once (the shutdown deadline
        // leaves no room for retries).
        if let Some((_, release)) = pending.take() {
            Box::pin(self.relock(release, 1)).await;
        }
    }

    /// Judges one command; `Some` when the door was opened.
    async fn handle(&mut self, command: DoorCommand) -> Option<relay::Opened> {
        let link = *self.link.borrow();
        let decision = self.policy.decide(
            &command,
            self.relay.code.as_ref(),
            link.online,
            Instant::now(),
        );
        let (outcome, opened) = match decision {
            Err(refusal) => (DoorOutcome::Refused(refusal), None),
            Ok(()) => {
                let (api, _) = link.api.resolve(None);
                let api = api.relay().unwrap_or(RelayApi::Onvif);
                match relay::open(&self.client, api, &self.relay).await {
                    Ok(opened) => (DoorOutcome::Opened, Some(opened)),
                    Err(why) => (DoorOutcome::Failed(why), None),
                }
            }
        };
        match &outcome {
            DoorOutcome::Opened => info!(door = %self.relay.door, "door opened on request"),
            DoorOutcome::Refused(r) => info!(
                door = %self.relay.door,
                reason = r.as_str(),
                "door open request refused"
            ),
            DoorOutcome::Failed(why) => warn!(door = %self.relay.door, "door open failed: {why}"),
        }
        self.send(Update::Door(Box::new(DoorReport {
            camera: self.camera.id.clone(),
            time: jiff::Timestamp::now(),
            outcome,
        })))
        .await;
        if let Some(tx) = &self.snapshots {
            // Full means a fetch is running; the door's picture shares it.
            let _ = tx.try_send(SnapshotReason::Door);
        }
        opened
    }

    /// The pulse is over: a bistable relay back to inactive (retried, bounded), the lock shown
    /// locked.
    async fn relock(&self, release: Option<String>, attempts: u32) {
        if let Some(token) = release {
            let mut attempt = 1;
            loop {
                match relay::release(&self.client, &token).await {
                    Ok(()) => break,
                    Err(why) if attempt < attempts => {
                        warn!(
                            relay = token,
                            "cannot switch the door relay back yet: {why}"
                        );
                        attempt += 1;
                        tokio::time::sleep(RELEASE_RETRY).await;
                    }
                    Err(why) => {
                        warn!(
                            relay = token,
                            "the door relay is still active after {attempts} attempt(s) to switch it back: {why}; check the door"
                        );
                        return;
                    }
                }
            }
        }
        self.send(Update::DoorLocked {
            camera: self.camera.id.clone(),
        })
        .await;
    }

    async fn send(&self, update: Update) {
        let _ = self.updates.send(update).await;
    }
}
