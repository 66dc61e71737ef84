//! The Dahua personality: `GET /cgi-bin/eventManager.cgi?action=attach&codes=[All]&heartbeat=N`
//! (a `multipart/x-mixed-replace` stream of code parts), `snapshot.cgi` and `magicBox.cgi`.
//! Code sequences per model from vendor-apis.md §1.4 and `tests/fixtures/dahua/`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::http::{apply, digest_challenge};
use super::jpeg::SNAPSHOT;
use super::state::Shared;
use super::vendor::{self, Burst, DahuaModel, DahuaPart, Item};

/// The boundary every part is delimited with (`--myboundary`).
pub const BOUNDARY: &str = "myboundary";
/// Longest heartbeat interval the device accepts, in seconds (Dahua HTTP API: 1-60).
pub const MAX_HEARTBEAT_SECS: u64 = 60;
/// Bytes per write when [`DahuaQuirks::part_over_writes`] is on.
pub const PIECE: usize = 16;

/// The stray header block some firmware writes inside the body (Scrypted "dahua bugs out").
const STRAY: &str = "HTTP/1.1 200 OK\r\nServer: Device/1.0\r\nContent-Type: multipart/x-mixed-replace; boundary=myboundary\r\nConnection: close\r\n\r\n";

/// Stream quirks seen in the wild (vendor-apis.md §1.3), each switchable on the handle with
/// [`super::SimDoorbell::set_dahua_quirks`]. All off: one well-formed part per write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DahuaQuirks {
    /// The header announces `boundary=--myboundary` (dashes included).
    pub dashed_boundary: bool,
    /// `Content-Length:N` with no space after the colon.
    pub length_without_space: bool,
    /// A stray `HTTP/1.1 200 OK` header block before every part.
    pub stray_http_block: bool,
    /// A body with `;index` is written as two writes, cut right after `;index`.
    pub split_line: bool,
    /// The parts of one burst leave in one write.
    pub parts_in_one_write: bool,
    /// Every part leaves in writes of 16 bytes.
    pub part_over_writes: bool,
    /// The `data=` JSON is pretty-printed over several lines (as the AD110 and AD410 do).
    pub multiline_json: bool,
}

fn part(code: &str, action: &str, data: Option<serde_json::Value>) -> DahuaPart {
    DahuaPart {
        head: format!("Code={code};action={action};index=0"),
        data,
    }
}

/// What a press sends on `model`. `call` numbers the call (`CallID`).
pub fn press(model: DahuaModel, call: u64) -> Vec<DahuaPart> {
    let id = call.to_string();
    match model {
        // rroller/dahua#52 (GaryOkie trace, fw 2021-02-20).
        DahuaModel::Ad410 => vec![
            part(
                "CrossRegionDetection",
                "Start",
                Some(json!({"Class": "Normal", "Name": "IVS-1",
                    "Object": {"Action": "Appear", "ObjectID": 1, "ObjectType": "Human"}})),
            ),
            part("AlarmLocal", "Start", None),
            part(
                "CallNoAnswered",
                "Start",
                Some(json!({"CallID": id, "LockNum": 1})),
            ),
            part("AlarmLocal", "Stop", None),
            part("CallNoAnswered", "Stop", Some(json!({"CallID": id}))),
        ],
        // python-amcrest#137 capture.
        DahuaModel::Ad110 => vec![
            part(
                "_DoTalkAction_",
                "Pulse",
                Some(json!({"Action": "Invite", "CallID": id, "CallSrcMask": 4})),
            ),
            part("CallNoAnswered", "Start", Some(json!({"CallID": id}))),
        ],
        // rroller/dahua README (BackKeyLight State 1 is a call); DahuaVTO2MQTT (CallNoAnswered).
        DahuaModel::Vto => vec![
            part("BackKeyLight", "Pulse", Some(json!({"State": 1}))),
            part(
                "CallNoAnswered",
                "Start",
                Some(json!({"CallID": id, "LockNum": 1, "TCPPort": 37777})),
            ),
        ],
    }
}

