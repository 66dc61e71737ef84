//! Reading an ElementItem's raw XML (Ajax `<Objects><Human>true</Human>...`).

/// Most prefixes declared when re-parsing a fragment.
const MAX_PREFIXES: usize = 32;

/// Leaf elements of `xml` whose text reads as a boolean: (local name, value), in order.
///
/// The fragment was cut from a larger document, so prefixes declared further up are missing;
/// it is wrapped in an element that declares every prefix it uses (with placeholder URIs:
/// only local names matter here). Anything unreadable gives an empty list.
pub fn boolean_children(xml: &str) -> Vec<(String, bool)> {
    let mut wrapped = String::from("<fragment");
    for (i, prefix) in prefixes(xml).into_iter().enumerate() {
        wrapped.push_str(&format!(" xmlns:{prefix}=\"urn:doorbell-bridge:{i}\""));
    }
    wrapped.push('>');
    wrapped.push_str(xml);
    wrapped.push_str("</fragment>");
    let Ok(doc) = crate::onvif::document::parse(&wrapped) else {
        return Vec::new();
    };
    doc.root_element()
        .descendants()
        .filter(|n| n.is_element() && !n.children().any(|c| c.is_element()))
        .filter_map(|n| {
            let value = super::classify::parse_bool(n.text().unwrap_or(""))?;
            Some((n.tag_name().name().to_owned(), value))
        })
        .collect()
}

/// Names directly followed by `:` that could be prefixes (`xml` and `xmlns` excluded).
fn prefixes(xml: &str) -> Vec<&str> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    let mut out: Vec<&str> = Vec::new();
    let mut start = None;
    for (i, c) in xml.char_indices() {
        match (c, start) {
            (c, None) if c.is_ascii_alphabetic() || c == '_' => start = Some(i),
            (c, Some(_)) if is_name(c) => {}
            (':', Some(s)) => {
                let name = &xml[s..i];
                if !matches!(name, "xml" | "xmlns") && !out.contains(&name) {
                    out.push(name);
                }
                start = None;
            }
            _ => start = None,
        }
        if out.len() >= MAX_PREFIXES {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_leaves_with_or_without_declarations() {
        let declared = r#"<tnsajax:Objects xmlns:tnsajax="http://ajax.systems/onvif/wsdl">
  <tnsajax:Human>true</tnsajax:Human>
  <tnsajax:Vehicle>false</tnsajax:Vehicle>
</tnsajax:Objects>"#;
        let want = vec![("Human".to_owned(), true), ("Vehicle".to_owned(), false)];
        assert_eq!(boolean_children(declared), want);
        let undeclared = "<ajax:Objects><ajax:Human>true</ajax:Human><ajax:Vehicle>0</ajax:Vehicle></ajax:Objects>";
        assert_eq!(boolean_children(undeclared), want);
        assert!(boolean_children("<a><b>maybe</b></a>").is_empty());
        assert!(boolean_children("<<<").is_empty());
        assert!(boolean_children("").is_empty());
    }
}
