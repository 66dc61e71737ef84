//! Runs `ha-addon/rootfs/usr/bin/doorbell-bridge-config` with the fake bashio of
//! `tests/fixtures/addon/bashio` and checks that the bridge accepts what it writes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use doorbell_bridge::config::{self, Api, ClipStream, Config, Door, Events, PushFrom, RuleAction};
use doorbell_bridge::event::Kind;
use doorbell_bridge::secret::Secret;
use serde_json::{Value, json};

use super::{fixture_options, read, root, tools};

const SCRIPT: &str = "ha-addon/rootfs/usr/bin/doorbell-bridge-config";

/// bash and jq are what the script needs (the HA base image has both).
const TOOLS: &[(&str, &str)] = &[("bash", "bash"), ("jq", "jq")];

fn services() -> Value {
    serde_json::from_str(&read("tests/fixtures/addon/services.json")).unwrap()
}

/// Runs the script in `dir` with these options and MQTT service data (`None`: no service).
fn run_script(dir: &Path, options: &Value, services: Option<&Value>) -> (Output, PathBuf) {
    let opts = dir.join("options.json");
    std::fs::write(&opts, options.to_string()).unwrap();
    let mut cmd = Command::new("bash");
    cmd.arg(root().join("tests/fixtures/addon/bashio"))
        .arg(root().join(SCRIPT))
        .arg(dir.join("doorbell-bridge.toml"))
        .env("ADDON_CONFIG", &opts)
        .env_remove("FAKE_SERVICES");
    if let Some(s) = services {
        let path = dir.join("services.json");
        std::fs::write(&path, s.to_string()).unwrap();
        cmd.env("FAKE_SERVICES", path);
    }
    (cmd.output().unwrap(), dir.join("doorbell-bridge.toml"))
}

fn load(out: &Output, toml: &Path) -> Config {
    assert!(
        out.status.success(),
        "doorbell-bridge-config failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    config::load_with_env(toml, Some(HashMap::new())).unwrap_or_else(|e| {
        panic!(
            "{e}\n--- generated:\n{}",
            std::fs::read_to_string(toml).unwrap()
        )
    })
}

fn exposed(s: &Option<Secret>) -> Option<&str> {
    s.as_ref().map(Secret::expose)
}