/// What hanging up sends: the AD110 ends the call with `_DoTalkAction_` Hangup
/// (python-amcrest#137); the others send nothing more.
pub fn hang_up(model: DahuaModel, call: u64) -> Vec<DahuaPart> {
    match model {
        DahuaModel::Ad110 => vec![part(
            "_DoTalkAction_",
            "Pulse",
            Some(json!({"Action": "Hangup", "CallID": call.to_string()})),
        )],
        DahuaModel::Ad410 | DahuaModel::Vto => Vec::new(),
    }
}

/// What a motion change sends: PIR `ProfileAlarmTransmit` plus `AlarmLocal` on the AD110
/// (python-amcrest#137, amcrest2mqtt b84537d), `VideoMotion` elsewhere.
pub fn motion(model: DahuaModel, on: bool) -> Vec<DahuaPart> {
    let action = if on { "Start" } else { "Stop" };
    match model {
        DahuaModel::Ad110 => vec![
            part(
                "ProfileAlarmTransmit",
                action,
                Some(json!({"SenseMethod": "PassiveInfrared"})),
            ),
            part("AlarmLocal", action, None),
        ],
        DahuaModel::Ad410 | DahuaModel::Vto => vec![part(
            "VideoMotion",
            action,
            Some(json!({"RegionName": ["Region1"], "SmartMotionEnable": false})),
        )],
    }
}

/// What a person change sends: `SmartMotionHuman` (rroller `client.py` code list).
/// A VTO's door contact: `DoorStatus` Pulse with `Status` Open or Close.
pub fn door_status(open: bool) -> Vec<DahuaPart> {
    let status = if open { "Open" } else { "Close" };
    vec![part(
        "DoorStatus",
        "Pulse",
        Some(serde_json::json!({ "Status": status })),
    )]
}

pub fn person(on: bool) -> Vec<DahuaPart> {
    let action = if on { "Start" } else { "Stop" };
    vec![part("SmartMotionHuman", action, None)]
}

/// The `Content-Type` of the attach response.
pub fn content_type(q: &DahuaQuirks) -> String {
    let dashes = if q.dashed_boundary { "--" } else { "" };
    format!("multipart/x-mixed-replace; boundary={dashes}{BOUNDARY}")
}

fn body_text(p: &DahuaPart, q: &DahuaQuirks) -> String {
    match &p.data {
        None => p.head.clone(),
        Some(data) => {
            let text = if q.multiline_json {
                // Dahua pretty-prints with three spaces and `key : value`.
                serde_json::to_string_pretty(data)
                    .unwrap_or_default()
                    .replace("\": ", "\" : ")
                    .replace("  ", "   ")
                    + "\n"
            } else {
                data.to_string()
            };
            format!("{};data={text}", p.head)
        }
    }
}

/// One part's bytes, split as the quirks say.
fn pieces(body: &str, q: &DahuaQuirks) -> Vec<Vec<u8>> {
    let space = if q.length_without_space { "" } else { " " };
    let stray = if q.stray_http_block { STRAY } else { "" };
    let head = format!(
        "{stray}--{BOUNDARY}\r\nContent-Type: text/plain\r\nContent-Length:{space}{}\r\n\r\n",
        body.len()
    );
    let whole = format!("{head}{body}\r\n\r\n").into_bytes();
    let mut out = match body.find(";index").filter(|_| q.split_line) {
        Some(at) => {
            let cut = head.len() + at + ";index".len();
            vec![whole[..cut].to_vec(), whole[cut..].to_vec()]
        }
        None => vec![whole],
    };
    if q.part_over_writes {
        out = out
            .iter()
            .flat_map(|p| p.chunks(PIECE).map(<[u8]>::to_vec))
            .collect();
    }
    out
}

/// The writes that carry `bodies` (pure, for the unit tests and the stream).
pub fn writes(bodies: &[String], q: &DahuaQuirks) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for body in bodies {
        let mut parts = pieces(body, q).into_iter();
        match (out.last_mut(), parts.next()) {
            (Some(last), Some(first)) if q.parts_in_one_write => last.extend_from_slice(&first),
            (_, Some(first)) => out.push(first),
            (_, None) => {}
        }
        out.extend(parts);
    }
    out
}

