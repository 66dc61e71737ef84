//! The DoorBird personality: the LAN API under `/bha-api/` behind HTTP Basic (the only scheme
//! the API offers): `info.cgi`, `image.cgi`, `favorites.cgi` (list, `action=save`,
//! `action=remove`), `schedule.cgi` (GET lists, POST replaces one entry, `action=remove`).
//! On a press or motion the device calls, with a real HTTP GET, every favorite an enabled
//! `http` output of that input's schedule entries names. Shapes from vendor-apis.md §3.1 and
//! `tests/fixtures/doorbird/`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use super::http::apply;
use super::jpeg::SNAPSHOT;
use super::state::Shared;
use super::vendor::Personality;

/// The realm of the Basic challenge.
pub const REALM: &str = "DoorBird";
/// Favorites the device holds at most; a save beyond answers 507 (a full device).
pub const MAX_FAVORITES: usize = 64;
/// Schedule entries the device holds at most.
pub const MAX_ENTRIES: usize = 64;
/// How long one call of a favorite may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Most query parameters read.
const MAX_PARAMS: usize = 16;

/// What the device stores: favorites and schedule (both kept across a reboot).
#[derive(Debug, Default)]
pub struct Store {
    /// HTTP favorites by id: (title, value).
    pub favorites: BTreeMap<u64, (String, String)>,
    /// The next favorite id (the device reuses none while it runs).
    pub next_id: u64,
    /// Schedule entries as posted.
    pub schedule: Vec<Value>,
}

impl Store {
    /// Adds a favorite; `None` when full.
    pub fn save(&mut self, title: &str, value: &str) -> Option<u64> {
        if self.favorites.len() >= MAX_FAVORITES {
            return None;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.favorites
            .insert(id, (title.to_owned(), value.to_owned()));
        Some(id)
    }

    /// The favorite URLs an event of `input` calls: enabled `http` outputs of its entries,
    /// each favorite once.
    pub fn targets(&self, input: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for entry in self.schedule.iter().filter(|e| e["input"] == input) {
            for o in entry["output"].as_array().into_iter().flatten() {
                let enabled = match &o["enabled"] {
                    Value::Bool(b) => *b,
                    Value::String(s) => s == "1" || s == "true",
                    Value::Number(n) => n.as_u64() == Some(1),
                    Value::Null => true,
                    _ => false,
                };
                if o["event"] != "http" || !enabled {
                    continue;
                }
                let id = o["param"].as_str().and_then(|p| p.parse::<u64>().ok());
                if let Some((_, value)) = id.and_then(|id| self.favorites.get(&id))
                    && !out.contains(value)
                {
                    out.push(value.clone());
                }
            }
        }
        out
    }

    /// The listing `favorites.cgi` answers.
    pub fn listing(&self) -> Value {
        let http: serde_json::Map<String, Value> = self
            .favorites
            .iter()
            .map(|(id, (title, value))| (id.to_string(), json!({"title": title, "value": value})))
            .collect();
        json!({ "sip": {}, "http": http })
    }

    /// Replaces the entry of the same input and param (or adds one).
    pub fn post(&mut self, entry: Value) -> Result<(), &'static str> {
        let (Some(input), Some(param)) = (entry["input"].as_str(), entry["param"].as_str()) else {
            return Err("an entry needs input and param strings");
        };
        if !entry["output"].is_array() {
            return Err("an entry needs an output list");
        }
        let (input, param) = (input.to_owned(), param.to_owned());
        let same = |e: &Value| e["input"] == input.as_str() && e["param"] == param.as_str();
        match self.schedule.iter().position(same) {
            Some(i) => self.schedule[i] = entry,
            None if self.schedule.len() >= MAX_ENTRIES => return Err("the schedule is full"),
            None => self.schedule.push(entry),
        }
        Ok(())
    }
}

type Shr = State<Arc<Shared>>;
type Params = BTreeMap<String, String>;

fn params(uri: &Uri) -> Params {
    let mut out = Params::new();
    let pairs = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes());
    for (k, v) in pairs.take(MAX_PARAMS) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

