//! How each API opens a door: the requests (pure, one arm per API in [`http_request`]) and
//! the thin IO that sends them through the camera's [`Client`] (Digest or Basic as the
//! device asks, the same plumbing as snapshots and event streams).
//!
//! | API | open | read only (`check`) | evidence |
//! |---|---|---|---|
//! | ONVIF | SetRelayOutputState `active` (bistable: `inactive` after `pulse`; monostable: SetRelayOutputSettings first when its DelayTime differs) | GetRelayOutputs | ONVIF Core §8.6.3; HA core PR #161480 |
//! | Dahua | `GET /cgi-bin/accessControl.cgi?action=openDoor&channel=N&UserID=101&Type=Remote`, answer `OK` | `accessControl.cgi?action=getDoorStatus&channel=N` | rroller/dahua `async_access_control_open_door`; DahuaVTO2MQTT; Scrypted `unlock()` |
//! | Hikvision | `PUT /ISAPI/AccessControl/RemoteControl/door/N`, `<RemoteControlDoor><cmd>open</cmd></RemoteControlDoor>` | `GET .../RemoteControl/door/capabilities` | Hikvision-Addons `doorbell/ISAPI.md`; Scrypted `controlDoor` |
//! | DoorBird | `GET /bha-api/open-door.cgi?r=N` (HTTP Basic), answer `{"BHA":{"RETURNCODE":"1"}}` | `GET /bha-api/info.cgi` (its `RELAYS`) | openhab `DoorbirdAPI.java`; doorbirdpy |
//!
//! A new API is one more arm in [`http_request`], [`http_probe`] and [`check_answer`] and its
//! [`RelayApi`] variant.

use std::time::Duration;

use reqwest::Method;
use url::Url;

use crate::config::{Door, RelayApi, RelayConfig};
use crate::onvif::Client;
use crate::onvif::deviceio::{RelayMode, RelayOutput};

/// Whole-request timeout of a door request: a door that opens a minute late is worse than
/// one that does not open.
pub const DOOR_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest answer read from a door request.
pub const MAX_DOOR_ANSWER: u64 = 16 * 1024;
/// The user id Dahua's remote open names (every integration sends 101).
pub const DAHUA_USER_ID: u32 = 101;

/// A vendor door request, made from the API and the door number alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpDoor {
    /// GET or PUT.
    pub method: Method,
    /// Path and query on the device's origin.
    pub path: String,
    /// Body and content type.
    pub body: Option<(String, &'static str)>,
}

/// The request that opens door `door` (1-based) on `api`; `None` for ONVIF, which is SOAP.
pub fn http_request(api: RelayApi, door: u32) -> Option<HttpDoor> {
    match api {
        RelayApi::Onvif => None,
        RelayApi::Dahua => Some(HttpDoor {
            method: Method::GET,
            path: format!(
                "/cgi-bin/accessControl.cgi?action=openDoor&channel={door}&UserID={DAHUA_USER_ID}&Type=Remote"
            ),
            body: None,
        }),
        RelayApi::Hikvision => Some(HttpDoor {
            method: Method::PUT,
            path: format!("/ISAPI/AccessControl/RemoteControl/door/{door}"),
            body: Some((
                "<RemoteControlDoor><cmd>open</cmd></RemoteControlDoor>".to_owned(),
                "application/xml",
            )),
        }),
        RelayApi::DoorBird => Some(HttpDoor {
            method: Method::GET,
            path: format!("{}?r={door}", crate::doorbird::OPEN_DOOR_PATH),
            body: None,
        }),
    }
}

/// The read-only request `check` sends to see the door (never one that switches it).
pub fn http_probe(api: RelayApi, door: u32) -> Option<String> {
    match api {
        RelayApi::Onvif => None,
        RelayApi::Dahua => Some(format!(
            "/cgi-bin/accessControl.cgi?action=getDoorStatus&channel={door}"
        )),
        RelayApi::Hikvision => Some("/ISAPI/AccessControl/RemoteControl/door/capabilities".into()),
        RelayApi::DoorBird => Some(crate::doorbird::INFO_PATH.into()),
    }
}

