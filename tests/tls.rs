//! HTTPS cameras: certificates are verified unless the camera's `tls_insecure` says otherwise.
//! A tiny TLS server (rustls, already a dependency) with a self-signed rcgen certificate stands
//! in for a camera. (`mqtts://` verification is tested in tests/bridge.rs.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use doorbell_bridge::camera::client_for;
use doorbell_bridge::onvif::{ClientOptions, Error};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use url::Url;

const JPEG: &[u8] = b"\xff\xd8\xff\xe0 not really a picture";

/// Answers one HTTP request on a TLS stream with [`JPEG`].
fn answer(tls: &mut StreamOwned<ServerConnection, std::net::TcpStream>) -> std::io::Result<()> {
    let mut reader = BufReader::new(&mut *tls);
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        JPEG.len()
    );
    tls.write_all(head.as_bytes())?;
    tls.write_all(JPEG)?;
    tls.flush()?;
    tls.conn.send_close_notify();
    // Let the close-notify out, then wait for the client's end.
    let _ = tls.read(&mut [0u8; 16]);
    Ok(())
}

/// An HTTPS server with a self-signed certificate for 127.0.0.1; its snapshot URL.
fn https_camera() -> Url {
    let key = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()));
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![key.cert.der().clone()], private)
            .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Lives as long as the test binary; each connection is served in turn.
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let Ok(conn) = ServerConnection::new(config.clone()) else {
                continue;
            };
            // A refused handshake is an error here; that is the client doing its job.
            let _ = answer(&mut StreamOwned::new(conn, stream));
        }
    });
    format!("https://{addr}/snapshot.jpg").parse().unwrap()
}

fn camera_config(url: &Url, extra: &str) -> doorbell_bridge::config::CameraConfig {
    let text = format!("[[cameras]]\nid = \"gate\"\nurl = \"{url}\"\n{extra}\n");
    let config = doorbell_bridge::config::from_toml(&text, Path::new("tls.toml")).unwrap();
    config.cameras[0].clone()
}

#[tokio::test]
async fn a_self_signed_camera_is_refused_unless_allowed() {
    let url = https_camera();
    let timeout = Duration::from_secs(10);

    let strict = client_for(&camera_config(&url, ""), ClientOptions::default()).unwrap();
    assert!(
        !strict.options().tls_insecure,
        "verification is the default"
    );
    let err = strict.fetch(&url, 1024, timeout).await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("certificate"), "{text}");
    assert!(text.contains("tls_insecure = true"), "{text}");

    let insecure = camera_config(&url, "tls_insecure = true");
    let lenient = client_for(&insecure, ClientOptions::default()).unwrap();
    let jpeg = lenient.fetch(&url, 1024, timeout).await.unwrap();
    assert_eq!(jpeg.as_ref(), JPEG);
}
