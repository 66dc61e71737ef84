//! SOAP envelopes out, envelopes and faults in (pure).
//!
//! We write SOAP 1.2 and read both 1.2 and 1.1 (old firmware answers 1.1 faults). Reading
//! matches namespace URIs, never prefixes, and ignores any header the camera echoes back.

use quick_xml::escape::escape;
use roxmltree::{Document, Node};

use super::dom;
use super::wsse::UsernameToken;

/// SOAP 1.2 envelope namespace.
pub const NS_SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
/// SOAP 1.1 envelope namespace.
pub const NS_SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// Both envelope namespaces.
pub const NS_ENVELOPE: [&str; 2] = [NS_SOAP12, NS_SOAP11];
/// WS-Addressing 1.0.
pub const NS_WSA: &str = "http://www.w3.org/2005/08/addressing";
/// The WS-Addressing draft some older cameras still use in EndpointReferences.
pub const NS_WSA_2004: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing";
/// ONVIF device service.
pub const NS_DEVICE: &str = "http://www.onvif.org/ver10/device/wsdl";
/// ONVIF event service.
pub const NS_EVENTS: &str = "http://www.onvif.org/ver10/events/wsdl";
/// ONVIF media service (Profile S).
pub const NS_MEDIA: &str = "http://www.onvif.org/ver10/media/wsdl";
/// ONVIF media2 service (Profile T).
pub const NS_MEDIA2: &str = "http://www.onvif.org/ver20/media/wsdl";
/// ONVIF schema types (`tt:`).
pub const NS_SCHEMA: &str = "http://www.onvif.org/ver10/schema";
/// WS-BaseNotification.
pub const NS_WSNT: &str = "http://docs.oasis-open.org/wsn/b-2";
/// WS-Topics.
pub const NS_WSTOP: &str = "http://docs.oasis-open.org/wsn/t-1";
/// ONVIF topic namespace (`tns1:`).
pub const NS_TOPICS: &str = "http://www.onvif.org/ver10/topics";
/// The anonymous WS-Addressing endpoint (reply on the same connection).
pub const WSA_ANONYMOUS: &str = "http://www.w3.org/2005/08/addressing/anonymous";

/// Namespace declarations on every envelope we send, so body snippets can use these prefixes.
const DECLARATIONS: &str = concat!(
    r#"xmlns:s="http://www.w3.org/2003/05/soap-envelope" "#,
    r#"xmlns:wsa="http://www.w3.org/2005/08/addressing" "#,
    r#"xmlns:tds="http://www.onvif.org/ver10/device/wsdl" "#,
    r#"xmlns:tev="http://www.onvif.org/ver10/events/wsdl" "#,
    r#"xmlns:trt="http://www.onvif.org/ver10/media/wsdl" "#,
    r#"xmlns:tr2="http://www.onvif.org/ver20/media/wsdl" "#,
    r#"xmlns:tt="http://www.onvif.org/ver10/schema" "#,
    r#"xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2""#,
);

/// WS-Addressing headers for calls on the event service and on subscriptions.
#[derive(Debug, Clone, Copy)]
pub struct Addressing<'a> {
    /// The endpoint we call (`wsa:To`).
    pub to: &'a str,
    /// The subscription's ReferenceParameters children, echoed verbatim as headers.
    pub reference_parameters: &'a [String],
    /// The `wsa:MessageID`, `urn:uuid:...`.
    pub message_id: &'a str,
}

/// A request envelope.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    /// The SOAP action URI (goes into `wsa:Action` when addressing is on).
    pub action: &'a str,
    /// WS-Security, when we have credentials and the call needs them.
    pub security: Option<&'a UsernameToken>,
    /// WS-Addressing, for event calls.
    pub addressing: Option<Addressing<'a>>,
    /// The body's XML, using the prefixes declared on the envelope (`tds`, `tev`, `tt`, ...).
    pub body: &'a str,
}

