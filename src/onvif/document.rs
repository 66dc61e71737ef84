//! Untrusted XML in, a roxmltree [`Document`] out, under limits that keep a hostile camera (or
//! anyone answering a WS-Discovery probe) from using unbounded time or memory.
//!
//! roxmltree refuses DTDs (so no entity expansion, billion laughs included) and bounds the node
//! count, but some shapes of input cost it far more than their size: namespace declarations are
//! copied into every element below them and checked against each other (116 KB of nested
//! declarations took 21 s), and an element's attributes are compared pairwise for duplicates
//! (1 MB of attributes on one element took 17 s). So a linear pre-pass with quick-xml's
//! streaming reader counts depth, attributes per element and namespace declarations, and
//! refuses the document before roxmltree sees it. Every XML reader of the crate goes through
//! [`parse`]: SOAP answers, notifications, WS-Discovery datagrams and the simulator's requests.

use quick_xml::events::Event;
use roxmltree::{Document, ParsingOptions};

/// Deepest element nesting accepted. ONVIF answers are about 10 deep (the deepest fixture is
/// 10); analytics ElementItems add a few levels.
pub const MAX_DEPTH: usize = 128;
/// Most attributes (namespace declarations included) on one element. The busiest envelope we
/// know (Hikvision) declares 38 namespaces on its root.
pub const MAX_ATTRIBUTES: usize = 256;
/// Most namespace declarations in one document. A response with 100 NotificationMessages that
/// each re-declare their prefixes stays well below it.
pub const MAX_NAMESPACE_DECLARATIONS: usize = 1024;
/// Most XML nodes in one document: a response of 100 messages has a few thousand; the limit
/// keeps hostile input from using unbounded memory.
pub const MAX_NODES: u32 = 200_000;

#[cfg(test)]
thread_local! {
    /// Documents [`parse`] was asked for on this thread: tests check that an answer is parsed
    /// once.
    pub(crate) static PARSED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Why a document was refused.
#[derive(Debug, thiserror::Error)]
pub enum XmlError {
    /// Not well-formed XML (or a DTD, or more than [`MAX_NODES`] nodes).
    #[error("not well-formed XML ({0})")]
    Xml(#[from] roxmltree::Error),
    /// The streaming pre-pass could not read it.
    #[error("not well-formed XML ({0})")]
    Syntax(String),
    /// Well-formed, perhaps, but past one of the limits above.
    #[error("{0}; the document is refused as hostile or broken")]
    Limit(&'static str),
}

/// Parses untrusted `text` after checking it against the limits of this module. DTDs are
/// refused (roxmltree's `allow_dtd: false`), so no entity is ever expanded.
pub fn parse(text: &str) -> Result<Document<'_>, XmlError> {
    #[cfg(test)]
    PARSED.with(|p| p.set(p.get() + 1));
    check(text)?;
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..ParsingOptions::default()
    };
    Ok(Document::parse_with_options(text, options)?)
}

/// The linear pre-pass: depth, attributes per element, namespace declarations.
fn check(text: &str) -> Result<(), XmlError> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut depth = 0usize;
    let mut declarations = 0usize;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| XmlError::Syntax(e.to_string()))?;
        let (start, open) = match &event {
            Event::Start(s) => (s, true),
            Event::Empty(s) => (s, false),
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                continue;
            }
            Event::Eof => return Ok(()),
            _ => continue,
        };
        if open {
            depth += 1;
            if depth > MAX_DEPTH {
                return Err(XmlError::Limit("elements nested too deep"));
            }
        }
        let mut attributes = 0usize;
        for attribute in start.attributes().with_checks(false) {
            attributes += 1;
            if attributes > MAX_ATTRIBUTES {
                return Err(XmlError::Limit("too many attributes on one element"));
            }
            let is_declaration = attribute.is_ok_and(|a| {
                let key = a.key.0;
                key == "xmlns" || key.starts_with("xmlns:")
            });
            if is_declaration {
                declarations += 1;
                if declarations > MAX_NAMESPACE_DECLARATIONS {
                    return Err(XmlError::Limit("too many namespace declarations"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_documents_parse() {
        let doc = parse(r#"<?xml version="1.0"?><a xmlns="urn:a" x="1"><b/>text</a>"#).unwrap();
        assert_eq!(doc.root_element().tag_name().name(), "a");
        assert!(parse("\u{feff}<a/>").is_ok());
    }

    #[test]
    fn limits_are_enforced_before_parsing() {
        let deep = |n: usize| format!("{}{}", "<a>".repeat(n), "</a>".repeat(n));
        assert!(parse(&deep(MAX_DEPTH)).is_ok());
        assert!(matches!(
            parse(&deep(MAX_DEPTH + 1)),
            Err(XmlError::Limit(_))
        ));

        let attrs = |n: usize| {
            let list: String = (0..n).map(|i| format!(" a{i}=\"v\"")).collect();
            format!("<a{list}/>")
        };
        assert!(parse(&attrs(MAX_ATTRIBUTES)).is_ok());
        assert!(matches!(
            parse(&attrs(MAX_ATTRIBUTES + 1)),
            Err(XmlError::Limit(_))
        ));

        let declarations = |n: usize| {
            let kids: String = (0..n).map(|i| format!("<b xmlns:p=\"u{i}\"/>")).collect();
            format!("<a>{kids}</a>")
        };
        assert!(parse(&declarations(MAX_NAMESPACE_DECLARATIONS)).is_ok());
        let err = parse(&declarations(MAX_NAMESPACE_DECLARATIONS + 1)).unwrap_err();
        assert!(err.to_string().contains("namespace declarations"), "{err}");
    }

    #[test]
    fn dtds_and_broken_text_are_refused() {
        let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><lolz>&lol2;</lolz>"#;
        assert!(matches!(parse(laughs), Err(XmlError::Xml(_))));
        assert!(parse("<!DOCTYPE a><a/>").is_err());
        for bad in ["", "<a>", "<a></b>", "<a b='1' b='2'/>", "\u{0}"] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
