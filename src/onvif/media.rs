//! Media (ver10) and Media2 (ver20): profiles, snapshot URIs and RTSP stream URIs.

use quick_xml::escape::escape;
use roxmltree::Node;
use url::Url;

use super::address::rewrite_address;
use super::client::{Call, Expect};
use super::soap::{NS_MEDIA, NS_MEDIA2, NS_SCHEMA};
use super::{Client, Error, dom};

/// Which media service a URL speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaVersion {
    /// `http://www.onvif.org/ver10/media/wsdl` (Profile S).
    V1,
    /// `http://www.onvif.org/ver20/media/wsdl` (Profile T).
    V2,
}

/// A media service address and its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaService {
    /// The service address.
    pub url: Url,
    /// The service version.
    pub version: MediaVersion,
}

impl MediaVersion {
    fn namespace(self) -> &'static str {
        match self {
            MediaVersion::V1 => NS_MEDIA,
            MediaVersion::V2 => NS_MEDIA2,
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            MediaVersion::V1 => "trt",
            MediaVersion::V2 => "tr2",
        }
    }
}

/// A media profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The profile token, used in later calls.
    pub token: String,
    /// The human name, e.g. `mainStream`.
    pub name: String,
    /// The video encoder's resolution (width, height), if the profile has one.
    pub resolution: Option<(u32, u32)>,
}

/// The profile with the most pixels; the first one on a tie, or when none says its
/// resolution (pure).
pub fn best_profile(profiles: &[Profile]) -> Option<&Profile> {
    let pixels = |p: &Profile| p.resolution.map_or(0, |(w, h)| u64::from(w) * u64::from(h));
    profiles
        .iter()
        .enumerate()
        .max_by_key(|(i, p)| (pixels(p), std::cmp::Reverse(*i)))
        .map(|(_, p)| p)
}

/// The profile with the fewest pixels (a camera's sub stream); the first one on a tie. Profiles
/// that say no resolution (audio only, metadata) come last (pure).
pub fn smallest_profile(profiles: &[Profile]) -> Option<&Profile> {
    let pixels = |p: &Profile| {
        p.resolution
            .map_or(u64::MAX, |(w, h)| u64::from(w) * u64::from(h))
    };
    profiles
        .iter()
        .enumerate()
        .min_by_key(|(i, p)| (pixels(p), *i))
        .map(|(_, p)| p)
}

/// The profiles of a GetProfilesResponse of either version (pure).
pub fn parse_profiles(response: Node<'_, '_>) -> Vec<Profile> {
    let ns = [NS_MEDIA, NS_MEDIA2, NS_SCHEMA];
    dom::children(response, &[NS_MEDIA, NS_MEDIA2], "Profiles")
        .map(|p| Profile {
            token: p.attribute("token").unwrap_or_default().trim().to_owned(),
            name: dom::child_text(p, &ns, "Name").unwrap_or_default(),
            resolution: resolution(p),
        })
        .filter(|p| !p.token.is_empty())
        .collect()
}

/// The Resolution of the profile's video encoder (`VideoEncoderConfiguration` in ver10,
/// `Configurations/VideoEncoder` in ver20).
fn resolution(profile: Node<'_, '_>) -> Option<(u32, u32)> {
    let ns = [NS_MEDIA, NS_MEDIA2, NS_SCHEMA];
    let encoder = profile.descendants().find(|n| {
        n.is_element()
            && matches!(
                n.tag_name().name(),
                "VideoEncoderConfiguration" | "VideoEncoder"
            )
            && n.tag_name().namespace().is_some_and(|u| ns.contains(&u))
    })?;
    let res = dom::child(encoder, &ns, "Resolution")?;
    let number = |name| dom::child_text(res, &ns, name)?.parse::<u32>().ok();
    Some((number("Width")?, number("Height")?))
}

/// The snapshot URI of a GetSnapshotUriResponse of either version (pure, not yet rewritten).
pub fn parse_snapshot_uri(response: Node<'_, '_>) -> Option<String> {
    let ns = [NS_MEDIA, NS_MEDIA2, NS_SCHEMA];
    match dom::child(response, &ns, "MediaUri") {
        Some(media_uri) => dom::child_text(media_uri, &ns, "Uri"),
        None => dom::child_text(response, &ns, "Uri"),
    }
}

