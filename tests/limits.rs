//! Every network read is bounded in size and time: raw TCP "cameras" that misbehave at the
//! HTTP level (headers that never end, a huge Content-Length, endless or trickling bodies)
//! against `Client` SOAP calls and `Client::fetch`; the simulator's request limits; and a
//! WS-Discovery probe answered with hostile datagrams. Each server reports when the client hung
//! up, so "cut off" is observed, not assumed.

use std::net::SocketAddr;
use std::time::Duration;

use doorbell_bridge::onvif::discovery as wsdiscovery;
use doorbell_bridge::onvif::{self, Client, ClientOptions, Error};
use doorbell_bridge::sim::{SimDoorbell, SimOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use url::Url;

/// Bound for anything to happen (a failure bound, not a pace).
const WAIT: Duration = Duration::from_secs(10);
/// Pause between the bytes of a trickling server.
const TRICKLE: Duration = Duration::from_millis(50);

/// How a raw server misbehaves after reading the request head.
#[derive(Clone, Copy, Debug)]
enum Camera {
    /// A status line, then header lines forever.
    HeadersForever,
    /// A status line, then one header byte at a time, never finishing the head.
    HeadersTrickle,
    /// A complete head announcing 1 TB, then a little body and silence.
    HugeContentLength,
    /// A chunked body that never ends, as fast as the client reads.
    EndlessChunks,
    /// A chunked body that never ends, one byte at a time.
    BodyTrickle,
}

/// Reads up to the end of the request head (the body, if any, is left unread).
async fn read_head(socket: &mut TcpStream) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

async fn misbehave(mut socket: TcpStream, how: Camera) {
    read_head(&mut socket).await;
    let head: &[u8] = match how {
        Camera::HeadersForever | Camera::HeadersTrickle => b"HTTP/1.1 200 OK\r\n",
        Camera::HugeContentLength => {
            b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 1000000000000\r\n\r\n\xff\xd8\xff"
        }
        Camera::EndlessChunks | Camera::BodyTrickle => {
            b"HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nTransfer-Encoding: chunked\r\n\r\n"
        }
    };
    if socket.write_all(head).await.is_err() {
        return;
    }
    let filler = format!("X-Filler: {}\r\n", "a".repeat(1000));
    let chunk = format!("400\r\n{}\r\n", " ".repeat(0x400));
    loop {
        let wrote = match how {
            Camera::HeadersForever => socket.write_all(filler.as_bytes()).await,
            Camera::HeadersTrickle => {
                tokio::time::sleep(TRICKLE).await;
                socket.write_all(b"X").await
            }
            Camera::EndlessChunks => socket.write_all(chunk.as_bytes()).await,
            Camera::BodyTrickle => {
                tokio::time::sleep(TRICKLE).await;
                socket.write_all(b"1\r\n \r\n").await
            }
            Camera::HugeContentLength => {
                // Silence: wait for the client to hang up.
                let mut buf = [0u8; 64];
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => Ok(()),
                }
            }
        };
        if wrote.is_err() {
            return;
        }
    }
}

/// A server behaving as `how` on every connection; the receiver hears of each hang-up.
async fn camera(how: Camera) -> (Url, mpsc::UnboundedReceiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                misbehave(socket, how).await;
                let _ = tx.send(());
            });
        }
    });
    let url = format!("http://{addr}/onvif/device_service")
        .parse()
        .unwrap();
    (url, rx)
}

fn client(url: &Url, timeout: Duration) -> Client {
    let options = ClientOptions {
        request_timeout: timeout,
        connect_timeout: timeout,
        ..ClientOptions::default()
    };
    Client::new(url.clone(), None, options).unwrap()
}

async fn hung_up(rx: &mut mpsc::UnboundedReceiver<()>, how: Camera) {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap_or_else(|_| panic!("{how:?}: the client never hung up"));
}

/// Runs one SOAP call and one fetch against a camera behaving as `how`; both errors back.
async fn both(how: Camera, timeout: Duration) -> [Error; 2] {
    let (url, mut rx) = camera(how).await;
    let client = client(&url, timeout);
    let call = client.sync_clock().await.unwrap_err();
    hung_up(&mut rx, how).await;
    let snap = url.join("/snapshot.jpg").unwrap();
    let fetch = client.fetch(&snap, 1024 * 1024, timeout).await.unwrap_err();
    hung_up(&mut rx, how).await;
    [call, fetch]
}

