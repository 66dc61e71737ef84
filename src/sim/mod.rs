//! A simulated ONVIF doorbell, optionally a Dahua or Hikvision one: real SOAP and vendor HTTP
//! APIs on a local port, for the tests and for `doorbell-bridge demo`.
//!
//! It speaks to any conforming ONVIF client: SOAP 1.2 (and 1.1), WS-Security UsernameToken
//! digests checked against its own (skewable) clock, optional HTTP Digest, PullPoint
//! subscriptions with a real long poll, Reolink-shaped doorbell, motion and person
//! notifications, and a JPEG snapshot behind HTTP Digest. [`SimDoorbell`] is the control
//! handle: press the button, inject raw messages, inject faults (offline, slow, HTTP 500,
//! garbage, empty polls), reboot, skew the clock, read counters.
//!
//! # Wire contract
//!
//! - Paths: `/onvif/device_service`, `/onvif/media_service` (ver10), `/onvif/media2_service`
//!   (ver20), `/onvif/event_service`, subscriptions at `/onvif/subscription/{id}`, snapshot
//!   `GET /snapshot.jpg`.
//! - Subscription reference: `wsa:Address` plus `wsa:ReferenceParameters` holding
//!   `<dd:SubscriptionId xmlns:dd="urn:doorbell-bridge:sim">{id}</dd:SubscriptionId>`; a
//!   subscription request is routed by its path, or (at `/onvif/event_service`) by that
//!   element echoed in the SOAP header.
//! - Authentication failure (WS-Security): SOAP fault `env:Sender` / `ter:NotAuthorized` with
//!   HTTP 400, the SOAP 1.2 HTTP binding's status for Sender faults (SOAP 1.1 requests get
//!   500). HTTP Digest failure: 401 with a `WWW-Authenticate: Digest` challenge.
//! - Unknown or expired subscription: `env:Sender` / `wsrf-r:ResourceUnknownFault`
//!   (`http://docs.oasis-open.org/wsrf/r-2`), HTTP 400.
//! - Only GetSystemDateAndTime works without credentials. WS-Security accepts only
//!   PasswordDigest, with `wsu:Created` within [`MAX_CREATED_SKEW`] of the device clock.
//! - HTTP Digest: realm `doorbell-bridge-sim`, MD5, `qop=auth`; the uri field must be the
//!   request target; a nonce from before a reboot gets a new challenge with `stale=true`.
//! - Responses use the request's SOAP version. CreatePullPointSubscription ignores `Filter`
//!   (every topic is delivered), defaults to 60 s, caps lifetimes at 1 h and allows
//!   [`MAX_SUBSCRIPTIONS`] at once (`wsnt:SubscribeCreationFailedFault` beyond). PullMessages
//!   caps Timeout at [`MAX_PULL_TIMEOUT`]; Renew answers the new TerminationTime.
//! - Operations answer only at their own service path (else `ter:ActionNotSupported`).
//! - Push (WS-BaseNotification): `wsnt:Subscribe` at `/onvif/event_service` with a
//!   ConsumerReference `wsa:Address` (http(s), at most 512 bytes) makes a subscription like a
//!   pull point (same lifetime rules, same limit, same Renew and Unsubscribe); its messages,
//!   Initialized state first, are POSTed to the consumer as a SOAP 1.2 `wsnt:Notify` by a real
//!   HTTP client ([`NOTIFY_TIMEOUT`]); a reboot forgets them with the rest.
//!   [`SimDoorbell::set_pull_point`] makes CreatePullPointSubscription `ter:ActionNotSupported`
//!   or every PullMessages a Receiver fault ([`PullPointMode`]); [`SimStats`] counts push
//!   subscriptions and Notify deliveries, [`SimDoorbell::push_consumers`] lists the consumers.
//! - RTSP: [`rtsp`] on its own port ([`SimDoorbell::rtsp_url`], what GetStreamUri answers for
//!   either profile): H.264 made by [`h264`], Digest with the ONVIF account, [`RtspFault`]s.
//! - WS-Discovery: a UDP responder on the same IP ([`SimDoorbell::discovery_addr`]) answers
//!   directed Probes with a ProbeMatch named "Simulated Doorbell".
//!
//! # Vendor personalities
//!
//! [`SimOptions::personality`] picks the device; every personality serves on the one port, and
//! vendor paths answer 404 on another personality. All vendor requests need HTTP Digest (as
//! above). [`SimOptions::onvif`] `false` plays a device that answers only its vendor API:
//! `/onvif/*` and `/snapshot.jpg` answer 404. ONVIF GetDeviceInformation reports the
//! personality's [`Identity`] (Amcrest AD410/AD110, Dahua VTO2202F-P, HIKVISION DS-KV6113-WPE1
//! or DS-2CD2185FWD-I). On a vendor personality [`SimDoorbell::press`] sends nothing on ONVIF
//! (as the real devices); motion and person go to both ONVIF and the vendor stream.
//!
//! - Dahua: `GET /cgi-bin/eventManager.cgi?action=attach&codes=[All]&heartbeat=N` (N 1-60,
//!   else 400; no heartbeat parameter, no heartbeats) answers 200
//!   `multipart/x-mixed-replace; boundary=myboundary` and never ends: parts
//!   `--myboundary`, `Content-Type: text/plain`, `Content-Length: L`, a blank line, the body
//!   (`Heartbeat` every N s, or `Code=X;action=Start|Stop|Pulse;index=0[;data={JSON}]`), CRLF
//!   CRLF. A press sends the model's sequence (AD410: CrossRegionDetection Start (Human),
//!   AlarmLocal Start, CallNoAnswered Start, AlarmLocal Stop, CallNoAnswered Stop; AD110:
//!   `_DoTalkAction_` Pulse `{"Action":"Invite",..}`, CallNoAnswered Start; VTO: BackKeyLight
//!   Pulse State 1, CallNoAnswered Start); AD110 motion is ProfileAlarmTransmit (SenseMethod
//!   PassiveInfrared) plus AlarmLocal, other models VideoMotion; person is SmartMotionHuman.
//!   [`DahuaQuirks`] ([`SimDoorbell::set_dahua_quirks`]) switch the wild-type framing.
//!   `GET /cgi-bin/snapshot.cgi?channel=1` is the JPEG; `GET /cgi-bin/magicBox.cgi?action=`
//!   `getSystemInfo` (`deviceType=`, `serialNumber=` ... lines), `getDeviceType` (`type=`),
//!   `getSoftwareVersion`, `getMachineName`.
//! - Hikvision: `GET /ISAPI/Event/notification/alertStream` answers 200 (with
//!   [`HikQuirks::legacy_path`] 404, and `/Event/notification/alertStream` answers instead)
//!   `multipart/mixed; boundary=boundary` (door station: `MIME_boundary`; with
//!   [`HikQuirks::boundary_mismatch`] the header says `myboundary`), parts `--boundary`,
//!   Content-Type, `Content-Length: L`, the document, CRLF. Cameras send `EventNotificationAlert`
//!   XML (ver20 namespace), door stations the same fields as JSON. Heartbeat: `videoloss`
//!   inactive every [`SimOptions::alert_heartbeat`]. Motion is `VMD`, person `fielddetection`
//!   with `detectionTarget` human. A KV6113 press posts `AccessControllerEvent` (major 3,
//!   minor 1024, one picture) and an `image/jpeg` part, and `GET
//!   /ISAPI/VideoIntercom/callStatus?format=json` answers `{"CallStatus":{"status":"ring"}}`
//!   until [`SimDoorbell::answer`] (`onCall`), [`SimDoorbell::hang_up`] or
//!   [`SimOptions::ring_for`] (`idle`); cameras answer 404 there. `GET /ISAPI/System/deviceInfo`
//!   is `DeviceInfo` XML (deviceName, model, serialNumber, firmwareVersion, macAddress);
//!   `GET /ISAPI/Streaming/channels/101/picture` the JPEG.
//! - DoorBird ([`Personality::DoorBird`], a D2101V): the LAN API under `/bha-api/` behind
//!   HTTP Basic (realm `DoorBird`; wrong credentials are 401 with the challenge and count as
//!   auth failures). `info.cgi` answers `{"BHA":{"RETURNCODE":"1","VERSION":[{FIRMWARE,
//!   BUILD_NUMBER, PRIMARY_MAC_ADDR, RELAYS, DEVICE-TYPE}]}}`; `image.cgi` the JPEG with
//!   `X-Timestamp`; `favorites.cgi` lists `{"sip":{},"http":{"<id>":{"title","value"}}}`, and
//!   with `action=save&type=http&title=&value=` (optional `id=` to change one) or
//!   `action=remove&type=http&id=` changes them (`{"BHA":{"RETURNCODE":"1"}}`; 400 for an
//!   unknown id). `schedule.cgi` GET lists the entries (`[{input, param, output[]}]`), POST
//!   with one entry as JSON replaces the entry of the same input and param, `action=remove`
//!   deletes one. A press calls (a real HTTP GET) every favorite an enabled `http` output of a
//!   `doorbell` entry names, motion (rising) those of `motion`; [`SimStats::favorite_calls`]
//!   and [`SimStats::favorite_call_failures`] count the outcomes. Favorites and schedule
//!   survive [`SimDoorbell::reboot`]; [`SimDoorbell::lose_schedule`] plays a device that lost
//!   its schedule, [`SimDoorbell::seed_favorite`] a stale or foreign favorite.
//! - Doors ([`SimDoorbell::door_switches`] records every switch with its instant): ONVIF
//!   device service GetRelayOutputs lists `Door1` (Bistable) and `Door2` (Monostable, PT2S);
//!   SetRelayOutputState (`active`/`inactive`) and SetRelayOutputSettings switch them (unknown
//!   token: `ter:InvalidArgVal`). Dahua VTO: `GET /cgi-bin/accessControl.cgi?action=openDoor&`
//!   `channel=N&UserID=101&Type=Remote` answers `OK` (channel 1 or 2; other models and
//!   requests `Error`, 400), `action=getDoorStatus` `Info.status=Close`. Hikvision door station:
//!   `PUT /ISAPI/AccessControl/RemoteControl/door/N` (1 or 2) with
//!   `<RemoteControlDoor><cmd>open</cmd></RemoteControlDoor>` answers a `ResponseStatus` with
//!   `statusCode` 1 (else 400, statusCode 4); `GET .../door/capabilities` the door range. All
//!   vendor door requests need HTTP Digest (with the request's own method). After an open a
//!   door station reports its door open on the event stream (VTO `DoorStatus` Pulse
//!   `{"Status":"Open"}`, station `AccessControllerEvent` 5/25), and closed on
//!   [`SimDoorbell::close_door`] (`Close`, 5/26).
//! - [`Fault::Stall`]: open vendor streams and those opened during it go silent for good (no
//!   heartbeat, no event) with the connection open; a stream opened after it behaves.
//! - Each open stream holds at most [`MAX_QUEUED_BURSTS`] bursts for a slow reader (the oldest
//!   are dropped). [`SimStats::streams_opened`], [`SimStats::streams_open`] and
//!   [`SimStats::call_status_polls`] count them; [`SimDoorbell::wait_for_streams`] waits for one.

