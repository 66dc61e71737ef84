//! A stand-in for Home Assistant's ingress proxy: it serves `/api/hassio_ingress/<token>/...`
//! on 127.0.0.1, strips that prefix, adds `X-Ingress-Path`, and forwards to the bridge from
//! 127.0.0.2 (the address the bridge is told to trust), streaming the answer back as the
//! Supervisor does.

#![allow(dead_code)] // each test binary uses a different part

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio_util::sync::CancellationToken;

/// The proxy's own address, the one the bridge trusts.
pub const PROXY_SOURCE: &str = "127.0.0.2";
/// The prefix the proxy serves the bridge under.
pub const PREFIX: &str = "/api/hassio_ingress/Zx9kTsUnitTok3n";

#[derive(Clone)]
struct Upstream {
    base: String,
    http: reqwest::Client,
}

/// A running proxy.
pub struct Ingress {
    addr: SocketAddr,
    stop: CancellationToken,
}

impl Ingress {
    /// Starts forwarding to the bridge at `upstream`.
    pub async fn start(upstream: SocketAddr) -> Ingress {
        doorbell_bridge::onvif::install_crypto_provider();
        let http = reqwest::Client::builder()
            .local_address(Some(PROXY_SOURCE.parse().unwrap()))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let state = Upstream {
            base: format!("http://{upstream}"),
            http,
        };
        let app = axum::Router::new().fallback(forward).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let s = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(s.cancelled_owned())
                .await;
        });
        Ingress { addr, stop }
    }

    /// The page's URL through the proxy (ends with `/`).
    pub fn url(&self) -> String {
        format!("http://{}{PREFIX}/", self.addr)
    }

    /// The proxy's origin (`http://127.0.0.1:port`).
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Ingress {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn forward(State(up): State<Upstream>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return (StatusCode::NOT_FOUND, "not an ingress path").into_response();
    };
    let rest = if rest.is_empty() { "/" } else { rest };
    let query = req
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let method = req.method().clone();
    let mut out = up.http.request(method, format!("{}{rest}{query}", up.base));
    for (k, v) in req.headers() {
        if k != "host" && k != "content-length" {
            out = out.header(k, v);
        }
    }
    out = out.header("x-ingress-path", PREFIX);
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let answer = match out.body(body).send().await {
        Ok(a) => a,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let mut r = Response::new(Body::from_stream(answer.bytes_stream()));
    *r.status_mut() = status;
    for (k, v) in &headers {
        r.headers_mut().append(k, v.clone());
    }
    r.headers_mut()
        .insert("x-proxied-by", HeaderValue::from_static("ingress stand-in"));
    r
}
