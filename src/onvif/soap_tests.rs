//! Envelope building and fault parsing over vendor-style bodies.

use super::*;

#[test]
fn envelope_parses_and_carries_the_headers() {
    let token =
        UsernameToken::with_nonce("admin", "pw", b"0123456789abcdef", "2026-01-01T00:00:00Z");
    let params = vec![
        r#"<dom0:SubscriptionId xmlns:dom0="http://www.axis.com/2009/event">7</dom0:SubscriptionId>"#
            .to_owned(),
    ];
    let xml = Envelope {
        action: "http://www.onvif.org/ver10/events/wsdl/PullPointSubscription/PullMessagesRequest",
        security: Some(&token),
        addressing: Some(Addressing {
            to: "http://cam/onvif/Subscription?Idx=1&x=<2>",
            reference_parameters: &params,
            message_id: "urn:uuid:1",
        }),
        body: "<tev:PullMessages><tev:Timeout>PT60S</tev:Timeout><tev:MessageLimit>100</tev:MessageLimit></tev:PullMessages>",
    }
    .to_xml();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let root = doc.root_element();
    assert!(dom::is(root, &[NS_SOAP12], "Envelope"));
    let header = dom::child(root, &[NS_SOAP12], "Header").unwrap();
    let text = |ns: &str, name: &str| dom::child_text(header, &[ns], name);
    assert_eq!(
        text(NS_WSA, "Action").as_deref(),
        Some("http://www.onvif.org/ver10/events/wsdl/PullPointSubscription/PullMessagesRequest")
    );
    assert_eq!(text(NS_WSA, "MessageID").as_deref(), Some("urn:uuid:1"));
    assert_eq!(
        text(NS_WSA, "To").as_deref(),
        Some("http://cam/onvif/Subscription?Idx=1&x=<2>")
    );
    let reply = dom::child(header, &[NS_WSA], "ReplyTo").unwrap();
    assert_eq!(
        dom::child_text(reply, &[NS_WSA], "Address").as_deref(),
        Some(WSA_ANONYMOUS)
    );
    assert_eq!(
        text("http://www.axis.com/2009/event", "SubscriptionId").as_deref(),
        Some("7")
    );
    let wsse = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
    let security = dom::child(header, &[wsse], "Security").unwrap();
    let user = dom::descendant(security, &[wsse], "Username").and_then(dom::text);
    assert_eq!(user.as_deref(), Some("admin"));
    let body = body(&doc).unwrap();
    assert!(dom::child(body, &[NS_EVENTS], "PullMessages").is_some());
}

#[test]
fn envelope_without_credentials_or_addressing_has_an_empty_header() {
    let xml = Envelope {
        action: "a",
        security: None,
        addressing: None,
        body: "<tds:GetSystemDateAndTime/>",
    }
    .to_xml();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let header = dom::child(doc.root_element(), &[NS_SOAP12], "Header").unwrap();
    assert_eq!(header.children().count(), 0);
    assert!(payload(&doc, &[NS_DEVICE], "GetSystemDateAndTime").is_ok());
}

fn fault_of(xml: &str) -> Option<Fault> {
    fault_in(&roxmltree::Document::parse(xml).unwrap())
}