pub mod auth;
mod dahua;
mod device;
mod discovery;
mod door;
mod doorbird;
mod events;
pub mod h264;
mod hikvision;
mod http;
mod jpeg;
mod listener;
mod media;
mod messages;
mod push;
pub mod rtsp;
mod service;
mod soap;
mod state;
mod vendor;
mod xsd;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::SignedDuration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use self::messages::Operation;
use self::service::not_supported;
use self::state::{REBOOT_CLOCK, Shared};
use self::vendor::Burst;

pub use self::auth::{MAX_CREATED_SKEW, password_digest};
pub use self::dahua::{BOUNDARY as DAHUA_BOUNDARY, DahuaQuirks, MAX_HEARTBEAT_SECS};
pub use self::discovery::NAME as DISCOVERY_NAME;
pub use self::door::{DoorSwitch, RELAY_TOKENS};
pub use self::events::{MAX_PULL_TIMEOUT, MAX_QUEUED_MESSAGES, MAX_SUBSCRIPTIONS};
pub use self::hikvision::{
    CallStatus, DEFAULT_HEARTBEAT as DEFAULT_ALERT_HEARTBEAT, DEFAULT_RING, HikQuirks,
};
pub use self::http::MAX_REQUEST_BYTES;
pub use self::jpeg::SNAPSHOT;
pub use self::push::{NOTIFY_TIMEOUT, PullPointMode};
pub use self::rtsp::{RtspFault, RtspStats};
pub use self::vendor::{DahuaModel, HikModel, Identity, MAX_QUEUED_BURSTS, Personality};

