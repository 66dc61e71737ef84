//! The PullPoint calls: CreatePullPointSubscription, PullMessages, Renew, Unsubscribe,
//! SetSynchronizationPoint.
//!
//! Every call carries WS-Addressing (Action, MessageID, ReplyTo anonymous, To) and echoes the
//! subscription's ReferenceParameters as headers: Axis routes PullMessages and Renew by them.

use std::sync::atomic::Ordering;
use std::time::Duration;

use jiff::Timestamp;
use roxmltree::Node;
use tokio::time::Instant;
use url::Url;

use super::address::rewrite_address;
use super::client::{Call, Expect};
use super::soap::{NS_EVENTS, NS_WSA, NS_WSA_2004, NS_WSNT};
use super::subscription::{Granted, Subscription};
use super::{Client, Error, Notification, dom, time, xml};

const ACTION_CREATE: &str =
    "http://www.onvif.org/ver10/events/wsdl/EventPortType/CreatePullPointSubscriptionRequest";
const ACTION_PULL: &str =
    "http://www.onvif.org/ver10/events/wsdl/PullPointSubscription/PullMessagesRequest";
const ACTION_SYNC: &str =
    "http://www.onvif.org/ver10/events/wsdl/PullPointSubscription/SetSynchronizationPointRequest";
const ACTION_RENEW: &str = "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/RenewRequest";
const ACTION_UNSUBSCRIBE: &str =
    "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/UnsubscribeRequest";

/// Shortest subscription we ask for: some cameras end subscriptions almost at once when asked
/// for less (python-onvif-zeep-async enforces the same minimum).
pub const MIN_SUBSCRIPTION: Duration = Duration::from_secs(60);

/// The answer to one PullMessages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullResult {
    /// Every NotificationMessage, in document order.
    pub notifications: Vec<Notification>,
    /// The response's `CurrentTime` (camera clock).
    pub current_time: Option<Timestamp>,
    /// The response's `TerminationTime` (camera clock).
    pub termination_time: Option<Timestamp>,
}

/// A CreatePullPointSubscriptionResponse, before it becomes a [`Subscription`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The subscription address, rewritten.
    pub address: Url,
    /// The address exactly as advertised (trimmed), for `wsa:To`.
    pub endpoint: String,
    /// ReferenceParameters children, self-contained XML.
    pub reference_parameters: Vec<String>,
    /// What the camera granted.
    pub granted: Granted,
}

/// Reads a CreatePullPointSubscriptionResponse (pure).
pub fn parse_created(response: Node<'_, '_>, configured: &Url) -> Result<Created, String> {
    parse_reference(response, &[NS_EVENTS], configured)
}

/// Reads the SubscriptionReference (in one of `namespaces`) and lifetime of a response that
/// creates a subscription: CreatePullPointSubscriptionResponse (ONVIF namespace) or
/// WS-BaseNotification's SubscribeResponse (pure).
pub(crate) fn parse_reference(
    response: Node<'_, '_>,
    namespaces: &[&str],
    configured: &Url,
) -> Result<Created, String> {
    let wsa = [NS_WSA, NS_WSA_2004];
    let reference = dom::child(response, namespaces, "SubscriptionReference")
        .ok_or("no SubscriptionReference")?;
    let raw = dom::child_text(reference, &wsa, "Address")
        .ok_or("SubscriptionReference without an Address")?;
    let address = rewrite_address(&raw, configured)
        .ok_or_else(|| format!("subscription address {raw:?} is not an http(s) URL"))?;
    let reference_parameters = dom::child(reference, &wsa, "ReferenceParameters")
        .map(|p| {
            p.children()
                .filter(|n| n.is_element())
                .map(dom::self_contained)
                .collect()
        })
        .unwrap_or_default();
    Ok(Created {
        endpoint: raw.clone(),
        address,
        reference_parameters,
        granted: granted(response),
    })
}

/// `CurrentTime` and `TerminationTime` children (WS-BaseNotification or ONVIF namespace).
fn granted(response: Node<'_, '_>) -> Granted {
    let get = |name| {
        dom::child_text(response, &[NS_WSNT, NS_EVENTS], name).and_then(|t| time::parse_time(&t))
    };
    Granted {
        current_time: get("CurrentTime"),
        termination_time: get("TerminationTime"),
    }
}

/// Reads a PullMessagesResponse (pure).
pub fn parse_pull(response: Node<'_, '_>) -> PullResult {
    let g = granted(response);
    PullResult {
        notifications: xml::notifications_in(response),
        current_time: g.current_time,
        termination_time: g.termination_time,
    }
}

impl Client {
    /// A termination time for `lifetime`: relative (`PT600S`) unless this camera refused that.
    pub(crate) fn termination(&self, lifetime: Duration, absolute: bool) -> String {
        if absolute {
            let now = self.camera_now();
            time::format_time(now.checked_add(lifetime).unwrap_or(now))
        } else {
            time::format_duration(lifetime)
        }
    }

