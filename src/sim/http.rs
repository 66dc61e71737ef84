//! HTTP side of the simulated doorbell: routes, injected faults, HTTP Digest, the snapshot.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Request;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};

use super::Fault;
use super::auth;
use super::jpeg::SNAPSHOT;
use super::media::SNAPSHOT_PATH;
use super::service::{self, Endpoint};
use super::soap::{self, Code, Version};
use super::state::Shared;
use super::{dahua, door, doorbird, hikvision};
use crate::hikvision::{ALERT_STREAM_PATH, DEVICE_INFO_PATH, LEGACY_ALERT_STREAM_PATH};

/// Largest request body accepted.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Every route of the simulated doorbell.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/onvif/device_service", post(device))
        .route("/onvif/media_service", post(media))
        .route("/onvif/media2_service", post(media2))
        .route("/onvif/event_service", post(events))
        .route("/onvif/subscription/{id}", post(subscription))
        .route(SNAPSHOT_PATH, get(snapshot))
        .layer(middleware::from_fn_with_state(shared.clone(), onvif_only))
        .route("/cgi-bin/eventManager.cgi", get(dahua::event_manager))
        .route("/cgi-bin/snapshot.cgi", get(dahua::snapshot))
        .route("/cgi-bin/magicBox.cgi", get(dahua::magic_box))
        .route(
            "/cgi-bin/accessControl.cgi",
            get(door::dahua_access_control),
        )
        .route(
            "/ISAPI/AccessControl/RemoteControl/door/capabilities",
            get(door::hikvision_capabilities),
        )
        .route(
            "/ISAPI/AccessControl/RemoteControl/door/{door}",
            put(door::hikvision_door),
        )
        .route(ALERT_STREAM_PATH, get(hikvision::alert_stream))
        .route(
            LEGACY_ALERT_STREAM_PATH,
            get(hikvision::legacy_alert_stream),
        )
        .route(
            "/ISAPI/VideoIntercom/callStatus",
            get(hikvision::call_status),
        )
        .route(DEVICE_INFO_PATH, get(hikvision::device_info))
        .route(crate::doorbird::INFO_PATH, get(doorbird::info))
        .route(crate::doorbird::IMAGE_PATH, get(doorbird::image))
        .route(crate::doorbird::OPEN_DOOR_PATH, get(doorbird::open_door))
        .route(crate::doorbird::FAVORITES_PATH, get(doorbird::favorites))
        .route(
            crate::doorbird::SCHEDULE_PATH,
            get(doorbird::schedule_get).post(doorbird::schedule_post),
        )
        .route(
            "/ISAPI/Streaming/channels/101/picture",
            get(hikvision::picture),
        )
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            count_request,
        ))
        .with_state(shared)
}

/// Counts every request, including those no route takes (404, 405, 413).
async fn count_request(State(s): Shr, request: Request, next: Next) -> Response {
    s.count_request();
    next.run(request).await
}

/// Answers 404 on the ONVIF routes of a device that serves only its vendor API.
async fn onvif_only(State(s): Shr, request: Request, next: Next) -> Response {
    if !s.options.onvif {
        return StatusCode::NOT_FOUND.into_response();
    }
    next.run(request).await
}

type Shr = State<Arc<Shared>>;

async fn device(State(s): Shr, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    service::handle(&s, Endpoint::Device, &uri, &headers, &body).await
}

async fn media(State(s): Shr, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    service::handle(&s, Endpoint::Media, &uri, &headers, &body).await
}

async fn media2(State(s): Shr, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    service::handle(&s, Endpoint::Media2, &uri, &headers, &body).await
}

async fn events(State(s): Shr, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    service::handle(&s, Endpoint::Events, &uri, &headers, &body).await
}

async fn subscription(
    State(s): Shr,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    service::handle(&s, Endpoint::Subscription(id), &uri, &headers, &body).await
}

/// GET /snapshot.jpg: always behind HTTP Digest.
async fn snapshot(State(s): Shr, uri: Uri, headers: HeaderMap) -> Response {
    let fault = s.count("snapshot");
    if let Some(response) = apply(&fault).await {
        return response;
    }
    if let Some(challenge) = digest_challenge(&s, &Method::GET, &uri, &headers) {
        return challenge;
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

/// Bytes the Garbage fault answers with: not XML, not UTF-8.
const GARBAGE: &[u8] = b"\x00\xff\xfe<<<garbage\x01\x02 not xml";

/// Applies an injected fault to a request: `Some(response)` to answer with instead, `None`
/// to answer normally (after the delay of `Slow`).
pub async fn apply(fault: &Fault) -> Option<Response> {
    match fault {
        Fault::None | Fault::EmptyPolls | Fault::Stall => None,
        Fault::Slow(delay) => {
            tokio::time::sleep(*delay).await;
            None
        }
        Fault::Http500 => {
            let fault = soap::Fault::new(Code::Receiver, &[], "simulated internal error");
            Some(fault.into_response(Version::Soap12))
        }
        Fault::Garbage => {
            let mut response = (StatusCode::OK, GARBAGE).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/soap+xml"),
            );
            Some(response)
        }
        // A request that raced the listener going down: close without answering.
        Fault::Offline => Some(StatusCode::SERVICE_UNAVAILABLE.into_response()),
    }
}

/// Checks `Authorization: Digest`; `Some` is the 401 challenge to answer with instead. A
/// request with no credentials is a normal first round trip; wrong credentials count as auth
/// failures.
pub fn digest_challenge(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Option<Response> {
    let target = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let credentials = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(auth::parse_digest);
    let mut stale = false;
    if let Some(c) = credentials {
        let options = &shared.options;
        let checked = auth::check_digest(
            &c,
            method.as_str(),
            target,
            &options.username,
            &options.password,
        );
        match checked {
            Ok(()) if shared.knows_nonce(&c.nonce) => return None,
            // Right password, nonce from before a reboot: tell the client to retry.
            Ok(()) => stale = true,
            Err(err) => {
                tracing::debug!("sim: HTTP digest rejected: {err}");
                shared.count_auth_failure();
            }
        }
    }
    let nonce = shared.issue_nonce();
    let mut response = StatusCode::UNAUTHORIZED.into_response();
    if let Ok(value) = HeaderValue::from_str(&auth::challenge(&nonce, stale)) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    Some(response)
}

/// `http://host:port` as the client addressed us (the Host header), for URLs in answers.
pub fn base_url(shared: &Shared, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        });
    match host {
        Some(host) => format!("http://{host}"),
        None => format!("http://{}", shared.addr),
    }
}
