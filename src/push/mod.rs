//! The push listener: a small inbound HTTP server for cameras that call a URL instead of being
//! polled (ONVIF WS-BaseNotification `Notify`, DoorBird HTTP favorites). It runs only when
//! `[push]` is configured; without it no port is opened.
//!
//! Every registration ([`Push::register`]) gets its own route `/push/<camera>/<token>`, the
//! token 128 random bits from the operating system. What a route accepts is fixed when it is
//! registered ([`Expect`]): one method, one peer address (or any, when the camera's config
//! says so) and a body limit. Anything else is refused before its body is read and produces
//! nothing ([`route::judge`]): a path that is no live route 404, another method 405, another
//! peer 403, a declared body over the limit 413 (a body without a length is counted as it
//! arrives and refused at the limit), a body slower than [`BODY_TIMEOUT`] 408, a full route
//! queue 503. Request heads must arrive within [`HEADER_TIMEOUT`], a connection lives at most
//! [`CONNECTION_LIFETIME`], and at most [`MAX_CONNECTIONS`] are open ([`crate::listen`]).
//! Accepted requests go to the route's bounded channel as [`Pushed`]; dropping the [`Route`]
//! removes it. The token is never logged (the route's URL prints it as `***`).

pub mod route;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{Method, Request, Response, header};
use http_body::Body as _;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::config::{CameraConfig, PushConfig, PushFrom};
use crate::event::CameraId;
use crate::listen::Bounded;
use crate::metrics::Metrics;
use route::{Accepts, judge, new_token, parse_path};
pub use route::{PushUrl, Refusal};

/// Most connections open at once; more wait in the backlog. A camera makes one at a time.
pub const MAX_CONNECTIONS: usize = 64;
/// Longest life of one connection, whatever it sends.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);
/// Time allowed for a request's head (request line and headers) to arrive.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed for a request's body to arrive once its head has.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Accepted requests a route holds until its source takes them; more are answered 503.
pub const ROUTE_QUEUE: usize = 16;

/// The inbound listener's handle; cheap to clone. Exists only when `[push]` is configured.
#[derive(Clone)]
pub struct Push(Arc<Inner>);

struct Inner {
    advertise: url::Url,
    local: SocketAddr,
    metrics: Metrics,
    routes: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    accepts: Accepts,
    tx: mpsc::Sender<Pushed>,
}

impl Inner {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, Entry>) -> R) -> R {
        f(&mut self.routes.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// What a route accepts.
#[derive(Debug, Clone)]
pub struct Expect {
    /// The one method (POST for ONVIF Notify, GET for DoorBird).
    pub method: Method,
    /// `Some(ip)`: refuse (403) any other peer; `None`: any peer (the camera's config said so).
    pub from: Option<IpAddr>,
    /// The largest body ([`crate::limits::MAX_PACKET_BYTES`] for SOAP; small for DoorBird).
    pub max_body: usize,
}

/// One registration. Dropping it removes the route (later requests to it get 404).
pub struct Route {
    /// The full URL to give the camera; prints its token as `***`.
    pub url: PushUrl,
    /// Accepted requests, in arrival order (bounded by [`ROUTE_QUEUE`]).
    pub rx: mpsc::Receiver<Pushed>,
    token: String,
    push: Arc<Inner>,
}

impl Route {
    /// The full URL to give the camera (token included: never log it).
    pub fn url_str(&self) -> &str {
        self.url.expose()
    }
}

impl Drop for Route {
    fn drop(&mut self) {
        self.push.with(|routes| routes.remove(&self.token));
    }
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route").field("url", &self.url).finish()
    }
}

/// One accepted request.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The query string (without `?`; empty when there is none).
    pub query: String,
    /// The whole body (at most the route's `max_body`).
    pub body: Bytes,
    /// Who sent it.
    pub peer: SocketAddr,
}

