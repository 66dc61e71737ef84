//! The simulated doorbell's doors: ONVIF relay outputs (device service GetRelayOutputs,
//! SetRelayOutputSettings, SetRelayOutputState), the Dahua VTO's
//! `accessControl.cgi?action=openDoor|getDoorStatus` and the Hikvision door station's
//! `PUT /ISAPI/AccessControl/RemoteControl/door/N` (and `.../door/capabilities`). Vendor
//! requests need HTTP Digest. Every switch is recorded with the instant it happened
//! ([`DoorSwitch`]), so tests assert the door opened exactly when it should and never otherwise.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::http::{apply, digest_challenge};
use super::soap::{Code, Envelope, Fault, TDS};
use super::state::Shared;
use super::vendor::{Burst, DahuaModel, HikModel, Personality};

/// Switches kept (the oldest are forgotten beyond it).
pub const MAX_SWITCHES: usize = 1024;

/// The ONVIF relays: `Door1` bistable, `Door2` monostable (2 s).
pub const RELAY_TOKENS: [&str; 2] = ["Door1", "Door2"];

/// One recorded switch of a door or relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorSwitch {
    /// When it happened.
    pub at: Instant,
    /// `onvif`, `dahua`, `hikvision` or `doorbird`.
    pub api: &'static str,
    /// The relay token or door number.
    pub door: String,
    /// `active`, `inactive` (ONVIF state), `settings` (ONVIF settings), `open` (vendor).
    pub what: &'static str,
}

impl DoorSwitch {
    /// Whether this switch opened the door (`active` or `open`).
    pub fn opens(&self) -> bool {
        matches!(self.what, "active" | "open")
    }
}

/// One simulated ONVIF relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relay {
    /// Its token.
    pub token: &'static str,
    /// `Bistable` or `Monostable`.
    pub mode: String,
    /// Monostable delay.
    pub delay: String,
    /// `active` or `inactive`.
    pub active: bool,
}

/// The relays at start.
pub fn relays() -> Vec<Relay> {
    vec![
        Relay {
            token: RELAY_TOKENS[0],
            mode: "Bistable".into(),
            delay: "PT0S".into(),
            active: false,
        },
        Relay {
            token: RELAY_TOKENS[1],
            mode: "Monostable".into(),
            delay: "PT2S".into(),
            active: false,
        },
    ]
}

/// Records one switch of `door` through `api` and wakes the waiters.
pub(super) fn record(s: &Shared, api: &'static str, door: String, what: &'static str) {
    let mut inner = s.lock();
    if inner.door_switches.len() >= MAX_SWITCHES {
        inner.door_switches.remove(0);
    }
    inner.door_switches.push(DoorSwitch {
        at: Instant::now(),
        api,
        door,
        what,
    });
    drop(inner);
    s.requested.notify_waiters();
}

/// GetRelayOutputs.
pub fn relay_outputs(s: &Shared) -> String {
    let relays = s.lock().relays.clone();
    let mut body = String::from("<tds:GetRelayOutputsResponse>");
    for r in relays {
        body.push_str(&format!(
            concat!(
                r#"<tds:RelayOutputs token="{}"><tt:Properties><tt:Mode>{}</tt:Mode>"#,
                "<tt:DelayTime>{}</tt:DelayTime><tt:IdleState>closed</tt:IdleState>",
                "</tt:Properties></tds:RelayOutputs>"
            ),
            r.token, r.mode, r.delay
        ));
    }
    body.push_str("</tds:GetRelayOutputsResponse>");
    body
}

fn unknown_relay(token: &str) -> Fault {
    Fault::new(
        Code::Sender,
        &["ter:InvalidArgVal", "ter:RelayToken"],
        format!("no relay output {token:?}"),
    )
}

/// SetRelayOutputState.
pub fn set_state(s: &Shared, env: &Envelope) -> Result<String, Fault> {
    let token = env.field(TDS, "RelayOutputToken").unwrap_or_default();
    let active = match env.field(TDS, "LogicalState") {
        Some("active") => true,
        Some("inactive") => false,
        other => {
            return Err(Fault::new(
                Code::Sender,
                &["ter:InvalidArgVal"],
                format!("LogicalState {other:?} is not active or inactive"),
            ));
        }
    };
    let (name, monostable) = {
        let mut inner = s.lock();
        let Some(relay) = inner.relays.iter_mut().find(|r| r.token == token) else {
            return Err(unknown_relay(token));
        };
        relay.active = active;
        (relay.token, relay.mode == "Monostable")
    };
    record(
        s,
        "onvif",
        name.to_owned(),
        if active { "active" } else { "inactive" },
    );
    if monostable && active {
        // Goes back by itself; what it records is only what the client switched.
        s.lock()
            .relays
            .iter_mut()
            .filter(|r| r.token == name)
            .for_each(|r| r.active = false);
    }
    Ok("<tds:SetRelayOutputStateResponse/>".into())
}

/// SetRelayOutputSettings.
pub fn set_settings(s: &Shared, env: &Envelope) -> Result<String, Fault> {
    let token = env.field(TDS, "RelayOutputToken").unwrap_or_default();
    let mode = env
        .field(super::soap::TT, "Mode")
        .unwrap_or_default()
        .to_owned();
    let delay = env
        .field(super::soap::TT, "DelayTime")
        .unwrap_or("PT0S")
        .to_owned();
    if !matches!(mode.as_str(), "Monostable" | "Bistable") {
        return Err(Fault::new(
            Code::Sender,
            &["ter:InvalidArgVal"],
            format!("Mode {mode:?} is not Monostable or Bistable"),
        ));
    }
    let name = {
        let mut inner = s.lock();
        let Some(relay) = inner.relays.iter_mut().find(|r| r.token == token) else {
            return Err(unknown_relay(token));
        };
        relay.mode = mode;
        relay.delay = delay;
        relay.token
    };
    record(s, "onvif", name.to_owned(), "settings");
    Ok("<tds:SetRelayOutputSettingsResponse/>".into())
}

