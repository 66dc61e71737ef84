use std::collections::HashMap;
use std::io::Write;

use super::*;

const MINIMAL: &str = r#"
[[cameras]]
id = "front_door"
url = "192.168.1.20"
"#;

fn parse(text: &str) -> Result<Config, ConfigError> {
    from_toml(text, Path::new("test.toml"))
}

#[test]
fn defaults_fill_a_minimal_config() {
    let c = parse(MINIMAL).unwrap();
    assert_eq!(c.mqtt.host, "127.0.0.1");
    assert_eq!(c.mqtt.port, 1883);
    assert!(!c.mqtt.tls);
    assert_eq!(c.mqtt.base_topic, "doorbell-bridge");
    assert_eq!(c.mqtt.client_id, "doorbell-bridge-doorbell_bridge");
    assert_eq!(c.storage.max_size, 2 << 30);
    assert_eq!(c.storage.max_age, Duration::from_secs(30 * 86_400));
    assert!(c.http.is_none());
    let cam = &c.cameras[0];
    assert_eq!(cam.name, "front_door");
    assert_eq!(cam.url.as_str(), "http://192.168.1.20/onvif/device_service");
    assert_eq!(cam.pull_timeout, Duration::from_secs(60));
    assert_eq!(cam.snapshot.on, vec![Kind::Ring, Kind::Person]);
    assert_eq!(cam.snapshot.max_size, 8 << 20);
}

#[test]
fn camera_urls() {
    let cases = [
        ("192.168.1.20", "http://192.168.1.20/onvif/device_service"),
        ("cam.lan:8000", "http://cam.lan:8000/onvif/device_service"),
        ("https://cam.lan/", "https://cam.lan/onvif/device_service"),
        (
            "http://10.0.0.5:2020/onvif/service",
            "http://10.0.0.5:2020/onvif/service",
        ),
    ];
    assert!(!cases.is_empty());
    for (text, want) in cases {
        assert_eq!(camera_url(text).unwrap().as_str(), want, "{text}");
    }
    assert!(camera_url("rtsp://cam").is_err());
    assert!(
        camera_url("http://admin:pw@cam")
            .unwrap_err()
            .contains("credentials")
    );
}

#[test]
fn redacts_credentials_in_urls() {
    assert_eq!(redact_url("mqtt://u:hunter2@h:1883"), "mqtt://h:1883");
    assert_eq!(redact_url("not a url://u:hunter2@h"), "not a url://***@h");
}

#[test]
fn password_file_is_read_and_trimmed() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(f, "  s3cret  ").unwrap();
    let text = format!(
        "{MINIMAL}password_file = {:?}\n",
        f.path().display().to_string()
    );
    let c = parse(&text).unwrap();
    assert_eq!(c.cameras[0].password.as_ref().unwrap().expose(), "s3cret");
}

#[test]
fn environment_overrides_use_double_underscores() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(MINIMAL.as_bytes()).unwrap();
    let env = HashMap::from([
        (
            "DOORBELL_BRIDGE__MQTT__URL".to_owned(),
            "mqtts://broker.lan".to_owned(),
        ),
        (
            "DOORBELL_BRIDGE__MQTT__BASE_TOPIC".to_owned(),
            "house/doors".to_owned(),
        ),
        (
            "DOORBELL_BRIDGE__MQTT__QUEUE_SIZE".to_owned(),
            "5".to_owned(),
        ),
        (
            "DOORBELL_BRIDGE__STORAGE__MAX_AGE".to_owned(),
            "7d".to_owned(),
        ),
    ]);
    let c = load_with_env(f.path(), Some(env)).unwrap();
    assert_eq!(c.mqtt.host, "broker.lan");
    assert!(c.mqtt.tls);
    assert_eq!(c.mqtt.port, 8883);
    assert_eq!(c.mqtt.base_topic, "house/doors");
    assert_eq!(c.mqtt.queue_size, 5);
    assert_eq!(c.storage.max_age, Duration::from_secs(7 * 86_400));
}

#[test]
fn missing_file_says_what_to_do() {
    let e = load_with_env(Path::new("/nonexistent/db.toml"), Some(HashMap::new())).unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("/nonexistent/db.toml: cannot read the config"),
        "{text}"
    );
    assert!(text.contains("--config"), "{text}");
}

#[test]
fn secrets_never_print() {
    let text = format!("{MINIMAL}password = \"hunter2\"\n");
    let c = parse(&text).unwrap();
    assert!(!format!("{c:?}").contains("hunter2"));
}

