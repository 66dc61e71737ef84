//! Hostile input, in the normal test suite: bounded proptest passes over the entry points the
//! cargo-fuzz targets in `fuzz/` hammer (random and mutated-fixture inputs, a few thousand cases
//! each), one harness per entry point: notification parsing (`pull_messages_survive_anything`,
//! the body shared with the fuzz target in `fuzz/harness.rs`), SOAP answers, WS-Discovery
//! datagrams, HTTP authentication headers and config files. The normaliser's harness is
//! `tests/normalise_props.rs`. Then the classic attack documents (billion laughs, deep nesting,
//! namespace and attribute bombs, huge values, many messages) with the answer each must get.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use doorbell_bridge::config::{CameraConfig, from_toml};
use doorbell_bridge::normalise::Normaliser;
use doorbell_bridge::onvif::discovery::{parse_probe, parse_probe_matches};
use doorbell_bridge::onvif::document::{
    self, MAX_ATTRIBUTES, MAX_DEPTH, MAX_NAMESPACE_DECLARATIONS, MAX_NODES,
};
use doorbell_bridge::onvif::xml::{MAX_ELEMENT_BYTES, parse_messages};
use doorbell_bridge::onvif::{Credentials, answer_challenge, soap};
use doorbell_bridge::secret::Secret;
use doorbell_bridge::sim::auth;
use proptest::prelude::*;
use proptest::sample::Index;

#[path = "../fuzz/harness.rs"]
mod harness;
use harness::pull_messages as pull;

/// Cases per property: enough to catch a regression of what fuzzing found, fast in CI.
const CASES: u32 = 1500;

const PASSWORD: &str = "hostile-password-5e2a";

fn fixtures(dir: &str) -> Vec<Vec<u8>> {
    fn walk(dir: &Path, out: &mut Vec<Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("fixture dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(std::fs::read(&path).expect("fixture"));
            }
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut out = Vec::new();
    walk(&root, &mut out);
    out
}

static XML: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    let mut all = fixtures("tests/fixtures/onvif");
    all.extend(fixtures("fuzz/seeds/soap_response"));
    all.extend(fixtures("fuzz/seeds/wsdiscovery"));
    assert!(all.len() > 20, "fixtures missing");
    all
});

static CONFIGS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    let mut all = fixtures("tests/fixtures/config");
    all.push(include_bytes!("../config.example.toml").to_vec());
    assert!(all.len() > 5, "fixtures missing");
    all
});

static CAMERA: LazyLock<CameraConfig> = LazyLock::new(|| {
    let text = r#"
[[cameras]]
id = "front_door"
url = "http://192.0.2.1"
ring_input = "AlarmIn_1"
hold = { line_crossing = "5s" }
[[cameras.rules]]
topic = "tns1:RuleEngine/MyRuleDetector/*"
item = "State"
value = "true"
kind = "ring"
"#;
    from_toml(text, Path::new("hostile.toml")).unwrap().cameras[0].clone()
});

/// One edit of a mutated input: where, what, and the bytes it brings.
type Edit = (Index, u8, Vec<u8>);

/// A fixture with a few random edits (insert, overwrite, delete, duplicate), like a fuzzer's.
fn mutated(corpus: &'static [Vec<u8>]) -> impl Strategy<Value = Vec<u8>> {
    let edits = prop::collection::vec(
        (
            any::<Index>(),
            0u8..4,
            prop::collection::vec(any::<u8>(), 1..24),
        ),
        1..8,
    );
    (any::<Index>(), edits).prop_map(move |(pick, edits): (Index, Vec<Edit>)| {
        let mut data = pick.get(corpus).clone();
        for (at, op, bytes) in edits {
            let i = at.index(data.len() + 1);
            match op {
                0 => {
                    data.splice(i..i, bytes);
                }
                1 => {
                    let end = (i + bytes.len()).min(data.len());
                    data.splice(i..end, bytes);
                }
                2 => {
                    let end = (i + bytes.len() * 8).min(data.len());
                    data.drain(i..end);
                }
                _ => {
                    let end = (i + usize::from(bytes[0])).min(data.len());
                    let copy = data[i..end].to_vec();
                    data.splice(i..i, copy);
                }
            }
        }
        data
    })
}

/// A NotificationMessage with random topic, item name, value and ElementItem content: random
/// bytes and tag soup rarely get past the envelope, this reaches the message parsing itself.
fn notification_soup() -> impl Strategy<Value = Vec<u8>> {
    (
        "[a-z0-9:/. \\n]{0,40}",
        "[A-Za-z:]{0,8}",
        "[^\"<&\\x00-\\x1f]{0,12}",
        prop_oneof![
            // Well-formed content, as cameras send it ...
            "(<t:[a-z]{1,6}( [a-z]{1,6}=\"[a-z0-9 ]{0,6}\")?/>|[a-z0-9 ]{0,6}){0,4}",
            // ... or anything made of markup characters.
            "[<>/a-z: =\"]{0,40}",
        ],
    )
        .prop_map(|(topic, name, value, element)| {
            format!(
                r#"<e xmlns:w="http://docs.oasis-open.org/wsn/b-2" xmlns:t="http://www.onvif.org/ver10/schema" xmlns:tns1="http://www.onvif.org/ver10/topics"><w:NotificationMessage><w:Topic>{topic}</w:Topic><t:Message PropertyOperation="Changed"><t:Source/><t:Key><t:SimpleItemDescription Name="{name}"/></t:Key><t:Data><t:SimpleItem Name="{name}" Value="{value}"/><t:ElementItem Name="x">{element}</t:ElementItem></t:Data></t:Message></w:NotificationMessage></e>"#,
                value = value.replace(['"', '<', '&'], ""),
            )
            .into_bytes()
        })
}

