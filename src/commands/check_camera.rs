//! The per-camera steps of `doorbell-bridge check`, in the order the bridge itself needs them:
//! reachable, clock, auth, device, services, pullpoint, snapshot, topics (then the vendor
//! API's steps and the read-only `relay` step). Each step has its
//! own timeout; after a step that makes the rest pointless, the rest are reported skipped.

use std::future::Future;
use std::time::Duration;

use crate::camera::client_for;
use crate::config::{Api, CameraConfig, Events, PushConfig};
use crate::normalise::kinds_for_topic;
use crate::onvif::{self, Client, ClientOptions, Services};

use super::check_push::{self, Pull};
use super::check_report::{CameraReport, Status, Step, TopicReport};

/// Subscription lifetime asked for by the pull-point test (it is unsubscribed at once).
pub const TEST_SUBSCRIPTION: Duration = Duration::from_secs(60);

/// The steps, in order.
pub const STEPS: [&str; 8] = [
    "reachable",
    "clock",
    "auth",
    "device",
    "services",
    "pullpoint",
    "snapshot",
    "topics",
];

/// Runs every step against `camera`; each may take up to `step_timeout`. The ONVIF steps
/// come first, then the vendor API's ([`super::check_vendor`]).
pub async fn check(
    camera: &CameraConfig,
    push: Option<&PushConfig>,
    step_timeout: Duration,
) -> CameraReport {
    let mut manufacturer = None;
    let mut r = onvif_steps(camera, push, step_timeout, &mut manufacturer).await;
    super::check_vendor::steps(&mut r, camera, manufacturer.as_deref(), step_timeout).await;
    super::check_door::step(&mut r, camera, manufacturer.as_deref(), step_timeout).await;
    r
}

/// The ONVIF steps; `manufacturer` gets what GetDeviceInformation said.
async fn onvif_steps(
    camera: &CameraConfig,
    push_cfg: Option<&PushConfig>,
    step_timeout: Duration,
    manufacturer: &mut Option<String>,
) -> CameraReport {
    let mut r = CameraReport::new(camera);
    if !push(&mut r, reachable(&camera.url, step_timeout).await) {
        r.skip_all(&STEPS[1..], "the camera is not reachable");
        return r;
    }
    if camera.api == crate::config::Api::DoorBird {
        // No ONVIF on a DoorBird: its LAN API steps follow (check_vendor), then the snapshot.
        return r;
    }
    let client = match step_client(camera, step_timeout) {
        Ok(c) => c,
        Err(e) => {
            let (detail, hint) = describe(&e);
            r.push(Step::fail("clock", detail, hint));
            r.skip_all(&STEPS[2..], "no ONVIF client for this camera");
            return r;
        }
    };
    let b = Bounded {
        limit: step_timeout,
        url: onvif::error::redact(client.device_url()),
    };
    r.push(clock(&client, camera, &b).await);
    let model = match b.run(client.device_information()).await {
        Ok(info) => {
            r.push(auth_ok(camera));
            r.push(Step::ok("device", device_line(&info)));
            manufacturer.clone_from(&info.manufacturer);
            info.model
        }
        Err(e) if vendor_alone(camera, &e) => {
            let why =
                "the device does not answer ONVIF (HTTP 404); the bridge uses its vendor API alone";
            r.skip_all(&STEPS[2..], why);
            return r;
        }
        Err(e) => {
            let (detail, hint) = describe(&e);
            r.push(Step::fail("auth", detail, hint));
            r.skip_all(&STEPS[3..], "authentication failed");
            return r;
        }
    };
    let services = match b.run(client.services()).await {
        Ok(s) => s,
        Err(e) => {
            let (detail, hint) = describe(&e);
            r.push(Step::fail("services", detail, hint));
            r.skip_all(&STEPS[5..], "the service list could not be read");
            return r;
        }
    };
    r.push(services_step(&services));
    let Some(events) = &services.events else {
        r.push(Step::skip("pullpoint", "no event service"));
        r.push(snapshot(&client, camera, &b).await);
        r.push(Step::skip("topics", "no event service"));
        return r;
    };
    let (pull, step) = if camera.events == Events::Push {
        (Pull::NotTried, Step::skip("pullpoint", "not tried"))
    } else {
        pullpoint(&client, events, &b).await
    };
    let (step, need) = check_push::adjust(camera, push_cfg.is_some(), pull, step);
    r.push(step);
    if let Some(step) =
        check_push::camera_step(&client, camera, events, push_cfg, need, step_timeout).await
    {
        r.push(step);
    }
    r.push(snapshot(&client, camera, &b).await);
    let (step, topics) = topics(&client, camera, events, model.as_deref(), &b).await;
    r.topics = topics;
    r.push(step);
    r
}

