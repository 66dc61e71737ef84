//! Device service: the camera's clock, what it is, and where its other services live.

use jiff::{SignedDuration, Timestamp};
use roxmltree::Node;
use url::Url;

use super::address::{configuration_url, rewrite_address};
use super::client::{Call, Expect};
use super::media::{MediaService, MediaVersion};
use super::soap::{NS_DEVICE, NS_EVENTS, NS_MEDIA, NS_MEDIA2, NS_SCHEMA};
use super::{Client, Error, dom, time};
use crate::event::DeviceInfo;

const ACTION_TIME: &str = "http://www.onvif.org/ver10/device/wsdl/GetSystemDateAndTime";
const ACTION_SET_TIME: &str = "http://www.onvif.org/ver10/device/wsdl/SetSystemDateAndTime";
const ACTION_INFO: &str = "http://www.onvif.org/ver10/device/wsdl/GetDeviceInformation";
const ACTION_INTERFACES: &str = "http://www.onvif.org/ver10/device/wsdl/GetNetworkInterfaces";
const ACTION_SERVICES: &str = "http://www.onvif.org/ver10/device/wsdl/GetServices";
const ACTION_CAPABILITIES: &str = "http://www.onvif.org/ver10/device/wsdl/GetCapabilities";

/// Where a camera's services live, already rewritten to addresses we can reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Services {
    /// The device service (the configured URL unless the camera says otherwise).
    pub device: Url,
    /// The event service, if the camera has one.
    pub events: Option<Url>,
    /// The media service (ver10).
    pub media: Option<Url>,
    /// The media2 service (ver20).
    pub media2: Option<Url>,
}

impl Services {
    /// The media service to use for profiles and snapshots: ver10 where offered (every camera
    /// with Profile S has it and it is the better-trodden path), else ver20.
    pub fn media_service(&self) -> Option<MediaService> {
        let v1 = self.media.clone().map(|url| MediaService {
            url,
            version: MediaVersion::V1,
        });
        v1.or_else(|| {
            self.media2.clone().map(|url| MediaService {
                url,
                version: MediaVersion::V2,
            })
        })
    }
}

/// The services a GetServicesResponse lists (pure).
pub fn parse_services(response: Node<'_, '_>, configured: &Url) -> Services {
    let mut out = Services {
        device: configured.clone(),
        events: None,
        media: None,
        media2: None,
    };
    for service in dom::children(response, &[NS_DEVICE], "Service") {
        let namespace = dom::child_text(service, &[NS_DEVICE], "Namespace").unwrap_or_default();
        let Some(url) = dom::child_text(service, &[NS_DEVICE], "XAddr")
            .and_then(|x| rewrite_address(&x, configured))
        else {
            continue;
        };
        let slot = match namespace.as_str() {
            NS_DEVICE => {
                out.device = url;
                continue;
            }
            NS_EVENTS => &mut out.events,
            NS_MEDIA => &mut out.media,
            NS_MEDIA2 => &mut out.media2,
            _ => continue,
        };
        slot.get_or_insert(url);
    }
    out
}

/// The services a GetCapabilitiesResponse lists (pure). Media2 is not in capabilities.
pub fn parse_capabilities(response: Node<'_, '_>, configured: &Url) -> Services {
    let caps = dom::child(response, &[NS_DEVICE], "Capabilities");
    let xaddr = |name: &str| {
        caps.and_then(|c| dom::child(c, &[NS_SCHEMA], name))
            .and_then(|n| dom::child_text(n, &[NS_SCHEMA], "XAddr"))
            .and_then(|x| rewrite_address(&x, configured))
    };
    Services {
        device: xaddr("Device").unwrap_or_else(|| configured.clone()),
        events: xaddr("Events"),
        media: xaddr("Media"),
        media2: None,
    }
}