fn xml_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        "(<[a-z:]{0,6}( [a-z:]{1,6}=\"[^\"<]{0,8}\")*/?>|</[a-z:]{0,6}>|[^<]{0,8}){0,40}"
            .prop_map(String::into_bytes),
        mutated(&XML),
    ]
}

fn soap_response(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(doc) = soap::parse(&text) else {
        return;
    };
    if let Some(fault) = soap::fault_in(&doc) {
        assert!(!fault.summary().contains('\n'));
        let err = doorbell_bridge::onvif::Error::from_fault("http://cam/", "a", fault);
        let _ = err.retry();
    }
    let _ = soap::body(&doc);
}

fn discovery(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let from = SocketAddr::from(([192, 0, 2, 1], 3702));
    let _ = parse_probe_matches(&text, from);
    let _ = parse_probe(&text);
}

fn http_auth(data: &[u8]) {
    let url: url::Url = "http://192.0.2.1/onvif/snap.jpg".parse().unwrap();
    let credentials = Credentials {
        username: "admin".into(),
        password: Secret::new(PASSWORD),
    };
    let challenges: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    if let Some(answer) = answer_challenge(&url, &challenges, "GET", &credentials) {
        assert!(!answer.contains(PASSWORD), "{answer}");
    }
    if let Some(c) = auth::parse_digest(&String::from_utf8_lossy(data)) {
        let _ = auth::check_digest(&c, "GET", "/snap.jpg", "admin", PASSWORD);
    }
}

fn config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = from_toml(text, Path::new("hostile.toml"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// The one property harness of notification parsing (`harness::pull_messages`); the
    /// normaliser's is in `tests/normalise_props.rs`.
    #[test]
    fn pull_messages_survive_anything(data in prop_oneof![xml_input(), notification_soup()]) {
        pull(&data);
    }

    #[test]
    fn soap_answers_survive_anything(data in xml_input()) {
        soap_response(&data);
    }

    #[test]
    fn discovery_datagrams_survive_anything(data in xml_input()) {
        discovery(&data);
    }

    #[test]
    fn auth_headers_survive_anything(
        data in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..256),
            "((Digest|Basic|digest|Bearer)? ?([a-z]{1,8}=(\"[^\"]{0,12}\"|[A-Za-z0-9=-]{0,8})[, ]{0,2}){0,8}\n?){1,3}"
                .prop_map(String::into_bytes),
        ]
    ) {
        http_auth(&data);
    }

    #[test]
    fn configs_survive_anything(
        data in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..256),
            mutated(&CONFIGS),
        ]
    ) {
        config(&data);
    }
}

/// The notification harness reaches the code it names: most generated NotificationMessages
/// come out of `parse_messages` as notifications, not as an early parse error.
#[test]
fn the_notification_harness_reaches_message_parsing() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let parsed = (0..200)
        .filter(|_| {
            let xml = notification_soup().new_tree(&mut runner).unwrap().current();
            parse_messages(&String::from_utf8_lossy(&xml)).is_ok_and(|n| !n.is_empty())
        })
        .count();
    assert!(
        parsed >= 100,
        "only {parsed} of 200 reached a NotificationMessage"
    );
}

/// Regression inputs: each once crashed or hung a parser (see docs/security.md), or is a classic.
#[test]
fn known_hostile_inputs_pass_every_entry_point() {
    let cases: Vec<Vec<u8>> = vec![
        b"\xef\xbb\xbf<a/>".to_vec(),
        b"<a xmlns:b='x'><b:c/></a>".to_vec(),
        b"<\x00>".to_vec(),
        b"Digest realm=\"a\", nonce=\"\", qop=\"auth,auth-int\", algorithm=MD5-sess".to_vec(),
        b"Digest ,,,, realm".to_vec(),
        b"[[cameras]]\nid='a'\nurl='http://[::1'\n".to_vec(),
    ];
    assert!(!cases.is_empty());
    for data in &cases {
        pull(data);
        soap_response(data);
        discovery(data);
        http_auth(data);
        config(data);
    }
}

fn refused(text: &str) -> bool {
    parse_messages(text).is_err() && soap::parse(text).is_err() && {
        let from = SocketAddr::from(([192, 0, 2, 1], 3702));
        parse_probe_matches(text, from).is_empty() && parse_probe(text).is_none()
    }
}

