//! [`Client`]: one camera's HTTP connection pool, credentials, clock offset and SOAP calls.
//!
//! Authentication, in the order cameras need it: every SOAP call but GetSystemDateAndTime
//! carries a WS-UsernameToken whose `Created` is shifted by the camera's clock offset; when a
//! camera answers HTTP 401 we answer its Digest (or Basic) challenge and remember it; when a
//! camera says NotAuthorized we re-measure its clock and try once more.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use reqwest::{Method, StatusCode};
use roxmltree::Node;
use url::Url;

use super::auth::HttpAuth;
use super::error::{HINT_HTTP_AUTH, redact, transport_detail};
use super::soap::{self, Addressing, Envelope};
use super::subscription::Subscription;
use super::wsse::UsernameToken;
use super::{CONNECT_TIMEOUT, Error, MAX_SOAP_BYTES, REQUEST_TIMEOUT, time};
use crate::secret::Secret;

/// How long an idle connection to a camera stays in the pool. Cameras close idle connections
/// early (often after 15-60 s); a short pool lifetime avoids writing into a closed socket.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(20);

/// Builds a request body afresh for each attempt (a new WS-Security nonce each time).
pub(super) type BodyBuilder<'a> = dyn Fn() -> Result<String, Error> + Sync + 'a;

/// A camera's ONVIF user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password; only [`Secret::expose`]d where a digest or header is computed.
    pub password: Secret,
}

/// How to talk to a camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// Accept any TLS certificate (self-signed cameras). Off by default.
    pub tls_insecure: bool,
    /// TCP + TLS connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout for ordinary SOAP calls.
    pub request_timeout: Duration,
    /// Added to a PullMessages timeout for the HTTP timeout of that request.
    pub pull_margin: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            tls_insecure: false,
            connect_timeout: CONNECT_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
            pull_margin: super::PULL_MARGIN,
        }
    }
}

/// One camera. Cheap to clone (shared state behind an `Arc`); clones share the connection
/// pool, the remembered HTTP challenge and the clock offset.
#[derive(Clone)]
pub struct Client {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) http: reqwest::Client,
    pub(super) device_url: Url,
    pub(super) credentials: Option<Credentials>,
    pub(super) options: ClientOptions,
    /// Camera clock minus ours; `None` until measured.
    pub(super) clock_offset: Mutex<Option<SignedDuration>>,
    pub(super) auth: HttpAuth,
    /// Set once the camera refused a relative termination time (`PT600S`).
    pub(super) absolute_times: AtomicBool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("device_url", &self.inner.device_url.as_str())
            .field("credentials", &self.inner.credentials)
            .finish_non_exhaustive()
    }
}

/// What an operation reads from the Body of an answer.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Expect<'a> {
    /// The Body's child element `name` (the second field) in one of the namespaces.
    Payload(&'a [&'a str], &'a str),
    /// No particular element (Unsubscribe, SetSynchronizationPoint, SetSystemDateAndTime): the
    /// operation is handed the Body.
    Body,
}

/// One SOAP request and what its answer must hold. [`Call::new`] makes an authenticated call
/// with the client's request timeout; the other methods change that.
pub(crate) struct Call<'a> {
    /// The service or subscription address.
    url: &'a Url,
    /// The SOAP action URI.
    action: &'a str,
    /// The body XML (prefixes of [`soap`]'s envelope).
    body: &'a str,
    /// Whole-request timeout; `None`: the client's `request_timeout`.
    timeout: Option<Duration>,
    /// WS-Addressing `To` and reference parameters, for event calls.
    addressing: Option<(&'a str, &'a [String])>,
    /// Whether to send WS-Security (all but GetSystemDateAndTime).
    authenticate: bool,
    /// A call on a subscription address, where HTTP 404 means the subscription is gone.
    subscription: bool,
    /// What the answer's Body must hold.
    expect: Expect<'a>,
}

