//! The simulated doorbell's WS-Discovery responder: a UDP socket on the simulator's own IP
//! (port 0) that answers every Probe with a ProbeMatch pointing at the simulator's device
//! service, so `doorbell-bridge discover --address 127.0.0.1:PORT` (a directed probe) is
//! tested on loopback, without multicast. Anything that is not a Probe is ignored.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use crate::onvif::discovery::{self as wsdiscovery, MAX_DATAGRAM};

/// The name the simulator announces (`onvif://www.onvif.org/name/...`).
pub const NAME: &str = "Simulated Doorbell";

/// The scopes of the ProbeMatch: type, name (percent-encoded), hardware and location.
pub const SCOPES: [&str; 4] = [
    "onvif://www.onvif.org/type/video_encoder",
    "onvif://www.onvif.org/name/Simulated%20Doorbell",
    "onvif://www.onvif.org/hardware/SIM-1",
    "onvif://www.onvif.org/location/loopback",
];

/// Binds the responder next to the HTTP server at `http` (same IP, a free port); an
/// unspecified IP becomes loopback, the only address the simulator is meant for.
pub async fn bind(http: SocketAddr) -> io::Result<UdpSocket> {
    let ip = match http.ip() {
        ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        ip => ip,
    };
    UdpSocket::bind(SocketAddr::new(ip, 0)).await
}

/// Answers probes on `socket` until `stop` fires. `device_url` goes into the XAddrs;
/// `endpoint` (`urn:uuid:...`) identifies the device across probes.
pub async fn respond(
    socket: UdpSocket,
    device_url: String,
    endpoint: String,
    stop: CancellationToken,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let received = tokio::select! {
            () = stop.cancelled() => return,
            r = socket.recv_from(&mut buf) => r,
        };
        let Ok((n, from)) = received else {
            // An ICMP error from an earlier answer, or similar: nothing to do but go on.
            continue;
        };
        let text = String::from_utf8_lossy(&buf[..n]);
        let Some(message_id) = wsdiscovery::parse_probe(&text) else {
            continue;
        };
        let answer = wsdiscovery::probe_matches(&message_id, &endpoint, &device_url, &SCOPES);
        if let Err(err) = socket.send_to(answer.as_bytes(), from).await {
            tracing::debug!("sim: cannot answer the probe from {from}: {err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_name_the_simulator() {
        let scopes: Vec<String> = SCOPES.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            wsdiscovery::scope_value(&scopes, "name").as_deref(),
            Some(NAME)
        );
    }

    #[tokio::test]
    async fn answers_a_directed_probe_and_ignores_garbage() {
        let socket = bind("0.0.0.0:0".parse().unwrap()).await.unwrap();
        let addr = socket.local_addr().unwrap();
        assert!(addr.ip().is_loopback());
        let stop = CancellationToken::new();
        let task = tokio::spawn(respond(
            socket,
            "http://127.0.0.1:1/onvif/device_service".into(),
            "urn:uuid:sim".into(),
            stop.clone(),
        ));
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.send_to(b"garbage", addr).await.unwrap();
        let found = wsdiscovery::probe(&[addr], std::time::Duration::from_secs(2))
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].name.as_deref(), Some(NAME));
        assert_eq!(found[0].endpoint, "urn:uuid:sim");
        stop.cancel();
        task.await.unwrap();
    }
}
