//! Device service answers (`/onvif/device_service`, `http://www.onvif.org/ver10/device/wsdl`).

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::soap::{Code, Envelope, Fault, TDS, TT};
use super::state::Shared;
use super::{events, not_supported};

/// Manufacturer reported by GetDeviceInformation.
pub const MANUFACTURER: &str = "doorbell-bridge";
/// Model reported by GetDeviceInformation.
pub const MODEL: &str = "Simulated Doorbell";
/// Firmware version reported by GetDeviceInformation.
pub const FIRMWARE: &str = concat!("sim-", env!("CARGO_PKG_VERSION"));
/// Serial number reported by GetDeviceInformation.
pub const SERIAL: &str = "SIM0000000001";
/// MAC address of the one network interface.
pub const MAC: &str = "02:00:5e:10:00:01";

/// Answers a device-service operation. `base` is `http://host:port`.
pub fn respond(shared: &Shared, env: &Envelope, base: &str) -> Result<String, Fault> {
    let id = shared.options.personality.identity();
    match env.operation.as_str() {
        "GetSystemDateAndTime" => Ok(date_and_time(shared)),
        "SetSystemDateAndTime" => set_date_and_time(shared, env),
        "GetDeviceInformation" => Ok(format!(
            concat!(
                "<tds:GetDeviceInformationResponse><tds:Manufacturer>{}</tds:Manufacturer>",
                "<tds:Model>{}</tds:Model><tds:FirmwareVersion>{}</tds:FirmwareVersion>",
                "<tds:SerialNumber>{}</tds:SerialNumber><tds:HardwareId>SIM-1</tds:HardwareId>",
                "</tds:GetDeviceInformationResponse>"
            ),
            id.manufacturer, id.model, id.firmware, id.serial
        )),
        "GetCapabilities" => Ok(capabilities(base)),
        "GetServices" => Ok(services(
            base,
            env.field(TDS, "IncludeCapability") == Some("true"),
        )),
        "GetNetworkInterfaces" => Ok(format!(
            concat!(
                r#"<tds:GetNetworkInterfacesResponse><tds:NetworkInterfaces token="eth0">"#,
                "<tt:Enabled>true</tt:Enabled><tt:Info><tt:Name>eth0</tt:Name>",
                "<tt:HwAddress>{}</tt:HwAddress><tt:MTU>1500</tt:MTU></tt:Info>",
                "<tt:IPv4><tt:Enabled>true</tt:Enabled><tt:Config><tt:Manual><tt:Address>127.0.0.1</tt:Address>",
                "<tt:PrefixLength>8</tt:PrefixLength></tt:Manual><tt:DHCP>false</tt:DHCP></tt:Config></tt:IPv4>",
                "</tds:NetworkInterfaces></tds:GetNetworkInterfacesResponse>"
            ),
            MAC
        )),
        "GetRelayOutputs" => Ok(super::door::relay_outputs(shared)),
        "SetRelayOutputState" => super::door::set_state(shared, env),
        "SetRelayOutputSettings" => super::door::set_settings(shared, env),
        _ => Err(not_supported(env)),
    }
}

fn date_and_time(shared: &Shared) -> String {
    let (now, ntp) = {
        let inner = shared.lock();
        (inner.now(), inner.ntp)
    };
    let utc = now.to_zoned_datetime(TimeZone::UTC);
    let date_time = format!(
        concat!(
            "<tt:Time><tt:Hour>{}</tt:Hour><tt:Minute>{}</tt:Minute><tt:Second>{}</tt:Second></tt:Time>",
            "<tt:Date><tt:Year>{}</tt:Year><tt:Month>{}</tt:Month><tt:Day>{}</tt:Day></tt:Date>"
        ),
        utc.hour(),
        utc.minute(),
        utc.second(),
        utc.year(),
        utc.month(),
        utc.day()
    );
    format!(
        concat!(
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>",
            "<tt:DateTimeType>{kind}</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>",
            "<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>",
            "<tt:UTCDateTime>{dt}</tt:UTCDateTime><tt:LocalDateTime>{dt}</tt:LocalDateTime>",
            "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
        ),
        kind = if ntp { "NTP" } else { "Manual" },
        dt = date_time,
    )
}

