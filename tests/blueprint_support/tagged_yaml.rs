//! YAML read into a tree that keeps each node's tag, for Home Assistant's `!input`: the tree
//! yaml-rust2's loader builds drops tags it does not know, so this one is built from the
//! parser's events.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A YAML node with its tag (`Some("!input")` for `!input name`).
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A scalar: its text, whether it was plain (unquoted), its tag.
    Scalar {
        value: String,
        plain: bool,
        tag: Option<String>,
        line: usize,
    },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order (keys are scalars in the files we read).
    Map(Vec<(String, Node)>),
}

impl Node {
    /// The value under `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A scalar's text (tagged or not).
    pub fn str(&self) -> Option<&str> {
        match self {
            Node::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// The input a `!input name` scalar names.
    pub fn input_name(&self) -> Option<&str> {
        match self {
            Node::Scalar {
                value,
                tag: Some(t),
                ..
            } if t == "!input" => Some(value),
            _ => None,
        }
    }

    /// Every node below and including this one, with the path of mapping keys leading to it.
    pub fn walk<'a>(&'a self, path: &mut Vec<String>, out: &mut Vec<(String, &'a Node)>) {
        out.push((path.join("."), self));
        match self {
            Node::Scalar { .. } => {}
            Node::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(format!("[{i}]"));
                    item.walk(path, out);
                    path.pop();
                }
            }
            Node::Map(entries) => {
                for (k, v) in entries {
                    path.push(k.clone());
                    v.walk(path, out);
                    path.pop();
                }
            }
        }
    }
}

enum Open {
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>, Option<String>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    docs: Vec<Node>,
    error: Option<String>,
}

fn tag_name(tag: Option<Tag>) -> Option<String> {
    tag.map(|t| format!("{}{}", t.handle, t.suffix))
}

impl Builder {
    fn push(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Open::Seq(items)) => items.push(node),
            Some(Open::Map(entries, key)) => match key.take() {
                Some(k) => entries.push((k, node)),
                None => match node {
                    Node::Scalar { value, .. } => *key = Some(value),
                    other => {
                        self.error.get_or_insert(format!(
                            "a mapping key that is not a scalar: {other:?}"
                        ));
                    }
                },
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(value, style, _, tag) => self.push(Node::Scalar {
                value,
                plain: style == TScalarStyle::Plain,
                tag: tag_name(tag),
                line: mark.line(),
            }),
            Event::SequenceStart(..) => self.stack.push(Open::Seq(Vec::new())),
            Event::MappingStart(..) => self.stack.push(Open::Map(Vec::new(), None)),
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match self.stack.pop() {
                    Some(Open::Seq(items)) => Node::Seq(items),
                    Some(Open::Map(entries, _)) => Node::Map(entries),
                    None => return,
                };
                self.push(node);
            }
            Event::Alias(_) => {
                self.error
                    .get_or_insert(format!("line {}: aliases are not expected", mark.line()));
            }
            _ => {}
        }
    }
}

/// Parses one YAML document into a tagged tree.
pub fn parse(text: &str) -> Result<Node, String> {
    let mut b = Builder::default();
    Parser::new_from_str(text)
        .load(&mut b, true)
        .map_err(|e| e.to_string())?;
    if let Some(e) = b.error {
        return Err(e);
    }
    match <[Node; 1]>::try_from(b.docs) {
        Ok([doc]) => Ok(doc),
        Err(docs) => Err(format!("expected one YAML document, found {}", docs.len())),
    }
}

#[test]
fn tags_survive_and_nesting_is_kept() {
    let doc = parse("a: !input x\nb:\n  - c: 'q'\n    d: plain\n").unwrap();
    assert_eq!(doc.get("a").and_then(Node::input_name), Some("x"));
    let Some(Node::Seq(items)) = doc.get("b") else {
        panic!("b is a sequence: {doc:?}")
    };
    assert_eq!(items[0].get("c").and_then(Node::str), Some("q"));
    assert!(matches!(
        items[0].get("d"),
        Some(Node::Scalar {
            plain: true,
            tag: None,
            ..
        })
    ));
    assert_eq!(doc.get("b").and_then(Node::input_name), None);
    assert!(parse("a: 1\n---\nb: 2\n").is_err());
}
