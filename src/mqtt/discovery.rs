//! Home Assistant MQTT discovery payloads as typed serde structs (after neolink's
//! `discovery.rs`), device-based: one retained `<prefix>/device/<id>/config` per camera and one
//! for the bridge itself. Full key names rather than abbreviations: a few entities per camera
//! read better than they cost. Never `object_id` (removed in Home Assistant 2026.4).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::DoorMeta;
use super::door::COMMAND_TEMPLATE;
use super::topics::Topics;
use crate::event::{CameraId, DeviceInfo, Kind};

/// Our name in `origin` and as the bridge device's manufacturer.
pub const ORIGIN_NAME: &str = "doorbell-bridge";
/// Where users find help (`origin.support_url`): the package's repository in `Cargo.toml`.
pub const SUPPORT_URL: &str = env!("CARGO_PKG_REPOSITORY");

/// Binary sensors every camera announces even before it has shown them.
pub const ANNOUNCED_KINDS: [Kind; 2] = [Kind::Motion, Kind::Person];

/// A device discovery payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceConfig {
    /// The device registry block.
    pub device: Device,
    /// Who sent it.
    pub origin: Origin,
    /// Shared availability (inherited by components that do not set their own).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub availability: Vec<Availability>,
    /// `all`: every availability topic must say `online`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_mode: Option<&'static str>,
    /// Shared QoS.
    pub qos: u8,
    /// Entities by key (the key is part of each entity's identity).
    pub components: BTreeMap<String, Component>,
}

/// The `device` block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Device {
    /// Stable identifiers.
    pub identifiers: Vec<String>,
    /// Display name.
    pub name: String,
    /// `[["mac", "aa:bb:..."]]` where known.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connections: Vec<(String, String)>,
    /// Manufacturer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    /// Model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Firmware.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sw_version: Option<String>,
    /// Hardware.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hw_version: Option<String>,
    /// Serial number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// Web interface.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration_url: Option<String>,
    /// Identifier of the device this one is reached through (the bridge).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via_device: Option<String>,
}

/// The `origin` block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Origin {
    /// `doorbell-bridge`.
    pub name: &'static str,
    /// Our version.
    pub sw_version: &'static str,
    /// Where to get help.
    pub support_url: &'static str,
}

impl Default for Origin {
    fn default() -> Self {
        Origin {
            name: ORIGIN_NAME,
            sw_version: env!("CARGO_PKG_VERSION"),
            support_url: SUPPORT_URL,
        }
    }
}

/// One availability topic (payloads default to `online`/`offline`, which we use).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Availability {
    /// The topic.
    pub topic: String,
}

/// One entity. Unset options are left out; `name: Some(None)` sends `null` (the device's main
/// feature), `name: None` lets Home Assistant name it after its device class.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[allow(missing_docs)] // the fields are Home Assistant's option names
pub struct Component {
    pub platform: &'static str,
    pub unique_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_class: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity_category: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_types: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_on: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_off: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_press: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_open: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_locked: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_open: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_format: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_template: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_of_measurement: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_class: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_attributes_topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability: Option<Vec<Availability>>,
}

/// The binary sensor device class that fits a stateful kind (`None`: generic on/off).
pub fn device_class(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::Motion | Kind::Vehicle | Kind::Animal | Kind::LineCrossing | Kind::Intrusion => {
            Some("motion")
        }
        Kind::Person | Kind::Face => Some("occupancy"),
        Kind::Package => Some("presence"),
        Kind::Tamper => Some("tamper"),
        Kind::Sound => Some("sound"),
        Kind::Door => Some("door"),
        Kind::Ring | Kind::Input | Kind::Relay | Kind::Other => None,
    }
}

/// A kind as an entity name: `line_crossing` -> `Line crossing`.
fn kind_name(kind: Kind) -> String {
    let text = kind.as_str().replace('_', " ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => text,
    }
}

fn some(text: Option<&String>) -> Option<String> {
    text.filter(|t| !t.trim().is_empty()).cloned()
}

/// What a camera's discovery payload is made from.
pub struct CameraAnnouncement<'a> {
    /// The camera id.
    pub id: &'a CameraId,
    /// Its display name.
    pub name: &'a str,
    /// What it told us about itself (empty until it came online).
    pub info: &'a DeviceInfo,
    /// Stateful kinds it has shown (the fixed set is added).
    pub kinds: &'a BTreeSet<Kind>,
    /// Its door, when a relay is enabled (a lock entity).
    pub door: Option<&'a DoorMeta>,
}

