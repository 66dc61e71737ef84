//! A fresh Mosquitto for each run, on a free loopback port, killed on drop.
//!
//! Like `tests/support/broker.rs`, but tuned for measuring: `set_tcp_nodelay true` (without
//! it Nagle's algorithm on the broker's socket to our subscriber, which never answers at QoS 0,
//! waits for delayed ACKs and adds up to 40 ms to bursts: that would measure the broker, not
//! the bridge), no persistence, no queue limit, no log; and the pid, so its CPU time is read.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// How long Mosquitto may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between readiness probes (polling a real signal: the port accepting).
const PROBE_INTERVAL: Duration = Duration::from_millis(10);

/// A running Mosquitto.
pub struct Mosquitto {
    port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    /// Starts Mosquitto and waits until it accepts connections.
    pub fn start() -> anyhow::Result<Mosquitto> {
        let dir = tempfile::tempdir()?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nuser root\nallow_anonymous true\npersistence false\n\
                 set_tcp_nodelay true\nmax_queued_messages 0\nlog_dest none\n"
            ),
        )?;
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start mosquitto; the bench needs it (apt-get install mosquitto)")?;
        let broker = Mosquitto {
            port,
            child,
            _dir: dir,
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        while TcpStream::connect(addr).is_err() {
            anyhow::ensure!(
                started.elapsed() < START_TIMEOUT,
                "mosquitto did not accept connections on {addr} within {START_TIMEOUT:?}"
            );
            std::thread::sleep(PROBE_INTERVAL);
        }
        Ok(broker)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its process id.
    pub fn pid(&self) -> String {
        self.child.id().to_string()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
