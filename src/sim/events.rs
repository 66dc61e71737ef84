//! The event service of the simulated doorbell: PullPoint subscriptions with bounded queues, a
//! real PullMessages long poll, Renew, Unsubscribe and expiry.
//!
//! Expiry runs on the monotonic clock (`tokio::time::Instant`); TerminationTime is reported on
//! the device clock as `CurrentTime + remaining`, so a skewed or rebooted clock moves both.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::messages;
use super::soap::{Code, Envelope, Fault, TEV, WSNT};
use super::state::{Inner, Shared};
use super::xsd;

/// Messages kept per subscription; the oldest is dropped beyond this.
pub const MAX_QUEUED_MESSAGES: usize = 100;
/// The longest PullMessages wait honoured; longer requested timeouts are capped.
pub const MAX_PULL_TIMEOUT: Duration = Duration::from_secs(300);
/// Subscription lifetime when the request gives no InitialTerminationTime.
pub const DEFAULT_TERMINATION: Duration = Duration::from_secs(60);
/// The longest subscription lifetime granted.
pub const MAX_TERMINATION: Duration = Duration::from_secs(3600);
/// Live subscriptions allowed at once (advertised as `MaxPullPoints`); a camera has a small
/// fixed number, so a client that leaks subscriptions finds out.
pub const MAX_SUBSCRIPTIONS: usize = 10;
/// Messages returned per PullMessages when MessageLimit is missing.
pub const DEFAULT_MESSAGE_LIMIT: usize = 100;

/// One PullPoint subscription.
pub struct Subscription {
    /// When it ends unless renewed.
    pub expires: Instant,
    /// Messages waiting for PullMessages.
    pub queue: VecDeque<String>,
    /// Woken when a message is queued or the subscription goes away.
    pub notify: Arc<Notify>,
    /// A push subscription (WS-BaseNotification Subscribe): where its messages are POSTed.
    pub consumer: Option<String>,
}

impl Subscription {
    fn push(&mut self, message: String) {
        if self.queue.len() >= MAX_QUEUED_MESSAGES {
            self.queue.pop_front();
        }
        self.queue.push_back(message);
        self.notify.notify_one();
    }
}

/// The fault for a subscription that does not exist (never did, expired, unsubscribed, or lost
/// in a reboot): `env:Sender` / `wsrf-r:ResourceUnknownFault`, as WS-ResourceFramework says.
pub fn unknown(id: &str) -> Fault {
    let mut fault = Fault::new(
        Code::Sender,
        &["wsrf-r:ResourceUnknownFault"],
        format!("subscription unknown: {id:?} does not exist or has expired; create a new one"),
    );
    fault.detail = Some("<wsrf-r:ResourceUnknownFault/>".to_string());
    fault
}

fn invalid(what: &str, text: &str, hint: &str) -> Fault {
    Fault::new(
        Code::Sender,
        &["ter:InvalidArgVal"],
        format!("invalid {what} {text:?}; send {hint}"),
    )
}

/// The event service's capabilities element.
pub fn capabilities() -> String {
    format!(
        concat!(
            r#"<tev:Capabilities WSSubscriptionPolicySupport="false" WSPullPointSupport="true""#,
            r#" WSPausableSubscriptionManagerInterfaceSupport="false" MaxNotificationProducers="0""#,
            r#" MaxPullPoints="{}"/>"#
        ),
        MAX_SUBSCRIPTIONS
    )
}

/// Wakes every poller of a subscription that is going away, including one about to wait.
fn wake_all(notify: &Notify) {
    notify.notify_waiters();
    notify.notify_one();
}

/// Removes expired subscriptions and wakes their pollers.
pub fn sweep(inner: &mut Inner) {
    let now = Instant::now();
    inner.subscriptions.retain(|_, sub| {
        let live = sub.expires > now;
        if !live {
            wake_all(&sub.notify);
        }
        live
    });
}

/// Drops every subscription (pollers wake and answer "unknown").
pub fn drop_all(inner: &mut Inner) {
    for sub in inner.subscriptions.values() {
        wake_all(&sub.notify);
    }
    inner.subscriptions.clear();
}

/// Queues `message` on every live subscription.
pub fn broadcast(inner: &mut Inner, message: &str) {
    sweep(inner);
    for sub in inner.subscriptions.values_mut() {
        sub.push(message.to_string());
    }
}

