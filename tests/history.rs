//! The visitor history page over real HTTP: the `[http]` server (`health::serve`) with the
//! page over an archive made in a temporary folder, and once the whole bridge with the
//! simulated doorbell and the harness broker. Waits poll until the answer changes (bounded),
//! never sleep for readiness.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use doorbell_bridge::app;
use doorbell_bridge::archive::Archive;
use doorbell_bridge::config::{self, HttpConfig};
use doorbell_bridge::event::{CameraId, SnapshotReason};
use doorbell_bridge::health;
use doorbell_bridge::history::{self, History};
use doorbell_bridge::metrics::Metrics;
use doorbell_bridge::mqtt::BridgeStatus;
use doorbell_bridge::retention::RetentionPolicy;
use doorbell_bridge::sim::{SimDoorbell, SimOptions};
use support::ingress::{Ingress, PROXY_SOURCE};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);
const JPEG: &[u8] = b"\xff\xd8\xff\xe0 a picture \xff\xd9";
/// A marker that must never come out of the server.
const SECRET: &str = "TOP-SECRET-OUTSIDE-THE-ARCHIVE";

fn http_config(extra: &str) -> HttpConfig {
    let text = format!(
        "[http]\nlisten = \"127.0.0.1:0\"\n{extra}\n[[cameras]]\nid = \"front\"\nname = \"Front <door>\"\nurl = \"192.0.2.1\"\n\
         [[cameras]]\nid = \"garage\"\nurl = \"192.0.2.2\"\n"
    );
    config::from_toml(&text, Path::new("history.toml"))
        .unwrap()
        .http
        .unwrap()
}

struct Served {
    addr: SocketAddr,
    archive: Archive,
    stop: CancellationToken,
    root: tempfile::TempDir,
}

