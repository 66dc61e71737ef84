//! A parsed ONVIF `NotificationMessage`: what the camera sent, before any interpretation.
//!
//! [`super::xml::parse_messages`] / [`super::xml::notifications_in`] turn a PullMessagesResponse
//! into these; [`crate::normalise`] turns them into [`crate::event::Event`]s. No XML text leaves
//! [`super`]: an ElementItem arrives here already read into [`ElementItem::items`].

use crate::event::{Items, Operation};

/// One NotificationMessage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notification {
    /// Canonical topic: trimmed, trailing `/` and `/.` removed, every prefix resolved through
    /// the in-scope namespaces and written with the conventional prefix (`tns1`, `tnsaxis`, ...).
    pub topic: String,
    /// The topic text exactly as sent (trimmed), for diagnosis.
    pub raw_topic: String,
    /// Source SimpleItems in document order.
    pub source: Items,
    /// Key SimpleItems in document order.
    pub key: Items,
    /// Data SimpleItems in document order.
    pub data: Items,
    /// Data ElementItems in document order, read into items.
    pub elements: Vec<ElementItem>,
    /// The PropertyOperation attribute, if any.
    pub operation: Option<Operation>,
    /// The UtcTime attribute exactly as sent.
    pub utc_time: Option<String>,
}

impl Notification {
    /// The first ElementItem whose name matches `name` ignoring ASCII case.
    pub fn element(&self, name: &str) -> Option<&ElementItem> {
        self.elements
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case(name))
    }

    /// The ElementItems' items with the ElementItem's name in front of each path
    /// (`Objects/Objects/Human`), the form the event's `data` carries.
    pub fn element_data(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.elements.iter().flat_map(|e| {
            e.items
                .0
                .iter()
                .map(move |(path, value)| (format!("{}/{path}", e.name), value.clone()))
        })
    }
}

/// One `tt:ElementItem`, read (by [`super::xml`], within its limits): its `Name` and its content
/// as `(path, value)` items in document order.
///
/// A path is the local names from the ElementItem down, joined with `/` (`Objects/Human`);
/// a name that repeats among its siblings gets its 1-based position (`Polygon/Point[2]`), an
/// attribute is `@name` after its element (`Polygon/Point[2]@x`). Values are the trimmed text
/// of leaf elements (elements without child elements) and attribute values; a leaf with
/// attributes but no text has only its attribute items. Prefixes and namespaces are dropped:
/// vendors declare their own, and only local names are matched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElementItem {
    /// The `Name` attribute, trimmed.
    pub name: String,
    /// The content, as described on the type.
    pub items: Items,
}

impl ElementItem {
    /// The leaf elements (not attributes): their local name (without position) and text, in
    /// order. `Objects/Human` = `true` gives (`Human`, `true`).
    pub fn leaves(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.items.0.iter().filter_map(|(path, value)| {
            let last = path.rsplit('/').next().unwrap_or(path);
            if last.contains('@') {
                return None;
            }
            let name = last.split('[').next().unwrap_or(last);
            Some((name, value.as_str()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(path: &str, value: &str) -> (String, String) {
        (path.to_owned(), value.to_owned())
    }

    #[test]
    fn leaves_skip_attributes_and_drop_positions() {
        let e = ElementItem {
            name: "Region".into(),
            items: Items(vec![
                item("Polygon/Point[1]@x", "0.1"),
                item("Polygon/Point[2]", "p"),
                item("Objects/Human", "true"),
            ]),
        };
        let leaves: Vec<_> = e.leaves().collect();
        assert_eq!(leaves, [("Point", "p"), ("Human", "true")]);
        let n = Notification {
            elements: vec![e],
            ..Notification::default()
        };
        assert!(n.element("region").is_some() && n.element("Other").is_none());
        let data: Vec<_> = n.element_data().collect();
        assert_eq!(data[2], item("Region/Objects/Human", "true"));
    }
}
