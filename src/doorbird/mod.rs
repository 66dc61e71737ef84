//! DoorBird LAN API (`/bha-api/`): the pure parts of the DoorBird event source. DoorBird
//! doorbells have no ONVIF events; the supported way to hear of a press is an HTTP
//! *favorite* (a URL stored on the device) that the device's *schedule* links to its
//! `doorbell` and `motion` inputs: on each event the device sends an HTTP GET to that URL
//! (vendor-apis.md §3.1; Home Assistant's DoorBird integration works that way).
//!
//! - [`parse_info`]: `info.cgi` into [`DeviceInfo`] (firmware and build, MAC, device type);
//! - [`favorites`]: the favorites listing, which of them are the bridge's (by [`title`]), and
//!   the save/remove requests;
//! - [`schedule`]: the schedule listing, whether an input is linked to a favorite, and the
//!   entries to post back so it is;
//! - [`rules`]: the code table (`doorbird:doorbell` rings, `doorbird:motion` is motion) and
//!   [`to_notification`], which reads one request the device made into a notification.
//!
//! Every answer is read under a size cap (`MAX_*`), and at most a bounded number of entries of
//! each listing is looked at.

use url::Url;

use crate::event::{DeviceInfo, Items, Operation};
use crate::onvif::Notification;
use crate::vendor::{MAX_JSON_VALUE, cut};

pub mod favorites;
pub mod rules;
pub mod schedule;

/// Device information: firmware, build, MAC, device type.
pub const INFO_PATH: &str = "/bha-api/info.cgi";
/// A JPEG of the camera now (Klikini/doorbirdpy `live_image_url`).
pub const IMAGE_PATH: &str = "/bha-api/image.cgi";
/// Favorites: list (no query), `action=save`, `action=remove`.
pub const FAVORITES_PATH: &str = "/bha-api/favorites.cgi";
/// The schedule: list with GET, change one entry with POST (JSON).
pub const SCHEDULE_PATH: &str = "/bha-api/schedule.cgi";
/// Opens relay `r` (1 or 2 on a D210x): `open-door.cgi?r=N`, answered
/// `{"BHA":{"RETURNCODE":"1"}}` (vendor-apis.md §3.1: openhab `DoorbirdAPI.java`, doorbirdpy).
pub const OPEN_DOOR_PATH: &str = "/bha-api/open-door.cgi";

/// The largest `info.cgi` answer read.
pub const MAX_INFO: u64 = 8 * 1024;
/// The largest favorites listing read.
pub const MAX_FAVORITES: u64 = 64 * 1024;
/// The largest schedule listing read.
pub const MAX_SCHEDULE: u64 = 64 * 1024;
/// The largest answer to a change (save, remove, schedule post) read.
pub const MAX_CHANGE_ANSWER: u64 = 4 * 1024;
/// The longest event name read from a request the device made.
pub const MAX_EVENT_NAME: usize = 32;

/// The topic prefix of the notifications of this source.
pub const TOPIC_PREFIX: &str = "doorbird:";
/// The title of every favorite the bridge creates starts with this.
pub const TITLE_PREFIX: &str = "doorbell-bridge";
/// What the DoorBird API names no manufacturer with: Bird Home Automation's brand.
pub const MANUFACTURER: &str = "DoorBird";

/// A DoorBird input the bridge links to its favorite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The doorbell button.
    Doorbell,
    /// The motion sensor.
    Motion,
}

impl Input {
    /// Both, in the order they are registered.
    pub const ALL: [Input; 2] = [Input::Doorbell, Input::Motion];

    /// The schedule's `input` name, and the `event` query value of our favorite's URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Input::Doorbell => "doorbell",
            Input::Motion => "motion",
        }
    }

    /// The schedule `param` of the entry created when the device has none: the first
    /// doorbell button is `1`, motion has no parameter (Home Assistant's earlier DoorBird
    /// integration, `_register_event`).
    pub fn default_param(self) -> &'static str {
        match self {
            Input::Doorbell => "1",
            Input::Motion => "",
        }
    }
}

/// Why a DoorBird answer could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not JSON at all.
    #[error("the answer is not JSON ({0})")]
    Json(String),
    /// JSON of another shape.
    #[error("the answer is JSON but {0}")]
    Shape(&'static str),
    /// The device said the request failed.
    #[error("the device answered RETURNCODE {0:?} (not 1)")]
    ReturnCode(String),
}

