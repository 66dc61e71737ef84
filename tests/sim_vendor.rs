//! The simulator's Dahua and Hikvision personalities over real sockets: reqwest with HTTP
//! Digest computed by http-auth, the bodies read by the crate's pure vendor readers
//! (dahua::stream / codes / rules, hikvision::alert / call / rules).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use doorbell_bridge::dahua::{codes, rules as dahua_rules, stream};
use doorbell_bridge::event::Kind;
use doorbell_bridge::hikvision::{alert, call, rules as hik_rules};
use doorbell_bridge::onvif::{Client, ClientOptions, Credentials};
use doorbell_bridge::secret::Secret;
use doorbell_bridge::sim::{
    CallStatus, DahuaModel, DahuaQuirks, Fault, HikModel, HikQuirks, Personality, SimDoorbell,
    SimOptions,
};
use doorbell_bridge::vendor::{RingWindow, is_ring};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};

/// Longest wait for something that must happen (generous: the machine is shared).
const WAIT: Duration = Duration::from_secs(10);
/// How long a stalled stream is watched for bytes (three 1 s heartbeats).
const SILENCE: Duration = Duration::from_secs(3);

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // No whole-request timeout: the streams never end. Reads are bounded by WAIT below.
    reqwest::Client::builder()
        .connect_timeout(WAIT)
        .build()
        .expect("client")
}

async fn start(personality: Personality) -> SimDoorbell {
    start_with(SimOptions {
        personality,
        ..SimOptions::default()
    })
    .await
}

async fn start_with(options: SimOptions) -> SimDoorbell {
    SimDoorbell::start(options).await.expect("sim starts")
}

/// GET `path` with Digest for `password` (the first round trip gets the challenge).
async fn get_as(sim: &SimDoorbell, path: &str, password: &str) -> reqwest::Response {
    let c = client();
    let url = url::Url::parse(&format!("http://{}{path}", sim.addr())).expect("url");
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let first = tokio::time::timeout(WAIT, c.get(url.clone()).send())
        .await
        .expect("answer in time")
        .expect("request");
    if first.status() != reqwest::StatusCode::UNAUTHORIZED {
        return first;
    }
    let www = first.headers()[WWW_AUTHENTICATE]
        .to_str()
        .expect("challenge")
        .to_owned();
    let mut digest = http_auth::PasswordClient::try_from(www.as_str()).expect("digest");
    let params = http_auth::PasswordParams {
        username: "admin",
        password,
        uri: &target,
        method: "GET",
        body: None,
    };
    let authorization = digest.respond(&params).expect("digest response");
    let request = c.get(url).header(AUTHORIZATION, authorization).send();
    tokio::time::timeout(WAIT, request)
        .await
        .expect("answer in time")
        .expect("request")
}

async fn get(sim: &SimDoorbell, path: &str) -> reqwest::Response {
    get_as(sim, path, "password").await
}

/// What a Dahua attach stream gave: heartbeats and parsed codes, with the raw bytes.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Heartbeat,
    Code(String, String),
}

struct DahuaStream {
    response: reqwest::Response,
    reader: stream::PartReader,
    items: VecDeque<stream::Item>,
    raw: Vec<u8>,
    content_type: String,
}

impl DahuaStream {
    async fn open(sim: &SimDoorbell, heartbeat: Option<u8>) -> DahuaStream {
        let opened = sim.stats().streams_opened;
        let path = match heartbeat {
            Some(h) => doorbell_bridge::dahua::attach_path(h),
            None => "/cgi-bin/eventManager.cgi?action=attach&codes=[All]".to_owned(),
        };
        let response = get(sim, &path).await;
        assert_eq!(response.status(), 200);
        let content_type = response.headers()[CONTENT_TYPE]
            .to_str()
            .expect("content type")
            .to_owned();
        // The stream is subscribed to events once it is counted.
        assert!(sim.wait_for_streams(opened + 1, WAIT).await);
        DahuaStream {
            reader: stream::PartReader::new(stream::boundary_from_content_type(&content_type)),
            response,
            items: VecDeque::new(),
            raw: Vec::new(),
            content_type,
        }
    }

