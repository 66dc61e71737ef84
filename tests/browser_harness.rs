//! The browser harness (`tests/support/browser.rs`) proved against a page of its own: a real
//! HTTP server on 127.0.0.1:0 serves a list that a script fills from a server-sent events
//! stream, an image, and a button; headless Chromium opens it, and the tests read the DOM,
//! click, check that the page requested nothing but its own origin, and write screenshots.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use futures_util::stream::{self, Stream};
use serde_json::{Value, json};
use support::browser::{self, Browser, DESKTOP, PAGE_WAIT, PHONE};
use tokio::sync::broadcast;

/// The image the page shows: the simulator's snapshot, a real 64x48 baseline JPEG.
const PLATE: (u64, u64) = (64, 48);
/// Visits queued for the page's streams before the slowest one misses some.
const VISIT_QUEUE: usize = 16;

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Visitors</title>
<style>
  body { font-family: sans-serif; margin: 1rem; }
  #plate { width: 128px; height: 96px; }
  li { padding: 0.25rem 0; }
</style>
</head>
<body>
<h1>Visitors</h1>
<img id="plate" src="/plate.jpg" alt="front door">
<ul id="visits"><li>09:00 front door</li></ul>
<button id="seen" type="button">Mark seen</button>
<p id="status">connecting</p>
<!--EXTRA-->
<script>
  const list = document.getElementById('visits');
  const status = document.getElementById('status');
  const visits = new EventSource('/events');
  visits.onopen = () => { status.textContent = 'live'; document.body.dataset.stream = 'open'; };
  visits.onmessage = (e) => {
    const li = document.createElement('li');
    li.textContent = e.data;
    list.append(li);
  };
  document.getElementById('seen').addEventListener('click', () => {
    document.body.dataset.seen = 'yes';
    status.textContent = 'seen';
  });
</script>
</body>
</html>
"#;

/// The test site: visits posted to `/visit` go to every open `/events` stream; `/foreign` is
/// the page with `foreign` images (URLs of other origins) added.
#[derive(Clone)]
struct Site {
    visits: broadcast::Sender<String>,
    foreign: Arc<Vec<String>>,
}

async fn page() -> Html<String> {
    Html(PAGE.to_string())
}

async fn foreign_page(State(site): State<Site>) -> Html<String> {
    let images: String = site
        .foreign
        .iter()
        .map(|u| format!("<img class=\"foreign\" src=\"{u}\" alt=\"\">\n"))
        .collect();
    Html(PAGE.replace("<!--EXTRA-->", &images))
}

async fn plate() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "image/jpeg")],
        doorbell_bridge::sim::SNAPSHOT.clone(),
    )
}

async fn events(State(site): State<Site>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // Subscribed before the answer's head goes out, so a visit posted after the page saw the
    // stream open always reaches it.
    let rx = site.visits.subscribe();
    let visits = stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(visit) => return Some((Ok(Event::default().data(visit)), rx)),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(visits).keep_alive(KeepAlive::default())
}

/// Sends the body to every open stream; answers how many streams got it.
async fn visit(State(site): State<Site>, body: String) -> String {
    site.visits.send(body).unwrap_or(0).to_string()
}

