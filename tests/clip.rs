//! Event clips end to end: the simulated doorbell's RTSP stream, the whole bridge
//! (`app::start`) with a real broker and a real archive folder, and the MP4 read back by an
//! independent parser (the `mp4` crate).

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use doorbell_bridge::app::{self, Options, Running};
use doorbell_bridge::backoff::Failure;
use doorbell_bridge::clip::stream::Stream;
use doorbell_bridge::config;
use doorbell_bridge::sim::{RtspFault, SimDoorbell, SimOptions};
use retina::client::Credentials;
use serde_json::Value;
use support::broker::{Broker, Received, Subscriber};
use support::tools;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(20);
const CAM: &str = "doorbell-bridge/front_door";
/// The simulator's frame interval (10 fps) and GOP (1 s), in seconds.
const FRAME: f64 = 0.1;
const GOP: f64 = 1.0;

fn creds() -> Option<Credentials> {
    Some(Credentials {
        username: "admin".into(),
        password: "password".into(),
    })
}

/// Polls `cond` until it holds (a bounded wait for a counter, not a pace).
async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn the_simulated_stream_plays_h264_from_its_parameter_sets() {
    let sim = SimDoorbell::start(SimOptions::default()).await.unwrap();
    let mut stream = Stream::open(&sim.rtsp_url(), creds()).await.expect("opens");
    let video = stream.video().expect("parameters from the SDP");
    assert_eq!(video.resolution, (64, 48));
    assert_eq!(video.codec.to_ascii_uppercase(), "AVC1.42C00A");
    let mut keyframes = Vec::new();
    let mut last = None;
    while keyframes.len() < 2 {
        if let doorbell_bridge::clip::stream::Item::Frame { frame, loss, .. } =
            stream.next().await.expect("frames")
        {
            assert_eq!(loss, 0);
            if let Some(l) = last {
                assert_eq!(frame.ts - l, 9000, "10 fps on a 90 kHz clock");
            }
            last = Some(frame.ts);
            if frame.keyframe {
                keyframes.push(frame.ts);
            }
        }
    }
    assert_eq!(
        keyframes[1] - keyframes[0],
        90_000,
        "a keyframe every second"
    );
    assert_eq!(
        sim.rtsp_stats().audio_setups,
        0,
        "the backchannel-like audio track is never set up"
    );
    // One client at a time: the second is told why.
    sim.set_rtsp_fault(RtspFault::OneSession);
    let second = Stream::open(&sim.rtsp_url(), creds())
        .await
        .err()
        .expect("refused");
    assert!(second.message.contains("another RTSP session"), "{second}");
    drop(stream);
    sim.shutdown().await;
}

#[tokio::test]
async fn wrong_rtsp_credentials_are_rejected_without_showing_the_password() {
    let sim = SimDoorbell::start(SimOptions::default()).await.unwrap();
    let wrong = Some(Credentials {
        username: "admin".into(),
        password: "hunter2-wrong".into(),
    });
    let e = Stream::open(&sim.rtsp_url(), wrong)
        .await
        .err()
        .expect("refused");
    assert_eq!(e.failure, Failure::Rejected, "{e}");
    assert!(e.message.contains("credentials"), "{e}");
    assert!(!e.message.contains("hunter2"), "{e}");
    sim.shutdown().await;
}

fn config(sim: &SimDoorbell, port: u16, archive: &Path, clip: &str) -> config::Config {
    let text = format!(
        r#"[mqtt]
url = "mqtt://127.0.0.1:{port}"
[storage]
path = {:?}
[[cameras]]
id = "front_door"
name = "Front Door"
url = "{}"
username = "admin"
password = "password"
pull_timeout = "1s"
max_backoff = "2s"
[cameras.clip]
{clip}
"#,
        archive.display().to_string(),
        sim.device_url()
    );
    config::from_toml(&text, Path::new("test.toml")).expect("valid config")
}

fn options() -> Options {
    support::bridge::app_options()
}

async fn start(cfg: &config::Config) -> (Running, CancellationToken) {
    let token = CancellationToken::new();
    let running = app::start(cfg, token.clone(), options())
        .await
        .expect("bridge starts");
    (running, token)
}

/// Waits for the next ring on the event topic.
async fn ring(mqtt: &mut Subscriber) -> Received {
    loop {
        let m = mqtt.next_on(&format!("{CAM}/event"), WAIT).await;
        let v = m.json();
        if v["kind"] == "ring" && v["trigger"] == true {
            return m;
        }
    }
}