#[test]
fn snapshot_max_size_must_fit_an_mqtt_packet() {
    let with = |size: &str| {
        parse(&format!(
            "{MINIMAL}[cameras.snapshot]\nmax_size = \"{size}\"\n"
        ))
    };
    let limit = crate::limits::MAX_PACKET_BYTES as u64 - 64 * 1024;
    assert_eq!(MAX_SNAPSHOT_SIZE, limit);
    let ok = with(&format!("{limit}B")).unwrap();
    assert_eq!(ok.cameras[0].snapshot.max_size, limit);
    let err = with(&format!("{}B", limit + 1)).unwrap_err().to_string();
    assert!(err.contains("cameras[0].snapshot.max_size"), "{err}");
    assert!(
        err.contains("above the largest snapshot MQTT can carry"),
        "{err}"
    );
    assert!(err.contains("lower it"), "{err}");
    assert!(with("1GiB").is_err());
}

#[test]
fn password_files_are_read_only_up_to_a_bound() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(&vec![b'x'; MAX_SECRET_FILE_BYTES as usize + 1])
        .unwrap();
    let text = format!(
        "{MINIMAL}password_file = {:?}\n",
        f.path().display().to_string()
    );
    let err = parse(&text).unwrap_err().to_string();
    assert!(err.contains("not a password file"), "{err}");
    // A device that never ends is cut off too, not read forever.
    let text = format!("{MINIMAL}password_file = \"/dev/zero\"\n");
    let err = parse(&text).unwrap_err().to_string();
    assert!(err.contains("password_file"), "{err}");
}

