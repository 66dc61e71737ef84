//! PullMessagesResponse -> [`Notification`]s: topic canonicalisation and item extraction.
//!
//! Elements are matched by namespace URI and local name, never by prefix: devices write the
//! envelope as `SOAP-ENV`, `env` or `s` and declare 20-40 namespaces (reference §3.29-30).
//! Parsing is tolerant: every `wsnt:NotificationMessage` is read (Reolink puts several in one
//! response, §3.32), the `tt:Message` may lack its `wsnt:Message` wrapper (§3.33), `tt:Key` may
//! hold `SimpleItemDescription` instead of `SimpleItem` (Hanwha, §3.12), `<tt:Source/>` may be
//! empty (Axis ACAP), the Dialect is ignored (§3.34) and `UtcTime` is kept as sent (§3.17).

use std::collections::HashMap;

use super::Notification;
use super::notification::ElementItem;
use super::topic;
use crate::event::{Items, Operation};

/// WS-BaseNotification namespace (`wsnt`).
pub const WSNT: &str = "http://docs.oasis-open.org/wsn/b-2";
/// ONVIF schema namespace (`tt`).
pub const TT: &str = "http://www.onvif.org/ver10/schema";
pub use super::document::MAX_NODES;
/// Longest SimpleItem name or value kept, and most bytes of one ElementItem's items (paths and
/// values together); longer text is cut at a character boundary, so a camera cannot make every
/// event message megabytes long.
pub const MAX_ELEMENT_BYTES: usize = 8 * 1024;
/// Most items read from one ElementItem. The busiest shapes known (an object with its class,
/// likelihood and a bounding box, a polygon of a few points) have a few dozen.
pub const MAX_ELEMENT_ITEMS: usize = 128;

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

/// `ElementItem Name=` children, read into items (see [`ElementItem`] for the paths). Each
/// ElementItem keeps at most [`MAX_ELEMENT_ITEMS`] items and [`MAX_ELEMENT_BYTES`] of paths and
/// values together; the item that crosses the byte limit is cut and reading stops there.
fn element_items(node: roxmltree::Node<'_, '_>) -> Vec<ElementItem> {
    node.children()
        .filter(|c| c.is_element() && c.tag_name().name() == "ElementItem")
        .map(|c| {
            let mut reader = ElementReader {
                items: Vec::new(),
                budget: MAX_ELEMENT_BYTES,
            };
            reader.children(c, "");
            ElementItem {
                name: cut(c.attribute("Name").unwrap_or("").trim(), MAX_ELEMENT_BYTES).to_owned(),
                items: Items(reader.items),
            }
        })
        .collect()
}

/// Walks one ElementItem's content, once, in document order. Recursion is bounded by
/// [`super::document::MAX_DEPTH`], which the document passed before it was parsed.
struct ElementReader {
    items: Vec<(String, String)>,
    /// Bytes of paths and values still allowed.
    budget: usize,
}

impl ElementReader {
    fn full(&self) -> bool {
        self.budget == 0 || self.items.len() >= MAX_ELEMENT_ITEMS
    }

    /// Adds one item, cut to what is left of the budget; `false` once full.
    fn push(&mut self, path: String, value: &str) -> bool {
        if self.full() || path.len() >= self.budget {
            self.budget = 0;
            return false;
        }
        let value = cut(value.trim(), self.budget - path.len());
        self.budget -= path.len() + value.len();
        self.items.push((path, value.to_owned()));
        !self.full()
    }

