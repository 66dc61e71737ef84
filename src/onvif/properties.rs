//! GetEventProperties: which topics a camera says it can send, as canonical strings such as
//! `tns1:RuleEngine/CellMotionDetector/Motion` or `tns1:Device/tnsaxis:IO/Port`.
//!
//! Capabilities are hints (a camera advertised pull points and then refused to create one,
//! agsh/onvif#200); we log these topics for the user and never gate on them.

use roxmltree::Node;
use url::Url;

use super::client::{Call, Expect};
use super::soap::{NS_EVENTS, NS_SCHEMA, NS_TOPICS, NS_WSTOP};
use super::{Client, Error, dom};

const ACTION: &str =
    "http://www.onvif.org/ver10/events/wsdl/EventPortType/GetEventPropertiesRequest";

/// Every topic in a GetEventPropertiesResponse's TopicSet, in document order (pure).
///
/// A topic is an element marked `wstop:topic="true"` or carrying a `MessageDescription`. The
/// path joins element names with `/`; the first segment, and any segment in another namespace
/// than its parent, gets a prefix: `tns1` for the ONVIF namespace, else the camera's own.
pub fn topics_in(response: Node<'_, '_>) -> Vec<String> {
    let Some(set) = dom::child(response, &[NS_WSTOP], "TopicSet") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for root in set.children().filter(|n| n.is_element()) {
        walk(root, None, &mut String::new(), &mut out);
    }
    out
}

fn walk(node: Node<'_, '_>, parent_ns: Option<&str>, path: &mut String, out: &mut Vec<String>) {
    if dom::is(node, &[NS_SCHEMA], "MessageDescription") {
        return;
    }
    let len = path.len();
    if !path.is_empty() {
        path.push('/');
    }
    let ns = node.tag_name().namespace();
    if (ns != parent_ns || len == 0)
        && let Some(prefix) = ns.and_then(|uri| prefix_for(node, uri))
    {
        path.push_str(&prefix);
        path.push(':');
    }
    path.push_str(node.tag_name().name());
    let marked = node
        .attribute((NS_WSTOP, "topic"))
        .is_some_and(|v| v.trim() == "true");
    let described = dom::child(node, &[NS_SCHEMA], "MessageDescription").is_some();
    if marked || described {
        out.push(path.clone());
    }
    for child in node.children().filter(|n| n.is_element()) {
        walk(child, ns, path, out);
    }
    path.truncate(len);
}

fn prefix_for(node: Node<'_, '_>, uri: &str) -> Option<String> {
    if uri == NS_TOPICS {
        return Some("tns1".into());
    }
    node.lookup_prefix(uri).map(str::to_owned)
}

impl Client {
    /// GetEventProperties on the event service at `events`: the topics the camera advertises.
    pub async fn event_topics(&self, events: &Url) -> Result<Vec<String>, Error> {
        let call = Call::new(
            events,
            ACTION,
            "<tev:GetEventProperties/>",
            Expect::Payload(&[NS_EVENTS], "GetEventPropertiesResponse"),
        )
        .addressed(events.as_str(), &[]);
        self.call(call, |r| Ok(topics_in(r))).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onvif::client::read_payload;

    const RESPONSE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope"
  xmlns:tev="http://www.onvif.org/ver10/events/wsdl" xmlns:wstop="http://docs.oasis-open.org/wsn/t-1"
  xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tns1="http://www.onvif.org/ver10/topics"
  xmlns:tnsaxis="http://www.axis.com/2009/event/topics" xmlns:unused1="urn:a" xmlns:unused2="urn:b">
<SOAP-ENV:Body><tev:GetEventPropertiesResponse>
<tev:TopicNamespaceLocation>http://www.onvif.org/onvif/ver10/topics/topicns.xml</tev:TopicNamespaceLocation>
<wstop:TopicSet>
  <tns1:RuleEngine><CellMotionDetector><Motion wstop:topic="true">
    <tt:MessageDescription IsProperty="true"><tt:Source><tt:SimpleItemDescription Name="VideoSourceConfigurationToken" Type="tt:ReferenceToken"/></tt:Source></tt:MessageDescription>
  </Motion></CellMotionDetector></tns1:RuleEngine>
  <tns1:Device><tnsaxis:IO><tnsaxis:Port wstop:topic="true"/></tnsaxis:IO>
    <tns1:Trigger><tns1:DigitalInput><tt:MessageDescription IsProperty="true"/></tns1:DigitalInput></tns1:Trigger>
  </tns1:Device>
  <tnsaxis:CameraApplicationPlatform><tnsaxis:VMD><tnsaxis:Camera1ProfileANY wstop:topic="true"/></tnsaxis:VMD></tnsaxis:CameraApplicationPlatform>
</wstop:TopicSet>
</tev:GetEventPropertiesResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;

    #[test]
    fn topics_are_canonical_paths() {
        let url: Url = "http://cam/onvif/event".parse().unwrap();
        let topics = read_payload(
            &url,
            RESPONSE,
            &[NS_EVENTS],
            "GetEventPropertiesResponse",
            |r| Ok(topics_in(r)),
        )
        .unwrap();
        assert_eq!(
            topics,
            [
                "tns1:RuleEngine/CellMotionDetector/Motion",
                "tns1:Device/tnsaxis:IO/Port",
                "tns1:Device/Trigger/DigitalInput",
                "tnsaxis:CameraApplicationPlatform/VMD/Camera1ProfileANY",
            ]
        );
    }
}