/// A door station reports its door on its event stream (Dahua VTO `DoorStatus`, Hikvision
/// station access-control events); other personalities say nothing.
pub fn report_door(s: &Shared, open: bool) {
    let burst = match s.options.personality {
        Personality::Dahua(DahuaModel::Vto) => Burst::Dahua(super::dahua::door_status(open)),
        Personality::Hikvision(HikModel::Kv6113) => {
            let (count, now) = {
                let mut inner = s.lock();
                inner.posts += 1;
                (inner.posts, inner.now())
            };
            Burst::Hikvision(super::hikvision::door_event(
                s.addr.port(),
                count,
                now,
                open,
            ))
        }
        _ => return,
    };
    super::vendor::broadcast(s, burst);
}

type Shr = State<Arc<Shared>>;

/// Counts, applies the fault, checks the personality and Digest for `method`.
async fn admit(
    s: &Shared,
    action: &str,
    wanted: bool,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<(), Response> {
    let fault = s.count(action);
    if !wanted {
        return Err(StatusCode::NOT_FOUND.into_response());
    }
    if let Some(response) = apply(&fault).await {
        return Err(response);
    }
    match digest_challenge(s, method, uri, headers) {
        Some(challenge) => Err(challenge),
        None => Ok(()),
    }
}

/// `GET /cgi-bin/accessControl.cgi?action=openDoor&channel=N&UserID=101&Type=Remote` (VTO
/// only: the AD110 and AD410 have no relay) and `action=getDoorStatus&channel=N`.
pub async fn dahua_access_control(State(s): Shr, uri: Uri, headers: HeaderMap) -> Response {
    let dahua = s.options.personality.dahua();
    if let Err(r) = admit(
        &s,
        "accessControl",
        dahua.is_some(),
        &Method::GET,
        &uri,
        &headers,
    )
    .await
    {
        return r;
    }
    let q: std::collections::BTreeMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .take(16)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    let bad = || (StatusCode::BAD_REQUEST, "Error\r\nBad Request!\r\n").into_response();
    if dahua != Some(DahuaModel::Vto) {
        return bad();
    }
    let channel = q
        .get("channel")
        .filter(|c| c.as_str() == "1" || c.as_str() == "2");
    match (q.get("action").map(String::as_str), channel) {
        (Some("openDoor"), Some(ch))
            if q.get("Type").map(String::as_str) == Some("Remote") && q.contains_key("UserID") =>
        {
            record(&s, "dahua", ch.clone(), "open");
            report_door(&s, true);
            (StatusCode::OK, "OK\r\n").into_response()
        }
        (Some("getDoorStatus"), Some(_)) => {
            (StatusCode::OK, "Info.status=Close\r\n").into_response()
        }
        _ => bad(),
    }
}

fn xml(status: StatusCode, text: String) -> Response {
    let mut response = (status, text).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=\"UTF-8\""),
    );
    response
}

fn response_status(code: u32, sub: &str) -> String {
    format!(
        concat!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ResponseStatus version=\"2.0\" ",
            "xmlns=\"http://www.isapi.org/ver20/XMLSchema\"><requestURL>/ISAPI/AccessControl/RemoteControl/door</requestURL>",
            "<statusCode>{}</statusCode><statusString>{}</statusString><subStatusCode>{}</subStatusCode></ResponseStatus>"
        ),
        code,
        if code == 1 { "OK" } else { "Invalid Content" },
        sub
    )
}

fn is_station(s: &Shared) -> bool {
    s.options.personality == Personality::Hikvision(HikModel::Kv6113)
}

/// `PUT /ISAPI/AccessControl/RemoteControl/door/{n}` with `<cmd>open</cmd>` (door station
/// only, doors 1 and 2).
pub async fn hikvision_door(
    State(s): Shr,
    Path(door): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let station = is_station(&s);
    if let Err(r) = admit(
        &s,
        "remoteControlDoor",
        station,
        &Method::PUT,
        &uri,
        &headers,
    )
    .await
    {
        return r;
    }
    let text = String::from_utf8_lossy(&body);
    if !matches!(door.as_str(), "1" | "2") {
        return xml(StatusCode::BAD_REQUEST, response_status(4, "invalidID"));
    }
    if !text.contains("<RemoteControlDoor") || !text.contains("<cmd>open</cmd>") {
        return xml(StatusCode::BAD_REQUEST, response_status(4, "badXmlContent"));
    }
    record(&s, "hikvision", door, "open");
    report_door(&s, true);
    xml(StatusCode::OK, response_status(1, "ok"))
}

/// `GET /ISAPI/AccessControl/RemoteControl/door/capabilities` (read only).
pub async fn hikvision_capabilities(State(s): Shr, uri: Uri, headers: HeaderMap) -> Response {
    let station = is_station(&s);
    if let Err(r) = admit(
        &s,
        "remoteControlCapabilities",
        station,
        &Method::GET,
        &uri,
        &headers,
    )
    .await
    {
        return r;
    }
    xml(
        StatusCode::OK,
        concat!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><RemoteControlDoor version=\"2.0\" ",
            "xmlns=\"http://www.isapi.org/ver20/XMLSchema\"><doorNo min=\"1\" max=\"2\"/>",
            "<cmd opt=\"open,close,alwaysOpen,alwaysClose\"/></RemoteControlDoor>"
        )
        .to_owned(),
    )
}
