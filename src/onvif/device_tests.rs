//! Device-service answers in several vendor styles.

use super::*;
use crate::onvif::client::read_payload;

fn configured() -> Url {
    "http://door.example:8080/onvif/device_service"
        .parse()
        .unwrap()
}

fn read<T>(xml: &str, name: &str, f: impl FnOnce(Node<'_, '_>) -> T) -> T {
    read_payload(&configured(), xml, &[NS_DEVICE], name, |n| Ok(f(n))).unwrap()
}

/// gSOAP style (Reolink, Tapo): `SOAP-ENV`, a pile of unused namespaces, an echoed header.
const INFO_GSOAP: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:SOAP-ENC="http://www.w3.org/2003/05/soap-encoding" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsdd="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:chan="http://schemas.microsoft.com/ws/2005/02/duplex" xmlns:wsa5="http://www.w3.org/2005/08/addressing" xmlns:c14n="http://www.w3.org/2001/10/xml-exc-c14n#" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" xmlns:wsc="http://schemas.xmlsoap.org/ws/2005/02/sc" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:xmime="http://tempuri.org/xmime.xsd" xmlns:xop="http://www.w3.org/2004/08/xop/include" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:wsrfbf="http://docs.oasis-open.org/wsrf/bf-2" xmlns:wstop="http://docs.oasis-open.org/wsn/t-1" xmlns:wsrfr="http://docs.oasis-open.org/wsrf/r-2" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:tev="http://www.onvif.org/ver10/events/wsdl" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:ter="http://www.onvif.org/ver10/error">
<SOAP-ENV:Header><wsse:Security><wsse:UsernameToken><wsse:Username>admin</wsse:Username></wsse:UsernameToken></wsse:Security></SOAP-ENV:Header>
<SOAP-ENV:Body><tds:GetDeviceInformationResponse><tds:Manufacturer>Reolink</tds:Manufacturer><tds:Model>Reolink Video Doorbell PoE</tds:Model><tds:FirmwareVersion>v3.0.0.2356_23062000</tds:FirmwareVersion><tds:SerialNumber>00000000000000</tds:SerialNumber><tds:HardwareId>DB_566128M5MP_P</tds:HardwareId></tds:GetDeviceInformationResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;

/// Hikvision style: `env`, newlines after closing tags.
const INFO_HIK: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"
xmlns:tds="http://www.onvif.org/ver10/device/wsdl"
xmlns:tt="http://www.onvif.org/ver10/schema">
<env:Body><tds:GetDeviceInformationResponse><tds:Manufacturer>HIKVISION</tds:Manufacturer>
<tds:Model>DS-HD1</tds:Model>
<tds:FirmwareVersion>V5.5.80 build 220317</tds:FirmwareVersion>
<tds:SerialNumber>DS-HD10120220101AAWRJ00000000</tds:SerialNumber>
<tds:HardwareId>88</tds:HardwareId>
</tds:GetDeviceInformationResponse>
</env:Body>
</env:Envelope>
"#;

#[test]
fn device_information_in_two_styles() {
    let info = read(INFO_GSOAP, "GetDeviceInformationResponse", |r| {
        parse_device_information(r, &configured())
    });
    assert_eq!(info.manufacturer.as_deref(), Some("Reolink"));
    assert_eq!(info.model.as_deref(), Some("Reolink Video Doorbell PoE"));
    assert_eq!(info.firmware.as_deref(), Some("v3.0.0.2356_23062000"));
    assert_eq!(info.hardware.as_deref(), Some("DB_566128M5MP_P"));
    assert_eq!(
        info.configuration_url.as_deref(),
        Some("http://door.example:8080/")
    );
    let info = read(INFO_HIK, "GetDeviceInformationResponse", |r| {
        parse_device_information(r, &configured())
    });
    assert_eq!(info.manufacturer.as_deref(), Some("HIKVISION"));
    assert_eq!(info.model.as_deref(), Some("DS-HD1"));
    assert_eq!(
        info.serial.as_deref(),
        Some("DS-HD10120220101AAWRJ00000000")
    );
    assert_eq!(info.mac, None);
}

#[test]
fn device_information_is_single_line_and_bounded() {
    let long = "M".repeat(10_000);
    let xml = INFO_HIK
        .replace("DS-HD1", "DS-HD1\nok    auth       forged line&#x9b;31m")
        .replace("HIKVISION", &long);
    let info = read(&xml, "GetDeviceInformationResponse", |r| {
        parse_device_information(r, &configured())
    });
    assert_eq!(
        info.model.as_deref(),
        Some("DS-HD1 ok    auth       forged line 31m")
    );
    assert_eq!(info.manufacturer.unwrap().chars().count(), MAX_INFO_CHARS);
}

const SERVICES: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
<GetServicesResponse xmlns="http://www.onvif.org/ver10/device/wsdl">
<Service><Namespace>http://www.onvif.org/ver10/device/wsdl</Namespace><XAddr>http://192.168.1.20/onvif/device_service</XAddr><Version><Major xmlns="http://www.onvif.org/ver10/schema">2</Major><Minor xmlns="http://www.onvif.org/ver10/schema">60</Minor></Version></Service>
<Service><Namespace>http://www.onvif.org/ver10/media/wsdl</Namespace><XAddr>http://192.168.1.20/onvif/Media</XAddr></Service>
<Service><Namespace>http://www.onvif.org/ver20/media/wsdl</Namespace><XAddr>http://192.168.1.20/onvif/Media2</XAddr></Service>
<Service><Namespace>http://www.onvif.org/ver10/events/wsdl</Namespace><XAddr>
 http://192.168.1.20:80:80/onvif/Events
