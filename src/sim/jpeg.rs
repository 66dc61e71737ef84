//! The snapshot the simulated doorbell serves: a small baseline JPEG generated here.
//!
//! Hand-written rather than a dependency: the image is a grid of flat 8x8 blocks, so every block
//! is one DC coefficient and an end-of-block, and the encoder is forty lines. No image crate is
//! needed for that, and the bytes are a real baseline JFIF any decoder reads.

use std::sync::LazyLock;

/// Width of the snapshot in pixels.
pub const WIDTH: u16 = 64;
/// Height of the snapshot in pixels.
pub const HEIGHT: u16 = 48;

/// The snapshot bytes (starts with FF D8, ends with FF D9).
pub static SNAPSHOT: LazyLock<Vec<u8>> = LazyLock::new(|| encode(&picture()));

/// One grey level per 8x8 block, row by row: a doorbell plate with a lit button.
fn picture() -> Vec<u8> {
    let (bw, bh) = (usize::from(WIDTH / 8), usize::from(HEIGHT / 8));
    let mut blocks = Vec::with_capacity(bw * bh);
    for y in 0..bh {
        for x in 0..bw {
            let plate = (2..6).contains(&x) && (1..5).contains(&y);
            let button = (3..5).contains(&x) && (2..4).contains(&y);
            let level = match (button, plate) {
                (true, _) => 240,
                (false, true) => 150,
                // Background gradient, so the image is not uniform.
                _ => 30 + (x * 6 + y * 4) as u8,
            };
            blocks.push(level);
        }
    }
    blocks
}

/// Appends bits MSB first, stuffing a zero after every 0xFF byte.
struct BitWriter {
    out: Vec<u8>,
    acc: u32,
    len: u32,
}

impl BitWriter {
    fn put(&mut self, bits: u32, count: u32) {
        for i in (0..count).rev() {
            self.acc = (self.acc << 1) | ((bits >> i) & 1);
            self.len += 1;
            if self.len == 8 {
                let byte = self.acc as u8;
                self.out.push(byte);
                if byte == 0xFF {
                    self.out.push(0x00);
                }
                self.acc = 0;
                self.len = 0;
            }
        }
    }

    /// Pads the last byte with one-bits.
    fn finish(mut self) -> Vec<u8> {
        while self.len != 0 {
            self.put(1, 1);
        }
        self.out
    }
}

/// Encodes flat blocks (one grey level each) as a baseline greyscale JPEG.
fn encode(blocks: &[u8]) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    // APP0 JFIF 1.01, no density, no thumbnail.
    out.extend_from_slice(&[
        0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0,
    ]);
    // DQT table 0: DC quantiser 8 (so the quantised DC is level - 128), ACs 1 (all zero).
    out.extend_from_slice(&[0xFF, 0xDB, 0, 67, 0, 8]);
    out.extend_from_slice(&[1; 63]);
    // SOF0: 8-bit, HEIGHT x WIDTH, one component (id 1, 1x1 sampling, table 0).
    let [h1, h0] = HEIGHT.to_be_bytes();
    let [w1, w0] = WIDTH.to_be_bytes();
    out.extend_from_slice(&[0xFF, 0xC0, 0, 11, 8, h1, h0, w1, w0, 1, 1, 0x11, 0]);
    // DHT DC table 0: categories 0..=11, all 4-bit codes, so category c has code c.
    out.extend_from_slice(&[
        0xFF, 0xC4, 0, 31, 0x00, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    out.extend(0u8..12);
    // DHT AC table 0: only end-of-block (symbol 0x00), code "0".
    out.extend_from_slice(&[
        0xFF, 0xC4, 0, 20, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    // SOS: one component, tables 0/0, spectral 0..63, no approximation.
    out.extend_from_slice(&[0xFF, 0xDA, 0, 8, 1, 1, 0x00, 0, 63, 0]);
    let mut bits = BitWriter {
        out: Vec::new(),
        acc: 0,
        len: 0,
    };
    let mut previous = 0i32;
    for &level in blocks {
        let dc = i32::from(level) - 128;
        let diff = dc - previous;
        previous = dc;
        let category = 32 - diff.unsigned_abs().leading_zeros();
        bits.put(category, 4);
        // Negative values are sent as diff - 1 in `category` bits (one's complement form).
        let extra = if diff < 0 {
            diff + (1 << category) - 1
        } else {
            diff
        };
        bits.put(extra as u32, category);
        bits.put(0, 1); // end of block
    }
    out.extend(bits.finish());
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_is_a_baseline_jpeg() {
        let jpeg = SNAPSHOT.as_slice();
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
        assert_eq!(&jpeg[jpeg.len() - 2..], &[0xFF, 0xD9]);
        let sof = jpeg
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .expect("SOF0 marker");
        assert_eq!(&jpeg[sof + 5..sof + 9], &[0, 48, 0, 64]);
        assert!(jpeg.len() < 400, "{} bytes", jpeg.len());
    }

    #[test]
    fn bit_writer_stuffs_and_pads() {
        let mut bits = BitWriter {
            out: Vec::new(),
            acc: 0,
            len: 0,
        };
        bits.put(0xFF, 8);
        bits.put(0b01, 2);
        assert_eq!(bits.finish(), vec![0xFF, 0x00, 0b0111_1111]);
    }
}
