//! The push part of `doorbell-bridge check`: whether a camera uses or needs ONVIF push, a test
//! Subscribe when it does, and whether the push listener is reachable at its `advertise_url`.
//!
//! What `check` cannot tell: whether the *camera* reaches `advertise_url` (a firewall, a VLAN,
//! NAT in between). It connects from this host, which proves the address and port are right
//! for a client here; the camera's own reach shows when the running bridge gets its Notify.

use std::time::Duration;

use crate::config::{CameraConfig, Events, PushConfig};
use crate::onvif::{self, Client};
use crate::push::route::{PushUrl, new_token};

use super::check_camera::describe;
use super::check_report::{PushReport, Status, Step};

/// Subscription lifetime asked for by the push test (it is unsubscribed at once).
pub const TEST_SUBSCRIPTION: Duration = Duration::from_secs(60);

/// What the PullPoint step found, for the push step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pull {
    /// Not tried (`events = "push"`).
    NotTried,
    /// It worked, or failed for a reason push would not fix.
    Usable,
    /// The camera refused CreatePullPointSubscription as not supported.
    Refused,
}

/// The pullpoint step adjusted for `events`, and the push step, if any (pure): `pull` is
/// what the PullPoint test found, `step` its step.
pub fn adjust(camera: &CameraConfig, push: bool, pull: Pull, step: Step) -> (Step, PushNeed) {
    match (camera.events, pull, push) {
        (Events::Push, _, _) => (
            Step::skip(
                "pullpoint",
                "events = \"push\": the camera pushes its events",
            ),
            PushNeed::Used,
        ),
        (Events::Auto, Pull::Refused, true) => (
            Step::warn(
                "pullpoint",
                step.detail,
                "no PullPoint: with events = \"auto\" the bridge uses ONVIF push instead",
            ),
            PushNeed::Used,
        ),
        (Events::Auto, Pull::Refused, false) => (
            Step::fail(
                "pullpoint",
                step.detail,
                "this camera has no PullPoint; ONVIF push would work around it but needs the \
                 push listener: add [push] with listen and advertise_url to the config",
            ),
            PushNeed::NeedsListener,
        ),
        (Events::Auto, _, true) => (step, PushNeed::NotNeeded),
        _ => (step, PushNeed::Off),
    }
}

/// Whether a camera uses push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushNeed {
    /// It does (or will): test Subscribe.
    Used,
    /// It would, but `[push]` is missing (said in the pullpoint step).
    NeedsListener,
    /// `auto`, and the PullPoint works.
    NotNeeded,
    /// `pull`, or no `[push]` and no need.
    Off,
}

/// The camera's push step, when there is one to show.
pub async fn camera_step(
    client: &Client,
    camera: &CameraConfig,
    events: &url::Url,
    push: Option<&PushConfig>,
    need: PushNeed,
    limit: Duration,
) -> Option<Step> {
    match (need, push) {
        (PushNeed::NotNeeded, _) => Some(Step::skip(
            "push",
            "not needed: the PullPoint works (events = \"auto\" switches if it breaks)",
        )),
        (PushNeed::Used, Some(p)) => Some(subscribe(client, camera, events, p, limit).await),
        _ => None,
    }
}

/// A test Subscribe with a consumer URL under `advertise_url` (a fresh token no listener
/// knows: whatever the camera sends there is refused), then Unsubscribe.
async fn subscribe(
    client: &Client,
    camera: &CameraConfig,
    events: &url::Url,
    push: &PushConfig,
    limit: Duration,
) -> Step {
    let consumer = PushUrl::new(&push.advertise_url, &camera.id, &new_token());
    let made = tokio::time::timeout(
        limit,
        client.subscribe_push(events, consumer.expose(), TEST_SUBSCRIPTION),
    )
    .await;
    let sub = match made {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            let (detail, hint) = describe(&e);
            let hint = match e {
                onvif::Error::NotSupported { .. } => {
                    "the camera supports neither the PullPoint nor push; its events cannot reach the bridge over ONVIF".to_owned()
                }
                _ => hint,
            };
            return Step::fail("push", detail, hint);
        }
        Err(_) => {
            return Step::fail(
                "push",
                format!("Subscribe got no answer within {limit:?}"),
                "check that the camera is reachable; raise --timeout for a slow camera",
            );
        }
    };
    let granted = sub.lifetime().as_secs();
    let _ = tokio::time::timeout(limit, client.unsubscribe(&sub)).await;
    Step::ok(
        "push",
        format!("push subscription to {consumer} accepted ({granted} s granted) and unsubscribed"),
    )
}

