//! The Hikvision personality: `GET /ISAPI/Event/notification/alertStream` (`multipart/mixed`,
//! XML `EventNotificationAlert` parts on cameras, JSON parts on door stations), door-station
//! call status, `/ISAPI/System/deviceInfo` and the channel picture. Shapes from vendor-apis.md
//! §2 and `tests/fixtures/hikvision/`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::json;
use tokio::time::Instant;

use super::device::MAC;
use super::http::{apply, digest_challenge};
use super::jpeg::SNAPSHOT;
use super::state::Shared;
use super::vendor::{self, Burst, HikModel, HikPart, Item};

/// The boundary cameras delimit parts with (`--boundary`, pyHik#10).
pub const CAMERA_BOUNDARY: &str = "boundary";
/// The boundary door stations delimit parts with (`--MIME_boundary`, pyHik#77).
pub const STATION_BOUNDARY: &str = "MIME_boundary";
/// What the mismatch quirk announces instead (the DS-7608NI of pyHik#10).
pub const ANNOUNCED_INSTEAD: &str = "myboundary";
/// Default time between `videoloss` inactive heartbeats ([`super::SimOptions::alert_heartbeat`]).
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(2);
/// Default time a call rings unanswered before the station goes back to idle
/// ([`super::SimOptions::ring_for`]).
pub const DEFAULT_RING: Duration = Duration::from_secs(30);
/// The ver20 namespace of `EventNotificationAlert` and `DeviceInfo`.
pub const XMLNS: &str = "http://www.hikvision.com/ver20/XMLSchema";

const XML: &str = "application/xml; charset=\"UTF-8\"";
const JSON: &str = "application/json; charset=\"UTF-8\"";

/// Alert-stream quirks, switchable with [`super::SimDoorbell::set_hik_quirks`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HikQuirks {
    /// The header announces `boundary=myboundary`; the parts use the model's own boundary.
    pub boundary_mismatch: bool,
    /// Older firmware: the alert stream is only at `/Event/notification/alertStream`, and
    /// `/ISAPI/Event/notification/alertStream` answers 404.
    pub legacy_path: bool,
}

/// A door station's call status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatus {
    /// No call.
    Idle,
    /// A visitor pressed: ringing until answered, hung up or the ring time ends.
    Ring,
    /// Answered.
    OnCall,
}

impl CallStatus {
    /// As in `{"CallStatus":{"status":...}}`.
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Idle => "idle",
            CallStatus::Ring => "ring",
            CallStatus::OnCall => "onCall",
        }
    }
}

/// The call state machine: press -> ring (for a while) -> answer -> onCall -> hang up -> idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    status: CallStatus,
    ring_until: Option<Instant>,
}

impl Default for Call {
    fn default() -> Self {
        Call {
            status: CallStatus::Idle,
            ring_until: None,
        }
    }
}

impl Call {
    /// The status at `now` (an unanswered ring ends by itself).
    pub fn status(&mut self, now: Instant) -> CallStatus {
        if self.status == CallStatus::Ring && self.ring_until.is_some_and(|t| now >= t) {
            *self = Call::default();
        }
        self.status
    }

    /// A press at `now`: rings for `ring_for` unless a call is already on.
    pub fn press(&mut self, now: Instant, ring_for: Duration) {
        if self.status(now) == CallStatus::Idle {
            self.status = CallStatus::Ring;
            self.ring_until = Some(now + ring_for);
        }
    }

    /// Answered on the indoor unit: a ringing call goes on call.
    pub fn answer(&mut self, now: Instant) {
        if self.status(now) == CallStatus::Ring {
            self.status = CallStatus::OnCall;
            self.ring_until = None;
        }
    }

    /// Hung up (or rejected): back to idle.
    pub fn hang_up(&mut self) {
        *self = Call::default();
    }
}

/// An alert's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert<'a> {
    /// `eventType`.
    pub event_type: &'a str,
    /// `active` or `inactive`.
    pub active: bool,
    /// `eventDescription`.
    pub description: &'a str,
    /// `detectionTarget` (human, vehicle).
    pub target: Option<&'a str>,
}

fn date_time(now: Timestamp) -> String {
    now.to_zoned_datetime(TimeZone::UTC)
        .strftime("%Y-%m-%dT%H:%M:%S+00:00")
        .to_string()
}

