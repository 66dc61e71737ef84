//! PullMessagesResponse -> [`Notification`]s: topic canonicalisation and item extraction.
//!
//! Elements are matched by namespace URI and local name, never by prefix: devices write the
//! envelope as `SOAP-ENV`, `env` or `s` and declare 20-40 namespaces (reference §3.29-30).
//! Parsing is tolerant: every `wsnt:NotificationMessage` is read (Reolink puts several in one
//! response, §3.32), the `tt:Message` may lack its `wsnt:Message` wrapper (§3.33), `tt:Key` may
//! hold `SimpleItemDescription` instead of `SimpleItem` (Hanwha, §3.12), `<tt:Source/>` may be
//! empty (Axis ACAP), the Dialect is ignored (§3.34) and `UtcTime` is kept as sent (§3.17).

use super::Notification;
use super::topic;
use crate::event::{Items, Operation};

/// WS-BaseNotification namespace (`wsnt`).
pub const WSNT: &str = "http://docs.oasis-open.org/wsn/b-2";
/// ONVIF schema namespace (`tt`).
pub const TT: &str = "http://www.onvif.org/ver10/schema";
pub use super::document::MAX_NODES;
/// Longest ElementItem content, SimpleItem name or value kept (bytes); longer text is cut at a
/// character boundary, so a camera cannot make every event message megabytes long.
pub const MAX_ELEMENT_BYTES: usize = 8 * 1024;

/// Why a document could not be read as notifications.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The text is not well-formed XML, has a DTD, or is past a limit of [`super::document`].
    #[error("notification document refused; the camera sent a broken response")]
    Xml(#[source] super::document::XmlError),
}

/// Parses a whole document (a PullMessagesResponse envelope, a Notify, or any XML holding
/// NotificationMessages) and returns its notifications in document order.
pub fn parse_messages(xml: &str) -> Result<Vec<Notification>, ParseError> {
    let doc = super::document::parse(xml).map_err(ParseError::Xml)?;
    Ok(notifications_in(doc.root()))
}

/// Every NotificationMessage below `node`, in document order.
pub fn notifications_in(node: roxmltree::Node<'_, '_>) -> Vec<Notification> {
    node.descendants()
        .filter(|n| is(n, WSNT, "NotificationMessage"))
        .map(notification)
        .collect()
}

/// Whether `node` is the element `{ns}local`.
fn is(node: &roxmltree::Node<'_, '_>, ns: &str, local: &str) -> bool {
    let name = node.tag_name();
    node.is_element() && name.name() == local && name.namespace() == Some(ns)
}

fn child<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    ns: &str,
    local: &str,
) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|n| is(n, ns, local))
}

fn notification(msg: roxmltree::Node<'_, '_>) -> Notification {
    let mut n = Notification::default();
    if let Some(t) = child(msg, WSNT, "Topic") {
        let text: String = t
            .descendants()
            .filter(|d| d.is_text())
            .filter_map(|d| d.text())
            .collect();
        n.raw_topic = text.trim().to_owned();
        n.topic = topic::canonical(&text, |prefix| t.lookup_namespace_uri(prefix));
    }
    // `wsnt:Message/tt:Message`, or a bare `tt:Message` (§3.33): the first tt:Message below.
    let Some(m) = msg.descendants().find(|d| is(d, TT, "Message")) else {
        return n;
    };
    n.operation = m.attribute("PropertyOperation").and_then(Operation::parse);
    n.utc_time = m.attribute("UtcTime").map(str::to_owned);
    if let Some(source) = child(m, TT, "Source") {
        n.source = simple_items(source);
    }
    if let Some(key) = child(m, TT, "Key") {
        n.key = simple_items(key);
    }
    if let Some(data) = child(m, TT, "Data") {
        n.data = simple_items(data);
        n.elements = element_items(data);
    }
    n
}

/// `SimpleItem Name= Value=` children in document order. Accepts `SimpleItemDescription`
/// (seen inside `tt:Key` from Hanwha) and a value given as text instead of an attribute.
fn simple_items(node: roxmltree::Node<'_, '_>) -> Items {
    let items = node
        .children()
        .filter(|c| {
            c.is_element() && matches!(c.tag_name().name(), "SimpleItem" | "SimpleItemDescription")
        })
        .filter_map(|c| {
            let name = c.attribute("Name")?.trim();
            let value = c
                .attribute("Value")
                .or_else(|| c.text())
                .unwrap_or("")
                .trim();
            Some((
                cut(name, MAX_ELEMENT_BYTES).to_owned(),
                cut(value, MAX_ELEMENT_BYTES).to_owned(),
            ))
        })
        .collect();
    Items(items)
}