/// The discovery payload of one camera.
pub fn camera_config(topics: &Topics, cam: &CameraAnnouncement<'_>) -> DeviceConfig {
    let id = cam.id;
    let device_id = topics.camera_device_id(id);
    let uid = |key: &str| format!("{device_id}_{key}");
    let info = cam.info;
    let mut components = BTreeMap::new();
    components.insert(
        "doorbell".to_owned(),
        Component {
            platform: "event",
            unique_id: uid("doorbell"),
            name: Some(Some("Doorbell".into())),
            device_class: Some("doorbell"),
            event_types: Some(vec!["ring"]),
            state_topic: Some(topics.doorbell(id).to_string()),
            ..Component::default()
        },
    );
    let kinds: BTreeSet<Kind> = ANNOUNCED_KINDS
        .into_iter()
        .chain(cam.kinds.iter().copied())
        .filter(|k| k.is_stateful())
        .collect();
    for kind in kinds {
        components.insert(
            kind.as_str().to_owned(),
            Component {
                platform: "binary_sensor",
                unique_id: uid(kind.as_str()),
                name: Some(Some(kind_name(kind))),
                device_class: device_class(kind),
                state_topic: Some(topics.state(id, kind).to_string()),
                ..Component::default()
            },
        );
    }
    if let Some(door) = cam.door {
        components.insert("lock".to_owned(), lock_component(topics, id, door, &uid));
    }
    components.extend(media_components(topics, id, &uid));
    components.extend(diagnostic_components(topics, id, &uid));
    DeviceConfig {
        device: Device {
            identifiers: vec![device_id.clone()],
            name: cam.name.to_owned(),
            connections: some(info.mac.as_ref())
                .map(|mac| vec![("mac".to_owned(), mac.to_ascii_lowercase())])
                .unwrap_or_default(),
            manufacturer: some(info.manufacturer.as_ref()),
            model: some(info.model.as_ref()),
            sw_version: some(info.firmware.as_ref()),
            hw_version: some(info.hardware.as_ref()),
            serial_number: some(info.serial.as_ref()),
            configuration_url: some(info.configuration_url.as_ref()),
            via_device: Some(topics.bridge_device_id().to_owned()),
        },
        origin: Origin::default(),
        availability: vec![
            Availability {
                topic: topics.bridge_status().to_string(),
            },
            Availability {
                topic: topics.camera_status(id).to_string(),
            },
        ],
        availability_mode: Some("all"),
        qos: 1,
        components,
    }
}

/// The door lock: `OPEN` opens (Home Assistant shows "Open"), `LOCKED` again after the pulse.
/// With a code, Home Assistant asks for it and sends it through [`COMMAND_TEMPLATE`].
fn lock_component(
    topics: &Topics,
    id: &CameraId,
    door: &DoorMeta,
    uid: &dyn Fn(&str) -> String,
) -> Component {
    Component {
        platform: "lock",
        unique_id: uid("lock"),
        name: Some(Some("Door".into())),
        command_topic: Some(topics.door_set(id).to_string()),
        state_topic: Some(topics.lock(id).to_string()),
        payload_open: Some(super::OPEN),
        state_locked: Some(super::LOCKED),
        state_open: Some(super::OPEN),
        code_format: door.code_format,
        command_template: door.code_format.map(|_| COMMAND_TEMPLATE),
        // A door command must never be retained (a retained one is refused anyway).
        retain: Some(false),
        ..Component::default()
    }
}

/// Snapshot image, camera and the "Take snapshot" button.
fn media_components(
    topics: &Topics,
    id: &CameraId,
    uid: &dyn Fn(&str) -> String,
) -> Vec<(String, Component)> {
    let snapshot = topics.snapshot(id).to_string();
    vec![
        (
            "snapshot".into(),
            Component {
                platform: "image",
                unique_id: uid("snapshot"),
                name: Some(Some("Snapshot".into())),
                image_topic: Some(snapshot.clone()),
                content_type: Some("image/jpeg"),
                json_attributes_topic: Some(topics.snapshot_info(id).to_string()),
                ..Component::default()
            },
        ),
        (
            "camera".into(),
            Component {
                platform: "camera",
                unique_id: uid("camera"),
                name: Some(None),
                topic: Some(snapshot),
                ..Component::default()
            },
        ),
        (
            "take_snapshot".into(),
            Component {
                platform: "button",
                unique_id: uid("take_snapshot"),
                name: Some(Some("Take snapshot".into())),
                command_topic: Some(topics.snapshot_set(id).to_string()),
                payload_press: Some(super::PRESS),
                ..Component::default()
            },
        ),
    ]
}