/// Whether a 2xx answer to [`http_request`] says the door opened (pure). Dahua answers `OK`;
/// Hikvision a `ResponseStatus` whose `statusCode` is 1 (or nothing we can read, which a 2xx
/// status already vouches for); DoorBird `{"BHA":{"RETURNCODE":"1"}}`.
pub fn check_answer(api: RelayApi, body: &str) -> Result<(), String> {
    let shown = |b: &str| crate::vendor::cut(b.trim(), 80).to_owned();
    match api {
        RelayApi::Onvif => Ok(()),
        RelayApi::Dahua if body.trim().eq_ignore_ascii_case("OK") => Ok(()),
        RelayApi::Dahua => Err(format!(
            "the device answered {:?} instead of OK",
            shown(body)
        )),
        RelayApi::Hikvision => match between(body, "<statusCode>", "</statusCode>") {
            None | Some("1") => Ok(()),
            Some(code) => Err(format!(
                "the device answered statusCode {code} ({})",
                between(body, "<subStatusCode>", "</subStatusCode>").unwrap_or("no detail")
            )),
        },
        RelayApi::DoorBird => {
            let code = serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v["BHA"]["RETURNCODE"].as_str().map(str::to_owned));
            match code.as_deref() {
                Some("1") => Ok(()),
                Some(code) => Err(format!("the device answered RETURNCODE {code}")),
                None => Err(format!(
                    "the device answered {:?} instead of its RETURNCODE",
                    shown(body)
                )),
            }
        }
    }
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(text[start..end].trim())
}

/// What an open left to do: a bistable ONVIF relay to switch back after `pulse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The relay token to set `inactive`, when the relay does not go back by itself.
    pub release: Option<String>,
}

/// Picks the configured relay from what GetRelayOutputs listed (pure).
pub fn pick<'a>(relays: &'a [RelayOutput], door: &Door) -> Result<&'a RelayOutput, String> {
    let found = match door {
        Door::Number(n) => relays.get((*n as usize).saturating_sub(1)),
        Door::Token(t) => relays.iter().find(|r| &r.token == t),
    };
    found.ok_or_else(|| {
        let listed: Vec<&str> = relays.iter().map(|r| r.token.as_str()).collect();
        format!(
            "the camera has no relay {door} (it lists {}); set relay.door to one of them",
            if listed.is_empty() {
                "none".to_owned()
            } else {
                listed.join(", ")
            }
        )
    })
}

