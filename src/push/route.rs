//! The pure part of the push listener: route paths and tokens, the URL a camera is given, and
//! what a request gets ([`judge`]).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use http::{Method, StatusCode};

use crate::event::CameraId;

/// The first path segment of every route.
pub const PREFIX: &str = "push";
/// Random bytes in a route token (hex in the path: 32 characters, 128 bits).
pub const TOKEN_BYTES: usize = 16;

/// A fresh unguessable token from the operating system's random source, in hex.
pub fn new_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    // The OS random source does not fail on the systems we run on; a route with a guessable
    // token would be worse than a stopped camera task.
    getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The camera and token of a route path `/push/<camera>/<token>`; `None` for any other path.
pub fn parse_path(path: &str) -> Option<(&str, &str)> {
    let rest = path
        .strip_prefix('/')?
        .strip_prefix(PREFIX)?
        .strip_prefix('/')?;
    let (camera, token) = rest.split_once('/')?;
    let token_ok = token.len() == 2 * TOKEN_BYTES && token.bytes().all(|b| b.is_ascii_hexdigit());
    (!camera.is_empty() && token_ok).then_some((camera, token))
}

/// The path of a route.
pub fn path_of(camera: &CameraId, token: &str) -> String {
    format!("/{PREFIX}/{camera}/{token}")
}

/// The full URL given to a camera: `<advertise_url>/push/<camera>/<token>`. `Debug` and
/// `Display` hide the token (`.../push/<camera>/***`); [`PushUrl::expose`] gives it.
#[derive(Clone, PartialEq, Eq)]
pub struct PushUrl {
    full: String,
    shown: String,
}

impl PushUrl {
    /// The URL for `camera` and `token` under `advertise` (a trailing `/` there is ignored).
    pub fn new(advertise: &url::Url, camera: &CameraId, token: &str) -> Self {
        let base = advertise.as_str().trim_end_matches('/');
        PushUrl {
            full: format!("{base}{}", path_of(camera, token)),
            shown: format!("{base}/{PREFIX}/{camera}/***"),
        }
    }

    /// The whole URL, token included, for the one place that gives it to the camera.
    pub fn expose(&self) -> &str {
        &self.full
    }
}

impl fmt::Debug for PushUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Display for PushUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// What a registered route accepts (the part [`judge`] reads).
#[derive(Debug, Clone)]
pub struct Accepts {
    /// The camera the route is for.
    pub camera: CameraId,
    /// The one method.
    pub method: Method,
    /// The one peer address, or any.
    pub from: Option<IpAddr>,
    /// The largest body.
    pub max_body: usize,
}

/// Why a request is refused, each with its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a route path, an unknown token, or a token of another camera: 404.
    NotFound,
    /// A route, another method: 405.
    Method,
    /// A route, another peer: 403.
    Source,
    /// The body is larger than the route takes: 413.
    TooLarge,
    /// The body did not arrive in time or broke off: 408.
    SlowBody,
    /// The route's receiver is full or gone: 503.
    Busy,
}

impl Refusal {
    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            Refusal::NotFound => StatusCode::NOT_FOUND,
            Refusal::Method => StatusCode::METHOD_NOT_ALLOWED,
            Refusal::Source => StatusCode::FORBIDDEN,
            Refusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::SlowBody => StatusCode::REQUEST_TIMEOUT,
            Refusal::Busy => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The label of the `doorbell_bridge_push_requests_total` counter.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::NotFound => "not_found",
            Refusal::Method => "wrong_method",
            Refusal::Source => "wrong_source",
            Refusal::TooLarge => "too_large",
            Refusal::SlowBody => "slow_body",
            Refusal::Busy => "busy",
        }
    }
}

