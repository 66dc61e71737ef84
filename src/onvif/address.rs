//! Service and subscription addresses as cameras advertise them, made usable (pure).
//!
//! Cameras behind NAT or port forwarding advertise their LAN address; some advertise
//! `0.0.0.0` or a stale IP; some repeat the port (`http://ip:8106:8106/onvif/...`,
//! home-assistant/core#92603); some give a bare path. We repair the text, and when the host
//! differs from the one the user configured, we keep the advertised path and query but use
//! the configured scheme, host and port: the configured address is the one known to work.

use url::Url;

/// Makes `advertised` usable relative to the `configured` device URL; `None` when it is not an
/// HTTP(S) address at all. Credentials are never carried over.
pub fn rewrite_address(advertised: &str, configured: &Url) -> Option<Url> {
    let text = advertised.trim();
    if text.is_empty() {
        return None;
    }
    let repaired = repair_authority(text);
    let parsed = match Url::parse(&repaired) {
        Ok(url) => url,
        Err(url::ParseError::RelativeUrlWithoutBase) => configured.join(&repaired).ok()?,
        Err(_) => return None,
    };
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return None;
    }
    let same_host = parsed
        .host_str()
        .zip(configured.host_str())
        .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b));
    let mut out = if same_host {
        parsed.clone()
    } else {
        let mut url = configured.clone();
        url.set_path(parsed.path());
        url.set_query(parsed.query());
        url
    };
    out.set_fragment(None);
    // Only fails for URLs that cannot carry credentials, which then have none.
    let _ = out.set_username("");
    let _ = out.set_password(None);
    Some(out)
}

/// Repeated ports in the authority (`host:8106:8106`, even `host:80:8080`) keep the first.
fn repair_authority(text: &str) -> String {
    let Some(scheme_end) = text.find("://") else {
        return text.to_owned();
    };
    let rest = &text[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    // Bracketed IPv6 literals have colons of their own; leave them alone.
    if authority.contains('[') {
        return text.to_owned();
    }
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(at) => (&authority[..=at], &authority[at + 1..]),
        None => ("", authority),
    };
    let mut parts = hostport.split(':');
    let host = parts.next().unwrap_or_default();
    let ports: Vec<&str> = parts.collect();
    if ports.len() < 2 || !ports.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit())) {
        return text.to_owned();
    }
    format!(
        "{}{userinfo}{host}:{}{}",
        &text[..scheme_end + 3],
        ports[0],
        &rest[authority_end..]
    )
}

/// The camera's web interface for Home Assistant's device page: `scheme://host[:port]/`.
pub fn configuration_url(device: &Url) -> String {
    let mut url = device.clone();
    url.set_path("/");
    url.set_query(None);
    url.set_fragment(None);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_and_repairs() {
        let configured: Url = "http://cam.example:8080/onvif/device_service"
            .parse()
            .unwrap();
        let table = [
            // Same host: kept as advertised, even on another port.
            (
                "http://cam.example:8080/onvif/Events",
                Some("http://cam.example:8080/onvif/Events"),
            ),
            (
                "http://CAM.example:8000/onvif/Events",
                Some("http://cam.example:8000/onvif/Events"),
            ),
            // NAT: LAN address replaced, path and query kept.
            (
                "http://192.168.1.20/onvif/Subscription?Idx=43",
                Some("http://cam.example:8080/onvif/Subscription?Idx=43"),
            ),
            (
                "http://0.0.0.0:80/onvif/event_service",
                Some("http://cam.example:8080/onvif/event_service"),
            ),
            // home-assistant/core#92603: repeated port.
            (
                "http://192.168.1.20:8106:8106/onvif/Subscription?Idx=43",
                Some("http://cam.example:8080/onvif/Subscription?Idx=43"),
            ),
            (
                "http://cam.example:8106:8106/onvif/Subscription?Idx=43",
                Some("http://cam.example:8106/onvif/Subscription?Idx=43"),
            ),
            // Credentials are dropped; surrounding whitespace and newlines ignored.
            (
                "\n  http://u:p@cam.example:8080/onvif/media  \n",
                Some("http://cam.example:8080/onvif/media"),
            ),
            // A bare path is resolved against the device URL.
            ("/onvif/event", Some("http://cam.example:8080/onvif/event")),
            ("", None),
            ("rtsp://cam.example/stream", None),
            ("http://", None),
        ];
        assert!(!table.is_empty());
        for (advertised, want) in table {
            let got = rewrite_address(advertised, &configured).map(|u| u.to_string());
            assert_eq!(got.as_deref(), want, "{advertised:?}");
        }
    }

    #[test]
    fn https_configuration_wins_behind_a_proxy() {
        let configured: Url = "https://door.example/onvif/device_service".parse().unwrap();
        let got = rewrite_address("http://10.0.0.9/onvif/Events", &configured).unwrap();
        assert_eq!(got.as_str(), "https://door.example/onvif/Events");
        let v6: Url = "http://[fe80::1]:8080/onvif/device_service"
            .parse()
            .unwrap();
        let got = rewrite_address("http://[fe80::1]:8080/onvif/Events", &v6).unwrap();
        assert_eq!(got.as_str(), "http://[fe80::1]:8080/onvif/Events");
    }

    #[test]
    fn configuration_url_has_no_path_or_credentials() {
        let url: Url = "http://admin:pw@10.0.0.2:8000/onvif/device_service?x=1"
            .parse()
            .unwrap();
        assert_eq!(configuration_url(&url), "http://10.0.0.2:8000/");
        let url: Url = "https://cam/onvif".parse().unwrap();
        assert_eq!(configuration_url(&url), "https://cam/");
    }
}
