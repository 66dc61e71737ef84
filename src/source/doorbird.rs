//! The DoorBird event source: the device calls a URL of the push listener on each press and
//! on motion.
//!
//! On start the source registers a route on the listener ([`crate::push::Push::register`]:
//! GET only, from the camera's address unless `push_from` says otherwise, a small body) and
//! then registers on the device, through the LAN API with HTTP Basic:
//!
//! 1. `info.cgi`: what the device is (and that the credentials work);
//! 2. `favorites.cgi`: the favorites titled as the bridge's for this camera
//!    ([`crate::doorbird::title`]) that do not hold this run's URL are removed (an earlier
//!    run's, duplicates); for each input (`doorbell`, `motion`) one favorite holds the route
//!    URL with `event=<input>`, saved when missing;
//! 3. `schedule.cgi`: every entry of each input gets one output calling its favorite, and
//!    loses the outputs that called the removed ones; other outputs are kept as they were.
//!
//! The source is up once that succeeded. Every [`CHECK_INTERVAL`] it reads the favorites and
//! the schedule again: that is the liveness check (a device that does not answer is down,
//! retried through [`crate::backoff`]), and it notices a device that came back from a reboot
//! without the link (favorites survive a reboot; a lost schedule entry is linked again).
//! Requests on the route become `doorbird:<event>` notifications; the normaliser reads them
//! through [`crate::doorbird::rules`]. The route token is never logged: requests that carry it
//! are logged by path only.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use url::Url;

use super::{Context, Down, Source, SourceMsg};
use crate::backoff::{Backoff, Failure, random_jitter};
use crate::config::CameraConfig;
use crate::doorbird::{self, Input, favorites, schedule};
use crate::event::DeviceInfo;
use crate::onvif::{self, Client, error::redact};
use crate::push::{Expect, Pushed, Route};

/// This source's name in availability reasons and logs.
pub const NAME: &str = "doorbird";
/// How often the favorites and the schedule are read again (liveness, lost links).
pub const CHECK_INTERVAL: Duration = Duration::from_secs(10);
/// How long one LAN API request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest body a request on the route may carry: the device sends a GET with none.
pub const MAX_PUSH_BODY: usize = 1024;
/// The hint for rejected credentials.
pub const HINT_AUTH: &str = "check the username and password of the DoorBird user; it needs the \
                             API-Operator permission (DoorBird app: Administration, Users)";

/// The bridge's favorites on the device, one per input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// `(input, favorite id)`, in [`Input::ALL`] order.
    pub ids: Vec<(Input, String)>,
    /// Stale favorites removed on the way.
    pub removed: usize,
}

/// A DoorBird camera's event source.
pub struct DoorBird {
    ctx: Context,
}

impl DoorBird {
    /// The source of `ctx.config`'s camera.
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    /// Runs until `shutdown` (or until the camera task is gone), reporting on `tx`.
    pub async fn run(self, tx: mpsc::Sender<SourceMsg>, shutdown: CancellationToken) {
        let config = self.ctx.config.clone();
        let Some(push) = self.ctx.push.clone() else {
            let reason = "no push listener: a DoorBird calls the bridge, so add a [push] section \
                          with listen and advertise_url";
            let _ = tx.send(down(reason.to_owned())).await;
            return;
        };
        let mut backoff = Backoff::with_max(config.max_backoff);
        let mut previous: Option<Failure> = None;
        let mut reported: Option<bool> = None;
        // A host name is resolved to the address its calls must come from; DNS may be late.
        let from = loop {
            match crate::push::expected_peer(&config).await {
                Ok(from) => break from,
                Err(why) => {
                    if reported.is_none() {
                        reported = Some(false);
                        warn!("DoorBird: {why}; trying again");
                        if tx.send(down(why)).await.is_err() {
                            return;
                        }
                    }
                    let delay = backoff.failed(Instant::now(), random_jitter());
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = sleep(delay) => {}
                    }
                }
            }
        };
        let mut route = push.register(
            &config.id,
            Expect {
                method: http::Method::GET,
                from,
                max_body: MAX_PUSH_BODY,
            },
        );
        let Some(urls) = event_urls(&route) else {
            let _ = tx
                .send(down("push.advertise_url does not make a valid URL".into()))
                .await;
            return;
        };
        let session = Session {
            client: &self.ctx.client,
            config: &config,
            base: super::stream::origin(self.ctx.client.device_url()),
            urls,
        };
        loop {
            let registered = tokio::select! {
                () = shutdown.cancelled() => return,
                r = Box::pin(session.register()) => r,
            };
            let err = match registered {
                Ok((info, reg)) => {
                    backoff.succeeded(Instant::now());
                    previous = None;
                    info!(
                        removed = reg.removed,
                        "registered on the DoorBird: favorites {} linked to doorbell and motion",
                        ids_text(&reg)
                    );
                    reported = Some(true);
                    let up = SourceMsg::Up {
                        source: Source::DoorBird,
                        info: Box::new(info),
                    };
                    if tx.send(up).await.is_err() {
                        return;
                    }
                    match session.serve(&reg, &mut route, &tx, &shutdown).await {
                        Served::Shutdown => return,
                        Served::Relink => continue,
                        Served::Failed(e) => e,
                    }
                }
                Err(e) => e,
            };
            if reported != Some(false) {
                reported = Some(false);
                if tx.send(down(err.to_string())).await.is_err() {
                    return;
                }
            }
            let failure = super::pullpoint::failure(err.retry());
            if previous != Some(failure) {
                warn!("DoorBird: {err}; trying again");
            }
            let delay = backoff.after(failure, previous, Instant::now(), random_jitter());
            debug!("DoorBird: {err:#}; retry in {delay:?}");
            previous = Some(failure);
            // Requests keep being delivered while the device is retried.
            let wait = sleep(delay);
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = &mut wait => break,
                    pushed = route.rx.recv() => match pushed {
                        Some(p) => if !forward(&p, &tx).await { return },
                        None => return,
                    },
                }
            }
        }
    }
}

