//! Media and Media2 answers.

use super::*;
use crate::onvif::client::read_payload;

fn read<T>(xml: &str, ns: &str, name: &str, f: impl FnOnce(Node<'_, '_>) -> T) -> T {
    let url: Url = "http://cam/onvif/Media".parse().unwrap();
    read_payload(&url, xml, &[ns], name, |n| Ok(f(n))).unwrap()
}

const PROFILES_V1: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"><SOAP-ENV:Body><trt:GetProfilesResponse>
<trt:Profiles token="000" fixed="true"><tt:Name>mainStream</tt:Name>
 <tt:VideoSourceConfiguration token="000"><tt:Name>VideoS</tt:Name><tt:Bounds x="0" y="0" width="2560" height="1920"></tt:Bounds></tt:VideoSourceConfiguration>
 <tt:VideoEncoderConfiguration token="000"><tt:Name>VideoE</tt:Name><tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>2560</tt:Width><tt:Height>1920</tt:Height></tt:Resolution></tt:VideoEncoderConfiguration>
</trt:Profiles>
<trt:Profiles token="001" fixed="true"><tt:Name>subStream</tt:Name>
 <tt:VideoEncoderConfiguration token="001"><tt:Resolution><tt:Width>640</tt:Width><tt:Height>480</tt:Height></tt:Resolution></tt:VideoEncoderConfiguration>
</trt:Profiles>
<trt:Profiles token="002"><tt:Name>audio only</tt:Name></trt:Profiles>
</trt:GetProfilesResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;

const PROFILES_V2: &str = r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tr2="http://www.onvif.org/ver20/media/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"><env:Body><tr2:GetProfilesResponse>
<tr2:Profiles token="Profile_1" fixed="true"><tr2:Name>mainStream</tr2:Name><tr2:Configurations><tr2:VideoSource token="VideoSourceToken"><tt:Name>VideoSourceConfig</tt:Name></tr2:VideoSource><tr2:VideoEncoder token="VideoEncoderToken_1" GovLength="50" Profile="Main"><tt:Name>VideoEncoder_1</tt:Name><tt:Encoding>H265</tt:Encoding><tt:Resolution><tt:Width>3840</tt:Width><tt:Height>2160</tt:Height></tt:Resolution></tr2:VideoEncoder></tr2:Configurations></tr2:Profiles>
<tr2:Profiles token="Profile_2" fixed="true"><tr2:Name>subStream</tr2:Name><tr2:Configurations><tr2:VideoEncoder token="VideoEncoderToken_2"><tt:Resolution><tt:Width>640</tt:Width><tt:Height>360</tt:Height></tt:Resolution></tr2:VideoEncoder></tr2:Configurations></tr2:Profiles>
</tr2:GetProfilesResponse></env:Body></env:Envelope>"#;

#[test]
fn profiles_of_both_versions() {
    let v1 = read(PROFILES_V1, NS_MEDIA, "GetProfilesResponse", parse_profiles);
    assert_eq!(
        v1,
        [
            Profile {
                token: "000".into(),
                name: "mainStream".into(),
                resolution: Some((2560, 1920))
            },
            Profile {
                token: "001".into(),
                name: "subStream".into(),
                resolution: Some((640, 480))
            },
            Profile {
                token: "002".into(),
                name: "audio only".into(),
                resolution: None
            },
        ]
    );
    assert_eq!(best_profile(&v1).unwrap().token, "000");
    let v2 = read(
        PROFILES_V2,
        NS_MEDIA2,
        "GetProfilesResponse",
        parse_profiles,
    );
    assert_eq!(v2.len(), 2);
    assert_eq!(v2[0].resolution, Some((3840, 2160)));
    assert_eq!(v2[1].name, "subStream");
    assert_eq!(best_profile(&v2).unwrap().token, "Profile_1");
}

#[test]
fn best_profile_prefers_pixels_then_order() {
    let p = |token: &str, resolution| Profile {
        token: token.into(),
        name: String::new(),
        resolution,
    };
    let table: [(Vec<Profile>, Option<&str>); 5] = [
        (vec![], None),
        (vec![p("a", None), p("b", None)], Some("a")),
        (
            vec![p("a", Some((640, 480))), p("b", Some((1920, 1080)))],
            Some("b"),
        ),
        (
            vec![p("a", Some((1920, 1080))), p("b", Some((1920, 1080)))],
            Some("a"),
        ),
        (vec![p("a", None), p("b", Some((320, 240)))], Some("b")),
    ];
    assert!(!table.is_empty());
    for (profiles, want) in &table {
        assert_eq!(
            best_profile(profiles).map(|p| p.token.as_str()),
            *want,
            "{profiles:?}"
        );
    }
}