impl Envelope<'_> {
    /// The envelope as XML text.
    pub fn to_xml(&self) -> String {
        let mut header = String::new();
        if let Some(a) = &self.addressing {
            header.push_str(&format!(
                "<wsa:Action>{}</wsa:Action><wsa:MessageID>{}</wsa:MessageID>\
                 <wsa:ReplyTo><wsa:Address>{WSA_ANONYMOUS}</wsa:Address></wsa:ReplyTo>\
                 <wsa:To>{}</wsa:To>",
                escape(self.action),
                escape(a.message_id),
                escape(a.to),
            ));
            for p in a.reference_parameters {
                header.push_str(p);
            }
        }
        if let Some(token) = self.security {
            header.push_str(&token.to_xml());
        }
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<s:Envelope {DECLARATIONS}><s:Header>{header}</s:Header><s:Body>{}</s:Body></s:Envelope>",
            self.body
        )
    }
}

/// Parses a response under the limits of [`super::document`]: DTDs are refused (which keeps
/// entity tricks out), and so are documents too deep, too wide or too large.
pub fn parse(text: &str) -> Result<Document<'_>, String> {
    super::document::parse(text).map_err(|e| e.to_string())
}

/// The Body element of a parsed envelope.
pub fn body<'a, 'i>(doc: &'a Document<'i>) -> Result<Node<'a, 'i>, String> {
    let root = doc.root_element();
    if !dom::is(root, &NS_ENVELOPE, "Envelope") {
        return Err(format!(
            "<{}> instead of a SOAP Envelope",
            root.tag_name().name()
        ));
    }
    dom::child(root, &NS_ENVELOPE, "Body").ok_or_else(|| "SOAP Envelope without a Body".into())
}

/// The first element inside the Body named `name` in `namespace`.
pub fn payload<'a, 'i>(
    doc: &'a Document<'i>,
    namespaces: &[&str],
    name: &str,
) -> Result<Node<'a, 'i>, String> {
    let body = body(doc)?;
    dom::child(body, namespaces, name).ok_or_else(|| format!("no {name} in the answer"))
}

/// A SOAP fault, in either SOAP version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// `Code/Value` (1.2) or `faultcode` (1.1), as written, e.g. `env:Sender`.
    pub code: String,
    /// The innermost `Subcode/Value` (1.2); `None` in 1.1.
    pub subcode: Option<String>,
    /// `Reason/Text` (1.2, English preferred) or `faultstring` (1.1).
    pub reason: String,
}

/// Longest fault code or reason kept (characters); the rest is cut. Fault text ends up in log
/// lines and error messages.
pub const MAX_FAULT_TEXT: usize = 512;

/// The fault in a parsed envelope's Body, if there is one. Its texts are made single-line (a
/// camera must not be able to forge log lines) and cut to [`MAX_FAULT_TEXT`] characters.
pub fn fault_in(doc: &Document<'_>) -> Option<Fault> {
    let raw = raw_fault_in(doc)?;
    Some(Fault {
        code: one_line(&raw.code),
        subcode: raw.subcode.as_deref().map(one_line),
        reason: one_line(&raw.reason),
    })
}

