//! ONVIF push: WS-BaseNotification Subscribe with a consumer URL, and the Notify messages the
//! camera then POSTs to it. Renew and Unsubscribe are the PullPoint ones ([`super::pullpoint`]):
//! both act on a subscription manager reference.
//!
//! A Notify body is untrusted input from the network: it is parsed by the guarded parser
//! ([`super::document`]) and its NotificationMessages read exactly as pulled ones
//! ([`super::xml::notifications_in`]). Invalid UTF-8 is replaced, not refused (some cameras send
//! it; python-onvif-zeep-async re-decodes the same way).

use std::time::Duration;

use quick_xml::escape::escape;
use tokio::time::Instant;
use url::Url;

use super::client::{Call, Expect};
use super::pullpoint::{MIN_SUBSCRIPTION, parse_reference};
use super::soap::{NS_ENVELOPE, NS_WSNT};
use super::{Client, Error, Notification, Subscription, dom, xml};

const ACTION_SUBSCRIBE: &str =
    "http://docs.oasis-open.org/wsn/bw-2/NotificationProducer/SubscribeRequest";

/// Why a pushed body is not a Notify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// Not XML, or past a limit of the guarded parser.
    #[error("the pushed body is not a readable XML document ({0})")]
    Xml(String),
    /// XML, but not a SOAP envelope with a Notify in its Body.
    #[error("the pushed body is not a SOAP Notify ({0})")]
    NotNotify(String),
}

/// The NotificationMessages of a pushed Notify body, in document order (pure).
pub fn parse_notify(body: &[u8]) -> Result<Vec<Notification>, NotifyError> {
    let text = String::from_utf8_lossy(body);
    let doc = super::document::parse(&text).map_err(|e| NotifyError::Xml(e.to_string()))?;
    let root = doc.root_element();
    if !dom::is(root, &NS_ENVELOPE, "Envelope") {
        let name = root.tag_name().name();
        return Err(NotifyError::NotNotify(format!(
            "<{name}> instead of an Envelope"
        )));
    }
    let body = dom::child(root, &NS_ENVELOPE, "Body")
        .ok_or_else(|| NotifyError::NotNotify("no Body".into()))?;
    let notify = dom::child(body, &[NS_WSNT], "Notify")
        .ok_or_else(|| NotifyError::NotNotify("no wsnt:Notify in the Body".into()))?;
    Ok(xml::notifications_in(notify))
}

/// The Subscribe body for `consumer` and termination `t` (pure; the URL is escaped).
pub fn subscribe_body(consumer: &str, t: &str) -> String {
    format!(
        "<wsnt:Subscribe><wsnt:ConsumerReference><wsa:Address>{}</wsa:Address></wsnt:ConsumerReference>\
         <wsnt:InitialTerminationTime>{t}</wsnt:InitialTerminationTime></wsnt:Subscribe>",
        escape(consumer)
    )
}

impl Client {
    /// WS-BaseNotification Subscribe on the event service at `events`: the camera is to POST
    /// Notify to `consumer`, for `lifetime` (at least [`MIN_SUBSCRIPTION`], relative unless
    /// this camera refused relative times). The answer is a subscription manager reference,
    /// renewed and unsubscribed like a pull point.
    pub async fn subscribe_push(
        &self,
        events: &Url,
        consumer: &str,
        lifetime: Duration,
    ) -> Result<Subscription, Error> {
        let lifetime = lifetime.max(MIN_SUBSCRIPTION);
        let device = self.device_url();
        let created = self
            .with_termination(lifetime, |t| async move {
                let body = subscribe_body(consumer, &t);
                let call = Call::new(
                    events,
                    ACTION_SUBSCRIBE,
                    &body,
                    Expect::Payload(&[NS_WSNT], "SubscribeResponse"),
                )
                .addressed(events.as_str(), &[]);
                self.call(call, |r| parse_reference(r, &[NS_WSNT], device))
                    .await
            })
            .await?;
        Ok(Subscription::new(
            created.address,
            created.reference_parameters,
            created.granted,
            lifetime,
            Instant::now(),
        )
        .with_endpoint(created.endpoint))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTIFY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope"
  xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tt="http://www.onvif.org/ver10/schema"
  xmlns:tns1="http://www.onvif.org/ver10/topics">
 <SOAP-ENV:Body><wsnt:Notify>
  <wsnt:NotificationMessage>
   <wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:RuleEngine/MyRuleDetector/Visitor</wsnt:Topic>
   <wsnt:Message><tt:Message UtcTime="2026-01-01T00:00:00Z" PropertyOperation="Changed">
    <tt:Source><tt:SimpleItem Name="Source" Value="000"/></tt:Source>
    <tt:Data><tt:SimpleItem Name="State" Value="true"/></tt:Data>
   </tt:Message></wsnt:Message>
  </wsnt:NotificationMessage>
  <wsnt:NotificationMessage>
   <wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:RuleEngine/CellMotionDetector/Motion</wsnt:Topic>
   <wsnt:Message><tt:Message UtcTime="2026-01-01T00:00:01Z" PropertyOperation="Changed">
    <tt:Data><tt:SimpleItem Name="IsMotion" Value="true"/></tt:Data>
   </tt:Message></wsnt:Message>
  </wsnt:NotificationMessage>
 </wsnt:Notify></SOAP-ENV:Body>
</SOAP-ENV:Envelope>"#;

    #[test]
    fn a_notify_reads_like_a_pull_answer() {
        let got = parse_notify(NOTIFY.as_bytes()).unwrap();
        assert_eq!(got.len(), 2);
        assert!(
            got[0].topic.ends_with("MyRuleDetector/Visitor"),
            "{:?}",
            got[0].topic
        );
        assert!(
            got[1].topic.ends_with("CellMotionDetector/Motion"),
            "{:?}",
            got[1].topic
        );
    }

    #[test]
    fn a_body_that_is_no_notify_is_refused_with_its_reason() {
        let table: [(&[u8], &str); 4] = [
            (b"not xml at all", "not a readable XML"),
            (b"<a/>", "instead of an Envelope"),
            (
                br#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body/></s:Envelope>"#,
                "no wsnt:Notify",
            ),
            (
                br#"<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>"#,
                "not a readable XML",
            ),
        ];
        assert!(!table.is_empty());
        for (body, want) in table {
            let err = parse_notify(body).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
    }

    #[test]
    fn invalid_utf8_is_replaced_not_refused() {
        let mut body = NOTIFY.as_bytes().to_vec();
        let at = NOTIFY.find("Value=\"000\"").unwrap() + 7;
        body[at] = 0xff;
        assert_eq!(parse_notify(&body).unwrap().len(), 2);
    }

    #[test]
    fn the_consumer_url_is_escaped_in_subscribe() {
        let body = subscribe_body("http://h/push/a/b?x=1&y=2", "PT60S");
        assert!(body.contains("x=1&amp;y=2"), "{body}");
        assert!(
            body.contains("<wsnt:InitialTerminationTime>PT60S<"),
            "{body}"
        );
    }
}
