//! Push subscriptions of the simulated doorbell (WS-BaseNotification): Subscribe with a
//! ConsumerReference, then every queued message POSTed to that consumer as a SOAP 1.2
//! `wsnt:Notify` by a real HTTP client. Renew and Unsubscribe are the PullPoint ones (same
//! subscription manager, [`super::events`]); a reboot forgets push subscriptions with the rest.
//!
//! Each push subscription has a delivery task that waits on the subscription's queue and ends
//! when the subscription is gone (unsubscribed, expired, dropped, rebooted).

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::events;
use super::soap::{self, Code, Envelope, Fault, Version, WSA, WSNT};
use super::state::Shared;

/// How long one Notify POST may take before the simulated camera gives up on it.
pub const NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest consumer URL accepted (some cameras limit it; Home Assistant shortens its webhook).
pub const MAX_CONSUMER_URL: usize = 512;

/// What the PullPoint does ([`super::SimDoorbell::set_pull_point`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PullPointMode {
    /// Works.
    #[default]
    Works,
    /// CreatePullPointSubscription answers `ter:ActionNotSupported` (a camera with push only).
    Unsupported,
    /// Subscriptions are made, but every PullMessages answers a Receiver fault (HTTP 500).
    Failing,
}

/// The fault of a PullMessages on a failing pull point.
pub fn pull_failed() -> Fault {
    Fault::new(
        Code::Receiver,
        &["ter:Action"],
        "the pull point failed to deliver messages",
    )
}

/// Subscribe: a push subscription to the ConsumerReference address, Initialized state queued
/// for delivery at once.
pub fn subscribe(shared: &Arc<Shared>, env: &Envelope, base: &str) -> Result<String, Fault> {
    let consumer = env
        .field(WSA, "Address")
        .filter(|a| a.starts_with("http://") || a.starts_with("https://"))
        .filter(|a| a.len() <= MAX_CONSUMER_URL)
        .ok_or_else(|| {
            Fault::new(
                Code::Sender,
                &["ter:InvalidArgVal"],
                "Subscribe needs a ConsumerReference with an http(s) Address of at most 512 bytes",
            )
        })?
        .to_string();
    let (id, current, termination) = events::new_subscription(
        shared,
        env.field(WSNT, "InitialTerminationTime"),
        "wsnt:UnacceptableInitialTerminationTimeFault",
        Some(consumer.clone()),
    )?;
    tokio::spawn(deliver(shared.clone(), id, consumer));
    Ok(format!(
        concat!(
            "<wsnt:SubscribeResponse><wsnt:SubscriptionReference>",
            "<wsa:Address>{base}/onvif/subscription/{id}</wsa:Address>",
            "<wsa:ReferenceParameters><dd:SubscriptionId>{id}</dd:SubscriptionId></wsa:ReferenceParameters>",
            "</wsnt:SubscriptionReference><wsnt:CurrentTime>{current}</wsnt:CurrentTime>",
            "<wsnt:TerminationTime>{termination}</wsnt:TerminationTime></wsnt:SubscribeResponse>"
        ),
        base = base,
        id = id,
        current = current,
        termination = termination,
    ))
}

/// The Notify envelope for `messages` (whole `wsnt:NotificationMessage` elements).
pub fn notify_envelope(messages: &str) -> String {
    let header =
        "<wsa:Action>http://docs.oasis-open.org/wsn/bw-2/NotificationConsumer/Notify</wsa:Action>";
    soap::envelope(
        Version::Soap12,
        header,
        &format!("<wsnt:Notify>{messages}</wsnt:Notify>"),
    )
}

/// POSTs the subscription's messages to `consumer` as they are queued, until it is gone.
async fn deliver(shared: Arc<Shared>, id: u64, consumer: String) {
    // reqwest is built without a default TLS provider and panics without one.
    crate::onvif::install_crypto_provider();
    let Ok(client) = reqwest::Client::builder()
        .timeout(NOTIFY_TIMEOUT)
        .no_proxy()
        .build()
    else {
        return;
    };
    loop {
        let (notify, expires, batch) = {
            let mut inner = shared.lock();
            events::sweep(&mut inner);
            let Some(sub) = inner.subscriptions.get_mut(&id) else {
                return;
            };
            let batch: String = sub.queue.drain(..).collect();
            (sub.notify.clone(), sub.expires, batch)
        };
        if batch.is_empty() {
            tokio::select! {
                () = notify.notified() => {}
                () = tokio::time::sleep_until(expires.max(Instant::now())) => {}
            }
            continue;
        }
        let sent = client
            .post(&consumer)
            .header("content-type", Version::Soap12.content_type())
            .body(notify_envelope(&batch))
            .send()
            .await;
        let ok = sent.is_ok_and(|r| r.status().is_success());
        let mut inner = shared.lock();
        if ok {
            inner.stats.notifies_sent += 1;
        } else {
            inner.stats.notify_failures += 1;
        }
    }
}
