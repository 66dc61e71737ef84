//! The connection task: owns rumqttc's `EventLoop`, polls it, and reports to the publisher.
//!
//! rumqttc's `poll()` reconnects at once after an error (bytebeamio/rumqtt#703, #918), so we
//! sleep with a capped exponential backoff after each `Err` and reset it on ConnAck. With a
//! clean session, subscriptions and unacknowledged packets are gone after a reconnect
//! (bytebeamio/rumqtt#250): the publisher re-subscribes and re-sends on every ConnAck.

use std::time::Duration;

use rumqttc::{
    ConnectionError, Event, EventLoop, Incoming, LastWill, MqttOptions, Outgoing, QoS,
    TlsConfiguration, Transport,
};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::link::{Link, Report};
use super::status::BridgeStatus;
use super::topics::Topics;
use super::{Error, MAX_CAMERA_LIST_BYTES, MAX_PACKET_BYTES, OFFLINE, RUMQTTC_INFLIGHT, Tuning};
use crate::backoff::{Backoff, random_jitter};
use crate::config::MqttConfig;

/// The rumqttc options for `config`: stable client id, clean session, Last Will `offline`
/// (retained) on the bridge status topic, packet limits raised both ways, credentials, TLS.
pub fn options(
    config: &MqttConfig,
    topics: &Topics,
    tuning: &Tuning,
) -> Result<MqttOptions, Error> {
    let mut o = MqttOptions::new(config.client_id.clone(), config.host.clone(), config.port);
    o.set_keep_alive(tuning.keep_alive)
        .set_clean_session(true)
        .set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES)
        .set_inflight(RUMQTTC_INFLIGHT)
        .set_last_will(LastWill::new(
            topics.bridge_status().as_str(),
            OFFLINE,
            QoS::AtLeastOnce,
            true,
        ));
    match (&config.username, &config.password) {
        (Some(user), password) => {
            let password = password.as_ref().map(|p| p.expose()).unwrap_or("");
            o.set_credentials(user.clone(), password);
        }
        (None, Some(_)) => {
            warn!("mqtt.password is set without mqtt.username; MQTT needs both, so neither is sent")
        }
        (None, None) => {}
    }
    if config.tls {
        let tls = super::tls::client_config(config)?;
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls)));
    }
    Ok(o)
}

/// The connection task's state.
pub struct Connection {
    /// rumqttc's event loop.
    pub eventloop: EventLoop,
    /// Shared with the publisher.
    pub link: std::sync::Arc<Link>,
    /// To the publisher.
    pub reports: mpsc::Sender<Report>,
    /// Cancelled by the publisher once its last requests (offline, DISCONNECT) are handed
    /// over.
    pub done: CancellationToken,
    /// For health checks.
    pub status: BridgeStatus,
    /// Timing.
    pub tuning: Tuning,
    /// `host:port`, for messages.
    pub broker: String,
}

enum Flow {
    Continue,
    Stop,
}

impl Connection {
    /// Polls until the publisher is done and the DISCONNECT is out (or cannot be sent).
    pub async fn run(mut self) {
        let mut backoff = Backoff::new(
            self.tuning.initial_backoff,
            self.tuning.max_backoff,
            crate::backoff::DEFAULT_STABLE_AFTER,
        );
        let mut deadline = None;
        let mut epoch = 0;
        let mut logged = None;
        loop {
            let Some(polled) = self.poll(&mut deadline).await else {
                break;
            };
            let flow = match polled {
                Ok(event) => {
                    if let Event::Incoming(Incoming::ConnAck(_)) = event {
                        backoff.reset();
                        logged = None;
                        self.eventloop.pending.clear();
                        epoch = self.link.connected();
                        self.status.set_connected();
                        info!("connected to the MQTT broker");
                        report(&self.reports, Report::Connected { epoch }).await;
                        Flow::Continue
                    } else {
                        self.on_event(event, epoch).await
                    }
                }
                Err(e) => self.on_error(e, &mut backoff, &mut logged).await,
            };
            if let Flow::Stop = flow {
                break;
            }
        }
        self.status.set_disconnected();
        debug!("mqtt connection task ended");
    }