#[test]
fn documented_options_become_a_config_the_bridge_accepts() {
    if !tools::require(
        "documented_options_become_a_config_the_bridge_accepts",
        TOOLS,
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let options = fixture_options();
    let (out, toml) = run_script(dir.path(), &options, Some(&services()));
    let cfg = load(&out, &toml);

    let svc = &services()["mqtt"];
    assert_eq!(cfg.mqtt.host, "core-mosquitto");
    assert_eq!(cfg.mqtt.port, 1883);
    assert!(!cfg.mqtt.tls);
    assert_eq!(cfg.mqtt.username.as_deref(), Some("addons"));
    assert_eq!(exposed(&cfg.mqtt.password), svc["password"].as_str());
    assert_eq!(cfg.storage.path, PathBuf::from("/media/doorbell-bridge"));
    assert_eq!(cfg.storage.max_age, Duration::from_secs(30 * 86_400));
    assert_eq!(cfg.storage.max_size, 2 << 30);
    assert!(cfg.push.is_none(), "no push_advertise_url, no listener");

    assert_eq!(cfg.cameras.len(), 1);
    let cam = &cfg.cameras[0];
    let password = options["cameras"][0]["password"].as_str().unwrap();
    assert!(
        password.contains('"') && password.contains('\\'),
        "the fixture must be tricky"
    );
    assert_eq!(cam.id.as_str(), "front_door");
    assert_eq!(cam.name, "Front Door");
    assert_eq!(cam.url.as_str(), "http://192.168.1.20/onvif/device_service");
    assert_eq!(cam.username.as_deref(), Some("admin"));
    assert_eq!(exposed(&cam.password), Some(password));
    assert_eq!(cam.snapshot.on, vec![Kind::Ring, Kind::Person]);
    assert!(cam.rules.is_empty());
    assert_eq!(cam.ring_input, None);
    assert_eq!(cam.api, Api::Auto);
    assert_eq!(cam.clip.on, vec![Kind::Ring]);
    assert!(cam.relay.is_none(), "relay_enabled: false");
    let http = cfg.http.as_ref().expect("[http] is always written");
    assert!(http.history);
    // The relay code, though unused, is a secret: not in the log, written safely.
    let code = options["cameras"][0]["relay_code"].as_str().unwrap();
    assert!(code.contains('"') && code.contains('\\'), "tricky code");
    assert_not_logged(&out, code);
    assert_not_logged(&out, password);

    // The secrets file is the owner's only.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&toml).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    // And the binary's own check agrees (nothing from this process's environment leaks in).
    let check = Command::new(env!("CARGO_BIN_EXE_doorbell-bridge"))
        .args(["check", "--offline", "--config"])
        .arg(&toml)
        .env_clear()
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn every_camera_option_and_rules_reach_the_config() {
    if !tools::require("every_camera_option_and_rules_reach_the_config", TOOLS) {
        return;
    }
    let mut options = fixture_options();
    options["cameras"][0]["ring_input"] = json!("AlarmIn_1");
    options["cameras"][0]["tls_insecure"] = json!(true);
    options["cameras"][0]["events"] = json!("push");
    options["cameras"][0]["push_from"] = json!("any");
    options["push_advertise_url"] = json!("http://192.168.1.5:8090");
    options["cameras"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "garage", "url": "http://192.168.1.21:8080", "snapshot_on": []}));
    options["rules"] = json!([
        {"camera": "front_door", "topic": "tns1:Device/tnsaxis:IO/Port", "item": "port",
         "value": "1", "kind": "ring"},
        {"topic": "tns1:RuleEngine/MyRuleDetector/*", "kind": "ignore"},
        {"camera": "porch", "topic": "tns1:X", "kind": "motion"}
    ]);
    let schema = &super::load_yaml("ha-addon/config.yaml")["schema"];
    super::assert_none(
        super::options::validate_options(schema, &options),
        "test options",
    );
    let dir = tempfile::tempdir().unwrap();
    let (out, toml) = run_script(dir.path(), &options, Some(&services()));
    let cfg = load(&out, &toml);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("camera porch, which is not configured"),
        "{stderr}"
    );

    let [front, garage] = cfg.cameras.as_slice() else {
        panic!("two cameras")
    };
    assert_eq!(front.ring_input.as_deref(), Some("AlarmIn_1"));
    assert!(front.tls_insecure);
    assert_eq!(front.events, Events::Push);
    assert_eq!(front.push_from, PushFrom::Any);
    let push = cfg.push.as_ref().expect("push_advertise_url writes [push]");
    assert_eq!(push.listen.port(), 8090, "the port config.yaml declares");
    assert_eq!(push.advertise_url.as_str(), "http://192.168.1.5:8090/");
    assert_eq!(garage.events, Events::Auto);
    let actions: Vec<_> = front
        .rules
        .iter()
        .map(|r| (r.topic.as_str(), r.action))
        .collect();
    assert_eq!(
        actions,
        [
            ("tns1:Device/tnsaxis:IO/Port", RuleAction::Kind(Kind::Ring)),
            ("tns1:RuleEngine/MyRuleDetector/*", RuleAction::Ignore)
        ]
    );
    assert_eq!(front.rules[0].item.as_deref(), Some("port"));
    assert_eq!(front.rules[0].value.as_deref(), Some("1"));
    assert_eq!(garage.name, "garage");
    assert_eq!(
        garage.url.as_str(),
        "http://192.168.1.21:8080/onvif/device_service"
    );
    assert!(
        garage.snapshot.on.is_empty(),
        "an empty snapshot_on turns event snapshots off"
    );
    assert_eq!(garage.rules.len(), 1);
    assert!(!garage.tls_insecure);
}