/// SetSystemDateAndTime: `NTP` returns to the system clock; `Manual` with a UTCDateTime sets
/// the device clock (as an offset from the system clock).
fn set_date_and_time(shared: &Shared, env: &Envelope) -> Result<String, Fault> {
    let kind = env.field(TDS, "DateTimeType").unwrap_or("Manual");
    let offset = if kind == "NTP" {
        SignedDuration::ZERO
    } else {
        let part = |name: &str| env.field(TT, name).and_then(|t| t.parse::<i64>().ok());
        let fields = ["Year", "Month", "Day", "Hour", "Minute", "Second"].map(part);
        let [Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s)] = fields else {
            return Err(Fault::new(
                Code::Sender,
                &["ter:InvalidArgVal", "ter:InvalidDateTime"],
                "SetSystemDateAndTime needs a complete UTCDateTime for DateTimeType Manual",
            ));
        };
        let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z");
        let wanted: Timestamp = text.parse().map_err(|_| {
            Fault::new(
                Code::Sender,
                &["ter:InvalidArgVal", "ter:InvalidDateTime"],
                format!("invalid date {text}"),
            )
        })?;
        wanted.duration_since(Timestamp::now())
    };
    let mut inner = shared.lock();
    inner.clock_offset = offset;
    inner.ntp = kind == "NTP";
    // The clock moved: subscriptions keep their remaining lifetime (monotonic expiry).
    events::sweep(&mut inner);
    Ok("<tds:SetSystemDateAndTimeResponse/>".to_string())
}

fn capabilities(base: &str) -> String {
    format!(
        concat!(
            "<tds:GetCapabilitiesResponse><tds:Capabilities>",
            "<tt:Device><tt:XAddr>{b}/onvif/device_service</tt:XAddr></tt:Device>",
            "<tt:Events><tt:XAddr>{b}/onvif/event_service</tt:XAddr>",
            "<tt:WSSubscriptionPolicySupport>false</tt:WSSubscriptionPolicySupport>",
            "<tt:WSPullPointSupport>true</tt:WSPullPointSupport>",
            "<tt:WSPausableSubscriptionManagerInterfaceSupport>false</tt:WSPausableSubscriptionManagerInterfaceSupport>",
            "</tt:Events>",
            "<tt:Media><tt:XAddr>{b}/onvif/media_service</tt:XAddr><tt:StreamingCapabilities>",
            "<tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP>",
            "</tt:StreamingCapabilities></tt:Media>",
            "</tds:Capabilities></tds:GetCapabilitiesResponse>"
        ),
        b = base
    )
}

fn services(base: &str, with_capabilities: bool) -> String {
    // (namespace, path, minor version, has capabilities); all version 2.x.
    let rows = [
        (
            "http://www.onvif.org/ver10/device/wsdl",
            "device_service",
            40,
            false,
        ),
        (
            "http://www.onvif.org/ver10/events/wsdl",
            "event_service",
            60,
            true,
        ),
        (
            "http://www.onvif.org/ver10/media/wsdl",
            "media_service",
            60,
            false,
        ),
        (
            "http://www.onvif.org/ver20/media/wsdl",
            "media2_service",
            60,
            false,
        ),
    ];
    let mut out = String::from("<tds:GetServicesResponse>");
    for (namespace, path, minor, caps) in rows {
        let caps = if with_capabilities && caps {
            format!(
                "<tds:Capabilities>{}</tds:Capabilities>",
                events::capabilities()
            )
        } else {
            String::new()
        };
        out.push_str(&format!(
            concat!(
                "<tds:Service><tds:Namespace>{}</tds:Namespace><tds:XAddr>{}/onvif/{}</tds:XAddr>{}",
                "<tds:Version><tt:Major>{}</tt:Major><tt:Minor>{}</tt:Minor></tds:Version></tds:Service>"
            ),
            namespace, base, path, caps, 2, minor
        ));
    }
    out.push_str("</tds:GetServicesResponse>");
    out
}