    /// The next item within `within`, `None` if nothing came.
    async fn next_within(&mut self, within: Duration) -> Option<Seen> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(item) = self.items.pop_front() {
                match item {
                    stream::Item::Heartbeat => return Some(Seen::Heartbeat),
                    stream::Item::Part(body) => {
                        let code = codes::parse(&body).expect("a code part");
                        let action = code.action.as_str().to_owned();
                        return Some(Seen::Code(code.code, action));
                    }
                    stream::Item::Garbage(g) => panic!("garbage on the stream: {g}"),
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await;
            let Ok(chunk) = chunk else {
                return None;
            };
            let chunk = chunk.expect("stream read").expect("stream still open");
            self.raw.extend_from_slice(&chunk);
            let items = &mut self.items;
            self.reader.feed(&chunk, &mut |i| items.push_back(i));
        }
    }

    async fn next(&mut self) -> Seen {
        self.next_within(WAIT).await.expect("an item in time")
    }

    /// The next `n` codes, skipping heartbeats.
    async fn codes(&mut self, n: usize) -> Vec<(String, String)> {
        let mut out = Vec::new();
        while out.len() < n {
            if let Seen::Code(code, action) = self.next().await {
                out.push((code, action));
            }
        }
        out
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(c, a)| (c.to_string(), a.to_string()))
        .collect()
}

const AD410_PRESS: &[(&str, &str)] = &[
    ("CrossRegionDetection", "Start"),
    ("AlarmLocal", "Start"),
    ("CallNoAnswered", "Start"),
    ("AlarmLocal", "Stop"),
    ("CallNoAnswered", "Stop"),
];
const AD110_PRESS: &[(&str, &str)] = &[("_DoTalkAction_", "Pulse"), ("CallNoAnswered", "Start")];

/// Reads a whole press from a fresh stream and returns the parts' bodies through the table.
async fn press_kinds(model: DahuaModel, parts: usize) -> (Vec<(String, String)>, Vec<Kind>, usize) {
    let sim = start(Personality::Dahua(model)).await;
    let mut s = DahuaStream::open(&sim, None).await;
    sim.press();
    let seen = s.codes(parts).await;
    let mut reader = stream::PartReader::new(stream::boundary_from_content_type(&s.content_type));
    let mut bodies = Vec::new();
    reader.feed(&s.raw, &mut |i| {
        if let stream::Item::Part(b) = i {
            bodies.push(b)
        }
    });
    let mut window = RingWindow::new();
    let now = tokio::time::Instant::now();
    let mut rings = 0;
    let mut kinds = Vec::new();
    for body in bodies {
        let d = dahua_rules::classify(&codes::parse(&body).expect("code").to_notification());
        if is_ring(&d) && window.admit(now) {
            rings += 1;
        }
        if !kinds.contains(&d.kind) {
            kinds.push(d.kind);
        }
    }
    sim.shutdown().await;
    (seen, kinds, rings)
}

