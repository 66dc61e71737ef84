//! Bridge test fixtures: configs, short timings, events and a bridge that stops cleanly.

#![allow(dead_code)] // each test binary uses a different part

use std::time::Duration;

use doorbell_bridge::config::MqttConfig;
use doorbell_bridge::event::{CameraId, Command, Event, Items, Kind, Operation, Update};
use doorbell_bridge::mqtt::{Bridge, BridgeStatus, CameraMeta, Tuning};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Generous bound for anything to arrive (a failure, not a pace).
pub const WAIT: Duration = Duration::from_secs(10);
pub const BASE: &str = "doorbell-bridge";
pub const DISCOVERY: &str = "homeassistant/device/doorbell-bridge_front_door/config";

pub fn mqtt_config(extra: &str) -> MqttConfig {
    let text = format!("[mqtt]\n{extra}\n");
    doorbell_bridge::config::from_toml(&text, std::path::Path::new("test.toml"))
        .expect("test config is valid")
        .mqtt
}

pub fn plain(port: u16) -> MqttConfig {
    mqtt_config(&format!("url = \"mqtt://127.0.0.1:{port}\""))
}

pub fn tuning() -> Tuning {
    Tuning {
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(400),
        birth_delay_max: Duration::from_millis(50),
        shutdown_deadline: Duration::from_secs(2),
        keep_alive: Duration::from_secs(5),
    }
}

/// The whole bridge's options for tests: short camera timeouts and MQTT timings, an 8 s
/// shutdown deadline, the default door rules.
pub fn app_options() -> doorbell_bridge::app::Options {
    doorbell_bridge::app::Options {
        shutdown_deadline: Duration::from_secs(8),
        client: doorbell_bridge::onvif::ClientOptions {
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(2),
            pull_margin: Duration::from_secs(2),
            ..doorbell_bridge::onvif::ClientOptions::default()
        },
        mqtt: tuning(),
        door: Default::default(),
    }
}

/// A whole bridge's config: the broker on `port`, the archive at `storage`, `sections` (such
/// as an `[http]` block) and one camera `front_door` of the simulated doorbell at `url` (the
/// simulator's credentials, 1 s pulls, 2 s backoff) with `camera_extra` after its keys.
pub fn sim_config(
    port: u16,
    storage: &std::path::Path,
    sections: &str,
    url: &str,
    camera_extra: &str,
) -> doorbell_bridge::config::Config {
    let text = format!(
        "[mqtt]\nurl = \"mqtt://127.0.0.1:{port}\"\n{sections}\n[storage]\npath = {storage:?}\n\
         [[cameras]]\nid = \"front_door\"\nname = \"Front Door\"\nurl = \"{url}\"\n\
         username = \"admin\"\npassword = \"password\"\npull_timeout = \"1s\"\nmax_backoff = \"2s\"\n\
         {camera_extra}\n",
        storage = storage.display().to_string(),
    );
    doorbell_bridge::config::from_toml(&text, std::path::Path::new("test.toml"))
        .expect("test config is valid")
}

pub fn camera(id: &str, name: &str) -> CameraMeta {
    CameraMeta {
        id: CameraId::new(id).unwrap(),
        name: name.into(),
        door: None,
    }
}

pub fn front_door() -> Vec<CameraMeta> {
    vec![camera("front_door", "Front Door")]
}

pub fn event(kind: Kind, active: bool, n: u32) -> Update {
    Update::Event(Event {
        camera: CameraId::new("front_door").unwrap(),
        kind,
        active,
        trigger: active,
        time: jiff::Timestamp::now(),
        camera_time: None,
        topic: "tns1:RuleEngine/MyRuleDetector/Visitor".into(),
        source: Items::default(),
        data: Items(vec![("n".into(), n.to_string())]),
        operation: Some(Operation::Changed),
    })
}

/// A bridge started on the test's runtime, stopped cleanly by [`Running::stop`].
pub struct Running {
    pub updates: mpsc::Sender<Update>,
    pub status: BridgeStatus,
    pub tracker: TaskTracker,
    pub commands: mpsc::Receiver<(CameraId, Command)>,
}

impl Running {
    pub fn start(config: &MqttConfig, cameras: Vec<CameraMeta>) -> Running {
        let tracker = TaskTracker::new();
        let bridge = Bridge::start_with(
            config,
            cameras,
            &tracker,
            CancellationToken::new(),
            tuning(),
        )
        .expect("bridge starts");
        Running {
            updates: bridge.updates,
            status: bridge.status,
            tracker,
            commands: bridge.commands,
        }
    }

    pub async fn connected(&self) {
        tokio::time::timeout(WAIT, self.status.wait_until(BridgeStatus::is_connected))
            .await
            .expect("bridge connects");
    }

    pub async fn send(&self, update: Update) {
        self.updates.send(update).await.expect("publisher running");
    }

    /// Drops the sender (the publisher's cue) and waits for both tasks.
    pub async fn stop(self) {
        drop(self.updates);
        self.tracker.close();
        tokio::time::timeout(WAIT, self.tracker.wait())
            .await
            .expect("bridge tasks end after their channel closes");
    }
}

pub fn n_of(m: &super::broker::Received) -> u64 {
    m.json()["data"]["n"].as_str().unwrap().parse().unwrap()
}

/// PEM files of a private CA, a server certificate for localhost and a client certificate.
pub struct Pki {
    /// The CA certificate.
    pub ca: String,
    /// The server's certificate (localhost, 127.0.0.1).
    pub cert: String,
    /// Its key.
    pub key: String,
    /// A client certificate from the same CA.
    pub client_cert: String,
    /// Its key.
    pub client_key: String,
}

/// A fresh [`Pki`].
pub fn test_pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    // Distinct subject names: OpenSSL (Mosquitto) takes a certificate whose subject equals
    // its issuer for self-signed and refuses it as a client certificate (UnknownCA).
    let params = |names: Vec<String>, cn: &str| {
        let mut p = CertificateParams::new(names).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p
    };
    let mut ca_params = params(Vec::new(), "doorbell-bridge test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf = |names: Vec<String>, cn: &str| {
        let key = KeyPair::generate().unwrap();
        let cert = params(names, cn).signed_by(&key, &ca).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let server_names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let (cert, key) = leaf(server_names, "localhost");
    let (client_cert, client_key) = leaf(Vec::new(), "doorbell-bridge");
    Pki {
        ca: ca.pem(),
        cert,
        key,
        client_cert,
        client_key,
    }
}