/// An `EventNotificationAlert` XML document (ver20 namespace), as cameras send it.
pub fn xml_alert(a: &Alert<'_>, port: u16, count: u64, now: Timestamp) -> String {
    let regions = a.target.map_or(String::new(), |t| {
        format!(
            "<DetectionRegionList>\r\n<DetectionRegionEntry>\r\n<regionID>1</regionID>\r\n<sensitivityLevel>50</sensitivityLevel>\r\n<RegionCoordinatesList></RegionCoordinatesList>\r\n<detectionTarget>{t}</detectionTarget>\r\n</DetectionRegionEntry>\r\n</DetectionRegionList>\r\n"
        )
    });
    format!(
        concat!(
            "<EventNotificationAlert version=\"2.0\" xmlns=\"{ns}\">\r\n",
            "<ipAddress>127.0.0.1</ipAddress>\r\n<portNo>{port}</portNo>\r\n<protocol>HTTP</protocol>\r\n",
            "<macAddress>{mac}</macAddress>\r\n<channelID>1</channelID>\r\n<dateTime>{dt}</dateTime>\r\n",
            "<activePostCount>{count}</activePostCount>\r\n<eventType>{ty}</eventType>\r\n",
            "<eventState>{state}</eventState>\r\n<eventDescription>{desc}</eventDescription>\r\n",
            "{regions}</EventNotificationAlert>"
        ),
        ns = XMLNS,
        port = port,
        mac = MAC,
        dt = date_time(now),
        count = count,
        ty = a.event_type,
        state = if a.active { "active" } else { "inactive" },
        desc = a.description,
        regions = regions,
    )
}

/// The same alert as a door station's JSON part (tab-indented, as in pyHik#77).
pub fn json_alert(a: &Alert<'_>, port: u16, count: u64, now: Timestamp) -> String {
    let mut value = json!({
        "ipAddress": "127.0.0.1",
        "portNo": port,
        "protocol": "HTTP",
        "macAddress": MAC,
        "channelID": 1,
        "dateTime": date_time(now),
        "activePostCount": count,
        "eventType": a.event_type,
        "eventState": if a.active { "active" } else { "inactive" },
        "eventDescription": a.description,
    });
    if let Some(t) = a.target {
        value["DetectionRegionList"] =
            json!({"DetectionRegionEntry": [{"regionID": 1, "detectionTarget": t}]});
    }
    pretty_tabs(&value)
}

/// The KV6113 press on the alert stream: `AccessControllerEvent` major 3 / minor 1024 with
/// one picture (Hikvision-Addons#260), then the picture part.
/// A door station's access-control door event: major 5, minor 25 (opened) or 26 (closed).
pub fn door_event(port: u16, count: u64, now: Timestamp, open: bool) -> Vec<HikPart> {
    let value = json!({
        "ipAddress": "127.0.0.1",
        "portNo": port,
        "protocol": "HTTP",
        "macAddress": MAC,
        "channelID": 1,
        "dateTime": date_time(now),
        "activePostCount": count,
        "eventType": "AccessControllerEvent",
        "eventState": "active",
        "eventDescription": "Access Controller Event",
        "AccessControllerEvent": {
            "deviceName": "Door Station",
            "majorEventType": 5,
            "subEventType": if open { 25 } else { 26 },
            "doorNo": 1
        }
    });
    vec![HikPart {
        content_type: JSON,
        body: Bytes::from(pretty_tabs(&value)),
    }]
}

pub fn station_press(port: u16, count: u64, now: Timestamp) -> Vec<HikPart> {
    let value = json!({
        "ipAddress": "127.0.0.1",
        "portNo": port,
        "protocol": "HTTP",
        "macAddress": MAC,
        "channelID": 1,
        "dateTime": date_time(now),
        "activePostCount": count,
        "eventType": "AccessControllerEvent",
        "eventState": "active",
        "eventDescription": "Access Controller Event",
        "AccessControllerEvent": {
            "deviceName": "Door Station",
            "majorEventType": 3,
            "subEventType": 1024,
            "picturesNumber": 1
        }
    });
    vec![
        HikPart {
            content_type: JSON,
            body: Bytes::from(pretty_tabs(&value)),
        },
        HikPart {
            content_type: "image/jpeg",
            body: Bytes::from(SNAPSHOT.clone()),
        },
    ]
}

fn pretty_tabs(value: &serde_json::Value) -> String {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    // Serializing a Value into a Vec cannot fail.
    let _ = serde::Serialize::serialize(value, &mut ser);
    String::from_utf8(out).unwrap_or_default()
}

/// One alert part for `model` (XML on cameras, JSON on door stations).
pub fn alert_part(
    model: HikModel,
    a: &Alert<'_>,
    port: u16,
    count: u64,
    now: Timestamp,
) -> HikPart {
    match model {
        HikModel::Camera => HikPart {
            content_type: XML,
            body: Bytes::from(xml_alert(a, port, count, now)),
        },
        HikModel::Kv6113 => HikPart {
            content_type: JSON,
            body: Bytes::from(json_alert(a, port, count, now)),
        },
    }
}

