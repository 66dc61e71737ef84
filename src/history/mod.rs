//! The visitor history page: the archive as a timeline, served at `/` by the `[http]` server
//! beside `/healthz` and `/metrics` (`http.history`, on by default).
//!
//! - [`index`] reads the archive's folders a bounded amount per request (pure over names);
//! - [`html`] renders the page (pure, escaped, relative links: it works under Home
//!   Assistant's ingress prefix as at `/`);
//! - [`access`] says who may see it (pure) and keeps the login's sessions;
//! - this file is the thin HTTP shell: the routes, the file server (archive names only, no
//!   symlink, `Range` for video), the live view's server-sent events, the delete form.
//!
//! Nothing here writes but [`Archive::delete_event`], after a confirmation page and with the
//! form's token. Every response carries a policy that forbids loading anything from another
//! origin, and `nosniff`.

pub mod access;
pub mod html;
pub mod index;

use std::io::SeekFrom;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::sync::CancellationToken;
use url::form_urlencoded;

use crate::archive::Archive;
use crate::config::HttpConfig;
use crate::event::CameraId;
use crate::listen::Peer;
use access::{Login, Logins, Verdict};
use html::Names;
use index::{Cursor, Entry, EventId, Query};

/// Events on a page and on each "older" step.
pub const PAGE_SIZE: usize = 50;
/// Longest query string read; longer is refused (414).
pub const MAX_QUERY: usize = 1024;
/// Largest form body (login, delete).
pub const MAX_FORM: usize = 2048;
/// How long one live-view stream lasts before the browser reconnects (shorter than the
/// connection lifetime, so the bridge never cuts it mid-event).
pub const SSE_LIFETIME: Duration = Duration::from_secs(240);
/// A comment on an idle live-view stream this often keeps proxies from closing it.
pub const SSE_KEEP_ALIVE: Duration = Duration::from_secs(25);
/// What the browser waits before reconnecting the live view.
pub const SSE_RETRY: Duration = Duration::from_secs(2);
/// Day folders searched for each camera's newest picture.
pub const LIVE_DAYS: usize = 3;

/// The page's policy: its own origin only, no inline code, no framing by others.
const POLICY: &str = "default-src 'none'; img-src 'self'; media-src 'self'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'self'; base-uri 'none'";

const APP_JS: &str = include_str!("app.js");
const APP_CSS: &str = include_str!("app.css");
/// A doorbell: a rounded body and a button.
const ICON: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 32 32\">\
<rect x=\"9\" y=\"2\" width=\"14\" height=\"28\" rx=\"7\" fill=\"#03a9f4\"/>\
<circle cx=\"16\" cy=\"20\" r=\"4\" fill=\"#fff\"/><circle cx=\"16\" cy=\"9\" r=\"2\" fill=\"#fff\"/></svg>";

/// The page's state; cheap to clone.
#[derive(Clone)]
pub struct History {
    inner: Arc<Inner>,
}

struct Inner {
    archive: Archive,
    names: Names,
    logins: Logins,
    trusted_proxy: Option<IpAddr>,
    /// The form token: a POST must carry it (no other site can read it).
    csrf: String,
    shutdown: CancellationToken,
}

impl History {
    /// The page over `archive`, for the cameras `names` (id, display name), with the access
    /// rules of `http`.
    pub fn new(
        archive: Archive,
        names: Vec<(CameraId, String)>,
        http: &HttpConfig,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                archive,
                names: Names(names),
                logins: Logins::new(http.password.as_ref()),
                trusted_proxy: http.trusted_proxy,
                csrf: access::random_token(),
                shutdown,
            }),
        }
    }

    fn session<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(access::session_cookie)
    }

    fn logged_in(&self, headers: &HeaderMap) -> bool {
        self.session(headers)
            .is_some_and(|t| self.inner.logins.valid(t, Instant::now()))
    }

    fn verdict(&self, peer: IpAddr, headers: &HeaderMap) -> Verdict {
        access::judge(
            peer,
            self.inner.trusted_proxy,
            self.inner.logins.has_password(),
            self.logged_in(headers),
        )
    }
}