/// `ElementItem Name=` children: name and the raw XML of their content, as the document
/// spelled it (prefixes declared further up are not repeated).
fn element_items(node: roxmltree::Node<'_, '_>) -> Items {
    let input = node.document().input_text();
    let items = node
        .children()
        .filter(|c| c.is_element() && c.tag_name().name() == "ElementItem")
        .map(|c| {
            let name = c.attribute("Name").unwrap_or("").trim().to_owned();
            let content = match (c.first_child(), c.last_child()) {
                (Some(first), Some(last)) => input
                    .get(first.range().start..last.range().end)
                    .unwrap_or(""),
                _ => "",
            };
            (name, cut(content.trim(), MAX_ELEMENT_BYTES).to_owned())
        })
        .collect();
    Items(items)
}

/// `text` cut to at most `max` bytes at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENVELOPE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"
  xmlns:w="http://docs.oasis-open.org/wsn/b-2" xmlns:o="http://www.onvif.org/ver10/schema"
  xmlns:x="http://www.onvif.org/ver10/topics" xmlns:ax="http://www.axis.com/2009/event/topics">
<s:Body><PullMessagesResponse xmlns="http://www.onvif.org/ver10/events/wsdl">
<w:NotificationMessage>
  <w:Topic Dialect="anything at all">
    x:Device/ax:IO/Port/ </w:Topic>
  <w:Message><o:Message UtcTime="2026-01-01T10:00:00.123456" PropertyOperation="Changed">
    <o:Source><o:SimpleItem Name="port" Value="0"/></o:Source>
    <o:Key><o:SimpleItemDescription Name="ROIID" Value="1"/></o:Key>
    <o:Data><o:SimpleItem Name="state" Value="1"/>
      <o:ElementItem Name="Objects"><a:Objects xmlns:a="urn:a"><a:Human>true</a:Human></a:Objects></o:ElementItem>
    </o:Data>
  </o:Message></w:Message>
</w:NotificationMessage>
<w:NotificationMessage>
  <w:Topic xmlns:y="http://www.onvif.org/ver10/topics">y:RuleEngine/y:Thing</w:Topic>
  <o:Message><o:Source/><o:Data><o:SimpleItem Name="State" Value="true"/></o:Data></o:Message>
</w:NotificationMessage>
<NotificationMessage>not wsnt: ignored</NotificationMessage>
</PullMessagesResponse></s:Body></s:Envelope>"#;

    #[test]
    fn reads_every_message_by_namespace() {
        let ns = parse_messages(ENVELOPE).unwrap();
        assert_eq!(ns.len(), 2);
        let a = &ns[0];
        assert_eq!(a.topic, "tns1:Device/tnsaxis:IO/Port");
        assert_eq!(a.raw_topic, "x:Device/ax:IO/Port/");
        assert_eq!(a.source.get("port"), Some("0"));
        assert_eq!(a.key.get("ROIID"), Some("1"));
        assert_eq!(a.data.get("state"), Some("1"));
        assert_eq!(
            a.elements.get("Objects"),
            Some(r#"<a:Objects xmlns:a="urn:a"><a:Human>true</a:Human></a:Objects>"#)
        );
        assert_eq!(a.operation, Some(Operation::Changed));
        assert_eq!(a.utc_time.as_deref(), Some("2026-01-01T10:00:00.123456"));
        let b = &ns[1];
        assert_eq!(b.topic, "tns1:RuleEngine/Thing");
        assert!(b.source.is_empty());
        assert_eq!(b.data.get("State"), Some("true"));
        assert_eq!(b.operation, None);
    }

    #[test]
    fn broken_xml_is_an_error() {
        assert!(parse_messages("<a><b></a>").is_err());
        assert!(parse_messages("<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>").is_err());
        assert!(parse_messages("<a/>").unwrap().is_empty());
    }

    #[test]
    fn cut_keeps_characters_whole() {
        assert_eq!(cut("héllo", 2), "h");
        assert_eq!(cut("abc", 5), "abc");
    }
}