impl Served {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Serves the page over a new archive folder, filled by `fill`.
async fn serve(extra: &str, fill: impl FnOnce(&Path)) -> Served {
    let root = tempfile::tempdir().unwrap();
    let archive_root = root.path().join("archive");
    std::fs::create_dir_all(&archive_root).unwrap();
    fill(&archive_root);
    let http = http_config(extra);
    let archive = Archive::new(
        archive_root,
        RetentionPolicy {
            max_age: Duration::from_secs(86_400 * 365),
            max_size: 1 << 30,
        },
    );
    let stop = CancellationToken::new();
    let names = vec![
        (CameraId::new("front").unwrap(), "Front <door>".to_owned()),
        (CameraId::new("garage").unwrap(), "garage".to_owned()),
    ];
    let page = History::new(archive.clone(), names, &http, stop.clone());
    let sources = health::Sources {
        metrics: Metrics::default(),
        mqtt: BridgeStatus::default(),
        cameras: Arc::new(vec![]),
    };
    let (addr, server) = health::serve(http.listen, sources, Some(page), stop.clone())
        .await
        .unwrap();
    tokio::spawn(server);
    Served {
        addr,
        archive,
        stop,
        root,
    }
}

fn put(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

/// A ring with picture and clip, a person without a clip, a motion of the garage.
fn three_events(root: &Path) {
    put(root, "front/2026-11-30/091500.500_ring.jpg", JPEG);
    put(root, "front/2026-11-30/091500.500_ring.json", b"{}");
    put(root, "front/2026-11-30/091500.500_ring.mp4", &[7u8; 5000]);
    put(root, "front/2026-11-30/091500.500_ring.clip.json", b"{}");
    put(root, "front/2026-11-29/181000.000_person.jpg", JPEG);
    put(root, "garage/2026-11-30/080000.000_motion.jpg", JPEG);
}

fn client() -> reqwest::Client {
    doorbell_bridge::onvif::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get(http: &reqwest::Client, url: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let r = http.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.bytes().await.unwrap().to_vec())
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The `src`/`href` targets of `html` that point at `files/`.
fn file_links(html: &str) -> Vec<String> {
    let re = regex::Regex::new(r#"(?:src|href|poster)="(files/[^"]+)""#).unwrap();
    let mut v: Vec<String> = re.captures_iter(html).map(|c| c[1].to_owned()).collect();
    v.sort();
    v.dedup();
    v
}

#[tokio::test]
async fn the_page_lists_archived_events_newest_first_with_pictures_and_clips() {
    let s = serve("", three_events).await;
    let http = client();
    let (status, headers, body) = get(&http, &s.url("/")).await;
    assert_eq!(status, 200);
    let html = text(&body);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"));
    let ring = html
        .find("data-id=\"front/2026-11-30/091500.500_ring\"")
        .unwrap();
    let motion = html
        .find("data-id=\"garage/2026-11-30/080000.000_motion\"")
        .unwrap();
    let person = html
        .find("data-id=\"front/2026-11-29/181000.000_person\"")
        .unwrap();
    assert!(ring < motion && motion < person, "newest first");
    assert!(html.contains("Front &lt;door&gt;"), "names escaped");
    assert!(html.contains("<video"), "the ring's clip plays inline");
    assert!(html.contains("Monday 30 November 2026"));
    let links = file_links(&html);
    assert!(links.len() >= 4, "{links:?}");
    for link in links {
        let (status, headers, body) = get(&http, &s.url(&format!("/{link}"))).await;
        assert_eq!(status, 200, "{link}");
        let kind = headers["content-type"].to_str().unwrap();
        if link.ends_with(".mp4") {
            assert_eq!(kind, "video/mp4");
            assert_eq!(body.len(), 5000);
        } else {
            assert_eq!(kind, "image/jpeg");
            assert_eq!(body, JPEG);
        }
        assert_eq!(headers["x-content-type-options"], "nosniff");
    }
    // A video element seeks with ranges.
    let r = http
        .get(s.url("/files/front/2026-11-30/091500.500_ring.mp4"))
        .header("range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 1000-1999/5000");
    assert_eq!(r.bytes().await.unwrap().len(), 1000);
    let r = http
        .get(s.url("/files/front/2026-11-30/091500.500_ring.mp4"))
        .header("range", "bytes=9000-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    // The script and style come from the bridge itself.
    for (path, kind) in [("/app.js", "text/javascript"), ("/app.css", "text/css")] {
        let (status, headers, _) = get(&http, &s.url(path)).await;
        assert_eq!(status, 200);
        assert_eq!(headers["content-type"], kind);
    }
    // Health stays where it was.
    let (status, _, _) = get(&http, &s.url("/metrics")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn filters_and_older_pages_reach_every_event_once() {
    let total = 130;
    let s = serve("", |root| {
        for i in 0..total {
            let day = 10 + i % 5;
            let cam = if i % 3 == 0 { "garage" } else { "front" };
            let kind = if i % 4 == 0 { "ring" } else { "motion" };
            put(
                root,
                &format!("{cam}/2026-11-{day}/{:06}.000_{kind}.jpg", 100_000 + i),
                JPEG,
            );
        }
        put(root, "front/2026-11-14/235959.000_interval.jpg", JPEG);
    })
    .await;
    let http = client();
    let ids_of = |html: &str| -> Vec<String> {
        let re = regex::Regex::new(r#"class="event" data-id="([^"]+)""#).unwrap();
        re.captures_iter(html).map(|c| c[1].to_owned()).collect()
    };
    let walk = |first: String| {
        let http = http.clone();
        let base = s.url("/");
        async move {
            let mut seen = Vec::new();
            let (_, _, body) = get(&http, &first).await;
            let mut html = text(&body);
            let re = regex::Regex::new(r#"class="older" href="\./\?([^"]+)""#).unwrap();
            loop {
                seen.extend(ids_of(&html));
                let Some(next) = re.captures(&html).map(|c| c[1].replace("&amp;", "&")) else {
                    break;
                };
                let (status, _, body) = get(&http, &format!("{base}?{next}&part=older")).await;
                assert_eq!(status, 200);
                html = text(&body);
            }
            seen
        }
    };
    let all = walk(s.url("/")).await;
    assert_eq!(
        all.len(),
        total as usize,
        "every event once, no timer picture"
    );
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), all.len());
    let rings = walk(s.url("/?kind=ring")).await;
    assert_eq!(rings.len(), 33);
    assert!(rings.iter().all(|i| i.ends_with("_ring")));
    let garage = walk(s.url("/?camera=garage")).await;
    assert_eq!(garage.len(), 44);
    let day = walk(s.url("/?date=2026-11-11")).await;
    assert!(
        day.iter()
            .all(|i| i.contains("/2026-11-11/") || i.contains("/2026-11-10/"))
    );
    let timed = walk(s.url("/?kind=interval")).await;
    assert_eq!(timed.len(), 1);
}

#[tokio::test]
async fn traversal_symlinks_and_foreign_files_answer_4xx_and_leak_nothing() {
    let outside = tempfile::tempdir().unwrap();
    put(outside.path(), "secret.jpg", SECRET.as_bytes());
    put(
        outside.path(),
        "2026-11-30/091500.500_ring.jpg",
        SECRET.as_bytes(),
    );
    let out = outside.path().to_owned();
    let s = serve("", move |root| {
        three_events(root);
        put(root, "front/2026-11-30/notes.txt", SECRET.as_bytes());
        put(
            root,
            "front/2026-11-30/.091600.000_ring.jpg.tmp",
            SECRET.as_bytes(),
        );
        std::os::unix::fs::symlink(&out, root.join("porch")).unwrap();
        std::os::unix::fs::symlink(
            out.join("secret.jpg"),
            root.join("front/2026-11-30/091700.000_ring.jpg"),
        )
        .unwrap();
        std::os::unix::fs::symlink(out.join("2026-11-30"), root.join("garage/2026-12-01")).unwrap();
    })
    .await;
    std::fs::write(s.root.path().join("beside.jpg"), SECRET).unwrap();
    let http = client();
    for path in [
        "/files/../beside.jpg",
        "/files/front/../../beside.jpg",
        "/files/%2e%2e/%2e%2e/beside.jpg",
        "/files/front/2026-11-30/..%2F..%2F..%2Fbeside.jpg",
        "/files/front/2026-11-30/%2e%2e%2f%2e%2e%2fbeside.jpg",
        "/files/porch/2026-11-30/091500.500_ring.jpg",
        "/files/garage/2026-12-01/091500.500_ring.jpg",
        "/files/front/2026-11-30/091700.000_ring.jpg",
        "/files/front/2026-11-30/notes.txt",
        "/files/front/2026-11-30/091500.500_ring.json",
        "/files/front/2026-11-30/.091600.000_ring.jpg.tmp",
        "/files/front/2026-11-30/091500.500_ring.jpg%00.txt",
        "/files//etc/passwd",
        "/files/front/2026-11-30",
        "/etc/passwd",
        "/..%2f..%2fetc%2fpasswd",
        "/delete?id=..%2F..%2Fbeside",
    ] {
        let (status, _, body) = get(&http, &s.url(path)).await;
        assert!((400..500).contains(&status), "{path}: {status}");
        let body = text(&body);
        assert!(!body.contains(SECRET), "{path} leaked");
        assert!(!body.contains("/tmp"), "{path} names a folder: {body}");
    }
    // The page does not list what it would not serve.
    let (_, _, body) = get(&http, &s.url("/")).await;
    let html = text(&body);
    assert!(
        !html.contains("porch/") && !html.contains("091700.000"),
        "{html}"
    );
}

#[tokio::test]
async fn oversize_and_forged_requests_are_refused() {
    let s = serve("", three_events).await;
    let http = client();
    let long = "x".repeat(history::MAX_QUERY + 1);
    let (status, _, _) = get(&http, &s.url(&format!("/?kind={long}"))).await;
    assert_eq!(status, 414);
    let r = http
        .post(s.url("/delete"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; history::MAX_FORM * 4])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = http
        .post(s.url("/delete"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("id=front%2F2026-11-30%2F091500.500_ring&token=guess")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        403,
        "a POST without the page's token deletes nothing"
    );
    assert!(
        s.archive
            .root()
            .join("front/2026-11-30/091500.500_ring.jpg")
            .exists()
    );
}

#[tokio::test]
async fn deleting_asks_first_then_removes_picture_and_clip() {
    let s = serve("", three_events).await;
    let http = client();
    let (status, _, body) = get(
        &http,
        &s.url("/delete?id=front%2F2026-11-30%2F091500.500_ring"),
    )
    .await;
    assert_eq!(status, 200);
    let confirm = text(&body);
    assert!(confirm.contains("Delete this event?"));
    assert!(
        s.archive
            .root()
            .join("front/2026-11-30/091500.500_ring.mp4")
            .exists(),
        "asking deletes nothing"
    );
    let token = regex::Regex::new(r#"name="token" value="([0-9a-f]+)""#)
        .unwrap()
        .captures(&confirm)
        .unwrap()[1]
        .to_owned();
    let r = http
        .post(s.url("/delete"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "id=front%2F2026-11-30%2F091500.500_ring&token={token}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "./");
    for ext in ["jpg", "json", "mp4", "clip.json"] {
        assert!(
            !s.archive
                .root()
                .join(format!("front/2026-11-30/091500.500_ring.{ext}"))
                .exists(),
            "{ext}"
        );
    }
    assert!(
        s.archive
            .root()
            .join("garage/2026-11-30/080000.000_motion.jpg")
            .exists()
    );
    let (_, _, body) = get(&http, &s.url("/")).await;
    assert!(!text(&body).contains("091500.500_ring"));
}

#[tokio::test]
async fn a_password_guards_the_page_but_not_health_and_metrics() {
    let s = serve("password = \"correct horse battery\"", three_events).await;
    let http = client();
    let (status, headers, _) = get(&http, &s.url("/")).await;
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "login");
    for path in [
        "/files/front/2026-11-30/091500.500_ring.jpg",
        "/events",
        "/delete?id=front%2F2026-11-30%2F091500.500_ring",
    ] {
        let (status, _, body) = get(&http, &s.url(path)).await;
        assert_eq!(status, 401, "{path}");
        assert_ne!(body, JPEG);
    }
    let (status, _, _) = get(&http, &s.url("/metrics")).await;
    assert_eq!(status, 200, "metrics need no password");
    let (status, _, body) = get(&http, &s.url("/login")).await;
    assert_eq!(status, 200);
    assert!(text(&body).contains("type=\"password\""));
    let login = |pw: &str| {
        http.post(s.url("/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("password={}", pw.replace(' ', "+")))
            .send()
    };
    let wrong = login("guess").await.unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
    let right = login("correct horse battery").await.unwrap();
    assert_eq!(right.status(), 303);
    let cookie = right.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("correct"),
        "the cookie is a token, not the password"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    let r = http
        .get(s.url("/"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Log out"));
    let r = http
        .get(s.url("/files/front/2026-11-30/091500.500_ring.jpg"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Wrong passwords in a row lock the login for a while, the right one included.
    for _ in 0..5 {
        login("guess").await.unwrap();
    }
    assert_eq!(login("correct horse battery").await.unwrap().status(), 429);
    let r = http
        .get(s.url("/"))
        .header("cookie", "doorbell_bridge_session=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "a forged session is no session");
}

#[tokio::test]
async fn under_the_ingress_prefix_the_page_and_its_links_work_without_a_login() {
    let s = serve(
        &format!("password = \"correct horse battery\"\ntrusted_proxy = \"{PROXY_SOURCE}\""),
        three_events,
    )
    .await;
    let ingress = Ingress::start(s.addr).await;
    let http = client();
    let (status, headers, body) = get(&http, &ingress.url()).await;
    assert_eq!(status, 200, "{}", text(&body));
    assert!(headers.contains_key("x-proxied-by"));
    let html = text(&body);
    assert!(html.contains("091500.500_ring"));
    assert!(
        !html.contains("Log out"),
        "ingress users logged in to Home Assistant"
    );
    // Every link resolves under the prefix.
    let base = url::Url::parse(&ingress.url()).unwrap();
    let mut links = file_links(&html);
    links.extend([
        "app.js".to_owned(),
        "app.css".to_owned(),
        "./?kind=ring&part=older".to_owned(),
    ]);
    for link in links {
        let target = base.join(&link).unwrap();
        assert!(
            target.path().starts_with(support::ingress::PREFIX),
            "{target}"
        );
        let (status, _, _) = get(&http, target.as_str()).await;
        assert_eq!(status, 200, "{target}");
    }
    // The same page from anywhere else still asks for the password.
    let (status, headers, _) = get(&http, &s.url("/")).await;
    assert_eq!(status, 303);
    assert_eq!(
        headers["location"], "login",
        "a relative redirect works under any prefix"
    );
}

#[tokio::test]
async fn the_live_view_streams_a_change_when_a_picture_is_archived() {
    let s = serve("", three_events).await;
    let http = client();
    let mut r = http.get(s.url("/events")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let first = tokio::time::timeout(WAIT, r.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(text(&first).contains("retry:"), "{}", text(&first));
    let archive = s.archive.clone();
    tokio::task::spawn_blocking(move || {
        archive
            .store(
                JPEG,
                &CameraId::new("front").unwrap(),
                &SnapshotReason::Demand,
                jiff::Timestamp::now(),
            )
            .unwrap();
    })
    .await
    .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let chunk = tokio::time::timeout_at(deadline, r.chunk())
            .await
            .expect("a change arrives")
            .unwrap()
            .expect("the stream stays open");
        if text(&chunk).contains("data:") {
            break;
        }
    }
    // The new picture is the camera's live picture.
    let (_, _, body) = get(&http, &s.url("/?part=live")).await;
    assert!(text(&body).contains("_demand.jpg"), "{}", text(&body));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ring_of_the_simulated_doorbell_appears_on_the_page_with_its_picture() {
    doorbell_bridge::onvif::install_crypto_provider();
    let broker = support::broker::Broker::start();
    let sim = SimDoorbell::start(SimOptions::default()).await.unwrap();
    let storage = tempfile::tempdir().unwrap();
    let cfg = support::bridge::sim_config(
        broker.port(),
        storage.path(),
        "[http]\nlisten = \"127.0.0.1:0\"",
        sim.device_url().as_str(),
        "",
    );
    let token = CancellationToken::new();
    let running = app::start(&cfg, token.clone(), support::bridge::app_options())
        .await
        .unwrap();
    let addr = running.http.expect("http configured");
    tokio::time::timeout(WAIT, running.mqtt.wait_until(BridgeStatus::is_connected))
        .await
        .expect("MQTT connects");
    let http = client();
    let page = format!("http://{addr}/");
    // Press until the camera is subscribed and the ring shows (each press is a new event).
    let deadline = tokio::time::Instant::now() + WAIT;
    let html = loop {
        let (_, _, body) = get(&http, &page).await;
        let html = text(&body);
        if html.contains("data-kind=\"ring\"") && html.contains("_ring.jpg") {
            break html;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no ring on the page: {html}"
        );
        if running
            .metrics
            .cameras_down([CameraId::new("front_door").unwrap()].iter())
            .is_empty()
        {
            sim.press();
        }
        tokio::time::sleep(POLL * 10).await;
    };
    assert!(html.contains("Front Door"));
    let link = file_links(&html)
        .into_iter()
        .find(|l| l.ends_with("_ring.jpg"))
        .unwrap();
    let (status, headers, body) = get(&http, &format!("{page}{link}")).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "image/jpeg");
    assert_eq!(&body[..2], b"\xff\xd8", "the archived JPEG");
    token.cancel();
    assert!(
        running.stopped().await,
        "the bridge stops cleanly, live views included"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn with_the_page_off_the_root_says_so_and_health_stays() {
    let stop = CancellationToken::new();
    let http_cfg = http_config("history = false");
    assert!(!http_cfg.history);
    let sources = health::Sources {
        metrics: Metrics::default(),
        mqtt: BridgeStatus::default(),
        cameras: Arc::new(vec![]),
    };
    let (addr, server) = health::serve(http_cfg.listen, sources, None, stop.clone())
        .await
        .unwrap();
    tokio::spawn(server);
    let http = client();
    let (status, _, body) = get(&http, &format!("http://{addr}/")).await;
    assert_eq!(status, 404);
    assert!(
        text(&body).contains("http.history = false"),
        "{}",
        text(&body)
    );
    let (status, _, _) = get(
        &http,
        &format!("http://{addr}/files/front/2026-11-30/091500.500_ring.jpg"),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _, _) = get(&http, &format!("http://{addr}/metrics")).await;
    assert_eq!(status, 200);
    stop.cancel();
}