/// Whether `err` from the ONVIF device service means a device that has no ONVIF at all while
/// the camera's `api` names a vendor API, which then serves it alone (not a failure).
fn vendor_alone(camera: &CameraConfig, err: &onvif::Error) -> bool {
    matches!(camera.api, Api::Dahua | Api::Hikvision)
        && matches!(err, onvif::Error::Http { status: 404, .. })
}

/// The camera's client for `check`: every request bounded by the step timeout.
pub fn step_client(camera: &CameraConfig, step_timeout: Duration) -> Result<Client, onvif::Error> {
    let options = ClientOptions {
        connect_timeout: step_timeout,
        request_timeout: step_timeout,
        ..ClientOptions::default()
    };
    client_for(camera, options)
}

/// Pushes `step`; whether it did not fail.
fn push(r: &mut CameraReport, step: Step) -> bool {
    let ok = step.status != Status::Fail;
    r.push(step);
    ok
}

async fn reachable(url: &url::Url, limit: Duration) -> Step {
    let host = url.host_str().unwrap_or("").trim_matches(['[', ']']);
    let port = url.port_or_known_default().unwrap_or(80);
    let target = format!("{host}:{port}");
    match tokio::time::timeout(limit, tokio::net::TcpStream::connect((host, port))).await {
        Ok(Ok(_)) => Step::ok("reachable", format!("{target} accepts connections")),
        Ok(Err(e)) => Step::fail("reachable", format!("{target}: {e}"), HINT_ADDRESS),
        Err(_) => Step::fail(
            "reachable",
            format!("{target}: no connection within {limit:?}"),
            HINT_ADDRESS,
        ),
    }
}

fn device_line(info: &crate::event::DeviceInfo) -> String {
    let what = [&info.manufacturer, &info.model]
        .into_iter()
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    let field = |v: &Option<String>| v.clone().unwrap_or_else(|| "?".into());
    format!(
        "{}, firmware {}, serial {}",
        if what.is_empty() {
            "unnamed device"
        } else {
            &what
        },
        field(&info.firmware),
        field(&info.serial)
    )
}

async fn topics(
    client: &Client,
    camera: &CameraConfig,
    events: &url::Url,
    model: Option<&str>,
    b: &Bounded,
) -> (Step, Vec<TopicReport>) {
    match b.run(client.event_topics(events)).await {
        Ok(list) => {
            let topics: Vec<TopicReport> = list
                .into_iter()
                .map(|topic| TopicReport {
                    kinds: kinds_for_topic(
                        &topic,
                        &[],
                        model,
                        &camera.rules,
                        camera.ring_input.as_deref(),
                    ),
                    topic,
                })
                .collect();
            let detail = format!("{} event topic(s) advertised", topics.len());
            (Step::ok("topics", detail), topics)
        }
        Err(e) => {
            let step = Step::warn(
                "topics",
                format!("GetEventProperties failed: {}", describe(&e).0),
                "the list is only a hint: events may still arrive; watch them with `doorbell-bridge events --camera ID`",
            );
            (step, Vec::new())
        }
    }
}