/// Serves the site on 127.0.0.1:0 until the test's runtime ends.
async fn serve(foreign: Vec<String>) -> SocketAddr {
    let (visits, _) = broadcast::channel(VISIT_QUEUE);
    let site = Site {
        visits,
        foreign: Arc::new(foreign),
    };
    let app = Router::new()
        .route("/", get(page))
        .route("/foreign", get(foreign_page))
        .route("/plate.jpg", get(plate))
        .route("/events", get(events))
        .route("/visit", post(visit))
        .with_state(site);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn post_visit(addr: SocketAddr, text: &str) -> String {
    doorbell_bridge::onvif::install_crypto_provider();
    reqwest::Client::new()
        .post(format!("http://{addr}/visit"))
        .body(text.to_string())
        .send()
        .await
        .expect("post a visit")
        .text()
        .await
        .expect("visit answer")
}

#[tokio::test]
async fn a_visit_pushed_over_server_sent_events_appears_in_the_page() {
    if !browser::available("a_visit_pushed_over_server_sent_events_appears_in_the_page") {
        return;
    }
    let addr = serve(Vec::new()).await;
    let b = Browser::start().await;
    b.navigate(&format!("http://{addr}/")).await;
    assert_eq!(b.current_url().await, format!("http://{addr}/"));
    b.wait_until("document.body.dataset.stream === 'open'", PAGE_WAIT)
        .await;

    assert_eq!(post_visit(addr, "09:41 front door: ring").await, "1");
    b.wait_until(
        "document.querySelectorAll('#visits li').length === 2",
        PAGE_WAIT,
    )
    .await;
    assert_eq!(
        b.texts("#visits li").await,
        ["09:00 front door", "09:41 front door: ring"]
    );

    b.wait_until("document.getElementById('plate').complete", PAGE_WAIT)
        .await;
    let img = b.find("#plate").await;
    assert_eq!(img.attribute("alt").await.as_deref(), Some("front door"));
    assert_eq!(img.attribute("title").await, None);
    assert_eq!(img.property("naturalWidth").await, json!(PLATE.0));
    assert_eq!(img.property("naturalHeight").await, json!(PLATE.1));

    b.find("#seen").await.click().await;
    b.wait_until("document.body.dataset.seen === 'yes'", PAGE_WAIT)
        .await;
    assert_eq!(b.find("#status").await.text().await, "seen");

    let sum = b
        .execute_script(
            "return arguments[0] + arguments[1];",
            vec![json!(40), json!(2)],
        )
        .await;
    assert_eq!(sum, json!(42));

    b.check_own_origin_only().await.unwrap();
    assert_eq!(b.errors().await, []);

    for (name, size) in [("phone", PHONE), ("desktop", DESKTOP)] {
        b.set_viewport(size).await;
        let path = browser::screenshot_path(&format!("sse_page_{name}"));
        let png = b.screenshot(&path).await;
        assert_eq!(png_size(&std::fs::read(&path).unwrap()), size, "{name}");
        assert!(png > 1000, "{name} screenshot of {png} bytes");
    }
    b.quit().await;
}

#[tokio::test]
async fn the_origin_check_names_every_request_to_another_origin() {
    if !browser::available("the_origin_check_names_every_request_to_another_origin") {
        return;
    }
    // Another origin that answers (a second server) and one that refuses (a port that was
    // free a moment ago), both on this machine.
    let other = serve(Vec::new()).await;
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        l.local_addr().unwrap().port()
    };
    let loaded = format!("http://{other}/plate.jpg");
    let failed = format!("http://127.0.0.1:{refused}/gone.png");
    let addr = serve(vec![loaded.clone(), failed.clone()]).await;

    let b = Browser::start().await;
    b.navigate(&format!("http://{addr}/foreign")).await;
    b.wait_until("[...document.images].every(i => i.complete)", PAGE_WAIT)
        .await;
    let widths = b
        .execute_script(
            "return [...document.querySelectorAll('img.foreign')].map(i => i.naturalWidth);",
            Vec::new(),
        )
        .await;
    assert_eq!(widths, json!([PLATE.0, 0]), "one loads, one fails");

    let error = b.check_own_origin_only().await.unwrap_err();
    assert!(error.contains(&loaded), "{error}");
    assert!(error.contains(&failed), "{error}");
    assert!(
        !error.contains(&format!("http://{addr}/plate.jpg")),
        "the page's own image is not foreign: {error}"
    );
    // The order is the browser's (start times, then the log): compare as sets.
    let mut foreign = b.foreign_requests().await;
    foreign.sort();
    let mut expected = vec![loaded, failed.clone()];
    expected.sort();
    assert_eq!(foreign, expected);
    let errors = b.errors().await;
    assert!(
        errors
            .iter()
            .any(|e| e.source == "network" && e.message.starts_with(&failed)),
        "the failed load is in the browser log: {errors:?}"
    );
}