    /// The child elements of `parent` (whose path is `prefix`), positions for repeated names.
    fn children(&mut self, parent: roxmltree::Node<'_, '_>, prefix: &str) {
        let elements = || parent.children().filter(roxmltree::Node::is_element);
        let mut total: HashMap<&str, usize> = HashMap::new();
        for child in elements() {
            *total.entry(child.tag_name().name()).or_default() += 1;
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for child in elements() {
            if self.full() {
                return;
            }
            let name = child.tag_name().name();
            let position = seen.entry(name).or_default();
            *position += 1;
            let segment = match total.get(name) {
                Some(&n) if n > 1 => format!("{name}[{position}]"),
                _ => name.to_owned(),
            };
            let path = if prefix.is_empty() {
                segment
            } else {
                format!("{prefix}/{segment}")
            };
            self.element(child, path);
        }
    }

    fn element(&mut self, node: roxmltree::Node<'_, '_>, path: String) {
        let mut attributes = false;
        for attribute in node.attributes() {
            attributes = true;
            if !self.push(format!("{path}@{}", attribute.name()), attribute.value()) {
                return;
            }
        }
        if node.children().any(|c| c.is_element()) {
            self.children(node, &path);
        } else {
            let text = node.text().unwrap_or("").trim();
            if !text.is_empty() || !attributes {
                self.push(path, text);
            }
        }
    }
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
        assert_eq!(a.elements.len(), 1);
        assert_eq!(a.elements[0].name, "Objects");
        assert_eq!(a.elements[0].items.get("Objects/Human"), Some("true"));
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

    /// One NotificationMessage whose Data holds `elements`, with the envelope declaring `tt`
    /// and the vendor prefixes (as Hikvision and Ajax do) so the content does not repeat them.
    fn with_elements(elements: &str) -> Notification {
        let xml = format!(
            r#"<e xmlns:wsnt="{WSNT}" xmlns:tt="{TT}" xmlns:ajax="http://ajax.systems/onvif/wsdl"><wsnt:NotificationMessage><wsnt:Topic>tns1:X</wsnt:Topic><wsnt:Message><tt:Message UtcTime="2026-03-08T16:20:00Z" PropertyOperation="Changed"><tt:Source/><tt:Data>{elements}</tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage></e>"#
        );
        let mut ns = parse_messages(&xml).unwrap();
        assert_eq!(ns.len(), 1);
        ns.remove(0)
    }

    fn items(e: &ElementItem) -> Vec<(&str, &str)> {
        e.items
            .0
            .iter()
            .map(|(p, v)| (p.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn element_items_are_read_into_items() {
        // Ajax ObjectDetector (home-assistant/core#160692): classes as boolean leaves, the
        // prefix declared on the envelope only; its LineDetector: a leaf with attributes only.
        let n = with_elements(
            r#"<tt:ElementItem Name="Objects">
  <ajax:Objects><ajax:Human>true</ajax:Human><ajax:Vehicle>false</ajax:Vehicle><ajax:Pet>false</ajax:Pet></ajax:Objects>
</tt:ElementItem><tt:ElementItem Name="LineCrossing"><ajax:LineCrossing><ajax:Line id="0" index="0" points="0.77 0.7 0.48 0.037"/></ajax:LineCrossing></tt:ElementItem>"#,
        );
        assert_eq!(n.elements.len(), 2);
        assert_eq!(
            items(&n.elements[0]),
            [
                ("Objects/Human", "true"),
                ("Objects/Vehicle", "false"),
                ("Objects/Pet", "false")
            ]
        );
        assert_eq!(
            items(&n.elements[1]),
            [
                ("LineCrossing/Line@id", "0"),
                ("LineCrossing/Line@index", "0"),
                ("LineCrossing/Line@points", "0.77 0.7 0.48 0.037")
            ]
        );
        assert_eq!(
            n.elements[0].leaves().collect::<Vec<_>>(),
            [("Human", "true"), ("Vehicle", "false"), ("Pet", "false")]
        );
    }

    #[test]
    fn analytics_element_items_keep_positions_and_attributes() {
        // The ONVIF analytics shapes Axis, Bosch and Hikvision cameras use for rule regions
        // and detected objects (tt:Polygon of tt:Point, tt:Object with Appearance/Class).
        let n = with_elements(
            r#"<tt:ElementItem Name="Field"><tt:Polygon><tt:Point x="0.1" y="0.2"/><tt:Point x="0.9" y="0.2"/><tt:Point x="0.5" y="0.8"/></tt:Polygon></tt:ElementItem><tt:ElementItem Name="Object"><tt:Object ObjectId="7"><tt:Appearance><tt:Shape><tt:BoundingBox left="-0.5" top="0.4" right="-0.2" bottom="0.1"/></tt:Shape><tt:Class><tt:ClassCandidate><tt:Type>Human</tt:Type><tt:Likelihood>0.8</tt:Likelihood></tt:ClassCandidate><tt:Type Likelihood="0.9">Human</tt:Type></tt:Class></tt:Appearance></tt:Object></tt:ElementItem><tt:ElementItem Name="Empty"/>"#,
        );
        let field = &n.elements[0];
        assert_eq!(field.name, "Field");
        assert_eq!(field.items.0.len(), 6);
        assert_eq!(field.items.get("Polygon/Point[1]@x"), Some("0.1"));
        assert_eq!(field.items.get("Polygon/Point[3]@y"), Some("0.8"));
        let object = n.element("object").unwrap();
        assert_eq!(
            items(object),
            [
                ("Object@ObjectId", "7"),
                ("Object/Appearance/Shape/BoundingBox@left", "-0.5"),
                ("Object/Appearance/Shape/BoundingBox@top", "0.4"),
                ("Object/Appearance/Shape/BoundingBox@right", "-0.2"),
                ("Object/Appearance/Shape/BoundingBox@bottom", "0.1"),
                ("Object/Appearance/Class/ClassCandidate/Type", "Human"),
                ("Object/Appearance/Class/ClassCandidate/Likelihood", "0.8"),
                ("Object/Appearance/Class/Type@Likelihood", "0.9"),
                ("Object/Appearance/Class/Type", "Human"),
            ]
        );
        assert_eq!(n.elements[2].name, "Empty");
        assert!(n.elements[2].items.is_empty());
    }

    #[test]
    fn element_items_are_bounded() {
        let points: String = (0..MAX_ELEMENT_ITEMS + 10)
            .map(|i| format!("<tt:P>{i}</tt:P>"))
            .collect();
        let n = with_elements(&format!(
            r#"<tt:ElementItem Name="Many">{points}</tt:ElementItem>"#
        ));
        assert_eq!(n.elements[0].items.0.len(), MAX_ELEMENT_ITEMS);
        assert_eq!(n.elements[0].items.0[0], ("P[1]".into(), "0".into()));

        let huge = "v".repeat(3 * MAX_ELEMENT_BYTES);
        let n = with_elements(&format!(
            r#"<tt:ElementItem Name="Big"><tt:A>{huge}</tt:A><tt:B>lost</tt:B></tt:ElementItem>"#
        ));
        let big = &n.elements[0];
        assert_eq!(big.items.0.len(), 1);
        let used: usize = big.items.0.iter().map(|(p, v)| p.len() + v.len()).sum();
        assert_eq!(used, MAX_ELEMENT_BYTES);
    }

    #[test]
    fn cut_keeps_characters_whole() {
        assert_eq!(cut("héllo", 2), "h");
        assert_eq!(cut("abc", 5), "abc");
    }
}