/// Last ring, camera connectivity and clock drift.
fn diagnostic_components(
    topics: &Topics,
    id: &CameraId,
    uid: &dyn Fn(&str) -> String,
) -> Vec<(String, Component)> {
    vec![
        (
            "last_ring".into(),
            Component {
                platform: "sensor",
                unique_id: uid("last_ring"),
                name: Some(Some("Last ring".into())),
                device_class: Some("timestamp"),
                entity_category: Some("diagnostic"),
                state_topic: Some(topics.last_ring(id).to_string()),
                ..Component::default()
            },
        ),
        (
            "status".into(),
            Component {
                platform: "binary_sensor",
                unique_id: uid("status"),
                name: Some(Some("Status".into())),
                device_class: Some("connectivity"),
                entity_category: Some("diagnostic"),
                state_topic: Some(topics.camera_status(id).to_string()),
                payload_on: Some(super::ONLINE),
                payload_off: Some(super::OFFLINE),
                // Only the bridge: with the camera's own topic it would turn unavailable
                // instead of showing "disconnected".
                availability: Some(vec![Availability {
                    topic: topics.bridge_status().to_string(),
                }]),
                ..Component::default()
            },
        ),
        (
            "event_sources".into(),
            Component {
                platform: "sensor",
                unique_id: uid("event_sources"),
                name: Some(Some("Event sources".into())),
                entity_category: Some("diagnostic"),
                state_topic: Some(topics.event_sources(id).to_string()),
                ..Component::default()
            },
        ),
        (
            "clock_drift".into(),
            Component {
                platform: "sensor",
                unique_id: uid("clock_drift"),
                name: Some(Some("Clock drift".into())),
                device_class: Some("duration"),
                unit_of_measurement: Some("s"),
                state_class: Some("measurement"),
                entity_category: Some("diagnostic"),
                state_topic: Some(topics.clock_drift(id).to_string()),
                ..Component::default()
            },
        ),
    ]
}

/// The bridge's own device: connectivity and the dropped-events counter.
pub fn bridge_config(topics: &Topics) -> DeviceConfig {
    let device_id = topics.bridge_device_id().to_owned();
    let uid = |key: &str| format!("{device_id}_{key}");
    let mut components = BTreeMap::new();
    components.insert(
        "status".to_owned(),
        Component {
            platform: "binary_sensor",
            unique_id: uid("status"),
            name: Some(Some("Status".into())),
            device_class: Some("connectivity"),
            entity_category: Some("diagnostic"),
            state_topic: Some(topics.bridge_status().to_string()),
            payload_on: Some(super::ONLINE),
            payload_off: Some(super::OFFLINE),
            ..Component::default()
        },
    );
    components.insert(
        "dropped_events".to_owned(),
        Component {
            platform: "sensor",
            unique_id: uid("dropped_events"),
            name: Some(Some("Dropped events".into())),
            entity_category: Some("diagnostic"),
            state_class: Some("total_increasing"),
            state_topic: Some(topics.bridge_dropped().to_string()),
            availability: Some(vec![Availability {
                topic: topics.bridge_status().to_string(),
            }]),
            ..Component::default()
        },
    );
    DeviceConfig {
        device: Device {
            identifiers: vec![device_id.clone()],
            name: ORIGIN_NAME.to_owned(),
            connections: Vec::new(),
            manufacturer: Some(ORIGIN_NAME.to_owned()),
            model: Some("ONVIF to MQTT bridge".to_owned()),
            sw_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            hw_version: None,
            serial_number: None,
            configuration_url: None,
            via_device: None,
        },
        origin: Origin::default(),
        availability: Vec::new(),
        availability_mode: None,
        qos: 1,
        components,
    }
}

#[cfg(test)]
#[path = "discovery_tests.rs"]
mod tests;