impl Push {
    /// Binds `cfg.listen` and serves until `shutdown`; returns the handle. Errors name the
    /// address.
    pub async fn start(
        cfg: &PushConfig,
        metrics: Metrics,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Push> {
        let addr = cfg.listen;
        let listener = TcpListener::bind(addr).await.map_err(|e| {
            anyhow::anyhow!(
                "push.listen {addr}: cannot listen ({e}); pick a free port or remove [push]"
            )
        })?;
        let local = listener.local_addr()?;
        let mut advertise = cfg.advertise_url.clone();
        if advertise.port() == Some(0) {
            // `listen` on port 0 (tests): advertise the port actually bound.
            let _ = advertise.set_port(Some(local.port()));
        }
        let inner = Arc::new(Inner {
            advertise,
            local,
            metrics,
            routes: Mutex::new(HashMap::new()),
        });
        let listener = Bounded::new(
            listener,
            MAX_CONNECTIONS,
            CONNECTION_LIFETIME,
            "push listener",
        );
        tokio::spawn(serve(listener, inner.clone(), shutdown));
        Ok(Push(inner))
    }

    /// Adds a route with a fresh unguessable token: `<advertise_url>/push/<camera>/<token>`.
    pub fn register(&self, camera: &CameraId, expect: Expect) -> Route {
        let token = new_token();
        let url = PushUrl::new(&self.0.advertise, camera, &token);
        let (tx, rx) = mpsc::channel(ROUTE_QUEUE);
        let accepts = Accepts {
            camera: camera.clone(),
            method: expect.method,
            from: expect.from,
            max_body: expect.max_body,
        };
        self.0
            .with(|routes| routes.insert(token.clone(), Entry { accepts, tx }));
        debug!("push route for {camera}");
        Route {
            url,
            rx,
            token,
            push: self.0.clone(),
        }
    }

    /// The local address actually bound (tests bind 127.0.0.1:0).
    pub fn local_addr(&self) -> SocketAddr {
        self.0.local
    }

    /// The advertised base URL cameras are told to call.
    pub fn advertise_url(&self) -> &url::Url {
        &self.0.advertise
    }

    /// Routes registered now.
    pub fn routes(&self) -> usize {
        self.0.with(|routes| routes.len())
    }
}

/// The peer a camera's pushed requests must come from, per its `push_from`: `None` for any;
/// the camera's host address by default (a host name is resolved now).
pub async fn expected_peer(camera: &CameraConfig) -> Result<Option<IpAddr>, String> {
    match camera.push_from {
        PushFrom::Any => Ok(None),
        PushFrom::Addr(ip) => Ok(Some(ip)),
        PushFrom::CameraHost => match camera.url.host() {
            Some(url::Host::Ipv4(ip)) => Ok(Some(IpAddr::V4(ip))),
            Some(url::Host::Ipv6(ip)) => Ok(Some(IpAddr::V6(ip))),
            Some(url::Host::Domain(name)) => {
                let port = camera.url.port_or_known_default().unwrap_or(80);
                let found = tokio::net::lookup_host((name, port)).await;
                match found.map(|mut a| a.next()) {
                    Ok(Some(a)) => Ok(Some(a.ip())),
                    Ok(None) | Err(_) => Err(format!(
                        "cannot resolve {name} to check where pushed requests come from; \
                         set push_from to the camera's address, or \"any\""
                    )),
                }
            }
            None => Err("the camera URL has no host; set push_from".into()),
        },
    }
}

async fn serve(mut listener: Bounded, inner: Arc<Inner>, shutdown: CancellationToken) {
    loop {
        let (io, peer) = tokio::select! {
            () = shutdown.cancelled() => return,
            c = listener.next() => c,
        };
        let inner = inner.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let inner = inner.clone();
                async move { Ok::<_, Infallible>(handle(&inner, peer, req).await) }
            });
            // One request per connection: an idle keep-alive connection would hold one of the
            // MAX_CONNECTIONS permits until its header timeout, and a camera sends a Notify
            // now and then, not a stream of them (measured: docs/performance.md).
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .keep_alive(false)
                .serve_connection(TokioIo::new(io), service);
            tokio::select! {
                r = conn => if let Err(e) = r {
                    debug!("push listener: connection from {peer} ended: {e}");
                },
                () = shutdown.cancelled() => {}
            }
        });
    }
}

async fn handle(inner: &Inner, peer: SocketAddr, req: Request<Incoming>) -> Response<String> {
    match accept(inner, peer, req).await {
        Ok(()) => {
            inner.metrics.push_request("accepted");
            Response::new(String::new())
        }
        Err((refusal, method)) => {
            inner.metrics.push_request(refusal.label());
            debug!(
                "push listener: refused a request from {peer}: {}",
                refusal.label()
            );
            let mut res = Response::new(String::new());
            *res.status_mut() = refusal.status();
            if let (Refusal::Method, Some(m)) = (refusal, method)
                && let Ok(v) = header::HeaderValue::from_str(m.as_str())
            {
                res.headers_mut().insert(header::ALLOW, v);
            }
            if refusal == Refusal::Busy {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            }
            res
        }
    }
}

/// Judges the request, reads its body (capped and timed) and hands it to its route. The
/// refusal carries the route's method for the `Allow` header.
async fn accept(
    inner: &Inner,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<(), (Refusal, Option<Method>)> {
    let Some((camera, token)) = parse_path(req.uri().path()) else {
        return Err((Refusal::NotFound, None));
    };
    let length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (accepts, tx) = inner
        .with(|routes| routes.get(token).map(|e| (e.accepts.clone(), e.tx.clone())))
        .unzip();
    judge(accepts.as_ref(), camera, req.method(), peer, length)
        .map_err(|r| (r, accepts.as_ref().map(|a| a.method.clone())))?;
    let (Some(accepts), Some(tx)) = (accepts, tx) else {
        return Err((Refusal::NotFound, None));
    };
    let query = req.uri().query().unwrap_or_default().to_owned();
    let read = read_capped(req.into_body(), accepts.max_body);
    let body = match tokio::time::timeout(BODY_TIMEOUT, read).await {
        Ok(Ok(body)) => body,
        Ok(Err(r)) => return Err((r, None)),
        Err(_) => return Err((Refusal::SlowBody, None)),
    };
    let pushed = Pushed { query, body, peer };
    match tx.try_send(pushed) {
        Ok(()) => Ok(()),
        Err(mpsc::error::TrySendError::Full(_)) => Err((Refusal::Busy, None)),
        Err(mpsc::error::TrySendError::Closed(_)) => Err((Refusal::NotFound, None)),
    }
}

/// The body, counted as it arrives: [`Refusal::TooLarge`] as soon as it passes `max`.
async fn read_capped(mut body: Incoming, max: usize) -> Result<Bytes, Refusal> {
    let mut buf = BytesMut::new();
    loop {
        let frame = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await;
        match frame {
            None => return Ok(buf.freeze()),
            Some(Err(_)) => return Err(Refusal::SlowBody),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if buf.len() + data.len() > max {
                        return Err(Refusal::TooLarge);
                    }
                    buf.extend_from_slice(&data);
                }
            }
        }
    }
}