fn down(reason: String) -> SourceMsg {
    SourceMsg::Down(Box::new(Down {
        source: Source::DoorBird,
        reason,
    }))
}

fn ids_text(reg: &Registered) -> String {
    reg.ids
        .iter()
        .map(|(input, id)| format!("{id} ({})", input.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The favorite URL of each input on `route`.
fn event_urls(route: &Route) -> Option<Vec<(Input, Url)>> {
    Input::ALL
        .iter()
        .map(|i| {
            doorbird::event_url(route.url_str(), *i)
                .ok()
                .map(|u| (*i, u))
        })
        .collect()
}

/// Hands one request of the device to the camera task; `false` when it is gone.
async fn forward(pushed: &Pushed, tx: &mpsc::Sender<SourceMsg>) -> bool {
    match doorbird::to_notification(&pushed.query) {
        Some(n) => tx.send(SourceMsg::Notification(Box::new(n))).await.is_ok(),
        None => {
            debug!(
                "DoorBird: a request from {} named no event; ignored",
                pushed.peer
            );
            true
        }
    }
}

/// How serving ended.
enum Served {
    Shutdown,
    /// The check found the link lost: register again at once.
    Relink,
    Failed(onvif::Error),
}

/// One camera's LAN API conversation.
struct Session<'a> {
    client: &'a Client,
    config: &'a Arc<CameraConfig>,
    base: Url,
    urls: Vec<(Input, Url)>,
}

impl Session<'_> {
    /// Delivers requests until shutdown, a failed check or a lost link.
    async fn serve(
        &self,
        reg: &Registered,
        route: &mut Route,
        tx: &mpsc::Sender<SourceMsg>,
        shutdown: &CancellationToken,
    ) -> Served {
        let mut checks = interval_at(Instant::now() + CHECK_INTERVAL, CHECK_INTERVAL);
        checks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Served::Shutdown,
                pushed = route.rx.recv() => match pushed {
                    Some(p) => if !forward(&p, tx).await { return Served::Shutdown },
                    None => return Served::Shutdown,
                },
                _ = checks.tick() => match Box::pin(self.linked(reg)).await {
                    Ok(true) => {}
                    Ok(false) => {
                        info!("the DoorBird no longer links its favorites (a reboot or a change in the app); linking again");
                        return Served::Relink;
                    }
                    Err(e) => return Served::Failed(e),
                },
            }
        }
    }

    /// Whether the device still holds our favorites and links both inputs to them.
    async fn linked(&self, reg: &Registered) -> Result<bool, onvif::Error> {
        let favs = self.favorites().await?;
        let entries = self.schedule().await?;
        Ok(reg.ids.iter().all(|(input, id)| {
            let url = self.url_of(*input);
            let title = doorbird::title(self.config.id.as_str(), *input);
            favorites::find(&favs, &title, url).as_deref() == Some(id.as_str())
                && schedule::linked(&entries, *input, id)
        }))
    }

    fn url_of(&self, input: Input) -> &str {
        self.urls
            .iter()
            .find(|(i, _)| *i == input)
            .map_or("", |(_, u)| u.as_str())
    }

    /// Device information, favorites and schedule, as the module doc says.
    async fn register(&self) -> Result<(DeviceInfo, Registered), onvif::Error> {
        let info = self.info().await?;
        let camera = self.config.id.as_str();
        let favs = self.favorites().await?;
        let mut stale: Vec<String> = Vec::new();
        let mut kept: Vec<(Input, Option<String>)> = Vec::new();
        for input in Input::ALL {
            let plan = favorites::plan(&favs, &doorbird::title(camera, input), self.url_of(input));
            for id in &plan.remove {
                let url = favorites::remove_url(&self.base, id).map_err(|e| self.bad_url(e))?;
                self.get(&url, doorbird::MAX_CHANGE_ANSWER).await?;
            }
            stale.extend(plan.remove);
            kept.push((input, plan.keep));
        }
        let mut saved = false;
        for (input, keep) in &kept {
            if keep.is_none() {
                let title = doorbird::title(camera, *input);
                let url = favorites::save_url(&self.base, &title, self.url_of(*input))
                    .map_err(|e| self.bad_url(e))?;
                // The request carries the route URL: errors name the path only.
                self.get(&url, doorbird::MAX_CHANGE_ANSWER)
                    .await
                    .map_err(|e| e.with_url(path_only(&url)))?;
                saved = true;
            }
        }
        let favs = if saved { self.favorites().await? } else { favs };
        let mut ids = Vec::new();
        for (input, _) in &kept {
            let title = doorbird::title(camera, *input);
            let id = favorites::find(&favs, &title, self.url_of(*input)).ok_or_else(|| {
                onvif::Error::Malformed {
                    url: path_only(
                        &self
                            .base
                            .join(doorbird::FAVORITES_PATH)
                            .unwrap_or_else(|_| self.base.clone()),
                    ),
                    what: format!(
                        "the DoorBird did not keep the favorite {title:?} it was asked to save"
                    ),
                }
            })?;
            ids.push((*input, id));
        }
        let entries = self.schedule().await?;
        let url = schedule::url(&self.base).map_err(|e| self.bad_url(e))?;
        for (input, id) in &ids {
            for entry in schedule::relink(&entries, *input, id, &stale) {
                self.client
                    .post(
                        &url,
                        "application/json",
                        &entry.to_json(),
                        doorbird::MAX_CHANGE_ANSWER,
                        REQUEST_TIMEOUT,
                    )
                    .await
                    .map_err(auth_hint)?;
            }
        }
        Ok((
            info,
            Registered {
                ids,
                removed: stale.len(),
            },
        ))
    }

    async fn info(&self) -> Result<DeviceInfo, onvif::Error> {
        let url = self
            .base
            .join(doorbird::INFO_PATH)
            .map_err(|e| self.bad_url(e))?;
        let body = self.get(&url, doorbird::MAX_INFO).await?;
        doorbird::parse_info(&String::from_utf8_lossy(&body)).map_err(|e| malformed(&url, e))
    }

    async fn favorites(&self) -> Result<Vec<favorites::Favorite>, onvif::Error> {
        let url = favorites::list_url(&self.base).map_err(|e| self.bad_url(e))?;
        let body = self.get(&url, doorbird::MAX_FAVORITES).await?;
        favorites::parse(&String::from_utf8_lossy(&body)).map_err(|e| malformed(&url, e))
    }

    async fn schedule(&self) -> Result<Vec<schedule::Entry>, onvif::Error> {
        let url = schedule::url(&self.base).map_err(|e| self.bad_url(e))?;
        let body = self.get(&url, doorbird::MAX_SCHEDULE).await?;
        schedule::parse(&String::from_utf8_lossy(&body)).map_err(|e| malformed(&url, e))
    }

    async fn get(&self, url: &Url, limit: u64) -> Result<bytes::Bytes, onvif::Error> {
        self.client
            .fetch(url, limit, REQUEST_TIMEOUT)
            .await
            .map_err(auth_hint)
    }

    fn bad_url(&self, e: url::ParseError) -> onvif::Error {
        onvif::Error::Transport {
            url: redact(&self.base),
            detail: format!("cannot build a DoorBird API URL: {e}"),
        }
    }
}