    /// Runs `attempt` with a relative termination time, and again with an absolute one when the
    /// camera faults on the relative form (some do; python-onvif-zeep-async does the same).
    pub(crate) async fn with_termination<T, F, Fut>(
        &self,
        lifetime: Duration,
        attempt: F,
    ) -> Result<T, Error>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let style = self.absolute_times();
        if style.load(Ordering::Relaxed) {
            return attempt(self.termination(lifetime, true)).await;
        }
        match attempt(self.termination(lifetime, false)).await {
            // A camera may word its complaint about the time as an invalid subscription.
            Err(Error::Fault { .. } | Error::SubscriptionLost { .. }) => {
                let result = attempt(self.termination(lifetime, true)).await;
                if result.is_ok() {
                    style.store(true, Ordering::Relaxed);
                }
                result
            }
            other => other,
        }
    }

    /// CreatePullPointSubscription on the event service at `events`, for `lifetime` (at least
    /// [`MIN_SUBSCRIPTION`]).
    pub async fn create_pull_point(
        &self,
        events: &Url,
        lifetime: Duration,
    ) -> Result<Subscription, Error> {
        let lifetime = lifetime.max(MIN_SUBSCRIPTION);
        let device = self.device_url();
        let created = self
            .with_termination(lifetime, |t| async move {
                let body = format!(
                    "<tev:CreatePullPointSubscription><tev:InitialTerminationTime>{t}</tev:InitialTerminationTime></tev:CreatePullPointSubscription>"
                );
                let call = Call::new(
                    events,
                    ACTION_CREATE,
                    &body,
                    Expect::Payload(&[NS_EVENTS], "CreatePullPointSubscriptionResponse"),
                )
                .addressed(events.as_str(), &[]);
                self.call(call, |r| parse_created(r, device)).await
            })
            .await?;
        let now = Instant::now();
        Ok(Subscription::new(
            created.address,
            created.reference_parameters,
            created.granted,
            lifetime,
            now,
        )
        .with_endpoint(created.endpoint))
    }

    /// PullMessages: waits up to `timeout` on the camera for at most `limit` messages. The HTTP
    /// timeout is `timeout` + the client's `pull_margin` ([`super::PULL_MARGIN`] by default).
    pub async fn pull(
        &self,
        sub: &Subscription,
        timeout: Duration,
        limit: u32,
    ) -> Result<PullResult, Error> {
        let body = format!(
            "<tev:PullMessages><tev:Timeout>{}</tev:Timeout><tev:MessageLimit>{limit}</tev:MessageLimit></tev:PullMessages>",
            time::format_duration(timeout)
        );
        let call = Call::on_subscription(
            sub,
            ACTION_PULL,
            &body,
            Expect::Payload(&[NS_EVENTS], "PullMessagesResponse"),
        )
        .timeout(timeout + self.options().pull_margin);
        self.call(call, |r| Ok(parse_pull(r))).await
    }

    /// Renew for `lifetime`; returns the subscription with its new expiry.
    pub async fn renew(
        &self,
        sub: &Subscription,
        lifetime: Duration,
    ) -> Result<Subscription, Error> {
        let lifetime = lifetime.max(MIN_SUBSCRIPTION);
        let granted = self
            .with_termination(lifetime, |t| async move {
                let body = format!(
                    "<wsnt:Renew><wsnt:TerminationTime>{t}</wsnt:TerminationTime></wsnt:Renew>"
                );
                let call = Call::on_subscription(
                    sub,
                    ACTION_RENEW,
                    &body,
                    Expect::Payload(&[NS_WSNT], "RenewResponse"),
                );
                self.call(call, |r| Ok(granted(r))).await
            })
            .await?;
        let now = Instant::now();
        Ok(sub.renewed(granted, lifetime, now))
    }

    /// Unsubscribe (best effort at shutdown; the caller bounds it with its own deadline).
    pub async fn unsubscribe(&self, sub: &Subscription) -> Result<(), Error> {
        let call =
            Call::on_subscription(sub, ACTION_UNSUBSCRIBE, "<wsnt:Unsubscribe/>", Expect::Body);
        self.call(call, |_| Ok(())).await
    }

    /// SetSynchronizationPoint: asks the camera to resend the current state of every property
    /// (as `Initialized` messages).
    pub async fn set_synchronization_point(&self, sub: &Subscription) -> Result<(), Error> {
        let call = Call::on_subscription(
            sub,
            ACTION_SYNC,
            "<tev:SetSynchronizationPoint/>",
            Expect::Body,
        );
        self.call(call, |_| Ok(())).await
    }
}

#[cfg(test)]
#[path = "pullpoint_tests.rs"]
mod tests;