/// `CurrentTime` and `TerminationTime` texts (device clock) for a subscription ending at
/// `expires`.
pub fn times(now: Timestamp, expires: Instant) -> (String, String) {
    let left = expires.saturating_duration_since(Instant::now());
    let end = SignedDuration::try_from(left)
        .ok()
        .and_then(|d| now.checked_add(d).ok())
        .unwrap_or(now);
    (xsd::format_date_time(now), xsd::format_date_time(end))
}

/// Resolves a requested termination (relative or absolute, on the device clock) to a lifetime.
fn lifetime(text: Option<&str>, now: Timestamp, fault: &'static str) -> Result<Duration, Fault> {
    let Some(text) = text else {
        return Ok(DEFAULT_TERMINATION);
    };
    let requested = xsd::parse_termination(text, now).ok_or_else(|| {
        invalid(
            "termination time",
            text,
            "an xsd:duration (PT60S) or xsd:dateTime",
        )
    })?;
    if !requested.is_positive() {
        return Err(Fault::new(
            Code::Sender,
            &[fault],
            format!("termination time {text} is not in the future (device clock {now})"),
        ));
    }
    Ok(Duration::try_from(requested)
        .unwrap_or(MAX_TERMINATION)
        .min(MAX_TERMINATION))
}

/// A new subscription with Initialized state queued, for the termination `requested`
/// (`fault`: the fault name for one not in the future); `consumer` for a push subscription.
/// Returns its id and the `CurrentTime` and `TerminationTime` texts.
pub fn new_subscription(
    shared: &Shared,
    requested: Option<&str>,
    fault: &'static str,
    consumer: Option<String>,
) -> Result<(u64, String, String), Fault> {
    let mut inner = shared.lock();
    let now = inner.now();
    let life = lifetime(requested, now, fault)?.min(shared.options.max_subscription);
    sweep(&mut inner);
    if inner.subscriptions.len() >= MAX_SUBSCRIPTIONS {
        return Err(Fault::new(
            Code::Receiver,
            &["wsnt:SubscribeCreationFailedFault"],
            format!(
                "all {MAX_SUBSCRIPTIONS} subscriptions in use; unsubscribe or let old subscriptions expire"
            ),
        ));
    }
    let id = inner.next_id;
    inner.next_id += 1;
    let push = consumer.is_some();
    let mut sub = Subscription {
        expires: Instant::now() + life,
        queue: VecDeque::new(),
        notify: Arc::new(Notify::new()),
        consumer,
    };
    for message in messages::initialized(inner.motion, inner.person, now) {
        sub.push(message);
    }
    let (current, termination) = times(now, sub.expires);
    inner.subscriptions.insert(id, sub);
    inner.stats.subscriptions_created += 1;
    if push {
        inner.stats.push_subscriptions_created += 1;
    }
    drop(inner);
    shared.subscribed.notify_waiters();
    Ok((id, current, termination))
}

/// CreatePullPointSubscription: a new subscription with Initialized state queued. `base` is
/// `http://host:port` for the address.
pub fn create(shared: &Shared, env: &Envelope, base: &str) -> Result<String, Fault> {
    let (id, current, termination) = new_subscription(
        shared,
        env.field(TEV, "InitialTerminationTime"),
        "wsnt:UnacceptableInitialTerminationTimeFault",
        None,
    )?;
    Ok(format!(
        concat!(
            "<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference>",
            "<wsa:Address>{base}/onvif/subscription/{id}</wsa:Address>",
            "<wsa:ReferenceParameters><dd:SubscriptionId>{id}</dd:SubscriptionId></wsa:ReferenceParameters>",
            "</tev:SubscriptionReference><wsnt:CurrentTime>{current}</wsnt:CurrentTime>",
            "<wsnt:TerminationTime>{termination}</wsnt:TerminationTime>",
            "</tev:CreatePullPointSubscriptionResponse>"
        ),
        base = base,
        id = id,
        current = current,
        termination = termination,
    ))
}

fn parse_id(id: &str) -> Result<u64, Fault> {
    id.trim().parse().map_err(|_| unknown(id))
}

/// Renew: a new termination time.
pub fn renew(shared: &Shared, id: &str, env: &Envelope) -> Result<String, Fault> {
    let key = parse_id(id)?;
    let mut inner = shared.lock();
    sweep(&mut inner);
    let now = inner.now();
    let life = lifetime(
        env.field(WSNT, "TerminationTime"),
        now,
        "wsnt:UnacceptableTerminationTimeFault",
    )?
    .min(shared.options.max_subscription);
    let sub = inner
        .subscriptions
        .get_mut(&key)
        .ok_or_else(|| unknown(id))?;
    sub.expires = Instant::now() + life;
    let (current, termination) = times(now, sub.expires);
    inner.stats.renewed += 1;
    // WS-BaseNotification orders TerminationTime before CurrentTime in RenewResponse.
    Ok(format!(
        "<wsnt:RenewResponse><wsnt:TerminationTime>{termination}</wsnt:TerminationTime>\
         <wsnt:CurrentTime>{current}</wsnt:CurrentTime></wsnt:RenewResponse>"
    ))
}