/// The camera's UTC clock from a GetSystemDateAndTimeResponse (pure).
pub fn parse_system_time(response: Node<'_, '_>) -> Result<Timestamp, String> {
    let utc = dom::descendant(response, &[NS_SCHEMA], "UTCDateTime")
        .ok_or("no UTCDateTime in GetSystemDateAndTimeResponse")?;
    let field = |parent: &str, name: &str| -> Option<i64> {
        let p = dom::child(utc, &[NS_SCHEMA], parent)?;
        dom::child_text(p, &[NS_SCHEMA], name)?.parse().ok()
    };
    let get = |parent, name| field(parent, name).ok_or(format!("UTCDateTime without {name}"));
    let (y, mo, d) = (
        get("Date", "Year")?,
        get("Date", "Month")?,
        get("Date", "Day")?,
    );
    let (h, mi, s) = (
        get("Time", "Hour")?,
        get("Time", "Minute")?,
        get("Time", "Second")?,
    );
    let narrow = |v: i64| i8::try_from(v).map_err(|_| format!("date field {v} out of range"));
    let year = i16::try_from(y).map_err(|_| format!("year {y} out of range"))?;
    time::from_fields(year, narrow(mo)?, narrow(d)?, h, mi, s)
        .ok_or_else(|| format!("impossible date {y}-{mo}-{d}"))
}

/// Longest device-information field kept (characters). They reach discovery payloads, logs and
/// the `check` report; real ones are short.
pub const MAX_INFO_CHARS: usize = 128;

/// What a GetDeviceInformationResponse says (pure). `device` gives the configuration URL.
/// Fields are single-line (control characters become spaces: a camera must not be able to
/// add lines to a report) and at most [`MAX_INFO_CHARS`] long.
pub fn parse_device_information(response: Node<'_, '_>, device: &Url) -> DeviceInfo {
    let field = |name: &str| {
        dom::child_text(response, &[NS_DEVICE], name).map(|t| {
            t.chars()
                .take(MAX_INFO_CHARS)
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect::<String>()
        })
    };
    DeviceInfo {
        manufacturer: field("Manufacturer"),
        model: field("Model"),
        firmware: field("FirmwareVersion"),
        serial: field("SerialNumber"),
        hardware: field("HardwareId"),
        mac: None,
        configuration_url: Some(configuration_url(device)),
    }
}

/// The MAC address of the first enabled interface in a GetNetworkInterfacesResponse, as
/// `aa:bb:cc:dd:ee:ff` (pure). Anything that does not look like a MAC is ignored.
pub fn parse_mac(response: Node<'_, '_>) -> Option<String> {
    response
        .descendants()
        .filter(|n| n.has_tag_name((NS_SCHEMA, "HwAddress")))
        .filter_map(|n| n.text())
        .find_map(normalise_mac)
}

/// `AA-BB-CC-DD-EE-FF`, `aabbccddeeff` or `aa:bb:...` to lowercase colon form.
fn normalise_mac(text: &str) -> Option<String> {
    let hex: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | '.'))
        .collect();
    if hex.len() != 12 || !hex.chars().all(|c| c.is_ascii_hexdigit()) || hex == "000000000000" {
        return None;
    }
    let hex = hex.to_ascii_lowercase();
    let pairs: Vec<&str> = (0..6).map(|i| &hex[i * 2..i * 2 + 2]).collect();
    Some(pairs.join(":"))
}

impl Client {
    /// GetNetworkInterfaces: the camera's MAC address, for Home Assistant's device registry.
    pub async fn mac_address(&self) -> Result<Option<String>, Error> {
        let call = Call::new(
            self.device_url(),
            ACTION_INTERFACES,
            "<tds:GetNetworkInterfaces/>",
            Expect::Payload(&[NS_DEVICE], "GetNetworkInterfacesResponse"),
        );
        self.call(call, |r| Ok(parse_mac(r))).await
    }

