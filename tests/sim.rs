//! The simulated doorbell against plain HTTP: hand-written SOAP over reqwest, parsed with
//! roxmltree by namespace, so these tests do not depend on our own ONVIF client.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use doorbell_bridge::sim::{Fault, SimDoorbell, SimOptions};
use jiff::{SignedDuration, Timestamp};
use sha1::{Digest as _, Sha1};

const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
const TDS: &str = "http://www.onvif.org/ver10/device/wsdl";
const TEV: &str = "http://www.onvif.org/ver10/events/wsdl";
const WSNT: &str = "http://docs.oasis-open.org/wsn/b-2";
const WSA: &str = "http://www.w3.org/2005/08/addressing";
const TT: &str = "http://www.onvif.org/ver10/schema";
const SIM: &str = "urn:doorbell-bridge:sim";
const TER: &str = "http://www.onvif.org/ver10/error";
const WSRF_R: &str = "http://docs.oasis-open.org/wsrf/r-2";
const WAIT: Duration = Duration::from_secs(5);

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// A WS-Security header computed here, independently of the simulator's code.
fn security(user: &str, password: &str, created: Timestamp) -> String {
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).expect("random");
    let created = created.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut sha = Sha1::new();
    sha.update(nonce);
    sha.update(created.as_bytes());
    sha.update(password.as_bytes());
    let digest = BASE64.encode(sha.finalize());
    format!(
        r#"<Security xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><UsernameToken><Username>{user}</Username><Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">{digest}</Password><Nonce>{}</Nonce><Created xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">{created}</Created></UsernameToken></Security>"#,
        BASE64.encode(nonce)
    )
}

fn admin() -> String {
    security("admin", "password", Timestamp::now())
}

struct Reply {
    status: u16,
    text: String,
}

impl Reply {
    fn texts(&self, ns: &str, name: &str) -> Vec<String> {
        let doc = roxmltree::Document::parse(&self.text).expect("response is XML");
        doc.descendants()
            .filter(|n| n.has_tag_name((ns, name)))
            .map(|n| n.text().unwrap_or("").trim().to_string())
            .collect()
    }

    fn text(&self, ns: &str, name: &str) -> String {
        self.texts(ns, name)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no {name} in {}", self.text))
    }

    /// Fault subcodes resolved to (namespace, local name).
    fn subcodes(&self) -> Vec<(String, String)> {
        let doc = roxmltree::Document::parse(&self.text).expect("response is XML");
        doc.descendants()
            .filter(|n| n.has_tag_name((SOAP12, "Subcode")))
            .filter_map(|n| n.children().find(|c| c.has_tag_name((SOAP12, "Value"))))
            .filter_map(|v| {
                let (prefix, local) = v.text()?.trim().split_once(':')?;
                Some((
                    v.lookup_namespace_uri(Some(prefix))?.to_string(),
                    local.to_string(),
                ))
            })
            .collect()
    }

    fn has_subcode(&self, ns: &str, name: &str) -> bool {
        self.subcodes().iter().any(|(n, l)| n == ns && l == name)
    }

    /// (topic, PropertyOperation, first Data value) per NotificationMessage.
    fn notifications(&self) -> Vec<(String, String, String)> {
        let doc = roxmltree::Document::parse(&self.text).expect("response is XML");
        doc.descendants()
            .filter(|n| n.has_tag_name((WSNT, "NotificationMessage")))
            .map(|m| {
                let find = |ns, name| m.descendants().find(|n| n.has_tag_name((ns, name)));
                let topic = find(WSNT, "Topic")
                    .and_then(|t| t.text())
                    .unwrap_or("")
                    .trim();
                let message = find(TT, "Message").expect("tt:Message");
                let data = find(TT, "Data")
                    .and_then(|d| d.children().find(|c| c.has_tag_name((TT, "SimpleItem"))))
                    .and_then(|i| i.attribute("Value"))
                    .unwrap_or("");
                let op = message.attribute("PropertyOperation").unwrap_or("");
                (topic.to_string(), op.to_string(), data.to_string())
            })
            .collect()
    }
}

async fn post(c: &reqwest::Client, url: &str, header: &str, body: &str) -> reqwest::Result<Reply> {
    let envelope = format!(
        r#"<s:Envelope xmlns:s="{SOAP12}" xmlns:tds="{TDS}" xmlns:tev="{TEV}" xmlns:wsnt="{WSNT}" xmlns:wsa="{WSA}"><s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"#
    );
    let response = c
        .post(url)
        .header("content-type", "application/soap+xml; charset=utf-8")
        .body(envelope)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok(Reply {
        status,
        text: response.text().await?,
    })
}

