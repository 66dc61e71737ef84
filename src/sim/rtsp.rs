//! The simulator's RTSP server (RFC 2326) on its own `127.0.0.1:0` port: OPTIONS, DESCRIBE,
//! SETUP, PLAY, TEARDOWN (GET_PARAMETER and SET_PARAMETER answered as keepalives), RTP over
//! the RTSP connection (interleaved, 10.12), HTTP Digest as for the SOAP services. The video
//! is [`super::h264`] packetised per RFC 6184 (single NAL unit packets, FU-A above
//! [`MAX_RTP_PAYLOAD`]), with `sprop-parameter-sets` in the SDP. The SDP also lists an audio
//! track (trackID=1) standing for a backchannel a client must not set up;
//! [`RtspStats::audio_setups`] counts any attempt.
//!
//! Faults ([`RtspFault`]): `Down` closes every connection and answers 503, `Stall` keeps the
//! connection and sends nothing, `Garbage` sends an invalid RTP packet before every frame,
//! `OneSession` answers 453 to a SETUP while another session plays.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::auth::{challenge, check_digest, parse_digest};
use super::h264::{Encoder, PROFILE_LEVEL_ID};
use super::state::Shared;

/// Frames per second of the simulated stream.
pub const FPS: u32 = 10;
/// A keyframe every this many frames (1 s).
pub const GOP: u64 = 10;
/// Largest RTP payload before a NAL unit is cut into FU-A fragments.
pub const MAX_RTP_PAYLOAD: usize = 1400;
/// Largest RTSP request accepted (head and body).
pub const MAX_RTSP_REQUEST: usize = 8 * 1024;
/// The picture: 64 x 48 pixels.
pub const ENCODER: Encoder = Encoder {
    mbs_wide: 4,
    mbs_high: 3,
};
/// The stream's path.
pub const STREAM_PATH: &str = "/stream";

/// A fault of the RTSP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RtspFault {
    /// Serves normally.
    #[default]
    None,
    /// Open connections are closed; new requests get 503 Service Unavailable.
    Down,
    /// Playing sessions send nothing (the connection stays open).
    Stall,
    /// An invalid RTP packet goes out before every frame.
    Garbage,
    /// A SETUP while another session plays gets 453 Not Enough Bandwidth (cameras that allow
    /// one client).
    OneSession,
}

/// Counters of the RTSP server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RtspStats {
    /// PLAY requests answered 200.
    pub plays: u64,
    /// Sessions playing now.
    pub playing: u64,
    /// SETUP requests for the audio (backchannel) track.
    pub audio_setups: u64,
    /// Requests refused for credentials.
    pub auth_failures: u64,
    /// Frames sent.
    pub frames: u64,
}

/// RTSP state shared by the handle and the server.
#[derive(Default)]
pub struct RtspShared {
    addr: OnceLock<SocketAddr>,
    state: Mutex<(RtspFault, RtspStats)>,
    /// Woken when the fault changes or a session starts playing.
    pub changed: Notify,
    /// Cancelled to close every RTSP connection; replaced after.
    closing: Mutex<CancellationToken>,
    /// Filler bytes added to every frame (to play a camera's bitrate).
    padding: std::sync::atomic::AtomicUsize,
}

impl RtspShared {
    /// `rtsp://127.0.0.1:PORT` (empty before the server is bound).
    pub fn base(&self) -> String {
        self.addr
            .get()
            .map(|a| format!("rtsp://{a}"))
            .unwrap_or_default()
    }

    /// The stream URL.
    pub fn url(&self) -> String {
        format!("{}{STREAM_PATH}", self.base())
    }

    /// Sets the fault; `Down` closes the open connections.
    pub fn set_fault(&self, fault: RtspFault) {
        self.lock().0 = fault;
        if fault == RtspFault::Down {
            let mut token = self.closing.lock().unwrap_or_else(|p| p.into_inner());
            token.cancel();
            *token = CancellationToken::new();
        }
        self.changed.notify_waiters();
    }