impl<'a> Call<'a> {
    /// An authenticated call of `action` on `url`, without WS-Addressing.
    pub(crate) fn new(url: &'a Url, action: &'a str, body: &'a str, expect: Expect<'a>) -> Self {
        Call {
            url,
            action,
            body,
            timeout: None,
            addressing: None,
            authenticate: true,
            subscription: false,
            expect,
        }
    }

    /// A call on the subscription `sub`: its address, WS-Addressing `To` and reference
    /// parameters; HTTP 404 there becomes [`Error::SubscriptionLost`].
    pub(crate) fn on_subscription(
        sub: &'a Subscription,
        action: &'a str,
        body: &'a str,
        expect: Expect<'a>,
    ) -> Self {
        Call {
            subscription: true,
            ..Call::new(&sub.address, action, body, expect)
                .addressed(&sub.endpoint, &sub.reference_parameters)
        }
    }

    /// With WS-Addressing headers (`wsa:To` = `to`, and `reference_parameters` echoed).
    pub(crate) fn addressed(self, to: &'a str, reference_parameters: &'a [String]) -> Self {
        Call {
            addressing: Some((to, reference_parameters)),
            ..self
        }
    }

    /// With a whole-request timeout other than the client's `request_timeout`.
    pub(crate) fn timeout(self, timeout: Duration) -> Self {
        Call {
            timeout: Some(timeout),
            ..self
        }
    }

    /// Without WS-Security (GetSystemDateAndTime).
    pub(crate) fn unauthenticated(self) -> Self {
        Call {
            authenticate: false,
            ..self
        }
    }
}

impl Client {
    /// A client for the camera whose device service is at `device_url`
    /// (`http://host[:port]/onvif/device_service`), with its own HTTP client. Credentials in
    /// the URL are removed from it and used when `credentials` is `None`.
    pub fn new(
        device_url: Url,
        credentials: Option<Credentials>,
        options: ClientOptions,
    ) -> Result<Client, Error> {
        let http = http_client(&options).map_err(|e| Error::Transport {
            url: redact(&device_url),
            detail: transport_detail(e),
        })?;
        Self::with_http(device_url, credentials, options, http)
    }

