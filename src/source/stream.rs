//! Vendor HTTP event streams: the Dahua attach stream
//! (`/cgi-bin/eventManager.cgi?action=attach`) and the Hikvision alert stream
//! (`/ISAPI/Event/notification/alertStream`), on the camera's own scheme, host and port with
//! its credentials (Digest, or Basic with the client's warning).
//!
//! Both are one GET whose body never ends. There is no timeout on the whole request: an idle
//! watchdog replaces it. Dahua is asked for a heartbeat every [`DAHUA_HEARTBEAT`]; no byte for
//! three of them ([`DAHUA_IDLE`]) is a dead stream. Hikvision devices send `videoloss`
//! inactive (or an `other` Heartbeat) on their own; no heartbeat or event for
//! [`HIKVISION_IDLE`] is a dead stream. A dead stream, a closed one or a transport error ends
//! the session; it is opened again through the one backoff policy. The body is cut by the
//! pure readers ([`crate::dahua::stream`], [`crate::hikvision::alert`]); garbage is logged once
//! per episode and skipped. Notifications of other channels (`channel` in the config) are
//! dropped here; the rest go to the camera's normaliser, which reads them through the
//! vendor's code table.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, sleep, timeout};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use url::Url;

use super::{Down, Source, SourceMsg};
use crate::backoff::{Backoff, random_jitter};
use crate::config::CameraConfig;
use crate::dahua::stream::{Item, PartReader, boundary_from_content_type};
use crate::event::DeviceInfo;
use crate::hikvision::alert::{Alert, AlertReader};
use crate::onvif::{self, Client, Notification};
use crate::vendor::on_channel;

/// The Dahua source's name in availability reasons and logs.
pub const DAHUA: &str = "dahua";
/// The Hikvision alert stream source's name.
pub const HIKVISION: &str = "hikvision";
/// Heartbeat interval asked of a Dahua device.
pub const DAHUA_HEARTBEAT: Duration = Duration::from_secs(5);
/// No byte for this long (three heartbeats) means the Dahua stream is dead.
pub const DAHUA_IDLE: Duration = Duration::from_secs(15);
/// No heartbeat or event for this long means the Hikvision stream is dead.
pub const HIKVISION_IDLE: Duration = Duration::from_secs(60);
/// How long the device may take to answer the GET with its head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the device information request may take.
pub const INFO_TIMEOUT: Duration = Duration::from_secs(5);

/// Which vendor stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Dahua, Amcrest, Imou, Lorex.
    Dahua,
    /// Hikvision, EZVIZ.
    Hikvision,
}

impl Protocol {
    /// The source it is.
    pub fn source(self) -> Source {
        match self {
            Protocol::Dahua => Source::Dahua,
            Protocol::Hikvision => Source::Hikvision,
        }
    }

    /// The stream's path and query: `choice` 0 is the one to try first; a device that answers
    /// it with 404 is tried on the next (older firmware), `None` when there is none.
    pub fn path(self, choice: usize) -> Option<String> {
        match (self, choice) {
            (Protocol::Dahua, 0) => {
                Some(crate::dahua::attach_path(DAHUA_HEARTBEAT.as_secs() as u8))
            }
            (Protocol::Hikvision, 0) => Some(crate::hikvision::ALERT_STREAM_PATH.to_owned()),
            (Protocol::Hikvision, 1) => Some(crate::hikvision::LEGACY_ALERT_STREAM_PATH.to_owned()),
            _ => None,
        }
    }

    /// How long the stream may stay silent.
    pub fn idle(self) -> Duration {
        match self {
            Protocol::Dahua => DAHUA_IDLE,
            Protocol::Hikvision => HIKVISION_IDLE,
        }
    }

    /// Device information from the vendor API (for devices that do not answer ONVIF).
    async fn device_info(self, client: &Client, base: &Url) -> Option<DeviceInfo> {
        let (path, limit) = match self {
            Protocol::Dahua => (
                crate::dahua::SYSTEM_INFO_PATH,
                crate::dahua::MAX_SYSTEM_INFO,
            ),
            Protocol::Hikvision => (
                crate::hikvision::DEVICE_INFO_PATH,
                crate::hikvision::MAX_DEVICE_INFO,
            ),
        };
        let url = base.join(path).ok()?;
        let body = client.fetch(&url, limit, INFO_TIMEOUT).await.ok()?;
        let text = String::from_utf8_lossy(&body);
        Some(match self {
            Protocol::Dahua => crate::dahua::parse_system_info(&text),
            Protocol::Hikvision => crate::hikvision::parse_device_info(&text),
        })
    }
}