#[tokio::test]
async fn headers_that_never_end_are_cut_off() {
    // A long timeout: the head-size limit must stop it, not the clock.
    for err in both(Camera::HeadersForever, Duration::from_secs(60)).await {
        assert!(matches!(err, Error::Transport { .. }), "{err}");
    }
}

#[tokio::test]
async fn a_head_that_never_finishes_times_out() {
    for err in both(Camera::HeadersTrickle, Duration::from_millis(500)).await {
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
    }
}

#[tokio::test]
async fn a_huge_content_length_is_refused_before_reading() {
    let [call, fetch] = both(Camera::HugeContentLength, Duration::from_secs(60)).await;
    assert!(
        matches!(call, Error::TooLarge { limit, .. } if limit == onvif::MAX_SOAP_BYTES),
        "{call}"
    );
    assert!(
        matches!(fetch, Error::TooLarge { limit, .. } if limit == 1024 * 1024),
        "{fetch}"
    );
}

#[tokio::test]
async fn endless_bodies_stop_at_the_cap() {
    let [call, fetch] = both(Camera::EndlessChunks, Duration::from_secs(60)).await;
    assert!(
        matches!(call, Error::TooLarge { limit, .. } if limit == onvif::MAX_SOAP_BYTES),
        "{call}"
    );
    assert!(matches!(fetch, Error::TooLarge { .. }), "{fetch}");
}

#[tokio::test]
async fn a_trickling_body_times_out() {
    for err in both(Camera::BodyTrickle, Duration::from_millis(500)).await {
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
    }
}

#[tokio::test]
async fn the_simulator_bounds_request_bodies_and_heads() {
    let sim = SimDoorbell::start(SimOptions::default()).await.unwrap();
    let url = sim.device_url();
    let http = reqwest::Client::new();
    let big = "x".repeat(doorbell_bridge::sim::MAX_REQUEST_BYTES + 1);
    let status = http
        .post(url.clone())
        .body(big)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, reqwest::StatusCode::PAYLOAD_TOO_LARGE);

    // A client whose head never ends is answered with an error and dropped.
    let mut socket = TcpStream::connect(sim.addr()).await.unwrap();
    socket
        .write_all(b"POST /onvif/device_service HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let filler = format!("X-Filler: {}\r\n", "a".repeat(1000));
    let flood = async { while socket.write_all(filler.as_bytes()).await.is_ok() {} };
    tokio::time::timeout(WAIT, flood)
        .await
        .expect("the simulator closes a connection whose head never ends");
    sim.shutdown().await;
}

/// A "camera" on the LAN answering a directed probe with `datagrams`.
async fn responder(datagrams: Vec<Vec<u8>>) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        if let Ok((_, from)) = socket.recv_from(&mut buf).await {
            for d in datagrams {
                let _ = socket.send_to(&d, from).await;
            }
        }
    });
    addr
}

#[tokio::test]
async fn discovery_survives_hostile_datagrams() {
    let good = wsdiscovery::probe_matches(
        "urn:uuid:1",
        "urn:uuid:cafe",
        "http://127.0.0.1:8000/onvif/device_service",
        &["onvif://www.onvif.org/name/Front%20Door"],
    );
    // Nested distinct namespace prefixes: seconds of CPU for roxmltree alone.
    let bomb: String = (0..2400).map(|i| format!("<a xmlns:p{i}=\"u\">")).collect();
    assert!(bomb.len() < wsdiscovery::MAX_DATAGRAM);
    let addr = responder(vec![
        b"\x00\xff garbage".to_vec(),
        bomb.into_bytes(),
        vec![b'<'; 60_000],
        good.into_bytes(),
    ])
    .await;
    let devices = wsdiscovery::probe(&[addr], Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(devices.len(), 1, "{devices:?}");
    assert_eq!(devices[0].name.as_deref(), Some("Front Door"));
}