    /// Like [`Client::new`], sending through `http`, an [`http_client`] built with the same
    /// `options` and shared with other cameras. reqwest pools connections per scheme, host and
    /// port, so each camera still keeps its own connections.
    pub fn with_http(
        device_url: Url,
        credentials: Option<Credentials>,
        options: ClientOptions,
        http: reqwest::Client,
    ) -> Result<Client, Error> {
        let mut device_url = device_url;
        if !matches!(device_url.scheme(), "http" | "https") || device_url.host_str().is_none() {
            return Err(Error::Malformed {
                url: redact(&device_url),
                what: "the device URL must be http:// or https:// with a host".into(),
            });
        }
        let from_url = (!device_url.username().is_empty()).then(|| Credentials {
            username: device_url.username().to_owned(),
            password: Secret::new(device_url.password().unwrap_or_default()),
        });
        let _ = device_url.set_username("");
        let _ = device_url.set_password(None);
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                device_url,
                credentials: credentials.or(from_url),
                options,
                clock_offset: Mutex::new(None),
                auth: HttpAuth::default(),
                absolute_times: AtomicBool::new(false),
            }),
        })
    }

    /// The device service URL, without credentials.
    pub fn device_url(&self) -> &Url {
        &self.inner.device_url
    }

    /// The options this client was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// Camera clock minus ours, once measured (see [`Client::sync_clock`]).
    pub fn clock_offset(&self) -> Option<SignedDuration> {
        *self
            .inner
            .clock_offset
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_clock_offset(&self, offset: SignedDuration) {
        *self
            .inner
            .clock_offset
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(offset);
    }

    /// Whether to send absolute termination times (the camera refused relative ones).
    pub(crate) fn absolute_times(&self) -> &AtomicBool {
        &self.inner.absolute_times
    }

    /// Our estimate of the camera's clock now.
    pub fn camera_now(&self) -> Timestamp {
        let now = Timestamp::now();
        let offset = self.clock_offset().unwrap_or_default();
        now.checked_add(offset).unwrap_or(now)
    }

    /// Sends one SOAP request and hands what its answer's Body holds (see [`Expect`]) to
    /// `read`. The answer is parsed once; faults become typed errors; a NotAuthorized fault
    /// makes us re-measure the camera clock and try once more.
    pub(crate) async fn call<T>(
        &self,
        call: Call<'_>,
        read: impl Fn(Node<'_, '_>) -> Result<T, String>,
    ) -> Result<T, Error> {
        let authenticate = call.authenticate && self.inner.credentials.is_some();
        if authenticate && self.clock_offset().is_none() {
            self.ensure_clock().await?;
        }
        match self.call_once(&call, &read).await {
            Err(e) if authenticate && e.is_soap_auth() => {
                tracing::debug!("{e}; measuring the camera clock again and retrying once");
                let _ = self.sync_clock().await;
                self.call_once(&call, &read).await
            }
            other => other,
        }
    }

    /// Measures the clock offset before the first authenticated call. A camera that cannot
    /// tell its time gets offset zero; only an unreachable camera is an error here.
    async fn ensure_clock(&self) -> Result<(), Error> {
        match self.sync_clock().await {
            Ok(_) => Ok(()),
            Err(e @ (Error::Transport { .. } | Error::Timeout { .. })) => Err(e),
            Err(e) => {
                tracing::debug!("{e}; assuming the camera clock is right");
                self.set_clock_offset(SignedDuration::ZERO);
                Ok(())
            }
        }
    }

    /// One attempt, without the clock handling of [`Client::call`].
    pub(crate) async fn call_once<T>(
        &self,
        call: &Call<'_>,
        read: impl FnOnce(Node<'_, '_>) -> Result<T, String>,
    ) -> Result<T, Error> {
        let url = redact(call.url);
        let credentials = self
            .inner
            .credentials
            .as_ref()
            .filter(|_| call.authenticate);
        let build = || -> Result<String, Error> {
            let token = match credentials {
                Some(c) => Some(
                    UsernameToken::new(
                        &c.username,
                        c.password.expose(),
                        &time::format_time(self.camera_now()),
                    )
                    .map_err(|e| Error::Transport {
                        url: url.clone(),
                        detail: format!("no random numbers for the WS-Security nonce ({e})"),
                    })?,
                ),
                None => None,
            };
            let message_id = format!("urn:uuid:{}", uuid::Uuid::new_v4());
            let addressing = call
                .addressing
                .map(|(to, reference_parameters)| Addressing {
                    to,
                    reference_parameters,
                    message_id: &message_id,
                });
            Ok(Envelope {
                action: call.action,
                security: token.as_ref(),
                addressing,
                body: call.body,
            }
            .to_xml())
        };
        let content_type = format!(
            "application/soap+xml; charset=utf-8; action=\"{}\"",
            call.action
        );
        let timeout = call.timeout.unwrap_or(self.options().request_timeout);
        let response = self
            .send(
                Method::POST,
                call.url,
                Some((&build, &content_type)),
                timeout,
            )
            .await?;
        let status = response.status();
        let bytes = self
            .read_capped(response, call.url, MAX_SOAP_BYTES, timeout)
            .await?;
        match Answer::new(status, bytes.into()).read(&url, call.action, call.expect, read) {
            Err(Error::Http { url, status: 404 }) if call.subscription => {
                Err(Error::SubscriptionLost {
                    url,
                    reason: "HTTP 404 on the subscription address".into(),
                })
            }
            other => other,
        }
    }
}

