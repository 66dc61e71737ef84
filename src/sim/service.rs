//! One SOAP request from bytes to response: parse, count, fault injection, authentication,
//! then the operation, chosen by the Body element's namespace and local name.

use std::sync::Arc;

use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use quick_xml::escape::escape;

use super::auth;
use super::http::{apply, base_url, digest_challenge};
use super::push::{self, PullPointMode};
use super::soap::{self, Code, Envelope, Fault, TDS, TEV, TR2, TRT, Version, WSNT};
use super::state::Shared;
use super::{Fault as Injected, device, events, media, messages};

/// The path a request arrived on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `/onvif/device_service`.
    Device,
    /// `/onvif/media_service`.
    Media,
    /// `/onvif/media2_service`.
    Media2,
    /// `/onvif/event_service`.
    Events,
    /// `/onvif/subscription/{id}`.
    Subscription(String),
}

/// Handles one SOAP request.
pub async fn handle(
    shared: &Arc<Shared>,
    endpoint: Endpoint,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let parsed = std::str::from_utf8(body)
        .map_err(|_| soap::ParseError::Xml("not UTF-8".into()))
        .and_then(soap::parse);
    let action = parsed
        .as_ref()
        .map_or("(invalid)", |env| env.operation.as_str());
    let injected = shared.count(action);
    if let Some(response) = apply(&injected).await {
        return response;
    }
    let env = match parsed {
        Ok(env) => env,
        Err(err) => {
            let fault = Fault::new(Code::Sender, &["ter:WellFormed"], err.to_string());
            return fault.into_response(Version::Soap12);
        }
    };
    // GetSystemDateAndTime is the one pre-authentication operation: clients read the device
    // clock with it before they can make a valid UsernameToken.
    let pre_auth = env.namespace == TDS && env.operation == "GetSystemDateAndTime";
    if !pre_auth {
        if shared.options.http_digest
            && let Some(challenge) = digest_challenge(shared, &Method::POST, uri, headers)
        {
            return challenge;
        }
        if shared.options.wsse {
            let now = shared.now();
            let options = &shared.options;
            let checked = auth::check_wsse(
                env.token.as_ref(),
                &options.username,
                &options.password,
                now,
            );
            if let Err(err) = checked {
                shared.count_auth_failure();
                let fault = Fault::new(
                    Code::Sender,
                    &["ter:NotAuthorized"],
                    format!("sender not authorized: {err}"),
                );
                return fault.into_response(env.version);
            }
        }
    }
    let base = base_url(shared, headers);
    let hold = injected != Injected::EmptyPolls;
    match operation(shared, &endpoint, &env, &base, hold).await {
        Ok(body) => soap::ok(env.version, &reply_header(&env), &body),
        Err(fault) => fault.into_response(env.version),
    }
}

/// Runs the operation if it belongs to the endpoint it was sent to.
async fn operation(
    shared: &Arc<Shared>,
    endpoint: &Endpoint,
    env: &Envelope,
    base: &str,
    hold: bool,
) -> Result<String, Fault> {
    let ns = env.namespace.as_str();
    let op = env.operation.as_str();
    match (endpoint, ns) {
        (Endpoint::Device, TDS) => device::respond(shared, env, base),
        (Endpoint::Media, TRT) => media::respond_v10(env, base, &shared.rtsp.url()),
        (Endpoint::Media2, TR2) => media::respond_v20(env, base, &shared.rtsp.url()),
        (Endpoint::Events, TEV) if op == "GetEventProperties" => Ok(messages::event_properties()),
        (Endpoint::Events, TEV) if op == "GetServiceCapabilities" => Ok(format!(
            "<tev:GetServiceCapabilitiesResponse>{}</tev:GetServiceCapabilitiesResponse>",
            events::capabilities()
        )),
        (Endpoint::Events, TEV) if op == "CreatePullPointSubscription" => {
            if shared.lock().pull_point == PullPointMode::Unsupported {
                return Err(not_supported(env));
            }
            events::create(shared, env, base)
        }
        (Endpoint::Events, WSNT) if op == "Subscribe" => push::subscribe(shared, env, base),
        (Endpoint::Events | Endpoint::Subscription(_), TEV | WSNT) => {
            // The subscription is named by the path or by the echoed reference parameter.
            let id = match endpoint {
                Endpoint::Subscription(id) => id.as_str(),
                _ => env.subscription_id.as_deref().unwrap_or(""),
            };
            match (ns, op) {
                (TEV, "PullMessages") if shared.lock().pull_point == PullPointMode::Failing => {
                    Err(push::pull_failed())
                }
                (TEV, "PullMessages") => events::pull(shared, id, env, hold).await,
                (TEV, "SetSynchronizationPoint") => events::synchronize(shared, id),
                (WSNT, "Renew") => events::renew(shared, id, env),
                (WSNT, "Unsubscribe") => events::unsubscribe(shared, id),
                _ => Err(not_supported(env)),
            }
        }
        _ => Err(not_supported(env)),
    }
}

/// The fault for an operation this endpoint does not implement.
pub fn not_supported(env: &Envelope) -> Fault {
    Fault::new(
        Code::Receiver,
        &["ter:ActionNotSupported"],
        format!(
            "operation {{{}}}{} is not supported at this address",
            env.namespace, env.operation
        ),
    )
}

/// WS-Addressing reply headers: `wsa:Action` for event operations and `wsa:RelatesTo` when
/// the request had a `wsa:MessageID`.
fn reply_header(env: &Envelope) -> String {
    let action = match (env.namespace.as_str(), env.operation.as_str()) {
        (TEV, op @ ("CreatePullPointSubscription" | "GetEventProperties")) => {
            Some(format!("{TEV}/EventPortType/{op}Response"))
        }
        (TEV, op @ ("PullMessages" | "SetSynchronizationPoint")) => {
            Some(format!("{TEV}/PullPointSubscription/{op}Response"))
        }
        (WSNT, "Subscribe") => Some(
            "http://docs.oasis-open.org/wsn/bw-2/NotificationProducer/SubscribeResponse".into(),
        ),
        (WSNT, op @ ("Renew" | "Unsubscribe")) => Some(format!(
            "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/{op}Response"
        )),
        _ => None,
    };
    let mut header = String::new();
    if let Some(action) = action {
        header.push_str(&format!("<wsa:Action>{action}</wsa:Action>"));
    }
    if let Some(id) = &env.message_id {
        header.push_str(&format!(
            "<wsa:RelatesTo>{}</wsa:RelatesTo>",
            escape(id.as_str())
        ));
    }
    header
}
