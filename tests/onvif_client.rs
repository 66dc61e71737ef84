//! The ONVIF client over real HTTP on 127.0.0.1:0 against small canned servers: HTTP Digest
//! checked properly, WS-Security checked against a skewed camera clock, faults, size caps,
//! timeouts, and a pull point round trip that must echo Axis-style reference parameters.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use doorbell_bridge::onvif::{self, Client, ClientOptions, Credentials, Error};
use doorbell_bridge::secret::Secret;
use md5::{Digest as _, Md5};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

const USER: &str = "onvif";
const PASSWORD: &str = "s3cret";
const REALM: &str = "doorbell";
const WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
const WSU: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
const WSA: &str = "http://www.w3.org/2005/08/addressing";
const AXIS: &str = "http://www.axis.com/2009/event";

async fn serve(app: Router) -> Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/onvif/device_service?v=1")
        .parse()
        .unwrap()
}

fn client(url: &Url, timeout: Duration) -> Client {
    let credentials = Credentials {
        username: USER.into(),
        password: Secret::new(PASSWORD),
    };
    let options = ClientOptions {
        request_timeout: timeout,
        ..ClientOptions::default()
    };
    Client::new(url.clone(), Some(credentials), options).unwrap()
}

fn envelope(body: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tev="http://www.onvif.org/ver10/events/wsdl" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:wsa5="http://www.w3.org/2005/08/addressing" xmlns:dom0="{AXIS}" xmlns:ter="http://www.onvif.org/ver10/error"><env:Body>{body}</env:Body></env:Envelope>"#
    )
}

fn soap(status: StatusCode, body: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/soap+xml; charset=utf-8")],
        envelope(body),
    )
        .into_response()
}

fn fault(subcode: &str, reason: &str) -> String {
    format!(
        "<env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>{subcode}</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang=\"en\">{reason}</env:Text></env:Reason></env:Fault>"
    )
}

fn time_response(t: jiff::Timestamp) -> String {
    let t = t.to_zoned_datetime(jiff::tz::TimeZone::UTC);
    format!(
        "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:UTCDateTime><tt:Time><tt:Hour>{}</tt:Hour><tt:Minute>{}</tt:Minute><tt:Second>{}</tt:Second></tt:Time><tt:Date><tt:Year>{}</tt:Year><tt:Month>{}</tt:Month><tt:Day>{}</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>",
        t.hour(),
        t.minute(),
        t.second(),
        t.year(),
        t.month(),
        t.day()
    )
}

fn hex_md5(text: &str) -> String {
    format!("{:x}", Md5::digest(text.as_bytes()))
}

/// Checks an `Authorization: Digest ...` header the RFC 7616 way (MD5, qop=auth).
fn digest_ok(headers: &HeaderMap, method: &str, uri: &Uri, nonce: &str) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(params) = value.strip_prefix("Digest ") else {
        return false;
    };
    let get = |key: &str| {
        params.split(", ").find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k.trim() == key).then(|| v.trim_matches('"').to_owned())
        })
    };
    let (Some(user), Some(got_uri), Some(nc), Some(cnonce), Some(response)) = (
        get("username"),
        get("uri"),
        get("nc"),
        get("cnonce"),
        get("response"),
    ) else {
        return false;
    };
    let target = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let ha1 = hex_md5(&format!("{user}:{REALM}:{PASSWORD}"));
    let ha2 = hex_md5(&format!("{method}:{got_uri}"));
    let want = hex_md5(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    user == USER && got_uri == target && get("nonce").as_deref() == Some(nonce) && response == want
}

fn challenge(nonce: &str) -> Response {
    let value = format!(r#"Digest realm="{REALM}", nonce="{nonce}", qop="auth", algorithm=MD5"#);
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, value)],
        "",
    )
        .into_response()
}

/// Checks the WS-UsernameToken in `body` against the password and the camera clock `now`.
fn wsse_ok(body: &str, camera_now: jiff::Timestamp) -> bool {
    let Ok(doc) = roxmltree::Document::parse(body) else {
        return false;
    };
    let find = |ns: &str, name: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name((ns, name)))
            .and_then(|n| n.text())
            .unwrap_or_default()
            .to_owned()
    };
    let created = find(WSU, "Created");
    let fresh = onvif::time::parse_time(&created)
        .is_some_and(|c| camera_now.duration_since(c).abs() < jiff::SignedDuration::from_secs(60));
    fresh
        && onvif::wsse::verify(
            &find(WSSE, "Password"),
            &find(WSSE, "Nonce"),
            &created,
            PASSWORD,
        )
}