/// The HTTP client cameras with `options` talk through. Building one loads the system's CA
/// certificates (rustls-platform-verifier reads them eagerly: about 100 KiB and 2 ms each
/// time), so a bridge builds one per distinct `options` and shares it
/// ([`Client::with_http`]).
pub fn http_client(options: &ClientOptions) -> Result<reqwest::Client, reqwest::Error> {
    super::install_crypto_provider();
    reqwest::Client::builder()
        .connect_timeout(options.connect_timeout)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .tls_danger_accept_invalid_certs(options.tls_insecure)
        .user_agent(concat!("doorbell-bridge/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// A camera's answer as it came: the HTTP status and the body text. Its text is private and
/// [`Answer::read`] consumes it, so an answer is parsed exactly once.
pub(crate) struct Answer {
    status: StatusCode,
    text: String,
}

impl Answer {
    /// An answer with `status` and the body `bytes` (not UTF-8: read lossily).
    pub(crate) fn new(status: StatusCode, bytes: Vec<u8>) -> Answer {
        let text = String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        Answer { status, text }
    }

    /// Parses the answer once and sorts it (pure): a fault, whatever the status (Hikvision
    /// answers 400, others 500 or 200), becomes the matching typed error; an error status
    /// without a fault [`Error::Unauthorized`] (401) or [`Error::Http`]; otherwise what
    /// `expect` names in the Body goes to `read`. Anything unreadable in a successful answer is
    /// [`Error::Malformed`] naming `url`.
    pub(crate) fn read<T>(
        self,
        url: &str,
        action: &str,
        expect: Expect<'_>,
        read: impl FnOnce(Node<'_, '_>) -> Result<T, String>,
    ) -> Result<T, Error> {
        let malformed = |what: String| Error::Malformed {
            url: url.to_owned(),
            what,
        };
        let doc = match soap::parse(&self.text) {
            Ok(doc) => doc,
            Err(what) if self.status.is_success() => return Err(malformed(what)),
            Err(_) => return Err(status_error(url, self.status)),
        };
        if let Some(fault) = soap::fault_in(&doc) {
            return Err(Error::from_fault(url, action, fault));
        }
        if !self.status.is_success() {
            return Err(status_error(url, self.status));
        }
        let node = match expect {
            Expect::Payload(namespaces, name) => soap::payload(&doc, namespaces, name),
            Expect::Body => soap::body(&doc),
        }
        .map_err(malformed)?;
        read(node).map_err(malformed)
    }
}

/// The error for an HTTP error status without a SOAP fault.
fn status_error(url: &str, status: StatusCode) -> Error {
    if status == StatusCode::UNAUTHORIZED {
        Error::Unauthorized {
            url: url.to_owned(),
            detail: "HTTP 401".into(),
            hint: HINT_HTTP_AUTH,
        }
    } else {
        Error::Http {
            url: url.to_owned(),
            status: status.as_u16(),
        }
    }
}

/// A successful answer `text` from `url` read like [`Client::call`] reads it, for the readers'
/// tests.
#[cfg(test)]
pub(crate) fn read_payload<T>(
    url: &Url,
    text: &str,
    namespaces: &[&str],
    name: &str,
    read: impl FnOnce(Node<'_, '_>) -> Result<T, String>,
) -> Result<T, Error> {
    Answer::new(StatusCode::OK, text.as_bytes().to_vec()).read(
        &redact(url),
        "test",
        Expect::Payload(namespaces, name),
        read,
    )
}

#[cfg(test)]
mod tests {
    use super::super::document;
    use super::*;

    const OK: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><x/></s:Body></s:Envelope>"#;
    const NOT_AUTHORIZED: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>ter:NotAuthorized</s:Value></s:Subcode></s:Code><s:Reason><s:Text>no</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>"#;

    fn answer(status: u16, text: &str) -> Answer {
        Answer::new(StatusCode::from_u16(status).unwrap(), text.into())
    }

    /// How many documents `f` parses (counted by [`super::super::document::parse`]).
    fn parses<T>(f: impl FnOnce() -> T) -> (T, usize) {
        let before = document::PARSED.with(|p| p.get());
        let out = f();
        (out, document::PARSED.with(|p| p.get()) - before)
    }

    #[test]
    fn answers_are_sorted() {
        let c =
            |status: u16, text: &str| answer(status, text).read("u", "a", Expect::Body, |_| Ok(()));
        assert!(c(200, OK).is_ok());
        // A fault wins whatever the status (Hikvision answers 400, others 500 or even 200).
        for status in [200, 400, 401, 500] {
            assert!(
                c(status, NOT_AUTHORIZED).unwrap_err().is_soap_auth(),
                "{status}"
            );
        }
        assert!(matches!(c(200, "garbage"), Err(Error::Malformed { .. })));
        assert!(matches!(c(200, "<html/>"), Err(Error::Malformed { .. })));
        assert!(matches!(
            c(500, "oops"),
            Err(Error::Http { status: 500, .. })
        ));
        assert!(matches!(c(404, OK), Err(Error::Http { status: 404, .. })));
        let err = c(401, "").unwrap_err();
        assert!(matches!(err, Error::Unauthorized { .. }) && !err.is_soap_auth());
        let missing = answer(200, OK).read("u", "a", Expect::Payload(&["urn:x"], "R"), |_| Ok(()));
        let err = missing.unwrap_err();
        assert!(err.to_string().contains("no R in the answer"), "{err}");
        let refused = answer(200, OK).read("u", "a", Expect::Body, |_| Err::<(), _>("bad".into()));
        assert!(matches!(refused, Err(Error::Malformed { what, .. }) if what == "bad"));
    }

    #[test]
    fn an_answer_is_parsed_once_and_its_payload_read_from_that_document() {
        let text = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><r:R xmlns:r="urn:r"><r:V>42</r:V></r:R></s:Body></s:Envelope>"#;
        let (value, count) = parses(|| {
            answer(200, text).read("u", "a", Expect::Payload(&["urn:r"], "R"), |r| {
                Ok(r.first_element_child()
                    .and_then(|v| v.text())
                    .map(str::to_owned))
            })
        });
        assert_eq!(value.unwrap().as_deref(), Some("42"));
        assert_eq!(count, 1);
    }

    #[test]
    fn a_fault_is_classified_from_the_same_parsed_document() {
        let lost = r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:wsrf-rw="http://docs.oasis-open.org/wsrf/rw-2"><env:Body><env:Fault><env:Code><env:Value>env:Receiver</env:Value><env:Subcode><env:Value>wsrf-rw:ResourceUnknownFault</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">unknown subscription</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>"#;
        for status in [200, 400, 500] {
            let read = std::cell::Cell::new(false);
            let (result, count) = parses(|| {
                answer(status, lost).read(
                    "http://cam/sub",
                    "a/PullMessagesRequest",
                    Expect::Payload(&["urn:r"], "R"),
                    |_| {
                        read.set(true);
                        Ok(())
                    },
                )
            });
            let err = result.unwrap_err();
            assert_eq!(
                err.retry(),
                super::super::Retry::Resubscribe,
                "{status}: {err}"
            );
            assert!(err.to_string().contains("unknown subscription"), "{err}");
            assert_eq!(count, 1, "{status}");
            assert!(!read.get(), "the operation read a fault");
        }
        let ((), count) = parses(|| {
            let _ = answer(500, "not xml").read("u", "a", Expect::Body, |_| Ok(()));
        });
        assert_eq!(count, 1);
    }

    #[test]
    fn client_futures_are_send_and_urls_lose_credentials() {
        fn send<T: Send>(_: &T) {}
        let url: Url = "http://admin:pw@cam/onvif/device_service".parse().unwrap();
        let client = Client::new(url, None, ClientOptions::default()).unwrap();
        assert_eq!(
            client.device_url().as_str(),
            "http://cam/onvif/device_service"
        );
        assert!(!format!("{client:?}").contains("pw"));
        send(&client.device_information());
        send(&client.fetch(client.device_url(), 1, Duration::from_secs(1)));
        let err = Client::new(
            "ftp://cam/".parse().unwrap(),
            None,
            ClientOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(err, Error::Malformed { .. }));
    }
}
