//! A small MP4 writer for one H.264 video track, `moov` before `mdat` (pure).
//!
//! Why our own: a clip (pre-roll plus some seconds) is held in memory whole, so the file can be
//! laid out once at the end with the index first: a "fast start" file that browsers, phones and
//! Home Assistant's media browser play before it is fully read. The `mp4` crate's writer needs
//! `Write + Seek` and puts `moov` last; `muxide` wants Annex B and is young. What a clip needs
//! is eleven box types (ISO/IEC 14496-12) around the `avc1` sample entry, which retina builds
//! from the stream's SPS and PPS (`VideoParameters::mp4_sample_entry`), so this writer never
//! looks inside the video. The tests read its output with the independent `mp4` crate.
//!
//! Sample times come from the stream's presentation times. Cameras send H.264 without
//! B-frames in practice, so decode order is presentation order and no `ctts` is written; a
//! timestamp that does not advance gets one tick, so sample times stay strictly increasing.

use super::preroll::{Frame, TIMESCALE};

/// Movie timescale (`mvhd`, `tkhd` durations): milliseconds.
const MOVIE_TIMESCALE: u32 = 1000;

/// What the writer needs besides the samples.
#[derive(Debug, Clone)]
pub struct Track<'a> {
    /// The `avc1` (or `hvc1`) box, as retina builds it.
    pub sample_entry: &'a [u8],
    /// Display width and height in pixels.
    pub width: u32,
    /// Display height in pixels.
    pub height: u32,
    /// The duration of the last sample, in ticks (the stream's frame interval).
    pub last_duration: u32,
}

/// Per-sample durations in ticks: the gap to the next sample's time, at least one tick; the
/// last one `last` (pure).
pub fn durations(frames: &[Frame], last: u32) -> Vec<u32> {
    let mut out: Vec<u32> = frames
        .windows(2)
        .map(|w| u32::try_from(w[1].ts - w[0].ts).unwrap_or(0).max(1))
        .collect();
    if !frames.is_empty() {
        out.push(last.max(1));
    }
    out
}

/// The whole file: `ftyp`, `moov`, `mdat`. `frames` must not be empty; the first should be a
/// keyframe.
pub fn write(track: &Track<'_>, frames: &[Frame]) -> Vec<u8> {
    let durations = durations(frames, track.last_duration);
    let total: u64 = durations.iter().map(|&d| u64::from(d)).sum();
    let payload: usize = frames.iter().map(|f| f.data.len()).sum();
    let ftyp = ftyp();
    // The chunk offset is the one number in moov that depends on moov's size: build once with
    // a placeholder to learn the size (co64 keeps it fixed whatever the offset), then for real.
    let draft = moov(track, frames, &durations, total, 0);
    let offset = (ftyp.len() + draft.len() + 16) as u64;
    let moov = moov(track, frames, &durations, total, offset);
    debug_assert_eq!(moov.len(), draft.len());
    let mut out = Vec::with_capacity(ftyp.len() + moov.len() + 16 + payload);
    out.extend_from_slice(&ftyp);
    out.extend_from_slice(&moov);
    // mdat with a 64-bit size, so a clip above 4 GiB would still be well formed.
    out.extend_from_slice(&1u32.to_be_bytes());
    out.extend_from_slice(b"mdat");
    out.extend_from_slice(&((payload + 16) as u64).to_be_bytes());
    for f in frames {
        out.extend_from_slice(&f.data);
    }
    out
}

fn boxed(kind: &[u8; 4], parts: &[&[u8]]) -> Vec<u8> {
    let len: usize = 8 + parts.iter().map(|p| p.len()).sum::<usize>();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&(len as u32).to_be_bytes());
    out.extend_from_slice(kind);
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

/// A full box: version 0, `flags`.
fn full(kind: &[u8; 4], flags: u32, body: &[u8]) -> Vec<u8> {
    boxed(kind, &[&flags.to_be_bytes(), body])
}

struct Be(Vec<u8>);

impl Be {
    fn new() -> Self {
        Be(Vec::new())
    }
    fn u16(mut self, v: u16) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn zeros(mut self, n: usize) -> Self {
        self.0.resize(self.0.len() + n, 0);
        self
    }
    /// The unity transformation matrix.
    fn matrix(self) -> Self {
        [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000]
            .into_iter()
            .fold(self, Be::u32)
    }
}

fn ftyp() -> Vec<u8> {
    boxed(
        b"ftyp",
        &[b"isom", &0x200u32.to_be_bytes(), b"isomiso2avc1mp41"],
    )
}

