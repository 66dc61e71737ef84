//! A real Home Assistant for a test: `hass` from a Python venv (made by `.ci/ha-venv`), a fresh
//! config directory, 127.0.0.1 on a free port, only the integrations the test needs (no
//! `default_config`, no cloud, no analytics opt-in), driven through its REST API as the
//! frontend and the Companion app drive it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// Where the test looks for the venv first.
pub const VENV_ENV: &str = "DOORBELL_BRIDGE_HA_VENV";
/// The Home Assistant release the venv holds (`.ci/ha-venv`): the newest for Python 3.11.
pub const VERSION: &str = "2024.3.3";
/// Generous bound for Home Assistant to answer after its start (a failure, not a pace: a
/// cold start on two busy cores takes tens of seconds).
pub const START_TIMEOUT: Duration = Duration::from_secs(240);
/// Generous bound for anything else Home Assistant does.
pub const WAIT: Duration = Duration::from_secs(60);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(200);
/// How much of Home Assistant's log a failure shows.
const LOG_TAIL: usize = 120;
/// One REST call's bound.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

const CONFIGURATION: &str = r#"homeassistant:
  name: doorbell-bridge test
  time_zone: UTC
  latitude: 0
  longitude: 0
  elevation: 0
  unit_system: metric
  currency: EUR
  country: DE
http:
  server_host: 127.0.0.1
  server_port: {port}
api:
onboarding:
config:
mobile_app:
automation: !include automations.yaml
logger:
  default: warning
  logs:
    homeassistant.components.automation: debug
"#;