#[tokio::test]
async fn dahua_heartbeats_arrive_at_the_requested_interval() {
    let sim = start(Personality::Dahua(DahuaModel::Ad410)).await;
    let opened = Instant::now();
    let mut s = DahuaStream::open(&sim, Some(1)).await;
    for _ in 0..3 {
        assert_eq!(s.next().await, Seen::Heartbeat);
    }
    // Three heartbeats one second apart, the first a second after attaching: never sooner.
    assert!(opened.elapsed() >= Duration::from_millis(2900));
    assert!(
        s.content_type
            .starts_with("multipart/x-mixed-replace; boundary=myboundary")
    );
    assert_eq!(sim.stats().streams_open, 1);
    assert_eq!(
        sim.stats().action("eventManager"),
        2,
        "challenge, then stream"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn an_attach_without_heartbeat_sends_only_events_and_a_bad_heartbeat_is_refused() {
    let sim = start(Personality::Dahua(DahuaModel::Ad410)).await;
    let bad = get(
        &sim,
        "/cgi-bin/eventManager.cgi?action=attach&codes=[All]&heartbeat=0",
    )
    .await;
    assert_eq!(bad.status(), 400);
    let mut s = DahuaStream::open(&sim, None).await;
    sim.set_motion(true);
    assert_eq!(
        s.next().await,
        Seen::Code("VideoMotion".into(), "Start".into())
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn an_ad410_press_is_its_real_sequence_and_rings_once() {
    let (seen, kinds, rings) = press_kinds(DahuaModel::Ad410, 5).await;
    assert_eq!(seen, pairs(AD410_PRESS));
    for kind in [Kind::Person, Kind::Input, Kind::Ring] {
        assert!(kinds.contains(&kind), "{kind:?} not in {kinds:?}");
    }
    assert_eq!(rings, 1);
}

#[tokio::test]
async fn an_ad110_press_is_invite_then_call_no_answered_and_rings_once() {
    let (seen, kinds, rings) = press_kinds(DahuaModel::Ad110, 2).await;
    assert_eq!(seen, pairs(AD110_PRESS));
    assert!(kinds.contains(&Kind::Ring), "{kinds:?}");
    assert_eq!(rings, 1);
}

#[tokio::test]
async fn a_vto_press_is_back_key_light_then_call_no_answered_and_rings_once() {
    let (seen, _, rings) = press_kinds(DahuaModel::Vto, 2).await;
    assert_eq!(
        seen,
        pairs(&[("BackKeyLight", "Pulse"), ("CallNoAnswered", "Start")])
    );
    assert_eq!(rings, 1);
}

#[tokio::test]
async fn ad110_motion_is_pir_with_alarm_local_and_never_rings() {
    let sim = start(Personality::Dahua(DahuaModel::Ad110)).await;
    let mut s = DahuaStream::open(&sim, None).await;
    sim.set_motion(true);
    sim.set_motion(false);
    let seen = s.codes(4).await;
    assert_eq!(
        seen,
        pairs(&[
            ("ProfileAlarmTransmit", "Start"),
            ("AlarmLocal", "Start"),
            ("ProfileAlarmTransmit", "Stop"),
            ("AlarmLocal", "Stop"),
        ])
    );
    let text = String::from_utf8_lossy(&s.raw).into_owned();
    assert!(text.contains("PassiveInfrared"), "{text}");
    let mut reader = stream::PartReader::new(stream::boundary_from_content_type(&s.content_type));
    let mut derived = Vec::new();
    reader.feed(&s.raw, &mut |i| {
        if let stream::Item::Part(b) = i {
            derived.push(dahua_rules::classify(
                &codes::parse(&b).expect("code").to_notification(),
            ));
        }
    });
    assert_eq!(derived.len(), 4);
    assert!(derived.iter().all(|d| !is_ring(d)), "{derived:?}");
    assert!(derived.iter().any(|d| d.kind == Kind::Motion));
    sim.shutdown().await;
}

#[tokio::test]
async fn every_dahua_quirk_is_on_the_wire_and_readable() {
    let on = |set: fn(&mut DahuaQuirks)| {
        let mut q = DahuaQuirks::default();
        set(&mut q);
        q
    };
    // (quirks, what the header and raw body must show, what they must not).
    let cases: [(DahuaQuirks, &str, &str); 7] = [
        (
            on(|q| q.dashed_boundary = true),
            "boundary=--myboundary",
            "",
        ),
        (
            on(|q| q.length_without_space = true),
            "Content-Length:",
            "Content-Length: ",
        ),
        (on(|q| q.stray_http_block = true), "HTTP/1.1 200 OK\r\n", ""),
        // Framing-only quirks: the same bytes in other writes.
        (on(|q| q.split_line = true), "Content-Length: ", ""),
        (on(|q| q.parts_in_one_write = true), "Content-Length: ", ""),
        (on(|q| q.part_over_writes = true), "Content-Length: ", ""),
        (
            on(|q| q.multiline_json = true),
            "data={\n   \"Action\" : \"Invite\"",
            "",
        ),
    ];
    let sim = start(Personality::Dahua(DahuaModel::Ad110)).await;
    for (quirks, shows, hides) in cases {
        sim.set_dahua_quirks(quirks);
        let mut s = DahuaStream::open(&sim, None).await;
        sim.press();
        assert_eq!(s.codes(2).await, pairs(AD110_PRESS), "{quirks:?}");
        // A second press shows the stream goes on after the quirk.
        sim.press();
        assert_eq!(s.codes(2).await, pairs(AD110_PRESS), "{quirks:?}");
        let wire = format!("{}\n{}", s.content_type, String::from_utf8_lossy(&s.raw));
        assert!(
            wire.contains(shows),
            "{quirks:?} does not show {shows:?}:\n{wire}"
        );
        assert!(
            hides.is_empty() || !wire.contains(hides),
            "{quirks:?} shows {hides:?}:\n{wire}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_stalled_dahua_stream_stays_open_and_sends_nothing() {
    let sim = start(Personality::Dahua(DahuaModel::Ad410)).await;
    let mut s = DahuaStream::open(&sim, Some(1)).await;
    assert_eq!(s.next().await, Seen::Heartbeat);
    sim.set_fault(Fault::Stall);
    sim.press();
    assert_eq!(s.next_within(SILENCE).await, None);
    assert_eq!(sim.stats().streams_open, 1, "the connection stays open");
    // A stream opened during the stall gets its headers and then nothing either.
    let mut during = DahuaStream::open(&sim, Some(1)).await;
    assert_eq!(during.next_within(SILENCE).await, None);
    // Once the fault is lifted a new stream works; the stalled ones stay dead.
    sim.set_fault(Fault::None);
    let mut after = DahuaStream::open(&sim, Some(1)).await;
    assert_eq!(after.next().await, Seen::Heartbeat);
    assert_eq!(s.next_within(Duration::from_millis(1500)).await, None);
    sim.shutdown().await;
}

#[tokio::test]
async fn vendor_endpoints_need_the_right_digest_credentials() {
    let sim = start(Personality::Dahua(DahuaModel::Ad410)).await;
    let path = doorbell_bridge::dahua::attach_path(5);
    let none = client()
        .get(format!("http://{}{path}", sim.addr()))
        .send()
        .await
        .expect("request");
    assert_eq!(none.status(), 401);
    let www = none.headers()[WWW_AUTHENTICATE]
        .to_str()
        .expect("challenge");
    assert!(www.starts_with("Digest "), "{www}");
    for p in [
        path.as_str(),
        "/cgi-bin/snapshot.cgi?channel=1",
        "/cgi-bin/magicBox.cgi?action=getSystemInfo",
    ] {
        assert_eq!(get_as(&sim, p, "wrong").await.status(), 401, "{p}");
    }
    assert_eq!(sim.stats().auth_failures, 3);
    assert_eq!(sim.stats().streams_opened, 0);
    let hik = start(Personality::Hikvision(HikModel::Kv6113)).await;
    for p in [
        "/ISAPI/Event/notification/alertStream",
        "/ISAPI/VideoIntercom/callStatus?format=json",
        "/ISAPI/System/deviceInfo",
    ] {
        assert_eq!(get_as(&hik, p, "wrong").await.status(), 401, "{p}");
    }
    assert_eq!(hik.stats().auth_failures, 3);
    sim.shutdown().await;
    hik.shutdown().await;
}

#[tokio::test]
async fn a_dahua_device_identifies_itself_on_magic_box_and_onvif() {
    let sim = start(Personality::Dahua(DahuaModel::Ad410)).await;
    let info = get(&sim, "/cgi-bin/magicBox.cgi?action=getSystemInfo").await;
    assert_eq!(info.status(), 200);
    let text = info.text().await.expect("text");
    assert!(text.lines().any(|l| l == "deviceType=AD410"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("serialNumber=")),
        "{text}"
    );
    let kind = get(&sim, "/cgi-bin/magicBox.cgi?action=getDeviceType").await;
    assert_eq!(kind.text().await.expect("text").trim(), "type=AD410");
    let snapshot = get(&sim, "/cgi-bin/snapshot.cgi?channel=1").await;
    assert_eq!(snapshot.status(), 200);
    assert_eq!(snapshot.headers()[CONTENT_TYPE], "image/jpeg");
    let jpeg = snapshot.bytes().await.expect("jpeg");
    assert!(jpeg.starts_with(&[0xFF, 0xD8]));
    assert_eq!(sim.stats().snapshots, 1);
    let onvif = onvif_info(&sim).await;
    assert_eq!(onvif.manufacturer.as_deref(), Some("Amcrest"));
    assert_eq!(onvif.model.as_deref(), Some("AD410"));
    sim.shutdown().await;

    let hik = start(Personality::Hikvision(HikModel::Kv6113)).await;
    assert_eq!(
        onvif_info(&hik).await.manufacturer.as_deref(),
        Some("HIKVISION")
    );
    hik.shutdown().await;
}

async fn onvif_info(sim: &SimDoorbell) -> doorbell_bridge::event::DeviceInfo {
    let credentials = Credentials {
        username: "admin".into(),
        password: Secret::new("password"),
    };
    let client = Client::new(
        sim.device_url(),
        Some(credentials),
        ClientOptions::default(),
    )
    .expect("client");
    client
        .device_information()
        .await
        .expect("device information")
}

#[tokio::test]
async fn a_device_without_onvif_answers_only_its_vendor_api() {
    let sim = start_with(SimOptions {
        personality: Personality::Dahua(DahuaModel::Ad110),
        onvif: false,
        ..SimOptions::default()
    })
    .await;
    let soap = client()
        .post(sim.device_url())
        .body("<x/>")
        .send()
        .await
        .expect("request");
    assert_eq!(soap.status(), 404);
    assert_eq!(get(&sim, "/snapshot.jpg").await.status(), 404);
    let info = get(&sim, "/cgi-bin/magicBox.cgi?action=getDeviceType").await;
    assert_eq!(info.text().await.expect("text").trim(), "type=AD110");
    sim.shutdown().await;
}

#[tokio::test]
async fn an_onvif_doorbell_has_no_vendor_api() {
    let sim = start(Personality::Onvif).await;
    for p in [
        "/cgi-bin/magicBox.cgi?action=getSystemInfo",
        "/ISAPI/System/deviceInfo",
        "/ISAPI/Event/notification/alertStream",
    ] {
        assert_eq!(get(&sim, p).await.status(), 404, "{p}");
    }
    sim.shutdown().await;
}

/// What a Hikvision alert stream gave.
struct HikStream {
    response: reqwest::Response,
    reader: alert::AlertReader,
    alerts: VecDeque<alert::Alert>,
    raw: Vec<u8>,
    content_type: String,
}

impl HikStream {
    async fn open(sim: &SimDoorbell) -> HikStream {
        let opened = sim.stats().streams_opened;
        let response = get(sim, doorbell_bridge::hikvision::ALERT_STREAM_PATH).await;
        assert_eq!(response.status(), 200);
        let content_type = response.headers()[CONTENT_TYPE]
            .to_str()
            .expect("content type")
            .to_owned();
        assert!(sim.wait_for_streams(opened + 1, WAIT).await);
        HikStream {
            response,
            reader: alert::AlertReader::new(),
            alerts: VecDeque::new(),
            raw: Vec::new(),
            content_type,
        }
    }

    async fn next_within(&mut self, within: Duration) -> Option<alert::Alert> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(a) = self.alerts.pop_front() {
                return Some(a);
            }
            let Ok(chunk) = tokio::time::timeout_at(deadline, self.response.chunk()).await else {
                return None;
            };
            let chunk = chunk.expect("stream read").expect("stream still open");
            self.raw.extend_from_slice(&chunk);
            let alerts = &mut self.alerts;
            self.reader.feed(&chunk, &mut |a| alerts.push_back(a));
        }
    }

    /// The next event, skipping heartbeats.
    async fn event(&mut self) -> doorbell_bridge::onvif::Notification {
        loop {
            match self.next_within(WAIT).await.expect("an alert in time") {
                alert::Alert::Heartbeat => {}
                alert::Alert::Event(n) => return n,
                alert::Alert::Garbage(g) => panic!("garbage on the stream: {g}"),
            }
        }
    }
}

fn item<'a>(n: &'a doorbell_bridge::onvif::Notification, name: &str) -> Option<&'a str> {
    n.data
        .0
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn hikvision_camera_alerts_and_heartbeats_are_readable_with_a_mismatched_boundary() {
    let sim = start_with(SimOptions {
        personality: Personality::Hikvision(HikModel::Camera),
        alert_heartbeat: Duration::from_secs(1),
        ..SimOptions::default()
    })
    .await;
    let opened = Instant::now();
    let mut s = HikStream::open(&sim).await;
    assert_eq!(s.content_type, "multipart/mixed; boundary=boundary");
    for _ in 0..2 {
        assert_eq!(s.next_within(WAIT).await, Some(alert::Alert::Heartbeat));
    }
    assert!(opened.elapsed() >= Duration::from_millis(1900));
    sim.set_motion(true);
    let n = s.event().await;
    assert_eq!(n.topic, "hikvision:VMD");
    assert_eq!(hik_rules::classify(&n).kind, Kind::Motion);
    sim.set_person(true);
    let n = s.event().await;
    assert_eq!(item(&n, "detectionTarget"), Some("human"));
    assert_eq!(hik_rules::classify(&n).kind, Kind::Person);
    let raw = String::from_utf8_lossy(&s.raw).into_owned();
    assert!(raw.contains("xmlns=\"http://www.hikvision.com/ver20/XMLSchema\""));
    assert!(raw.contains("--boundary\r\n"));
    // A camera has no button and no call status.
    let status = get(&sim, "/ISAPI/VideoIntercom/callStatus?format=json").await;
    assert_eq!(status.status(), 404);

    sim.set_hik_quirks(HikQuirks {
        boundary_mismatch: true,
        ..HikQuirks::default()
    });
    let mut odd = HikStream::open(&sim).await;
    assert_eq!(odd.content_type, "multipart/mixed; boundary=myboundary");
    sim.set_motion(false);
    let n = odd.event().await;
    assert_eq!(item(&n, "eventState"), Some("inactive"));
    assert!(String::from_utf8_lossy(&odd.raw).contains("--boundary\r\n"));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_kv6113_press_rings_on_call_status_and_the_alert_stream() {
    let sim = start_with(SimOptions {
        personality: Personality::Hikvision(HikModel::Kv6113),
        alert_heartbeat: Duration::from_secs(1),
        ..SimOptions::default()
    })
    .await;
    let mut s = HikStream::open(&sim).await;
    assert_eq!(s.content_type, "multipart/mixed; boundary=MIME_boundary");
    assert_eq!(s.next_within(WAIT).await, Some(alert::Alert::Heartbeat));
    let mut tracker = call::CallTracker::new();
    let mut changes = Vec::new();
    let poll = async |tracker: &mut call::CallTracker| {
        let answer = get(&sim, call::CALL_STATUS_PATH).await;
        assert_eq!(answer.status(), 200);
        let status = call::parse(&answer.bytes().await.expect("body")).expect("call status");
        tracker.observe(status)
    };
    changes.extend(poll(&mut tracker).await);
    sim.press();
    assert_eq!(sim.call_status(), CallStatus::Ring);
    changes.extend(poll(&mut tracker).await);
    sim.answer();
    changes.extend(poll(&mut tracker).await);
    sim.hang_up();
    changes.extend(poll(&mut tracker).await);
    assert_eq!(
        changes,
        vec![
            call::CallChange::Press,
            call::CallChange::Answered,
            call::CallChange::Ended
        ]
    );
    assert_eq!(sim.stats().call_status_polls, 4);

    let n = s.event().await;
    // The picture part follows the event; the next heartbeat comes after it.
    assert_eq!(s.next_within(WAIT).await, Some(alert::Alert::Heartbeat));
    assert_eq!(n.topic, "hikvision:AccessControllerEvent");
    assert_eq!(item(&n, "major"), Some("3"));
    assert_eq!(item(&n, "minor"), Some("1024"));
    assert!(is_ring(&hik_rules::classify(&n)));
    let raw = &s.raw;
    assert!(
        raw.windows(b"Content-Type: image/jpeg".len())
            .any(|w| w == b"Content-Type: image/jpeg"),
        "the press comes with a picture"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn an_unanswered_station_call_goes_back_to_idle() {
    let sim = start_with(SimOptions {
        personality: Personality::Hikvision(HikModel::Kv6113),
        ring_for: Duration::from_millis(300),
        ..SimOptions::default()
    })
    .await;
    sim.press();
    assert_eq!(sim.call_status(), CallStatus::Ring);
    let deadline = Instant::now() + WAIT;
    loop {
        let body = get(&sim, call::CALL_STATUS_PATH).await.bytes().await;
        if call::parse(&body.expect("body")).expect("status") == call::CallStatus::Idle {
            break;
        }
        assert!(Instant::now() < deadline, "still ringing after {WAIT:?}");
        tokio::task::yield_now().await;
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn hikvision_device_info_names_the_model() {
    let sim = start(Personality::Hikvision(HikModel::Kv6113)).await;
    let answer = get(&sim, doorbell_bridge::hikvision::DEVICE_INFO_PATH).await;
    assert_eq!(answer.status(), 200);
    let text = answer.text().await.expect("text");
    let doc = roxmltree::Document::parse(&text).expect("XML");
    let ns = "http://www.hikvision.com/ver20/XMLSchema";
    let field = |name: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name((ns, name)))
            .and_then(|n| n.text())
            .map(str::to_owned)
    };
    assert_eq!(field("model").as_deref(), Some("DS-KV6113-WPE1"));
    for name in [
        "deviceName",
        "serialNumber",
        "firmwareVersion",
        "macAddress",
    ] {
        assert!(field(name).is_some_and(|v| !v.is_empty()), "{name}");
    }
    let picture = get(&sim, "/ISAPI/Streaming/channels/101/picture").await;
    assert_eq!(picture.headers()[CONTENT_TYPE], "image/jpeg");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_stalled_alert_stream_sends_nothing() {
    let sim = start_with(SimOptions {
        personality: Personality::Hikvision(HikModel::Camera),
        alert_heartbeat: Duration::from_secs(1),
        ..SimOptions::default()
    })
    .await;
    let mut s = HikStream::open(&sim).await;
    assert_eq!(s.next_within(WAIT).await, Some(alert::Alert::Heartbeat));
    sim.set_fault(Fault::Stall);
    sim.set_motion(true);
    assert_eq!(s.next_within(SILENCE).await, None);
    assert_eq!(sim.stats().streams_open, 1);
    sim.shutdown().await;
}