    /// Pads every frame with a filler NAL unit (H.264 7.3.2.7) so the stream carries about
    /// `bits_per_second` (0: no padding, about 40 kbit/s).
    pub fn set_bitrate(&self, bits_per_second: u64) {
        let bytes = bits_per_second / 8 / u64::from(FPS);
        self.padding.store(
            usize::try_from(bytes).unwrap_or(usize::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// The counters.
    pub fn stats(&self) -> RtspStats {
        self.lock().1
    }

    fn fault(&self) -> RtspFault {
        self.lock().0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (RtspFault, RtspStats)> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn closing(&self) -> CancellationToken {
        self.closing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Binds `ip:0` and serves until `stop`.
pub async fn serve(
    ip: std::net::IpAddr,
    shared: Arc<Shared>,
    stop: CancellationToken,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind((ip, 0)).await?;
    let _ = shared.rtsp.addr.set(listener.local_addr()?);
    Ok(tokio::spawn(async move {
        loop {
            let conn = tokio::select! {
                () = stop.cancelled() => break,
                c = listener.accept() => c,
            };
            if let Ok((socket, _)) = conn {
                let (shared, stop) = (shared.clone(), stop.clone());
                tokio::spawn(async move {
                    let closing = shared.rtsp.closing();
                    tokio::select! {
                        () = stop.cancelled() => {}
                        () = closing.cancelled() => {}
                        () = Connection::new(shared.clone()).run(socket) => {}
                    }
                });
            }
        }
    }))
}

/// A parsed request.
#[derive(Debug)]
struct Request {
    method: String,
    uri: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Cuts one message off the front of `buf`: `Ok(Some)` a request, `Ok(None)` need more bytes
/// (interleaved data from the client is skipped), `Err` garbage (pure).
fn take_request(buf: &mut BytesMut) -> Result<Option<Request>, String> {
    loop {
        if buf.first() == Some(&b'$') {
            if buf.len() < 4 {
                return Ok(None);
            }
            let len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
            if buf.len() < 4 + len {
                return Ok(None);
            }
            buf.advance(4 + len);
            continue;
        }
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            if buf.len() > MAX_RTSP_REQUEST {
                return Err("request head too large".into());
            }
            return Ok(None);
        };
        let head = std::str::from_utf8(&buf[..end]).map_err(|_| "request head is not UTF-8")?;
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or_default().split(' ');
        let (method, uri) = (
            first.next().unwrap_or_default(),
            first.next().unwrap_or_default(),
        );
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let body = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("Content-Length"))
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        if end + 4 + body > MAX_RTSP_REQUEST {
            return Err("request too large".into());
        }
        if buf.len() < end + 4 + body {
            return Ok(None);
        }
        let request = Request {
            method: method.to_owned(),
            uri: uri.to_owned(),
            headers,
        };
        buf.advance(end + 4 + body);
        return Ok(Some(request));
    }
}

/// The SDP of the stream (pure): H.264 video with parameter sets, plus a backchannel-like
/// audio track.
pub fn sdp() -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=doorbell-bridge simulator\r\nt=0 0\r\na=control:*\r\n\
         m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
         a=fmtp:96 packetization-mode=1;profile-level-id={PROFILE_LEVEL_ID};sprop-parameter-sets={},{}\r\n\
         a=framerate:{FPS}\r\na=control:trackID=0\r\n\
         m=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendonly\r\na=control:trackID=1\r\n",
        b64.encode(ENCODER.sps()),
        b64.encode(ENCODER.pps()),
    )
}

/// RTP packets (RFC 6184) of one NAL unit: the unit itself, or FU-A fragments (pure).
pub fn packetise(nal: &[u8]) -> Vec<Vec<u8>> {
    if nal.len() <= MAX_RTP_PAYLOAD {
        return vec![nal.to_vec()];
    }
    let (header, body) = (nal[0], &nal[1..]);
    let indicator = (header & 0xE0) | 28;
    let chunks: Vec<&[u8]> = body.chunks(MAX_RTP_PAYLOAD - 2).collect();
    let last = chunks.len() - 1;
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let mut fu = (header & 0x1F) | if i == 0 { 0x80 } else { 0 };
            if i == last {
                fu |= 0x40;
            }
            [&[indicator, fu][..], chunk].concat()
        })
        .collect()
}

struct Connection {
    shared: Arc<Shared>,
    nonce: Option<String>,
    session: Option<String>,
    playing: bool,
    seq: u16,
    ssrc: u32,
    frame: u64,
}

impl Connection {
    fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            nonce: None,
            session: None,
            playing: false,
            seq: 1000,
            ssrc: 0x5EED_0001,
            frame: 0,
        }
    }

    async fn run(mut self, mut socket: TcpStream) {
        let mut buf = BytesMut::with_capacity(1024);
        let mut ticker = tokio::time::interval(Duration::from_secs(1) / FPS);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            loop {
                match take_request(&mut buf) {
                    Ok(Some(req)) => {
                        let (reply, close) = self.respond(&req);
                        if socket.write_all(reply.as_bytes()).await.is_err() || close {
                            return self.end();
                        }
                    }
                    Ok(None) => break,
                    Err(_) => {
                        let _ = socket.write_all(b"RTSP/1.0 400 Bad Request\r\n\r\n").await;
                        return self.end();
                    }
                }
            }
            tokio::select! {
                n = socket.read_buf(&mut buf) => match n {
                    Ok(0) | Err(_) => return self.end(),
                    Ok(_) => {}
                },
                _ = ticker.tick(), if self.playing => {
                    if self.send_frame(&mut socket).await.is_err() {
                        return self.end();
                    }
                }
            }
        }
    }

    fn end(self) {
        if self.playing {
            let mut s = self.shared.rtsp.lock();
            s.1.playing = s.1.playing.saturating_sub(1);
        }
    }

    async fn send_frame(&mut self, socket: &mut TcpStream) -> std::io::Result<()> {
        let fault = self.shared.rtsp.fault();
        if fault == RtspFault::Stall {
            return Ok(());
        }
        let mut out = Vec::new();
        if fault == RtspFault::Garbage {
            // Version 0, a payload type nobody set up, junk: not an RTP packet.
            interleave(&mut out, 0, &[0x00, 0xFF, 0xDE, 0xAD, 0xBE, 0xEF, 0, 1]);
        }
        let ts = 90_000 / FPS * self.frame as u32;
        let (mut nals, _) = ENCODER.frame(self.frame, GOP);
        let padding = self
            .shared
            .rtsp
            .padding
            .load(std::sync::atomic::Ordering::Relaxed);
        if padding > 0 {
            // Filler data: nal_ref_idc 0, type 12, 0xFF bytes, then the stop bit.
            let mut filler = vec![0xFF; padding + 1];
            filler[0] = 0x0C;
            filler.push(0x80);
            nals.push(filler);
        }
        let packets: Vec<Vec<u8>> = nals.iter().flat_map(|n| packetise(n)).collect();
        let last = packets.len() - 1;
        for (i, payload) in packets.iter().enumerate() {
            let mut rtp = Vec::with_capacity(12 + payload.len());
            rtp.push(0x80);
            rtp.push(96 | if i == last { 0x80 } else { 0 });
            rtp.extend_from_slice(&self.seq.to_be_bytes());
            rtp.extend_from_slice(&ts.to_be_bytes());
            rtp.extend_from_slice(&self.ssrc.to_be_bytes());
            rtp.extend_from_slice(payload);
            interleave(&mut out, 0, &rtp);
            self.seq = self.seq.wrapping_add(1);
        }
        self.frame += 1;
        self.shared.rtsp.lock().1.frames += 1;
        socket.write_all(&out).await
    }

    /// The reply to `req`, and whether to close the connection after it.
    fn respond(&mut self, req: &Request) -> (String, bool) {
        let cseq = req.header("CSeq").unwrap_or("0").to_owned();
        let reply = |status: &str, headers: &[String], body: &str| {
            let mut out =
                format!("RTSP/1.0 {status}\r\nCSeq: {cseq}\r\nServer: doorbell-bridge-sim\r\n");
            for h in headers {
                out.push_str(h);
                out.push_str("\r\n");
            }
            if !body.is_empty() {
                out.push_str(&format!("Content-Length: {}\r\n", body.len()));
            }
            out.push_str("\r\n");
            out.push_str(body);
            out
        };
        if self.shared.rtsp.fault() == RtspFault::Down {
            return (reply("503 Service Unavailable", &[], ""), true);
        }
        if req.method == "OPTIONS" {
            let public =
                "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER".to_owned();
            return (reply("200 OK", &[public], ""), false);
        }
        if !self.authorised(req) {
            self.shared.rtsp.lock().1.auth_failures += 1;
            let nonce = self.shared.issue_nonce();
            self.nonce = Some(nonce.clone());
            let h = format!("WWW-Authenticate: {}", challenge(&nonce, false));
            return (reply("401 Unauthorized", &[h], ""), false);
        }
        let base = self.shared.rtsp.url();
        match req.method.as_str() {
            "DESCRIBE" if req.uri.trim_end_matches('/') == base => {
                let headers = [
                    "Content-Type: application/sdp".to_owned(),
                    format!("Content-Base: {base}/"),
                ];
                (reply("200 OK", &headers, &sdp()), false)
            }
            "DESCRIBE" => (reply("404 Not Found", &[], ""), false),
            "SETUP" => {
                if req.uri.ends_with("trackID=1") {
                    self.shared.rtsp.lock().1.audio_setups += 1;
                }
                let transport = req.header("Transport").unwrap_or_default();
                if !transport.contains("RTP/AVP/TCP") {
                    return (reply("461 Unsupported Transport", &[], ""), false);
                }
                let s = self.shared.rtsp.stats();
                if self.shared.rtsp.fault() == RtspFault::OneSession && s.playing > 0 {
                    return (reply("453 Not Enough Bandwidth", &[], ""), false);
                }
                let id = format!("{:08X}", 0x1000_0000 + s.plays);
                self.session = Some(id.clone());
                let headers = [
                    format!("Session: {id};timeout=60"),
                    format!(
                        "Transport: RTP/AVP/TCP;unicast;interleaved=0-1;ssrc={:08X}",
                        self.ssrc
                    ),
                ];
                (reply("200 OK", &headers, ""), false)
            }
            "PLAY" => {
                let Some(id) = self.session.clone() else {
                    return (reply("454 Session Not Found", &[], ""), false);
                };
                if !self.playing {
                    self.playing = true;
                    let mut s = self.shared.rtsp.lock();
                    s.1.plays += 1;
                    s.1.playing += 1;
                }
                self.shared.rtsp.changed.notify_waiters();
                let headers = [
                    format!("Session: {id}"),
                    format!(
                        "RTP-Info: url={base}/trackID=0;seq={};rtptime={}",
                        self.seq,
                        90_000 / FPS * self.frame as u32
                    ),
                    "Range: npt=0.000-".to_owned(),
                ];
                (reply("200 OK", &headers, ""), false)
            }
            "TEARDOWN" => (reply("200 OK", &[], ""), true),
            "GET_PARAMETER" | "SET_PARAMETER" => (reply("200 OK", &[], ""), false),
            _ => (reply("501 Not Implemented", &[], ""), false),
        }
    }

    fn authorised(&self, req: &Request) -> bool {
        let options = &self.shared.options;
        let Some(c) = req.header("Authorization").and_then(parse_digest) else {
            return false;
        };
        self.shared.knows_nonce(&c.nonce)
            && check_digest(
                &c,
                &req.method,
                &req.uri,
                &options.username,
                &options.password,
            )
            .is_ok()
    }
}