fn moov(
    track: &Track<'_>,
    frames: &[Frame],
    durations: &[u32],
    total: u64,
    offset: u64,
) -> Vec<u8> {
    let movie_duration = total * u64::from(MOVIE_TIMESCALE) / u64::from(TIMESCALE);
    let mvhd = full(
        b"mvhd",
        0,
        &Be::new()
            .u32(0)
            .u32(0)
            .u32(MOVIE_TIMESCALE)
            .u32(u32::try_from(movie_duration).unwrap_or(u32::MAX))
            .u32(0x0001_0000) // rate 1.0
            .u16(0x0100) // volume 1.0
            .zeros(10)
            .matrix()
            .zeros(24)
            .u32(2) // next track id
            .0,
    );
    let tkhd = full(
        b"tkhd",
        3, // enabled, in movie
        &Be::new()
            .u32(0)
            .u32(0)
            .u32(1) // track id
            .u32(0)
            .u32(u32::try_from(movie_duration).unwrap_or(u32::MAX))
            .zeros(8)
            .u16(0) // layer
            .u16(0) // alternate group
            .u16(0) // volume: video
            .u16(0)
            .matrix()
            .u32(track.width << 16)
            .u32(track.height << 16)
            .0,
    );
    let mdhd = full(
        b"mdhd",
        0,
        &Be::new()
            .u32(0)
            .u32(0)
            .u32(TIMESCALE)
            .u32(u32::try_from(total).unwrap_or(u32::MAX))
            .u16(0x55c4) // language "und"
            .u16(0)
            .0,
    );
    let hdlr = full(
        b"hdlr",
        0,
        &[&[0u8; 4][..], b"vide", &[0u8; 12], b"VideoHandler\0"].concat(),
    );
    let vmhd = full(b"vmhd", 1, &[0; 8]);
    let dref = full(
        b"dref",
        0,
        &[&1u32.to_be_bytes()[..], &full(b"url ", 1, &[])].concat(),
    );
    let dinf = boxed(b"dinf", &[&dref]);
    let stbl = stbl(track, frames, durations, offset);
    let minf = boxed(b"minf", &[&vmhd, &dinf, &stbl]);
    let mdia = boxed(b"mdia", &[&mdhd, &hdlr, &minf]);
    let trak = boxed(b"trak", &[&tkhd, &mdia]);
    boxed(b"moov", &[&mvhd, &trak])
}

fn stbl(track: &Track<'_>, frames: &[Frame], durations: &[u32], offset: u64) -> Vec<u8> {
    let stsd = full(
        b"stsd",
        0,
        &[&1u32.to_be_bytes()[..], track.sample_entry].concat(),
    );
    // stts: run-length (count, delta).
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for &d in durations {
        match runs.last_mut() {
            Some((n, delta)) if *delta == d => *n += 1,
            _ => runs.push((1, d)),
        }
    }
    let mut stts = Be::new().u32(runs.len() as u32);
    for (n, d) in runs {
        stts = stts.u32(n).u32(d);
    }
    let stts = full(b"stts", 0, &stts.0);
    let keys: Vec<u32> = (1..)
        .zip(frames)
        .filter(|(_, f)| f.keyframe)
        .map(|(i, _)| i)
        .collect();
    let stss = full(
        b"stss",
        0,
        &keys
            .iter()
            .fold(Be::new().u32(keys.len() as u32), |b, &k| b.u32(k))
            .0,
    );
    let stsz = full(
        b"stsz",
        0,
        &frames
            .iter()
            .fold(Be::new().u32(0).u32(frames.len() as u32), |b, f| {
                b.u32(f.data.len() as u32)
            })
            .0,
    );
    // One chunk holding every sample.
    let stsc = full(
        b"stsc",
        0,
        &Be::new().u32(1).u32(1).u32(frames.len() as u32).u32(1).0,
    );
    let co64 = full(b"co64", 0, &Be::new().u32(1).u64(offset).0);
    boxed(b"stbl", &[&stsd, &stts, &stss, &stsz, &stsc, &co64])
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn frames(ts: &[i64]) -> Vec<Frame> {
        ts.iter()
            .enumerate()
            .map(|(i, &ts)| Frame {
                ts,
                keyframe: i % 3 == 0,
                data: Bytes::from(vec![i as u8; 5 + i]),
            })
            .collect()
    }

    #[test]
    fn durations_follow_the_timestamps_and_never_reach_zero() {
        let f = frames(&[0, 3000, 6000, 6000, 5000, 12000]);
        assert_eq!(durations(&f, 3000), [3000, 3000, 1, 1, 7000, 3000]);
        assert!(durations(&[], 3000).is_empty());
    }

    /// The boxes of `data` at one level: (type, start, size).
    fn boxes(data: &[u8]) -> Vec<([u8; 4], usize, usize)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at + 8 <= data.len() {
            let mut size = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
            let kind: [u8; 4] = data[at + 4..at + 8].try_into().unwrap();
            if size == 1 {
                size = u64::from_be_bytes(data[at + 8..at + 16].try_into().unwrap()) as usize;
            }
            out.push((kind, at, size));
            at += size;
        }
        assert_eq!(at, data.len(), "boxes fill the data exactly");
        out
    }

    #[test]
    fn the_index_comes_first_and_points_at_the_samples() {
        let f = frames(&[0, 3000, 6000, 9000]);
        let entry = boxed(b"avc1", &[&[0u8; 78]]);
        let track = Track {
            sample_entry: &entry,
            width: 64,
            height: 48,
            last_duration: 3000,
        };
        let file = write(&track, &f);
        let top = boxes(&file);
        let kinds: Vec<_> = top.iter().map(|b| &b.0).collect();
        assert_eq!(kinds, [b"ftyp", b"moov", b"mdat"]);
        // co64 is the last 8 bytes of moov's stbl; it names the first sample's byte.
        let moov_end = top[1].1 + top[1].2;
        let offset = u64::from_be_bytes(file[moov_end - 8..moov_end].try_into().unwrap());
        assert_eq!(offset as usize, top[2].1 + 16);
        assert_eq!(&file[offset as usize..offset as usize + 5], &[0u8; 5]);
    }
}