#[test]
fn snapshot_uris_of_both_versions() {
    let v1 = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><GetSnapshotUriResponse xmlns="http://www.onvif.org/ver10/media/wsdl"><MediaUri><Uri xmlns="http://www.onvif.org/ver10/schema">http://192.168.1.20/cgi-bin/api.cgi?cmd=Snap&amp;channel=0</Uri><InvalidAfterConnect xmlns="http://www.onvif.org/ver10/schema">false</InvalidAfterConnect></MediaUri></GetSnapshotUriResponse></s:Body></s:Envelope>"#;
    let uri = read(v1, NS_MEDIA, "GetSnapshotUriResponse", parse_snapshot_uri);
    assert_eq!(
        uri.as_deref(),
        Some("http://192.168.1.20/cgi-bin/api.cgi?cmd=Snap&channel=0")
    );
    let v2 = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tr2="http://www.onvif.org/ver20/media/wsdl"><s:Body><tr2:GetSnapshotUriResponse><tr2:Uri>http://cam/snap.jpg</tr2:Uri></tr2:GetSnapshotUriResponse></s:Body></s:Envelope>"#;
    let uri = read(v2, NS_MEDIA2, "GetSnapshotUriResponse", parse_snapshot_uri);
    assert_eq!(uri.as_deref(), Some("http://cam/snap.jpg"));
}

#[test]
fn the_sub_stream_is_the_smallest_profile_with_a_resolution() {
    let v1 = read(PROFILES_V1, NS_MEDIA, "GetProfilesResponse", parse_profiles);
    assert_eq!(smallest_profile(&v1).unwrap().token, "001");
    let v2 = read(
        PROFILES_V2,
        NS_MEDIA2,
        "GetProfilesResponse",
        parse_profiles,
    );
    assert_eq!(smallest_profile(&v2).unwrap().token, "Profile_2");
    assert_eq!(smallest_profile(&[]), None);
}

#[test]
fn stream_uris_of_both_versions() {
    let v1 = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"><s:Body><trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>rtsp://192.168.1.20:554/cam/realmonitor?channel=1&amp;subtype=1&amp;unicast=true&amp;proto=Onvif</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse></s:Body></s:Envelope>"#;
    let uri = read(v1, NS_MEDIA, "GetStreamUriResponse", parse_stream_uri);
    assert_eq!(
        uri.as_deref(),
        Some(
            "rtsp://192.168.1.20:554/cam/realmonitor?channel=1&subtype=1&unicast=true&proto=Onvif"
        )
    );
    let v2 = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tr2="http://www.onvif.org/ver20/media/wsdl"><s:Body><tr2:GetStreamUriResponse><tr2:Uri>rtsp://10.0.0.9/Streaming/Channels/102</tr2:Uri></tr2:GetStreamUriResponse></s:Body></s:Envelope>"#;
    let uri = read(v2, NS_MEDIA2, "GetStreamUriResponse", parse_stream_uri);
    assert_eq!(
        uri.as_deref(),
        Some("rtsp://10.0.0.9/Streaming/Channels/102")
    );
}

#[test]
fn a_stream_uri_gets_the_cameras_host_and_loses_credentials() {
    let device: Url = "http://doorbell.lan:8080/onvif/device_service"
        .parse()
        .unwrap();
    let table = [
        (
            "rtsp://doorbell.lan:554/s1",
            Some("rtsp://doorbell.lan:554/s1"),
        ),
        (
            "rtsp://192.168.1.20:8554/s1?x=1",
            Some("rtsp://doorbell.lan:8554/s1?x=1"),
        ),
        (
            "rtsp://admin:pw@doorbell.lan/s1",
            Some("rtsp://doorbell.lan/s1"),
        ),
        ("http://doorbell.lan/s1", None),
        ("not a url", None),
    ];
    for (advertised, want) in table {
        let got = rewrite_stream_uri(advertised, &device).map(|u| u.to_string());
        assert_eq!(got.as_deref(), want, "{advertised}");
    }
}
