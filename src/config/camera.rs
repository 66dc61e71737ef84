//! Validation of `[[cameras]]` entries: URLs, timings, snapshot settings, user rules.

use std::collections::BTreeMap;
use std::time::Duration;

use url::Url;

use super::{
    Api, CALL_POLL_RANGE, CameraConfig, ConfigError, Ctx, DEFAULT_CALL_POLL,
    DEFAULT_DRIFT_THRESHOLD, DEFAULT_MAX_BACKOFF, DEFAULT_MESSAGE_LIMIT, DEFAULT_PULL_TIMEOUT,
    DEFAULT_RELAY_PULSE, DEFAULT_SNAPSHOT_MAX_SIZE, DEFAULT_SUBSCRIPTION, Door, Events,
    MAX_RELAY_CODE_CHARS, MAX_SNAPSHOT_SIZE, PushFrom, RELAY_PULSE_RANGE, RelayConfig, RuleAction,
    SnapshotConfig, UserRule, raw, redact_url,
};
use crate::event::{CameraId, Kind};

pub(super) fn validate_camera(
    ctx: &Ctx<'_>,
    i: usize,
    c: raw::RawCamera,
) -> Result<CameraConfig, ConfigError> {
    let k = |name: &str| format!("cameras[{i}].{name}");
    let id = CameraId::new(&c.id).map_err(|e| ctx.err(k("id"), format!("{:?} {e}", c.id)))?;
    let url = camera_url(&c.url).map_err(|m| ctx.err(k("url"), m))?;
    let pull_timeout = ctx.duration(
        &k("pull_timeout"),
        c.pull_timeout.as_deref().unwrap_or(DEFAULT_PULL_TIMEOUT),
    )?;
    if pull_timeout < Duration::from_secs(1) || pull_timeout > Duration::from_secs(600) {
        return Err(ctx.err(k("pull_timeout"), "must be between 1s and 10m"));
    }
    let subscription = ctx.duration(
        &k("subscription"),
        c.subscription.as_deref().unwrap_or(DEFAULT_SUBSCRIPTION),
    )?;
    if subscription < Duration::from_secs(10) {
        return Err(ctx.err(k("subscription"), "must be at least 10s"));
    }
    let message_limit = c.message_limit.unwrap_or(DEFAULT_MESSAGE_LIMIT);
    if !(1..=1000).contains(&message_limit) {
        return Err(ctx.err(k("message_limit"), "must be between 1 and 1000"));
    }
    let api = match c.api.as_deref() {
        None => Api::Auto,
        Some(text) => text.parse::<Api>().map_err(|m| ctx.err(k("api"), m))?,
    };
    let channel = match c.channel {
        Some(_) if matches!(api, Api::Onvif | Api::DoorBird) => {
            return Err(ctx.err(
                k("channel"),
                format!(
                    "is read only by the dahua and hikvision APIs, and api is \"{}\"; remove channel or set api",
                    api.as_str()
                ),
            ));
        }
        Some(0) => {
            return Err(ctx.err(
                k("channel"),
                "channels count from 1 (the first camera of an NVR is channel 1)",
            ));
        }
        other => other,
    };
    if c.call_poll.is_some() && !matches!(api, Api::Auto | Api::Hikvision) {
        return Err(ctx.err(
            k("call_poll"),
            format!(
                "is read only by the hikvision API, and api is \"{}\"; remove call_poll or set api = \"hikvision\"",
                api.as_str()
            ),
        ));
    }
    let call_poll = ctx.duration(
        &k("call_poll"),
        c.call_poll.as_deref().unwrap_or(DEFAULT_CALL_POLL),
    )?;
    if !CALL_POLL_RANGE.contains(&call_poll) {
        return Err(ctx.err(k("call_poll"), "must be between 500ms and 5s"));
    }
    let events = match c.events.as_deref() {
        None => Events::Auto,
        Some(text) => text
            .parse::<Events>()
            .map_err(|m| ctx.err(k("events"), m))?,
    };
    let push_from = match c.push_from.as_deref().map(str::trim) {
        None | Some("") => PushFrom::CameraHost,
        Some("any") => PushFrom::Any,
        Some(text) => PushFrom::Addr(text.parse().map_err(|_| {
            ctx.err(
                k("push_from"),
                format!(
                    "{text:?} is not an IP address; write the address the camera's requests come \
                     from (such as \"192.168.1.20\"), or \"any\" behind NAT or a proxy"
                ),
            )
        })?),
    };
    let snapshot = validate_snapshot(ctx, i, c.snapshot.unwrap_or_default())?;
    let relay = match c.relay {
        Some(r) => validate_relay(ctx, i, api, r)?,
        None => None,
    };
    let clip = super::clip::validate_clip(ctx, &k("clip"), c.clip.unwrap_or_default())?;
    let mut rules = Vec::with_capacity(c.rules.len());
    for (j, r) in c.rules.into_iter().enumerate() {
        rules.push(validate_rule(ctx, &k(&format!("rules[{j}]")), r)?);
    }
    Ok(CameraConfig {
        name: c.name.unwrap_or_else(|| c.id.clone()),
        id,
        url,
        username: c.username,
        password: ctx.secret(&k("password"), c.password, c.password_file)?,
        tls_insecure: c.tls_insecure.unwrap_or(false),
        pull_timeout,
        message_limit,
        subscription,
        max_backoff: ctx.duration(
            &k("max_backoff"),
            c.max_backoff.as_deref().unwrap_or(DEFAULT_MAX_BACKOFF),
        )?,
        drift_threshold: ctx.duration(
            &k("drift_threshold"),
            c.drift_threshold
                .as_deref()
                .unwrap_or(DEFAULT_DRIFT_THRESHOLD),
        )?,
        set_clock: c.set_clock.unwrap_or(false),
        snapshot,
        clip,
        rules,
        ring_input: c.ring_input.filter(|s| !s.is_empty()),
        hold: kind_durations(ctx, &k("hold"), c.hold)?,
        auto_clear: kind_durations(ctx, &k("auto_clear"), c.auto_clear)?,
        api,
        channel,
        call_poll,
        events,
        push_from,
        relay,
    })
}

