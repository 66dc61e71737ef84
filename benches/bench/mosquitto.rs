//! A fresh Mosquitto for each run, on a free loopback port, killed on drop.
//!
//! Like `tests/support/broker.rs`, but tuned for measuring: `set_tcp_nodelay true` (without
//! it Nagle's algorithm on the broker's socket to our subscriber, which never answers at QoS 0,
//! waits for delayed ACKs and adds up to 40 ms to bursts: that would measure the broker, not
//! the bridge), no persistence, no queue limit, no log; and the pid, so its CPU time is read.
//!
//! The soak restarts it on the same port ([`Mosquitto::restart`]) and starts it with
//! [`Mosquitto::start_durable`]: persistence on, so the bench's own subscriber (a persistent
//! QoS 1 session) misses nothing the bridge publishes while it reconnects. The bridge connects
//! with a clean session, so for it the restarted broker still knows nothing of it.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// How long Mosquitto may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between readiness probes (polling a real signal: the port accepting).
const PROBE_INTERVAL: Duration = Duration::from_millis(10);
/// How long Mosquitto may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

fn spawn(conf: &Path) -> anyhow::Result<Child> {
    Command::new("mosquitto")
        .arg("-c")
        .arg(conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start mosquitto; the bench needs it (apt-get install mosquitto)")
}

/// A running Mosquitto.
pub struct Mosquitto {
    port: u16,
    child: Child,
    conf: PathBuf,
    dir: tempfile::TempDir,
}

impl Mosquitto {
    /// Starts Mosquitto and waits until it accepts connections.
    pub fn start() -> anyhow::Result<Mosquitto> {
        Self::start_with(false)
    }

    /// Starts Mosquitto with persistence on (saved when it stops), so a restart keeps the
    /// persistent sessions and retained messages.
    pub fn start_durable() -> anyhow::Result<Mosquitto> {
        Self::start_with(true)
    }

    fn start_with(durable: bool) -> anyhow::Result<Mosquitto> {
        let dir = tempfile::tempdir()?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let conf = dir.path().join("mosquitto.conf");
        let persistence = if durable {
            format!(
                "persistence true\npersistence_location {}/\n",
                dir.path().display()
            )
        } else {
            "persistence false\n".to_owned()
        };
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nuser root\nallow_anonymous true\n{persistence}\
                 set_tcp_nodelay true\nmax_queued_messages 0\nlog_dest none\n"
            ),
        )?;
        let child = spawn(&conf)?;
        let broker = Mosquitto {
            port,
            child,
            conf,
            dir,
        };
        broker.wait_ready()?;
        Ok(broker)
    }

    fn wait_ready(&self) -> anyhow::Result<()> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let started = Instant::now();
        while TcpStream::connect(addr).is_err() {
            anyhow::ensure!(
                started.elapsed() < START_TIMEOUT,
                "mosquitto did not accept connections on {addr} within {START_TIMEOUT:?}"
            );
            std::thread::sleep(PROBE_INTERVAL);
        }
        Ok(())
    }

    /// Stops Mosquitto with SIGTERM (it saves its persistence file, if on), waits for it to
    /// exit and starts it again on the same port with the same configuration; returns once it
    /// accepts connections. The pid changes.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        let pid = self.pid();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .is_ok_and(|s| s.success());
        anyhow::ensure!(sent, "cannot send SIGTERM to mosquitto ({pid})");
        let started = Instant::now();
        while self.child.try_wait()?.is_none() {
            if started.elapsed() > STOP_TIMEOUT {
                let _ = self.child.kill();
                self.child.wait()?;
                break;
            }
            std::thread::sleep(PROBE_INTERVAL);
        }
        // The port is ours again only once the old process is gone: it was waited for.
        self.child = spawn(&self.conf)?;
        self.wait_ready()
            .with_context(|| format!("mosquitto restart (files in {})", self.dir.path().display()))
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