/// The page's routes, to merge into the `[http]` router (served with [`Peer`] connect info).
pub fn routes(history: History) -> Router {
    let guarded = Router::new()
        .route("/", get(timeline))
        .route("/events", get(events))
        .route("/files/{camera}/{day}/{file}", get(file))
        .route("/delete", get(confirm_delete).post(delete))
        .route("/logout", axum::routing::post(logout))
        .route_layer(middleware::from_fn_with_state(history.clone(), guard));
    Router::new()
        .merge(guarded)
        .route("/login", get(login_form).post(login))
        .route(
            "/app.js",
            get(|| async { asset("text/javascript", APP_JS) }),
        )
        .route("/app.css", get(|| async { asset("text/css", APP_CSS) }))
        .route("/icon.svg", get(|| async { asset("image/svg+xml", ICON) }))
        .layer(middleware::map_response(secure))
        .layer(DefaultBodyLimit::max(MAX_FORM))
        .with_state(history)
}

fn asset(kind: &'static str, text: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        text,
    )
        .into_response()
}

/// The headers every answer of the page carries.
async fn secure(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(POLICY));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("x-frame-options", HeaderValue::from_static("SAMEORIGIN"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    r
}

async fn guard(
    State(h): State<History>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    req: Request,
    next: Next,
) -> Response {
    if req.uri().query().is_some_and(|q| q.len() > MAX_QUERY) {
        return plain(StatusCode::URI_TOO_LONG, "the query is too long");
    }
    match h.verdict(peer.0.ip(), req.headers()) {
        Verdict::Open => next.run(req).await,
        Verdict::Login if req.uri().path() == "/" => see_other("login"),
        Verdict::Login => plain(StatusCode::UNAUTHORIZED, "log in on the page first"),
        Verdict::Refused => page(
            StatusCode::FORBIDDEN,
            html::notice(
                "Only on this host",
                "The visitor history opens from other devices only with a password: set \
                 http.password (or http.password_file) in the bridge's config, or open the \
                 page on the bridge's host.",
            ),
        ),
    }
}

fn plain(code: StatusCode, text: &'static str) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

fn page(code: StatusCode, body: String) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

/// A relative redirect: it resolves under any prefix the page is served at.
fn see_other(to: &'static str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

/// The query's parameters, each kept only when valid; `part` names a fragment.
fn read_query(raw: Option<&str>) -> (Query, Option<String>) {
    let mut q = Query::default();
    let mut part = None;
    for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match &*k {
            "camera" => q.camera = CameraId::new(&v).ok(),
            "kind" => q.kind = html::filter_kinds().find(|k| *k == v).map(str::to_owned),
            "date" => q.date = crate::retention::is_day_folder(&v).then(|| v.clone().into_owned()),
            "before" => q.before = Cursor::parse(&v),
            "after" => q.after = EventId::parse(&v),
            "part" => part = Some(v.into_owned()),
            _ => {}
        }
    }
    (q, part)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

async fn timeline(
    State(h): State<History>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let started = Instant::now();
    let (query, part) = read_query(raw.as_deref());
    let root = h.inner.archive.root().to_owned();
    let cameras = cameras_shown(&h);
    let want_live = matches!(part.as_deref(), None | Some("live"));
    let want_page = part.as_deref() != Some("live");
    let q = query.clone();
    let read = blocking(move || {
        let live: Vec<(CameraId, Option<EventId>)> = if want_live {
            cameras
                .into_iter()
                .map(|c| {
                    let latest = index::latest_picture(&root, &c, LIVE_DAYS);
                    (c, latest)
                })
                .collect()
        } else {
            Vec::new()
        };
        let page = if want_page {
            index::read_page(&root, &q, PAGE_SIZE, index::SCAN_BUDGET)
        } else {
            index::Page::default()
        };
        (live, page)
    })
    .await;
    let Some((live, pg)) = read else {
        return plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "reading the archive failed",
        );
    };
    let names = &h.inner.names;
    let body = match part.as_deref() {
        Some("live") => html::live(names, &live),
        Some("newer") => format!("<ol>{}</ol>", html::items(names, &pg.entries)),
        Some("older") => format!(
            "<ol>{}</ol>{}",
            html::items(names, &pg.entries),
            html::older(&query, &pg)
        ),
        _ => html::document(&html::View {
            names,
            query: &query,
            live: &live,
            page: &pg,
            csrf: &h.inner.csrf,
            logged_in: h.inner.logins.has_password() && h.logged_in(&headers),
        }),
    };
    let mut r = page(StatusCode::OK, body);
    // The time spent reading the archive and rendering, and the names read (the benchmark
    // reads both; a browser's developer tools show them).
    let timing = format!(
        "page;dur={:.3}, scanned;desc=\"{} names\"",
        started.elapsed().as_secs_f64() * 1000.0,
        pg.scanned
    );
    if let Ok(v) = HeaderValue::from_str(&timing) {
        r.headers_mut().insert("server-timing", v);
    }
    r
}

/// The cameras of the live view: the configured ones, in config order.
fn cameras_shown(h: &History) -> Vec<CameraId> {
    h.inner.names.0.iter().map(|(c, _)| c.clone()).collect()
}

async fn events(State(h): State<History>) -> Response {
    let rx = h.inner.archive.changes();
    let until = tokio::time::Instant::now() + SSE_LIFETIME;
    let stop = h.inner.shutdown.clone();
    let first = futures_util::stream::once(async {
        Ok::<_, std::convert::Infallible>(SseEvent::default().retry(SSE_RETRY))
    });
    let changes = futures_util::stream::unfold((rx, stop), move |(mut rx, stop)| async move {
        tokio::select! {
            changed = rx.changed() => match changed {
                Ok(()) => {
                    let n = *rx.borrow_and_update();
                    Some((Ok(SseEvent::default().data(n.to_string())), (rx, stop)))
                }
                Err(_) => None,
            },
            () = tokio::time::sleep_until(until) => None,
            () = stop.cancelled() => None,
        }
    });
    use futures_util::StreamExt as _;
    Sse::new(first.chain(changes))
        .keep_alive(KeepAlive::new().interval(SSE_KEEP_ALIVE))
        .into_response()
}

/// A `Range` the file cannot satisfy (416).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsatisfiable;

/// A byte range of a file of `len` bytes (`bytes=a-b`, `bytes=a-`, `bytes=-n`; one range).
/// `Err` when it cannot be satisfied; `Ok(None)` to send the whole file.
pub fn byte_range(header: Option<&str>, len: u64) -> Result<Option<(u64, u64)>, Unsatisfiable> {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(Unsatisfiable)?;
    let (a, b) = (a.trim(), b.trim());
    let range = match (a.parse::<u64>().ok(), b.parse::<u64>().ok()) {
        (Some(s), Some(e)) if s <= e => (s, e.min(len.saturating_sub(1))),
        (Some(s), None) if b.is_empty() => (s, len.saturating_sub(1)),
        (None, Some(n)) if a.is_empty() && n > 0 => (len.saturating_sub(n), len.saturating_sub(1)),
        _ => return Err(Unsatisfiable),
    };
    if len == 0 || range.0 >= len {
        return Err(Unsatisfiable);
    }
    Ok(Some(range))
}

async fn file(
    State(h): State<History>,
    Path((camera, day, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let not_found = || plain(StatusCode::NOT_FOUND, "no such file in the archive");
    let kind = if let Some(stem) = name.strip_suffix(".jpg") {
        (stem, "image/jpeg")
    } else if let Some(stem) = name.strip_suffix(".mp4") {
        (stem, "video/mp4")
    } else {
        return not_found();
    };
    let Some(id) = EventId::parse(&format!("{camera}/{day}/{}", kind.0)) else {
        return not_found();
    };
    let root = h.inner.archive.root().to_owned();
    let rel = id.file(if kind.1 == "video/mp4" { "mp4" } else { "jpg" });
    // No component of the path may be a symlink, and the file must be a plain file.
    let checked = blocking(move || {
        let mut path = root;
        for part in rel.split('/') {
            path.push(part);
            match std::fs::symlink_metadata(&path) {
                Ok(m) if !m.file_type().is_symlink() => {}
                _ => return None,
            }
        }
        let meta = std::fs::metadata(&path).ok()?;
        meta.is_file().then_some((path, meta.len()))
    })
    .await
    .flatten();
    let Some((path, len)) = checked else {
        return not_found();
    };
    let range = match byte_range(
        headers.get(header::RANGE).and_then(|v| v.to_str().ok()),
        len,
    ) {
        Ok(r) => r,
        Err(Unsatisfiable) => {
            return (
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{len}"))],
            )
                .into_response();
        }
    };
    let Ok(mut f) = tokio::fs::File::open(&path).await else {
        return not_found();
    };
    let (start, end) = range.unwrap_or((0, len.saturating_sub(1)));
    if start > 0 && f.seek(SeekFrom::Start(start)).await.is_err() {
        return not_found();
    }
    let count = if len == 0 { 0 } else { end - start + 1 };
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(f.take(count)));
    let mut r = Response::new(body);
    let hd = r.headers_mut();
    hd.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind.1));
    hd.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    hd.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    hd.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    if range.is_some() {
        *r.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
            r.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    r
}

fn form(body: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned()))
}

