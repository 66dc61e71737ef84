//! The `relay` step of `doorbell-bridge check`: the relays and doors the camera reports, read
//! only (ONVIF GetRelayOutputs, Dahua getDoorStatus, Hikvision door capabilities). Nothing is
//! ever switched: `check` must be safe to run at any time.

use std::time::Duration;

use crate::config::{CameraConfig, Door};
use crate::door::relay;

use super::check_report::{CameraReport, Status, Step};

const HINT: &str = "check the camera's API and relay.door; without a relay API the door cannot be opened from the bridge";

/// Adds the `relay` step. `manufacturer` is what ONVIF said (`None` when it did not answer).
pub async fn step(
    r: &mut CameraReport,
    camera: &CameraConfig,
    manufacturer: Option<&str>,
    step_timeout: Duration,
) {
    if r.steps
        .iter()
        .any(|s| s.step == "reachable" && s.status == Status::Fail)
    {
        r.push(Step::skip("relay", "the camera is not reachable"));
        return;
    }
    let (api, _) = camera.api.resolve(manufacturer);
    let Some(relay_api) = api.relay() else {
        r.push(Step::skip(
            "relay",
            format!("the {} API has no relays", api.as_str()),
        ));
        return;
    };
    let enabled = camera.relay.is_some();
    if !enabled && relay_api != crate::config::RelayApi::Onvif {
        r.push(Step::skip(
            "relay",
            "[cameras.relay] is not enabled (the door is checked once it is)",
        ));
        return;
    }
    let client = match super::check_camera::step_client(camera, step_timeout) {
        Ok(c) => c,
        Err(e) => {
            let (detail, hint) = super::check_camera::describe(&e);
            r.push(Step::fail("relay", detail, hint));
            return;
        }
    };
    let door = camera
        .relay
        .as_ref()
        .map_or(Door::Number(1), |relay| relay.door.clone());
    let found = tokio::time::timeout(step_timeout, relay::describe(&client, relay_api, &door))
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {step_timeout:?}")));
    let via = relay_api.as_str();
    r.push(match (found, enabled) {
        (Ok(list), true) if !list.is_empty() => Step::ok(
            "relay",
            format!(
                "door {door} through the {via} API; the camera reports {}",
                list.join("; ")
            ),
        ),
        (Ok(_), true) => Step::warn(
            "relay",
            format!("the camera reports no relays through the {via} API"),
            HINT,
        ),
        (Err(why), true) => Step::warn("relay", why, HINT),
        (Ok(list), false) if !list.is_empty() => Step::ok(
            "relay",
            format!(
                "the camera reports {}; enable [cameras.relay] to open a door from Home Assistant",
                list.join("; ")
            ),
        ),
        (_, false) => Step::skip(
            "relay",
            "no relays reported; [cameras.relay] is not enabled",
        ),
    });
}
