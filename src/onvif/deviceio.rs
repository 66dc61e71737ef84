//! Relay outputs (ONVIF Core §8.6.3, the device service's `tds:` operations, as Home
//! Assistant's DeviceIO work calls them): GetRelayOutputs, SetRelayOutputSettings and
//! SetRelayOutputState. Request bodies and answer readers are pure; the calls go through
//! [`Client::call`] like every other operation.

use std::time::Duration;

use quick_xml::escape::escape;
use roxmltree::Node;

use super::client::{Call, Expect};
use super::soap::{NS_DEVICE, NS_SCHEMA};
use super::{Client, Error, dom, time};

const ACTION_GET: &str = "http://www.onvif.org/ver10/device/wsdl/GetRelayOutputs";
const ACTION_SETTINGS: &str = "http://www.onvif.org/ver10/device/wsdl/SetRelayOutputSettings";
const ACTION_STATE: &str = "http://www.onvif.org/ver10/device/wsdl/SetRelayOutputState";

/// Most relays read from one answer (a door station has one to four).
pub const MAX_RELAYS: usize = 32;
/// Longest relay token kept (characters).
pub const MAX_TOKEN_CHARS: usize = 64;

/// How a relay behaves once switched to active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayMode {
    /// Goes back to idle by itself after `DelayTime`.
    Monostable,
    /// Stays where it was put.
    Bistable,
}

impl RelayMode {
    fn as_str(self) -> &'static str {
        match self {
            RelayMode::Monostable => "Monostable",
            RelayMode::Bistable => "Bistable",
        }
    }
}

/// One relay output as GetRelayOutputs lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayOutput {
    /// Its token.
    pub token: String,
    /// Monostable or bistable; `None` when the device left it out.
    pub mode: Option<RelayMode>,
    /// Monostable: how long it stays active.
    pub delay: Option<Duration>,
    /// `closed` or `open` (the contact when idle), as the device wrote it.
    pub idle_state: Option<String>,
}

/// The relays in a GetRelayOutputsResponse, at most [`MAX_RELAYS`] (pure). Entries without a
/// usable token are skipped.
pub fn parse_relay_outputs(response: Node<'_, '_>) -> Vec<RelayOutput> {
    dom::children(response, &[NS_DEVICE], "RelayOutputs")
        .filter_map(|r| {
            let token = r.attribute("token")?.trim();
            if token.is_empty()
                || token.chars().count() > MAX_TOKEN_CHARS
                || token.chars().any(char::is_control)
            {
                return None;
            }
            let props = dom::child(r, &[NS_SCHEMA], "Properties");
            let field = |name: &str| props.and_then(|p| dom::child_text(p, &[NS_SCHEMA], name));
            let mode = match field("Mode").as_deref() {
                Some("Monostable") => Some(RelayMode::Monostable),
                Some("Bistable") => Some(RelayMode::Bistable),
                _ => None,
            };
            let delay = field("DelayTime")
                .and_then(|d| time::parse_duration(&d))
                .and_then(|d| Duration::try_from(d).ok());
            Some(RelayOutput {
                token: token.to_owned(),
                mode,
                delay,
                idle_state: field("IdleState").filter(|s| s == "closed" || s == "open"),
            })
        })
        .take(MAX_RELAYS)
        .collect()
}

/// `xsd:duration` with milliseconds: `PT1S`, `PT0.500S`.
fn format_delay(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        time::format_duration(d)
    } else {
        format!("PT{}.{:03}S", d.as_secs(), d.subsec_millis())
    }
}

/// The SetRelayOutputState body (pure).
pub fn state_body(token: &str, active: bool) -> String {
    format!(
        "<tds:SetRelayOutputState><tds:RelayOutputToken>{}</tds:RelayOutputToken><tds:LogicalState>{}</tds:LogicalState></tds:SetRelayOutputState>",
        escape(token),
        if active { "active" } else { "inactive" }
    )
}

/// The SetRelayOutputSettings body (pure): `mode`, `delay` and the idle state kept as the
/// device had it (`closed` when it did not say).
pub fn settings_body(relay: &RelayOutput, mode: RelayMode, delay: Duration) -> String {
    format!(
        concat!(
            "<tds:SetRelayOutputSettings><tds:RelayOutputToken>{}</tds:RelayOutputToken>",
            "<tds:Properties><tt:Mode>{}</tt:Mode><tt:DelayTime>{}</tt:DelayTime>",
            "<tt:IdleState>{}</tt:IdleState></tds:Properties></tds:SetRelayOutputSettings>"
        ),
        escape(relay.token.as_str()),
        mode.as_str(),
        format_delay(delay),
        relay.idle_state.as_deref().unwrap_or("closed")
    )
}