async fn call(c: &reqwest::Client, url: &str, header: &str, body: &str) -> Reply {
    post(c, url, header, body).await.expect("request")
}

fn url(sim: &SimDoorbell, path: &str) -> String {
    format!("http://{}{path}", sim.addr())
}

/// Creates a subscription; returns its address and reference-parameter id.
async fn subscribe(c: &reqwest::Client, sim: &SimDoorbell, termination: &str) -> (String, String) {
    let body = format!(
        "<tev:CreatePullPointSubscription><tev:InitialTerminationTime>{termination}</tev:InitialTerminationTime></tev:CreatePullPointSubscription>"
    );
    let reply = call(c, &url(sim, "/onvif/event_service"), &admin(), &body).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    (
        reply.text(WSA, "Address"),
        reply.text(SIM, "SubscriptionId"),
    )
}

async fn pull(c: &reqwest::Client, address: &str, timeout: &str) -> Reply {
    let body = format!(
        "<tev:PullMessages><tev:Timeout>{timeout}</tev:Timeout><tev:MessageLimit>100</tev:MessageLimit></tev:PullMessages>"
    );
    call(c, address, &admin(), &body).await
}

fn lifetime(reply: &Reply, current: (&str, &str), termination: (&str, &str)) -> SignedDuration {
    let time = |(ns, name): (&str, &str)| {
        reply
            .text(ns, name)
            .parse::<Timestamp>()
            .expect("xsd:dateTime")
    };
    time(termination).duration_since(time(current))
}

#[test]
fn the_handle_can_be_shared_between_tasks() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<SimDoorbell>();
}

async fn start(options: SimOptions) -> SimDoorbell {
    SimDoorbell::start(options).await.expect("sim starts")
}

#[tokio::test]
async fn date_and_time_needs_no_credentials_and_follows_the_device_clock() {
    let sim = start(SimOptions::default()).await;
    let c = client();
    let body = "<tds:GetSystemDateAndTime/>";
    let reply = call(&c, sim.device_url().as_str(), "", body).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let year: i32 = reply.text(TT, "Year").parse().expect("year");
    assert!(year >= 2024, "{year}");
    sim.reboot();
    // A reboot closes open connections, as a real one does: a new client, no stale pool.
    let reply = call(&client(), sim.device_url().as_str(), "", body).await;
    assert_eq!(reply.text(TT, "Year"), "2000");
    assert_eq!(reply.text(TT, "DateTimeType"), "Manual");
    sim.shutdown().await;
}

#[tokio::test]
async fn ws_security_digest_is_checked() {
    let sim = start(SimOptions::default()).await;
    let c = client();
    let device = sim.device_url().to_string();
    let body = "<tds:GetDeviceInformation/>";
    let now = Timestamp::now();
    let rejected = [
        String::new(),
        security("admin", "wrong", now),
        security("guest", "password", now),
        security("admin", "password", now - SignedDuration::from_mins(10)),
    ];
    assert!(!rejected.is_empty());
    for header in &rejected {
        let reply = call(&c, &device, header, body).await;
        assert_eq!(reply.status, 400, "{}", reply.text);
        assert!(reply.has_subcode(TER, "NotAuthorized"), "{}", reply.text);
    }
    let reply = call(&c, &device, &admin(), body).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.text(TDS, "Manufacturer"), "doorbell-bridge");
    assert_eq!(reply.text(TDS, "Model"), "Simulated Doorbell");
    // A device clock 10 minutes ahead accepts a Created on its clock, not on ours.
    sim.set_clock_offset(SignedDuration::from_mins(10));
    assert_eq!(call(&c, &device, &admin(), body).await.status, 400);
    let skewed = security("admin", "password", now + SignedDuration::from_mins(10));
    assert_eq!(call(&c, &device, &skewed, body).await.status, 200);
    assert_eq!(sim.stats().auth_failures, 5);
    sim.shutdown().await;
}

const VISITOR: &str = "tns1:RuleEngine/MyRuleDetector/Visitor";

