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
use url::Url;

use super::auth::HttpAuth;
use super::error::{HINT_HTTP_AUTH, redact, transport_detail};
use super::soap::{self, Addressing, Envelope};
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

/// One SOAP request.
pub(crate) struct Call<'a> {
    /// The service or subscription address.
    pub url: &'a Url,
    /// The SOAP action URI.
    pub action: &'a str,
    /// The body XML (prefixes of [`soap`]'s envelope).
    pub body: &'a str,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// WS-Addressing `To` and reference parameters, for event calls.
    pub addressing: Option<(&'a str, &'a [String])>,
    /// Whether to send WS-Security (all but GetSystemDateAndTime).
    pub authenticate: bool,
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

    /// Sends one SOAP request and returns the response text (a well-formed envelope with a Body
    /// and no Fault). Faults become typed errors; a NotAuthorized fault makes us re-measure the
    /// camera clock and try once more.
    pub(crate) async fn call(&self, call: Call<'_>) -> Result<String, Error> {
        let authenticate = call.authenticate && self.inner.credentials.is_some();
        if authenticate && self.clock_offset().is_none() {
            self.ensure_clock().await?;
        }
        match self.call_once(&call).await {
            Err(e) if authenticate && e.is_soap_auth() => {
                tracing::debug!("{e}; measuring the camera clock again and retrying once");
                let _ = self.sync_clock().await;
                self.call_once(&call).await
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
    pub(crate) async fn call_once(&self, call: &Call<'_>) -> Result<String, Error> {
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
        let response = self
            .send(
                Method::POST,
                call.url,
                Some((&build, &content_type)),
                call.timeout,
            )
            .await?;
        let status = response.status();
        let bytes = self
            .read_capped(response, call.url, MAX_SOAP_BYTES, call.timeout)
            .await?;
        classify(
            &url,
            call.action,
            status,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
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

/// Sorts a SOAP answer into success (the text back) or a typed error (pure).
pub(crate) fn classify(
    url: &str,
    action: &str,
    status: StatusCode,
    text: String,
) -> Result<String, Error> {
    enum Verdict {
        Good,
        Failed(Error),
        Malformed(String),
        NoFault,
    }
    let verdict = match soap::parse(&text) {
        Ok(doc) => match soap::fault_in(&doc) {
            Some(fault) => Verdict::Failed(Error::from_fault(url, action, fault)),
            None if status.is_success() => match soap::body(&doc) {
                Ok(_) => Verdict::Good,
                Err(what) => Verdict::Malformed(what),
            },
            None => Verdict::NoFault,
        },
        Err(what) if status.is_success() => Verdict::Malformed(what),
        Err(_) => Verdict::NoFault,
    };
    match verdict {
        Verdict::Good => Ok(text),
        Verdict::Failed(error) => Err(error),
        Verdict::Malformed(what) => Err(Error::Malformed {
            url: url.to_owned(),
            what,
        }),
        Verdict::NoFault if status == StatusCode::UNAUTHORIZED => Err(Error::Unauthorized {
            url: url.to_owned(),
            detail: "HTTP 401".into(),
            hint: HINT_HTTP_AUTH,
        }),
        Verdict::NoFault => Err(Error::Http {
            url: url.to_owned(),
            status: status.as_u16(),
        }),
    }
}

/// Parses `text` and hands the Body's `name` element to `read`; every failure is
/// [`Error::Malformed`] naming `url`.
pub(crate) fn read_payload<T>(
    url: &Url,
    text: &str,
    namespaces: &[&str],
    name: &str,
    read: impl FnOnce(roxmltree::Node<'_, '_>) -> Result<T, String>,
) -> Result<T, Error> {
    let malformed = |what: String| Error::Malformed {
        url: redact(url),
        what,
    };
    let doc = soap::parse(text).map_err(malformed)?;
    let node = soap::payload(&doc, namespaces, name).map_err(malformed)?;
    read(node).map_err(malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_sorts_answers() {
        let ok = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><x/></s:Body></s:Envelope>"#;
        let fault = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>ter:NotAuthorized</s:Value></s:Subcode></s:Code><s:Reason><s:Text>no</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>"#;
        let c = |status: u16, text: &str| {
            classify(
                "u",
                "a",
                StatusCode::from_u16(status).unwrap(),
                text.to_owned(),
            )
        };
        assert!(c(200, ok).is_ok());
        // A fault wins whatever the status (Hikvision answers 400, others 500 or even 200).
        for status in [200, 400, 401, 500] {
            assert!(c(status, fault).unwrap_err().is_soap_auth(), "{status}");
        }
        assert!(matches!(c(200, "garbage"), Err(Error::Malformed { .. })));
        assert!(matches!(c(200, "<html/>"), Err(Error::Malformed { .. })));
        assert!(matches!(
            c(500, "oops"),
            Err(Error::Http { status: 500, .. })
        ));
        assert!(matches!(c(404, ok), Err(Error::Http { status: 404, .. })));
        let err = c(401, "").unwrap_err();
        assert!(matches!(err, Error::Unauthorized { .. }) && !err.is_soap_auth());
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
