//! Topic canonicalisation: one spelling per ONVIF topic, whatever the camera wrote.
//!
//! A topic is a path of QNames (`tns1:RuleEngine/MyRuleDetector/Visitor`). Cameras spell the
//! same topic in many ways (reference/onvif-events.md §3, quirks 1-6): whitespace and newlines
//! around it, trailing `/` or `//.`, other prefixes bound to the same namespace, the root
//! prefix repeated on every segment (Hanwha), two roots glued together (Imou), a misspelled
//! root (SV3C `VideoSoure`). [`canonical`] resolves every prefix through the namespaces in
//! scope and writes it with the conventional prefix from [`PREFIXES`], so rules and user
//! patterns are written once. Prefixes bound to namespaces we do not know keep the spelling the
//! document used.

/// The ONVIF topic namespace, conventionally `tns1`.
pub const ONVIF_TOPICS: &str = "http://www.onvif.org/ver10/topics";

/// Conventional prefix for each known topic namespace.
pub const PREFIXES: &[(&str, &str)] = &[
    ("tns1", ONVIF_TOPICS),
    ("tnsaxis", "http://www.axis.com/2009/event/topics"),
    ("tnshik", "http://www.hikvision.com/2011/event/topics"),
    ("tnssamsung", "http://www.samsungcctv.com/2011/event/topics"),
    // Declared as `xmlns:tnsajax` in the Ajax device payload quoted in
    // openvideolibs/onvif-parsers:`tests/test_ajax.py` (line-crossing ElementItem).
    ("tnsajax", "http://ajax.systems/onvif/topics"),
];

/// ONVIF root topics. An inner segment that names one of these with an explicit `tns1` prefix
/// starts the topic again: Imou sends `tns1:VideoSource/tns1:Device/Trigger/DigitalInput` for a
/// digital input (home-assistant/core#140575, #143678).
const ONVIF_ROOTS: &[&str] = &[
    "AudioAnalytics",
    "AudioSource",
    "Device",
    "MediaControl",
    "Monitoring",
    "PTZController",
    "RecordingConfig",
    "RecordingHistory",
    "RuleEngine",
    "UserAlarm",
    "VideoAnalytics",
    "VideoSource",
];

/// Root misspellings seen on devices and what they mean. SV3C SV-B01POE-5MPL-A sends
/// `tns1:VideoSoure/MotionAlarm` (dmitrif/onvif2mqtt commit 020f15b).
const ROOT_TYPOS: &[(&str, &str)] = &[("VideoSoure", "VideoSource")];

/// The conventional prefix of a namespace URI, if we know it.
pub fn conventional_prefix(uri: &str) -> Option<&'static str> {
    let uri = uri.trim().trim_end_matches('/');
    PREFIXES
        .iter()
        .find(|(_, known)| *known == uri)
        .map(|(prefix, _)| *prefix)
}

/// Removes surrounding whitespace and any trailing `/` and `/.` (`…/Motion//.` becomes
/// `…/Motion`, home-assistant/core#51870).
pub fn trim_topic(text: &str) -> &str {
    let mut t = text.trim();
    loop {
        if let Some(s) = t.strip_suffix("/.") {
            t = s;
        } else if let Some(s) = t.strip_suffix('/') {
            t = s;
        } else {
            return t.trim_end();
        }
    }
}

/// One segment while canonicalising.
struct Segment<'t> {
    /// Prefix to write, if any.
    prefix: Option<String>,
    local: &'t str,
}

/// The canonical form of topic `text`.
///
/// `resolve(prefix)` gives the namespace URI bound to `prefix` where the topic was found
/// (`None` asks for the default namespace). Rules: trim; drop trailing `/` and `/.`; drop
/// empty segments; write known namespaces with their conventional prefix; an unprefixed root
/// takes the default namespace's prefix when that namespace is known; an inner prefix that
/// repeats the namespace of the segment before it is dropped (`tns1:Device/tns1:Trigger` is
/// `tns1:Device/Trigger`) while a change of namespace keeps its prefix
/// (`tns1:Device/tnsaxis:IO/Port`); an inner `tns1:` root restarts the topic (Imou); a known
/// root typo is corrected.
pub fn canonical<'r>(text: &str, resolve: impl Fn(Option<&str>) -> Option<&'r str>) -> String {
    let mut out: Vec<Segment<'_>> = Vec::new();
    // The namespace of the last segment that had one (URI, or `?prefix` when undeclared).
    let mut current: Option<String> = None;
    for raw in trim_topic(text).split('/').map(str::trim) {
        if raw.is_empty() {
            continue;
        }
        let (prefix, local) = match raw.split_once(':') {
            Some((p, l)) => (Some(p.trim()), l.trim()),
            None => (None, raw),
        };
        let uri = match prefix {
            Some(p) => resolve(Some(p)),
            None if out.is_empty() => resolve(None),
            None => None,
        };
        let ns_key = match (uri, prefix) {
            (Some(u), _) => Some(u.trim().trim_end_matches('/').to_owned()),
            (None, Some(p)) => Some(format!("?{p}")),
            (None, None) => None,
        };
        let written = match uri.and_then(conventional_prefix) {
            Some(conventional) => Some(conventional.to_owned()),
            None => prefix.map(str::to_owned),
        };
        let onvif = ns_key.as_deref() == Some(ONVIF_TOPICS);
        if !out.is_empty() && prefix.is_some() {
            if onvif && ONVIF_ROOTS.contains(&local) {
                out.clear();
            } else if ns_key.is_some() && ns_key == current {
                out.push(Segment {
                    prefix: None,
                    local,
                });
                continue;
            }
        }
        if ns_key.is_some() {
            current = ns_key;
        }
        let local = if out.is_empty() {
            ROOT_TYPOS
                .iter()
                .find(|(typo, _)| *typo == local)
                .map_or(local, |(_, right)| right)
        } else {
            local
        };
        // Unprefixed inner segments live in their parent's namespace: written bare.
        let prefix = if out.is_empty() || prefix.is_some() {
            written
        } else {
            None
        };
        out.push(Segment { prefix, local });
    }
    render(&out)
}

