//! SOAP envelopes for the simulated doorbell: parse a request (SOAP 1.2 or 1.1) into an owned
//! [`Envelope`], wrap response bodies, build faults.
//!
//! Every element is matched by namespace URI and local name, never by prefix: real clients
//! use `s:`, `env:`, `SOAP-ENV:` or none at all (reference/onvif-events.md, quirk 29).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use quick_xml::escape::escape;

/// SOAP 1.2 envelope namespace.
pub const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
/// SOAP 1.1 envelope namespace.
pub const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// WS-Security extension namespace (`wsse:Security`, `wsse:UsernameToken`).
pub const WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
/// WS-Security utility namespace (`wsu:Created`).
pub const WSU: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
/// WS-Addressing 1.0 namespace.
pub const WSA: &str = "http://www.w3.org/2005/08/addressing";
/// ONVIF device service.
pub const TDS: &str = "http://www.onvif.org/ver10/device/wsdl";
/// ONVIF media service (Media 1).
pub const TRT: &str = "http://www.onvif.org/ver10/media/wsdl";
/// ONVIF media2 service.
pub const TR2: &str = "http://www.onvif.org/ver20/media/wsdl";
/// ONVIF event service.
pub const TEV: &str = "http://www.onvif.org/ver10/events/wsdl";
/// ONVIF schema types.
pub const TT: &str = "http://www.onvif.org/ver10/schema";
/// WS-BaseNotification.
pub const WSNT: &str = "http://docs.oasis-open.org/wsn/b-2";
/// Namespace of the reference parameter this simulator hands out (`SubscriptionId`).
pub const SIM: &str = "urn:doorbell-bridge:sim";

/// Namespace declarations on every response envelope, after the SOAP one; body templates use
/// these prefixes. Injected notification messages carry their own declarations.
const DECLS: &str = concat!(
    r#" xmlns:xsd="http://www.w3.org/2001/XMLSchema""#,
    r#" xmlns:wsa="http://www.w3.org/2005/08/addressing""#,
    r#" xmlns:tt="http://www.onvif.org/ver10/schema""#,
    r#" xmlns:tds="http://www.onvif.org/ver10/device/wsdl""#,
    r#" xmlns:trt="http://www.onvif.org/ver10/media/wsdl""#,
    r#" xmlns:tr2="http://www.onvif.org/ver20/media/wsdl""#,
    r#" xmlns:tev="http://www.onvif.org/ver10/events/wsdl""#,
    r#" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2""#,
    r#" xmlns:wstop="http://docs.oasis-open.org/wsn/t-1""#,
    r#" xmlns:tns1="http://www.onvif.org/ver10/topics""#,
    r#" xmlns:ter="http://www.onvif.org/ver10/error""#,
    r#" xmlns:wsrf-r="http://docs.oasis-open.org/wsrf/r-2""#,
    r#" xmlns:wsrf-bf="http://docs.oasis-open.org/wsrf/bf-2""#,
    r#" xmlns:dd="urn:doorbell-bridge:sim""#,
);

/// Which SOAP version a request used; the response answers in the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// SOAP 1.2 (`application/soap+xml`), what ONVIF specifies.
    Soap12,
    /// SOAP 1.1 (`text/xml`), still sent by some clients.
    Soap11,
}

impl Version {
    fn namespace(self) -> &'static str {
        match self {
            Version::Soap12 => SOAP12,
            Version::Soap11 => SOAP11,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Version::Soap12 => "application/soap+xml; charset=utf-8",
            Version::Soap11 => "text/xml; charset=utf-8",
        }
    }
}

/// A WS-Security UsernameToken as sent, before any check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsernameToken {
    /// `wsse:Username`.
    pub username: String,
    /// `wsse:Password` text (the Base64 digest for PasswordDigest).
    pub password: String,
    /// The `Type` attribute of `wsse:Password`, if any.
    pub password_type: Option<String>,
    /// `wsse:Nonce` text (Base64).
    pub nonce: Option<String>,
    /// `wsu:Created` text.
    pub created: Option<String>,
}

