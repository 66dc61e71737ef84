//! A real MQTT broker for integration tests, and a subscriber that collects what it sees.
//!
//! [`Broker::start`] runs Mosquitto on a free port of 127.0.0.1 (config, log and persistence in
//! a temp dir), waits until it accepts connections, kills it on drop and can restart it on the
//! same port. Without Mosquitto it falls back to the embedded rumqttd (which can neither
//! restart nor check passwords nor speak TLS: [`Broker::mosquitto`] returns `None` for tests
//! that need those).

#![allow(dead_code)] // each test binary uses a different part

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, QoS};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// How long a broker may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between readiness probes (polling a real signal: the port accepting).
const PROBE_INTERVAL: Duration = Duration::from_millis(10);
/// Pause between a test subscriber's reconnect attempts.
const SUBSCRIBER_RETRY: Duration = Duration::from_millis(50);
/// Packet limit of test clients (above the bridge's).
const TEST_PACKET_LIMIT: usize = 32 * 1024 * 1024;

/// What the Mosquitto instance should do besides anonymous MQTT on one port.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Require this user and password (anonymous access refused unless `anonymous_too`).
    pub user: Option<(String, String)>,
    /// With `user`: clients without credentials get in too (a test subscriber); clients that
    /// give credentials must give the right ones.
    pub anonymous_too: bool,
    /// Keep sessions across restarts (for persistent test subscribers).
    pub persistence: bool,
    /// A second, TLS listener with these PEM files: (CA, server cert, server key).
    pub tls: Option<(String, String, String)>,
    /// With `tls`: the TLS listener admits only clients with a certificate from the CA.
    pub require_client_cert: bool,
}

/// A running broker.
pub struct Broker {
    port: u16,
    tls_port: Option<u16>,
    dir: tempfile::TempDir,
    child: Option<Child>,
    embedded: bool,
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// Set to `embedded` to run the tests against the embedded broker even where Mosquitto exists.
const BROKER_ENV: &str = "DOORBELL_BRIDGE_TEST_BROKER";

fn mosquitto_binary() -> Option<PathBuf> {
    if std::env::var(BROKER_ENV).is_ok_and(|v| v == "embedded") {
        return None;
    }
    let candidates = [
        "mosquitto",
        "/usr/sbin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ];
    candidates.iter().map(PathBuf::from).find(|bin| {
        Command::new(bin)
            .arg("-h")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    })
}

/// Whether `CI` means "in CI" (`CI=true`, as `.ci/run` sets it).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// Fails under CI (unless the embedded broker was asked for); otherwise says SKIPPED on the
/// terminal.
fn missing_mosquitto() {
    let chose_embedded = std::env::var(BROKER_ENV).is_ok_and(|v| v == "embedded");
    if in_ci() && !chose_embedded {
        panic!(
            "mosquitto is not installed, and CI is set: install it (apt-get install mosquitto); .ci/run does"
        );
    }
    // Not eprintln!: the test harness captures that and shows it only on failure.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: mosquitto not available ({BROKER_ENV}=embedded or not installed; apt-get install mosquitto)"
    );
}

fn wait_until_accepting(port: u16) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let started = Instant::now();
    while TcpStream::connect(addr).is_err() {
        assert!(
            started.elapsed() < START_TIMEOUT,
            "broker on {addr} did not accept connections within {START_TIMEOUT:?}"
        );
        std::thread::sleep(PROBE_INTERVAL);
    }
}

impl Broker {
    /// Mosquitto with anonymous access, or the embedded broker if Mosquitto is missing.
    /// Under CI a missing Mosquitto fails the test: CI tests against the real broker.
    pub fn start() -> Broker {
        match mosquitto_binary() {
            Some(bin) => Broker::launch(&bin, &Options::default()),
            None => {
                missing_mosquitto();
                Broker::embedded()
            }
        }
    }

    #[cfg(not(feature = "embedded-broker"))]
    fn embedded() -> Broker {
        panic!("no broker: install mosquitto or build with the embedded-broker feature")
    }