#[test]
fn billion_laughs_is_refused_unexpanded() {
    let mut dtd = String::from(r#"<!ENTITY lol0 "lol">"#);
    for i in 1..10 {
        let refs = format!("&lol{};", i - 1).repeat(10);
        dtd.push_str(&format!(r#"<!ENTITY lol{i} "{refs}">"#));
    }
    let text = format!(
        r#"<?xml version="1.0"?><!DOCTYPE lolz [{dtd}]><lolz xmlns="http://docs.oasis-open.org/wsn/b-2">&lol9;</lolz>"#
    );
    assert!(refused(&text));
    // An external entity is not fetched either: the DTD alone refuses the document.
    let external =
        r#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>"#;
    assert!(refused(external));
    assert!(matches!(
        document::parse(external),
        Err(document::XmlError::Xml(_))
    ));
}

#[test]
fn deep_nesting_is_refused_without_a_stack_overflow() {
    let n = 100_000;
    let text = format!("{}{}", "<a>".repeat(n), "</a>".repeat(n));
    assert!(refused(&text));
    let ok = format!("{}{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
    assert!(parse_messages(&ok).is_ok());
}

#[test]
fn namespace_and_attribute_bombs_are_refused() {
    // Nested distinct prefixes: roxmltree copies and compares every declaration in scope at
    // every level (3,000 levels took seconds); the depth and declaration limits stop it first.
    let nested: String = (0..3000)
        .map(|i| format!("<a xmlns:p{i}=\"u{i}\">"))
        .collect();
    let nested = format!("{nested}{}", "</a>".repeat(3000));
    assert!(refused(&nested));
    // A root declaring many prefixes, then many children declaring one each.
    let root: String = (0..200).map(|i| format!(" xmlns:p{i}=\"u{i}\"")).collect();
    let kids: String = (0..MAX_NAMESPACE_DECLARATIONS)
        .map(|i| format!("<b xmlns:q=\"v{i}\"/>"))
        .collect();
    let wide = format!("<a{root}>{kids}</a>");
    assert!(refused(&wide));
    let err = document::parse(&wide).unwrap_err().to_string();
    assert!(err.contains("too many namespace declarations"), "{err}");
    // Many attributes on one element: duplicates are checked pairwise.
    let attrs: String = (0..50_000).map(|i| format!(" a{i}=\"v\"")).collect();
    assert!(refused(&format!("<a{attrs}/>")));
    let limit = format!(
        "<a{}/>",
        (0..MAX_ATTRIBUTES)
            .map(|i| format!(" a{i}=\"\""))
            .collect::<String>()
    );
    assert!(document::parse(&limit).is_ok());
    // What a real envelope declares (Hikvision: 38 on the root) stays far below the limit.
    let real: String = (0..40).map(|i| format!(" xmlns:p{i}=\"u{i}\"")).collect();
    assert!(document::parse(&format!("<a{real}/>")).is_ok());
}

const MESSAGE: &str = r#"<wsnt:NotificationMessage><wsnt:Topic Dialect="x">tns1:RuleEngine/MyRuleDetector/Visitor</wsnt:Topic><wsnt:Message><tt:Message UtcTime="2026-01-01T00:00:00Z" PropertyOperation="Changed"><tt:Source><tt:SimpleItem Name="Source" Value="1"/></tt:Source><tt:Data><tt:SimpleItem Name="State" Value="VALUE"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>"#;

fn response(messages: &str) -> String {
    format!(
        r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tns1="http://www.onvif.org/ver10/topics"><s:Body><tev:PullMessagesResponse xmlns:tev="http://www.onvif.org/ver10/events/wsdl">{messages}</tev:PullMessagesResponse></s:Body></s:Envelope>"#
    )
}

#[test]
fn many_messages_are_read_up_to_the_node_limit() {
    let one = MESSAGE.replace("VALUE", "true");
    let many = response(&one.repeat(5_000));
    let notes = parse_messages(&many).unwrap();
    assert_eq!(notes.len(), 5_000);
    let mut normaliser = Normaliser::new(&CAMERA);
    let at = tokio::time::Instant::now();
    for n in &notes {
        let _ = normaliser.handle(n, jiff::Timestamp::UNIX_EPOCH, at);
    }
    // Past the node limit the whole response is refused rather than read into memory.
    // Each message is at least 9 nodes (8 elements and the topic text).
    let too_many = response(&one.repeat(MAX_NODES as usize / 8));
    assert!(parse_messages(&too_many).is_err());
}

#[test]
fn huge_values_are_cut() {
    let huge = "v".repeat(3 * 1024 * 1024);
    let text = response(&MESSAGE.replace("VALUE", &huge));
    let notes = parse_messages(&text).unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].data.get("State").unwrap().len(), MAX_ELEMENT_BYTES);
    let name = format!("<tt:SimpleItem Name=\"{huge}\" Value=\"1\"/>");
    let text = response(&MESSAGE.replace(r#"<tt:SimpleItem Name="State" Value="VALUE"/>"#, &name));
    let notes = parse_messages(&text).unwrap();
    assert!(
        notes[0]
            .data
            .0
            .iter()
            .all(|(n, _)| n.len() <= MAX_ELEMENT_BYTES)
    );
}