/// What the simulator needs from a request envelope, owned (the XML text can go).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// SOAP version of the request.
    pub version: Version,
    /// Namespace URI of the first Body child: the operation.
    pub namespace: String,
    /// Local name of the first Body child, e.g. `PullMessages`.
    pub operation: String,
    /// The UsernameToken from the `wsse:Security` header, if present.
    pub token: Option<UsernameToken>,
    /// The echoed `dd:SubscriptionId` reference parameter, if present.
    pub subscription_id: Option<String>,
    /// `wsa:MessageID`, answered with `wsa:RelatesTo`.
    pub message_id: Option<String>,
    /// Every text-bearing element below the operation: (namespace, local name, trimmed text).
    pub fields: Vec<(String, String, String)>,
}

impl Envelope {
    /// The text of the first element named `ns`:`local` below the operation.
    pub fn field(&self, ns: &str, local: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, l, _)| n == ns && l == local)
            .map(|(_, _, text)| text.as_str())
    }
}

/// Why a request body is not a SOAP envelope we can answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    /// Not well-formed XML.
    #[error("request body is not XML: {0}")]
    Xml(String),
    /// Well-formed, but the root is not a SOAP 1.1/1.2 Envelope.
    #[error("request root is not a SOAP envelope; send a SOAP 1.2 Envelope")]
    NotEnvelope,
    /// No Body or an empty Body.
    #[error("SOAP envelope has no operation in its Body")]
    NoOperation,
}

/// Parses a request body.
pub fn parse(text: &str) -> Result<Envelope, ParseError> {
    let doc = crate::onvif::document::parse(text).map_err(|e| ParseError::Xml(e.to_string()))?;
    let root = doc.root_element();
    let version = match root.tag_name().namespace() {
        Some(SOAP12) => Version::Soap12,
        Some(SOAP11) => Version::Soap11,
        _ => return Err(ParseError::NotEnvelope),
    };
    if root.tag_name().name() != "Envelope" {
        return Err(ParseError::NotEnvelope);
    }
    let soap = version.namespace();
    let op = child(root, soap, "Body")
        .and_then(|body| body.children().find(|c| c.is_element()))
        .ok_or(ParseError::NoOperation)?;
    let header = child(root, soap, "Header");
    let header_text = |ns: &str, name: &str| {
        header
            .and_then(|h| child(h, ns, name))
            .and_then(|n| n.text())
            .map(|t| t.trim().to_string())
    };
    let token = header
        .and_then(|h| child(h, WSSE, "Security"))
        .and_then(|s| child(s, WSSE, "UsernameToken"))
        .map(username_token);
    let fields = op
        .descendants()
        .filter(|n| n.is_element() && n.id() != op.id())
        .filter_map(|n| {
            let text = n.text()?.trim();
            Some((
                n.tag_name().namespace().unwrap_or("").to_string(),
                n.tag_name().name().to_string(),
                text.to_string(),
            ))
        })
        .collect();
    Ok(Envelope {
        version,
        namespace: op.tag_name().namespace().unwrap_or("").to_string(),
        operation: op.tag_name().name().to_string(),
        token,
        subscription_id: header_text(SIM, "SubscriptionId"),
        message_id: header_text(WSA, "MessageID"),
        fields,
    })
}

/// The first child element of `node` named `ns`:`name`.
fn child<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    ns: &str,
    name: &str,
) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|c| {
        c.is_element() && c.tag_name().namespace() == Some(ns) && c.tag_name().name() == name
    })
}