/// The listener's report: can the port be bound (the bridge not running), or does something
/// answer at `advertise_url` as the listener does (the bridge running)?
pub async fn listener(push: &PushConfig, limit: Duration) -> PushReport {
    let mut steps = Vec::new();
    let url = &push.advertise_url;
    let target = format!(
        "{}:{}",
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or(80)
    );
    let cannot = "whether the cameras reach it (firewall, VLAN, NAT) cannot be told from here";
    match tokio::time::timeout(limit, probe(url)).await {
        Ok(Ok(404)) => steps.push(Step::ok(
            "reachable",
            format!("{url} answers as the push listener does (404 for an unknown route); {cannot}"),
        )),
        Ok(Ok(status)) => steps.push(Step::warn(
            "reachable",
            format!("{url} answers HTTP {status}, not as the push listener would"),
            "another server may hold that address; advertise_url must reach this bridge's [push] listen",
        )),
        Ok(Err(_)) | Err(_) => match tokio::net::TcpListener::bind(push.listen).await {
            Ok(_) => steps.push(Step::ok(
                "listen",
                format!(
                    "{} is free: the listener opens it when the bridge runs (nothing answers at {target} now); {cannot}",
                    push.listen
                ),
            )),
            Err(e) => steps.push(Step::fail(
                "listen",
                format!("cannot listen on {} ({e}), and nothing answers at {target}", push.listen),
                "pick a free port for push.listen, or check that advertise_url names this host and that port",
            )),
        },
    }
    let ok = steps.iter().all(|s| s.status != Status::Fail);
    PushReport {
        listen: push.listen.to_string(),
        advertise_url: url.to_string(),
        ok,
        steps,
    }
}

/// A GET of an unknown route under `advertise`: the listener answers 404.
async fn probe(advertise: &url::Url) -> Result<u16, reqwest::Error> {
    crate::onvif::install_crypto_provider();
    let probe = PushUrl::new(
        advertise,
        &crate::event::CameraId::new("check").unwrap_or_else(|_| unreachable!()),
        &new_token(),
    );
    let client = reqwest::Client::builder().no_proxy().build()?;
    Ok(client.get(probe.expose()).send().await?.status().as_u16())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera(events: &str) -> CameraConfig {
        let text = format!("[[cameras]]\nid = \"d\"\nurl = \"10.0.0.1\"\nevents = \"{events}\"\n");
        let text = if events == "push" {
            format!(
                "[push]\nlisten = \"0.0.0.0:8090\"\nadvertise_url = \"http://10.0.0.2:8090\"\n{text}"
            )
        } else {
            text
        };
        crate::config::from_toml(&text, std::path::Path::new("t.toml"))
            .unwrap()
            .cameras
            .remove(0)
    }

    #[test]
    fn check_says_whether_push_is_used_or_needed() {
        let refused = || Step::fail("pullpoint", "refused", "x");
        let worked = || Step::ok("pullpoint", "created");
        let table = [
            (
                "push",
                true,
                Pull::NotTried,
                worked(),
                Status::Skip,
                PushNeed::Used,
            ),
            (
                "auto",
                true,
                Pull::Refused,
                refused(),
                Status::Warn,
                PushNeed::Used,
            ),
            (
                "auto",
                false,
                Pull::Refused,
                refused(),
                Status::Fail,
                PushNeed::NeedsListener,
            ),
            (
                "auto",
                true,
                Pull::Usable,
                worked(),
                Status::Ok,
                PushNeed::NotNeeded,
            ),
            (
                "auto",
                false,
                Pull::Usable,
                worked(),
                Status::Ok,
                PushNeed::Off,
            ),
            (
                "pull",
                true,
                Pull::Refused,
                refused(),
                Status::Fail,
                PushNeed::Off,
            ),
        ];
        assert!(!table.is_empty());
        for (events, push, pull, step, status, need) in table {
            let (got, n) = adjust(&camera(events), push, pull, step);
            assert_eq!((got.status, n), (status, need), "{events} {push} {pull:?}");
        }
        let (step, _) = adjust(&camera("auto"), false, Pull::Refused, refused());
        assert!(step.hint.unwrap().contains("add [push]"));
    }
}
