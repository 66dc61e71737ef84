//! The visitor history page in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by `.ci/run`) opens the page of a whole bridge whose camera is
//! the simulated doorbell with clips on, the doorbell rings, and the DOM must show the new
//! ring with its picture and its clip, without a reload, directly and under an ingress prefix.
//! Screenshots go to `target/tmp/browser/` (`docs/history.png` is one of them).

mod support;

use std::path::Path;
use std::time::Duration;

use doorbell_bridge::app::{self, Running};
use doorbell_bridge::mqtt::BridgeStatus;
use doorbell_bridge::sim::{SimDoorbell, SimOptions};
use serde_json::json;
use support::broker::{Broker, Subscriber};
use support::browser::{self, Browser, DESKTOP, PAGE_WAIT, PHONE};
use support::ingress::{Ingress, PROXY_SOURCE};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(30);
const CAM: &str = "doorbell-bridge/front_door";

/// Rings shown on the page (by the DOM).
const RINGS: &str = "document.querySelectorAll('#timeline li.event[data-kind=\"ring\"]').length";

async fn start_bridge(
    broker: &Broker,
    sim: &SimDoorbell,
    archive: &Path,
) -> (Running, CancellationToken) {
    let cfg = support::bridge::sim_config(
        broker.port(),
        archive,
        &format!(
            "[http]\nlisten = \"127.0.0.1:0\"\npassword = \"correct horse battery\"\n\
             trusted_proxy = \"{PROXY_SOURCE}\""
        ),
        sim.device_url().as_str(),
        "[cameras.clip]\non = [\"ring\"]\npre = \"1s\"\npost = \"1s\"",
    );
    let token = CancellationToken::new();
    let running = app::start(&cfg, token.clone(), support::bridge::app_options())
        .await
        .unwrap();
    tokio::time::timeout(WAIT, running.mqtt.wait_until(BridgeStatus::is_connected))
        .await
        .expect("MQTT connects");
    (running, token)
}

/// Rings once the camera is subscribed and waits for the ring's clip on MQTT (so the
/// archive holds picture and clip).
async fn ring_with_clip(sim: &SimDoorbell, mqtt: &mut Subscriber) {
    sim.press();
    mqtt.next_on(&format!("{CAM}/event"), WAIT).await;
    let clip = mqtt.next_on(&format!("{CAM}/clip"), WAIT).await.json();
    // Complete, or partial when the stream had no keyframe yet for the pre-roll: a video either way.
    assert!(
        clip["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("_ring.mp4")),
        "{clip}"
    );
}

/// Whether the newest ring shows a loaded picture and a clip the browser can play.
const NEWEST_RING_COMPLETE: &str = "(() => {
    const li = document.querySelector('#timeline li.event[data-kind=\"ring\"]');
    if (!li) return false;
    const v = li.querySelector('video');
    const live = document.querySelector('#live figure.cam img');
    return !!v && v.getAttribute('src').endsWith('_ring.mp4')
        && !!live && live.complete && live.naturalWidth > 0;
})()";