fn username_token(token: roxmltree::Node<'_, '_>) -> UsernameToken {
    let text = |ns: &str, name: &str| {
        child(token, ns, name).map(|n| n.text().unwrap_or("").trim().to_string())
    };
    let password = child(token, WSSE, "Password");
    UsernameToken {
        username: text(WSSE, "Username").unwrap_or_default(),
        password: text(WSSE, "Password").unwrap_or_default(),
        password_type: password
            .and_then(|p| p.attribute("Type"))
            .map(str::to_string),
        nonce: text(WSSE, "Nonce"),
        created: text(WSU, "Created"),
    }
}

/// Wraps `body` (and optional header content) in an envelope of `version`.
pub fn envelope(version: Version, header: &str, body: &str) -> String {
    let ns = version.namespace();
    let header = if header.is_empty() {
        String::new()
    } else {
        format!("<env:Header>{header}</env:Header>")
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="{ns}"{DECLS}>{header}<env:Body>{body}</env:Body></env:Envelope>"#
    )
}

/// A 200 response carrying `body` in an envelope.
pub fn ok(version: Version, header: &str, body: &str) -> Response {
    xml_response(StatusCode::OK, version, envelope(version, header, body))
}

fn xml_response(status: StatusCode, version: Version, text: String) -> Response {
    let mut response = (status, text).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(version.content_type()),
    );
    response
}

/// The SOAP fault code class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// The request was wrong (`env:Sender`, SOAP 1.1 `Client`).
    Sender,
    /// The device failed (`env:Receiver`, SOAP 1.1 `Server`).
    Receiver,
}

/// A SOAP fault to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// Sender or Receiver.
    pub code: Code,
    /// Subcode QNames, outermost first, using prefixes declared on every envelope
    /// (`ter:NotAuthorized`, `wsrf-r:ResourceUnknownFault`).
    pub subcodes: Vec<&'static str>,
    /// Human-readable reason.
    pub reason: String,
    /// Raw XML for the Detail element, if any.
    pub detail: Option<String>,
}