/// Rejected credentials get the DoorBird's own hint (the API-Operator permission).
fn auth_hint(e: onvif::Error) -> onvif::Error {
    match e {
        onvif::Error::Unauthorized { url, detail, .. } => onvif::Error::Unauthorized {
            url,
            detail,
            hint: HINT_AUTH,
        },
        other => other,
    }
}

fn malformed(url: &Url, e: doorbird::Error) -> onvif::Error {
    onvif::Error::Malformed {
        url: path_only(url),
        what: e.to_string(),
    }
}

/// `url` without its query (and credentials): what a log line may name.
fn path_only(url: &Url) -> String {
    let mut clean = url.clone();
    clean.set_query(None);
    redact(&clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logged_url_never_carries_the_query() {
        let url = Url::parse(
            "http://10.0.0.9/bha-api/favorites.cgi?action=save&value=http%3A%2F%2Fh%2Fpush%2Fc%2FTOKEN",
        )
        .unwrap();
        let text = path_only(&url);
        assert_eq!(text, "http://10.0.0.9/bha-api/favorites.cgi");
    }

    #[test]
    fn rejected_credentials_name_the_api_operator_permission() {
        let e = auth_hint(onvif::Error::Unauthorized {
            url: "http://10.0.0.9/bha-api/info.cgi".into(),
            detail: "HTTP 401".into(),
            hint: onvif::error::HINT_HTTP_AUTH,
        });
        assert!(e.to_string().contains("API-Operator"), "{e}");
        assert_eq!(e.retry(), onvif::Retry::Fatal);
    }
}