/// `prefix:local/local/...`.
fn render(segments: &[Segment<'_>]) -> String {
    let mut text = String::new();
    for (i, s) in segments.iter().enumerate() {
        if i > 0 {
            text.push('/');
        }
        if let Some(p) = &s.prefix {
            text.push_str(p);
            text.push(':');
        }
        text.push_str(s.local);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standard(prefix: Option<&str>) -> Option<&'static str> {
        match prefix {
            Some("tns1") | Some("ns0") => Some(ONVIF_TOPICS),
            Some("tnsaxis") => Some("http://www.axis.com/2009/event/topics"),
            Some("axis") => Some("http://www.axis.com/2009/event/topics"),
            Some("hik") => Some("http://www.hikvision.com/2011/event/topics"),
            Some("acme") => Some("http://acme.example/topics"),
            _ => None,
        }
    }

    #[test]
    fn canonical_forms() {
        let cases = [
            (
                "tns1:RuleEngine/MyRuleDetector/Visitor",
                "tns1:RuleEngine/MyRuleDetector/Visitor",
            ),
            (
                "\n  tns1:RuleEngine/CellMotionDetector/Motion//.\n",
                "tns1:RuleEngine/CellMotionDetector/Motion",
            ),
            (
                "ns0:VideoSource/MotionAlarm/",
                "tns1:VideoSource/MotionAlarm",
            ),
            (
                "tns1:Device/tns1:Trigger/tns1:DigitalInput",
                "tns1:Device/Trigger/DigitalInput",
            ),
            ("tns1:Device/axis:IO/Port", "tns1:Device/tnsaxis:IO/Port"),
            (
                "tns1:Device/Trigger/hik:AlarmIn",
                "tns1:Device/Trigger/tnshik:AlarmIn",
            ),
            (
                "tns1:VideoSource/tns1:Device/Trigger/DigitalInput",
                "tns1:Device/Trigger/DigitalInput",
            ),
            (
                "tns1:VideoSoure/MotionAlarm",
                "tns1:VideoSource/MotionAlarm",
            ),
            (
                "tns1:UserAlarm/tns1:IVA/HumanShapeDetect",
                "tns1:UserAlarm/IVA/HumanShapeDetect",
            ),
            ("acme:Doorbell/acme:Chime", "acme:Doorbell/Chime"),
            ("undeclared:Foo/Bar", "undeclared:Foo/Bar"),
            (
                "tns1:Device/tnsaxis:IO/tns1:Port",
                "tns1:Device/tnsaxis:IO/tns1:Port",
            ),
            ("", ""),
            ("//.", ""),
        ];
        for (input, want) in cases {
            assert_eq!(canonical(input, standard), want, "{input:?}");
        }
        // Nonsense is kept, not a panic.
        for junk in [":/:", "a:", ":b", "::", "/:/", "\u{0}"] {
            let _ = canonical(junk, standard);
        }
    }

    #[test]
    fn default_namespace_names_the_root() {
        let default_onvif = |p: Option<&str>| {
            if p.is_none() {
                Some(ONVIF_TOPICS)
            } else {
                None
            }
        };
        assert_eq!(
            canonical("RuleEngine/CellMotionDetector/Motion", default_onvif),
            "tns1:RuleEngine/CellMotionDetector/Motion"
        );
        let default_soap = |p: Option<&str>| {
            p.is_none()
                .then_some("http://www.w3.org/2003/05/soap-envelope")
        };
        assert_eq!(canonical("RuleEngine/X", default_soap), "RuleEngine/X");
    }
}