/// The framer of attach streams.
fn frame(shared: &Shared, item: &Item) -> Vec<Bytes> {
    let q = shared.lock().dahua_quirks;
    let bodies = match item {
        Item::Heartbeat => vec!["Heartbeat".to_owned()],
        Item::Burst(burst) => match burst.as_ref() {
            Burst::Dahua(parts) => parts.iter().map(|p| body_text(p, &q)).collect(),
            Burst::Hikvision(_) => return Vec::new(),
        },
    };
    writes(&bodies, &q).into_iter().map(Bytes::from).collect()
}

type Shr = State<Arc<Shared>>;
type Params = std::collections::BTreeMap<String, String>;

/// Most query parameters read.
const MAX_PARAMS: usize = 16;

/// The query's parameters (the first of each name, at most [`MAX_PARAMS`]).
fn params(uri: &Uri) -> Params {
    let mut out = Params::new();
    let pairs = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes());
    for (k, v) in pairs.take(MAX_PARAMS) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

/// Counts, applies the fault and checks Digest; `Err` is the answer instead.
async fn admit(s: &Shared, action: &str, uri: &Uri, headers: &HeaderMap) -> Result<(), Response> {
    let fault = s.count(action);
    if s.options.personality.dahua().is_none() {
        return Err(StatusCode::NOT_FOUND.into_response());
    }
    if let Some(response) = apply(&fault).await {
        return Err(response);
    }
    match digest_challenge(s, &Method::GET, uri, headers) {
        Some(challenge) => Err(challenge),
        None => Ok(()),
    }
}

fn bad_request(text: String) -> Response {
    (StatusCode::BAD_REQUEST, format!("Error\r\n{text}\r\n")).into_response()
}

/// `GET /cgi-bin/eventManager.cgi?action=attach&codes=[All]&heartbeat=N`.
pub async fn event_manager(State(s): Shr, uri: Uri, headers: HeaderMap) -> Response {
    let q = params(&uri);
    if let Err(response) = admit(&s, "eventManager", &uri, &headers).await {
        return response;
    }
    if q.get("action").map(String::as_str) != Some("attach") {
        return bad_request("only action=attach is simulated".into());
    }
    if !q.contains_key("codes") {
        return bad_request("codes missing; ask codes=[All]".into());
    }
    let heartbeat = match q.get("heartbeat").map(|h| h.parse::<u64>()) {
        None => None,
        Some(Ok(secs)) if (1..=MAX_HEARTBEAT_SECS).contains(&secs) => {
            Some(Duration::from_secs(secs))
        }
        Some(_) => {
            return bad_request(format!("heartbeat must be 1-{MAX_HEARTBEAT_SECS} seconds"));
        }
    };
    let content_type = content_type(&s.lock().dahua_quirks);
    vendor::stream_response(s.clone(), content_type, heartbeat, frame)
}