/// How long [`SimDoorbell::shutdown`] waits for the server task.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);

/// How the simulated doorbell starts.
#[derive(Clone)]
pub struct SimOptions {
    /// The one ONVIF account's user name.
    pub username: String,
    /// Its password.
    pub password: String,
    /// Require HTTP Digest on SOAP requests too (the snapshot always requires it).
    pub http_digest: bool,
    /// Require a WS-Security UsernameToken (PasswordDigest) on SOAP requests.
    pub wsse: bool,
    /// Device clock minus system clock at start.
    pub clock_offset: SignedDuration,
    /// Longest subscription lifetime granted (shorter than asked for, like some cameras), so
    /// tests see renewals within seconds.
    pub max_subscription: Duration,
    /// Which device it plays ([`Personality::Onvif`] by default).
    pub personality: Personality,
    /// Serve ONVIF at all; `false` plays a device that answers only its vendor API (every
    /// `/onvif/` path and `/snapshot.jpg` answer 404).
    pub onvif: bool,
    /// Time between Hikvision alert-stream heartbeats (`videoloss` inactive); zero for none.
    pub alert_heartbeat: Duration,
    /// How long a door-station call rings unanswered before it goes back to idle.
    pub ring_for: Duration,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            username: "admin".to_string(),
            password: "password".to_string(),
            http_digest: false,
            wsse: true,
            clock_offset: SignedDuration::ZERO,
            max_subscription: events::MAX_TERMINATION,
            personality: Personality::Onvif,
            onvif: true,
            alert_heartbeat: hikvision::DEFAULT_HEARTBEAT,
            ring_for: hikvision::DEFAULT_RING,
        }
    }
}

