//! Health and metrics over HTTP, off by default (`[http] listen = "127.0.0.1:9464"`).
//!
//! `/healthz` answers 200 while the MQTT connection and every camera are up, 503 with a JSON
//! reason otherwise; `/metrics` is the Prometheus text format. With `http.history` the same
//! server serves the visitor history page ([`crate::history`]) at `/`. No port is opened
//! unless the user configures one.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::event::CameraId;
use crate::listen::Bounded;
use crate::metrics::{Metrics, family};
use crate::mqtt::BridgeStatus;

/// What the endpoint reads.
#[derive(Clone)]
pub struct Sources {
    /// Camera counters and up/down state.
    pub metrics: Metrics,
    /// MQTT connection state and counters.
    pub mqtt: BridgeStatus,
    /// Every configured camera.
    pub cameras: Arc<Vec<CameraId>>,
}

/// The health verdict: `Ok` or the reasons it is not.
pub fn health(s: &Sources) -> Result<(), serde_json::Value> {
    let down = s.metrics.cameras_down(s.cameras.iter());
    let mqtt = s.mqtt.is_connected();
    if mqtt && down.is_empty() {
        return Ok(());
    }
    Err(serde_json::json!({
        "status": "unhealthy",
        "mqtt_connected": mqtt,
        "mqtt_error": s.mqtt.last_error(),
        "cameras_down": down.iter().map(CameraId::as_str).collect::<Vec<_>>(),
    }))
}

/// The Prometheus text of everything.
pub fn metrics_text(s: &Sources) -> String {
    let mut out = String::new();
    s.metrics.render(&mut out);
    let m = &s.mqtt;
    let gauges: [(&str, &str, &str, u64); 7] = [
        (
            "doorbell_bridge_mqtt_connected",
            "gauge",
            "1 while connected to the broker.",
            u64::from(m.is_connected()),
        ),
        (
            "doorbell_bridge_mqtt_reconnects_total",
            "counter",
            "Reconnections to the broker.",
            m.reconnects(),
        ),
        (
            "doorbell_bridge_mqtt_connection_failures_total",
            "counter",
            "Failed connection attempts.",
            m.failures(),
        ),
        (
            "doorbell_bridge_mqtt_published_total",
            "counter",
            "Messages the broker acknowledged.",
            m.published(),
        ),
        (
            "doorbell_bridge_mqtt_dropped_total",
            "counter",
            "Events dropped because the queue was full.",
            m.dropped(),
        ),
        (
            "doorbell_bridge_mqtt_queue_depth",
            "gauge",
            "Messages waiting for the broker.",
            m.queue_depth() as u64,
        ),
        (
            "doorbell_bridge_mqtt_in_flight",
            "gauge",
            "Messages written to the broker and not yet acknowledged.",
            m.in_flight() as u64,
        ),
    ];
    for (name, kind, help, value) in gauges {
        family(&mut out, name, kind, help);
        let _ = writeln!(out, "{name} {value}");
    }
    out
}

async fn healthz(State(s): State<Sources>) -> impl IntoResponse {
    let (code, body) = match health(&s) {
        Ok(()) => (StatusCode::OK, serde_json::json!({"status": "ok"})),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, reason),
    };
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
}

/// `/` with `http.history = false`: say so, rather than a bare 404 (the app's sidebar panel
/// stays, since ingress cannot follow an option).
async fn history_off() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "The visitor history page is off (http.history = false in the bridge's config, or \
         the app's history option); health is at /healthz and metrics at /metrics.\n",
    )
}

async fn metrics(State(s): State<Sources>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics_text(&s),
    )
}

/// Binds `addr` (a clear error when it cannot) and returns the server future, which ends when
/// `shutdown` fires.
pub async fn serve(
    addr: SocketAddr,
    sources: Sources,
    history: Option<crate::history::History>,
    shutdown: CancellationToken,
) -> anyhow::Result<(SocketAddr, impl Future<Output = ()>)> {
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        anyhow::anyhow!(
            "http.listen {addr}: cannot listen ({e}); pick a free port or remove [http]"
        )
    })?;
    let local = listener.local_addr()?;
    let (connections, lifetime) = match history {
        Some(_) => (PAGE_MAX_CONNECTIONS, PAGE_CONNECTION_LIFETIME),
        None => (MAX_CONNECTIONS, CONNECTION_LIFETIME),
    };
    let listener = Bounded::new(listener, connections, lifetime, "http server");
    let mut app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(sources);
    match history {
        Some(h) => app = app.merge(crate::history::routes(h)),
        None => app = app.route("/", get(history_off)),
    }
    let app = app.into_make_service_with_connect_info::<crate::listen::Peer>();
    let server = async move {
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(e) = result {
            tracing::warn!("health endpoint stopped: {e}");
        }
    };
    Ok((local, server))
}

/// Most connections served at once; more wait in the backlog. A scraper needs one.
pub const MAX_CONNECTIONS: usize = 16;
/// Longest life of one connection: a client that sends its request a byte at a time (or never)
/// is cut off, so a few slow clients cannot hold every connection.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);
/// Connections with the history page: each open page holds one for its live view, and a
/// browser opens several for pictures.
pub const PAGE_MAX_CONNECTIONS: usize = 48;
/// Longest life of one connection with the history page: long enough for a clip to download
/// over a slow phone link (a live view stream ends itself sooner, at
/// [`crate::history::SSE_LIFETIME`]).
pub const PAGE_CONNECTION_LIFETIME: Duration = Duration::from_secs(600);
