//! A tiny H.264 encoder for the simulator's RTSP stream (pure): Baseline profile, every IDR
//! picture coded as I_PCM macroblocks (raw samples, no prediction or transform) and every
//! other picture a P slice whose macroblocks are all skipped (a copy of the last picture).
//!
//! Everything here follows ITU-T H.264 (07.3): the SPS (7.3.2.1.1), PPS (7.3.2.2), slice
//! header (7.3.3) with `dec_ref_pic_marking` (7.3.3.3), slice data with `mb_skip_run` (7.3.4),
//! `mb_type` 25 = I_PCM in I slices (Table 7-11) with its alignment and 384 samples (4:2:0,
//! 8 bit), Exp-Golomb codes (9.1) and emulation prevention (7.4.1). Any decoder plays it: a
//! grey picture whose brightness changes with each GOP.

/// Bits written most significant first.
#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    cur: u8,
    n: u8,
}

impl Bits {
    fn bit(&mut self, b: bool) {
        self.cur = (self.cur << 1) | u8::from(b);
        self.n += 1;
        if self.n == 8 {
            self.out.push(self.cur);
            self.cur = 0;
            self.n = 0;
        }
    }

    fn u(&mut self, bits: u8, value: u32) {
        for i in (0..bits).rev() {
            self.bit((value >> i) & 1 == 1);
        }
    }

    /// Unsigned Exp-Golomb.
    fn ue(&mut self, value: u32) {
        let v = u64::from(value) + 1;
        let len = 64 - v.leading_zeros() as u8;
        for _ in 1..len {
            self.bit(false);
        }
        for i in (0..len).rev() {
            self.bit((v >> i) & 1 == 1);
        }
    }

    /// Signed Exp-Golomb.
    fn se(&mut self, value: i32) {
        let mapped = if value > 0 {
            2 * value as u32 - 1
        } else {
            2 * value.unsigned_abs()
        };
        self.ue(mapped);
    }

    fn align_zero(&mut self) {
        while self.n != 0 {
            self.bit(false);
        }
    }

    /// `rbsp_trailing_bits`: a one, then zeros to the byte boundary.
    fn trailing(mut self) -> Vec<u8> {
        self.bit(true);
        self.align_zero();
        self.out
    }
}

/// A NAL unit: its header byte, then the RBSP with emulation prevention bytes inserted.
fn nal(header: u8, rbsp: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rbsp.len() + rbsp.len() / 64 + 1);
    out.push(header);
    let mut zeros = 0;
    for &b in rbsp {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    out
}

/// The encoder's fixed settings.
#[derive(Debug, Clone, Copy)]
pub struct Encoder {
    /// Width in macroblocks (16 pixels).
    pub mbs_wide: u32,
    /// Height in macroblocks.
    pub mbs_high: u32,
}

/// `profile-level-id` for the SDP: Baseline (66), constraint_set0 and 1, level 1.0.
pub const PROFILE_LEVEL_ID: &str = "42C00A";

impl Encoder {
    /// Width and height in pixels.
    pub fn pixels(self) -> (u32, u32) {
        (self.mbs_wide * 16, self.mbs_high * 16)
    }

    /// The sequence parameter set NAL unit.
    pub fn sps(self) -> Vec<u8> {
        let mut b = Bits::default();
        b.u(8, 66); // profile_idc: Baseline
        b.u(8, 0xC0); // constraint_set0_flag, constraint_set1_flag, reserved zeros
        b.u(8, 10); // level_idc 1.0
        b.ue(0); // seq_parameter_set_id
        b.ue(0); // log2_max_frame_num_minus4: frame_num has 4 bits
        b.ue(2); // pic_order_cnt_type 2: output order is decoding order
        b.ue(1); // max_num_ref_frames
        b.bit(false); // gaps_in_frame_num_value_allowed_flag
        b.ue(self.mbs_wide - 1);
        b.ue(self.mbs_high - 1);
        b.bit(true); // frame_mbs_only_flag
        b.bit(true); // direct_8x8_inference_flag
        b.bit(false); // frame_cropping_flag
        b.bit(false); // vui_parameters_present_flag
        nal(0x67, &b.trailing())
    }

    /// The picture parameter set NAL unit.
    pub fn pps(self) -> Vec<u8> {
        let mut b = Bits::default();
        b.ue(0); // pic_parameter_set_id
        b.ue(0); // seq_parameter_set_id
        b.bit(false); // entropy_coding_mode_flag: CAVLC
        b.bit(false); // bottom_field_pic_order_in_frame_present_flag
        b.ue(0); // num_slice_groups_minus1
        b.ue(0); // num_ref_idx_l0_default_active_minus1
        b.ue(0); // num_ref_idx_l1_default_active_minus1
        b.bit(false); // weighted_pred_flag
        b.u(2, 0); // weighted_bipred_idc
        b.se(0); // pic_init_qp_minus26
        b.se(0); // pic_init_qs_minus26
        b.se(0); // chroma_qp_index_offset
        b.bit(true); // deblocking_filter_control_present_flag
        b.bit(false); // constrained_intra_pred_flag
        b.bit(false); // redundant_pic_cnt_present_flag
        nal(0x68, &b.trailing())
    }