    /// GetSystemDateAndTime (unauthenticated): measures and stores the camera clock offset
    /// (camera UTC minus ours, at the middle of the round trip) and returns it.
    pub async fn sync_clock(&self) -> Result<SignedDuration, Error> {
        let call = Call::new(
            self.device_url(),
            ACTION_TIME,
            "<tds:GetSystemDateAndTime/>",
            Expect::Payload(&[NS_DEVICE], "GetSystemDateAndTimeResponse"),
        )
        .unauthenticated();
        let sent = Timestamp::now();
        // Straight to one attempt: this call is what `call` uses to fix authentication. The
        // answer is read as it arrives, so its reception time is taken before parsing.
        let (camera, received) = self
            .call_once(&call, |r| Ok((parse_system_time(r)?, Timestamp::now())))
            .await?;
        let middle = sent
            .checked_add(received.duration_since(sent) / 2)
            .unwrap_or(received);
        let offset = camera.duration_since(middle);
        self.set_clock_offset(offset);
        Ok(offset)
    }

    /// SetSystemDateAndTime (Manual, UTC) to `now`, then measures the offset again. Only
    /// called when the user turned `set_clock` on: a camera's clock is the user's business.
    pub async fn set_system_time(&self, now: Timestamp) -> Result<SignedDuration, Error> {
        let t = now.to_zoned_datetime(jiff::tz::TimeZone::UTC);
        let body = format!(
            concat!(
                "<tds:SetSystemDateAndTime><tds:DateTimeType>Manual</tds:DateTimeType>",
                "<tds:DaylightSavings>false</tds:DaylightSavings>",
                "<tds:TimeZone><tt:TZ>UTC0</tt:TZ></tds:TimeZone><tds:UTCDateTime>",
                "<tt:Date><tt:Year>{}</tt:Year><tt:Month>{}</tt:Month><tt:Day>{}</tt:Day></tt:Date>",
                "<tt:Time><tt:Hour>{}</tt:Hour><tt:Minute>{}</tt:Minute><tt:Second>{}</tt:Second></tt:Time>",
                "</tds:UTCDateTime></tds:SetSystemDateAndTime>"
            ),
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        let call = Call::new(self.device_url(), ACTION_SET_TIME, &body, Expect::Body);
        self.call(call, |_| Ok(())).await?;
        self.sync_clock().await
    }

    /// GetDeviceInformation.
    pub async fn device_information(&self) -> Result<DeviceInfo, Error> {
        let device = self.device_url();
        let call = Call::new(
            device,
            ACTION_INFO,
            "<tds:GetDeviceInformation/>",
            Expect::Payload(&[NS_DEVICE], "GetDeviceInformationResponse"),
        );
        self.call(call, |r| Ok(parse_device_information(r, device)))
            .await
    }

    /// GetServices, falling back to GetCapabilities for cameras without it (or whose answer
    /// lacks the event service).
    pub async fn services(&self) -> Result<Services, Error> {
        let device = self.device_url();
        let get_services = Call::new(
            device,
            ACTION_SERVICES,
            "<tds:GetServices><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>",
            Expect::Payload(&[NS_DEVICE], "GetServicesResponse"),
        );
        let from_services = match self
            .call(get_services, |r| Ok(parse_services(r, device)))
            .await
        {
            Ok(services) => Some(services),
            Err(
                e @ (Error::Unauthorized { .. } | Error::Transport { .. } | Error::Timeout { .. }),
            ) => {
                return Err(e);
            }
            Err(e) => {
                tracing::debug!("{e}; trying GetCapabilities");
                None
            }
        };
        if let Some(services) = &from_services
            && services.events.is_some()
        {
            return Ok(services.clone());
        }
        let get_capabilities = Call::new(
            device,
            ACTION_CAPABILITIES,
            "<tds:GetCapabilities><tds:Category>All</tds:Category></tds:GetCapabilities>",
            Expect::Payload(&[NS_DEVICE], "GetCapabilitiesResponse"),
        );
        let caps = self
            .call(get_capabilities, |r| Ok(parse_capabilities(r, device)))
            .await;
        let caps = match (caps, from_services.clone()) {
            (Ok(caps), _) => caps,
            (Err(_), Some(services)) => return Ok(services),
            (Err(e), None) => return Err(e),
        };
        Ok(match from_services {
            Some(s) => Services {
                events: caps.events,
                media: s.media.or(caps.media),
                ..s
            },
            None => caps,
        })
    }
}

#[cfg(test)]
#[path = "device_tests.rs"]
mod tests;