/// The heartbeat: `videoloss` inactive (pyHik#14).
pub const HEARTBEAT: Alert<'static> = Alert {
    event_type: "videoloss",
    active: false,
    description: "videoloss alarm",
    target: None,
};

/// The boundary `model` delimits parts with.
pub fn boundary(model: HikModel) -> &'static str {
    match model {
        HikModel::Camera => CAMERA_BOUNDARY,
        HikModel::Kv6113 => STATION_BOUNDARY,
    }
}

/// The `Content-Type` of the alert stream response.
pub fn content_type(model: HikModel, q: &HikQuirks) -> String {
    let announced = if q.boundary_mismatch {
        ANNOUNCED_INSTEAD
    } else {
        boundary(model)
    };
    format!("multipart/mixed; boundary={announced}")
}

/// One part's bytes.
pub fn part_bytes(model: HikModel, p: &HikPart) -> Bytes {
    let mut out = format!(
        "--{}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
        boundary(model),
        p.content_type,
        p.body.len()
    )
    .into_bytes();
    out.extend_from_slice(&p.body);
    out.extend_from_slice(b"\r\n");
    Bytes::from(out)
}

fn frame(shared: &Shared, item: &Item) -> Vec<Bytes> {
    let Some(model) = shared.options.personality.hikvision() else {
        return Vec::new();
    };
    match item {
        Item::Heartbeat => {
            let p = alert_part(model, &HEARTBEAT, shared.addr.port(), 0, shared.now());
            vec![part_bytes(model, &p)]
        }
        Item::Burst(burst) => match burst.as_ref() {
            Burst::Hikvision(parts) => parts.iter().map(|p| part_bytes(model, p)).collect(),
            Burst::Dahua(_) => Vec::new(),
        },
    }
}

type Shr = State<Arc<Shared>>;

