//! The Dahua family (Amcrest, Imou, Lorex): the pure parts of the HTTP event stream
//! `GET /cgi-bin/eventManager.cgi?action=attach&codes=[All]&heartbeat=5`.
//!
//! [`stream::PartReader`] cuts the never-ending multipart body into parts and heartbeats;
//! [`codes::parse`] reads one part into a [`codes::Code`] and a
//! [`crate::onvif::Notification`]; [`rules::classify`] applies the code table. A press sends
//! several ring codes: [`crate::vendor::RingWindow`] makes them one ring.

pub mod codes;
pub mod rules;
pub mod stream;

/// The attach request path and query, with the device-side heartbeat interval in seconds
/// (1-60 per the Dahua HTTP API).
pub fn attach_path(heartbeat_secs: u8) -> String {
    let secs = heartbeat_secs.clamp(1, 60);
    format!("/cgi-bin/eventManager.cgi?action=attach&codes=[All]&heartbeat={secs}")
}

/// Device information where ONVIF has none (`key=value` lines: `deviceType`, `serialNumber`,
/// `hardwareVersion`, ...; Dahua HTTP API, rroller/dahua `get_system_info`).
pub const SYSTEM_INFO_PATH: &str = "/cgi-bin/magicBox.cgi?action=getSystemInfo";
/// The largest device-information answer read.
pub const MAX_SYSTEM_INFO: u64 = 8 * 1024;

/// The snapshot path of `channel` (1-based), for devices whose ONVIF gives no snapshot URI.
pub fn snapshot_path(channel: u32) -> String {
    format!("/cgi-bin/snapshot.cgi?channel={}", channel.max(1))
}

/// Reads a `getSystemInfo` answer (`key=value` lines) into device information. The Dahua API
/// names no manufacturer; `Dahua` stands in unless ONVIF said better.
pub fn parse_system_info(text: &str) -> crate::event::DeviceInfo {
    let mut info = crate::event::DeviceInfo {
        manufacturer: Some("Dahua".into()),
        ..Default::default()
    };
    for line in text.lines().take(64) {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = crate::vendor::cut(value.trim(), crate::vendor::MAX_JSON_VALUE);
        if value.is_empty() {
            continue;
        }
        let slot = match key.trim() {
            "deviceType" | "updateSerial" => &mut info.model,
            "serialNumber" => &mut info.serial,
            "hardwareVersion" => &mut info.hardware,
            "version" | "softwareVersion" => &mut info.firmware,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(value.to_owned());
        }
    }
    info
}

#[cfg(test)]
mod tests {
    #[test]
    fn system_info_is_read_from_key_value_lines() {
        let text = "deviceType=AD410\r\nhardwareVersion=1.00\r\nprocessor=SSC335\r\nserialNumber=9B02\r\nupdateSerial=DB61i\r\n";
        let info = super::parse_system_info(text);
        assert_eq!(info.model.as_deref(), Some("AD410"));
        assert_eq!(info.serial.as_deref(), Some("9B02"));
        assert_eq!(info.hardware.as_deref(), Some("1.00"));
        assert_eq!(info.manufacturer.as_deref(), Some("Dahua"));
        let garbage = super::parse_system_info("\u{0}\u{1}no pairs here");
        assert_eq!(garbage.model, None);
        assert_eq!(super::snapshot_path(0), "/cgi-bin/snapshot.cgi?channel=1");
    }

    #[test]
    fn the_heartbeat_is_kept_within_what_the_device_accepts() {
        assert!(super::attach_path(5).ends_with("codes=[All]&heartbeat=5"));
        assert!(super::attach_path(0).ends_with("heartbeat=1"));
        assert!(super::attach_path(200).ends_with("heartbeat=60"));
    }
}