/// Width and height from a PNG's header (IHDR, right after the signature).
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.len() > 24 && &png[12..16] == b"IHDR", "not a PNG");
    let be = |i: usize| u32::from_be_bytes(png[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

/// The processes whose command line names `needle` (zombies have none).
fn processes_naming(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline"))
            && String::from_utf8_lossy(&cmdline).contains(needle)
        {
            found.push(pid);
        }
    }
    found
}

#[tokio::test]
async fn dropping_the_browser_ends_chromedriver_and_every_chromium_process() {
    if !browser::available("dropping_the_browser_ends_chromedriver_and_every_chromium_process") {
        return;
    }
    let addr = serve(Vec::new()).await;
    let b = Browser::start().await;
    b.navigate(&format!("http://{addr}/")).await;
    let profile = b.profile_dir().display().to_string();
    let driver = b.driver_pid();
    assert!(
        processes_naming(&profile).len() > 1,
        "Chromium's processes carry the profile folder"
    );
    drop(b);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = processes_naming(&profile);
        let driver_left = std::path::Path::new(&format!("/proc/{driver}")).exists();
        if left.is_empty() && !driver_left {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still running after drop: {left:?}, chromedriver {driver_left}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn chromedriver_s_start_line_gives_its_port() {
    assert_eq!(
        browser::parse_port("ChromeDriver was started successfully on port 43365."),
        Some(43365)
    );
    assert_eq!(
        browser::parse_port("Only local connections are allowed."),
        None
    );
    assert_eq!(
        browser::parse_port("ChromeDriver was started successfully on port ."),
        None
    );
}

#[test]
fn an_origin_is_compared_whole_not_as_a_prefix() {
    let urls: Vec<String> = [
        "http://127.0.0.1:8080/plate.jpg",
        "http://127.0.0.1:8080/events",
        "http://127.0.0.1:80801/x.png",
        "http://127.0.0.1:8080.example/x.png",
        "https://127.0.0.1:8080/x.png",
        "http://192.0.2.1/x.png",
        "http://192.0.2.1/x.png",
        "data:image/png;base64,AAAA",
        "not a url",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(
        browser::foreign_urls("http://127.0.0.1:8080", &urls),
        [
            "http://127.0.0.1:80801/x.png",
            "http://127.0.0.1:8080.example/x.png",
            "https://127.0.0.1:8080/x.png",
            "http://192.0.2.1/x.png",
            "not a url",
        ]
    );
    assert_eq!(
        browser::foreign_urls("http://127.0.0.1:80", &["http://127.0.0.1/".into()]),
        Vec::<String>::new(),
        "the default port is the same origin"
    );
}

#[test]
fn a_failed_load_in_the_browser_log_names_its_url() {
    assert_eq!(
        browser::network_log_url(
            "http://127.0.0.1:9/gone.png - Failed to load resource: net::ERR_CONNECTION_REFUSED"
        )
        .as_deref(),
        Some("http://127.0.0.1:9/gone.png")
    );
    assert_eq!(browser::network_log_url("Failed to load resource"), None);
    assert_eq!(browser::network_log_url(""), None);
}

#[test]
fn a_webdriver_command_is_named_without_its_session_id() {
    assert_eq!(
        browser::command_name("http://127.0.0.1:4444/session/abc123/element/e1/click"),
        "/session/{id}/element/e1/click"
    );
    assert_eq!(
        browser::command_name("http://127.0.0.1:4444/session/abc123"),
        "/session/{id}"
    );
    assert_eq!(
        browser::command_name("http://127.0.0.1:4444/status"),
        "/status"
    );
    assert_eq!(
        browser::command_name("http://127.0.0.1:4444/session"),
        "/session"
    );
}

#[test]
fn script_answers_are_true_as_javascript_has_it() {
    for (v, t) in [
        (Value::Null, false),
        (json!(false), false),
        (json!(0), false),
        (json!(0.0), false),
        (json!(""), false),
        (json!(true), true),
        (json!(2), true),
        (json!("x"), true),
        (json!([]), true),
        (json!({}), true),
    ] {
        assert_eq!(browser::truthy(&v), t, "{v}");
    }
}
