//! The vendor API steps of `doorbell-bridge check`: which API the camera uses and why, then
//! per vendor source whether it connects and says something (a heartbeat or an event) within
//! the step timeout; for a DoorBird (no ONVIF) the LAN API's device information, the bridge's
//! favorites and their schedule links. Nothing is switched or changed on the device.

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
        Api::DoorBird => {
            doorbird(r, camera, step_timeout).await;
            if let Ok(client) = super::check_camera::step_client(camera, step_timeout) {
                let step = super::check_camera::snapshot_step(&client, camera, step_timeout).await;
                r.push(step);
            }
            return;
        }
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

/// The DoorBird steps: `device` (info.cgi with the credentials), `favorites` (the bridge's
/// favorites for this camera, registered when the bridge runs) and `schedule` (both inputs
/// linked to them).
async fn doorbird(r: &mut CameraReport, camera: &CameraConfig, limit: Duration) {
    use crate::doorbird::{self, Input, favorites, schedule};
    let client = match super::check_camera::step_client(camera, limit) {
        Ok(c) => c,
        Err(e) => {
            let (detail, hint) = describe(&e);
            r.push(Step::fail("device", detail, hint));
            return;
        }
    };
    let base = origin(client.device_url());
    let get = |path: &'static str, max: u64| {
        let client = client.clone();
        let url = base.join(path);
        async move {
            let url = url.map_err(|e| onvif::Error::Transport {
                url: path.to_owned(),
                detail: e.to_string(),
            })?;
            let body = client.fetch(&url, max, limit).await?;
            Ok::<_, onvif::Error>((
                onvif::error::redact(&url),
                String::from_utf8_lossy(&body).into_owned(),
            ))
        }
    };
    let fail = |r: &mut CameraReport, step: &'static str, e: onvif::Error| {
        let (detail, hint) = describe(&e);
        let hint = if matches!(e, onvif::Error::Unauthorized { .. }) {
            crate::source::doorbird::HINT_AUTH.to_owned()
        } else {
            hint
        };
        r.push(Step::fail(step, detail, hint));
    };
    match get(doorbird::INFO_PATH, doorbird::MAX_INFO).await {
        Ok((url, text)) => match doorbird::parse_info(&text) {
            Ok(info) => r.push(Step::ok(
                "device",
                format!(
                    "{} (firmware {})",
                    info.model.as_deref().unwrap_or("DoorBird"),
                    info.firmware.as_deref().unwrap_or("?")
                ),
            )),
            Err(e) => {
                r.push(Step::fail(
                    "device",
                    format!("{url}: {e}"),
                    "is this a DoorBird? check the camera's url",
                ));
                return;
            }
        },
        Err(e) => return fail(r, "device", e),
    }
    let favs = match get(doorbird::FAVORITES_PATH, doorbird::MAX_FAVORITES).await {
        Ok((url, text)) => match favorites::parse(&text) {
            Ok(f) => f,
            Err(e) => {
                r.push(Step::fail(
                    "favorites",
                    format!("{url}: {e}"),
                    "the user needs the API-Operator permission",
                ));
                return;
            }
        },
        Err(e) => return fail(r, "favorites", e),
    };
    let ours: Vec<(Input, Vec<String>)> = Input::ALL
        .iter()
        .map(|input| {
            let title = doorbird::title(camera.id.as_str(), *input);
            let ids = favs
                .iter()
                .filter(|f| f.title == title)
                .map(|f| f.id.clone())
                .collect();
            (*input, ids)
        })
        .collect();
    let listed = ours
        .iter()
        .map(|(input, ids)| {
            format!(
                "{}: {}",
                input.as_str(),
                if ids.is_empty() {
                    "none".to_owned()
                } else {
                    ids.join(", ")
                }
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    if ours.iter().any(|(_, ids)| ids.is_empty()) {
        r.push(Step::warn(
            "favorites",
            format!("the bridge's favorites for this camera: {listed}"),
            "the bridge saves them when it runs with [push]; start it and check again",
        ));
        r.push(Step::skip("schedule", "no favorite of the bridge to link"));
        return;
    }
    r.push(Step::ok(
        "favorites",
        format!("the bridge's favorites: {listed}"),
    ));
    let entries = match get(doorbird::SCHEDULE_PATH, doorbird::MAX_SCHEDULE).await {
        Ok((url, text)) => match schedule::parse(&text) {
            Ok(e) => e,
            Err(e) => {
                r.push(Step::fail(
                    "schedule",
                    format!("{url}: {e}"),
                    "the user needs the API-Operator permission",
                ));
                return;
            }
        },
        Err(e) => return fail(r, "schedule", e),
    };
    let unlinked: Vec<&str> = ours
        .iter()
        .filter(|(input, ids)| !ids.iter().any(|id| schedule::linked(&entries, *input, id)))
        .map(|(input, _)| input.as_str())
        .collect();
    if unlinked.is_empty() {
        r.push(Step::ok(
            "schedule",
            "doorbell and motion call the bridge's favorites",
        ));
    } else {
        r.push(Step::warn(
            "schedule",
            format!(
                "not linked to the bridge's favorite: {}",
                unlinked.join(", ")
            ),
            "the bridge links them when it runs (and again after a reboot that lost them)",
        ));
    }
}