#[test]
fn broker_comes_from_the_service_or_the_override() {
    if !tools::require("broker_comes_from_the_service_or_the_override", TOOLS) {
        return;
    }
    let tls_service = json!({"mqtt": {"host": "fd00::5", "port": 8883, "ssl": true,
                                      "username": "addons", "password": "x"}});
    let override_opts = |o: &mut Value| {
        o["mqtt_url"] = json!("mqtts://broker.example:8884");
        o["mqtt_username"] = json!("me");
        o["mqtt_password"] = json!("se\"cr\\et");
    };
    type Case<'a> = (
        &'a str,
        fn(&mut Value),
        Option<Value>,
        Result<(&'a str, u16, bool, Option<&'a str>), &'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            "service",
            |_| {},
            Some(services()),
            Ok(("core-mosquitto", 1883, false, Some("addons"))),
        ),
        (
            "service with TLS, IPv6",
            |_| {},
            Some(tls_service),
            Ok(("fd00::5", 8883, true, Some("addons"))),
        ),
        (
            "override wins",
            override_opts,
            Some(services()),
            Ok(("broker.example", 8884, true, Some("me"))),
        ),
        (
            "override alone",
            override_opts,
            None,
            Ok(("broker.example", 8884, true, Some("me"))),
        ),
        ("no broker", |_| {}, None, Err("no MQTT broker")),
    ];
    assert!(!cases.is_empty());
    for (name, change, svc, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut options = fixture_options();
        change(&mut options);
        let (out, toml) = run_script(dir.path(), &options, svc.as_ref());
        match want {
            Ok((host, port, tls, user)) => {
                let cfg = load(&out, &toml);
                let m = &cfg.mqtt;
                assert_eq!(
                    (m.host.as_str(), m.port, m.tls, m.username.as_deref()),
                    (host, port, tls, user),
                    "{name}"
                );
                if user == Some("me") {
                    assert_eq!(exposed(&m.password), Some("se\"cr\\et"), "{name}");
                }
            }
            Err(message) => {
                assert!(!out.status.success(), "{name}: must fail");
                assert!(
                    String::from_utf8_lossy(&out.stderr).contains(message),
                    "{name}"
                );
                assert!(!toml.exists(), "{name}: no config on failure");
                let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
                assert_eq!(leftovers, 1, "{name}: only options.json may remain");
            }
        }
    }
}

#[test]
fn build_context_is_a_self_contained_app_folder() {
    if !tools::require("build_context_is_a_self_contained_app_folder", TOOLS) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("doorbell_bridge");
    let out = Command::new("bash")
        .arg(root().join("ha-addon/build-context.sh"))
        .arg(&dest)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let built =
        super::yaml::yaml_to_json(&std::fs::read_to_string(dest.join("config.yaml")).unwrap())
            .unwrap();
    let mut original = super::load_yaml("ha-addon/config.yaml");
    original.as_object_mut().unwrap().remove("image");
    assert_eq!(
        built, original,
        "config.yaml minus image:, so the Supervisor builds locally"
    );
    // Its Dockerfile builds what was copied (SOURCE=context), not the released tag.
    let parsed = super::dockerfile_at(&dest.join("Dockerfile"));
    assert_eq!(parsed.global_default("SOURCE"), Some("context"));
    let supervisor_args = HashMap::from([("BUILD_ARCH", "amd64"), ("BUILD_VERSION", "0.1.0")]);
    let sources = parsed.context_sources(&supervisor_args);
    assert!(sources.len() >= 4, "{sources:?}");
    for src in sources {
        assert!(
            dest.join(&src).exists(),
            "{src} missing from the app folder"
        );
    }
    let mut original = read("ha-addon/Dockerfile");
    original = original.replacen("\nARG SOURCE=git\n", "\nARG SOURCE=context\n", 1);
    assert_eq!(
        std::fs::read_to_string(dest.join("Dockerfile")).unwrap(),
        original,
        "only the SOURCE default differs"
    );
    // Inside the repository it refuses: a second config.yaml would be a second app.
    let inside = root().join("ha-addon/build-context-test");
    let out = Command::new("bash")
        .arg(root().join("ha-addon/build-context.sh"))
        .arg(&inside)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!inside.exists());
}