fn field(body: &[u8], name: &str) -> Option<String> {
    form(body).find(|(k, _)| k == name).map(|(_, v)| v)
}

async fn entry_of(h: &History, id: EventId) -> Option<Entry> {
    let dir = h
        .inner
        .archive
        .root()
        .join(id.camera.as_str())
        .join(&id.day);
    blocking(move || {
        let names: Vec<String> = std::fs::read_dir(&dir)
            .ok()?
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.starts_with(&id.stem))
            .collect();
        index::entries_of(&id.camera, &id.day, &names)
            .into_iter()
            .find(|e| e.id == id)
    })
    .await
    .flatten()
}

async fn confirm_delete(State(h): State<History>, RawQuery(raw): RawQuery) -> Response {
    let id = form(raw.as_deref().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "id")
        .and_then(|(_, v)| EventId::parse(&v));
    let Some(id) = id else {
        return plain(StatusCode::BAD_REQUEST, "no such event");
    };
    match entry_of(&h, id).await {
        Some(e) => page(
            StatusCode::OK,
            html::confirm_delete(&h.inner.names, &e, &h.inner.csrf),
        ),
        None => page(
            StatusCode::NOT_FOUND,
            html::notice("Not found", "This event is not in the archive (any more)."),
        ),
    }
}

async fn delete(
    State(h): State<History>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    body: Bytes,
) -> Response {
    if field(&body, "token").as_deref() != Some(h.inner.csrf.as_str()) {
        return plain(
            StatusCode::FORBIDDEN,
            "this form is stale or came from elsewhere; reload the page",
        );
    }
    let Some(id) = field(&body, "id").and_then(|v| EventId::parse(&v)) else {
        return plain(StatusCode::BAD_REQUEST, "no such event");
    };
    let archive = h.inner.archive.clone();
    let shown = id.to_string();
    let done = blocking(move || archive.delete_event(&id.camera, &id.day, &id.stem)).await;
    match done {
        Some(Ok(n)) => {
            tracing::info!(peer = %peer.0.ip(), "history page: deleted {shown} ({n} files)");
            see_other("./")
        }
        Some(Err(e)) => {
            tracing::warn!("history page: deleting {shown} failed: {e}");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                html::notice("Not deleted", &e.to_string()),
            )
        }
        None => plain(StatusCode::INTERNAL_SERVER_ERROR, "deleting failed"),
    }
}