/// `text` with control characters (newlines included) as spaces, cut to [`MAX_FAULT_TEXT`].
fn one_line(text: &str) -> String {
    text.chars()
        .take(MAX_FAULT_TEXT)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn raw_fault_in(doc: &Document<'_>) -> Option<Fault> {
    let fault = dom::child(body(doc).ok()?, &NS_ENVELOPE, "Fault")?;
    if let Some(code) = dom::child(fault, &[NS_SOAP12], "Code") {
        let value = dom::child_text(code, &[NS_SOAP12], "Value").unwrap_or_default();
        let mut subcode = None;
        let mut level = code;
        while let Some(sub) = dom::child(level, &[NS_SOAP12], "Subcode") {
            subcode = dom::child_text(sub, &[NS_SOAP12], "Value").or(subcode);
            level = sub;
        }
        return Some(Fault {
            code: value,
            subcode,
            reason: reason_12(fault).unwrap_or_default(),
        });
    }
    // SOAP 1.1: faultcode and faultstring are unqualified.
    let plain = |name: &str| {
        fault
            .children()
            .find(|n| n.is_element() && n.tag_name().name() == name)
            .and_then(dom::text)
    };
    Some(Fault {
        code: plain("faultcode").unwrap_or_default(),
        subcode: None,
        reason: plain("faultstring").unwrap_or_default(),
    })
}

/// The English `Reason/Text`, or the first one.
fn reason_12(fault: Node<'_, '_>) -> Option<String> {
    let reason = dom::child(fault, &[NS_SOAP12], "Reason")?;
    let texts: Vec<Node> = dom::children(reason, &[NS_SOAP12], "Text").collect();
    texts
        .iter()
        .find(|n| {
            n.attribute(("http://www.w3.org/XML/1998/namespace", "lang"))
                .is_some_and(|l| l.starts_with("en"))
        })
        .or(texts.first())
        .and_then(|n| dom::text(*n))
}

/// The part after the prefix of a QName such as `ter:NotAuthorized`.
fn local(qname: &str) -> &str {
    qname.rsplit(':').next().unwrap_or(qname).trim()
}

impl Fault {
    /// The code, subcode and reason on one line.
    pub fn summary(&self) -> String {
        let mut text = self.code.clone();
        if let Some(s) = &self.subcode {
            text.push_str(" / ");
            text.push_str(s);
        }
        if !self.reason.is_empty() {
            text.push_str(": ");
            text.push_str(&self.reason);
        }
        text
    }

    fn codes(&self) -> impl Iterator<Item = &str> {
        std::iter::once(local(&self.code)).chain(self.subcode.as_deref().map(local))
    }

    /// `ter:NotAuthorized`, WS-Security failures, or a reason saying so.
    pub fn is_not_authorized(&self) -> bool {
        const CODES: [&str; 5] = [
            "NotAuthorized",
            "FailedAuthentication",
            "InvalidSecurity",
            "InvalidSecurityToken",
            "FailedCheck",
        ];
        let reason = self.reason.to_ascii_lowercase();
        self.codes()
            .any(|c| CODES.iter().any(|k| c.eq_ignore_ascii_case(k)))
            || [
                "not authorized",
                "unauthorized",
                "authority failure",
                "authentication fail",
            ]
            .iter()
            .any(|k| reason.contains(k))
    }

    /// `ActionNotSupported` (ONVIF `ter:` or WS-Addressing), or gSOAP's "not implemented".
    pub fn is_action_not_supported(&self) -> bool {
        let reason = self.reason.to_ascii_lowercase();
        self.codes().any(|c| {
            c.eq_ignore_ascii_case("ActionNotSupported")
                || c.eq_ignore_ascii_case("ActionNotImplemented")
        }) || reason.contains("not implemented")
            || reason.contains("action not supported")
    }

    /// The subscription is unknown, expired or invalid (WS-ResourceFramework
    /// `ResourceUnknownFault`, WS-Addressing `DestinationUnreachable`, or a reason saying so).
    pub fn is_subscription_lost(&self) -> bool {
        const CODES: [&str; 3] = [
            "ResourceUnknownFault",
            "ResourceUnknown",
            "DestinationUnreachable",
        ];
        let reason = self.reason.to_ascii_lowercase();
        let gone = [
            "unknown",
            "expired",
            "invalid",
            "not exist",
            "not found",
            "terminated",
            "no such",
        ];
        self.codes()
            .any(|c| CODES.iter().any(|k| c.eq_ignore_ascii_case(k)))
            || (reason.contains("subscription") && gone.iter().any(|k| reason.contains(k)))
            || reason.contains("resource unknown")
    }
}

#[cfg(test)]
#[path = "soap_tests.rs"]
mod tests;