/// `GET /cgi-bin/snapshot.cgi?channel=N` (N from 1; the device has one channel).
pub async fn snapshot(State(s): Shr, uri: Uri, headers: HeaderMap) -> Response {
    let q = params(&uri);
    if let Err(response) = admit(&s, "snapshot.cgi", &uri, &headers).await {
        return response;
    }
    if q.get("channel").is_some_and(|c| c != "1") {
        return bad_request("no such channel; this device has channel=1".into());
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

/// `GET /cgi-bin/magicBox.cgi?action=getSystemInfo|getDeviceType|getSoftwareVersion|getMachineName`:
/// `key=value` lines (Scrypted amcrest `probe.ts` shows getSystemInfo).
pub async fn magic_box(State(s): Shr, uri: Uri, headers: HeaderMap) -> Response {
    let q = params(&uri);
    if let Err(response) = admit(&s, "magicBox", &uri, &headers).await {
        return response;
    }
    let id = s.options.personality.identity();
    let text = match q.get("action").map(String::as_str) {
        Some("getSystemInfo") => format!(
            "appAutoStart=true\r\ndeviceType={m}\r\nhardwareVersion=1.00\r\nprocessor=SIM\r\nserialNumber={s}\r\nupdateSerial={m}\r\n",
            m = id.model,
            s = id.serial
        ),
        Some("getDeviceType") => format!("type={}\r\n", id.model),
        Some("getSoftwareVersion") => format!("version={}\r\n", id.firmware),
        Some("getMachineName") => format!("name={}\r\n", id.serial),
        _ => return bad_request("unknown magicBox action".into()),
    };
    (StatusCode::OK, text).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dahua::stream::{Item as Read, PartReader, boundary_from_content_type};

    fn read(writes: &[Vec<u8>], q: &DahuaQuirks) -> Vec<Read> {
        let mut reader = PartReader::new(boundary_from_content_type(&content_type(q)));
        let mut items = Vec::new();
        for w in writes {
            reader.feed(w, &mut |i| items.push(i));
        }
        items
    }

    fn bodies(model: DahuaModel, q: &DahuaQuirks) -> Vec<String> {
        press(model, 7).iter().map(|p| body_text(p, q)).collect()
    }

    #[test]
    fn without_quirks_each_part_is_one_well_formed_write() {
        let q = DahuaQuirks::default();
        let b = bodies(DahuaModel::Ad410, &q);
        let w = writes(&b, &q);
        assert_eq!(w.len(), 5);
        let first = String::from_utf8(w[0].clone()).unwrap();
        assert!(first.starts_with("--myboundary\r\nContent-Type: text/plain\r\nContent-Length: "));
        let items = read(&w, &q);
        let expected: Vec<Read> = b.iter().map(|t| Read::Part(t.trim().to_owned())).collect();
        assert_eq!(items, expected);
    }

    #[test]
    fn every_quirk_changes_the_bytes_and_stays_readable() {
        let all = [
            DahuaQuirks {
                dashed_boundary: true,
                ..Default::default()
            },
            DahuaQuirks {
                length_without_space: true,
                ..Default::default()
            },
            DahuaQuirks {
                stray_http_block: true,
                ..Default::default()
            },
            DahuaQuirks {
                split_line: true,
                ..Default::default()
            },
            DahuaQuirks {
                parts_in_one_write: true,
                ..Default::default()
            },
            DahuaQuirks {
                part_over_writes: true,
                ..Default::default()
            },
            DahuaQuirks {
                multiline_json: true,
                ..Default::default()
            },
        ];
        let plain = DahuaQuirks::default();
        let plain_writes = writes(&bodies(DahuaModel::Ad110, &plain), &plain);
        for q in all {
            let b = bodies(DahuaModel::Ad110, &q);
            let w = writes(&b, &q);
            let changed = w != plain_writes || content_type(&q) != content_type(&plain);
            assert!(changed, "{q:?} changed nothing");
            let expected: Vec<Read> = b.iter().map(|t| Read::Part(t.trim().to_owned())).collect();
            assert_eq!(read(&w, &q), expected, "{q:?}");
        }
    }

    #[test]
    fn a_split_line_is_cut_right_after_index() {
        let q = DahuaQuirks {
            split_line: true,
            ..Default::default()
        };
        let w = writes(&["Code=VideoMotion;action=Start;index=0".into()], &q);
        assert_eq!(w.len(), 2);
        assert!(w[0].ends_with(b";index"));
        assert!(w[1].starts_with(b"=0"));
    }

    #[test]
    fn parts_in_one_write_join_a_whole_burst() {
        let q = DahuaQuirks {
            parts_in_one_write: true,
            ..Default::default()
        };
        assert_eq!(writes(&bodies(DahuaModel::Ad410, &q), &q).len(), 1);
    }

    #[test]
    fn multiline_json_spans_lines_like_the_captures() {
        let q = DahuaQuirks {
            multiline_json: true,
            ..Default::default()
        };
        let b = bodies(DahuaModel::Ad110, &q);
        assert!(
            b[0].contains("data={\n   \"Action\" : \"Invite\""),
            "{}",
            b[0]
        );
    }
}