#[test]
fn api_channel_and_call_poll_are_read_and_checked() {
    let c = parse(MINIMAL).unwrap();
    assert_eq!(c.cameras[0].api, Api::Auto);
    assert_eq!(c.cameras[0].channel, None);
    assert_eq!(c.cameras[0].call_poll, Duration::from_secs(1));
    let c = parse(&format!(
        "{MINIMAL}api = \"hikvision\"\nchannel = 2\ncall_poll = \"500ms\"\n"
    ))
    .unwrap();
    assert_eq!(c.cameras[0].api, Api::Hikvision);
    assert_eq!(c.cameras[0].channel, Some(2));
    assert_eq!(c.cameras[0].call_poll, Duration::from_millis(500));
    for (extra, key, hint) in [
        ("api = \"reolink\"", "cameras[0].api", "\"dahua\""),
        (
            "api = \"onvif\"\nchannel = 1",
            "cameras[0].channel",
            "set api",
        ),
        ("channel = 0", "cameras[0].channel", "count from 1"),
        (
            "api = \"dahua\"\ncall_poll = \"1s\"",
            "cameras[0].call_poll",
            "api = \"hikvision\"",
        ),
        (
            "call_poll = \"10s\"",
            "cameras[0].call_poll",
            "between 500ms and 5s",
        ),
    ] {
        let err = parse(&format!("{MINIMAL}{extra}\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(key) && err.contains(hint), "{extra}: {err}");
    }
}

#[test]
fn auto_api_follows_the_onvif_manufacturer() {
    assert!(!AUTO_API.is_empty());
    for (manufacturer, want) in [
        (Some("Amcrest"), Api::Dahua),
        (Some("Dahua"), Api::Dahua),
        (Some("IMOU"), Api::Dahua),
        (Some("Lorex Technology Inc."), Api::Dahua),
        (Some("HIKVISION"), Api::Hikvision),
        (Some("EZVIZ"), Api::Hikvision),
        (Some("Reolink"), Api::Onvif),
        // A DoorBird has no ONVIF events: auto never picks its API.
        (Some("DoorBird"), Api::Onvif),
        (Some("Bird Home Automation"), Api::Onvif),
        (Some(""), Api::Onvif),
        (None, Api::Onvif),
    ] {
        let (api, why) = Api::Auto.resolve(manufacturer);
        assert_eq!(api, want, "{manufacturer:?}");
        assert!(why.contains("auto"), "{why}");
    }
    let (api, why) = Api::Onvif.resolve(Some("Amcrest"));
    assert_eq!(api, Api::Onvif);
    assert!(why.contains("in the config"), "{why}");
}

#[test]
fn push_is_off_unless_configured_and_cameras_pull_by_default() {
    let c = parse("[[cameras]]\nid = \"door\"\nurl = \"192.168.1.21\"\n").unwrap();
    assert!(c.push.is_none());
    assert_eq!(c.cameras[0].events, Events::Auto);
    assert_eq!(c.cameras[0].push_from, PushFrom::CameraHost);
    let c = parse(
        "[push]\nlisten = \"0.0.0.0:8090\"\nadvertise_url = \"http://192.168.1.5:8090\"\n\
         [[cameras]]\nid = \"door\"\nurl = \"192.168.1.21\"\nevents = \"push\"\npush_from = \"10.0.0.7\"\n",
    )
    .unwrap();
    let push = c.push.unwrap();
    assert_eq!(push.listen.port(), 8090);
    assert_eq!(push.advertise_url.as_str(), "http://192.168.1.5:8090/");
    assert_eq!(c.cameras[0].events, Events::Push);
    assert_eq!(
        c.cameras[0].push_from,
        PushFrom::Addr("10.0.0.7".parse().unwrap())
    );
    let err = parse("[push]\nadvertise_url = \"http://192.168.1.5:8090\"\n").unwrap_err();
    assert_eq!(err.key, "push.listen");
    let err = parse("[[cameras]]\nid = \"door\"\nurl = \"x\"\nevents = \"webhook\"\n").unwrap_err();
    assert_eq!(err.key, "cameras[0].events");
    assert!(err.message.contains("\"pull\""), "{}", err.message);
}

const PUSH: &str =
    "[push]\nlisten = \"0.0.0.0:8090\"\nadvertise_url = \"http://192.168.1.5:8090\"\n";

#[test]
fn a_doorbird_camera_is_read_with_the_push_listener() {
    let c = parse(&format!(
        "{PUSH}{MINIMAL}api = \"doorbird\"\nusername = \"ghbvxs0001\"\n"
    ))
    .unwrap();
    assert_eq!(c.cameras[0].api, Api::DoorBird);
    assert_eq!(Api::DoorBird.as_str(), "doorbird");
    assert!(c.push.is_some());
}

#[test]
fn a_doorbird_camera_without_push_says_what_to_add() {
    let err = parse(&format!("{MINIMAL}api = \"doorbird\"\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("cameras[0].api"), "{err}");
    assert!(
        err.contains("[push]") && err.contains("advertise_url"),
        "{err}"
    );
}

fn relay_config(api: &str, relay: &str) -> Result<Config, ConfigError> {
    parse(&format!(
        "[[cameras]]\nid = \"front_door\"\nurl = \"192.168.1.20\"\napi = \"{api}\"\n[cameras.relay]\n{relay}\n"
    ))
}

#[test]
fn a_relay_is_off_unless_enabled_and_defaults_to_the_first_door() {
    assert!(parse(MINIMAL).unwrap().cameras[0].relay.is_none());
    let off = relay_config("dahua", "door = 2").unwrap();
    assert!(off.cameras[0].relay.is_none(), "enabled defaults to false");
    let on = relay_config("dahua", "enabled = true").unwrap();
    let relay = on.cameras[0].relay.clone().unwrap();
    assert_eq!(relay.door, Door::Number(1));
    assert_eq!(relay.pulse, Duration::from_secs(1));
    assert_eq!(relay.code, None);
    let token = relay_config(
        "onvif",
        "enabled = true\ndoor = \"RelayOutputToken_2\"\npulse = \"500ms\"\ncode = \"1234\"",
    )
    .unwrap();
    let relay = token.cameras[0].relay.clone().unwrap();
    assert_eq!(relay.door, Door::Token("RelayOutputToken_2".into()));
    assert_eq!(relay.pulse, Duration::from_millis(500));
    assert_eq!(relay.code.as_ref().map(|c| c.expose()), Some("1234"));
    assert!(
        token.inline_passwords,
        "an inline code counts as an inline secret"
    );
}

#[test]
fn onvif_and_vendor_keys_are_refused_on_a_doorbird() {
    for (extra, key, hint) in [
        ("channel = 1", "cameras[0].channel", "api is \"doorbird\""),
        (
            "call_poll = \"1s\"",
            "cameras[0].call_poll",
            "api is \"doorbird\"",
        ),
        ("events = \"push\"", "cameras[0].events", "remove events"),
    ] {
        let err = parse(&format!("{PUSH}{MINIMAL}api = \"doorbird\"\n{extra}\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(key) && err.contains(hint), "{extra}: {err}");
    }
}

#[test]
fn relay_mistakes_name_the_key_and_a_fix() {
    let cases = [
        (
            "dahua",
            "enabled = true\ndoor = 0",
            "cameras[0].relay.door",
            "count from 1",
        ),
        (
            "hikvision",
            "enabled = true\ndoor = \"relay1\"",
            "cameras[0].relay.door",
            "numbers its doors",
        ),
        (
            "onvif",
            "enabled = true\ndoor = \"\"",
            "cameras[0].relay.door",
            "check lists",
        ),
        (
            "onvif",
            "enabled = true\npulse = \"1h\"",
            "cameras[0].relay.pulse",
            "between 200ms and 30s",
        ),
        (
            "onvif",
            "enabled = true\ncode = \"\"",
            "cameras[0].relay.code",
            "1 to 64",
        ),
        (
            "onvif",
            "enabled = true\ncode = \"1\"\ncode_file = \"/x\"",
            "cameras[0].relay.code",
            "not both",
        ),
        ("onvif", "enabled = true\nopen = true", "", "unknown field"),
    ];
    for (api, relay, key, hint) in cases {
        let err = relay_config(api, relay).unwrap_err();
        assert_eq!(err.key, key, "{relay}: {err}");
        assert!(err.message.contains(hint), "{relay}: {err}");
    }
}

#[test]
fn a_relay_code_is_read_from_its_file_and_never_printed() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "  4711  ").unwrap();
    let config = relay_config(
        "onvif",
        &format!(
            "enabled = true\ncode_file = {:?}",
            file.path().display().to_string()
        ),
    )
    .unwrap();
    let relay = config.cameras[0].relay.clone().unwrap();
    assert_eq!(relay.code.as_ref().unwrap().expose(), "4711");
    assert!(!format!("{config:?}").contains("4711"));
}

#[test]
fn every_api_names_its_door_api() {
    for api in [
        Api::Auto,
        Api::Onvif,
        Api::Dahua,
        Api::Hikvision,
        Api::DoorBird,
    ] {
        assert!(api.relay().is_some(), "{api:?}");
    }
    assert_eq!(Api::DoorBird.relay(), Some(RelayApi::DoorBird));
    assert_eq!(Api::Dahua.relay(), Some(RelayApi::Dahua));
    assert_eq!(Api::Auto.relay(), Some(RelayApi::Onvif));
}

#[test]
fn http_listens_on_this_host_only_unless_told_and_serves_the_history_page() {
    let c = parse(&format!("[http]\n{MINIMAL}")).unwrap();
    let h = c.http.unwrap();
    assert_eq!(h.listen, DEFAULT_HTTP_LISTEN.parse().unwrap());
    assert!(h.listen.ip().is_loopback());
    assert!(h.history);
    assert!(h.password.is_none() && h.trusted_proxy.is_none());
    assert!(!h.page_refuses_other_hosts());
    let c = parse(&format!(
        "[http]\nlisten = \"0.0.0.0:8099\"\ntrusted_proxy = \"172.30.32.2\"\nhistory = false\n{MINIMAL}"
    ))
    .unwrap();
    let h = c.http.unwrap();
    assert_eq!(h.trusted_proxy, Some("172.30.32.2".parse().unwrap()));
    assert!(!h.history);
}

#[test]
fn a_page_open_beyond_this_host_without_a_password_is_flagged() {
    let h = parse(&format!("[http]\nlisten = \"0.0.0.0:9464\"\n{MINIMAL}"))
        .unwrap()
        .http
        .unwrap();
    assert!(h.page_refuses_other_hosts());
    let h = parse(&format!(
        "[http]\nlisten = \"0.0.0.0:9464\"\npassword = \"long enough\"\n{MINIMAL}"
    ))
    .unwrap();
    assert!(
        h.inline_passwords,
        "the permissions warning covers the page password"
    );
    assert!(!h.http.unwrap().page_refuses_other_hosts());
}

#[test]
fn bad_http_settings_name_the_key_and_the_fix() {
    for (body, key, hint) in [
        ("listen = \"everywhere\"", "http.listen", "127.0.0.1:9464"),
        ("password = \"short\"", "http.password", "longer"),
        (
            "trusted_proxy = \"supervisor\"",
            "http.trusted_proxy",
            "172.30.32.2",
        ),
        ("passwd = \"x\"", "", "passwd"),
    ] {
        let err = parse(&format!("[http]\n{body}\n{MINIMAL}")).unwrap_err();
        if !key.is_empty() {
            assert_eq!(err.key, key, "{body}");
        }
        assert!(err.to_string().contains(hint), "{body}: {err}");
        assert!(!err.to_string().contains("short\""), "no secret in {err}");
    }
}