/// What a reader made of some bytes.
#[derive(Debug)]
pub enum Read {
    /// A heartbeat.
    Heartbeat,
    /// An event.
    Notification(Notification),
    /// Bytes that were skipped, and why.
    Garbage(String),
}

/// The pure reader of one protocol's body.
pub enum Reader {
    /// Dahua multipart parts, then `Code=...` bodies.
    Dahua(PartReader),
    /// Hikvision alert documents.
    Hikvision(AlertReader),
}

impl Reader {
    /// A reader for a response with `content_type`.
    pub fn new(protocol: Protocol, content_type: Option<&str>) -> Reader {
        match protocol {
            Protocol::Dahua => Reader::Dahua(PartReader::new(
                content_type.and_then(boundary_from_content_type),
            )),
            Protocol::Hikvision => Reader::Hikvision(AlertReader::new()),
        }
    }

    /// Feeds a chunk; `out` gets what it completes, in order.
    pub fn feed(&mut self, chunk: &[u8], out: &mut impl FnMut(Read)) {
        match self {
            Reader::Dahua(r) => r.feed(chunk, &mut |item| {
                out(match item {
                    Item::Heartbeat => Read::Heartbeat,
                    Item::Part(body) => match crate::dahua::codes::parse(&body) {
                        Ok(code) => Read::Notification(code.to_notification()),
                        Err(e) => Read::Garbage(e.to_string()),
                    },
                    Item::Garbage(g) => Read::Garbage(g.to_string()),
                })
            }),
            Reader::Hikvision(r) => r.feed(chunk, &mut |alert| {
                out(match alert {
                    Alert::Heartbeat => Read::Heartbeat,
                    Alert::Event(n) => Read::Notification(n),
                    Alert::Garbage(e) => Read::Garbage(e.to_string()),
                })
            }),
        }
    }
}

/// The origin (scheme, host, port) of the camera's configured URL: vendor APIs live there.
pub fn origin(device_url: &Url) -> Url {
    let mut base = device_url.clone();
    base.set_path("/");
    base.set_query(None);
    base.set_fragment(None);
    let _ = base.set_username("");
    let _ = base.set_password(None);
    base
}

fn not_found(err: &onvif::Error) -> bool {
    matches!(err, onvif::Error::Http { status: 404, .. })
}

/// The path to try after `err` answered path `choice`: the next one when the device said 404
/// and there is one, `None` to give up this attempt.
pub fn next_path(protocol: Protocol, choice: usize, err: &onvif::Error) -> Option<usize> {
    (not_found(err) && protocol.path(choice + 1).is_some()).then_some(choice + 1)
}

/// Opens `protocol`'s stream through `client` on path `choice`, moving on to the next path
/// while the device answers 404 (and back to the first after the last one's 404, for the
/// next attempt: the device may be updated). `head_timeout` bounds each request's head.
pub async fn open(
    client: &Client,
    protocol: Protocol,
    choice: &mut usize,
    head_timeout: Duration,
) -> Result<(Url, reqwest::Response), onvif::Error> {
    let base = origin(client.device_url());
    loop {
        let path = protocol.path(*choice).unwrap_or_default();
        let url = base.join(&path).map_err(|e| onvif::Error::Transport {
            url: onvif::error::redact(&base),
            detail: format!("cannot build the event stream URL: {e}"),
        })?;
        match client.open_stream(&url, head_timeout).await {
            Ok(response) => return Ok((url, response)),
            Err(e) => match next_path(protocol, *choice, &e) {
                Some(next) => {
                    info!(
                        source = protocol.source().name(),
                        "{e}; trying the older path {}",
                        protocol.path(next).unwrap_or_default()
                    );
                    *choice = next;
                }
                None => {
                    if not_found(&e) {
                        *choice = 0;
                    }
                    return Err(e);
                }
            },
        }
    }
}

/// Why a session ended.
enum End {
    Shutdown,
    Failed(onvif::Error),
}

/// A camera's vendor event stream source.
pub struct VendorStream {
    config: Arc<CameraConfig>,
    client: Client,
    protocol: Protocol,
}

impl VendorStream {
    /// The `protocol` stream of `config`'s camera, through `client`.
    pub fn new(config: Arc<CameraConfig>, client: Client, protocol: Protocol) -> Self {
        Self {
            config,
            client,
            protocol,
        }
    }