impl fmt::Debug for SimOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimOptions")
            .field("username", &self.username)
            .field("password", &"***")
            .field("http_digest", &self.http_digest)
            .field("wsse", &self.wsse)
            .field("clock_offset", &self.clock_offset)
            .field("personality", &self.personality)
            .field("onvif", &self.onvif)
            .finish_non_exhaustive()
    }
}

/// An injected misbehaviour.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Fault {
    /// Behave.
    #[default]
    None,
    /// Connections refused (listener closed) and open ones closed; back on the same port when
    /// the fault changes.
    Offline,
    /// Every response delayed by this much.
    Slow(Duration),
    /// Every request answered with HTTP 500 and a SOAP Receiver fault.
    Http500,
    /// Every request answered with HTTP 200 and bytes that are not XML.
    Garbage,
    /// PullMessages answers at once with no messages (a camera that does not hold the long
    /// poll); the messages stay queued.
    EmptyPolls,
    /// Vendor event streams, open and new, go silent for good: no heartbeat, no event, the
    /// connection open (a dead stream a client must notice). Other requests answer normally.
    Stall,
}

/// Counters, read with [`SimDoorbell::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Every HTTP request received, whatever its path (none while Offline).
    pub requests: u64,
    /// Requests per action: the SOAP operation's local name (`PullMessages`), `snapshot`, or
    /// `(invalid)` for a body that is not a SOAP envelope.
    pub by_action: BTreeMap<String, u64>,
    /// Subscriptions alive when the stats were taken.
    pub live_subscriptions: usize,
    /// Subscriptions ever created.
    pub subscriptions_created: u64,
    /// Successful Renew calls.
    pub renewed: u64,
    /// Successful Unsubscribe calls.
    pub unsubscribed: u64,
    /// Rejected credentials: a missing or wrong UsernameToken, wrong Digest credentials (not
    /// the first 401 challenge of a request that sent none).
    pub auth_failures: u64,
    /// Snapshots served (ONVIF, `snapshot.cgi`, ISAPI picture).
    pub snapshots: u64,
    /// Vendor event streams (attach, alertStream) opened past authentication.
    pub streams_opened: u64,
    /// Vendor event streams open now.
    pub streams_open: u64,
    /// Door-station call-status polls answered.
    pub call_status_polls: u64,
    /// DoorBird favorite calls answered with a 2xx.
    pub favorite_calls: u64,
    /// DoorBird favorite calls that failed (no answer, or not 2xx).
    pub favorite_call_failures: u64,
    /// Push subscriptions (WS-BaseNotification Subscribe) alive when the stats were taken.
    pub live_push_subscriptions: usize,
    /// Push subscriptions ever created.
    pub push_subscriptions_created: u64,
    /// Notify requests the consumer accepted (2xx).
    pub notifies_sent: u64,
    /// Notify requests that failed (no answer, or not 2xx).
    pub notify_failures: u64,
}