#[test]
fn faults_in_vendor_styles() {
    let hikvision = r#"<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:ter="http://www.onvif.org/ver10/error" xmlns:tt="http://www.onvif.org/ver10/schema">
<env:Body>
<env:Fault>
<env:Code>
<env:Value>env:Sender</env:Value>
<env:Subcode>
<env:Value>ter:NotAuthorized</env:Value>
</env:Subcode>
</env:Code>
<env:Reason>
<env:Text xml:lang="en">The action requested requires authorization and the sender is not authorized</env:Text>
</env:Reason>
</env:Fault>
</env:Body>
</env:Envelope>"#;
    let gsoap = r#"<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:SOAP-ENC="http://www.w3.org/2003/05/soap-encoding" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:wsa5="http://www.w3.org/2005/08/addressing" xmlns:wsrf-rw="http://docs.oasis-open.org/wsrf/rw-2" xmlns:ter="http://www.onvif.org/ver10/error"><SOAP-ENV:Header><wsa5:Action>http://www.w3.org/2005/08/addressing/soap/fault</wsa5:Action></SOAP-ENV:Header><SOAP-ENV:Body><SOAP-ENV:Fault><SOAP-ENV:Code><SOAP-ENV:Value>SOAP-ENV:Receiver</SOAP-ENV:Value><SOAP-ENV:Subcode><SOAP-ENV:Value>wsrf-rw:ResourceUnknownFault</SOAP-ENV:Value></SOAP-ENV:Subcode></SOAP-ENV:Code><SOAP-ENV:Reason><SOAP-ENV:Text xml:lang="de">Unbekannt</SOAP-ENV:Text><SOAP-ENV:Text xml:lang="en">Subscription not found</SOAP-ENV:Text></SOAP-ENV:Reason></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;
    let nested = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>ter:InvalidArgVal</s:Value><s:Subcode><s:Value>ter:InvalidTerminationTime</s:Value></s:Subcode></s:Subcode></s:Code><s:Reason><s:Text>bad time</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>"#;
    let soap11 = r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>Method 'tev:GetEventProperties' not implemented: method name or namespace not recognized</faultstring></soap:Fault></soap:Body></soap:Envelope>"#;
    let axis_wsa = r#"<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://www.w3.org/2005/08/addressing"><SOAP-ENV:Body><SOAP-ENV:Fault><SOAP-ENV:Code><SOAP-ENV:Value>SOAP-ENV:Sender</SOAP-ENV:Value><SOAP-ENV:Subcode><SOAP-ENV:Value>wsa:DestinationUnreachable</SOAP-ENV:Value></SOAP-ENV:Subcode></SOAP-ENV:Code><SOAP-ENV:Reason><SOAP-ENV:Text xml:lang="en">No route can be determined to reach the destination role defined by the WS-Addressing To.</SOAP-ENV:Text></SOAP-ENV:Reason></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;

    let f = fault_of(hikvision).unwrap();
    assert_eq!(f.code, "env:Sender");
    assert_eq!(f.subcode.as_deref(), Some("ter:NotAuthorized"));
    assert!(f.reason.starts_with("The action requested"));
    assert!(f.is_not_authorized() && !f.is_subscription_lost() && !f.is_action_not_supported());

    let f = fault_of(gsoap).unwrap();
    assert_eq!(f.subcode.as_deref(), Some("wsrf-rw:ResourceUnknownFault"));
    assert_eq!(f.reason, "Subscription not found", "English text preferred");
    assert!(f.is_subscription_lost() && !f.is_not_authorized());

    let f = fault_of(nested).unwrap();
    assert_eq!(
        f.subcode.as_deref(),
        Some("ter:InvalidTerminationTime"),
        "innermost subcode"
    );
    assert!(!f.is_subscription_lost() && !f.is_not_authorized() && !f.is_action_not_supported());

    let f = fault_of(soap11).unwrap();
    assert_eq!(f.code, "soap:Client");
    assert_eq!(f.subcode, None);
    assert!(f.is_action_not_supported());

    let f = fault_of(axis_wsa).unwrap();
    assert!(f.is_subscription_lost());
    assert_eq!(f.summary().split(':').next(), Some("SOAP-ENV"));
}

#[test]
fn no_fault_in_an_ordinary_answer() {
    let ok = r#"<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope"><SOAP-ENV:Body><tds:GetDeviceInformationResponse xmlns:tds="http://www.onvif.org/ver10/device/wsdl"/></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;
    assert_eq!(fault_of(ok), None);
    let doc = roxmltree::Document::parse("<html><body>Not Found</body></html>").unwrap();
    assert!(body(&doc).unwrap_err().contains("<html>"));
    assert!(parse("<a><b></a>").is_err());
    assert!(
        parse(r#"<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>"#).is_err(),
        "DTDs are refused"
    );
}

#[test]
fn fault_texts_are_one_line_and_bounded() {
    let reason = format!(
        "no\n2026-01-01T00:00:00Z ERROR forged line\r{}",
        "x".repeat(10_000)
    );
    let xml = format!(
        r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>ter:A&#10;B</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">{reason}</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>"#
    );
    let doc = parse(&xml).unwrap();
    let fault = fault_in(&doc).unwrap();
    assert_eq!(fault.subcode.as_deref(), Some("ter:A B"));
    assert!(!fault.reason.contains(['\n', '\r']), "{:?}", fault.reason);
    assert!(
        fault
            .reason
            .starts_with("no 2026-01-01T00:00:00Z ERROR forged line ")
    );
    assert_eq!(fault.reason.chars().count(), MAX_FAULT_TEXT);
}
