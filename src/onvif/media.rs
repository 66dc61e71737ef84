//! Media (ver10) and Media2 (ver20): profiles and snapshot URIs.

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

#[cfg(test)]
#[path = "media_tests.rs"]
mod tests;