    /// An IDR picture of I_PCM macroblocks, all luma samples `luma`.
    pub fn idr(self, idr_pic_id: u32, luma: u8) -> Vec<u8> {
        let luma = luma.clamp(16, 235);
        let mut b = Bits::default();
        b.ue(0); // first_mb_in_slice
        b.ue(7); // slice_type: I, all slices of the picture
        b.ue(0); // pic_parameter_set_id
        b.u(4, 0); // frame_num
        b.ue(idr_pic_id % 65_536);
        b.bit(false); // no_output_of_prior_pics_flag
        b.bit(false); // long_term_reference_flag
        b.se(0); // slice_qp_delta
        b.ue(1); // disable_deblocking_filter_idc: off
        for _ in 0..self.mbs_wide * self.mbs_high {
            b.ue(25); // mb_type I_PCM
            b.align_zero(); // pcm_alignment_zero_bit
            for _ in 0..256 {
                b.u(8, u32::from(luma));
            }
            for _ in 0..128 {
                b.u(8, 128);
            }
        }
        nal(0x65, &b.trailing())
    }

    /// A P picture that repeats the previous one (every macroblock skipped).
    pub fn skip(self, frame_num: u32) -> Vec<u8> {
        let mut b = Bits::default();
        b.ue(0); // first_mb_in_slice
        b.ue(5); // slice_type: P, all slices of the picture
        b.ue(0); // pic_parameter_set_id
        b.u(4, frame_num % 16);
        b.bit(false); // num_ref_idx_active_override_flag
        b.bit(false); // ref_pic_list_modification_flag_l0
        b.bit(false); // adaptive_ref_pic_marking_mode_flag
        b.se(0); // slice_qp_delta
        b.ue(1); // disable_deblocking_filter_idc
        b.ue(self.mbs_wide * self.mbs_high); // mb_skip_run: the whole picture
        nal(0x41, &b.trailing())
    }

    /// Frame `i` of a stream with a keyframe every `gop` frames: the NAL units (SPS and PPS
    /// before each IDR, as cameras send them) and whether it is a keyframe.
    pub fn frame(self, i: u64, gop: u64) -> (Vec<Vec<u8>>, bool) {
        let gop = gop.max(1);
        let n = i % gop;
        if n == 0 {
            let id = (i / gop) as u32;
            let luma = 16 + ((id * 37) % 200) as u8;
            (vec![self.sps(), self.pps(), self.idr(id, luma)], true)
        } else {
            (vec![self.skip(n as u32)], false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_golomb_codes_match_the_standard_table() {
        // 9.1: 0 -> 1, 1 -> 010, 2 -> 011, 3 -> 00100, 25 -> 000011010.
        let mut b = Bits::default();
        for v in [0, 1, 2, 3] {
            b.ue(v);
        }
        // 1 010 011 00100 + trailing 1 -> 1010 0110 0100 1000 0000...
        assert_eq!(b.trailing(), [0b1010_0110, 0b0100_1000]);
        let mut b = Bits::default();
        b.ue(25);
        assert_eq!(b.trailing(), [0b0000_1101, 0b0100_0000]);
        let mut b = Bits::default();
        b.se(1);
        b.se(-1);
        // se 1 -> ue 1 (010), se -1 -> ue 2 (011): 010 011 1 + zeros.
        assert_eq!(b.trailing(), [0b0100_1110]);
    }

    #[test]
    fn emulation_prevention_escapes_start_code_prefixes() {
        assert_eq!(
            nal(0x65, &[0, 0, 1, 0, 0, 0, 5]),
            [0x65, 0, 0, 3, 1, 0, 0, 3, 0, 5]
        );
    }

    #[test]
    fn frames_follow_the_gop() {
        let e = Encoder {
            mbs_wide: 4,
            mbs_high: 3,
        };
        let (nals, key) = e.frame(0, 5);
        assert!(key);
        assert_eq!(
            nals.iter().map(|n| n[0] & 0x1f).collect::<Vec<_>>(),
            [7, 8, 5]
        );
        // 12 macroblocks of 384 samples.
        assert!(nals[2].len() > 12 * 384, "{}", nals[2].len());
        let (nals, key) = e.frame(3, 5);
        assert!(!key);
        assert_eq!(nals[0][0] & 0x1f, 1);
        assert!(nals[0].len() < 16);
        assert_eq!(e.pixels(), (64, 48));
        assert_eq!(&e.sps()[1..4], &[66, 0xC0, 10], "matches PROFILE_LEVEL_ID");
    }
}
