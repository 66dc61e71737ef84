//! One clip being recorded: its frames, when it ends, and what went wrong (pure).
//!
//! Times are the stream's own (90 kHz ticks). A clip starts with the pre-roll taken when its
//! event arrived and ends with the first frame at or after `event + post`; a clip event in the
//! meantime moves that end to `its time + post`, never past `start + max`. Without pre-roll (the
//! stream had not sent a keyframe, or was down) the clip starts at the next keyframe and the
//! gap is noted. A clip never grows past its byte bound; a timestamp jump, lost stream or new
//! parameters end it early, noted as well. The task also holds a wall-clock deadline, for a
//! stream that stops sending altogether.

use super::preroll::{Frame, PreRoll};
use crate::event::ClipStatus;

/// A jump in the stream's timestamps above this (forward or back) ends the clip: the camera
/// restarted its clock and what follows belongs to no timeline we can cut.
pub const MAX_TIMESTAMP_JUMP: i64 = 10 * super::preroll::TIMESCALE as i64;

/// Why a frame ended the clip, or that it did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// Keep recording.
    More,
    /// The clip is done.
    Done,
}

/// The clip in progress.
#[derive(Debug)]
pub struct Recording {
    frames: Vec<Frame>,
    bytes: usize,
    max_bytes: usize,
    post: i64,
    max: i64,
    /// The stream time of the event (the newest frame when it came), once known.
    event_ts: Option<i64>,
    /// The stream time the clip ends at, once known.
    end_ts: Option<i64>,
    gaps: Vec<String>,
}

/// What a finished recording hands to the writer.
#[derive(Debug)]
pub struct Finished {
    /// The frames, the first a keyframe (empty when nothing was recorded).
    pub frames: Vec<Frame>,
    /// Ticks from the first frame to the event (how much pre-roll the clip has).
    pub preroll: i64,
    /// What the sidecar and MQTT say about it.
    pub status: ClipStatus,
    /// What was missing, for people.
    pub gaps: Vec<String>,
}

impl Recording {
    /// Starts a clip for an event arriving now, from what `preroll` holds.
    pub fn start(preroll: &PreRoll, post: i64, max: i64, max_bytes: usize) -> Self {
        let mut rec = Self {
            frames: Vec::new(),
            bytes: 0,
            max_bytes,
            post,
            max,
            event_ts: None,
            end_ts: None,
            gaps: Vec::new(),
        };
        match preroll.newest() {
            Some(now) => {
                rec.event_ts = Some(now);
                rec.end_ts = Some(now + post);
                for f in preroll.since(now) {
                    rec.bytes += f.data.len();
                    rec.frames.push(f);
                }
            }
            None => rec.gap("no pre-roll: the stream had no keyframe in the buffer"),
        }
        rec
    }

    /// Notes what is missing from the clip.
    pub fn gap(&mut self, what: impl Into<String>) {
        let what = what.into();
        if self.gaps.len() < 8 && !self.gaps.contains(&what) {
            self.gaps.push(what);
        }
    }