/// What a request gets before its body is read: the route's camera, or the refusal. `route`
/// is what the request's token names (`None`: no such route); `camera` is the path's camera
/// segment; `length` the Content-Length, when sent.
pub fn judge(
    route: Option<&Accepts>,
    camera: &str,
    method: &Method,
    peer: SocketAddr,
    length: Option<u64>,
) -> Result<(), Refusal> {
    let Some(route) = route.filter(|r| r.camera.as_str() == camera) else {
        return Err(Refusal::NotFound);
    };
    if *method != route.method {
        return Err(Refusal::Method);
    }
    if route.from.is_some_and(|ip| !same_ip(ip, peer.ip())) {
        return Err(Refusal::Source);
    }
    if length.is_some_and(|n| n > route.max_body as u64) {
        return Err(Refusal::TooLarge);
    }
    Ok(())
}

/// Whether two addresses are the same host, an IPv4 address equal to its IPv6-mapped form
/// (a dual-stack listener sees `::ffff:192.168.1.20`).
fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cam() -> CameraId {
        CameraId::new("front").unwrap()
    }

    #[test]
    fn tokens_are_long_random_and_parse_back() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        let path = path_of(&cam(), &a);
        assert_eq!(parse_path(&path), Some(("front", a.as_str())));
    }

    #[test]
    fn only_route_shaped_paths_parse() {
        let token = "0123456789abcdef0123456789abcdef";
        let table = [
            (format!("/push/front/{token}"), true),
            (format!("/push/front/{token}/"), false),
            (format!("/push/front/{token}x"), false),
            (format!("/push//{token}"), false),
            ("/push/front/short".to_owned(), false),
            (format!("/push/front/{}", "z".repeat(32)), false),
            (format!("/other/front/{token}"), false),
            ("/".to_owned(), false),
            ("/push".to_owned(), false),
        ];
        assert!(!table.is_empty());
        for (path, ok) in table {
            assert_eq!(parse_path(&path).is_some(), ok, "{path}");
        }
    }

    #[test]
    fn the_url_hides_its_token_when_printed() {
        let advertise: url::Url = "http://192.168.1.5:8090/".parse().unwrap();
        let url = PushUrl::new(&advertise, &cam(), "0123456789abcdef0123456789abcdef");
        assert_eq!(
            url.expose(),
            "http://192.168.1.5:8090/push/front/0123456789abcdef0123456789abcdef"
        );
        let shown = format!("{url} {url:?}");
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
        assert!(shown.contains("/push/front/***"), "{shown}");
    }

    #[test]
    fn every_refusal_has_its_reason() {
        let peer: SocketAddr = "192.168.1.20:5000".parse().unwrap();
        let stranger: SocketAddr = "192.168.1.99:5000".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:192.168.1.20]:5000".parse().unwrap();
        let route = Accepts {
            camera: cam(),
            method: Method::POST,
            from: Some(peer.ip()),
            max_body: 100,
        };
        let any = Accepts {
            from: None,
            ..route.clone()
        };
        let post = Method::POST;
        let table = [
            (Some(&route), "front", &post, peer, Some(100), Ok(())),
            (Some(&route), "front", &post, mapped, None, Ok(())),
            (None, "front", &post, peer, None, Err(Refusal::NotFound)),
            (
                Some(&route),
                "back",
                &post,
                peer,
                None,
                Err(Refusal::NotFound),
            ),
            (
                Some(&route),
                "front",
                &Method::GET,
                peer,
                None,
                Err(Refusal::Method),
            ),
            (
                Some(&route),
                "front",
                &post,
                stranger,
                None,
                Err(Refusal::Source),
            ),
            (Some(&any), "front", &post, stranger, None, Ok(())),
            (
                Some(&route),
                "front",
                &post,
                peer,
                Some(101),
                Err(Refusal::TooLarge),
            ),
        ];
        assert!(!table.is_empty());
        for (r, camera, method, peer, length, expected) in table {
            assert_eq!(
                judge(r, camera, method, peer, length),
                expected,
                "{camera} {method} {peer} {length:?}"
            );
        }
    }
}
