//! The pre-roll buffer: the last seconds of a camera's stream, held in memory so a clip can
//! start before its event (pure).
//!
//! It always starts at a keyframe (a clip cut from it is decodable from its first sample) and
//! is bounded twice: in time, whole GOPs are dropped from the front while the rest still covers
//! `pre`; in bytes, the oldest GOP goes whenever the total passes the limit, however long `pre`
//! is. A stream that has not sent a keyframe yet buffers nothing.

use std::collections::VecDeque;

use bytes::Bytes;

/// Media clock of the frames: RTP H.264 timestamps are 90 kHz (RFC 6184 section 8.2.1).
pub const TIMESCALE: u32 = 90_000;

/// One coded picture as the stream delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Presentation time in [`TIMESCALE`] ticks, on the stream's own timeline.
    pub ts: i64,
    /// Whether the picture is a random access point (an IDR picture).
    pub keyframe: bool,
    /// The picture as length-prefixed NAL units (the MP4 sample format).
    pub data: Bytes,
}

/// Ticks of `d`.
pub fn ticks(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_micros() * u128::from(TIMESCALE) / 1_000_000).unwrap_or(i64::MAX)
}

/// The bounded ring of recent frames, starting at a keyframe.
#[derive(Debug)]
pub struct PreRoll {
    frames: VecDeque<Frame>,
    bytes: usize,
    pre: i64,
    max_bytes: usize,
}

impl PreRoll {
    /// A buffer covering `pre` ticks, never holding more than `max_bytes` of frame data.
    pub fn new(pre: i64, max_bytes: usize) -> Self {
        Self {
            frames: VecDeque::new(),
            bytes: 0,
            pre,
            max_bytes,
        }
    }

    /// Adds the newest frame and trims the front. A frame before the first keyframe is dropped.
    pub fn push(&mut self, frame: Frame) {
        if self.frames.is_empty() && !frame.keyframe {
            return;
        }
        self.bytes += frame.data.len();
        self.frames.push_back(frame);
        self.trim();
    }

    /// Forgets everything (the stream was lost: what comes next is on another timeline).
    pub fn clear(&mut self) {
        self.frames.clear();
        self.bytes = 0;
    }

    /// Bytes of frame data held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Frames held.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The newest frame's time.
    pub fn newest(&self) -> Option<i64> {
        self.frames.back().map(|f| f.ts)
    }

    /// The frames a clip for an event at `at` starts with: from the latest keyframe at or
    /// before `at - pre` (or the earliest one held, when the buffer is shorter than `pre`).
    pub fn since(&self, at: i64) -> Vec<Frame> {
        let want = at.saturating_sub(self.pre);
        let start = self
            .frames
            .iter()
            .enumerate()
            .filter(|(_, f)| f.keyframe && f.ts <= want)
            .map(|(i, _)| i)
            .next_back()
            .unwrap_or(0);
        self.frames.iter().skip(start).cloned().collect()
    }

    fn trim(&mut self) {
        let newest = self.newest().unwrap_or(0);
        // Time: drop the first GOP while the next keyframe still starts early enough.
        while let Some(next) = self.next_keyframe() {
            if newest - self.frames[next].ts >= self.pre {
                self.drop_front(next);
            } else {
                break;
            }
        }
        // Bytes: drop whole GOPs; with a single (huge) GOP, everything.
        while self.bytes > self.max_bytes {
            let next = self.next_keyframe().unwrap_or(self.frames.len());
            self.drop_front(next);
        }
    }

    /// Index of the second keyframe (the start of the second GOP).
    fn next_keyframe(&self) -> Option<usize> {
        self.frames
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, f)| f.keyframe)
            .map(|(i, _)| i)
    }

    fn drop_front(&mut self, n: usize) {
        for f in self.frames.drain(..n) {
            self.bytes -= f.data.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 10 frames per second, a keyframe every `gop` frames, each `size` bytes.
    fn frame(i: i64, gop: i64, size: usize) -> Frame {
        Frame {
            ts: i * 9000,
            keyframe: i % gop == 0,
            data: Bytes::from(vec![0u8; size]),
        }
    }

    #[test]
    fn the_buffer_starts_at_a_keyframe_and_covers_pre() {
        let mut p = PreRoll::new(ticks(std::time::Duration::from_secs(2)), 1 << 20);
        // Frames before the first keyframe are not kept.
        for i in 5..10 {
            p.push(frame(i, 10, 100));
        }
        assert!(p.is_empty());
        for i in 10..100 {
            p.push(frame(i, 10, 100));
            let held: Vec<_> = p.since(i64::MAX).into_iter().collect();
            assert!(p.frames[0].keyframe, "frame {i}");
            let span = p.newest().unwrap() - p.frames[0].ts;
            if i >= 30 {
                // At least pre, at most pre plus one GOP.
                assert!((18 * 9000..=29 * 9000).contains(&span), "{i}: {span}");
            }
            assert!(held[0].keyframe);
        }
        assert_eq!(p.bytes(), p.len() * 100);
    }

    #[test]
    fn a_clip_starts_at_the_last_keyframe_before_event_minus_pre() {
        let mut p = PreRoll::new(ticks(std::time::Duration::from_secs(2)), 1 << 20);
        for i in 0..=57 {
            p.push(frame(i, 10, 10));
        }
        // Event at frame 57 (5.7 s): pre reaches back to 3.7 s; the keyframe before is 3.0 s.
        let clip = p.since(57 * 9000);
        assert_eq!(clip[0].ts, 30 * 9000);
        assert!(clip[0].keyframe);
        assert_eq!(clip.last().unwrap().ts, 57 * 9000);
    }

    #[test]
    fn the_byte_bound_drops_whole_gops() {
        // 30 s of pre at 1000 bytes a frame would be 300 kB; the bound is 25 kB.
        let mut p = PreRoll::new(ticks(std::time::Duration::from_secs(30)), 25_000);
        for i in 0..200 {
            p.push(frame(i, 10, 1000));
            assert!(p.bytes() <= 25_000);
            assert!(p.is_empty() || p.frames[0].keyframe);
        }
        assert!(p.len() >= 10, "{} frames", p.len());
    }

    #[test]
    fn a_stream_of_one_endless_gop_never_passes_the_byte_bound() {
        let mut p = PreRoll::new(ticks(std::time::Duration::from_secs(30)), 5_000);
        for i in 0..100 {
            p.push(frame(i, 1000, 1000));
            assert!(p.bytes() <= 5_000, "{i}");
        }
    }
}