fn validate_relay(
    ctx: &Ctx<'_>,
    i: usize,
    api: Api,
    r: raw::RawRelay,
) -> Result<Option<RelayConfig>, ConfigError> {
    let k = |name: &str| format!("cameras[{i}].relay.{name}");
    let door = match r.door {
        None => Door::Number(1),
        Some(raw::RawDoor::Number(n)) => match u32::try_from(n) {
            Ok(n) if n >= 1 => Door::Number(n),
            _ => {
                return Err(ctx.err(
                    k("door"),
                    format!("is {n}; doors and relays count from 1 (the first door is door = 1)"),
                ));
            }
        },
        Some(raw::RawDoor::Token(t)) if t.trim().is_empty() => {
            return Err(ctx.err(
                k("door"),
                "is empty; write a door number such as 1, or an ONVIF relay token (doorbell-bridge check lists them)",
            ));
        }
        Some(raw::RawDoor::Token(t)) if t.trim().parse::<u32>().is_ok() => {
            Door::Number(t.trim().parse().unwrap_or(1))
        }
        Some(raw::RawDoor::Token(t)) => {
            if !matches!(api, Api::Onvif | Api::Auto) {
                return Err(ctx.err(
                    k("door"),
                    format!(
                        "is the relay token {t:?}, but the {} API numbers its doors; write door = 1 (or 2, ...)",
                        api.as_str()
                    ),
                ));
            }
            if t.len() > 64 || t.chars().any(char::is_control) {
                return Err(ctx.err(
                    k("door"),
                    "is not a relay token (at most 64 characters, no control characters); doorbell-bridge check lists the camera's relays",
                ));
            }
            Door::Token(t.trim().to_owned())
        }
    };
    let pulse = ctx.duration(
        &k("pulse"),
        r.pulse.as_deref().unwrap_or(DEFAULT_RELAY_PULSE),
    )?;
    if !RELAY_PULSE_RANGE.contains(&pulse) {
        return Err(ctx.err(k("pulse"), "must be between 200ms and 30s"));
    }
    let code = ctx.secret(&k("code"), r.code, r.code_file)?;
    if let Some(c) = &code {
        let n = c.expose().chars().count();
        if n == 0 || n > MAX_RELAY_CODE_CHARS {
            return Err(ctx.err(
                k("code"),
                format!(
                    "must be 1 to {MAX_RELAY_CODE_CHARS} characters; leave code out to open without one"
                ),
            ));
        }
        if c.expose().chars().any(char::is_control) {
            return Err(ctx.err(
                k("code"),
                "holds a control character; use digits or letters",
            ));
        }
    }
    if !r.enabled.unwrap_or(false) {
        return Ok(None);
    }
    if api.relay().is_none() {
        return Err(ctx.err(
            k("enabled"),
            format!(
                "is true, but the {} API has no way to open a door; set api to one with a relay API (onvif, dahua, hikvision) or remove [cameras.relay]",
                api.as_str()
            ),
        ));
    }
    Ok(Some(RelayConfig { door, pulse, code }))
}