async fn login_form(State(h): State<History>) -> Response {
    if !h.inner.logins.has_password() {
        return see_other("./");
    }
    page(StatusCode::OK, html::login(None))
}

async fn login(
    State(h): State<History>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    body: Bytes,
) -> Response {
    let typed = field(&body, "password").unwrap_or_default();
    match h.inner.logins.login(&typed, Instant::now()) {
        Login::Ok(token) => {
            let cookie = format!(
                "{}={token}; HttpOnly; SameSite=Strict; Max-Age={}",
                access::COOKIE,
                access::SESSION_LIFETIME.as_secs()
            );
            let mut r = see_other("./");
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Login::Wrong => {
            tracing::warn!(peer = %peer.0.ip(), "history page: a wrong password");
            page(
                StatusCode::UNAUTHORIZED,
                html::login(Some("That password is not right.")),
            )
        }
        Login::LockedOut => page(
            StatusCode::TOO_MANY_REQUESTS,
            html::login(Some(
                "Too many wrong passwords: logins are refused for a minute.",
            )),
        ),
    }
}

async fn logout(State(h): State<History>, headers: HeaderMap, body: Bytes) -> Response {
    if field(&body, "token").as_deref() != Some(h.inner.csrf.as_str()) {
        return plain(StatusCode::FORBIDDEN, "this form is stale; reload the page");
    }
    if let Some(t) = h.session(&headers) {
        h.inner.logins.logout(t);
    }
    let mut r = see_other("login");
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("doorbell_bridge_session=; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_style_and_icon_name_no_other_origin() {
        for (name, text) in [("app.js", APP_JS), ("app.css", APP_CSS)] {
            for banned in ["://", "@import", "url(", "//cdn", "fonts.g"] {
                assert!(!text.contains(banned), "{name} holds {banned:?}");
            }
        }
        // The icon's only URL is its XML namespace, which loads nothing.
        assert_eq!(ICON.matches("://").count(), 1);
        assert!(POLICY.starts_with("default-src 'none'"));
        assert!(!POLICY.contains("unsafe") && !POLICY.contains("http"));
    }

    #[test]
    fn byte_ranges_follow_the_rfc_for_one_range() {
        assert_eq!(byte_range(None, 100), Ok(None));
        assert_eq!(byte_range(Some("bytes=0-"), 100), Ok(Some((0, 99))));
        assert_eq!(byte_range(Some("bytes=10-19"), 100), Ok(Some((10, 19))));
        assert_eq!(byte_range(Some("bytes=90-200"), 100), Ok(Some((90, 99))));
        assert_eq!(byte_range(Some("bytes=-10"), 100), Ok(Some((90, 99))));
        assert_eq!(byte_range(Some("bytes=0-1,5-6"), 100), Ok(None));
        assert_eq!(byte_range(Some("bytes=100-"), 100), Err(Unsatisfiable));
        assert_eq!(byte_range(Some("bytes=5-1"), 100), Err(Unsatisfiable));
        assert_eq!(byte_range(Some("bytes=x-y"), 100), Err(Unsatisfiable));
        assert_eq!(byte_range(Some("bytes=0-"), 0), Err(Unsatisfiable));
        assert_eq!(byte_range(Some("items=0-1"), 100), Ok(None));
    }

    #[test]
    fn the_query_keeps_only_valid_values() {
        let (q, part) = read_query(Some(
            "camera=front&kind=ring&date=2026-11-30&before=front%2F2026-11-30%2F091500.500_ring&part=older",
        ));
        assert_eq!(q.camera.unwrap().as_str(), "front");
        assert_eq!(q.kind.as_deref(), Some("ring"));
        assert_eq!(q.date.as_deref(), Some("2026-11-30"));
        assert!(q.before.is_some());
        assert_eq!(part.as_deref(), Some("older"));
        let (q, _) = read_query(Some(
            "camera=..%2F..&kind=<script>&date=../x&after=/etc/passwd",
        ));
        assert_eq!(q, Query::default());
    }
}