/// What the `mp4` crate reads from a clip: (sync flags, start times, durations) in ticks of
/// the track's timescale, and the timescale.
struct Parsed {
    sync: Vec<bool>,
    starts: Vec<u64>,
    durations: Vec<u32>,
    timescale: u32,
    size: (u16, u16),
}

fn parse(path: &Path) -> Parsed {
    let bytes = std::fs::read(path).expect("clip file");
    let size = bytes.len() as u64;
    let mut reader = mp4::Mp4Reader::read_header(std::io::Cursor::new(bytes), size)
        .expect("an MP4 the mp4 crate reads");
    /// id, media type, samples, timescale, (width, height).
    type TrackInfo = (u32, mp4::MediaType, u32, u32, (u16, u16));
    let tracks: Vec<TrackInfo> = reader
        .tracks()
        .values()
        .map(|t| {
            (
                t.track_id(),
                t.media_type().expect("a media type"),
                t.sample_count(),
                t.timescale(),
                (t.width(), t.height()),
            )
        })
        .collect();
    assert_eq!(tracks.len(), 1, "video only");
    let (id, media, count, timescale, size) = tracks[0];
    assert_eq!(media, mp4::MediaType::H264);
    let mut out = Parsed {
        sync: Vec::new(),
        starts: Vec::new(),
        durations: Vec::new(),
        timescale,
        size,
    };
    for n in 1..=count {
        let s = reader
            .read_sample(id, n)
            .expect("sample reads")
            .expect("sample exists");
        assert!(!s.bytes.is_empty());
        out.sync.push(s.is_sync);
        out.starts.push(s.start_time);
        out.durations.push(s.duration);
    }
    out
}

/// With ffmpeg installed (`.ci/run` installs it; elsewhere a missing one is reported as
/// SKIPPED on the terminal, and under CI it fails the test): ffprobe sees one H.264 stream of
/// 64x48, the duration, and decodes `frames` pictures; ffmpeg decodes them without an error.
fn ffmpeg_reads(path: &Path, seconds: f64, frames: usize) {
    if !tools::require(
        "ffmpeg_reads",
        &[("ffprobe", "ffmpeg"), ("ffmpeg", "ffmpeg")],
    ) {
        return;
    }
    let probe = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-show_streams",
            "-show_format",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    assert!(
        probe.status.success(),
        "{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let v: Value = serde_json::from_slice(&probe.stdout).expect("ffprobe JSON");
    let streams = v["streams"].as_array().expect("streams");
    assert_eq!(streams.len(), 1, "{v}");
    assert_eq!(streams[0]["codec_name"], "h264");
    assert_eq!(
        (&streams[0]["width"], &streams[0]["height"]),
        (&Value::from(64), &Value::from(48))
    );
    assert_eq!(
        streams[0]["nb_read_frames"].as_str(),
        Some(frames.to_string().as_str()),
        "ffprobe decodes every sample"
    );
    let d: f64 = v["format"]["duration"].as_str().unwrap().parse().unwrap();
    assert!(
        (d - seconds).abs() <= FRAME + 0.01,
        "ffprobe says {d} s, we wrote {seconds} s"
    );
    let decode = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-xerror", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg runs where ffprobe does");
    assert!(
        decode.status.success() && decode.stderr.is_empty(),
        "ffmpeg could not decode the clip: {}",
        String::from_utf8_lossy(&decode.stderr)
    );
}