    /// Another clip event: record until `post` after the newest frame, within `max`.
    pub fn extend(&mut self) {
        // No frame yet: the end is set from the first one.
        if let Some(last) = self.frames.last() {
            let limit = self.frames[0].ts + self.max;
            self.end_ts = Some((last.ts + self.post).min(limit));
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Adds a frame from the stream.
    pub fn push(&mut self, frame: Frame) -> Push {
        let Some(last) = self.frames.last() else {
            if !frame.keyframe {
                return Push::More;
            }
            // The first frame of a clip without pre-roll: the event counts from here.
            self.event_ts.get_or_insert(frame.ts);
            self.end_ts = Some(frame.ts + self.post);
            self.bytes = frame.data.len();
            self.frames.push(frame);
            return Push::More;
        };
        let step = frame.ts - last.ts;
        if !(-MAX_TIMESTAMP_JUMP..=MAX_TIMESTAMP_JUMP).contains(&step) {
            self.gap(format!(
                "the stream's timestamps jumped by {:.1}s; the clip ends there",
                step as f64 / f64::from(super::preroll::TIMESCALE)
            ));
            return Push::Done;
        }
        if self.bytes + frame.data.len() > self.max_bytes {
            self.gap(format!(
                "the clip reached its size bound ({} bytes); lower the stream's bitrate or clip.max",
                self.max_bytes
            ));
            return Push::Done;
        }
        let limit = self.frames[0].ts + self.max;
        let end = self.end_ts.unwrap_or(limit).min(limit);
        if frame.ts >= end {
            return Push::Done;
        }
        self.bytes += frame.data.len();
        self.frames.push(frame);
        Push::More
    }

    /// The clip as it stands.
    pub fn finish(self) -> Finished {
        let preroll = match (self.frames.first(), self.event_ts) {
            (Some(first), Some(event)) => (event - first.ts).max(0),
            _ => 0,
        };
        let status = if self.frames.is_empty() {
            ClipStatus::Missing
        } else if self.gaps.is_empty() {
            ClipStatus::Complete
        } else {
            ClipStatus::Partial
        };
        let mut gaps = self.gaps;
        if self.frames.is_empty() && gaps.is_empty() {
            gaps.push("no video arrived".to_owned());
        }
        Finished {
            frames: self.frames,
            preroll,
            status,
            gaps,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clip::preroll::ticks;
    use bytes::Bytes;
    use std::time::Duration;

    const FRAME: i64 = 9000; // 10 fps

    fn frame(i: i64) -> Frame {
        Frame {
            ts: i * FRAME,
            keyframe: i % 10 == 0,
            data: Bytes::from_static(&[0; 10]),
        }
    }

    fn preroll_until(last: i64) -> PreRoll {
        let mut p = PreRoll::new(ticks(Duration::from_secs(2)), 1 << 20);
        (0..=last).for_each(|i| p.push(frame(i)));
        p
    }

    fn record(rec: &mut Recording, from: i64, to: i64) -> Option<i64> {
        (from..to).find(|&i| rec.push(frame(i)) == Push::Done)
    }

    #[test]
    fn a_clip_covers_pre_and_post_from_a_keyframe() {
        let p = preroll_until(55);
        let mut rec = Recording::start(
            &p,
            ticks(Duration::from_secs(3)),
            ticks(Duration::from_secs(60)),
            1 << 20,
        );
        // The event is at frame 55; post ends at 85.
        assert_eq!(record(&mut rec, 56, 200), Some(85));
        let done = rec.finish();
        assert_eq!(done.status, ClipStatus::Complete);
        assert_eq!(done.frames[0].ts, 30 * FRAME);
        assert!(done.frames[0].keyframe);
        assert_eq!(done.frames.last().unwrap().ts, 84 * FRAME);
        assert_eq!(done.preroll, 25 * FRAME);
    }

    #[test]
    fn another_event_extends_post_up_to_max() {
        let p = preroll_until(55);
        let mut rec = Recording::start(
            &p,
            ticks(Duration::from_secs(3)),
            ticks(Duration::from_secs(6)),
            1 << 20,
        );
        assert_eq!(record(&mut rec, 56, 70), None);
        rec.extend(); // at frame 69: until 99, but max from 30 is 90
        assert_eq!(record(&mut rec, 70, 200), Some(90));
    }

    #[test]
    fn without_pre_roll_the_clip_starts_at_the_next_keyframe_and_says_so() {
        let p = PreRoll::new(ticks(Duration::from_secs(2)), 1 << 20);
        let mut rec = Recording::start(
            &p,
            ticks(Duration::from_secs(1)),
            ticks(Duration::from_secs(60)),
            1 << 20,
        );
        assert_eq!(record(&mut rec, 3, 100), Some(20));
        let done = rec.finish();
        assert_eq!(done.status, ClipStatus::Partial);
        assert_eq!(done.frames[0].ts, 10 * FRAME);
        assert!(done.gaps[0].contains("no pre-roll"), "{:?}", done.gaps);
    }

    #[test]
    fn a_timestamp_jump_ends_the_clip_as_partial() {
        let p = preroll_until(15);
        let mut rec = Recording::start(
            &p,
            ticks(Duration::from_secs(5)),
            ticks(Duration::from_secs(60)),
            1 << 20,
        );
        assert_eq!(rec.push(frame(16)), Push::More);
        assert_eq!(rec.push(frame(16 + 20 * 10)), Push::Done);
        let done = rec.finish();
        assert_eq!(done.status, ClipStatus::Partial);
        assert!(done.gaps[0].contains("jumped"), "{:?}", done.gaps);
    }

    #[test]
    fn a_clip_never_passes_its_byte_bound() {
        let p = preroll_until(15);
        let mut rec = Recording::start(
            &p,
            ticks(Duration::from_secs(50)),
            ticks(Duration::from_secs(60)),
            200,
        );
        let end = record(&mut rec, 16, 500).expect("the bound ends it");
        assert!(rec.bytes() <= 200, "{end}");
        assert_eq!(rec.finish().status, ClipStatus::Partial);
    }

    #[test]
    fn a_clip_without_any_video_is_missing() {
        let p = PreRoll::new(1, 1 << 20);
        let done = Recording::start(&p, 1, 2, 10).finish();
        assert_eq!(done.status, ClipStatus::Missing);
        assert!(done.frames.is_empty());
    }
}