#[tokio::test]
async fn press_reaches_a_subscriber_after_the_initialized_state() {
    let sim = start(SimOptions::default()).await;
    let c = client();
    sim.press(); // before any subscription: not delivered later
    let (address, id) = subscribe(&c, &sim, "PT60S").await;
    assert_eq!(address, url(&sim, &format!("/onvif/subscription/{id}")));
    assert!(sim.wait_for_subscription(WAIT).await);
    sim.press();
    let reply = pull(&c, &address, "PT1S").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let got = reply.notifications();
    let expected = [
        (VISITOR, "Initialized", "false"),
        (
            "tns1:RuleEngine/CellMotionDetector/Motion",
            "Initialized",
            "false",
        ),
        (
            "tns1:RuleEngine/MyRuleDetector/PeopleDetect",
            "Initialized",
            "false",
        ),
        (VISITOR, "Changed", "true"),
        (VISITOR, "Changed", "false"),
    ];
    let got: Vec<_> = got
        .iter()
        .map(|(t, o, d)| (t.as_str(), o.as_str(), d.as_str()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(reply.texts(TEV, "CurrentTime").len(), 1);
    assert_eq!(reply.texts(TEV, "TerminationTime").len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn long_poll_waits_for_its_timeout_and_wakes_on_a_press() {
    let sim = start(SimOptions::default()).await;
    let c = client();
    let (address, _) = subscribe(&c, &sim, "PT60S").await;
    assert_eq!(pull(&c, &address, "PT1S").await.notifications().len(), 3);
    let started = Instant::now();
    let reply = pull(&c, &address, "PT1S").await;
    assert_eq!(reply.status, 200);
    assert!(reply.notifications().is_empty());
    assert!(started.elapsed() >= Duration::from_millis(900));
    // A 60 s poll must come back early (the client times out after 10 s) when pressed.
    let polls = sim.stats().action("PullMessages");
    let waiting = tokio::spawn({
        let c = c.clone();
        async move { pull(&c, &address, "PT60S").await }
    });
    assert!(sim.wait_for_requests("PullMessages", polls + 1, WAIT).await);
    sim.press();
    let reply = waiting.await.expect("poll task");
    assert_eq!(reply.notifications().len(), 2, "{}", reply.text);
    sim.shutdown().await;
}

#[tokio::test]
async fn renew_extends_and_absolute_times_are_honoured() {
    let sim = start(SimOptions {
        clock_offset: SignedDuration::from_hours(-3),
        ..Default::default()
    })
    .await;
    let c = client();
    let device_now = Timestamp::now() - SignedDuration::from_hours(3);
    let header = security("admin", "password", device_now);
    let absolute = (device_now + SignedDuration::from_mins(2))
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let body = format!(
        "<tev:CreatePullPointSubscription><tev:InitialTerminationTime>{absolute}</tev:InitialTerminationTime></tev:CreatePullPointSubscription>"
    );
    let reply = call(&c, &url(&sim, "/onvif/event_service"), &header, &body).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let life = lifetime(&reply, (WSNT, "CurrentTime"), (WSNT, "TerminationTime"));
    assert!((100..=121).contains(&life.as_secs()), "{life}");
    let address = reply.text(WSA, "Address");
    let renew = "<wsnt:Renew><wsnt:TerminationTime>PT10M</wsnt:TerminationTime></wsnt:Renew>";
    let reply = call(&c, &address, &header, renew).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let life = lifetime(&reply, (WSNT, "CurrentTime"), (WSNT, "TerminationTime"));
    assert!((590..=600).contains(&life.as_secs()), "{life}");
    assert_eq!(sim.stats().renewed, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_expired_subscription_is_unknown() {
    let sim = start(SimOptions::default()).await;
    let c = client();
    let (address, _) = subscribe(&c, &sim, "PT1S").await;
    pull(&c, &address, "PT0S").await;
    // The subscription ends during this poll.
    let reply = pull(&c, &address, "PT5S").await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert!(
        reply.has_subcode(WSRF_R, "ResourceUnknownFault"),
        "{}",
        reply.text
    );
    let renew = "<wsnt:Renew><wsnt:TerminationTime>PT60S</wsnt:TerminationTime></wsnt:Renew>";
    assert!(
        call(&c, &address, &admin(), renew)
            .await
            .has_subcode(WSRF_R, "ResourceUnknownFault")
    );
    assert_eq!(sim.stats().live_subscriptions, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn reference_parameter_routes_unsubscribe_and_pulls() {
    let sim = start(SimOptions::default()).await;
    let c = client();
    let (_, id) = subscribe(&c, &sim, "PT60S").await;
    let events = url(&sim, "/onvif/event_service");
    let header = format!(
        r#"{}<dd:SubscriptionId xmlns:dd="{SIM}">{id}</dd:SubscriptionId>"#,
        admin()
    );
    let message = r#"<wsnt:NotificationMessage xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tns1="http://www.onvif.org/ver10/topics" xmlns:tt="http://www.onvif.org/ver10/schema"><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:VideoSource/Alarm</wsnt:Topic><wsnt:Message><tt:Message UtcTime="2024-01-01T00:00:00Z"><tt:Data><tt:SimpleItem Name="State" Value="Ring"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>"#;
    sim.inject(message);
    let body = "<tev:PullMessages><tev:Timeout>PT1S</tev:Timeout><tev:MessageLimit>10</tev:MessageLimit></tev:PullMessages>";
    let reply = call(&c, &events, &header, body).await;
    assert!(reply.text.contains(message), "{}", reply.text);
    assert_eq!(reply.notifications()[3].0, "tns1:VideoSource/Alarm");
    let reply = call(&c, &events, &header, "<wsnt:Unsubscribe/>").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(
        call(&c, &events, &header, body)
            .await
            .has_subcode(WSRF_R, "ResourceUnknownFault")
    );
    let stats = sim.stats();
    assert_eq!((stats.unsubscribed, stats.live_subscriptions), (1, 0));
    sim.shutdown().await;
}

#[tokio::test]
async fn offline_refuses_connections_and_comes_back_on_the_same_port() {
    let sim = start(SimOptions::default()).await;
    let c = client();
    let device = sim.device_url().to_string();
    let body = "<tds:GetSystemDateAndTime/>";
    assert_eq!(call(&c, &device, "", body).await.status, 200);
    let (address, _) = subscribe(&c, &sim, "PT60S").await;
    pull(&c, &address, "PT0S").await;
    let polls = sim.stats().action("PullMessages");
    let held = tokio::spawn({
        let c = c.clone();
        async move {
            post(&c, &address, &admin(), "<tev:PullMessages><tev:Timeout>PT60S</tev:Timeout><tev:MessageLimit>9</tev:MessageLimit></tev:PullMessages>").await
        }
    });
    assert!(sim.wait_for_requests("PullMessages", polls + 1, WAIT).await);
    let before = sim.stats().requests;
    sim.set_fault(Fault::Offline);
    // The held long poll is cut (long before the client's 10 s timeout).
    let cut = held
        .await
        .expect("poll task")
        .err()
        .expect("held poll must fail");
    assert!(!cut.is_timeout(), "{cut:?}");
    for _ in 0..3 {
        let err = post(&c, &device, "", body)
            .await
            .err()
            .expect("offline must fail");
        assert!(err.is_connect(), "{err:?}");
    }
    assert_eq!(sim.stats().requests, before);
    sim.set_fault(Fault::None);
    assert_eq!(call(&c, &device, "", body).await.status, 200);
    let addr = sim.addr();
    sim.shutdown().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "shut down, port closed"
    );
}

#[tokio::test]
async fn injected_faults() {
    let sim = start(SimOptions::default()).await;
    let c = client();
    let (address, _) = subscribe(&c, &sim, "PT60S").await;
    sim.set_fault(Fault::EmptyPolls);
    let reply = pull(&c, &address, "PT30S").await;
    assert_eq!((reply.status, reply.notifications().len()), (200, 0));
    sim.set_fault(Fault::Http500);
    assert_eq!(pull(&c, &address, "PT1S").await.status, 500);
    sim.set_fault(Fault::Garbage);
    let reply = pull(&c, &address, "PT1S").await;
    assert_eq!(reply.status, 200);
    assert!(roxmltree::Document::parse(&reply.text).is_err());
    sim.set_fault(Fault::Slow(Duration::from_millis(200)));
    let reply = pull(&c, &address, "PT1S").await;
    assert_eq!(
        reply.notifications().len(),
        3,
        "queued messages survive the faults"
    );
    assert_eq!(sim.stats().action("PullMessages"), 4);
    sim.shutdown().await;
}

#[tokio::test]
async fn snapshot_requires_digest_and_is_a_jpeg() {
    let sim = start(SimOptions::default()).await;
    let c = client();
    let snapshot = url(&sim, "/snapshot.jpg");
    let challenge = c.get(&snapshot).send().await.expect("request");
    assert_eq!(challenge.status(), 401);
    let www = challenge
        .headers()
        .get("www-authenticate")
        .expect("challenge")
        .clone();
    for (password, status) in [("wrong", 401), ("password", 200)] {
        let mut digest = http_auth::PasswordClient::try_from(&www).expect("digest challenge");
        let params = http_auth::PasswordParams {
            username: "admin",
            password,
            uri: "/snapshot.jpg",
            method: "GET",
            body: None,
        };
        let authorization = digest.respond(&params).expect("digest response");
        let response = c
            .get(&snapshot)
            .header("authorization", authorization)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), status);
        if status == 200 {
            assert_eq!(response.headers()["content-type"], "image/jpeg");
            let jpeg = response.bytes().await.expect("body");
            assert_eq!(
                (&jpeg[..2], &jpeg[jpeg.len() - 2..]),
                (&[0xFF, 0xD8][..], &[0xFF, 0xD9][..])
            );
        }
    }
    let stats = sim.stats();
    assert_eq!((stats.snapshots, stats.auth_failures), (1, 1));
    sim.shutdown().await;
}

#[tokio::test]
async fn http_digest_option_guards_soap_too() {
    let sim = start(SimOptions {
        http_digest: true,
        ..Default::default()
    })
    .await;
    let c = client();
    let device = sim.device_url().to_string();
    assert_eq!(
        call(&c, &device, "", "<tds:GetSystemDateAndTime/>")
            .await
            .status,
        200
    );
    let envelope = format!(
        r#"<s:Envelope xmlns:s="{SOAP12}" xmlns:tds="{TDS}"><s:Header>{}</s:Header><s:Body><tds:GetDeviceInformation/></s:Body></s:Envelope>"#,
        admin()
    );
    let send = |authorization: Option<String>| {
        let mut request = c.post(&device).body(envelope.clone());
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.send()
    };
    let challenge = send(None).await.expect("request");
    assert_eq!(challenge.status(), 401);
    let www = challenge
        .headers()
        .get("www-authenticate")
        .expect("challenge")
        .clone();
    let mut digest = http_auth::PasswordClient::try_from(&www).expect("digest");
    let params = http_auth::PasswordParams {
        username: "admin",
        password: "password",
        uri: "/onvif/device_service",
        method: "POST",
        body: None,
    };
    let response = send(Some(digest.respond(&params).expect("digest response")))
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn soap_11_requests_get_soap_11_answers() {
    let sim = start(SimOptions::default()).await;
    let envelope = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><GetSystemDateAndTime xmlns="http://www.onvif.org/ver10/device/wsdl"/></soapenv:Body></soapenv:Envelope>"#;
    let response = client()
        .post(sim.device_url())
        .header("content-type", "text/xml; charset=utf-8")
        .header(
            "soapaction",
            "\"http://www.onvif.org/ver10/device/wsdl/GetSystemDateAndTime\"",
        )
        .body(envelope)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("body");
    let doc = roxmltree::Document::parse(&text).expect("XML");
    assert_eq!(
        doc.root_element().tag_name().namespace(),
        Some("http://schemas.xmlsoap.org/soap/envelope/")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn lost_subscriptions_are_unknown_and_a_reboot_resets_the_clock() {
    let sim = start(SimOptions::default()).await;
    let c = client();
    let (address, _) = subscribe(&c, &sim, "PT60S").await;
    pull(&c, &address, "PT0S").await;
    let polls = sim.stats().action("PullMessages");
    let held = tokio::spawn({
        let c = c.clone();
        async move { pull(&c, &address, "PT60S").await }
    });
    assert!(sim.wait_for_requests("PullMessages", polls + 1, WAIT).await);
    sim.drop_subscriptions();
    // The held poll answers at once (well before the client's 10 s timeout).
    let reply = held.await.expect("poll task");
    assert!(
        reply.has_subcode(WSRF_R, "ResourceUnknownFault"),
        "{}",
        reply.text
    );

    let (address, _) = subscribe(&c, &sim, "PT60S").await;
    sim.reboot();
    let c = client();
    // Our clock is now far from the device's: a fresh UsernameToken is refused ...
    let reply = pull(&c, &address, "PT0S").await;
    assert!(reply.has_subcode(TER, "NotAuthorized"), "{}", reply.text);
    // ... one on the device clock is accepted, and the subscription is gone.
    let device_now = Timestamp::constant(946_684_800, 0);
    let header = security("admin", "password", device_now);
    let body = "<tev:PullMessages><tev:Timeout>PT0S</tev:Timeout><tev:MessageLimit>9</tev:MessageLimit></tev:PullMessages>";
    let reply = call(&c, &address, &header, body).await;
    assert!(
        reply.has_subcode(WSRF_R, "ResourceUnknownFault"),
        "{}",
        reply.text
    );
    assert_eq!(sim.stats().live_subscriptions, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn pull_points_are_limited() {
    let sim = start(SimOptions::default()).await;
    let c = client();
    let body = "<tev:GetServiceCapabilities/>";
    let reply = call(&c, &url(&sim, "/onvif/event_service"), &admin(), body).await;
    let doc = roxmltree::Document::parse(&reply.text).expect("XML");
    let caps = doc
        .descendants()
        .find(|n| n.has_tag_name((TEV, "Capabilities")))
        .expect("caps");
    let max: usize = caps
        .attribute("MaxPullPoints")
        .and_then(|m| m.parse().ok())
        .expect("max");
    assert!(max > 0);
    for _ in 0..max {
        subscribe(&c, &sim, "PT60S").await;
    }
    let create = "<tev:CreatePullPointSubscription/>";
    let reply = call(&c, &url(&sim, "/onvif/event_service"), &admin(), create).await;
    assert_eq!(reply.status, 500, "{}", reply.text);
    assert!(
        reply.has_subcode(WSNT, "SubscribeCreationFailedFault"),
        "{}",
        reply.text
    );
    assert_eq!(sim.stats().live_subscriptions, max);
    sim.shutdown().await;
}

#[tokio::test]
async fn canned_answers_are_well_formed() {
    let sim = start(SimOptions::default()).await;
    let c = client();
    let base = format!("http://{}", sim.addr());
    let snapshot = format!("{base}/snapshot.jpg");
    let events = format!("{base}/onvif/event_service");
    let trt = r#"xmlns:trt="http://www.onvif.org/ver10/media/wsdl""#;
    let tr2 = r#"xmlns:tr2="http://www.onvif.org/ver20/media/wsdl""#;
    let media_get = format!(
        r#"<trt:GetSnapshotUri {trt}><trt:ProfileToken>Profile_000</trt:ProfileToken></trt:GetSnapshotUri>"#
    );
    let media2_get = format!(
        r#"<tr2:GetSnapshotUri {tr2}><tr2:ProfileToken>Profile_001</tr2:ProfileToken></tr2:GetSnapshotUri>"#
    );
    let media_profiles = format!("<trt:GetProfiles {trt}/>");
    let media2_profiles = format!("<tr2:GetProfiles {tr2}/>");
    let cases: Vec<(&str, &str, (&str, &str), &str)> = vec![
        (
            "/onvif/device_service",
            "<tds:GetServices><tds:IncludeCapability>true</tds:IncludeCapability></tds:GetServices>",
            (TDS, "XAddr"),
            &events,
        ),
        (
            "/onvif/device_service",
            "<tds:GetCapabilities/>",
            (TT, "XAddr"),
            "",
        ),
        (
            "/onvif/device_service",
            "<tds:GetNetworkInterfaces/>",
            (TT, "HwAddress"),
            "02:00:5e:10:00:01",
        ),
        (
            "/onvif/media_service",
            &media_profiles,
            (TT, "Width"),
            "2560",
        ),
        (
            "/onvif/media2_service",
            &media2_profiles,
            (TT, "Width"),
            "2560",
        ),
        ("/onvif/media_service", &media_get, (TT, "Uri"), &snapshot),
        (
            "/onvif/media2_service",
            &media2_get,
            ("http://www.onvif.org/ver20/media/wsdl", "Uri"),
            &snapshot,
        ),
        (
            "/onvif/event_service",
            "<tev:GetEventProperties/>",
            (TEV, "MessageContentFilterDialect"),
            "http://www.onvif.org/ver10/tev/messageContentFilter/ItemFilter",
        ),
    ];
    assert!(!cases.is_empty());
    for (path, body, (ns, name), expected) in cases {
        let reply = call(&c, &url(&sim, path), &admin(), body).await;
        assert_eq!(reply.status, 200, "{body}: {}", reply.text);
        let texts = reply.texts(ns, name);
        assert!(!texts.is_empty(), "{body}: no {name} in {}", reply.text);
        assert!(
            expected.is_empty() || texts.iter().any(|t| t == expected),
            "{body}: {texts:?}"
        );
    }
    // Operations only answer at their own service.
    let reply = call(
        &c,
        &url(&sim, "/onvif/media_service"),
        &admin(),
        "<tds:GetDeviceInformation/>",
    )
    .await;
    assert!(
        reply.has_subcode(TER, "ActionNotSupported"),
        "{}",
        reply.text
    );
    sim.shutdown().await;
}