#[derive(Default)]
struct Camera {
    challenges: AtomicUsize,
    requests: AtomicUsize,
    skew_hours: AtomicI64,
}

/// A camera whose clock runs `skew_hours` ahead, behind HTTP Digest and WS-Security.
async fn digest_camera(
    State(cam): State<Arc<Camera>>,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    cam.requests.fetch_add(1, Ordering::SeqCst);
    let nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093";
    if !digest_ok(&headers, "POST", &uri, nonce) {
        cam.challenges.fetch_add(1, Ordering::SeqCst);
        return challenge(nonce);
    }
    let skew = cam.skew_hours.load(Ordering::SeqCst);
    let camera_now = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(skew);
    if body.contains("GetSystemDateAndTime") {
        return soap(StatusCode::OK, &time_response(camera_now));
    }
    if !wsse_ok(&body, camera_now) {
        return soap(
            StatusCode::BAD_REQUEST,
            &fault("ter:NotAuthorized", "Sender not Authorized"),
        );
    }
    soap(
        StatusCode::OK,
        "<tds:GetDeviceInformationResponse><tds:Manufacturer>Sim</tds:Manufacturer><tds:Model>Bell 1</tds:Model><tds:FirmwareVersion>1.0</tds:FirmwareVersion><tds:SerialNumber>42</tds:SerialNumber><tds:HardwareId>h</tds:HardwareId></tds:GetDeviceInformationResponse>",
    )
}

#[tokio::test]
async fn digest_and_ws_security_against_a_skewed_clock() {
    let cam = Arc::new(Camera {
        skew_hours: AtomicI64::new(1),
        ..Camera::default()
    });
    let url = serve(
        Router::new()
            .route("/onvif/device_service", post(digest_camera))
            .with_state(cam.clone()),
    )
    .await;
    let client = client(&url, Duration::from_secs(10));
    let info = client.device_information().await.unwrap();
    assert_eq!(info.model.as_deref(), Some("Bell 1"));
    let port = url.port().unwrap();
    assert_eq!(
        info.configuration_url,
        Some(format!("http://127.0.0.1:{port}/"))
    );
    let offset = client.clock_offset().unwrap();
    assert!(
        (offset - jiff::SignedDuration::from_hours(1)).abs() < jiff::SignedDuration::from_secs(5)
    );
    // Later calls reuse the remembered challenge: no second 401.
    client.device_information().await.unwrap();
    assert_eq!(cam.challenges.load(Ordering::SeqCst), 1);
    assert_eq!(cam.requests.load(Ordering::SeqCst), 4);

    // The camera clock jumps: NotAuthorized, the client measures again and retries once.
    cam.skew_hours.store(3, Ordering::SeqCst);
    client.device_information().await.unwrap();
    assert_eq!(cam.requests.load(Ordering::SeqCst), 7);
    let offset = client.clock_offset().unwrap();
    assert!(
        (offset - jiff::SignedDuration::from_hours(3)).abs() < jiff::SignedDuration::from_secs(5)
    );

    let wrong = Client::new(
        url.clone(),
        Some(Credentials {
            username: USER.into(),
            password: Secret::new("wrong"),
        }),
        ClientOptions::default(),
    )
    .unwrap();
    let err = wrong.device_information().await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
    assert_eq!(err.retry(), onvif::Retry::Fatal);
    assert!(!err.to_string().contains("wrong"));
}

#[tokio::test]
async fn faults_become_typed_errors() {
    let app = Router::new()
        .route(
            "/onvif/device_service",
            post(|body: String| async move {
                if body.contains("GetSystemDateAndTime") {
                    soap(StatusCode::OK, &time_response(jiff::Timestamp::now()))
                } else if body.contains("GetDeviceInformation") {
                    soap(
                        StatusCode::BAD_REQUEST,
                        &fault("ter:NotAuthorized", "Sender not Authorized"),
                    )
                } else {
                    soap(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        &fault("ter:ActionNotSupported", "no"),
                    )
                }
            }),
        )
        .route(
            "/onvif/events",
            post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "<html>oops</html>") }),
        );
    let url = serve(app).await;
    let client = client(&url, Duration::from_secs(10));
    let err = client.services().await.unwrap_err();
    assert!(matches!(err, Error::NotSupported { .. }), "{err}");
    let err = client.device_information().await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
    assert!(err.to_string().contains("Administrator-level"), "{err}");
    let events = url.join("/onvif/events").unwrap();
    let err = client.event_topics(&events).await.unwrap_err();
    assert!(matches!(err, Error::Http { status: 500, .. }), "{err}");
    assert_eq!(err.retry(), onvif::Retry::Backoff);
}

