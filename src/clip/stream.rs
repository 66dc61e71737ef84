//! The camera's RTSP stream for clips, through retina: which URL, opening a session (TCP
//! interleaved, the video track only, MP4 framing) and reading frames. Never the ONVIF audio
//! backchannel: only the one video track is set up (on Amcrest/Dahua doorbells a backchannel
//! session turns the button off).

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use retina::client::{
    Credentials, Demuxed, PlayOptions, SessionOptions, SetupOptions, TcpTransportOptions, Transport,
};
use retina::codec::{CodecItem, FrameFormat, ParametersRef, VideoParameters};
use url::Url;

use super::preroll::Frame;
use crate::backoff::Failure;
use crate::config::{CameraConfig, ClipStream};
use crate::onvif::{Client, MediaService, MediaVersion, best_profile, smallest_profile};

/// How long DESCRIBE, SETUP and PLAY may take together.
pub const RTSP_SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// No frame for this long: the stream is lost.
pub const FRAME_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the stream could not be opened or read, for people and for the backoff.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct StreamError {
    /// What happened (the stream URL without credentials, never a password).
    pub message: String,
    /// How to retry.
    pub failure: Failure,
}

impl StreamError {
    fn new(message: impl Into<String>, failure: Failure) -> Self {
        Self {
            message: message.into(),
            failure,
        }
    }
}

/// What retina reported, first line only (the rest is connection context), classified.
fn rtsp_error(url: &Url, e: &retina::Error) -> StreamError {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default();
    match e.status_code() {
        Some(401) => StreamError::new(
            format!(
                "{url}: the camera refused the RTSP credentials ({first}); check username and password"
            ),
            Failure::Rejected,
        ),
        Some(453 | 503) => StreamError::new(
            format!(
                "{url}: the camera refuses another RTSP session ({first}); another client (an NVR, \
                 an app showing live video) may hold it: close it, or point clip.stream at a \
                 stream the camera serves to several clients"
            ),
            Failure::Answered,
        ),
        _ => StreamError::new(format!("{url}: {first}"), Failure::Answered),
    }
}

/// The stream URL (without credentials) and the credentials to use: those in a configured URL,
/// else the camera's.
pub async fn resolve(
    client: &Client,
    camera: &CameraConfig,
) -> Result<(Url, Option<Credentials>), StreamError> {
    let mut url = match &camera.clip.stream {
        ClipStream::Url(u) => u.clone(),
        other => onvif_stream(client, other == &ClipStream::Main).await?,
    };
    let from_url = (!url.username().is_empty()).then(|| Credentials {
        username: percent(url.username()),
        password: percent(url.password().unwrap_or_default()),
    });
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let creds = from_url.or_else(|| {
        camera.username.as_ref().map(|u| Credentials {
            username: u.clone(),
            password: camera
                .password
                .as_ref()
                .map(|p| p.expose().to_owned())
                .unwrap_or_default(),
        })
    });
    Ok((url, creds))
}