/// Unsubscribe: the subscription is gone.
pub fn unsubscribe(shared: &Shared, id: &str) -> Result<String, Fault> {
    let key = parse_id(id)?;
    let mut inner = shared.lock();
    sweep(&mut inner);
    let sub = inner
        .subscriptions
        .remove(&key)
        .ok_or_else(|| unknown(id))?;
    wake_all(&sub.notify);
    inner.stats.unsubscribed += 1;
    Ok("<wsnt:UnsubscribeResponse/>".to_string())
}

/// SetSynchronizationPoint: queue the Initialized state again.
pub fn synchronize(shared: &Shared, id: &str) -> Result<String, Fault> {
    let key = parse_id(id)?;
    let mut inner = shared.lock();
    sweep(&mut inner);
    let messages = messages::initialized(inner.motion, inner.person, inner.now());
    let sub = inner
        .subscriptions
        .get_mut(&key)
        .ok_or_else(|| unknown(id))?;
    for message in messages {
        sub.push(message);
    }
    Ok("<tev:SetSynchronizationPointResponse/>".to_string())
}

/// What a PullMessages attempt found.
enum Taken {
    /// The response body.
    Answer(String),
    /// Nothing queued: wait on this notify, at most until the subscription expires.
    Wait(Arc<Notify>, Instant),
}

/// Takes up to `limit` messages; with nothing queued answers empty if `empty_ok`, else says
/// what to wait on.
fn take(shared: &Shared, id: &str, limit: usize, empty_ok: bool) -> Result<Taken, Fault> {
    let key = parse_id(id)?;
    let mut inner = shared.lock();
    sweep(&mut inner);
    let now = inner.now();
    let sub = inner
        .subscriptions
        .get_mut(&key)
        .ok_or_else(|| unknown(id))?;
    if sub.queue.is_empty() && !empty_ok {
        return Ok(Taken::Wait(sub.notify.clone(), sub.expires));
    }
    let count = sub.queue.len().min(limit);
    let taken: String = sub.queue.drain(..count).collect();
    let (current, termination) = times(now, sub.expires);
    Ok(Taken::Answer(format!(
        "<tev:PullMessagesResponse><tev:CurrentTime>{current}</tev:CurrentTime>\
         <tev:TerminationTime>{termination}</tev:TerminationTime>{taken}</tev:PullMessagesResponse>"
    )))
}

/// PullMessages: answers at once when messages are queued, else waits up to the requested
/// Timeout (capped at [`MAX_PULL_TIMEOUT`]) for one; a subscription that ends meanwhile
/// answers [`unknown`]. With `hold == false` (the EmptyPolls fault) it answers at once, empty.
pub async fn pull(shared: &Shared, id: &str, env: &Envelope, hold: bool) -> Result<String, Fault> {
    let timeout_text = env.field(TEV, "Timeout").unwrap_or("PT0S");
    let timeout = xsd::parse_duration(timeout_text)
        .and_then(|d| Duration::try_from(d).ok())
        .ok_or_else(|| invalid("Timeout", timeout_text, "an xsd:duration like PT60S"))?
        .min(MAX_PULL_TIMEOUT);
    let limit = match env.field(TEV, "MessageLimit") {
        Some(text) => text
            .parse::<usize>()
            .map_err(|_| invalid("MessageLimit", text, "a non-negative integer"))?,
        None => DEFAULT_MESSAGE_LIMIT,
    };
    // The EmptyPolls fault: a camera that does not hold the long poll and delivers nothing.
    let limit = if hold { limit } else { 0 };
    let deadline = Instant::now() + timeout;
    loop {
        let empty_ok = !hold || limit == 0 || Instant::now() >= deadline;
        let (notify, expires) = match take(shared, id, limit, empty_ok)? {
            Taken::Answer(body) => return Ok(body),
            Taken::Wait(notify, expires) => (notify, expires),
        };
        tokio::select! {
            _ = notify.notified() => {}
            _ = tokio::time::sleep_until(deadline) => {}
            _ = tokio::time::sleep_until(expires) => {}
        }
    }
}