impl Client {
    /// GetRelayOutputs: the relays the device has (read only).
    pub async fn relay_outputs(&self) -> Result<Vec<RelayOutput>, Error> {
        let call = Call::new(
            self.device_url(),
            ACTION_GET,
            "<tds:GetRelayOutputs/>",
            Expect::Payload(&[NS_DEVICE], "GetRelayOutputsResponse"),
        );
        self.call(call, |r| Ok(parse_relay_outputs(r))).await
    }

    /// SetRelayOutputState: `active` or `inactive`.
    pub async fn set_relay_state(&self, token: &str, active: bool) -> Result<(), Error> {
        let body = state_body(token, active);
        let call = Call::new(self.device_url(), ACTION_STATE, &body, Expect::Body);
        self.call(call, |_| Ok(())).await
    }

    /// SetRelayOutputSettings: `mode` and `delay`, keeping the idle state.
    pub async fn set_relay_settings(
        &self,
        relay: &RelayOutput,
        mode: RelayMode,
        delay: Duration,
    ) -> Result<(), Error> {
        let body = settings_body(relay, mode, delay);
        let call = Call::new(self.device_url(), ACTION_SETTINGS, &body, Expect::Body);
        self.call(call, |_| Ok(())).await
    }
}

#[cfg(test)]
mod tests {
    use super::super::client::read_payload;
    use super::*;

    const ANSWER: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"><s:Body><tds:GetRelayOutputsResponse>
        <tds:RelayOutputs token="Relay1"><tt:Properties><tt:Mode>Bistable</tt:Mode><tt:DelayTime>PT0S</tt:DelayTime><tt:IdleState>closed</tt:IdleState></tt:Properties></tds:RelayOutputs>
        <tds:RelayOutputs token="Relay2"><tt:Properties><tt:Mode>Monostable</tt:Mode><tt:DelayTime>PT2.5S</tt:DelayTime><tt:IdleState>open</tt:IdleState></tt:Properties></tds:RelayOutputs>
        <tds:RelayOutputs token=""/>
        <tds:RelayOutputs token="Bare"/>
        </tds:GetRelayOutputsResponse></s:Body></s:Envelope>"#;

    #[test]
    fn relay_outputs_are_read_with_their_mode() {
        let url: url::Url = "http://cam/onvif/device_service".parse().unwrap();
        let relays = read_payload(&url, ANSWER, &[NS_DEVICE], "GetRelayOutputsResponse", |r| {
            Ok(parse_relay_outputs(r))
        })
        .unwrap();
        let tokens: Vec<_> = relays.iter().map(|r| r.token.as_str()).collect();
        assert_eq!(
            tokens,
            ["Relay1", "Relay2", "Bare"],
            "the empty token is skipped"
        );
        assert_eq!(relays[0].mode, Some(RelayMode::Bistable));
        assert_eq!(relays[1].mode, Some(RelayMode::Monostable));
        assert_eq!(relays[1].delay, Some(Duration::from_millis(2500)));
        assert_eq!(relays[1].idle_state.as_deref(), Some("open"));
        assert_eq!(relays[2].mode, None);
    }

    #[test]
    fn relay_requests_escape_the_token() {
        let body = state_body("a<b&c", true);
        assert!(body.contains("<tds:RelayOutputToken>a&lt;b&amp;c</tds:RelayOutputToken>"));
        assert!(body.contains("<tds:LogicalState>active</tds:LogicalState>"));
        assert!(state_body("R", false).contains(">inactive<"));
        let relay = RelayOutput {
            token: "R".into(),
            mode: Some(RelayMode::Bistable),
            delay: None,
            idle_state: Some("open".into()),
        };
        let settings = settings_body(&relay, RelayMode::Monostable, Duration::from_millis(500));
        assert!(
            settings.contains("<tt:Mode>Monostable</tt:Mode>"),
            "{settings}"
        );
        assert!(
            settings.contains("<tt:DelayTime>PT0.500S</tt:DelayTime>"),
            "{settings}"
        );
        assert!(
            settings.contains("<tt:IdleState>open</tt:IdleState>"),
            "{settings}"
        );
        assert_eq!(format_delay(Duration::from_secs(2)), "PT2S");
    }
}