    #[cfg(feature = "embedded-broker")]
    fn embedded() -> Broker {
        let addr = doorbell_bridge::mqtt::embedded::start_embedded_broker()
            .expect("start the embedded broker");
        eprintln!("broker: embedded rumqttd on {addr} (mosquitto not available)");
        Broker {
            port: addr.port(),
            tls_port: None,
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
            embedded: true,
        }
    }

    /// Mosquitto with `options`. When it is not installed: under CI (`CI` set, as `.ci/run`
    /// does) the test fails, naming the package; elsewhere `None`, with `SKIPPED` written to
    /// the terminal (not to the captured output `cargo test` shows only on failure), so a test
    /// never passes silently.
    pub fn mosquitto(options: Options) -> Option<Broker> {
        let Some(bin) = mosquitto_binary() else {
            missing_mosquitto();
            return None;
        };
        Some(Broker::launch(&bin, &options))
    }

    fn launch(bin: &Path, options: &Options) -> Broker {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let tls_port = options.tls.as_ref().map(|_| free_port());
        write_config(dir.path(), port, tls_port, options);
        let mut broker = Broker {
            port,
            tls_port,
            dir,
            child: None,
            embedded: false,
        };
        broker.spawn(bin);
        eprintln!("broker: mosquitto on 127.0.0.1:{port}");
        broker
    }

    fn spawn(&mut self, bin: &Path) {
        let config = self.dir.path().join("mosquitto.conf");
        let child = Command::new(bin)
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mosquitto");
        self.child = Some(child);
        wait_until_accepting(self.port);
        if let Some(tls) = self.tls_port {
            wait_until_accepting(tls);
        }
    }

    /// The plain listener's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The TLS listener's port.
    pub fn tls_port(&self) -> u16 {
        self.tls_port.expect("broker started without TLS")
    }

    /// Whether this is the embedded fallback.
    pub fn is_embedded(&self) -> bool {
        self.embedded
    }

    /// Stops Mosquitto gracefully (SIGTERM: it saves persistent sessions) and waits for it.
    pub fn stop(&mut self) {
        let mut child = self.child.take().expect("mosquitto is running");
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        child.wait().expect("wait for mosquitto");
    }

    /// Starts Mosquitto again on the same port(s).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop() first");
        let bin = mosquitto_binary().expect("mosquitto ran before");
        self.spawn(&bin);
    }

    /// Mosquitto's log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn write_config(dir: &Path, port: u16, tls_port: Option<u16>, options: &Options) {
    let mut conf = format!(
        "listener {port} 127.0.0.1\n\
         user root\n\
         log_dest file {log}\n\
         log_type all\n",
        log = dir.join("mosquitto.log").display(),
    );
    if options.persistence {
        conf += &format!(
            "persistence true\npersistence_location {}/\n",
            dir.display()
        );
    } else {
        conf += "persistence false\n";
    }
    match &options.user {
        None => conf += "allow_anonymous true\n",
        Some((user, password)) => {
            let file = dir.join("passwd");
            let status = Command::new("mosquitto_passwd")
                .args(["-b", "-c"])
                .arg(&file)
                .args([user, password])
                .status()
                .expect("run mosquitto_passwd");
            assert!(status.success(), "mosquitto_passwd failed");
            conf += &format!(
                "allow_anonymous {}\npassword_file {}\n",
                options.anonymous_too,
                file.display()
            );
        }
    }
    if let (Some(tls_port), Some((ca, cert, key))) = (tls_port, &options.tls) {
        for (name, pem) in [("ca.pem", ca), ("server.pem", cert), ("server.key", key)] {
            std::fs::write(dir.join(name), pem).expect("write TLS file");
        }
        conf += &format!(
            "listener {tls_port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n",
            dir.join("ca.pem").display(),
            dir.join("server.pem").display(),
            dir.join("server.key").display(),
        );
        if options.require_client_cert {
            conf += "require_certificate true\n";
        }
    }
    std::fs::write(dir.join("mosquitto.conf"), conf).expect("write mosquitto.conf");
}