/// Counts, applies the fault and checks Basic; `Err` is the answer instead.
async fn admit(s: &Shared, action: &str, headers: &HeaderMap) -> Result<(), Response> {
    let fault = s.count(action);
    if s.options.personality != Personality::DoorBird {
        return Err(StatusCode::NOT_FOUND.into_response());
    }
    if let Some(response) = apply(&fault).await {
        return Err(response);
    }
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| BASE64.decode(b.trim()).ok());
    let expected = format!("{}:{}", s.options.username, s.options.password);
    match given {
        Some(pair) if pair == expected.as_bytes() => Ok(()),
        given => {
            if given.is_some() {
                s.count_auth_failure();
            }
            let mut response = StatusCode::UNAUTHORIZED.into_response();
            let challenge = format!("Basic realm=\"{REALM}\"");
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
            Err(response)
        }
    }
}

fn json_response(value: &Value) -> Response {
    let mut response = (StatusCode::OK, value.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn ok() -> Response {
    json_response(&json!({"BHA": {"RETURNCODE": "1"}}))
}

fn bad_request(text: &str) -> Response {
    (StatusCode::BAD_REQUEST, text.to_owned()).into_response()
}

/// `GET /bha-api/info.cgi`.
pub async fn info(State(s): Shr, headers: HeaderMap) -> Response {
    if let Err(response) = admit(&s, "info.cgi", &headers).await {
        return response;
    }
    let id = s.options.personality.identity();
    let (firmware, build) = id.firmware.split_once(' ').unwrap_or((id.firmware, ""));
    json_response(&json!({"BHA": {"RETURNCODE": "1", "VERSION": [{
        "FIRMWARE": firmware,
        "BUILD_NUMBER": build,
        "PRIMARY_MAC_ADDR": id.serial,
        "RELAYS": ["1", "2"],
        "DEVICE-TYPE": id.model,
    }]}}))
}

/// `GET /bha-api/image.cgi`: the JPEG, with the `X-Timestamp` header of the device.
pub async fn image(State(s): Shr, headers: HeaderMap) -> Response {
    if let Err(response) = admit(&s, "image.cgi", &headers).await {
        return response;
    }
    let (body, now) = {
        let mut inner = s.lock();
        inner.stats.snapshots += 1;
        let body = inner.snapshot.clone().unwrap_or_else(|| SNAPSHOT.clone());
        (body, inner.now())
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    if let Ok(v) = HeaderValue::from_str(&now.as_second().to_string()) {
        headers.insert("x-timestamp", v);
    }
    response
}

/// `GET /bha-api/open-door.cgi?r=N`: relay 1 or 2 (as `info.cgi` lists) switches, recorded
/// as a door switch; any other relay is 400 with `RETURNCODE` 0.
pub async fn open_door(State(s): Shr, uri: Uri, headers: HeaderMap) -> Response {
    if let Err(response) = admit(&s, "open-door.cgi", &headers).await {
        return response;
    }
    let relay = params(&uri).remove("r").filter(|r| r == "1" || r == "2");
    match relay {
        Some(r) => {
            super::door::record(&s, "doorbird", r, "open");
            json_response(&json!({"BHA": {"RETURNCODE": "1"}}))
        }
        None => {
            let mut response = json_response(&json!({"BHA": {"RETURNCODE": "0"}}));
            *response.status_mut() = StatusCode::BAD_REQUEST;
            response
        }
    }
}

/// `GET /bha-api/favorites.cgi[?action=save|remove&type=http&...]`.
pub async fn favorites(State(s): Shr, uri: Uri, headers: HeaderMap) -> Response {
    if let Err(response) = admit(&s, "favorites.cgi", &headers).await {
        return response;
    }
    let response = change_favorites(&s, &params(&uri));
    // Woken after the change, so that a waiter sees it.
    s.requested.notify_waiters();
    response
}

fn change_favorites(s: &Shared, q: &Params) -> Response {
    let mut inner = s.lock();
    let store = &mut inner.doorbird;
    match q.get("action").map(String::as_str) {
        None | Some("list") => json_response(&store.listing()),
        Some(_) if q.get("type").map(String::as_str) != Some("http") => {
            bad_request("type must be http (sip favorites are not simulated)")
        }
        Some("save") => {
            let (Some(title), Some(value)) = (q.get("title"), q.get("value")) else {
                return bad_request("save needs title and value");
            };
            match q.get("id").map(|id| id.parse::<u64>()) {
                Some(Ok(id)) => match store.favorites.get_mut(&id) {
                    Some(fav) => {
                        *fav = (title.clone(), value.clone());
                        ok()
                    }
                    None => bad_request("no favorite with that id"),
                },
                Some(Err(_)) => bad_request("id must be a number"),
                None => match store.save(title, value) {
                    Some(id) => {
                        let mut response = ok();
                        if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
                            response.headers_mut().insert("favoriteid", v);
                        }
                        response
                    }
                    None => StatusCode::INSUFFICIENT_STORAGE.into_response(),
                },
            }
        }
        Some("remove") => match q.get("id").and_then(|id| id.parse::<u64>().ok()) {
            Some(id) if store.favorites.remove(&id).is_some() => ok(),
            _ => bad_request("no favorite with that id"),
        },
        Some(_) => bad_request("action must be save or remove"),
    }
}

/// `GET /bha-api/schedule.cgi[?action=remove&input=..&param=..]`.
pub async fn schedule_get(State(s): Shr, uri: Uri, headers: HeaderMap) -> Response {
    if let Err(response) = admit(&s, "schedule.cgi", &headers).await {
        return response;
    }
    let q = params(&uri);
    let response = {
        let mut inner = s.lock();
        match q.get("action").map(String::as_str) {
            None => json_response(&Value::Array(inner.doorbird.schedule.clone())),
            Some("remove") => {
                let input = q.get("input").cloned().unwrap_or_default();
                let param = q.get("param").cloned().unwrap_or_default();
                inner
                    .doorbird
                    .schedule
                    .retain(|e| e["input"] != input.as_str() || e["param"] != param.as_str());
                ok()
            }
            Some(_) => bad_request("action must be remove"),
        }
    };
    s.requested.notify_waiters();
    response
}

/// `POST /bha-api/schedule.cgi` with one entry as JSON.
pub async fn schedule_post(State(s): Shr, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(response) = admit(&s, "schedule.cgi post", &headers).await {
        return response;
    }
    let Ok(entry) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("the body is not JSON");
    };
    let posted = s.lock().doorbird.post(entry);
    s.requested.notify_waiters();
    match posted {
        Ok(()) => ok(),
        Err(why) => bad_request(why),
    }
}

/// Calls every favorite the schedule links to `input`, each in a task of its own (a real
/// HTTP GET, as the device does). Outcomes are counted in the stats.
pub fn trigger(shared: &Arc<Shared>, input: &str) {
    let targets = shared.lock().doorbird.targets(input);
    for url in targets {
        let shared = shared.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(CALL_TIMEOUT)
                .build()
                .unwrap_or_default();
            let answered = client.get(&url).send().await;
            let ok = answered.is_ok_and(|r| r.status().is_success());
            {
                let mut inner = shared.lock();
                if ok {
                    inner.stats.favorite_calls += 1;
                } else {
                    inner.stats.favorite_call_failures += 1;
                }
            }
            shared.requested.notify_waiters();
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(input: &str, param: &str, outputs: Value) -> Value {
        json!({"input": input, "param": param, "output": outputs})
    }

    #[test]
    fn a_press_calls_the_enabled_http_favorites_of_its_input_once_each() {
        let mut store = Store::default();
        let a = store.save("a", "http://a/").unwrap();
        let b = store.save("b", "http://b/").unwrap();
        store
            .post(entry(
                "doorbell",
                "1",
                json!([
                    {"event": "http", "param": a.to_string(), "enabled": "1"},
                    {"event": "http", "param": a.to_string(), "enabled": true},
                    {"event": "http", "param": b.to_string(), "enabled": "0"},
                    {"event": "http", "param": "99", "enabled": "1"},
                    {"event": "relay", "param": "1", "enabled": "1"},
                ]),
            ))
            .unwrap();
        assert_eq!(store.targets("doorbell"), ["http://a/"]);
        assert!(store.targets("motion").is_empty());
    }

    #[test]
    fn a_post_replaces_the_entry_of_the_same_input_and_param() {
        let mut store = Store::default();
        store.post(entry("doorbell", "1", json!([]))).unwrap();
        store.post(entry("doorbell", "2", json!([]))).unwrap();
        store
            .post(entry(
                "doorbell",
                "1",
                json!([{"event": "http", "param": "0"}]),
            ))
            .unwrap();
        assert_eq!(store.schedule.len(), 2);
        assert_eq!(store.schedule[0]["output"][0]["param"], "0");
        assert!(store.post(json!({"input": "motion"})).is_err());
    }
}