</XAddr></Service>
<Service><Namespace>http://www.onvif.org/ver20/imaging/wsdl</Namespace><XAddr>http://192.168.1.20/onvif/Imaging</XAddr></Service>
<Service><Namespace>http://www.onvif.org/ver10/deviceIO/wsdl</Namespace><XAddr>not a url</XAddr></Service>
</GetServicesResponse></s:Body></s:Envelope>"#;

#[test]
fn services_are_found_by_namespace_and_rewritten() {
    let s = read(SERVICES, "GetServicesResponse", |r| {
        parse_services(r, &configured())
    });
    assert_eq!(
        s.device.as_str(),
        "http://door.example:8080/onvif/device_service"
    );
    assert_eq!(
        s.events.as_ref().map(Url::as_str),
        Some("http://door.example:8080/onvif/Events")
    );
    assert_eq!(
        s.media.as_ref().map(Url::as_str),
        Some("http://door.example:8080/onvif/Media")
    );
    assert_eq!(
        s.media2.as_ref().map(Url::as_str),
        Some("http://door.example:8080/onvif/Media2")
    );
    let media = s.media_service().unwrap();
    assert_eq!(media.version, MediaVersion::V1);
    let only2 = Services { media: None, ..s };
    assert_eq!(only2.media_service().unwrap().version, MediaVersion::V2);
}

const CAPABILITIES: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema">
<env:Body><tds:GetCapabilitiesResponse><tds:Capabilities>
<tt:Analytics><tt:XAddr>http://door.example:8080/onvif/Analytics</tt:XAddr></tt:Analytics>
<tt:Device><tt:XAddr>http://door.example:8080/onvif/device_service</tt:XAddr></tt:Device>
<tt:Events><tt:XAddr>http://door.example:8080/onvif/Events</tt:XAddr><tt:WSSubscriptionPolicySupport>true</tt:WSSubscriptionPolicySupport><tt:WSPullPointSupport>true</tt:WSPullPointSupport></tt:Events>
<tt:Media><tt:XAddr>http://door.example:8080/onvif/Media</tt:XAddr></tt:Media>
</tds:Capabilities></tds:GetCapabilitiesResponse></env:Body></env:Envelope>"#;

#[test]
fn capabilities_give_the_same_services() {
    let s = read(CAPABILITIES, "GetCapabilitiesResponse", |r| {
        parse_capabilities(r, &configured())
    });
    assert_eq!(
        s.events.as_ref().map(Url::as_str),
        Some("http://door.example:8080/onvif/Events")
    );
    assert_eq!(
        s.media.as_ref().map(Url::as_str),
        Some("http://door.example:8080/onvif/Media")
    );
    assert_eq!(s.media2, None);
}

const TIME: &str = r#"<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"><SOAP-ENV:Body><tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings><tt:TimeZone><tt:TZ>CST-8</tt:TZ></tt:TimeZone><tt:UTCDateTime><tt:Time><tt:Hour>7</tt:Hour><tt:Minute>50</tt:Minute><tt:Second>45</tt:Second></tt:Time><tt:Date><tt:Year>2010</tt:Year><tt:Month>9</tt:Month><tt:Day>16</tt:Day></tt:Date></tt:UTCDateTime><tt:LocalDateTime><tt:Time><tt:Hour>15</tt:Hour><tt:Minute>50</tt:Minute><tt:Second>45</tt:Second></tt:Time><tt:Date><tt:Year>2010</tt:Year><tt:Month>9</tt:Month><tt:Day>16</tt:Day></tt:Date></tt:LocalDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;

#[test]
fn system_time_reads_the_utc_fields() {
    let t = read(TIME, "GetSystemDateAndTimeResponse", parse_system_time).unwrap();
    assert_eq!(time::format_time(t), "2010-09-16T07:50:45Z");
    let local_only = TIME.replace("UTCDateTime", "Other");
    let err = read(
        &local_only,
        "GetSystemDateAndTimeResponse",
        parse_system_time,
    )
    .unwrap_err();
    assert!(err.contains("UTCDateTime"), "{err}");
}

#[test]
fn mac_addresses_are_normalised() {
    let xml = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"
        xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema">
      <s:Body><tds:GetNetworkInterfacesResponse>
        <tds:NetworkInterfaces token="eth0"><tt:Info><tt:HwAddress>AA-BB-CC-0D-0E-0F</tt:HwAddress></tt:Info></tds:NetworkInterfaces>
      </tds:GetNetworkInterfacesResponse></s:Body></s:Envelope>"#;
    let doc = roxmltree::Document::parse(xml).unwrap();
    assert_eq!(parse_mac(doc.root()).as_deref(), Some("aa:bb:cc:0d:0e:0f"));
    for bad in ["", "00:00:00:00:00:00", "zz:bb:cc:dd:ee:ff", "aa:bb:cc"] {
        assert_eq!(normalise_mac(bad), None, "{bad:?}");
    }
    assert_eq!(
        normalise_mac("a0b1c2d3e4f5").as_deref(),
        Some("a0:b1:c2:d3:e4:f5")
    );
}