#[tokio::test(flavor = "multi_thread")]
async fn a_ring_appears_on_the_open_page_with_its_picture_and_clip() {
    if !browser::available("a_ring_appears_on_the_open_page_with_its_picture_and_clip") {
        return;
    }
    doorbell_bridge::onvif::install_crypto_provider();
    let broker = Broker::start();
    let sim = SimDoorbell::start(SimOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut mqtt = Subscriber::connect(broker.port(), "doorbell-bridge/#").await;
    let (running, token) = start_bridge(&broker, &sim, &dir.path().join("footage")).await;
    assert!(sim.wait_for_subscription(WAIT).await);
    assert!(sim.wait_for_plays(1, WAIT).await, "the clip stream plays");
    // One ring before the page opens, so the page starts with a day and an event.
    ring_with_clip(&sim, &mut mqtt).await;
    let ingress = Ingress::start(running.http.unwrap()).await;

    let b = Browser::start().await;
    b.set_viewport(DESKTOP).await;
    b.navigate(&ingress.url()).await;
    b.wait_until(&format!("{RINGS} === 1"), PAGE_WAIT).await;
    b.wait_until(NEWEST_RING_COMPLETE, PAGE_WAIT).await;
    // The live view's stream is open before the second ring.
    b.wait_until("document.body.dataset.live === 'on'", PAGE_WAIT)
        .await;

    // A ring while the page is open: it appears at the top without a reload.
    let before = b
        .execute_script(
            "return document.querySelector('#timeline li.event').dataset.id",
            vec![],
        )
        .await;
    ring_with_clip(&sim, &mut mqtt).await;
    b.wait_until(&format!("{RINGS} === 2"), PAGE_WAIT).await;
    let first = b
        .execute_script(
            "return document.querySelector('#timeline li.event').dataset.id",
            vec![],
        )
        .await;
    assert_ne!(first, before, "the new ring is on top");
    assert_eq!(
        b.execute_script(
            "return document.querySelectorAll('#timeline li.day').length",
            vec![]
        )
        .await,
        json!(1),
        "one heading for the day"
    );
    b.wait_until(NEWEST_RING_COMPLETE, PAGE_WAIT).await;
    b.wait_until(
        "[...document.images].every(i => i.complete && i.naturalWidth > 0)",
        PAGE_WAIT,
    )
    .await;
    b.screenshot(&browser::screenshot_path("history_desktop"))
        .await;
    b.set_viewport(PHONE).await;
    b.screenshot(&browser::screenshot_path("history_phone"))
        .await;
    b.set_viewport(DESKTOP).await;
    // The clip plays: the browser reads its index (metadata) and decodes a frame.
    b.execute_script(
        "const v = document.querySelector('#timeline li.event video'); v.preload = 'auto'; v.load();",
        vec![],
    )
    .await;
    b.wait_until(
        "document.querySelector('#timeline li.event video').readyState >= 2",
        PAGE_WAIT,
    )
    .await;
    let size = b
        .execute_script(
            "const v = document.querySelector('#timeline li.event video'); return [v.videoWidth, v.videoHeight, v.duration > 0];",
            vec![],
        )
        .await;
    assert_eq!(size, json!([64, 48, true]), "the simulated camera's video");
    let names = b.texts("#timeline li.event .camera").await;
    assert!(names.iter().all(|n| n == "Front Door"), "{names:?}");

    // Under the prefix every request went to the page's own origin, and nothing failed.
    b.check_own_origin_only().await.unwrap();
    assert_eq!(b.errors().await, [], "no error in the browser's log");

    // The kind filter: motion only shows no ring.
    b.navigate(&format!("{}?kind=motion", ingress.url())).await;
    b.wait_until("document.getElementById('timeline') !== null", PAGE_WAIT)
        .await;
    assert_eq!(
        b.execute_script(&format!("return {RINGS}"), vec![]).await,
        json!(0)
    );

    // Directly, without the proxy, the page asks for its password first.
    let direct = format!("http://{}/", running.http.unwrap());
    b.navigate(&direct).await;
    b.wait_until(
        "document.querySelector('input[type=password]') !== null",
        PAGE_WAIT,
    )
    .await;
    b.find("input[type=password]")
        .await
        .send_keys("correct horse battery")
        .await;
    b.find("form button").await.click().await;
    b.wait_until(&format!("{RINGS} === 2"), PAGE_WAIT).await;
    b.wait_until(NEWEST_RING_COMPLETE, PAGE_WAIT).await;
    b.check_own_origin_only().await.unwrap();

    // The bridge stops in time while the page still holds its live view.
    assert_eq!(
        b.execute_script("return document.body.dataset.live", vec![])
            .await,
        json!("on")
    );
    token.cancel();
    assert!(
        running.stopped().await,
        "the bridge stops cleanly with a page open"
    );
    b.quit().await;
    sim.shutdown().await;
}