fn percent(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// GetStreamUri for the camera's smallest (sub) or largest (main) profile, Media2 first.
async fn onvif_stream(client: &Client, main: bool) -> Result<Url, StreamError> {
    let onvif = |e: crate::onvif::Error| {
        StreamError::new(
            format!(
                "cannot find the RTSP stream: {e}; set clip.stream to the camera's rtsp:// URL"
            ),
            match e.retry() {
                crate::onvif::error::Retry::Unreachable => Failure::Unreachable,
                crate::onvif::error::Retry::Fatal => Failure::Rejected,
                _ => Failure::Answered,
            },
        )
    };
    let services = client.services().await.map_err(onvif)?;
    let candidates = [
        services.media2.map(|url| MediaService {
            url,
            version: MediaVersion::V2,
        }),
        services.media.map(|url| MediaService {
            url,
            version: MediaVersion::V1,
        }),
    ];
    let mut last = StreamError::new(
        "the camera has no media service to ask for its RTSP stream; set clip.stream to its rtsp:// URL",
        Failure::Rejected,
    );
    for media in candidates.into_iter().flatten() {
        let profiles = match client.profiles(&media).await {
            Ok(p) => p,
            Err(e) => {
                last = onvif(e);
                continue;
            }
        };
        let pick = if main {
            best_profile(&profiles)
        } else {
            smallest_profile(&profiles)
        };
        let Some(profile) = pick else { continue };
        match client.stream_uri(&media, &profile.token).await {
            Ok(u) => return Ok(u),
            Err(e) => last = onvif(e),
        }
    }
    Err(last)
}

/// A playing RTSP session with one video track.
pub struct Stream {
    demuxed: Demuxed,
    video: usize,
    url: Url,
}

/// What the stream delivered.
#[derive(Debug)]
pub enum Item {
    /// A picture; `new_parameters` when the SPS/PPS changed with it.
    Frame {
        /// The picture.
        frame: Frame,
        /// Its parameters changed.
        new_parameters: bool,
        /// RTP packets lost before it.
        loss: u16,
    },
    /// Something that is not our video (RTCP, other tracks): ignored.
    Other,
}

/// The video track's parameters as the MP4 writer needs them.
#[derive(Debug, Clone)]
pub struct Video {
    /// The `avc1`/`hvc1` sample entry.
    pub sample_entry: Vec<u8>,
    /// RFC 6381 codec string.
    pub codec: String,
    /// Pixels.
    pub resolution: (u32, u32),
}

impl Video {
    fn from(params: &VideoParameters) -> Option<Self> {
        Some(Self {
            sample_entry: params.mp4_sample_entry().build().ok()?,
            codec: params.rfc6381_codec().to_owned(),
            resolution: params.pixel_dimensions(),
        })
    }
}

impl Stream {
    /// DESCRIBE, SETUP (the first H.264 or H.265 video track, TCP interleaved), PLAY.
    pub async fn open(url: &Url, creds: Option<Credentials>) -> Result<Self, StreamError> {
        let open = async {
            let options = SessionOptions::default()
                .creds(creds)
                .user_agent(format!("doorbell-bridge/{}", env!("CARGO_PKG_VERSION")));
            let mut session = retina::client::Session::describe(url.clone(), options)
                .await
                .map_err(|e| rtsp_error(url, &e))?;
            let video = pick_video(url, session.streams())?;
            session
                .setup(
                    video,
                    SetupOptions::default()
                        .transport(Transport::Tcp(TcpTransportOptions::default()))
                        .frame_format(FrameFormat::MP4),
                )
                .await
                .map_err(|e| rtsp_error(url, &e))?;
            let playing = session
                .play(PlayOptions::default())
                .await
                .map_err(|e| rtsp_error(url, &e))?;
            let demuxed = playing.demuxed().map_err(|e| rtsp_error(url, &e))?;
            Ok(Self {
                demuxed,
                video,
                url: url.clone(),
            })
        };
        tokio::time::timeout(RTSP_SETUP_TIMEOUT, open)
            .await
            .map_err(|_| {
                StreamError::new(
                    format!(
                        "{url}: no RTSP answer within {}s",
                        RTSP_SETUP_TIMEOUT.as_secs()
                    ),
                    Failure::Unreachable,
                )
            })?
    }

    /// The video parameters, once known (from the SDP or the first frame).
    pub fn video(&self) -> Option<Video> {
        match self.demuxed.streams().get(self.video)?.parameters()? {
            ParametersRef::Video(v) => Video::from(v),
            _ => None,
        }
    }

    /// The next item; an error when the stream failed or sent nothing for
    /// [`FRAME_IDLE_TIMEOUT`].
    pub async fn next(&mut self) -> Result<Item, StreamError> {
        let item = tokio::time::timeout(FRAME_IDLE_TIMEOUT, self.demuxed.next())
            .await
            .map_err(|_| {
                StreamError::new(
                    format!(
                        "{}: no video for {}s",
                        self.url,
                        FRAME_IDLE_TIMEOUT.as_secs()
                    ),
                    Failure::Unreachable,
                )
            })?;
        match item {
            None => Err(StreamError::new(
                format!("{}: the camera ended the stream", self.url),
                Failure::Answered,
            )),
            Some(Err(e)) => Err(rtsp_error(&self.url, &e)),
            Some(Ok(CodecItem::VideoFrame(f))) if f.stream_id() == self.video => {
                let new_parameters = f.has_new_parameters();
                let loss = f.loss();
                let keyframe = f.is_random_access_point();
                let ts = f.timestamp().timestamp();
                Ok(Item::Frame {
                    frame: Frame {
                        ts,
                        keyframe,
                        data: Bytes::from(f.into_data()),
                    },
                    new_parameters,
                    loss,
                })
            }
            Some(Ok(_)) => Ok(Item::Other),
        }
    }
}

/// The track to record: the first video track in a codec the writer can put in an MP4.
pub fn pick_video(url: &Url, streams: &[retina::client::Stream]) -> Result<usize, StreamError> {
    let tracks: Vec<(&str, &str)> = streams
        .iter()
        .map(|s| (s.media(), s.encoding_name()))
        .collect();
    choose_video(&tracks).map_err(|m| StreamError::new(format!("{url}: {m}"), Failure::Rejected))
}

/// Pure: which of `(media, encoding)` tracks to record, or why none.
pub fn choose_video(tracks: &[(&str, &str)]) -> Result<usize, String> {
    if let Some(i) = tracks.iter().position(|(m, e)| {
        *m == "video" && matches!(e.to_ascii_lowercase().as_str(), "h264" | "h265")
    }) {
        return Ok(i);
    }
    match tracks.iter().find(|(m, _)| *m == "video") {
        Some((_, codec)) => Err(format!(
            "the video is {codec}, which clips cannot record (H.264 and H.265 can); set the \
             camera's stream to H.264"
        )),
        None => Err("the stream has no video track; point clip.stream at a video stream".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_h264_or_h265_video_track_is_recorded() {
        assert_eq!(choose_video(&[("audio", "pcma"), ("video", "h264")]), Ok(1));
        assert_eq!(choose_video(&[("video", "H265"), ("video", "h264")]), Ok(0));
        let e = choose_video(&[("video", "jpeg"), ("audio", "mpeg4-generic")]).unwrap_err();
        assert!(e.contains("jpeg"), "the error names the codec: {e}");
        let e = choose_video(&[("audio", "pcmu")]).unwrap_err();
        assert!(e.contains("no video"), "{e}");
    }

    #[test]
    fn credentials_in_a_stream_url_are_decoded() {
        assert_eq!(percent("p%40ss%3Aword"), "p@ss:word");
        assert_eq!(percent("a+b"), "a+b");
    }
}