impl Fault {
    /// A fault with the given code, subcodes and reason and no detail.
    pub fn new(code: Code, subcodes: &[&'static str], reason: impl Into<String>) -> Self {
        Fault {
            code,
            subcodes: subcodes.to_vec(),
            reason: reason.into(),
            detail: None,
        }
    }

    /// The XML of the fault element for `version`.
    pub fn to_xml(&self, version: Version) -> String {
        let reason = escape(self.reason.as_str());
        let detail = self.detail.as_deref().unwrap_or("");
        match version {
            Version::Soap12 => {
                let code = match self.code {
                    Code::Sender => "env:Sender",
                    Code::Receiver => "env:Receiver",
                };
                let mut subcodes = String::new();
                for sub in self.subcodes.iter().rev() {
                    subcodes = format!(
                        "<env:Subcode><env:Value>{sub}</env:Value>{subcodes}</env:Subcode>"
                    );
                }
                let detail = if detail.is_empty() {
                    String::new()
                } else {
                    format!("<env:Detail>{detail}</env:Detail>")
                };
                format!(
                    r#"<env:Fault><env:Code><env:Value>{code}</env:Value>{subcodes}</env:Code><env:Reason><env:Text xml:lang="en">{reason}</env:Text></env:Reason>{detail}</env:Fault>"#
                )
            }
            Version::Soap11 => {
                // SOAP 1.1 has no subcodes: the most specific one becomes the faultcode, which
                // is what gSOAP devices do.
                let code = self.subcodes.last().copied().unwrap_or(match self.code {
                    Code::Sender => "env:Client",
                    Code::Receiver => "env:Server",
                });
                format!(
                    "<env:Fault><faultcode>{code}</faultcode><faultstring>{reason}</faultstring><detail>{detail}</detail></env:Fault>"
                )
            }
        }
    }

    /// The HTTP status for this fault: the SOAP 1.2 HTTP binding answers Sender faults with
    /// 400 and the rest with 500; the SOAP 1.1 binding answers every fault with 500.
    pub fn status(&self, version: Version) -> StatusCode {
        match (version, self.code) {
            (Version::Soap12, Code::Sender) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The full HTTP response.
    pub fn into_response(self, version: Version) -> Response {
        let text = envelope(version, "", &self.to_xml(version));
        xml_response(self.status(version), version, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PULL: &str = r#"<?xml version="1.0"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope"
  xmlns:a="http://www.w3.org/2005/08/addressing" xmlns:x="urn:doorbell-bridge:sim">
 <SOAP-ENV:Header>
  <a:MessageID>urn:uuid:1</a:MessageID>
  <x:SubscriptionId>42</x:SubscriptionId>
  <Security xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">
   <UsernameToken><Username>admin</Username>
    <Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">abc=</Password>
    <Nonce>bm9uY2U=</Nonce>
    <Created xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">2024-01-01T00:00:00Z</Created>
   </UsernameToken>
  </Security>
 </SOAP-ENV:Header>
 <SOAP-ENV:Body><PullMessages xmlns="http://www.onvif.org/ver10/events/wsdl">
  <Timeout>PT1S</Timeout><MessageLimit> 10 </MessageLimit></PullMessages></SOAP-ENV:Body>
</SOAP-ENV:Envelope>"#;

    #[test]
    fn parses_by_namespace_not_prefix() {
        let env = parse(PULL).expect("valid envelope");
        assert_eq!(env.version, Version::Soap12);
        assert_eq!(
            (env.namespace.as_str(), env.operation.as_str()),
            (TEV, "PullMessages")
        );
        assert_eq!(env.field(TEV, "Timeout"), Some("PT1S"));
        assert_eq!(env.field(TEV, "MessageLimit"), Some("10"));
        assert_eq!(env.field(WSNT, "Timeout"), None);
        assert_eq!(env.subscription_id.as_deref(), Some("42"));
        assert_eq!(env.message_id.as_deref(), Some("urn:uuid:1"));
        let token = env.token.expect("token");
        assert_eq!(token.username, "admin");
        assert_eq!(token.nonce.as_deref(), Some("bm9uY2U="));
        assert_eq!(token.created.as_deref(), Some("2024-01-01T00:00:00Z"));
        assert!(
            token
                .password_type
                .expect("type")
                .ends_with("#PasswordDigest")
        );
    }

    #[test]
    fn soap11_and_errors() {
        let soap11 = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>
            <GetSystemDateAndTime xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body></s:Envelope>"#;
        let env = parse(soap11).expect("soap 1.1");
        assert_eq!(env.version, Version::Soap11);
        assert_eq!(env.operation, "GetSystemDateAndTime");
        assert!(env.token.is_none());
        assert!(matches!(parse("not xml <"), Err(ParseError::Xml(_))));
        assert_eq!(parse("<Envelope/>"), Err(ParseError::NotEnvelope));
        let empty = r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>"#;
        assert_eq!(parse(empty), Err(ParseError::NoOperation));
    }

    #[test]
    fn fault_round_trips_through_a_parser() {
        let fault = Fault::new(Code::Sender, &["ter:NotAuthorized"], "wrong <password>");
        let text = envelope(Version::Soap12, "", &fault.to_xml(Version::Soap12));
        let doc = roxmltree::Document::parse(&text).expect("well-formed fault");
        let value = doc
            .descendants()
            .filter(|n| n.tag_name().name() == "Value")
            .nth(1)
            .expect("subcode value");
        assert_eq!(value.text(), Some("ter:NotAuthorized"));
        assert_eq!(
            value.lookup_namespace_uri(Some("ter")),
            Some("http://www.onvif.org/ver10/error")
        );
        assert_eq!(fault.status(Version::Soap12), StatusCode::BAD_REQUEST);
        assert!(text.contains("wrong &lt;password&gt;"));
        let soap11 = fault.to_xml(Version::Soap11);
        assert!(soap11.contains("<faultcode>ter:NotAuthorized</faultcode>"));
    }
}