impl SimStats {
    /// Requests counted for `action`.
    pub fn action(&self, action: &str) -> u64 {
        self.by_action.get(action).copied().unwrap_or(0)
    }
}

/// Control handle of a running simulated doorbell. Cheap to clone; the server stops with
/// [`SimDoorbell::shutdown`] or when the runtime ends.
#[derive(Clone)]
pub struct SimDoorbell {
    shared: Arc<Shared>,
    discovery: SocketAddr,
    stop: CancellationToken,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl fmt::Debug for SimDoorbell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimDoorbell")
            .field("addr", &self.shared.addr)
            .finish_non_exhaustive()
    }
}

impl SimDoorbell {
    /// Starts a simulated doorbell on `127.0.0.1:0` (a free port).
    pub async fn start(options: SimOptions) -> std::io::Result<SimDoorbell> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), options).await
    }

    /// Starts a simulated doorbell on `addr`.
    pub async fn start_on(addr: SocketAddr, options: SimOptions) -> std::io::Result<SimDoorbell> {
        let listener = listener::bind(addr)?;
        let addr = listener.local_addr()?;
        let shared = Shared::new(options, addr, listener::Ports::new(listener));
        let stop = CancellationToken::new();
        let server = axum::serve(
            listener::SimListener::new(shared.clone()),
            http::router(shared.clone()),
        )
        .with_graceful_shutdown(stop.clone().cancelled_owned());
        let udp = discovery::bind(addr).await?;
        let discovery = udp.local_addr()?;
        let responder = discovery::respond(
            udp,
            format!("http://{addr}/onvif/device_service"),
            format!("urn:uuid:{}", uuid::Uuid::new_v4()),
            stop.clone(),
        );
        let rtsp = rtsp::serve(addr.ip(), shared.clone(), stop.clone()).await?;
        let task = tokio::spawn(async move {
            // Serving only ends at shutdown; accept errors are retried inside the listener.
            let (_, (), _) = tokio::join!(server.into_future(), responder, rtsp);
        });
        Ok(SimDoorbell {
            shared,
            discovery,
            stop,
            task: Arc::new(Mutex::new(Some(task))),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The UDP address its WS-Discovery responder answers directed probes on (name scope
    /// "Simulated Doorbell", XAddrs the device service URL).
    pub fn discovery_addr(&self) -> SocketAddr {
        self.discovery
    }

    /// The device service URL, `http://127.0.0.1:PORT/onvif/device_service`.
    pub fn device_url(&self) -> url::Url {
        let text = format!("http://{}/onvif/device_service", self.shared.addr);
        url::Url::parse(&text).expect("a socket address always makes a valid URL")
    }

    /// The RTSP stream URL, `rtsp://127.0.0.1:PORT/stream` (what GetStreamUri answers; Digest
    /// with the ONVIF account).
    pub fn rtsp_url(&self) -> url::Url {
        url::Url::parse(&self.shared.rtsp.url()).expect("the RTSP server is bound at start")
    }

    /// Sets the RTSP server's fault ([`RtspFault::None`] to heal).
    pub fn set_rtsp_fault(&self, fault: RtspFault) {
        self.shared.rtsp.set_fault(fault);
    }

    /// Pads the RTSP stream to about `bits_per_second` with filler data (for benchmarks).
    pub fn set_rtsp_bitrate(&self, bits_per_second: u64) {
        self.shared.rtsp.set_bitrate(bits_per_second);
    }

    /// The RTSP server's counters.
    pub fn rtsp_stats(&self) -> RtspStats {
        self.shared.rtsp.stats()
    }

    /// Waits until the RTSP server has answered `count` PLAY requests in all.
    pub async fn wait_for_plays(&self, count: u64, timeout: Duration) -> bool {
        let wait = async {
            loop {
                let changed = self.shared.rtsp.changed.notified();
                if self.shared.rtsp.stats().plays >= count {
                    return;
                }
                changed.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }

    /// Presses the doorbell button. ONVIF personality: Visitor `State` true, then false (both
    /// Changed). Dahua: the model's code sequence on every attach stream (nothing on ONVIF).
    /// Hikvision door station: the call rings ([`SimOptions::ring_for`]) and an
    /// `AccessControllerEvent` major 3 / minor 1024 with a picture goes on the alert stream;
    /// a Hikvision camera has no button (nothing happens). Returns the device time the press
    /// carries, as sent (the bridge publishes the ONVIF one as `camera_time`), so a caller can
    /// tell its presses apart in what the bridge publishes.
    pub fn press(&self) -> String {
        let now = self.shared.lock().now();
        match self.shared.options.personality {
            Personality::Onvif => {
                let mut inner = self.shared.lock();
                events::broadcast(
                    &mut inner,
                    &messages::visitor(true, Operation::Changed, now),
                );
                events::broadcast(
                    &mut inner,
                    &messages::visitor(false, Operation::Changed, now),
                );
            }
            Personality::Dahua(model) => {
                let call = {
                    let mut inner = self.shared.lock();
                    inner.calls += 1;
                    inner.calls
                };
                vendor::broadcast(&self.shared, Burst::Dahua(dahua::press(model, call)));
            }
            Personality::Hikvision(HikModel::Kv6113) => {
                let (count, now) = {
                    let mut inner = self.shared.lock();
                    let ring_for = self.shared.options.ring_for;
                    inner.call.press(tokio::time::Instant::now(), ring_for);
                    inner.posts += 1;
                    (inner.posts, inner.now())
                };
                let parts = hikvision::station_press(self.shared.addr.port(), count, now);
                vendor::broadcast(&self.shared, Burst::Hikvision(parts));
            }
            Personality::Hikvision(HikModel::Camera) => {}
            Personality::DoorBird => doorbird::trigger(&self.shared, "doorbell"),
        }
        xsd::format_precise(now)
    }

    /// Answers the ringing call on the indoor unit (Hikvision door station: `ring` -> `onCall`).
    pub fn answer(&self) {
        self.shared.lock().call.answer(tokio::time::Instant::now());
    }

    /// Ends the call: a Hikvision station goes back to `idle`; an AD110 sends
    /// `_DoTalkAction_` Hangup.
    pub fn hang_up(&self) {
        let call = {
            let mut inner = self.shared.lock();
            inner.call.hang_up();
            inner.calls
        };
        if let Personality::Dahua(model) = self.shared.options.personality {
            let parts = dahua::hang_up(model, call);
            if !parts.is_empty() {
                vendor::broadcast(&self.shared, Burst::Dahua(parts));
            }
        }
    }

    /// The door station's call status now (what `callStatus` would answer).
    pub fn call_status(&self) -> CallStatus {
        self.shared.lock().call.status(tokio::time::Instant::now())
    }

    /// Sets the motion state (`CellMotionDetector/Motion`, `IsMotion`), Changed; on a vendor
    /// personality also the vendor's motion codes (AD110: `ProfileAlarmTransmit` and
    /// `AlarmLocal`; other Dahua: `VideoMotion`; Hikvision: `VMD`).
    pub fn set_motion(&self, on: bool) {
        {
            let mut inner = self.shared.lock();
            inner.motion = on;
            let message = messages::motion(on, Operation::Changed, inner.now());
            events::broadcast(&mut inner, &message);
        }
        self.vendor_alert(on, "VMD", "Motion alarm", None, |m| dahua::motion(m, on));
    }

    /// Sets the person state (`MyRuleDetector/PeopleDetect`, `State`), Changed; on a vendor
    /// personality also `SmartMotionHuman` (Dahua) or `fielddetection` with target human
    /// (Hikvision).
    pub fn set_person(&self, on: bool) {
        {
            let mut inner = self.shared.lock();
            inner.person = on;
            let message = messages::person(on, Operation::Changed, inner.now());
            events::broadcast(&mut inner, &message);
        }
        let description = "fielddetection alarm";
        self.vendor_alert(on, "fielddetection", description, Some("human"), |_| {
            dahua::person(on)
        });
    }

    /// Posts a vendor event: `dahua` parts on a Dahua personality, else one Hikvision alert.
    fn vendor_alert(
        &self,
        active: bool,
        event_type: &str,
        description: &str,
        target: Option<&str>,
        dahua: impl FnOnce(DahuaModel) -> Vec<vendor::DahuaPart>,
    ) {
        let burst = match self.shared.options.personality {
            Personality::Onvif => return,
            Personality::DoorBird => {
                // The motion sensor's schedule input fires on motion, not on its end.
                if active && event_type == "VMD" {
                    doorbird::trigger(&self.shared, "motion");
                }
                return;
            }
            Personality::Dahua(model) => Burst::Dahua(dahua(model)),
            Personality::Hikvision(model) => {
                let (count, now) = {
                    let mut inner = self.shared.lock();
                    inner.posts += 1;
                    (inner.posts, inner.now())
                };
                let alert = hikvision::Alert {
                    event_type,
                    active,
                    description,
                    target,
                };
                let port = self.shared.addr.port();
                Burst::Hikvision(vec![hikvision::alert_part(model, &alert, port, count, now)])
            }
        };
        vendor::broadcast(&self.shared, burst);
    }

    /// Switches the Dahua stream quirks (new parts, and the announced boundary of new streams).
    pub fn set_dahua_quirks(&self, quirks: DahuaQuirks) {
        self.shared.lock().dahua_quirks = quirks;
    }

    /// Switches the Hikvision stream quirks (for new streams).
    pub fn set_hik_quirks(&self, quirks: HikQuirks) {
        self.shared.lock().hik_quirks = quirks;
    }

    /// What the device says it is (ONVIF GetDeviceInformation, magicBox, deviceInfo).
    pub fn identity(&self) -> Identity {
        self.shared.options.personality.identity()
    }

    /// Queues a raw `<wsnt:NotificationMessage>` element (with its own namespace declarations)
    /// verbatim on every live subscription.
    pub fn inject(&self, notification_message_xml: &str) {
        events::broadcast(&mut self.shared.lock(), notification_message_xml);
    }

    /// DoorBird: stores an HTTP favorite as if someone had saved it (a stale one of an earlier
    /// run, another integration's); returns its id.
    pub fn seed_favorite(&self, title: &str, value: &str) -> u64 {
        let mut inner = self.shared.lock();
        inner
            .doorbird
            .save(title, value)
            .expect("the simulated DoorBird has room for a seeded favorite")
    }

    /// DoorBird: stores a schedule entry as if posted (replacing the one of the same input and
    /// param).
    pub fn seed_schedule(&self, entry: serde_json::Value) {
        self.shared
            .lock()
            .doorbird
            .post(entry)
            .expect("a seeded schedule entry has input, param and output");
    }

    /// DoorBird: the HTTP favorites stored, `(id, title, value)` in id order.
    pub fn favorites(&self) -> Vec<(u64, String, String)> {
        let inner = self.shared.lock();
        inner
            .doorbird
            .favorites
            .iter()
            .map(|(id, (t, v))| (*id, t.clone(), v.clone()))
            .collect()
    }

    /// DoorBird: the schedule entries as stored.
    pub fn schedule(&self) -> Vec<serde_json::Value> {
        self.shared.lock().doorbird.schedule.clone()
    }

    /// DoorBird: the favorite URLs a press (`doorbell`) or motion (`motion`) would call now.
    pub fn linked(&self, input: &str) -> Vec<String> {
        self.shared.lock().doorbird.targets(input)
    }

    /// DoorBird: forgets the schedule (a reboot after which the device lost it; favorites
    /// are kept).
    pub fn lose_schedule(&self) {
        self.shared.lock().doorbird.schedule.clear();
    }

    /// Resolves `true` once DoorBird favorite calls answered 2xx number at least `count`,
    /// `false` after `timeout`.
    pub async fn wait_for_favorite_calls(&self, count: u64, timeout: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.shared.requested.notified();
                if self.shared.lock().stats.favorite_calls >= count {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }

    /// Resolves `true` once `check` holds of the simulator (checked after every request and
    /// favorite call), `false` after `timeout`.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        check: impl Fn(&SimDoorbell) -> bool,
    ) -> bool {
        let wait = async {
            loop {
                let notified = self.shared.requested.notified();
                if check(self) {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }

    /// Sets the injected fault ([`Fault::None`] to behave again).
    pub fn set_fault(&self, fault: Fault) {
        let offline = fault == Fault::Offline;
        self.shared.lock().fault = fault;
        listener::set_offline(&self.shared, offline);
    }

    /// Drops every subscription (as a camera that lost them); pollers get the unknown fault.
    pub fn drop_subscriptions(&self) {
        events::drop_all(&mut self.shared.lock());
    }

    /// Reboots: subscriptions and Digest nonces forgotten, open connections closed, the clock
    /// back at 2000-01-01T00:00:00Z (a camera without NTP).
    pub fn reboot(&self) {
        {
            let mut inner = self.shared.lock();
            events::drop_all(&mut inner);
            inner.nonces.clear();
            inner.clock_offset = REBOOT_CLOCK.duration_since(jiff::Timestamp::now());
            inner.ntp = false;
        }
        self.shared.close_connections();
    }

    /// Sets the device clock to system clock + `offset`.
    pub fn set_clock_offset(&self, offset: SignedDuration) {
        self.shared.lock().clock_offset = offset;
    }

    /// Serves `body` at the snapshot URI instead of the built-in JPEG (`None` restores it):
    /// an HTML error page, a huge picture, whatever a broken camera sends.
    pub fn set_snapshot(&self, body: Option<Vec<u8>>) {
        self.shared.lock().snapshot = body;
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> SimStats {
        let mut inner = self.shared.lock();
        events::sweep(&mut inner);
        let mut stats = inner.stats.clone();
        stats.live_subscriptions = inner.subscriptions.len();
        stats.live_push_subscriptions = inner
            .subscriptions
            .values()
            .filter(|s| s.consumer.is_some())
            .count();
        stats
    }

    /// The consumer URLs of the live push subscriptions (what the bridge asked to be called
    /// at), in subscription order.
    pub fn push_consumers(&self) -> Vec<String> {
        let mut inner = self.shared.lock();
        events::sweep(&mut inner);
        inner
            .subscriptions
            .values()
            .filter_map(|s| s.consumer.clone())
            .collect()
    }

    /// Switches what the PullPoint does: working, CreatePullPointSubscription unsupported
    /// (`ter:ActionNotSupported`), or every PullMessages failing (a Receiver fault). Push
    /// subscriptions work in every mode.
    pub fn set_pull_point(&self, mode: PullPointMode) {
        self.shared.lock().pull_point = mode;
    }

    /// Resolves `true` as soon as at least `count` push subscriptions have ever been created
    /// and one is alive, `false` after `timeout`.
    pub async fn wait_for_push_subscriptions(&self, count: u64, timeout: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.shared.subscribed.notified();
                let stats = self.stats();
                if stats.push_subscriptions_created >= count && stats.live_push_subscriptions > 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }

    /// Resolves `true` as soon as a live subscription exists, `false` after `timeout`.
    pub async fn wait_for_subscription(&self, timeout: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.shared.subscribed.notified();
                if self.stats().live_subscriptions > 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }

    /// Resolves `true` once at least `count` requests for `action` (as in
    /// [`SimStats::by_action`]) have arrived, `false` after `timeout`. Lets a test act while a
    /// long poll is held, without sleeping.
    pub async fn wait_for_requests(&self, action: &str, count: u64, timeout: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.shared.requested.notified();
                if self.shared.lock().stats.action(action) >= count {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }

    /// The door swings shut: a door station reports it on its event stream (Dahua VTO
    /// `DoorStatus` Close, Hikvision access-control event 5/26). After an open it reported
    /// the door open (Status Open, 5/25).
    pub fn close_door(&self) {
        door::report_door(&self.shared, false);
    }

    /// Every door and relay switch so far, oldest first.
    pub fn door_switches(&self) -> Vec<DoorSwitch> {
        self.shared.lock().door_switches.clone()
    }

    /// How many switches so far opened a door (ONVIF `active`, vendor `open`).
    pub fn door_opens(&self) -> usize {
        self.shared
            .lock()
            .door_switches
            .iter()
            .filter(|s| s.opens())
            .count()
    }

    /// Resolves `true` once at least `count` door switches (of any kind) were recorded,
    /// `false` after `timeout`.
    pub async fn wait_for_door_switches(&self, count: usize, timeout: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.shared.requested.notified();
                if self.shared.lock().door_switches.len() >= count {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }

    /// Resolves `true` once at least `count` vendor event streams have been opened (see
    /// [`SimStats::streams_opened`]), `false` after `timeout`.
    pub async fn wait_for_streams(&self, count: u64, timeout: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.shared.requested.notified();
                if self.shared.lock().stats.streams_opened >= count {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }

    /// Stops the server: no new connections, open ones closed, the task awaited (at most
    /// [`SHUTDOWN_TIMEOUT`]).
    pub async fn shutdown(self) {
        self.stop.cancel();
        self.shared.close_connections();
        listener::release(&self.shared);
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut task) = task
            && tokio::time::timeout(SHUTDOWN_TIMEOUT, &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}