/// A raw server that answers with a chunked body that never ends.
async fn endless_chunks() -> Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 4096];
        let _ = socket.read(&mut request).await;
        let head =
            "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\n\r\n";
        if socket.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = format!("400\r\n{}\r\n", "x".repeat(0x400));
        // Ends when the client hangs up.
        while socket.write_all(chunk.as_bytes()).await.is_ok() {}
    });
    format!("http://{addr}/snapshot.jpg").parse().unwrap()
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = Router::new()
        .route("/big.jpg", get(|| async { vec![0xffu8; 100_000] }))
        .route("/ok.jpg", get(|| async { vec![0xffu8; 1000] }))
        .route(
            "/onvif/device_service",
            post(|| async { soap(StatusCode::OK, &" ".repeat(5 * 1024 * 1024)) }),
        );
    let url = serve(app).await;
    let client = client(&url, Duration::from_secs(10));
    let t = Duration::from_secs(10);
    let ok = client
        .fetch(&url.join("/ok.jpg").unwrap(), 1000, t)
        .await
        .unwrap();
    assert_eq!(ok.len(), 1000);
    let err = client
        .fetch(&url.join("/big.jpg").unwrap(), 1000, t)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: 1000, .. }), "{err}");
    let err = client
        .fetch(&endless_chunks().await, 64 * 1024, t)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    let err = client.sync_clock().await.unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { limit, .. } if limit == onvif::MAX_SOAP_BYTES),
        "{err}"
    );
}

