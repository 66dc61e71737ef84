//! `[cameras.clip]`: which events save a video clip, how much before and after, from which
//! stream. Clips are off unless `on` lists a kind.

use std::time::Duration;

use url::Url;

use super::{ConfigError, Ctx, raw};
use crate::event::Kind;

/// Default pre-roll kept in memory.
pub const DEFAULT_CLIP_PRE: &str = "4s";
/// Default recording after the event.
pub const DEFAULT_CLIP_POST: &str = "8s";
/// Default longest clip.
pub const DEFAULT_CLIP_MAX: &str = "60s";
/// Longest pre-roll: what the memory bound of the pre-roll buffer is made for.
pub const MAX_CLIP_PRE: Duration = Duration::from_secs(30);
/// Shortest recording after the event.
pub const MIN_CLIP_POST: Duration = Duration::from_secs(1);
/// Longest clip accepted for `max` (it is held in memory until written).
pub const MAX_CLIP_MAX: Duration = Duration::from_secs(300);

/// Which RTSP stream clips are recorded from. `Debug` hides credentials in a URL.
#[derive(Clone, PartialEq, Eq)]
pub enum ClipStream {
    /// The lowest-resolution ONVIF profile (`"sub"`, the default).
    Sub,
    /// The highest-resolution ONVIF profile (`"main"`).
    Main,
    /// This URL, as given (`rtsp://...`).
    Url(Url),
}

impl std::fmt::Debug for ClipStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClipStream::Sub => f.write_str("Sub"),
            ClipStream::Main => f.write_str("Main"),
            ClipStream::Url(u) => write!(f, "Url({:?})", super::redact_url(u.as_str())),
        }
    }
}

/// Clip settings of one camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipConfig {
    /// Kinds whose event saves a clip; empty: clips are off (no RTSP session at all).
    pub on: Vec<Kind>,
    /// Video kept from before the event.
    pub pre: Duration,
    /// Video recorded after the event; another clip event meanwhile extends it.
    pub post: Duration,
    /// The longest clip, pre-roll included.
    pub max: Duration,
    /// Where the video comes from.
    pub stream: ClipStream,
}

impl ClipConfig {
    /// Whether any event saves a clip.
    pub fn enabled(&self) -> bool {
        !self.on.is_empty()
    }
}

