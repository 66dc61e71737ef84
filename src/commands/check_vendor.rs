//! The vendor API steps of `doorbell-bridge check`: which API the camera uses and why, then
//! per vendor source whether it connects and says something (a heartbeat or an event) within
//! the step timeout. Nothing is switched or changed on the device.

use std::time::Duration;

use crate::config::{Api, CameraConfig};
use crate::hikvision::call::{self, CALL_STATUS_PATH, MAX_CALL_STATUS};
use crate::onvif::{self, Client};
use crate::source::stream::{Protocol, Read, Reader, open, origin};

use super::check_camera::describe;
use super::check_report::{CameraReport, Status, Step};

/// Adds the `api` step and the vendor source steps to `r`. `manufacturer` is what ONVIF said
/// (`None` when it did not answer).
pub async fn steps(
    r: &mut CameraReport,
    camera: &CameraConfig,
    manufacturer: Option<&str>,
    step_timeout: Duration,
) {
    if r.steps
        .iter()
        .any(|s| s.step == "reachable" && s.status == Status::Fail)
    {
        r.push(Step::skip("api", "the camera is not reachable"));
        return;
    }
    let (api, why) = camera.api.resolve(manufacturer);
    r.push(Step::ok("api", format!("{} ({why})", api.as_str())));
    let protocol = match api {
        Api::Dahua => Protocol::Dahua,
        Api::Hikvision => Protocol::Hikvision,
        Api::Auto | Api::Onvif => return,
    };
    let client = match super::check_camera::step_client(camera, step_timeout) {
        Ok(c) => c,
        Err(e) => {
            let (detail, hint) = describe(&e);
            r.push(Step::fail(protocol.source().name(), detail, hint));
            return;
        }
    };
    r.push(stream(&client, protocol, step_timeout).await);
    if protocol == Protocol::Hikvision {
        r.push(call_status(&client, step_timeout).await);
    }
}

/// Opens the event stream and waits for its first heartbeat or event.
async fn stream(client: &Client, protocol: Protocol, limit: Duration) -> Step {
    let name = protocol.source().name();
    let (url, mut response) = match open(client, protocol, &mut 0, limit).await {
        Ok(opened) => opened,
        Err(e) => {
            let (detail, hint) = describe(&e);
            return Step::fail(name, detail, hint);
        }
    };
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut reader = Reader::new(protocol, content_type.as_deref());
    let target = onvif::error::redact(&url);
    let waited = tokio::time::timeout(limit, async {
        while let Ok(Some(chunk)) = response.chunk().await {
            let mut seen = None;
            reader.feed(&chunk, &mut |read| match read {
                Read::Heartbeat => seen = seen.or(Some("a heartbeat")),
                Read::Notification(_) => seen = seen.or(Some("an event")),
                Read::Garbage(_) => {}
            });
            if let Some(what) = seen {
                return Some(what);
            }
        }
        None
    })
    .await;
    match waited {
        Ok(Some(what)) => Step::ok(name, format!("{target} connected; {what} arrived")),
        Ok(None) => Step::fail(
            name,
            format!("{target} closed the event stream at once"),
            "check that the device's HTTP API is on and that the user may read events",
        ),
        Err(_) => Step::warn(
            name,
            format!("{target} connected, but sent no heartbeat or event within {limit:?}"),
            "the bridge reconnects a silent stream; if events never arrive, check the device's event settings",
        ),
    }
}

/// Reads a door station's call status once; a device without one (404) is no door station.
async fn call_status(client: &Client, limit: Duration) -> Step {
    let name = crate::source::callstatus::NAME;
    let Ok(url) = origin(client.device_url()).join(CALL_STATUS_PATH) else {
        return Step::fail(
            name,
            "cannot build the call status URL",
            "check the camera's url",
        );
    };
    match client.fetch(&url, MAX_CALL_STATUS as u64, limit).await {
        Ok(body) => match call::parse(&body) {
            Ok(status) => Step::ok(
                name,
                format!("door station; the call is {}", status.as_str()),
            ),
            Err(e) => Step::warn(
                name,
                format!("unreadable answer ({e})"),
                "attach `curl --digest` output of callStatus to an issue",
            ),
        },
        Err(onvif::Error::Http { status: 404, .. }) => Step::skip(
            name,
            "no call status: not a door station (presses need one)",
        ),
        Err(e) => {
            let (detail, hint) = describe(&e);
            Step::fail(name, detail, hint)
        }
    }
}
