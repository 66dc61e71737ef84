//! The JSON written beside each clip (`<clip>.clip.json`), and alone when there is no video
//! (pure).

use serde::Serialize;

use crate::event::{ClipStatus, Kind, format_time};

/// What a clip's sidecar says.
#[derive(Debug, Clone, Serialize)]
pub struct ClipSidecar {
    /// The camera id.
    pub camera: String,
    /// The event's kind.
    pub kind: Kind,
    /// The event's receive time (UTC).
    pub event_time: String,
    /// The first frame's time (UTC), before the event by the pre-roll; `null` when missing.
    pub start: Option<String>,
    /// Seconds of video.
    pub duration: f64,
    /// Seconds of video before the event.
    pub preroll: f64,
    /// `complete`, `partial` or `missing`.
    pub status: ClipStatus,
    /// RFC 6381 codec string, e.g. `avc1.42C00A`.
    pub codec: Option<String>,
    /// Pixels, width and height.
    pub resolution: Option<(u32, u32)>,
    /// Samples in the clip.
    pub frames: usize,
    /// What is missing and why.
    pub gaps: Vec<String>,
}

impl ClipSidecar {
    /// A sidecar for an event of `kind` at `event_time`.
    pub fn new(camera: &str, kind: Kind, event_time: jiff::Timestamp, status: ClipStatus) -> Self {
        Self {
            camera: camera.to_owned(),
            kind,
            event_time: format_time(event_time),
            start: None,
            duration: 0.0,
            preroll: 0.0,
            status,
            codec: None,
            resolution: None,
            frames: 0,
            gaps: Vec::new(),
        }
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("the clip sidecar serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_clip_says_so_and_why() {
        let mut s = ClipSidecar::new(
            "door",
            Kind::Ring,
            "2026-11-29T08:15:00.123Z".parse().unwrap(),
            ClipStatus::Missing,
        );
        s.gaps.push("the stream is down".into());
        let v: serde_json::Value = serde_json::from_slice(&s.to_json()).unwrap();
        assert_eq!(v["status"], "missing");
        assert_eq!(v["kind"], "ring");
        assert_eq!(v["event_time"], "2026-11-29T08:15:00.123Z");
        assert_eq!(v["start"], serde_json::Value::Null);
        assert_eq!(v["gaps"][0], "the stream is down");
    }
}