    /// One `poll()`, kept alive across the publisher's "done" signal; `None` to stop.
    async fn poll(
        &mut self,
        deadline: &mut Option<Instant>,
    ) -> Option<Result<Event, ConnectionError>> {
        let poll = self.eventloop.poll();
        tokio::pin!(poll);
        loop {
            tokio::select! {
                r = &mut poll => return Some(r),
                () = self.done.cancelled(), if deadline.is_none() => {
                    if !self.link.is_connected() {
                        return None;
                    }
                    *deadline = Some(Instant::now() + self.tuning.shutdown_deadline);
                }
                () = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    warn!("the MQTT disconnect was not sent within {:?}; closing", self.tuning.shutdown_deadline);
                    return None;
                }
            }
        }
    }

    async fn on_event(&mut self, event: Event, epoch: u64) -> Flow {
        match event {
            Event::Incoming(Incoming::PubAck(ack)) => {
                report(
                    &self.reports,
                    Report::Acked {
                        epoch,
                        pkid: ack.pkid,
                    },
                )
                .await;
            }
            Event::Incoming(Incoming::Publish(p)) => {
                if p.payload.len() > MAX_CAMERA_LIST_BYTES {
                    debug!(topic = %p.topic, size = p.payload.len(), "ignoring an oversized message");
                } else {
                    let topic = p.topic.clone();
                    report(
                        &self.reports,
                        Report::Message {
                            topic,
                            payload: p.payload,
                            retain: p.retain,
                        },
                    )
                    .await;
                }
            }
            Event::Outgoing(Outgoing::Publish(pkid)) => {
                report(&self.reports, Report::Sent { epoch, pkid }).await;
            }
            Event::Outgoing(Outgoing::Disconnect) if self.done.is_cancelled() => {
                debug!("disconnect sent");
                return Flow::Stop;
            }
            _ => {}
        }
        Flow::Continue
    }

    async fn on_error(
        &mut self,
        e: ConnectionError,
        backoff: &mut Backoff,
        logged: &mut Option<&'static str>,
    ) -> Flow {
        let eventloop = &mut self.eventloop;
        let ended = self.link.disconnected(|| {
            // Requests still in rumqttc's channel, and events it buffered, belong to the dead
            // connection; the publisher re-queues what it handed over itself.
            eventloop.clean();
            eventloop.pending.clear();
            eventloop.state.events.clear();
            eventloop.state.collision = None;
        });
        if let Some(epoch) = ended {
            warn!("lost the connection to the MQTT broker: {e}; reconnecting");
            report(&self.reports, Report::Disconnected { epoch }).await;
        }
        if self.done.is_cancelled() {
            return Flow::Stop;
        }
        let Diagnosis {
            kind,
            message,
            delay,
            fatal,
        } = describe(&e, &self.broker, backoff);
        // Log each kind of failure once per outage; repeats go to debug.
        if *logged == Some(kind) {
            debug!("{message}; retry in {delay:?}");
        } else if fatal {
            error!("{message}; retrying every {delay:?}");
        } else {
            warn!("{message}; retry in {delay:?}");
        }
        *logged = Some(kind);
        self.status.set_failed(message, delay);
        tokio::select! {
            () = sleep(delay) => Flow::Continue,
            () = self.done.cancelled() => Flow::Stop,
        }
    }
}

/// Tells the publisher (`Connection` itself is not `Sync`: rumqttc's stream is not).
async fn report(reports: &mpsc::Sender<Report>, report: Report) {
    // Fails only when the publisher has ended (shutdown): nothing left to tell.
    let _ = reports.send(report).await;
}

/// What a connection error means for the user and for the retry.
struct Diagnosis {
    /// Which kind of failure (logged once per outage).
    kind: &'static str,
    /// The message, with a hint.
    message: String,
    /// Pause before the next attempt.
    delay: Duration,
    /// Only the user can fix it.
    fatal: bool,
}

fn describe(e: &ConnectionError, broker: &str, backoff: &mut Backoff) -> Diagnosis {
    let d = super::probe::diagnose(e, broker);
    let delay = if d.fatal {
        backoff.fatal()
    } else {
        backoff.failed(Instant::now(), random_jitter())
    };
    Diagnosis {
        kind: d.kind,
        message: format!("{}; {}", d.problem, d.hint),
        delay,
        fatal: d.fatal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumqttc::{ConnectReturnCode, TlsError};

    #[test]
    fn bad_credentials_are_explained_and_slow() {
        let mut b = Backoff::new(
            Duration::from_millis(10),
            Duration::from_secs(5),
            Duration::from_secs(60),
        );
        let e = ConnectionError::ConnectionRefused(ConnectReturnCode::NotAuthorized);
        let d = describe(&e, "broker:1883", &mut b);
        assert!(
            d.message.contains("rejected the credentials"),
            "{}",
            d.message
        );
        assert!(d.message.contains("mqtt.username"), "{}", d.message);
        assert_eq!(d.delay, Duration::from_secs(5));
        assert!(d.fatal);
        let io = ConnectionError::Io(std::io::ErrorKind::ConnectionRefused.into());
        let d = describe(&io, "broker:1883", &mut b);
        assert!(d.message.starts_with("MQTT broker broker:1883 unreachable"));
        assert_eq!(d.kind, "unreachable");
        assert!(!d.fatal);
        let reset = TlsError::Io(std::io::ErrorKind::ConnectionReset.into());
        assert_eq!(
            describe(&ConnectionError::Tls(reset), "b", &mut b).kind,
            "unreachable"
        );
        let bad_cert = TlsError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, "x"));
        let d = describe(&ConnectionError::Tls(bad_cert), "b", &mut b);
        assert_eq!((d.kind, d.fatal), ("tls", true));
    }
}
