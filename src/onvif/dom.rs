//! Namespace-aware lookups on roxmltree nodes. Elements are matched by namespace URI and local
//! name, never by prefix: cameras write `SOAP-ENV:`, `env:`, `s:` and more for the same thing.

use roxmltree::Node;

/// The first child element named `name` in one of `namespaces`.
pub(crate) fn child<'a, 'i>(
    node: Node<'a, 'i>,
    namespaces: &[&str],
    name: &str,
) -> Option<Node<'a, 'i>> {
    node.children().find(|n| is(*n, namespaces, name))
}

/// Every child element named `name` in one of `namespaces`.
pub(crate) fn children<'a, 'i: 'a>(
    node: Node<'a, 'i>,
    namespaces: &'a [&'a str],
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.children().filter(move |n| is(*n, namespaces, name))
}

/// The first descendant element (or `node` itself) named `name` in one of `namespaces`.
pub(crate) fn descendant<'a, 'i>(
    node: Node<'a, 'i>,
    namespaces: &[&str],
    name: &str,
) -> Option<Node<'a, 'i>> {
    node.descendants().find(|n| is(*n, namespaces, name))
}

/// Whether `node` is an element named `name` in one of `namespaces`.
pub(crate) fn is(node: Node<'_, '_>, namespaces: &[&str], name: &str) -> bool {
    node.is_element()
        && node.tag_name().name() == name
        && node
            .tag_name()
            .namespace()
            .is_some_and(|ns| namespaces.contains(&ns))
}

/// The trimmed text of `node`, `None` when empty.
pub(crate) fn text(node: Node<'_, '_>) -> Option<String> {
    let t: String = node
        .children()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect();
    let t = t.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// The trimmed text of the child `name`, `None` when missing or empty.
pub(crate) fn child_text(node: Node<'_, '_>, namespaces: &[&str], name: &str) -> Option<String> {
    child(node, namespaces, name).and_then(text)
}

/// The element's source text, made self-contained: namespace declarations it relies on from
/// its ancestors are added to its start tag, so it can be pasted into another document.
pub(crate) fn self_contained(node: Node<'_, '_>) -> String {
    let source = &node.document().input_text()[node.range()];
    let start_tag_end = source.find('>').unwrap_or(source.len());
    let start_tag = &source[..start_tag_end];
    let name_end = start_tag
        .find(|c: char| c.is_whitespace() || c == '/')
        .unwrap_or(start_tag.len());
    let mut declarations = String::new();
    for ns in node.namespaces() {
        let (decl, used) = match ns.name() {
            Some("xml") => continue,
            Some(prefix) => (
                format!("xmlns:{prefix}"),
                source.contains(&format!("{prefix}:")),
            ),
            None => ("xmlns".to_owned(), !start_tag[1..name_end].contains(':')),
        };
        if used && !start_tag.contains(&format!("{decl}=")) {
            let uri = quick_xml::escape::escape(ns.uri());
            declarations.push_str(&format!(" {decl}=\"{uri}\""));
        }
    }
    format!(
        "{}{}{}",
        &source[..name_end],
        declarations,
        &source[name_end..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_contained_adds_inherited_declarations() {
        let xml = r#"<a xmlns:x="urn:x" xmlns:unused="urn:u" xmlns:y="urn:y"><x:Id y:attr="1">42</x:Id><Plain xmlns="urn:d"/><z:K xmlns:z="urn:z">k</z:K></a>"#;
        let doc = roxmltree::Document::parse(xml).unwrap();
        let kids: Vec<_> = doc.root_element().children().collect();
        assert_eq!(
            self_contained(kids[0]),
            r#"<x:Id xmlns:x="urn:x" xmlns:y="urn:y" y:attr="1">42</x:Id>"#
        );
        assert_eq!(self_contained(kids[1]), r#"<Plain xmlns="urn:d"/>"#);
        assert_eq!(self_contained(kids[2]), r#"<z:K xmlns:z="urn:z">k</z:K>"#);
        for k in kids {
            roxmltree::Document::parse(&self_contained(k)).unwrap();
        }
    }
}