fn validate_snapshot(
    ctx: &Ctx<'_>,
    i: usize,
    s: raw::RawSnapshot,
) -> Result<SnapshotConfig, ConfigError> {
    let k = |name: &str| format!("cameras[{i}].snapshot.{name}");
    let on = match s.on {
        None => vec![Kind::Ring, Kind::Person],
        Some(list) => list
            .iter()
            .map(|t| {
                t.parse::<Kind>()
                    .map_err(|e| ctx.err(k("on"), e.to_string()))
            })
            .collect::<Result<_, _>>()?,
    };
    let interval = match s.interval.as_deref() {
        None => None,
        Some(t) => Some(ctx.duration(&k("interval"), t)?).filter(|d| !d.is_zero()),
    };
    if interval.is_some_and(|d| d < Duration::from_secs(5)) {
        return Err(ctx.err(k("interval"), "must be at least 5s (or 0 to turn it off)"));
    }
    let burst = s.burst.unwrap_or(0);
    if burst > 20 {
        return Err(ctx.err(k("burst"), "must be at most 20 extra frames"));
    }
    Ok(SnapshotConfig {
        enabled: s.enabled.unwrap_or(true),
        on,
        interval,
        burst,
        burst_interval: ctx.duration(
            &k("burst_interval"),
            s.burst_interval.as_deref().unwrap_or("1s"),
        )?,
        profile: s.profile.filter(|p| !p.is_empty()),
        allowed_hosts: s.allowed_hosts,
        max_size: snapshot_max_size(ctx, &k("max_size"), s.max_size.as_deref())?,
    })
}

fn snapshot_max_size(ctx: &Ctx<'_>, key: &str, text: Option<&str>) -> Result<u64, ConfigError> {
    let size = ctx.size(key, text.unwrap_or(DEFAULT_SNAPSHOT_MAX_SIZE))?;
    if size > MAX_SNAPSHOT_SIZE {
        return Err(ctx.err(
            key,
            format!(
                "is {size} bytes, above the largest snapshot MQTT can carry ({MAX_SNAPSHOT_SIZE} \
                 bytes: the packet limit minus 64 KiB); lower it, e.g. to {DEFAULT_SNAPSHOT_MAX_SIZE}"
            ),
        ));
    }
    Ok(size)
}

fn validate_rule(ctx: &Ctx<'_>, key: &str, r: raw::RawRule) -> Result<UserRule, ConfigError> {
    if r.topic.trim().is_empty() {
        return Err(ctx.err(
            format!("{key}.topic"),
            "is empty; write a topic pattern such as tns1:RuleEngine/MyRuleDetector/*",
        ));
    }
    let action = match r.kind.as_str() {
        "ignore" => RuleAction::Ignore,
        other => RuleAction::Kind(other.parse().map_err(|e: crate::event::UnknownKind| {
            ctx.err(format!("{key}.kind"), format!("{e}, or ignore"))
        })?),
    };
    if r.value.is_some() && r.item.is_none() {
        return Err(ctx.err(
            format!("{key}.value"),
            "needs item: name the Source or Data item whose value must match",
        ));
    }
    Ok(UserRule {
        topic: r.topic.trim().to_owned(),
        item: r.item,
        value: r.value,
        action,
    })
}

fn kind_durations(
    ctx: &Ctx<'_>,
    key: &str,
    map: BTreeMap<String, String>,
) -> Result<BTreeMap<Kind, Duration>, ConfigError> {
    map.into_iter()
        .map(|(kind, d)| {
            let kind_key = format!("{key}.{kind}");
            let kind = kind
                .parse::<Kind>()
                .map_err(|e| ctx.err(kind_key.clone(), e.to_string()))?;
            Ok((kind, ctx.duration(&kind_key, &d)?))
        })
        .collect()
}

/// Turns `host`, `host:port` or a full URL into the device service URL.
pub fn camera_url(text: &str) -> Result<Url, String> {
    let hint = "write a host, host:port or the device service URL, such as http://192.168.1.20";
    let t = text.trim();
    if t.is_empty() {
        return Err(format!("is empty; {hint}"));
    }
    let with_scheme = if t.contains("://") {
        t.to_owned()
    } else {
        format!("http://{t}")
    };
    let mut url = Url::parse(&with_scheme)
        .map_err(|e| format!("{:?} is not a URL ({e}); {hint}", redact_url(t)))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "has scheme {:?}; cameras speak http:// or https://",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("has no host; {hint}"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("contains credentials; put them in username and password".into());
    }
    if url.path() == "/" || url.path().is_empty() {
        url.set_path("/onvif/device_service");
    }
    Ok(url)
}
