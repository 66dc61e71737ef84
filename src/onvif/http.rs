//! Plain HTTP for [`Client`]: requests with HTTP Digest/Basic answered and remembered, bodies
//! read in chunks under a cap, and [`Client::fetch`] for snapshots.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use url::Url;

use super::auth::Learned;
use super::client::BodyBuilder;
use super::error::{HINT_HTTP_AUTH, redact, transport_detail};
use super::{Client, Error};

impl Client {
    /// An authenticated HTTP GET (Digest, Basic or none, as the server asks) of at most
    /// `max_bytes`, for snapshots. Reading stops as soon as the cap is passed.
    pub async fn fetch(
        &self,
        url: &Url,
        max_bytes: u64,
        timeout: Duration,
    ) -> Result<Bytes, Error> {
        let mut url = url.clone();
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let response = self.send(Method::GET, &url, None, timeout).await?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED {
            return Err(Error::Unauthorized {
                url: redact(&url),
                detail: "HTTP 401".into(),
                hint: HINT_HTTP_AUTH,
            });
        }
        if !status.is_success() {
            return Err(Error::Http {
                url: redact(&url),
                status: status.as_u16(),
            });
        }
        self.read_capped(response, &url, max_bytes, timeout).await
    }

    /// An authenticated HTTP POST of `body` (with `content_type`) whose answer is read up to
    /// `max_bytes`, for vendor APIs that take a document (DoorBird `schedule.cgi`). Errors as
    /// for [`Client::command`].
    pub async fn post(
        &self,
        url: &Url,
        content_type: &str,
        body: &str,
        max_bytes: u64,
        timeout: Duration,
    ) -> Result<Bytes, Error> {
        self.command(
            Method::POST,
            url,
            Some((body, content_type)),
            max_bytes,
            timeout,
        )
        .await
    }

    /// An authenticated request with an optional body (`(text, content type)`), Digest or
    /// Basic as the server asks, for vendor commands (a door): the answer's body, at most
    /// `max_bytes`. A status other than 2xx is an error (401 as [`Error::Unauthorized`]).
    pub async fn command(
        &self,
        method: Method,
        url: &Url,
        body: Option<(&str, &str)>,
        max_bytes: u64,
        timeout: Duration,
    ) -> Result<Bytes, Error> {
        let build = |text: &str| -> Result<String, Error> { Ok(text.to_owned()) };
        let response = match body {
            Some((text, content_type)) => {
                let builder = || build(text);
                self.send(method, url, Some((&builder, content_type)), timeout)
                    .await?
            }
            None => self.send(method, url, None, timeout).await?,
        };
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED {
            return Err(Error::Unauthorized {
                url: redact(url),
                detail: "HTTP 401".into(),
                hint: HINT_HTTP_AUTH,
            });
        }
        if !status.is_success() {
            return Err(Error::Http {
                url: redact(url),
                status: status.as_u16(),
            });
        }
        self.read_capped(response, url, max_bytes, timeout).await
    }

    /// An authenticated GET whose body never ends (a vendor event stream): the response once
    /// its head has arrived within `head_timeout`, with no limit on the whole request. The
    /// caller reads it chunk by chunk under its own idle watchdog. A status other than 2xx is
    /// an error here (401 as [`Error::Unauthorized`]).
    pub async fn open_stream(
        &self,
        url: &Url,
        head_timeout: Duration,
    ) -> Result<reqwest::Response, Error> {
        let response = tokio::time::timeout(head_timeout, self.send(Method::GET, url, None, None))
            .await
            .map_err(|_| Error::Timeout {
                url: redact(url),
                after: head_timeout,
            })??;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED {
            return Err(Error::Unauthorized {
                url: redact(url),
                detail: "HTTP 401".into(),
                hint: HINT_HTTP_AUTH,
            });
        }
        if !status.is_success() {
            return Err(Error::Http {
                url: redact(url),
                status: status.as_u16(),
            });
        }
        Ok(response)
    }

    /// Sends a request, answering HTTP 401 challenges: once for a new challenge, once more for
    /// a stale Digest nonce. `body` builds the body afresh for each attempt (new WS-Security
    /// nonce) with its content type.
    pub(super) async fn send(
        &self,
        method: Method,
        url: &Url,
        body: Option<(&BodyBuilder<'_>, &str)>,
        timeout: impl Into<Option<Duration>>,
    ) -> Result<reqwest::Response, Error> {
        let timeout = timeout.into();
        let mut answered = 0;
        loop {
            let mut request = self.inner.http.request(method.clone(), url.clone());
            if let Some(timeout) = timeout {
                request = request.timeout(timeout);
            }
            if let Some((build, content_type)) = body {
                request = request.header(CONTENT_TYPE, content_type).body(build()?);
            }
            let credentials = self.inner.credentials.as_ref();
            if let Some(c) = credentials
                && let Some(value) = self.inner.auth.authorization(url, method.as_str(), c)
            {
                request = request.header(AUTHORIZATION, value);
            }
            let response = request
                .send()
                .await
                .map_err(|e| map_transport(url, timeout.unwrap_or(Duration::MAX), e))?;
            if response.status() != StatusCode::UNAUTHORIZED || credentials.is_none() {
                return Ok(response);
            }
            match self.inner.auth.learn(url, response.headers()) {
                Learned::Fresh if answered == 0 => answered += 1,
                Learned::Stale if answered < 2 => answered += 1,
                _ => return Ok(response),
            }
        }
    }

    /// Reads the body in chunks, stopping as soon as it passes `limit`.
    pub(super) async fn read_capped(
        &self,
        mut response: reqwest::Response,
        url: &Url,
        limit: u64,
        timeout: Duration,
    ) -> Result<Bytes, Error> {
        let too_large = || Error::TooLarge {
            url: redact(url),
            limit,
        };
        if response.content_length().is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let mut buf = BytesMut::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| map_transport(url, timeout, e))?
        {
            if (buf.len() + chunk.len()) as u64 > limit {
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }
}

fn map_transport(url: &Url, timeout: Duration, e: reqwest::Error) -> Error {
    if e.is_timeout() {
        Error::Timeout {
            url: redact(url),
            after: timeout,
        }
    } else {
        Error::Transport {
            url: redact(url),
            detail: transport_detail(e),
        }
    }
}