    /// Runs until `shutdown` (or until the camera task is gone), reporting on `tx`.
    pub async fn run(self, tx: mpsc::Sender<SourceMsg>, shutdown: CancellationToken) {
        let source = self.protocol.source();
        let name = source.name();
        let mut backoff = Backoff::with_max(self.config.max_backoff);
        let mut previous = None;
        let mut reported: Option<bool> = None;
        let mut choice = 0;
        loop {
            let end = tokio::select! {
                () = shutdown.cancelled() => break,
                end = Box::pin(self.session(&tx, &mut backoff, &mut reported, &mut choice)) => end,
            };
            let err = match end {
                End::Shutdown => break,
                End::Failed(e) => e,
            };
            if reported != Some(false) {
                reported = Some(false);
                let down = SourceMsg::Down(Box::new(Down {
                    source,
                    reason: err.to_string(),
                }));
                if tx.send(down).await.is_err() {
                    break;
                }
            }
            let failure = super::pullpoint::failure(err.retry());
            if previous != Some(failure) {
                info!(source = name, error = %err, "event stream ended; opening it again");
            }
            let delay = backoff.after(failure, previous, Instant::now(), random_jitter());
            debug!(source = name, "{err:#}; retry in {delay:?}");
            previous = Some(failure);
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = sleep(delay) => {}
            }
        }
    }

    /// Opens the stream (on path `choice`, moving to the next on a 404) and reads it until it
    /// fails or shutdown.
    async fn session(
        &self,
        tx: &mpsc::Sender<SourceMsg>,
        backoff: &mut Backoff,
        reported: &mut Option<bool>,
        choice: &mut usize,
    ) -> End {
        let source = self.protocol.source();
        let name = source.name();
        let base = origin(self.client.device_url());
        let (url, mut response) =
            match open(&self.client, self.protocol, choice, HEAD_TIMEOUT).await {
                Ok(opened) => opened,
                Err(e) => return End::Failed(e),
            };
        // Asked once the stream is open, so a device that is failing costs one request per
        // attempt; the open stream waits in its buffers meanwhile.
        let info = self
            .protocol
            .device_info(&self.client, &base)
            .await
            .unwrap_or_default();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut reader = Reader::new(self.protocol, content_type.as_deref());
        backoff.succeeded(Instant::now());
        *reported = Some(true);
        info!(source = name, "event stream open");
        let up = SourceMsg::Up {
            source,
            info: Box::new(info),
        };
        if tx.send(up).await.is_err() {
            return End::Shutdown;
        }
        let idle = self.protocol.idle();
        let mut garbage_logged = false;
        let mut last_sign = Instant::now();
        loop {
            let left = idle.saturating_sub(last_sign.elapsed());
            let chunk = match timeout(left, response.chunk()).await {
                Err(_) => {
                    return End::Failed(onvif::Error::Timeout {
                        url: onvif::error::redact(&url),
                        after: idle,
                    });
                }
                Ok(Err(e)) => {
                    return End::Failed(onvif::Error::Transport {
                        url: onvif::error::redact(&url),
                        detail: onvif::error::transport_detail(e),
                    });
                }
                Ok(Ok(None)) => {
                    return End::Failed(onvif::Error::Transport {
                        url: onvif::error::redact(&url),
                        detail: "the device closed the event stream".into(),
                    });
                }
                Ok(Ok(Some(chunk))) => chunk,
            };
            if self.protocol == Protocol::Dahua {
                last_sign = Instant::now();
            }
            let mut reads = Vec::new();
            reader.feed(&chunk, &mut |r| reads.push(r));
            for read in reads {
                match read {
                    Read::Heartbeat => {
                        last_sign = Instant::now();
                        garbage_logged = false;
                    }
                    Read::Notification(n) => {
                        last_sign = Instant::now();
                        garbage_logged = false;
                        if !on_channel(&n, self.config.channel) {
                            continue;
                        }
                        if tx.send(SourceMsg::Notification(Box::new(n))).await.is_err() {
                            return End::Shutdown;
                        }
                    }
                    Read::Garbage(why) => {
                        if garbage_logged {
                            debug!(source = name, "skipped: {why}");
                        } else {
                            warn!(
                                source = name,
                                "the event stream sent something unreadable ({why}); skipped it and reading on"
                            );
                            garbage_logged = true;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16) -> onvif::Error {
        onvif::Error::Http {
            url: "http://cam/".into(),
            status,
        }
    }

    #[test]
    fn a_hikvision_404_moves_on_to_the_legacy_alert_stream_and_only_a_404() {
        assert_eq!(next_path(Protocol::Hikvision, 0, &http(404)), Some(1));
        assert_eq!(
            Protocol::Hikvision.path(1).as_deref(),
            Some(crate::hikvision::LEGACY_ALERT_STREAM_PATH)
        );
        assert_eq!(next_path(Protocol::Hikvision, 1, &http(404)), None);
        assert_eq!(next_path(Protocol::Hikvision, 0, &http(500)), None);
        assert_eq!(next_path(Protocol::Dahua, 0, &http(404)), None);
    }
}
