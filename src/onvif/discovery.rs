//! WS-Discovery (ONVIF Core §7): a Probe for network video transmitters, sent to the multicast
//! group 239.255.255.250:3702 (or straight to given addresses: a "directed probe"), and the
//! ProbeMatches that cameras answer with. Building and parsing are pure; [`probe`] does the IO.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use tokio::net::UdpSocket;

/// The WS-Discovery multicast group and port.
pub const MULTICAST: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(239, 255, 255, 250), 3702);
/// Largest datagram we read; ProbeMatches are a few KiB.
pub const MAX_DATAGRAM: usize = 64 * 1024;
/// Default time to collect answers.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(3);
/// Most devices we keep from one probe (a hostile network cannot grow the list without bound).
pub const MAX_DEVICES: usize = 1024;

const NS_SOAP: &str = "http://www.w3.org/2003/05/soap-envelope";
const NS_WSD: &str = "http://schemas.xmlsoap.org/ws/2005/04/discovery";
const NS_WSA: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing";

/// A device that answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Where the answer came from.
    pub from: SocketAddr,
    /// The endpoint reference (usually `urn:uuid:...`).
    pub endpoint: String,
    /// Device service addresses (XAddrs).
    pub xaddrs: Vec<String>,
    /// Name from the `onvif://www.onvif.org/name/...` scope, percent-decoded.
    pub name: Option<String>,
    /// Hardware from the `.../hardware/...` scope.
    pub hardware: Option<String>,
    /// All scopes as sent.
    pub scopes: Vec<String>,
}

/// A Probe for `dn:NetworkVideoTransmitter` with the given message id (`urn:uuid:...`).
pub fn probe_message(message_id: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="{NS_SOAP}" xmlns:a="{NS_WSA}" xmlns:d="{NS_WSD}" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">
<s:Header><a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action><a:MessageID>{message_id}</a:MessageID><a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo><a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To></s:Header>
<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body>
</s:Envelope>"#
    )
}

/// Whether `xml` is a Probe, and its MessageID (for the RelatesTo of an answer).
pub fn parse_probe(xml: &str) -> Option<String> {
    let doc = super::document::parse(xml).ok()?;
    doc.descendants()
        .find(|n| n.has_tag_name((NS_WSD, "Probe")))?;
    let id = doc
        .descendants()
        .find(|n| n.has_tag_name((NS_WSA, "MessageID")))
        .and_then(|n| n.text())
        .unwrap_or("")
        .trim()
        .to_owned();
    Some(id)
}

/// A ProbeMatches answer (used by the simulated doorbell).
pub fn probe_matches(relates_to: &str, endpoint: &str, xaddr: &str, scopes: &[&str]) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="{NS_SOAP}" xmlns:wsa="{NS_WSA}" xmlns:d="{NS_WSD}" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">
<SOAP-ENV:Header><wsa:MessageID>urn:uuid:{}</wsa:MessageID><wsa:RelatesTo>{}</wsa:RelatesTo><wsa:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To><wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action></SOAP-ENV:Header>
<SOAP-ENV:Body><d:ProbeMatches><d:ProbeMatch><wsa:EndpointReference><wsa:Address>{}</wsa:Address></wsa:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types><d:Scopes>{}</d:Scopes><d:XAddrs>{}</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></SOAP-ENV:Body>
</SOAP-ENV:Envelope>"#,
        uuid::Uuid::new_v4(),
        esc(relates_to),
        esc(endpoint),
        esc(&scopes.join(" ")),
        esc(xaddr),
    )
}

/// Parses a ProbeMatches datagram; `None` for anything else (garbage is ignored, not an error).
pub fn parse_probe_matches(xml: &str, from: SocketAddr) -> Vec<Device> {
    let Ok(doc) = super::document::parse(xml) else {
        return Vec::new();
    };
    let text = |m: roxmltree::Node<'_, '_>, ns: &str, name: &str| {
        m.descendants()
            .find(|n| n.has_tag_name((ns, name)))
            .and_then(|n| n.text())
            .map(|t| t.trim().to_owned())
            .unwrap_or_default()
    };
    doc.descendants()
        .filter(|n| n.has_tag_name((NS_WSD, "ProbeMatch")))
        .map(|m| {
            let scopes: Vec<String> = text(m, NS_WSD, "Scopes")
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            Device {
                from,
                endpoint: text(m, NS_WSA, "Address"),
                xaddrs: text(m, NS_WSD, "XAddrs")
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect(),
                name: scope_value(&scopes, "name"),
                hardware: scope_value(&scopes, "hardware"),
                scopes,
            }
        })
        .collect()
}

/// The value of `onvif://www.onvif.org/<key>/<value>`, percent-decoded.
pub fn scope_value(scopes: &[String], key: &str) -> Option<String> {
    let prefix = format!("onvif://www.onvif.org/{key}/");
    scopes
        .iter()
        .find_map(|s| s.strip_prefix(&prefix))
        .map(percent_decode)
}

/// Percent-decoding for scope values (`Front%20Door`); invalid escapes are kept as they are.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Sends one Probe to each target (the multicast group, or directed addresses) and collects
/// answers for `wait`. Devices are de-duplicated by endpoint.
pub async fn probe(targets: &[SocketAddr], wait: Duration) -> std::io::Result<Vec<Device>> {
    let socket = UdpSocket::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))).await?;
    socket.set_multicast_ttl_v4(1)?;
    let msg = probe_message(&format!("urn:uuid:{}", uuid::Uuid::new_v4()));
    for t in targets {
        socket.send_to(msg.as_bytes(), t).await?;
    }
    let mut devices: Vec<Device> = Vec::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let deadline = tokio::time::Instant::now() + wait;
    while devices.len() < MAX_DEVICES {
        let recv = tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await;
        let Ok(Ok((n, from))) = recv else { break };
        let text = String::from_utf8_lossy(&buf[..n]);
        for d in parse_probe_matches(&text, from) {
            if !devices.iter().any(|x| x.endpoint == d.endpoint) {
                devices.push(d);
            }
        }
    }
    Ok(devices)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_round_trips() {
        let m = probe_message("urn:uuid:1234");
        assert_eq!(parse_probe(&m).as_deref(), Some("urn:uuid:1234"));
        assert_eq!(parse_probe("<not a probe/>"), None);
        assert_eq!(parse_probe("garbage"), None);
    }

    #[test]
    fn parses_matches_with_scopes() {
        let xml = probe_matches(
            "urn:uuid:1234",
            "urn:uuid:cafe",
            "http://127.0.0.1:8000/onvif/device_service",
            &[
                "onvif://www.onvif.org/type/video_encoder",
                "onvif://www.onvif.org/name/Front%20Door",
                "onvif://www.onvif.org/hardware/DB_1",
            ],
        );
        let from: SocketAddr = "127.0.0.1:3702".parse().unwrap();
        let d = parse_probe_matches(&xml, from);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].endpoint, "urn:uuid:cafe");
        assert_eq!(d[0].xaddrs, ["http://127.0.0.1:8000/onvif/device_service"]);
        assert_eq!(d[0].name.as_deref(), Some("Front Door"));
        assert_eq!(d[0].hardware.as_deref(), Some("DB_1"));
        assert!(parse_probe_matches("\u{0}garbage<", from).is_empty());
    }

    #[test]
    fn percent_decoding_keeps_bad_escapes() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
