//! Our ONVIF client layer.
//!
//! Written on reqwest and roxmltree rather than taken from a published ONVIF crate: those
//! cannot hold a PullMessages long-poll past 10 s, drop WS-Addressing reference parameters
//! (Axis routes by them) and lose event data. What we need is small: a dozen SOAP 1.2 calls,
//! WS-UsernameToken with the camera's clock offset, HTTP Digest/Basic, and tolerant,
//! namespace-aware reading of whatever a camera answers.
//!
//! # Layout
//!
//! - [`client`]: [`Client`], one per camera: HTTP, authentication, the clock offset, SOAP calls
//!   (plain HTTP with Digest/Basic and capped reads in the private `http` and `auth` files).
//!   Each answer is parsed once; its fault, or the element the operation asked for, is read
//!   from that one document.
//! - [`soap`]: envelopes out, envelopes and faults in (pure).
//! - [`wsse`]: the WS-UsernameToken `PasswordDigest` (pure).
//! - [`device`], [`media`]: device information, service addresses, profiles, snapshot URIs;
//!   [`deviceio`]: relay outputs (GetRelayOutputs, SetRelayOutputSettings, SetRelayOutputState).
//! - [`pullpoint`]: CreatePullPointSubscription, PullMessages, Renew, Unsubscribe and the pure
//!   [`Subscription`] (in [`subscription`]) that knows when renewal is due; [`properties`]:
//!   GetEventProperties as topic strings.
//! - [`notify`]: ONVIF push: WS-BaseNotification Subscribe with a consumer URL, and the
//!   pushed Notify bodies read like pulled messages.
//! - [`discovery`]: WS-Discovery Probe / ProbeMatches (pure) and the probe over UDP.
//! - [`address`]: service-address repair and NAT rewriting (pure).
//! - [`time`]: `xsd:duration` and `xsd:dateTime` as cameras write them (pure).
//! - [`error`]: [`Error`] and the [`Retry`] advice supervisors act on.
//! - [`xml`], [`notification`]: NotificationMessage parsing; ElementItems are read into items
//!   there, so no XML text leaves this module.
//! - [`document`]: every untrusted XML text is parsed there, under size and shape limits.
//!
//! The rest of the program sees only [`Client`], [`Subscription`], [`Notification`] and
//! [`Error`].

use std::time::Duration;

pub mod address;
mod auth;
pub mod client;
pub mod device;
pub mod deviceio;
pub mod discovery;
pub mod document;
mod dom;
pub mod error;
mod http;
pub mod media;
pub mod notification;
pub mod notify;
pub mod properties;
pub mod pullpoint;
pub mod soap;
pub mod subscription;
pub mod time;
pub mod topic;
pub mod wsse;
pub mod xml;

pub use auth::answer_challenge;
pub use client::{Client, ClientOptions, Credentials};
pub use device::Services;
pub use error::{Error, Retry};
pub use media::{MediaService, MediaVersion, Profile, best_profile, smallest_profile};
pub use notification::Notification;
pub use pullpoint::PullResult;
pub use subscription::{Granted, Subscription};

/// Largest SOAP response we read. A PullMessagesResponse with 100 messages is well under
/// 1 MiB; anything bigger is a broken or hostile camera, and we stop reading at the cap.
pub const MAX_SOAP_BYTES: u64 = 4 * 1024 * 1024;

/// How long we wait for a TCP (and TLS) connection to a camera.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Whole-request timeout for ordinary SOAP calls (everything but PullMessages).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Added to the PullMessages `Timeout` to get the HTTP timeout of that request, so a camera
/// that holds the long poll for the full time still answers before we give up.
pub const PULL_MARGIN: Duration = Duration::from_secs(10);

/// Installs ring as the process-wide rustls crypto provider, if none is installed yet.
///
/// reqwest is built with `rustls-no-provider` and panics when building a client without one.
/// Idempotent and cheap; [`Client::new`] calls it, tests and `main` may call it too.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another thread installing one is fine: either provider works.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