/// Counts, checks the personality (and, with `station`, that it is a door station), applies
/// the fault and checks Digest; `Err` is the answer instead.
async fn admit(
    s: &Shared,
    action: &str,
    station: bool,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<HikModel, Response> {
    let fault = s.count(action);
    let model = s.options.personality.hikvision();
    let Some(model) = model.filter(|m| !station || *m == HikModel::Kv6113) else {
        return Err(StatusCode::NOT_FOUND.into_response());
    };
    if let Some(response) = apply(&fault).await {
        return Err(response);
    }
    match digest_challenge(s, &Method::GET, uri, headers) {
        Some(challenge) => Err(challenge),
        None => Ok(model),
    }
}

/// `GET /ISAPI/Event/notification/alertStream` (404 on older firmware, see
/// [`HikQuirks::legacy_path`]).
pub async fn alert_stream(State(s): Shr, uri: Uri, headers: HeaderMap) -> Response {
    if s.lock().hik_quirks.legacy_path {
        s.count("alertStream");
        return StatusCode::NOT_FOUND.into_response();
    }
    open_alert_stream(s, uri, headers).await
}

/// `GET /Event/notification/alertStream`: only on older firmware ([`HikQuirks::legacy_path`]).
pub async fn legacy_alert_stream(State(s): Shr, uri: Uri, headers: HeaderMap) -> Response {
    if !s.lock().hik_quirks.legacy_path {
        s.count("legacyAlertStream");
        return StatusCode::NOT_FOUND.into_response();
    }
    open_alert_stream(s, uri, headers).await
}

async fn open_alert_stream(s: Arc<Shared>, uri: Uri, headers: HeaderMap) -> Response {
    let model = match admit(&s, "alertStream", false, &uri, &headers).await {
        Ok(m) => m,
        Err(response) => return response,
    };
    let content_type = content_type(model, &s.lock().hik_quirks);
    let heartbeat = Some(s.options.alert_heartbeat).filter(|d| !d.is_zero());
    vendor::stream_response(s.clone(), content_type, heartbeat, frame)
}

/// `GET /ISAPI/VideoIntercom/callStatus?format=json` (door stations only).
pub async fn call_status(State(s): Shr, uri: Uri, headers: HeaderMap) -> Response {
    if let Err(response) = admit(&s, "callStatus", true, &uri, &headers).await {
        return response;
    }
    let status = {
        let mut inner = s.lock();
        inner.stats.call_status_polls += 1;
        inner.call.status(Instant::now())
    };
    let body = json!({"CallStatus": {"status": status.as_str()}}).to_string();
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// `GET /ISAPI/System/deviceInfo`.
pub async fn device_info(State(s): Shr, uri: Uri, headers: HeaderMap) -> Response {
    let model = match admit(&s, "deviceInfo", false, &uri, &headers).await {
        Ok(m) => m,
        Err(response) => return response,
    };
    let id = s.options.personality.identity();
    let (name, kind) = match model {
        HikModel::Kv6113 => ("Door Station", "Door Station"),
        HikModel::Camera => ("IP CAMERA", "IPCamera"),
    };
    let body = format!(
        concat!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n",
            "<DeviceInfo version=\"2.0\" xmlns=\"{ns}\">\r\n<deviceName>{name}</deviceName>\r\n",
            "<deviceID>00000000-0000-0000-0000-000000000001</deviceID>\r\n<model>{model}</model>\r\n",
            "<serialNumber>{serial}</serialNumber>\r\n<macAddress>{mac}</macAddress>\r\n",
            "<firmwareVersion>{fw}</firmwareVersion>\r\n<deviceType>{kind}</deviceType>\r\n",
            "</DeviceInfo>\r\n"
        ),
        ns = XMLNS,
        name = name,
        model = id.model,
        serial = id.serial,
        mac = MAC,
        fw = id.firmware,
        kind = kind,
    );
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    response
}

/// `GET /ISAPI/Streaming/channels/101/picture`.
pub async fn picture(State(s): Shr, uri: Uri, headers: HeaderMap) -> Response {
    if let Err(response) = admit(&s, "picture", false, &uri, &headers).await {
        return response;
    }
    let body = {
        let mut inner = s.lock();
        inner.stats.snapshots += 1;
        inner.snapshot.clone().unwrap_or_else(|| SNAPSHOT.clone())
    };
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hikvision::alert::{Alert as Read, AlertReader};

    #[test]
    fn a_press_rings_until_answered_then_hangs_up() {
        let t0 = Instant::now();
        let mut call = Call::default();
        assert_eq!(call.status(t0), CallStatus::Idle);
        call.press(t0, Duration::from_secs(30));
        assert_eq!(call.status(t0), CallStatus::Ring);
        call.answer(t0 + Duration::from_secs(1));
        assert_eq!(
            call.status(t0 + Duration::from_secs(60)),
            CallStatus::OnCall
        );
        // A press during a call does not ring again.
        call.press(t0 + Duration::from_secs(61), Duration::from_secs(30));
        assert_eq!(
            call.status(t0 + Duration::from_secs(61)),
            CallStatus::OnCall
        );
        call.hang_up();
        assert_eq!(call.status(t0), CallStatus::Idle);
    }

    #[test]
    fn an_unanswered_ring_goes_back_to_idle_after_the_ring_time() {
        let t0 = Instant::now();
        let mut call = Call::default();
        call.press(t0, Duration::from_secs(5));
        assert_eq!(call.status(t0 + Duration::from_secs(4)), CallStatus::Ring);
        assert_eq!(call.status(t0 + Duration::from_secs(5)), CallStatus::Idle);
        call.answer(t0 + Duration::from_secs(6));
        assert_eq!(call.status(t0 + Duration::from_secs(6)), CallStatus::Idle);
    }

    fn read(bytes: &[u8]) -> Vec<Read> {
        let mut reader = AlertReader::new();
        let mut out = Vec::new();
        reader.feed(bytes, &mut |a| out.push(a));
        out
    }

    #[test]
    fn heartbeats_of_both_models_read_as_heartbeats() {
        let now = Timestamp::now();
        for model in [HikModel::Camera, HikModel::Kv6113] {
            let p = alert_part(model, &HEARTBEAT, 80, 0, now);
            assert_eq!(
                read(&part_bytes(model, &p)),
                vec![Read::Heartbeat],
                "{model:?}"
            );
        }
    }

    #[test]
    fn the_station_press_is_an_access_controller_event_and_a_picture() {
        let mut bytes = Vec::new();
        for p in station_press(80, 1, Timestamp::now()) {
            bytes.extend_from_slice(&part_bytes(HikModel::Kv6113, &p));
        }
        let alerts = read(&bytes);
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        let Read::Event(n) = &alerts[0] else {
            panic!("not an event: {alerts:?}");
        };
        assert_eq!(n.topic, "hikvision:AccessControllerEvent");
    }

    #[test]
    fn the_mismatch_quirk_announces_another_boundary() {
        let q = HikQuirks {
            boundary_mismatch: true,
            ..HikQuirks::default()
        };
        assert_eq!(
            content_type(HikModel::Camera, &q),
            "multipart/mixed; boundary=myboundary"
        );
        assert_eq!(
            content_type(HikModel::Camera, &HikQuirks::default()),
            "multipart/mixed; boundary=boundary"
        );
    }
}