/// The stream URI of a GetStreamUriResponse of either version (pure, not yet rewritten): the
/// same shapes as a snapshot URI (`MediaUri/Uri` in ver10, `Uri` in ver20).
pub fn parse_stream_uri(response: Node<'_, '_>) -> Option<String> {
    parse_snapshot_uri(response)
}

/// Makes an advertised RTSP URI usable: like [`rewrite_address`] for service addresses, a host
/// other than the configured camera's is replaced by the camera's (cameras behind NAT advertise
/// their LAN address), keeping the advertised port, path and query; credentials in the answer
/// are dropped. `None` when it is not an `rtsp://` URL (pure).
pub fn rewrite_stream_uri(advertised: &str, device: &Url) -> Option<Url> {
    let mut url = Url::parse(advertised.trim()).ok()?;
    if url.scheme() != "rtsp" || url.host_str().is_none_or(str::is_empty) {
        return None;
    }
    let same_host = url
        .host_str()
        .zip(device.host_str())
        .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b));
    if !same_host {
        url.set_host(device.host_str()).ok()?;
    }
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_fragment(None);
    Some(url)
}

impl Client {
    /// GetProfiles (Media2 asks for all configurations so resolutions come along).
    pub async fn profiles(&self, media: &MediaService) -> Result<Vec<Profile>, Error> {
        let (body, action) = match media.version {
            MediaVersion::V1 => ("<trt:GetProfiles/>", format!("{NS_MEDIA}/GetProfiles")),
            MediaVersion::V2 => (
                "<tr2:GetProfiles><tr2:Type>All</tr2:Type></tr2:GetProfiles>",
                format!("{NS_MEDIA2}/GetProfiles"),
            ),
        };
        let ns = [media.version.namespace()];
        let call = Call::new(
            &media.url,
            &action,
            body,
            Expect::Payload(&ns, "GetProfilesResponse"),
        );
        self.call(call, |r| Ok(parse_profiles(r))).await
    }

    /// GetSnapshotUri for `profile_token`, rewritten like a service address.
    pub async fn snapshot_uri(
        &self,
        media: &MediaService,
        profile_token: &str,
    ) -> Result<Url, Error> {
        let p = media.version.prefix();
        let body = format!(
            "<{p}:GetSnapshotUri><{p}:ProfileToken>{}</{p}:ProfileToken></{p}:GetSnapshotUri>",
            escape(profile_token)
        );
        let action = format!("{}/GetSnapshotUri", media.version.namespace());
        let ns = [media.version.namespace()];
        let call = Call::new(
            &media.url,
            &action,
            &body,
            Expect::Payload(&ns, "GetSnapshotUriResponse"),
        );
        self.call(call, |r| {
            let uri = parse_snapshot_uri(r).ok_or("GetSnapshotUriResponse without a Uri")?;
            rewrite_address(&uri, self.device_url())
                .ok_or_else(|| format!("snapshot URI {uri:?} is not an http(s) URL"))
        })
        .await
    }
}

impl Client {
    /// GetStreamUri (RTP unicast over RTSP) for `profile_token`, with the camera's host.
    pub async fn stream_uri(
        &self,
        media: &MediaService,
        profile_token: &str,
    ) -> Result<Url, Error> {
        let token = escape(profile_token);
        let body = match media.version {
            MediaVersion::V1 => format!(
                "<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream>\
                 <tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>\
                 <trt:ProfileToken>{token}</trt:ProfileToken></trt:GetStreamUri>"
            ),
            MediaVersion::V2 => format!(
                "<tr2:GetStreamUri><tr2:Protocol>RTSP</tr2:Protocol>\
                 <tr2:ProfileToken>{token}</tr2:ProfileToken></tr2:GetStreamUri>"
            ),
        };
        let action = format!("{}/GetStreamUri", media.version.namespace());
        let ns = [media.version.namespace()];
        let call = Call::new(
            &media.url,
            &action,
            &body,
            Expect::Payload(&ns, "GetStreamUriResponse"),
        );
        self.call(call, |r| {
            let uri = parse_stream_uri(r).ok_or("GetStreamUriResponse without a Uri")?;
            rewrite_stream_uri(&uri, self.device_url()).ok_or_else(|| {
                format!(
                    "stream URI {:?} is not an rtsp:// URL; set clip.stream to the camera's RTSP URL",
                    crate::config::redact_url(&uri)
                )
            })
        })
        .await
    }
}

#[cfg(test)]
#[path = "media_tests.rs"]
mod tests;