const HINT_ADDRESS: &str = "check the host and port in the camera's url; ONVIF often listens on 80, 8000, 2020 or 8899 rather than the web interface's port";

/// Runs ONVIF calls under the step timeout.
struct Bounded {
    limit: Duration,
    url: String,
}

impl Bounded {
    async fn run<T>(
        &self,
        call: impl Future<Output = Result<T, onvif::Error>>,
    ) -> Result<T, onvif::Error> {
        match tokio::time::timeout(self.limit, call).await {
            Ok(r) => r,
            Err(_) => Err(onvif::Error::Timeout {
                url: self.url.clone(),
                after: self.limit,
            }),
        }
    }
}

async fn clock(client: &Client, camera: &CameraConfig, b: &Bounded) -> Step {
    match b.run(client.sync_clock()).await {
        Ok(offset) => {
            let secs = offset.as_secs_f64();
            let dir = if secs >= 0.0 { "ahead of" } else { "behind" };
            let detail = format!("camera clock {:.1} s {dir} ours", secs.abs());
            if offset.unsigned_abs() > camera.drift_threshold {
                Step::warn(
                    "clock",
                    detail,
                    "the bridge compensates, but enable NTP on the camera so its event times are right",
                )
            } else {
                Step::ok("clock", detail)
            }
        }
        Err(e) => Step::warn(
            "clock",
            format!("the camera did not tell its time: {}", describe(&e).0),
            "the bridge then assumes the camera clock is right; WS-Security fails if it is off by minutes",
        ),
    }
}

fn auth_ok(camera: &CameraConfig) -> Step {
    match &camera.username {
        Some(user) => Step::ok("auth", format!("credentials of user {user} accepted")),
        None => Step::warn(
            "auth",
            "the camera answers without credentials",
            "set username and password if the camera has users; an open camera is anyone's",
        ),
    }
}

fn services_step(s: &Services) -> Step {
    let have = |name: &str, present: bool| format!("{name} {}", if present { "yes" } else { "no" });
    let detail = [
        have("events", s.events.is_some()),
        have("media", s.media.is_some()),
        have("media2", s.media2.is_some()),
    ]
    .join(", ");
    if s.events.is_none() {
        Step::fail(
            "services",
            detail,
            "the camera has no event service: turn ONVIF (and its events) on in the camera, or update its firmware",
        )
    } else if s.media.is_none() && s.media2.is_none() {
        Step::warn(
            "services",
            detail,
            "no media service: events work, snapshots cannot; set snapshot.enabled = false to silence this",
        )
    } else {
        Step::ok("services", detail)
    }
}

async fn pullpoint(client: &Client, events: &url::Url, b: &Bounded) -> (Pull, Step) {
    let sub = match b
        .run(crate::source::pullpoint::subscribe(
            client,
            events,
            TEST_SUBSCRIPTION,
        ))
        .await
    {
        Ok(s) => s,
        Err(e) => {
            let (detail, hint) = describe(&e);
            let hint = match &e {
                onvif::Error::Fault { .. } => "the camera may be out of pull points: an NVR or another integration may hold them; they expire after their lifetime, or reboot the camera".into(),
                _ => hint,
            };
            let refused = matches!(&e, onvif::Error::NotSupported { action, .. } if action.contains("CreatePullPointSubscription"));
            let pull = if refused { Pull::Refused } else { Pull::Usable };
            return (pull, Step::fail("pullpoint", detail, hint));
        }
    };
    let granted = sub.lifetime().as_secs();
    let step = match b.run(client.unsubscribe(&sub)).await {
        Ok(()) => Step::ok(
            "pullpoint",
            format!("subscription created ({granted} s granted) and unsubscribed"),
        ),
        Err(e) => Step::warn(
            "pullpoint",
            format!("created, but Unsubscribe failed: {}", describe(&e).0),
            format!("harmless: the subscription expires by itself within {granted} s"),
        ),
    };
    (Pull::Usable, step)
}