/// `secret` appears in neither the script's output nor its log (stdout, stderr).
fn assert_not_logged(out: &Output, secret: &str) {
    for (name, stream) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let text = String::from_utf8_lossy(stream);
        assert!(
            !text.contains(secret),
            "the secret reached the script's {name}: {text}"
        );
    }
}

/// The fixture with its first camera changed by `change`, checked against the schema.
fn options_with(change: impl FnOnce(&mut Value)) -> Value {
    let mut options = fixture_options();
    change(&mut options);
    let schema = &super::load_yaml("ha-addon/config.yaml")["schema"];
    super::assert_none(
        super::options::validate_options(schema, &options),
        "test options",
    );
    options
}

/// The fixture's camera without the options a test sets or leaves out.
fn bare_camera(id: &str) -> Value {
    json!({"id": id, "url": "192.168.1.30"})
}

fn config_of(options: &Value) -> (Output, Config) {
    let dir = tempfile::tempdir().unwrap();
    let (out, toml) = run_script(dir.path(), options, Some(&services()));
    let cfg = load(&out, &toml);
    (out, cfg)
}

#[test]
fn api_and_channel_options_reach_the_config() {
    if !tools::require("api_and_channel_options_reach_the_config", TOOLS) {
        return;
    }
    let options = options_with(|o| {
        o["push_advertise_url"] = json!("http://192.168.1.5:8090");
        o["cameras"] = json!([
            {"id": "nvr", "url": "192.168.1.40", "api": "hikvision", "channel": 3},
            {"id": "vto", "url": "192.168.1.41", "api": "dahua"},
            {"id": "bird", "url": "192.168.1.42", "api": "doorbird"},
            {"id": "plain", "url": "192.168.1.43", "api": "onvif"},
            bare_camera("unset"),
        ]);
    });
    let (_, cfg) = config_of(&options);
    let got: Vec<_> = cfg
        .cameras
        .iter()
        .map(|c| (c.id.as_str(), c.api, c.channel))
        .collect();
    assert_eq!(
        got,
        [
            ("nvr", Api::Hikvision, Some(3)),
            ("vto", Api::Dahua, None),
            ("bird", Api::DoorBird, None),
            ("plain", Api::Onvif, None),
            ("unset", Api::Auto, None),
        ]
    );
}

#[test]
fn clip_options_reach_the_config_and_unset_ones_keep_the_defaults() {
    if !tools::require(
        "clip_options_reach_the_config_and_unset_ones_keep_the_defaults",
        TOOLS,
    ) {
        return;
    }
    let options = options_with(|o| {
        let mut full = bare_camera("full");
        full["clip_on"] = json!(["ring", "person"]);
        full["clip_pre"] = json!("2s");
        full["clip_post"] = json!("20s");
        full["clip_max"] = json!("90s");
        full["clip_stream"] = json!("main");
        let mut url = bare_camera("url");
        url["clip_on"] = json!(["motion"]);
        url["clip_stream"] = json!("rtsp://192.168.1.30:554/stream2");
        let mut off = bare_camera("off");
        off["clip_on"] = json!([]);
        off["clip_pre"] = json!("10s");
        o["cameras"] = json!([full, url, off, bare_camera("unset")]);
    });
    let (_, cfg) = config_of(&options);
    let [full, url, off, unset] = cfg.cameras.as_slice() else {
        panic!("four cameras")
    };
    let secs = Duration::from_secs;
    assert_eq!(full.clip.on, [Kind::Ring, Kind::Person]);
    assert_eq!(
        (full.clip.pre, full.clip.post, full.clip.max),
        (secs(2), secs(20), secs(90))
    );
    assert_eq!(full.clip.stream, ClipStream::Main);
    assert_eq!(url.clip.on, [Kind::Motion]);
    assert_eq!(
        url.clip.stream,
        ClipStream::Url("rtsp://192.168.1.30:554/stream2".parse().unwrap())
    );
    assert!(!off.clip.enabled(), "an empty clip_on keeps clips off");
    assert_eq!(off.clip.pre, secs(10));
    // Unset: the bridge's own defaults, clips off.
    let defaults = config::from_toml(
        "[[cameras]]\nid = \"d\"\nurl = \"192.168.1.30\"\n",
        Path::new("defaults.toml"),
    )
    .unwrap()
    .cameras
    .remove(0)
    .clip;
    assert_eq!(unset.clip, defaults);
    assert!(!unset.clip.enabled());
    assert_eq!(
        url.clip.pre, defaults.pre,
        "an unset clip_pre is the default"
    );
}