fn interleave(out: &mut Vec<u8>, channel: u8, packet: &[u8]) {
    out.push(b'$');
    out.push(channel);
    out.extend_from_slice(&(packet.len() as u16).to_be_bytes());
    out.extend_from_slice(packet);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_nal_units_go_as_fu_a_fragments() {
        let nal: Vec<u8> = std::iter::once(0x65)
            .chain((0..3000).map(|i| i as u8))
            .collect();
        let packets = packetise(&nal);
        assert_eq!(packets.len(), 3);
        assert_eq!(packets[0][0], 0x60 | 28, "FU indicator keeps NRI");
        assert_eq!(packets[0][1], 0x80 | 5, "start bit and the NAL type");
        assert_eq!(packets[2][1], 0x40 | 5, "end bit");
        let rebuilt: Vec<u8> = std::iter::once(0x65)
            .chain(packets.iter().flat_map(|p| p[2..].iter().copied()))
            .collect();
        assert_eq!(rebuilt, nal);
        assert_eq!(packetise(&[0x41, 1, 2]), [vec![0x41, 1, 2]]);
    }

    #[test]
    fn requests_are_cut_from_the_stream_and_client_data_skipped() {
        let mut buf = BytesMut::from(
            &b"$\x01\x00\x02abOPTIONS rtsp://h/s RTSP/1.0\r\nCSeq: 2\r\n\r\nDESC"[..],
        );
        let req = take_request(&mut buf).unwrap().unwrap();
        assert_eq!(
            (req.method.as_str(), req.header("cseq")),
            ("OPTIONS", Some("2"))
        );
        assert!(take_request(&mut buf).unwrap().is_none());
        let mut huge = BytesMut::from(&vec![b'x'; MAX_RTSP_REQUEST + 1][..]);
        assert!(take_request(&mut huge).is_err());
    }

    #[test]
    fn the_sdp_carries_the_parameter_sets() {
        let sdp = sdp();
        assert!(sdp.contains("sprop-parameter-sets=Z0LAC"), "{sdp}");
        assert!(sdp.contains("a=control:trackID=0"));
    }
}
