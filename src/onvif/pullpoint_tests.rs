//! CreatePullPointSubscription and PullMessages answers in several vendor styles.

use super::*;
use crate::onvif::client::read_payload;

fn configured() -> Url {
    "http://door.example:8080/onvif/device_service"
        .parse()
        .unwrap()
}

fn created(xml: &str) -> Created {
    read_payload(
        &configured(),
        xml,
        &[NS_EVENTS],
        "CreatePullPointSubscriptionResponse",
        |r| parse_created(r, &configured()),
    )
    .unwrap()
}

fn at(text: &str) -> Option<Timestamp> {
    Some(text.parse().unwrap())
}

/// Axis: gSOAP prefixes, routing by a ReferenceParameters child, the `dom0` prefix declared on
/// the envelope rather than on the child.
const AXIS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa5="http://www.w3.org/2005/08/addressing" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tev="http://www.onvif.org/ver10/events/wsdl" xmlns:dom0="http://www.axis.com/2009/event"><SOAP-ENV:Header><wsa5:Action>http://www.onvif.org/ver10/events/wsdl/EventPortType/CreatePullPointSubscriptionResponse</wsa5:Action></SOAP-ENV:Header><SOAP-ENV:Body><tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference><wsa5:Address>http://192.168.0.90/onvif/services</wsa5:Address><wsa5:ReferenceParameters><dom0:SubscriptionId>13</dom0:SubscriptionId></wsa5:ReferenceParameters></tev:SubscriptionReference><wsnt:CurrentTime>2026-11-29T08:15:00Z</wsnt:CurrentTime><wsnt:TerminationTime>2026-11-29T08:25:00Z</wsnt:TerminationTime></tev:CreatePullPointSubscriptionResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;

/// Hikvision: `env`, newlines, the address on the device's own host and port.
const HIKVISION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tnshik="http://www.hikvision.com/2011/event/topics" xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tev="http://www.onvif.org/ver10/events/wsdl">
<env:Body><tev:CreatePullPointSubscriptionResponse>
<tev:SubscriptionReference>
<wsa:Address>http://door.example:8080/onvif/Events/PullSubManager_2026-11-29T08:15:00Z_0</wsa:Address>
</tev:SubscriptionReference>
<wsnt:CurrentTime>2026-11-29T16:15:00Z</wsnt:CurrentTime>
<wsnt:TerminationTime>2026-11-29T16:20:00Z</wsnt:TerminationTime>
</tev:CreatePullPointSubscriptionResponse>
</env:Body>
</env:Envelope>
"#;

/// An old camera: WS-Addressing 2004/08, the repeated port of home-assistant/core#92603,
/// millisecond times.
const OLD: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><CreatePullPointSubscriptionResponse xmlns="http://www.onvif.org/ver10/events/wsdl"><SubscriptionReference><Address xmlns="http://schemas.xmlsoap.org/ws/2004/08/addressing">http://10.0.0.7:8106:8106/onvif/Subscription?Idx=43</Address><ReferenceParameters xmlns="http://schemas.xmlsoap.org/ws/2004/08/addressing"/></SubscriptionReference><CurrentTime xmlns="http://docs.oasis-open.org/wsn/b-2">2000-01-06T23:24:25.472Z</CurrentTime><TerminationTime xmlns="http://docs.oasis-open.org/wsn/b-2">2000-01-06T23:25:25.472Z</TerminationTime></CreatePullPointSubscriptionResponse></s:Body></s:Envelope>"#;

#[test]
fn axis_reference_parameters_are_kept_self_contained() {
    let c = created(AXIS);
    assert_eq!(
        c.address.as_str(),
        "http://door.example:8080/onvif/services"
    );
    assert_eq!(
        c.reference_parameters,
        [
            r#"<dom0:SubscriptionId xmlns:dom0="http://www.axis.com/2009/event">13</dom0:SubscriptionId>"#
        ]
    );
    assert_eq!(c.granted.current_time, at("2026-11-29T08:15:00Z"));
    assert_eq!(
        c.granted.lifetime(Duration::from_secs(600)),
        Duration::from_secs(600)
    );
}

#[test]
fn hikvision_and_old_cameras() {
    let c = created(HIKVISION);
    assert_eq!(
        c.address.as_str(),
        "http://door.example:8080/onvif/Events/PullSubManager_2026-11-29T08:15:00Z_0"
    );
    assert!(c.reference_parameters.is_empty());
    assert_eq!(
        c.granted.lifetime(Duration::from_secs(600)),
        Duration::from_secs(300)
    );

    let c = created(OLD);
    assert_eq!(
        c.address.as_str(),
        "http://door.example:8080/onvif/Subscription?Idx=43"
    );
    assert!(c.reference_parameters.is_empty());
    assert_eq!(
        c.granted.lifetime(Duration::from_secs(600)),
        Duration::from_secs(60)
    );
}

#[test]
fn a_response_without_an_address_is_malformed() {
    let xml = AXIS.replace("wsa5:Address", "wsa5:Other");
    let err = read_payload(
        &configured(),
        &xml,
        &[NS_EVENTS],
        "CreatePullPointSubscriptionResponse",
        |r| parse_created(r, &configured()),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err}");
    assert!(err.to_string().contains("without an Address"), "{err}");
}

#[test]
fn pull_response_times() {
    let xml = r#"<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:tev="http://www.onvif.org/ver10/events/wsdl"><SOAP-ENV:Body><tev:PullMessagesResponse><tev:CurrentTime>2026-11-29T08:15:00Z</tev:CurrentTime><tev:TerminationTime>2026-11-29T08:25:00Z</tev:TerminationTime></tev:PullMessagesResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;
    let url: Url = "http://cam/sub".parse().unwrap();
    let r = read_payload(&url, xml, &[NS_EVENTS], "PullMessagesResponse", |r| {
        Ok(parse_pull(r))
    })
    .unwrap();
    assert!(r.notifications.is_empty());
    assert_eq!(r.current_time, at("2026-11-29T08:15:00Z"));
    assert_eq!(r.termination_time, at("2026-11-29T08:25:00Z"));
}