/// Opens the door through `api`. The error names the camera URL and what failed, never a
/// secret.
pub async fn open(client: &Client, api: RelayApi, relay: &RelayConfig) -> Result<Opened, String> {
    let number = match (&relay.door, api) {
        (_, RelayApi::Onvif) => return open_onvif(client, relay).await,
        (Door::Number(n), _) => *n,
        (Door::Token(t), _) => {
            return Err(format!(
                "relay.door is the ONVIF token {t:?}, but this camera opens doors through the {} API, which numbers them; write door = 1",
                api.as_str()
            ));
        }
    };
    let Some(request) = http_request(api, number) else {
        return Err(format!("the {} API has no door request", api.as_str()));
    };
    let url = on_device(client, &request.path)?;
    let body = request.body.as_ref().map(|(b, t)| (b.as_str(), *t));
    let answer = client
        .command(request.method, &url, body, MAX_DOOR_ANSWER, DOOR_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    check_answer(api, &String::from_utf8_lossy(&answer))
        .map_err(|why| format!("{}: {why}", crate::onvif::error::redact(&url)))?;
    Ok(Opened { release: None })
}

async fn open_onvif(client: &Client, relay: &RelayConfig) -> Result<Opened, String> {
    let relays = bounded(client.relay_outputs()).await?;
    let output = pick(&relays, &relay.door)?;
    let bistable = output.mode == Some(RelayMode::Bistable);
    if output.mode == Some(RelayMode::Monostable) && output.delay != Some(relay.pulse) {
        bounded(client.set_relay_settings(output, RelayMode::Monostable, relay.pulse)).await?;
    }
    bounded(client.set_relay_state(&output.token, true)).await?;
    Ok(Opened {
        // A relay whose mode the device did not say is switched back too: inactive is safe.
        release: (bistable || output.mode.is_none()).then(|| output.token.clone()),
    })
}

/// Switches a bistable ONVIF relay back to inactive.
pub async fn release(client: &Client, token: &str) -> Result<(), String> {
    bounded(client.set_relay_state(token, false)).await
}

/// What `check` reports about a camera's doors, read only: the ONVIF relays, or the vendor
/// door's status or capabilities answer (first line, cut).
pub async fn describe(client: &Client, api: RelayApi, door: &Door) -> Result<Vec<String>, String> {
    if api == RelayApi::Onvif {
        let relays = bounded(client.relay_outputs()).await?;
        return Ok(relays
            .iter()
            .map(|r| {
                let mode = match r.mode {
                    Some(RelayMode::Monostable) => "monostable",
                    Some(RelayMode::Bistable) => "bistable",
                    None => "mode unknown",
                };
                let delay = r
                    .delay
                    .filter(|_| r.mode == Some(RelayMode::Monostable))
                    .map(|d| format!(", {d:?}"))
                    .unwrap_or_default();
                format!("relay {} ({mode}{delay})", r.token)
            })
            .collect());
    }
    let number = match door {
        Door::Number(n) => *n,
        Door::Token(_) => 1,
    };
    let Some(path) = http_probe(api, number) else {
        return Ok(Vec::new());
    };
    let url = on_device(client, &path)?;
    let answer = client
        .command(Method::GET, &url, None, MAX_DOOR_ANSWER, DOOR_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&answer);
    let line: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .take(120)
        .collect();
    Ok(vec![format!("door {number}: {line}")])
}

fn on_device(client: &Client, path: &str) -> Result<Url, String> {
    crate::source::stream::origin(client.device_url())
        .join(path)
        .map_err(|e| format!("cannot make a door URL from {path:?}: {e}"))
}

async fn bounded<T>(
    call: impl std::future::Future<Output = Result<T, crate::onvif::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(DOOR_TIMEOUT, call).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(format!("the camera did not answer within {DOOR_TIMEOUT:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_api_has_its_door_request() {
        assert_eq!(http_request(RelayApi::Onvif, 1), None);
        let dahua = http_request(RelayApi::Dahua, 2).unwrap();
        assert_eq!(dahua.method, Method::GET);
        assert_eq!(
            dahua.path,
            "/cgi-bin/accessControl.cgi?action=openDoor&channel=2&UserID=101&Type=Remote"
        );
        assert_eq!(dahua.body, None);
        let bird = http_request(RelayApi::DoorBird, 2).unwrap();
        assert_eq!(
            (bird.method, bird.path.as_str(), bird.body),
            (Method::GET, "/bha-api/open-door.cgi?r=2", None)
        );
        assert!(check_answer(RelayApi::DoorBird, r#"{"BHA":{"RETURNCODE":"1"}}"#).is_ok());
        let err = check_answer(RelayApi::DoorBird, r#"{"BHA":{"RETURNCODE":"0"}}"#).unwrap_err();
        assert!(err.contains("RETURNCODE 0"), "{err}");
        assert!(check_answer(RelayApi::DoorBird, "<html>").is_err());
        let hik = http_request(RelayApi::Hikvision, 1).unwrap();
        assert_eq!(hik.method, Method::PUT);
        assert_eq!(hik.path, "/ISAPI/AccessControl/RemoteControl/door/1");
        assert_eq!(
            hik.body,
            Some((
                "<RemoteControlDoor><cmd>open</cmd></RemoteControlDoor>".to_owned(),
                "application/xml"
            ))
        );
    }

    #[test]
    fn check_probes_never_switch_a_door() {
        for api in [RelayApi::Dahua, RelayApi::Hikvision, RelayApi::DoorBird] {
            let probe = http_probe(api, 1).unwrap();
            assert!(
                !probe.contains("openDoor")
                    && !probe.ends_with("/door/1")
                    && !probe.contains("open-door"),
                "{probe}"
            );
        }
    }

    #[test]
    fn answers_say_whether_the_door_opened() {
        assert!(check_answer(RelayApi::Dahua, "OK\r\n").is_ok());
        let err = check_answer(RelayApi::Dahua, "Error\r\nBad Request!").unwrap_err();
        assert!(err.contains("instead of OK"), "{err}");
        let ok = "<ResponseStatus><statusCode>1</statusCode><statusString>OK</statusString></ResponseStatus>";
        assert!(check_answer(RelayApi::Hikvision, ok).is_ok());
        assert!(check_answer(RelayApi::Hikvision, "").is_ok());
        let bad = "<ResponseStatus><statusCode>4</statusCode><subStatusCode>notSupport</subStatusCode></ResponseStatus>";
        let err = check_answer(RelayApi::Hikvision, bad).unwrap_err();
        assert!(err.contains("notSupport"), "{err}");
    }

    #[test]
    fn the_configured_relay_is_picked_by_number_or_token() {
        let relay = |t: &str| RelayOutput {
            token: t.into(),
            mode: None,
            delay: None,
            idle_state: None,
        };
        let relays = [relay("A"), relay("B")];
        assert_eq!(pick(&relays, &Door::Number(1)).unwrap().token, "A");
        assert_eq!(pick(&relays, &Door::Number(2)).unwrap().token, "B");
        assert_eq!(pick(&relays, &Door::Token("B".into())).unwrap().token, "B");
        let err = pick(&relays, &Door::Number(3)).unwrap_err();
        assert!(err.contains("lists A, B"), "{err}");
        assert!(pick(&[], &Door::Number(1)).unwrap_err().contains("none"));
    }
}
