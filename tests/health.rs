//! `/healthz` and `/metrics` of a started bridge (`app::start`): the simulated doorbell as the
//! camera, the harness broker, `[http] listen = "127.0.0.1:0"`. Waits poll the endpoint until
//! its answer changes (bounded), never sleep for readiness.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use doorbell_bridge::app;
use doorbell_bridge::mqtt::BridgeStatus;
use doorbell_bridge::sim::{Fault, SimDoorbell, SimOptions};
use support::broker::Broker;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(30);
/// Pause between two polls of the endpoint.
const POLL: Duration = Duration::from_millis(50);

/// GETs `path` until `done(status, body)` holds; panics with the last answer after [`WAIT`].
async fn poll_until(
    http: &reqwest::Client,
    addr: SocketAddr,
    path: &str,
    done: impl Fn(u16, &str) -> bool,
) -> (u16, String) {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut last = (0, String::new());
    while tokio::time::Instant::now() < deadline {
        if let Ok(r) = http.get(format!("http://{addr}{path}")).send().await {
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            if done(status, &body) {
                return (status, body);
            }
            last = (status, body);
        }
        tokio::time::sleep(POLL).await;
    }
    panic!("{path} never reached the expected state; last answer {last:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn healthz_follows_the_camera_and_metrics_count_rings() {
    doorbell_bridge::onvif::install_crypto_provider();
    let broker = Broker::start();
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
    assert_ne!(addr.port(), 0, "the bound port is reported");
    let http = reqwest::Client::new();

    tokio::time::timeout(WAIT, running.mqtt.wait_until(BridgeStatus::is_connected))
        .await
        .expect("MQTT connects");
    let (_, body) = poll_until(&http, addr, "/healthz", |s, _| s == 200).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "ok");

    sim.press();
    let ring = "doorbell_bridge_rings_total{camera=\"front_door\"} 1";
    let (status, metrics) = poll_until(&http, addr, "/metrics", |_, b| b.contains(ring)).await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("doorbell_bridge_events_total{camera=\"front_door\",kind=\"ring\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("doorbell_bridge_mqtt_connected 1"),
        "{metrics}"
    );

    sim.set_fault(Fault::Offline);
    let (_, body) = poll_until(&http, addr, "/healthz", |s, _| s == 503).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["cameras_down"], serde_json::json!(["front_door"]), "{v}");
    assert_eq!(v["mqtt_connected"], true, "{v}");

    sim.set_fault(Fault::None);
    poll_until(&http, addr, "/healthz", |s, _| s == 200).await;

    token.cancel();
    assert!(running.stopped().await, "the bridge stops cleanly");
    sim.shutdown().await;
}