/// The `snapshot` step with `limit` per step (a DoorBird's, after its LAN API steps).
pub async fn snapshot_step(client: &Client, camera: &CameraConfig, limit: Duration) -> Step {
    let b = Bounded {
        limit,
        url: onvif::error::redact(client.device_url()),
    };
    snapshot(client, camera, &b).await
}

async fn snapshot(client: &Client, camera: &CameraConfig, b: &Bounded) -> Step {
    if !camera.snapshot.enabled {
        return Step::skip("snapshot", "snapshots are off for this camera");
    }
    let taken = tokio::time::timeout(b.limit * 2, super::snapshot::take(client, camera)).await;
    match taken {
        Ok(Ok((uri, jpeg))) => Step::ok(
            "snapshot",
            format!(
                "{} bytes of JPEG from {}",
                jpeg.len(),
                onvif::error::redact(&uri)
            ),
        ),
        Ok(Err(crate::snapshot::Error::Onvif(e))) => {
            let (detail, hint) = describe(&e);
            Step::fail("snapshot", detail, hint)
        }
        Ok(Err(e)) => Step::fail(
            "snapshot",
            e.to_string(),
            "set snapshot.profile to another media profile, or snapshot.enabled = false",
        ),
        Err(_) => Step::fail(
            "snapshot",
            format!("no snapshot within {:?}", b.limit * 2),
            "the camera is slow to encode; try again, or set snapshot.enabled = false",
        ),
    }
}

/// An ONVIF error as (what happened, what to try) (pure).
pub fn describe(e: &onvif::Error) -> (String, String) {
    use onvif::Error as E;
    let hint: &str = match e {
        E::Unauthorized { url, detail, hint } => {
            let how = if detail.starts_with("HTTP 401") {
                "HTTP Digest/Basic"
            } else {
                "WS-Security"
            };
            return (
                format!("{url}: credentials rejected by {how} ({detail})"),
                (*hint).to_owned(),
            );
        }
        E::Timeout { .. } => {
            "the camera is slow or unreachable; check the address, or raise --timeout"
        }
        E::Transport { .. } => HINT_ADDRESS,
        E::Http { status: 404, .. } => {
            "the path is not an ONVIF service; the device service is usually /onvif/device_service"
        }
        E::Http { .. } | E::Malformed { .. } | E::TooLarge { .. } => {
            "this is not an ONVIF answer; check the port and path in the camera's url"
        }
        E::NotSupported { .. } => {
            "the camera lacks this ONVIF feature; check that ONVIF is on and the firmware is current"
        }
        E::SubscriptionLost { .. } => "the camera dropped the subscription at once; try again",
        E::Fault { .. } => "the camera refused the request; its reason is quoted",
    };
    let detail = match e {
        E::Transport { url, detail } => format!("{url}: {detail}"),
        other => other.to_string(),
    };
    (detail, hint.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_gets_a_hint_and_credentials_name_the_mechanism() {
        use onvif::Error as E;
        let u = || "http://cam/onvif/device_service".to_owned();
        let errors = [
            E::Unauthorized {
                url: u(),
                detail: "HTTP 401".into(),
                hint: onvif::error::HINT_HTTP_AUTH,
            },
            E::Unauthorized {
                url: u(),
                detail: "env:Sender / ter:NotAuthorized".into(),
                hint: onvif::error::HINT_SOAP_AUTH,
            },
            E::Timeout {
                url: u(),
                after: Duration::from_secs(1),
            },
            E::Transport {
                url: u(),
                detail: "connection refused".into(),
            },
            E::Http {
                url: u(),
                status: 404,
            },
            E::NotSupported {
                url: u(),
                action: "x".into(),
            },
        ];
        assert!(!errors.is_empty());
        for e in &errors {
            let (detail, hint) = describe(e);
            assert!(!detail.is_empty() && !hint.is_empty(), "{e}");
        }
        assert!(describe(&errors[0]).0.contains("HTTP Digest"));
        assert!(describe(&errors[1]).0.contains("WS-Security"));
    }
}