pub(super) fn validate_clip(
    ctx: &Ctx<'_>,
    key: &str,
    c: raw::RawClip,
) -> Result<ClipConfig, ConfigError> {
    let k = |name: &str| format!("{key}.{name}");
    let on =
        c.on.unwrap_or_default()
            .iter()
            .map(|t| {
                t.parse::<Kind>()
                    .map_err(|e| ctx.err(k("on"), e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
    let pre = ctx.duration(&k("pre"), c.pre.as_deref().unwrap_or(DEFAULT_CLIP_PRE))?;
    if pre > MAX_CLIP_PRE {
        return Err(ctx.err(
            k("pre"),
            format!(
                "must be at most {}s (it is kept in memory); lower it, e.g. to {DEFAULT_CLIP_PRE}",
                MAX_CLIP_PRE.as_secs()
            ),
        ));
    }
    let post = ctx.duration(&k("post"), c.post.as_deref().unwrap_or(DEFAULT_CLIP_POST))?;
    if post < MIN_CLIP_POST {
        return Err(ctx.err(
            k("post"),
            format!(
                "must be at least {}s; raise it, e.g. to {DEFAULT_CLIP_POST}",
                MIN_CLIP_POST.as_secs()
            ),
        ));
    }
    let max = ctx.duration(&k("max"), c.max.as_deref().unwrap_or(DEFAULT_CLIP_MAX))?;
    if max > MAX_CLIP_MAX {
        return Err(ctx.err(
            k("max"),
            format!(
                "must be at most {}s (a clip is held in memory until written)",
                MAX_CLIP_MAX.as_secs()
            ),
        ));
    }
    if max < pre + post {
        return Err(ctx.err(
            k("max"),
            format!(
                "is shorter than pre + post ({}s); raise max or lower pre or post",
                (pre + post).as_secs_f64()
            ),
        ));
    }
    let stream = match c.stream.as_deref().map(str::trim) {
        None | Some("sub") => ClipStream::Sub,
        Some("main") => ClipStream::Main,
        Some(text) => ClipStream::Url(stream_url(text).map_err(|m| ctx.err(k("stream"), m))?),
    };
    Ok(ClipConfig {
        on,
        pre,
        post,
        max,
        stream,
    })
}

/// An `rtsp://` URL given as `stream`. Credentials may be in it (they are used as given and
/// never logged); without them the camera's username and password are used.
fn stream_url(text: &str) -> Result<Url, String> {
    let hint = "write \"sub\", \"main\" or an rtsp:// URL such as rtsp://192.168.1.20:554/stream2";
    let url = Url::parse(text)
        .map_err(|e| format!("{:?} is not a URL ({e}); {hint}", super::redact_url(text)))?;
    if url.scheme() != "rtsp" {
        return Err(format!("has scheme {:?}; {hint}", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("has no host; {hint}"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn clip(body: &str) -> Result<ClipConfig, ConfigError> {
        let text =
            format!("[[cameras]]\nid = \"door\"\nurl = \"10.0.0.2\"\n[cameras.clip]\n{body}\n");
        super::super::from_toml(&text, Path::new("clip.toml")).map(|mut c| c.cameras.remove(0).clip)
    }

    #[test]
    fn clips_are_off_unless_on_lists_a_kind() {
        let none = super::super::from_toml(
            "[[cameras]]\nid = \"door\"\nurl = \"10.0.0.2\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert!(!none.cameras[0].clip.enabled());
        assert!(!clip("pre = \"2s\"").unwrap().enabled());
        let on = clip("on = [\"ring\", \"person\"]").unwrap();
        assert_eq!(on.on, [Kind::Ring, Kind::Person]);
        assert_eq!(
            (on.pre, on.post, on.max, on.stream),
            (
                Duration::from_secs(4),
                Duration::from_secs(8),
                Duration::from_secs(60),
                ClipStream::Sub
            )
        );
    }

    #[test]
    fn the_stream_is_sub_main_or_an_rtsp_url() {
        assert_eq!(clip("stream = \"main\"").unwrap().stream, ClipStream::Main);
        let url = clip("stream = \"rtsp://10.0.0.2:554/s1\"").unwrap().stream;
        assert_eq!(
            url,
            ClipStream::Url("rtsp://10.0.0.2:554/s1".parse().unwrap())
        );
        let e = clip("stream = \"http://10.0.0.2/s1\"").unwrap_err();
        assert_eq!(e.key, "cameras[0].clip.stream");
        assert!(e.message.contains("rtsp://"), "{e}");
        let e = clip("stream = \"rtsp://u:hunter2@\"").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let with = clip("stream = \"rtsp://u:hunter2@10.0.0.2/s1\"").unwrap();
        assert!(!format!("{with:?}").contains("hunter2"), "{with:?}");
    }

    #[test]
    fn bad_clip_settings_name_their_key() {
        let table = [
            ("on = [\"doorbell\"]", "cameras[0].clip.on"),
            ("pre = \"31s\"", "cameras[0].clip.pre"),
            ("pre = \"soon\"", "cameras[0].clip.pre"),
            ("post = \"500ms\"", "cameras[0].clip.post"),
            ("max = \"301s\"", "cameras[0].clip.max"),
            (
                "pre = \"10s\"\npost = \"10s\"\nmax = \"15s\"",
                "cameras[0].clip.max",
            ),
        ];
        for (body, key) in table {
            let e = clip(body).unwrap_err();
            assert_eq!(e.key, key, "{body}: {e}");
        }
        assert!(clip("length = \"5s\"").is_err(), "unknown keys are refused");
    }
}
