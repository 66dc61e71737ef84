//! The Hikvision family (and EZVIZ on its firmware): the pure parts of the ISAPI event
//! sources. [`alert::AlertReader`] cuts `GET /ISAPI/Event/notification/alertStream` into
//! alerts and heartbeats; [`call`] reads door-station call status polls and tracks their
//! changes; [`rules::classify`] applies the eventType table.

pub mod alert;
pub mod call;
pub mod rules;

/// The alert stream path.
pub const ALERT_STREAM_PATH: &str = "/ISAPI/Event/notification/alertStream";
/// The alert stream of older firmware that answers 404 on [`ALERT_STREAM_PATH`] (pyHik
/// `alert_stream` falls back to it on a 404).
pub const LEGACY_ALERT_STREAM_PATH: &str = "/Event/notification/alertStream";
/// Device information where ONVIF has none.
pub const DEVICE_INFO_PATH: &str = "/ISAPI/System/deviceInfo";
/// The largest device-information answer read.
pub const MAX_DEVICE_INFO: u64 = 16 * 1024;

/// The JPEG of `channel` (1-based) where ONVIF gives no snapshot URI: main stream `<n>01`.
pub fn snapshot_path(channel: u32) -> String {
    format!("/ISAPI/Streaming/channels/{}01/picture", channel.max(1))
}

/// Reads `/ISAPI/System/deviceInfo` (`<DeviceInfo>` with `model`, `serialNumber`,
/// `firmwareVersion`, `macAddress`, `hardwareVersion`; either namespace) through the guarded
/// XML parser. Anything unreadable gives what could be read, with `Hikvision` as the maker.
pub fn parse_device_info(text: &str) -> crate::event::DeviceInfo {
    let mut info = crate::event::DeviceInfo {
        manufacturer: Some("Hikvision".into()),
        ..Default::default()
    };
    let Ok(doc) = crate::onvif::document::parse(text) else {
        return info;
    };
    for node in doc.descendants().filter(|n| n.is_element()) {
        let value = node.text().map(str::trim).unwrap_or_default();
        let value = crate::vendor::cut(value, crate::vendor::MAX_JSON_VALUE);
        if value.is_empty() {
            continue;
        }
        let slot = match node.tag_name().name() {
            "model" => &mut info.model,
            "serialNumber" => &mut info.serial,
            "firmwareVersion" => &mut info.firmware,
            "hardwareVersion" => &mut info.hardware,
            "macAddress" => &mut info.mac,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(normal_case(value));
        }
    }
    info
}

/// MAC addresses are written lower case (as ONVIF's are); other values as sent.
fn normal_case(value: &str) -> String {
    let mac = value.len() == 17 && value.bytes().filter(|b| *b == b':').count() == 5;
    if mac {
        value.to_ascii_lowercase()
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn device_info_is_read_in_either_namespace() {
        for ns in [
            "http://www.hikvision.com/ver20/XMLSchema",
            "http://www.isapi.org/ver20/XMLSchema",
        ] {
            let xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><DeviceInfo version=\"2.0\" xmlns=\"{ns}\"><deviceName>Door</deviceName><model>DS-KV6113-WPE1</model><serialNumber>DS-KV6113-WPE120210101</serialNumber><macAddress>AA:BB:CC:DD:EE:FF</macAddress><firmwareVersion>V2.2.53</firmwareVersion></DeviceInfo>"
            );
            let info = super::parse_device_info(&xml);
            assert_eq!(info.model.as_deref(), Some("DS-KV6113-WPE1"));
            assert_eq!(info.firmware.as_deref(), Some("V2.2.53"));
            assert_eq!(info.mac.as_deref(), Some("aa:bb:cc:dd:ee:ff"));
            assert_eq!(info.manufacturer.as_deref(), Some("Hikvision"));
        }
        assert_eq!(super::parse_device_info("<<<not xml").model, None);
        assert_eq!(
            super::snapshot_path(1),
            "/ISAPI/Streaming/channels/101/picture"
        );
    }
}