/// The title of the bridge's favorite for `camera`'s `input`: `doorbell-bridge <camera>
/// (<input>)`. The bridge recognises its own favorites by it, and leaves every other one alone.
pub fn title(camera: &str, input: Input) -> String {
    format!("{TITLE_PREFIX} {camera} ({})", input.as_str())
}

/// The URL the device is to call for `input`: the listener's route URL with `event=<input>`.
pub fn event_url(route_url: &str, input: Input) -> Result<Url, url::ParseError> {
    let mut url = Url::parse(route_url)?;
    url.query_pairs_mut().append_pair("event", input.as_str());
    Ok(url)
}

/// Reads an `info.cgi` answer: `{"BHA":{"RETURNCODE":"1","VERSION":[{"FIRMWARE":..,
/// "BUILD_NUMBER":.., "PRIMARY_MAC_ADDR" or "WIFI_MAC_ADDR":.., "DEVICE-TYPE":..}]}}`
/// (doorbirdpy `info()`; `DEVICE-TYPE` and `RELAYS` from firmware 000108).
pub fn parse_info(text: &str) -> Result<DeviceInfo, Error> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| Error::Json(e.to_string()))?;
    let bha = value.get("BHA").ok_or(Error::Shape("has no BHA object"))?;
    check_return_code(bha)?;
    let version = bha
        .get("VERSION")
        .and_then(|v| v.as_array())
        .and_then(|v| v.first())
        .ok_or(Error::Shape("has no BHA.VERSION list"))?;
    let field = |name: &str| {
        version
            .get(name)
            .and_then(scalar)
            .map(|s| cut(s.trim(), MAX_JSON_VALUE).to_owned())
            .filter(|s| !s.is_empty())
    };
    let firmware = match (field("FIRMWARE"), field("BUILD_NUMBER")) {
        (Some(f), Some(b)) => Some(format!("{f} build {b}")),
        (f, _) => f,
    };
    let mac = field("PRIMARY_MAC_ADDR")
        .or_else(|| field("WIFI_MAC_ADDR"))
        .and_then(|m| mac(&m));
    Ok(DeviceInfo {
        manufacturer: Some(MANUFACTURER.into()),
        model: field("DEVICE-TYPE"),
        firmware,
        mac,
        ..Default::default()
    })
}

/// A `RETURNCODE` other than `1` inside `BHA` is a refusal; a missing one is not checked.
pub(crate) fn check_return_code(bha: &serde_json::Value) -> Result<(), Error> {
    match bha.get("RETURNCODE").and_then(scalar) {
        Some(code) if code.trim() != "1" => Err(Error::ReturnCode(
            cut(code.trim(), MAX_EVENT_NAME).to_owned(),
        )),
        _ => Ok(()),
    }
}

/// A JSON string's text (DoorBird writes its numbers as strings too).
pub(crate) fn scalar(v: &serde_json::Value) -> Option<&str> {
    match v {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    }
}

/// `1CCAE3711234` (DoorBird writes MACs as 12 hex digits) as `1c:ca:e3:71:12:34`; a MAC
/// already written with separators is lower-cased; anything else is dropped.
fn mac(text: &str) -> Option<String> {
    let hex: String = text.chars().filter(|c| *c != ':' && *c != '-').collect();
    if hex.len() != 12 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let lower = hex.to_ascii_lowercase();
    let pairs: Vec<&str> = (0..6).map(|i| &lower[i * 2..i * 2 + 2]).collect();
    Some(pairs.join(":"))
}