#[tokio::test]
async fn a_ring_saves_a_clip_that_starts_before_the_press() {
    let broker = Broker::start();
    let sim = SimDoorbell::start(SimOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &sim,
        broker.port(),
        dir.path(),
        "on = [\"ring\"]\npre = \"2s\"\npost = \"2s\"",
    );
    let mut mqtt = Subscriber::connect(broker.port(), "doorbell-bridge/#").await;
    let (running, token) = start(&cfg).await;
    assert!(sim.wait_for_subscription(WAIT).await);
    assert!(
        sim.wait_for_plays(1, WAIT).await,
        "the bridge plays the stream"
    );
    // Enough video for the pre-roll: three seconds of frames sent.
    eventually("3 s of video sent", || sim.rtsp_stats().frames >= 30).await;

    let pressed = jiff::Timestamp::now();
    sim.press();
    let event = ring(&mut mqtt).await.json();
    mqtt.next_on(&format!("{CAM}/snapshot/info"), WAIT).await;
    let early: Vec<String> = mqtt.take_all().into_iter().map(|m| m.topic).collect();
    assert!(
        !early.iter().any(|t| t.ends_with("/clip")),
        "the ring and its snapshot go out before the clip: {early:?}"
    );
    let clip = mqtt.next_on(&format!("{CAM}/clip"), WAIT).await.json();
    assert_eq!(clip["status"], "complete", "{clip}");
    assert_eq!(clip["kind"], "ring");
    assert_eq!(clip["event_time"], event["time"]);
    let start: jiff::Timestamp = clip["start"].as_str().unwrap().parse().unwrap();
    assert!(start < pressed, "the clip starts before the press: {clip}");
    let rel = clip["path"].as_str().expect("a path in the archive");
    assert!(
        rel.starts_with("front_door/") && rel.ends_with("_ring.mp4"),
        "{rel}"
    );
    let path = dir.path().join(rel);

    let mp4 = parse(&path);
    assert_eq!(mp4.size, (64, 48));
    assert!(mp4.sync[0], "the first sample is a keyframe");
    assert!(
        mp4.starts.windows(2).all(|w| w[0] < w[1]),
        "sample times increase"
    );
    let seconds =
        mp4.durations.iter().map(|&d| u64::from(d)).sum::<u64>() as f64 / f64::from(mp4.timescale);
    // pre + post, plus up to one GOP because the clip starts at a keyframe.
    assert!(
        (4.0 - FRAME..=4.0 + GOP + FRAME).contains(&seconds),
        "{seconds} s"
    );
    assert!(
        (clip["duration"].as_f64().unwrap() - seconds).abs() < 0.01,
        "{clip}"
    );
    ffmpeg_reads(&path, seconds, mp4.sync.len());

    let side: Value =
        serde_json::from_slice(&std::fs::read(path.with_extension("clip.json")).unwrap()).unwrap();
    assert_eq!(side["status"], "complete");
    assert_eq!(side["event_time"], event["time"]);
    assert_eq!(side["resolution"], serde_json::json!([64, 48]));
    assert!(
        side["codec"].as_str().unwrap().starts_with("avc1."),
        "{side}"
    );
    let preroll = side["preroll"].as_f64().unwrap();
    assert!((2.0..=2.0 + GOP + FRAME).contains(&preroll), "{side}");
    assert_eq!(sim.rtsp_stats().audio_setups, 0);
    assert_eq!(sim.rtsp_stats().playing, 1, "one RTSP session per camera");

    token.cancel();
    assert!(running.stopped().await, "shutdown missed its deadline");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_second_ring_while_recording_extends_the_clip() {
    let broker = Broker::start();
    let sim = SimDoorbell::start(SimOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &sim,
        broker.port(),
        dir.path(),
        "on = [\"ring\"]\npre = \"1s\"\npost = \"2s\"",
    );
    let mut mqtt = Subscriber::connect(broker.port(), "doorbell-bridge/#").await;
    let (running, token) = start(&cfg).await;
    assert!(sim.wait_for_subscription(WAIT).await);
    assert!(sim.wait_for_plays(1, WAIT).await);
    eventually("2 s of video sent", || sim.rtsp_stats().frames >= 20).await;
    sim.press();
    ring(&mut mqtt).await;
    // A second press 1.5 s of video later, inside the first clip's post.
    let sent = sim.rtsp_stats().frames;
    eventually("1.5 s more video", || sim.rtsp_stats().frames >= sent + 15).await;
    sim.press();
    ring(&mut mqtt).await;
    let clip = mqtt.next_on(&format!("{CAM}/clip"), WAIT).await.json();
    assert_eq!(clip["status"], "complete", "{clip}");
    let mp4 = parse(&dir.path().join(clip["path"].as_str().unwrap()));
    let seconds =
        mp4.durations.iter().map(|&d| u64::from(d)).sum::<u64>() as f64 / f64::from(mp4.timescale);
    // pre (1 s) + 1.5 s + post (2 s), plus up to a GOP for the keyframe start.
    assert!(
        (4.5 - 2.0 * FRAME..=4.5 + GOP + 2.0 * FRAME).contains(&seconds),
        "the second ring extended the clip: {seconds} s"
    );
    let clips = files(dir.path())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "mp4"))
        .count();
    assert_eq!(clips, 1, "one clip for both rings");

    token.cancel();
    assert!(running.stopped().await);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_ring_while_the_stream_is_down_still_rings_and_its_sidecar_says_missing() {
    let broker = Broker::start();
    let sim = SimDoorbell::start(SimOptions::default()).await.unwrap();
    sim.set_rtsp_fault(RtspFault::Down);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &sim,
        broker.port(),
        dir.path(),
        "on = [\"ring\"]\npre = \"1s\"\npost = \"1s\"",
    );
    let mut mqtt = Subscriber::connect(broker.port(), "doorbell-bridge/#").await;
    let (running, token) = start(&cfg).await;
    // The camera is online although its stream is down.
    loop {
        if mqtt.next_on(&format!("{CAM}/status"), WAIT).await.text() == "online" {
            break;
        }
    }
    assert!(sim.wait_for_subscription(WAIT).await);
    sim.press();
    let event = ring(&mut mqtt).await.json();
    let clip = mqtt.next_on(&format!("{CAM}/clip"), WAIT).await.json();
    assert_eq!(clip["status"], "missing", "{clip}");
    assert_eq!(clip["event_time"], event["time"]);
    assert_eq!(clip["path"], Value::Null);
    let sidecars: Vec<PathBuf> = files(dir.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".clip.json"))
        .collect();
    assert_eq!(sidecars.len(), 1, "{sidecars:?}");
    let side: Value = serde_json::from_slice(&std::fs::read(&sidecars[0]).unwrap()).unwrap();
    assert_eq!(side["status"], "missing");
    assert!(!side["gaps"].as_array().unwrap().is_empty(), "{side}");
    assert!(
        !files(dir.path())
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "mp4")),
        "no video file without video"
    );

    // The stream comes back: the next ring has its clip.
    sim.set_rtsp_fault(RtspFault::None);
    assert!(sim.wait_for_plays(1, WAIT).await);
    eventually("2 s of video sent", || sim.rtsp_stats().frames >= 20).await;
    sim.press();
    ring(&mut mqtt).await;
    let clip = mqtt.next_on(&format!("{CAM}/clip"), WAIT).await.json();
    assert_eq!(clip["status"], "complete", "{clip}");

    token.cancel();
    assert!(running.stopped().await);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_stream_that_stops_during_post_gives_a_partial_clip_that_says_so() {
    let broker = Broker::start();
    let sim = SimDoorbell::start(SimOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &sim,
        broker.port(),
        dir.path(),
        "on = [\"ring\"]\npre = \"1s\"\npost = \"3s\"",
    );
    let mut mqtt = Subscriber::connect(broker.port(), "doorbell-bridge/#").await;
    let (running, token) = start(&cfg).await;
    assert!(sim.wait_for_subscription(WAIT).await);
    assert!(sim.wait_for_plays(1, WAIT).await);
    eventually("2 s of video sent", || sim.rtsp_stats().frames >= 20).await;
    sim.press();
    ring(&mut mqtt).await;
    // The camera goes silent with the connection open, before post is over.
    sim.set_rtsp_fault(RtspFault::Stall);
    let clip = mqtt.next_on(&format!("{CAM}/clip"), WAIT).await.json();
    assert_eq!(clip["status"], "partial", "{clip}");
    let gaps = clip["gaps"].to_string();
    assert!(gaps.contains("stopped sending"), "{gaps}");
    let path = dir
        .path()
        .join(clip["path"].as_str().expect("what was recorded is kept"));
    let mp4 = parse(&path);
    assert!(mp4.sync[0]);
    let side: Value =
        serde_json::from_slice(&std::fs::read(path.with_extension("clip.json")).unwrap()).unwrap();
    assert_eq!(side["status"], "partial");
    assert_eq!(side["gaps"], clip["gaps"]);

    token.cancel();
    assert!(running.stopped().await);
    sim.shutdown().await;
}

