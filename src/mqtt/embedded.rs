//! An in-process MQTT broker (rumqttd, MQTT 3.1.1) for `doorbell-bridge demo` and for tests on
//! machines without Mosquitto.
//!
//! rumqttd's `Broker::start()` never returns, has no shutdown call and cannot report the port
//! of a port-0 listener (crates.md pitfall 6). So we bind `127.0.0.1:0` to find a free port,
//! release it, hand it to rumqttd on its own std thread and wait until it accepts
//! connections. The broker lives until the process exits.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

/// How long the broker may take to accept its first connection.
pub const EMBEDDED_START_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause between readiness probes.
const PROBE_INTERVAL: Duration = Duration::from_millis(10);

fn config(listen: SocketAddr) -> Config {
    let connections = ConnectionSettings {
        connection_timeout_ms: 60_000,
        // Above our packet limit, so the largest snapshot we publish fits.
        max_payload_size: super::MAX_PACKET_BYTES + crate::limits::PACKET_HEADROOM,
        max_inflight_count: 100,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = ServerSettings {
        name: "v4-1".to_owned(),
        listen,
        tls: None,
        next_connection_delay_ms: 1,
        connections,
    };
    Config {
        router: RouterConfig {
            max_connections: 1000,
            max_outgoing_packet_count: 200,
            max_segment_size: 100 * 1024 * 1024,
            max_segment_count: 10,
            ..RouterConfig::default()
        },
        v4: Some(HashMap::from([("v4-1".to_owned(), server)])),
        ..Config::default()
    }
}

/// Starts rumqttd on a free port of 127.0.0.1 and returns its address once it accepts
/// connections. The broker has no shutdown: it runs until the process exits.
pub fn start_embedded_broker() -> io::Result<SocketAddr> {
    let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let config = config(addr);
    std::thread::Builder::new()
        .name("mqtt-broker".to_owned())
        .spawn(move || {
            let mut broker = Broker::new(config);
            if let Err(e) = broker.start() {
                tracing::error!("embedded MQTT broker on {addr} stopped: {e}");
            }
        })?;
    let started = Instant::now();
    loop {
        match TcpStream::connect(addr) {
            Ok(_) => return Ok(addr),
            Err(e) if started.elapsed() > EMBEDDED_START_TIMEOUT => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("embedded MQTT broker on {addr} did not start: {e}"),
                ));
            }
            Err(_) => std::thread::sleep(PROBE_INTERVAL),
        }
    }
}