/// The event a request the device made names (`event=<name>` in its query, as our favorite's
/// URL has it), read into a notification on `doorbird:<name>`. `None` when the query names no
/// event or one that is not a short `[a-z0-9_]` word: nothing the device sends becomes
/// free text in a topic.
pub fn to_notification(query: &str) -> Option<Notification> {
    let event = url::form_urlencoded::parse(query.as_bytes())
        .take(8)
        .find(|(k, _)| k == "event")
        .map(|(_, v)| v.into_owned())?;
    let ok = !event.is_empty()
        && event.len() <= MAX_EVENT_NAME
        && event
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !ok {
        return None;
    }
    Some(Notification {
        topic: format!("{TOPIC_PREFIX}{event}"),
        raw_topic: event.clone(),
        data: Items(vec![("event".to_owned(), event)]),
        operation: Some(Operation::Changed),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As `tests/fixtures/doorbird/info.json` (inline: the crate builds from `src/` alone).
    const INFO: &str = r#"{"BHA":{"RETURNCODE":"1","VERSION":[{"FIRMWARE":"000125","BUILD_NUMBER":"15870439","PRIMARY_MAC_ADDR":"1CCAE3711234","WIFI_MAC_ADDR":"1CCAE3715678","RELAYS":["1","2","gggaaa@1"],"DEVICE-TYPE":"DoorBird D2101V"}]}}"#;
    /// As `tests/fixtures/doorbird/info-wifi-only.json` (inline: the crate builds from `src/` alone).
    const INFO_WIFI: &str = r#"{"BHA":{"RETURNCODE":"1","VERSION":[{"FIRMWARE":"000109","BUILD_NUMBER":"5504573","WIFI_MAC_ADDR":"1CCAE3709ABC"}]}}"#;

    #[test]
    fn info_gives_firmware_build_mac_and_device_type() {
        let info = parse_info(INFO).unwrap();
        assert_eq!(info.manufacturer.as_deref(), Some("DoorBird"));
        assert_eq!(info.model.as_deref(), Some("DoorBird D2101V"));
        assert_eq!(info.firmware.as_deref(), Some("000125 build 15870439"));
        assert_eq!(info.mac.as_deref(), Some("1c:ca:e3:71:12:34"));
    }

    #[test]
    fn info_of_an_old_wifi_only_device_has_no_device_type() {
        let info = parse_info(INFO_WIFI).unwrap();
        assert_eq!(info.model, None);
        assert_eq!(info.firmware.as_deref(), Some("000109 build 5504573"));
        assert_eq!(info.mac.as_deref(), Some("1c:ca:e3:70:9a:bc"));
    }

    #[test]
    fn info_that_is_not_the_api_answer_is_an_error_saying_why() {
        assert!(matches!(parse_info("<html>"), Err(Error::Json(_))));
        assert_eq!(parse_info("{}"), Err(Error::Shape("has no BHA object")));
        assert_eq!(
            parse_info(r#"{"BHA":{"RETURNCODE":"0"}}"#),
            Err(Error::ReturnCode("0".into()))
        );
        let huge = format!(
            r#"{{"BHA":{{"VERSION":[{{"DEVICE-TYPE":"{}","PRIMARY_MAC_ADDR":"nope"}}]}}}}"#,
            "x".repeat(10_000)
        );
        let info = parse_info(&huge).unwrap();
        assert!(info.model.unwrap().len() <= MAX_JSON_VALUE);
        assert_eq!(info.mac, None);
    }

    #[test]
    fn the_title_names_the_camera_and_the_input() {
        assert_eq!(
            title("front", Input::Doorbell),
            "doorbell-bridge front (doorbell)"
        );
        assert_eq!(
            title("front", Input::Motion),
            "doorbell-bridge front (motion)"
        );
    }

    #[test]
    fn the_event_url_adds_the_input_to_the_route_url() {
        let url = event_url("http://192.168.1.5:8090/push/front/tok", Input::Motion).unwrap();
        assert_eq!(
            url.as_str(),
            "http://192.168.1.5:8090/push/front/tok?event=motion"
        );
    }

    #[test]
    fn a_request_becomes_a_notification_only_for_a_plain_event_name() {
        let n = to_notification("event=doorbell").unwrap();
        assert_eq!(n.topic, "doorbird:doorbell");
        assert_eq!(n.data.get("event"), Some("doorbell"));
        assert_eq!(n.operation, Some(Operation::Changed));
        assert_eq!(
            to_notification("x=1&event=motion").unwrap().topic,
            "doorbird:motion"
        );
        for bad in [
            "",
            "event=",
            "event=Door/bell",
            "event=a+b",
            "other=doorbell",
        ] {
            assert!(to_notification(bad).is_none(), "{bad}");
        }
        let long = format!("event={}", "a".repeat(MAX_EVENT_NAME + 1));
        assert!(to_notification(&long).is_none());
    }
}