#[test]
fn relay_options_reach_the_config_and_the_code_never_reaches_the_log() {
    if !tools::require(
        "relay_options_reach_the_config_and_the_code_never_reaches_the_log",
        TOOLS,
    ) {
        return;
    }
    let code = "9\"8\\7 $(id) `x`";
    let options = options_with(|o| {
        let mut vto = bare_camera("vto");
        vto["api"] = json!("dahua");
        vto["relay_enabled"] = json!(true);
        vto["relay_door"] = json!("2");
        vto["relay_pulse"] = json!("3s");
        vto["relay_code"] = json!(code);
        let mut onvif = bare_camera("gate");
        onvif["api"] = json!("onvif");
        onvif["relay_enabled"] = json!(true);
        onvif["relay_door"] = json!("Relay1");
        let mut off = bare_camera("off");
        off["relay_enabled"] = json!(false);
        off["relay_door"] = json!("1");
        o["cameras"] = json!([vto, onvif, off, bare_camera("unset")]);
    });
    let (out, cfg) = config_of(&options);
    let [vto, gate, off, unset] = cfg.cameras.as_slice() else {
        panic!("four cameras")
    };
    let relay = vto.relay.as_ref().expect("relay_enabled: true");
    assert_eq!(relay.door, Door::Number(2));
    assert_eq!(relay.pulse, Duration::from_secs(3));
    assert_eq!(relay.code.as_ref().map(Secret::expose), Some(code));
    let relay = gate.relay.as_ref().expect("relay_enabled: true");
    assert_eq!(relay.door, Door::Token("Relay1".into()));
    assert_eq!(relay.pulse, Duration::from_secs(1), "the default pulse");
    assert_eq!(relay.code, None, "no relay_code, no code asked");
    assert!(off.relay.is_none(), "relay_enabled: false");
    assert!(unset.relay.is_none(), "no relay options: no door");
    assert_not_logged(&out, code);
}

#[test]
fn the_history_page_listens_for_the_ingress_proxy_on_the_ingress_port() {
    if !tools::require(
        "the_history_page_listens_for_the_ingress_proxy_on_the_ingress_port",
        TOOLS,
    ) {
        return;
    }
    let app = super::load_yaml("ha-addon/config.yaml");
    let ingress_port = app["ingress_port"].as_u64().expect("ingress_port");
    assert_eq!(app["ingress"], true);
    assert_eq!(
        app["watchdog"],
        format!("tcp://[HOST]:[PORT:{ingress_port}]"),
        "the watchdog checks the same server"
    );
    let cases = [
        ("history: true", Some(true), true),
        ("history: false", Some(false), false),
        ("history unset", None, true),
    ];
    for (name, history, want) in cases {
        // Unset: options.json written before the option existed (the schema requires it now).
        let options = match history {
            Some(h) => options_with(|o| o["history"] = json!(h)),
            None => {
                let mut o = fixture_options();
                o.as_object_mut().unwrap().remove("history");
                o
            }
        };
        let (_, cfg) = config_of(&options);
        let http = cfg.http.as_ref().expect("[http] is always written");
        assert_eq!(http.history, want, "{name}");
        assert_eq!(u64::from(http.listen.port()), ingress_port, "{name}");
        assert!(
            http.listen.ip().is_unspecified(),
            "{name}: the ingress proxy is another host"
        );
        assert_eq!(
            http.trusted_proxy,
            Some("172.30.32.2".parse().unwrap()),
            "{name}: Home Assistant's ingress proxy"
        );
        assert!(http.password.is_none(), "{name}");
        assert!(!http.page_refuses_other_hosts(), "{name}");
    }
}