/// A message a [`Subscriber`] received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Its topic.
    pub topic: String,
    /// Its payload.
    pub payload: Bytes,
    /// Delivered as a retained message.
    pub retain: bool,
}

impl Received {
    /// The payload as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.payload).into_owned()
    }

    /// The payload as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload)
            .unwrap_or_else(|e| panic!("{} is not JSON ({e}): {}", self.topic, self.text()))
    }
}

/// A test client subscribed to one filter (re-subscribing on every connect), collecting
/// messages so tests await them instead of sleeping.
pub struct Subscriber {
    client: AsyncClient,
    rx: mpsc::UnboundedReceiver<Received>,
    buffer: Vec<Received>,
    task: JoinHandle<()>,
}

impl Subscriber {
    /// Connects to `port`, subscribes to `filter` and returns once the broker acknowledged.
    pub async fn connect(port: u16, filter: &str) -> Subscriber {
        Self::connect_as(port, filter, None).await
    }

    /// Like [`Subscriber::connect`]; with `persistent_id`, a persistent session (clean
    /// session off) that keeps QoS 1 messages while the client is away.
    pub async fn connect_as(port: u16, filter: &str, persistent_id: Option<&str>) -> Subscriber {
        let id = match persistent_id {
            Some(id) => id.to_owned(),
            None => format!("test-sub-{}", uuid::Uuid::new_v4().simple()),
        };
        let mut options = MqttOptions::new(id, "127.0.0.1", port);
        options
            .set_max_packet_size(TEST_PACKET_LIMIT, TEST_PACKET_LIMIT)
            .set_clean_session(persistent_id.is_none())
            .set_keep_alive(Duration::from_secs(5));
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let (tx, rx) = mpsc::unbounded_channel();
        let (subscribed_tx, mut subscribed) = watch::channel(false);
        let filter = filter.to_owned();
        let sub = client.clone();
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                        let _ = sub.subscribe(filter.clone(), QoS::AtLeastOnce).await;
                    }
                    Ok(Event::Incoming(Incoming::SubAck(_))) => {
                        let _ = subscribed_tx.send(true);
                    }
                    Ok(Event::Incoming(Incoming::Publish(p))) => {
                        let _ = tx.send(Received {
                            topic: p.topic.clone(),
                            payload: p.payload.clone(),
                            retain: p.retain,
                        });
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(SUBSCRIBER_RETRY).await,
                }
            }
        });
        tokio::time::timeout(START_TIMEOUT, subscribed.wait_for(|s| *s))
            .await
            .expect("test subscriber: no SubAck in time")
            .expect("test subscriber task ended");
        Subscriber {
            client,
            rx,
            buffer: Vec::new(),
            task,
        }
    }

    /// The next message on exactly `topic` (others are kept for later calls); panics after
    /// `timeout` naming what did arrive.
    pub async fn next_on(&mut self, topic: &str, timeout: Duration) -> Received {
        if let Some(i) = self.buffer.iter().position(|m| m.topic == topic) {
            return self.buffer.remove(i);
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(m)) if m.topic == topic => return m,
                Ok(Some(m)) => self.buffer.push(m),
                Ok(None) => panic!("test subscriber task ended"),
                Err(_) => {
                    let seen: Vec<&str> = self.buffer.iter().map(|m| m.topic.as_str()).collect();
                    panic!("nothing on {topic} within {timeout:?}; other topics seen: {seen:?}")
                }
            }
        }
    }

    /// Everything received so far and not yet returned by [`Subscriber::next_on`].
    pub fn take_all(&mut self) -> Vec<Received> {
        let mut all = std::mem::take(&mut self.buffer);
        while let Ok(m) = self.rx.try_recv() {
            all.push(m);
        }
        all
    }

    /// Publishes (QoS 1).
    pub async fn publish(&self, topic: &str, payload: &str, retain: bool) {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload.as_bytes().to_vec())
            .await
            .expect("test publish");
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}
