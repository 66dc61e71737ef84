//! Media (ver10, `/onvif/media_service`) and Media2 (ver20, `/onvif/media2_service`) answers:
//! two profiles, the snapshot URI and the RTSP stream URI (both profiles name the one
//! simulated stream).

use super::not_supported;
use super::soap::{Code, Envelope, Fault, TR2, TRT};

/// The profiles: token, name, width, height.
pub const PROFILES: [(&str, &str, u32, u32); 2] = [
    ("Profile_000", "mainStream", 2560, 1920),
    ("Profile_001", "subStream", 640, 480),
];

/// Path of the snapshot (HTTP Digest required).
pub const SNAPSHOT_PATH: &str = "/snapshot.jpg";

fn encoder(width: u32, height: u32) -> String {
    format!(
        concat!(
            "<tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>{}</tt:Width>",
            "<tt:Height>{}</tt:Height></tt:Resolution><tt:Quality>5</tt:Quality>"
        ),
        width, height
    )
}

const VIDEO_SOURCE: &str = concat!(
    "<tt:Name>VideoSource</tt:Name><tt:UseCount>2</tt:UseCount><tt:SourceToken>000</tt:SourceToken>",
    r#"<tt:Bounds x="0" y="0" width="2560" height="1920"/>"#
);

fn profiles_v10() -> String {
    let mut out = String::from("<trt:GetProfilesResponse>");
    for (token, name, width, height) in PROFILES {
        out.push_str(&format!(
            concat!(
                r#"<trt:Profiles token="{token}" fixed="true"><tt:Name>{name}</tt:Name>"#,
                r#"<tt:VideoSourceConfiguration token="000">{source}</tt:VideoSourceConfiguration>"#,
                r#"<tt:VideoEncoderConfiguration token="{token}_enc"><tt:Name>{name}</tt:Name>"#,
                "<tt:UseCount>1</tt:UseCount>{encoder}</tt:VideoEncoderConfiguration></trt:Profiles>"
            ),
            token = token,
            name = name,
            source = VIDEO_SOURCE,
            encoder = encoder(width, height),
        ));
    }
    out.push_str("</trt:GetProfilesResponse>");
    out
}

fn profiles_v20() -> String {
    let mut out = String::from("<tr2:GetProfilesResponse>");
    for (token, name, width, height) in PROFILES {
        out.push_str(&format!(
            concat!(
                r#"<tr2:Profiles token="{token}" fixed="true"><tr2:Name>{name}</tr2:Name><tr2:Configurations>"#,
                r#"<tr2:VideoSource token="000">{source}</tr2:VideoSource>"#,
                r#"<tr2:VideoEncoder token="{token}_enc"><tt:Name>{name}</tt:Name>"#,
                "<tt:UseCount>1</tt:UseCount>{encoder}</tr2:VideoEncoder>",
                "</tr2:Configurations></tr2:Profiles>"
            ),
            token = token,
            name = name,
            source = VIDEO_SOURCE,
            encoder = encoder(width, height),
        ));
    }
    out.push_str("</tr2:GetProfilesResponse>");
    out
}

fn check_profile(token: Option<&str>) -> Result<(), Fault> {
    match token {
        Some(token) if PROFILES.iter().any(|p| p.0 == token) => Ok(()),
        other => Err(Fault::new(
            Code::Sender,
            &["ter:InvalidArgVal", "ter:NoProfile"],
            format!(
                "no profile {:?}; use a token from GetProfiles",
                other.unwrap_or("")
            ),
        )),
    }
}

/// Answers a Media (ver10) operation. `base` is `http://host:port`, `rtsp` the stream URL.
pub fn respond_v10(env: &Envelope, base: &str, rtsp: &str) -> Result<String, Fault> {
    match env.operation.as_str() {
        "GetProfiles" => Ok(profiles_v10()),
        "GetStreamUri" => {
            check_profile(env.field(TRT, "ProfileToken"))?;
            Ok(format!(
                concat!(
                    "<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>{}</tt:Uri>",
                    "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>",
                    "<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout>",
                    "</trt:MediaUri></trt:GetStreamUriResponse>"
                ),
                rtsp
            ))
        }
        "GetSnapshotUri" => {
            check_profile(env.field(TRT, "ProfileToken"))?;
            Ok(format!(
                concat!(
                    "<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>{}{}</tt:Uri>",
                    "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>",
                    "<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout>",
                    "</trt:MediaUri></trt:GetSnapshotUriResponse>"
                ),
                base, SNAPSHOT_PATH
            ))
        }
        _ => Err(not_supported(env)),
    }
}

/// Answers a Media2 (ver20) operation.
pub fn respond_v20(env: &Envelope, base: &str, rtsp: &str) -> Result<String, Fault> {
    match env.operation.as_str() {
        "GetProfiles" => Ok(profiles_v20()),
        "GetStreamUri" => {
            check_profile(env.field(TR2, "ProfileToken"))?;
            Ok(format!(
                "<tr2:GetStreamUriResponse><tr2:Uri>{rtsp}</tr2:Uri></tr2:GetStreamUriResponse>"
            ))
        }
        "GetSnapshotUri" => {
            check_profile(env.field(TR2, "ProfileToken"))?;
            Ok(format!(
                "<tr2:GetSnapshotUriResponse><tr2:Uri>{base}{SNAPSHOT_PATH}</tr2:Uri></tr2:GetSnapshotUriResponse>"
            ))
        }
        _ => Err(not_supported(env)),
    }
}