#[tokio::test]
async fn garbage_rtp_does_not_stop_the_bridge_or_later_clips() {
    let broker = Broker::start();
    let sim = SimDoorbell::start(SimOptions::default()).await.unwrap();
    sim.set_rtsp_fault(RtspFault::Garbage);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &sim,
        broker.port(),
        dir.path(),
        "on = [\"ring\"]\npre = \"1s\"\npost = \"1s\"",
    );
    let mut mqtt = Subscriber::connect(broker.port(), "doorbell-bridge/#").await;
    let (running, token) = start(&cfg).await;
    // An invalid packet ends the session; the bridge plays the stream again (backed off).
    assert!(sim.wait_for_plays(2, WAIT).await, "the bridge reconnects");
    // A ring during the garbage still rings.
    assert!(sim.wait_for_subscription(WAIT).await);
    sim.press();
    ring(&mut mqtt).await;
    let clip = mqtt.next_on(&format!("{CAM}/clip"), WAIT).await.json();
    assert_ne!(clip["status"], "complete", "{clip}");

    sim.set_rtsp_fault(RtspFault::None);
    let sent = sim.rtsp_stats().frames;
    eventually("clean video sent", || sim.rtsp_stats().frames >= sent + 25).await;
    sim.press();
    ring(&mut mqtt).await;
    let clip = loop {
        let c = mqtt.next_on(&format!("{CAM}/clip"), WAIT).await.json();
        if c["status"] == "complete" {
            break c;
        }
    };
    let mp4 = parse(&dir.path().join(clip["path"].as_str().unwrap()));
    assert!(mp4.sync[0]);

    token.cancel();
    assert!(running.stopped().await);
    sim.shutdown().await;
}

fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn retention_removes_the_oldest_clips_with_their_sidecars() {
    use doorbell_bridge::archive::Archive;
    use doorbell_bridge::event::{CameraId, Kind};
    use doorbell_bridge::retention::RetentionPolicy;

    let dir = tempfile::tempdir().unwrap();
    let policy = RetentionPolicy {
        max_age: Duration::from_secs(3600),
        max_size: 2500,
    };
    let archive = Archive::new(dir.path().to_owned(), policy);
    let cam = CameraId::new("front_door").unwrap();
    let t0: jiff::Timestamp = "2026-11-29T08:15:00Z".parse().unwrap();
    let mut stored = Vec::new();
    for i in 0..3 {
        let time = t0 + jiff::SignedDuration::from_secs(i);
        let (path, _) = archive
            .store_clip(Some(&[i as u8; 1000]), b"{}", &cam, Kind::Ring, time)
            .unwrap();
        stored.push(path);
    }
    // A sidecar alone (a missing clip) is archive content too.
    let (lone, _) = archive
        .store_clip(
            None,
            &[b' '; 100],
            &cam,
            Kind::Ring,
            t0 + jiff::SignedDuration::from_secs(9),
        )
        .unwrap();
    assert!(lone.to_string_lossy().ends_with(".clip.json"));
    // Oldest first by modification time.
    for (i, p) in stored.iter().enumerate() {
        let when = std::time::SystemTime::now() - Duration::from_secs(100 - i as u64 * 10);
        std::fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }
    let report = archive.sweep(std::time::SystemTime::now());
    assert_eq!(report.deleted, 1, "{report:?}");
    assert!(!stored[0].exists());
    assert!(
        !stored[0].with_extension("clip.json").exists(),
        "its sidecar goes too"
    );
    assert!(stored[1].exists() && stored[2].exists() && lone.exists());
}

#[tokio::test]
async fn shutdown_does_not_wait_for_an_rtsp_camera_that_never_answers() {
    let broker = Broker::start();
    let sim = SimDoorbell::start(SimOptions::default()).await.unwrap();
    // An "RTSP server" that accepts and never says a word.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let (accepted_tx, mut accepted) = tokio::sync::mpsc::channel(4);
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
            let _ = accepted_tx.try_send(());
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &sim,
        broker.port(),
        dir.path(),
        &format!("on = [\"ring\"]\nstream = \"rtsp://127.0.0.1:{port}/silent\""),
    );
    let token = CancellationToken::new();
    let running = app::start(
        &cfg,
        token.clone(),
        Options {
            // With the MQTT side's 2 s after it, well below the 10 s DESCRIBE timeout.
            shutdown_deadline: Duration::from_secs(3),
            ..options()
        },
    )
    .await
    .expect("bridge starts");
    tokio::time::timeout(WAIT, accepted.recv())
        .await
        .expect("the bridge connects to the stream");
    // The DESCRIBE is pending (for up to RTSP_SETUP_TIMEOUT, 10 s): shutdown must not wait.
    token.cancel();
    assert!(
        running.stopped().await,
        "shutdown waited for the RTSP answer past its deadline"
    );
    holder.abort();
    sim.shutdown().await;
}