/// The `hass` program of the venv: `$DOORBELL_BRIDGE_HA_VENV`, else `target/ha-venv` of this
/// checkout. `None` when missing: under CI (`CI` set) the test fails, naming the script that
/// makes it; elsewhere it says SKIPPED on the terminal.
pub fn require(test: &str) -> Option<PathBuf> {
    let venv = std::env::var_os(VENV_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ha-venv"));
    let hass = venv.join("bin/hass");
    if hass.is_file() {
        return Some(hass);
    }
    let ci = std::env::var("CI").ok();
    let in_ci = ci.is_some_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"));
    let what = format!(
        "no Home Assistant at {} (run `bash .ci/ha-venv`, or set {VENV_ENV} to a venv with homeassistant=={VERSION})",
        hass.display()
    );
    assert!(!in_ci, "{test}: {what}; .ci/run makes it");
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{test}: SKIPPED: {what}");
    None
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// A running Home Assistant, killed on drop.
pub struct Hass {
    child: Child,
    base: String,
    config: PathBuf,
    http: reqwest::Client,
    token: String,
}

impl Hass {
    /// Starts `hass` on a fresh config directory `config` and waits until it answers.
    pub async fn start(hass: &Path, config: &Path) -> Hass {
        let port = free_port();
        std::fs::create_dir_all(config).unwrap();
        std::fs::write(
            config.join("configuration.yaml"),
            CONFIGURATION.replace("{port}", &port.to_string()),
        )
        .unwrap();
        std::fs::write(config.join("automations.yaml"), "[]\n").unwrap();
        doorbell_bridge::onvif::install_crypto_provider();
        let log = std::fs::File::create(config.join("hass.out")).unwrap();
        let child = Command::new(hass)
            // The venv holds every requirement; nothing is installed at run time.
            .arg("--skip-pip")
            .arg("-c")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn hass");
        let mut hass = Hass {
            child,
            base: format!("http://127.0.0.1:{port}"),
            config: config.to_owned(),
            http: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .build()
                .unwrap(),
            token: String::new(),
        };
        let started = std::time::Instant::now();
        loop {
            if let Ok(Some(status)) = hass.child.try_wait() {
                panic!("hass exited ({status}) before answering:\n{}", hass.log());
            }
            let up = hass
                .http
                .get(hass.url("/api/onboarding"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                eprintln!("home assistant: answered after {:?}", started.elapsed());
                return hass;
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "hass did not answer within {START_TIMEOUT:?}:\n{}",
                hass.log()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// What Home Assistant logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.config.join("hass.out")).unwrap_or_default()
    }

    /// Onboards (the first user, as the frontend does) and keeps its access token.
    pub async fn onboard(&mut self) {
        let client_id = self.url("/");
        let user: Value = self
            .send(
                self.http
                    .post(self.url("/api/onboarding/users"))
                    .json_body(&json!({
                        "client_id": client_id, "name": "Test", "username": "test",
                        "password": "test-password", "language": "en"
                    })),
            )
            .await;
        let code = user["auth_code"].as_str().expect("auth_code").to_owned();
        let form = format!("grant_type=authorization_code&code={code}&client_id={client_id}");
        let token: Value = self
            .send(
                self.http
                    .post(self.url("/auth/token"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form),
            )
            .await;
        self.token = token["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned();
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Value {
        let response = request.send().await.expect("home assistant answers");
        let status = response.status();
        let body = response.bytes().await.expect("home assistant's body");
        assert!(
            status.is_success(),
            "home assistant answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
        if body.is_empty() {
            return Value::Null;
        }
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
    }

    /// GET with the token: the status and the body.
    pub async fn get(&self, path: &str) -> (u16, bytes::Bytes) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("home assistant answers");
        (r.status().as_u16(), r.bytes().await.expect("body"))
    }

    /// POST JSON with the token; panics on an error status.
    pub async fn post(&self, path: &str, body: &Value) -> Value {
        self.send(
            self.http
                .post(self.url(path))
                .bearer_auth(&self.token)
                .json_body(body),
        )
        .await
    }

    /// A template rendered by Home Assistant.
    pub async fn template(&self, template: &str) -> String {
        match self
            .post("/api/template", &json!({ "template": template }))
            .await
        {
            Value::String(s) => s,
            other => other.to_string(),
        }
    }

    /// Adds the MQTT integration through its config flow (the user's way), for the broker on
    /// 127.0.0.1:`port`.
    pub async fn set_up_mqtt(&self, port: u16) {
        let form = self
            .post(
                "/api/config/config_entries/flow",
                &json!({"handler": "mqtt"}),
            )
            .await;
        assert_eq!(form["step_id"], "broker", "{form}");
        let flow = form["flow_id"].as_str().unwrap();
        let done = self
            .post(
                &format!("/api/config/config_entries/flow/{flow}"),
                &json!({"broker": "127.0.0.1", "port": port}),
            )
            .await;
        assert_eq!(done["type"], "create_entry", "{done}");
    }

    /// Registers a Companion app named `name` whose notifications go to `push_url` with
    /// `push_token`, as the app does on its first start; returns its device's id.
    pub async fn register_phone(&self, name: &str, push_url: &str, push_token: &str) -> String {
        self.post(
            "/api/mobile_app/registrations",
            &json!({
                "device_id": push_token, "app_id": "io.robbie.HomeAssistant",
                "app_name": "Home Assistant", "app_version": "2024.1", "device_name": name,
                "manufacturer": "doorbell-bridge", "model": "test phone", "os_name": "iOS",
                "os_version": "17.0", "supports_encryption": false,
                "app_data": {"push_url": push_url, "push_token": push_token}
            }),
        )
        .await;
        let id = self
            .template(&format!("{{{{ device_id('{name}') }}}}"))
            .await;
        assert!(!id.is_empty() && id != "None", "no device for phone {name}");
        id
    }

    /// Installs a blueprint as `blueprints/automation/<rel>`.
    pub fn install_blueprint(&self, rel: &str, text: &str) {
        let path = self.config.join("blueprints/automation").join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Replaces `automations.yaml` and reloads the automations.
    pub async fn set_automations(&self, yaml: &str) {
        std::fs::write(self.config.join("automations.yaml"), yaml).unwrap();
        self.post("/api/services/automation/reload", &json!({}))
            .await;
    }

    /// The state object of `entity`, once `want` holds for it; panics after `timeout` with the
    /// last one seen.
    pub async fn wait_state(
        &self,
        entity: &str,
        timeout: Duration,
        want: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let (status, body) = self.get(&format!("/api/states/{entity}")).await;
            let state: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if status == 200 && want(&state) {
                return state;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{entity}: not as wanted within {timeout:?} (HTTP {status}): {state}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// How many times Home Assistant's log has `needle` so far.
    pub fn log_count(&self, needle: &str) -> usize {
        self.log().matches(needle).count()
    }

    /// Waits until Home Assistant's log has `needle` at least `count` times (a bounded wait
    /// on a condition).
    pub async fn wait_log(&self, needle: &str, count: usize, timeout: Duration) {
        let deadline = std::time::Instant::now() + timeout;
        while self.log_count(needle) < count {
            assert!(
                std::time::Instant::now() < deadline,
                "home assistant never logged {needle:?} {count} times"
            );
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for Hass {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Captured by the harness, shown with the failure.
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(LOG_TAIL)..];
            eprintln!(
                "home assistant's log, last {LOG_TAIL} lines:\n{}",
                tail.join("\n")
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `RequestBuilder::json` without reqwest's `json` feature.
trait JsonBody {
    fn json_body(self, body: &Value) -> Self;
}

impl JsonBody for reqwest::RequestBuilder {
    fn json_body(self, body: &Value) -> Self {
        self.header("content-type", "application/json")
            .body(body.to_string())
    }
}