#[tokio::test]
async fn a_silent_camera_times_out() {
    let app = Router::new()
        .route(
            "/onvif/device_service",
            post(std::future::pending::<Response>),
        )
        .route("/snap.jpg", get(std::future::pending::<Response>));
    let url = serve(app).await;
    let client = client(&url, Duration::from_millis(300));
    let err = client.sync_clock().await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert_eq!(err.retry(), onvif::Retry::Unreachable);
    let err = client
        .fetch(
            &url.join("/snap.jpg").unwrap(),
            1000,
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
}

/// A pull point that faults on relative times, routes by an Axis-style reference parameter,
/// holds PullMessages longer than the ordinary request timeout, and is gone after Unsubscribe.
#[derive(Default)]
struct PullPoint {
    creates: AtomicUsize,
    gone: Mutex<bool>,
    base: Mutex<String>,
}

fn header_text(doc: &roxmltree::Document, ns: &str, name: &str) -> Option<String> {
    let header = doc.root_element().first_element_child()?;
    header
        .children()
        .find(|n| n.has_tag_name((ns, name)))
        .and_then(|n| n.text())
        .map(str::to_owned)
}

async fn events(State(pp): State<Arc<PullPoint>>, body: String) -> Response {
    let doc = roxmltree::Document::parse(&body).unwrap();
    let base = pp.base.lock().unwrap().clone();
    assert_eq!(
        header_text(&doc, WSA, "To"),
        Some(format!("{base}/onvif/events"))
    );
    assert!(header_text(&doc, WSA, "MessageID").is_some_and(|m| m.starts_with("urn:uuid:")));
    pp.creates.fetch_add(1, Ordering::SeqCst);
    if body.contains("<tev:InitialTerminationTime>PT") {
        return soap(
            StatusCode::INTERNAL_SERVER_ERROR,
            &fault("ter:InvalidArgVal", "relative time"),
        );
    }
    let now = jiff::Timestamp::now();
    soap(
        StatusCode::OK,
        &format!(
            "<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference><wsa5:Address>http://10.9.9.9:8106:8106/onvif/subscription?Idx=5</wsa5:Address><wsa5:ReferenceParameters><dom0:SubscriptionId>5</dom0:SubscriptionId></wsa5:ReferenceParameters></tev:SubscriptionReference><wsnt:CurrentTime>{}</wsnt:CurrentTime><wsnt:TerminationTime>{}</wsnt:TerminationTime></tev:CreatePullPointSubscriptionResponse>",
            onvif::time::format_time(now),
            onvif::time::format_time(now + jiff::SignedDuration::from_secs(120)),
        ),
    )
}

async fn subscription(State(pp): State<Arc<PullPoint>>, body: String) -> Response {
    if *pp.gone.lock().unwrap() {
        return (StatusCode::NOT_FOUND, "").into_response();
    }
    let doc = roxmltree::Document::parse(&body).unwrap();
    if header_text(&doc, AXIS, "SubscriptionId").as_deref() != Some("5")
        || header_text(&doc, WSA, "To").as_deref()
            != Some("http://10.9.9.9:8106:8106/onvif/subscription?Idx=5")
    {
        return soap(
            StatusCode::BAD_REQUEST,
            &fault("ter:InvalidArgVal", "not routed"),
        );
    }
    let action = header_text(&doc, WSA, "Action").unwrap_or_default();
    let now = jiff::Timestamp::now();
    let times = format!(
        "<wsnt:CurrentTime>{}</wsnt:CurrentTime><wsnt:TerminationTime>{}</wsnt:TerminationTime>",
        onvif::time::format_time(now),
        onvif::time::format_time(now + jiff::SignedDuration::from_secs(90)),
    );
    if action.ends_with("PullMessagesRequest") {
        // A camera holding the long poll for a while: longer than the ordinary timeout.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let times = times.replace("wsnt:", "tev:");
        soap(
            StatusCode::OK,
            &format!("<tev:PullMessagesResponse>{times}</tev:PullMessagesResponse>"),
        )
    } else if action.ends_with("RenewRequest") {
        soap(
            StatusCode::OK,
            &format!("<wsnt:RenewResponse>{times}</wsnt:RenewResponse>"),
        )
    } else if action.ends_with("UnsubscribeRequest") {
        *pp.gone.lock().unwrap() = true;
        soap(StatusCode::OK, "<wsnt:UnsubscribeResponse/>")
    } else {
        soap(
            StatusCode::INTERNAL_SERVER_ERROR,
            &fault("ter:ActionNotSupported", "?"),
        )
    }
}

#[tokio::test]
async fn pull_point_round_trip() {
    let pp = Arc::new(PullPoint::default());
    let app = Router::new()
        .route("/onvif/events", post(events))
        .route("/onvif/subscription", post(subscription))
        .with_state(pp.clone());
    let url = serve(app).await;
    let base = format!("http://127.0.0.1:{}", url.port().unwrap());
    *pp.base.lock().unwrap() = base.clone();
    let options = ClientOptions {
        request_timeout: Duration::from_millis(300),
        ..ClientOptions::default()
    };
    let client = Client::new(url.clone(), None, options).unwrap();
    let events = url.join("/onvif/events").unwrap();

    let sub = client
        .create_pull_point(&events, Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(
        pp.creates.load(Ordering::SeqCst),
        2,
        "relative refused, absolute accepted"
    );
    assert_eq!(
        sub.address.as_str(),
        format!("{base}/onvif/subscription?Idx=5")
    );
    assert_eq!(
        sub.endpoint,
        "http://10.9.9.9:8106:8106/onvif/subscription?Idx=5"
    );
    assert_eq!(sub.lifetime(), Duration::from_secs(120));
    client
        .create_pull_point(&events, Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(
        pp.creates.load(Ordering::SeqCst),
        3,
        "absolute times remembered"
    );

    let pulled = client.pull(&sub, Duration::from_secs(1), 10).await.unwrap();
    assert!(pulled.notifications.is_empty());
    assert!(pulled.termination_time > pulled.current_time);
    let renewed = client.renew(&sub, Duration::from_secs(600)).await.unwrap();
    assert_eq!(renewed.lifetime(), Duration::from_secs(90));
    assert_eq!(renewed.reference_parameters, sub.reference_parameters);
    client.unsubscribe(&renewed).await.unwrap();
    let err = client
        .pull(&renewed, Duration::from_secs(1), 10)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SubscriptionLost { .. }), "{err}");
    assert_eq!(err.retry(), onvif::Retry::Resubscribe);
}
