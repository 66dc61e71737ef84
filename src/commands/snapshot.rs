//! `doorbell-bridge snapshot --camera ID -o FILE`: fetch one JPEG from a configured camera.
//!
//! [`take`] is also the `check` command's snapshot step. It follows
//! [`crate::snapshot::SnapshotTask`]'s lookup (Media2 first, then Media; the configured
//! profile or the highest resolution; only the camera's own or allowed hosts) but also returns
//! the URI, which the task keeps to itself, so `check` can show it.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use bytes::Bytes;
use url::Url;

use crate::config::CameraConfig;
use crate::onvif::{self, Client, MediaService, MediaVersion, best_profile};
use crate::snapshot::{Error, SNAPSHOT_TIMEOUT, host_allowed, is_jpeg};

/// Looks the snapshot URI up and fetches one JPEG (size capped, magic checked).
pub async fn take(client: &Client, camera: &CameraConfig) -> Result<(Url, Bytes), Error> {
    let uri = lookup(client, camera).await?;
    let bytes = client
        .fetch(&uri, camera.snapshot.max_size, SNAPSHOT_TIMEOUT)
        .await?;
    if !is_jpeg(&bytes) {
        return Err(Error::NotJpeg {
            url: onvif::error::redact(&uri),
            start: bytes.iter().take(8).map(|x| format!("{x:02x}")).collect(),
        });
    }
    Ok((uri, bytes))
}

async fn lookup(client: &Client, camera: &CameraConfig) -> Result<Url, Error> {
    let services = client.services().await?;
    let candidates = [
        services.media2.map(|url| MediaService {
            url,
            version: MediaVersion::V2,
        }),
        services.media.map(|url| MediaService {
            url,
            version: MediaVersion::V1,
        }),
    ];
    let mut last = Error::NoMedia;
    for media in candidates.into_iter().flatten() {
        match uri_from(client, camera, &media).await {
            Ok(u) => return Ok(u),
            Err(e) => last = e,
        }
    }
    Err(last)
}

async fn uri_from(
    client: &Client,
    camera: &CameraConfig,
    media: &MediaService,
) -> Result<Url, Error> {
    let profiles = client.profiles(media).await?;
    let token = match &camera.snapshot.profile {
        Some(p) => p.clone(),
        None => best_profile(&profiles).ok_or(Error::NoMedia)?.token.clone(),
    };
    let uri = client.snapshot_uri(media, &token).await?;
    if !host_allowed(&uri, client.device_url(), &camera.snapshot.allowed_hosts) {
        return Err(Error::HostNotAllowed {
            host: uri.host_str().unwrap_or("").to_owned(),
        });
    }
    Ok(uri)
}

/// Fetches one snapshot from `camera` and writes it to `output`.
pub async fn run(camera: &CameraConfig, output: &Path) -> anyhow::Result<ExitCode> {
    let client = crate::camera::client_for(camera, onvif::ClientOptions::default())
        .with_context(|| format!("camera {}", camera.id))?;
    let (uri, jpeg) = take(&client, camera).await.with_context(|| {
        format!(
            "camera {}: cannot take a snapshot (try `doorbell-bridge check` for a step-by-step diagnosis)",
            camera.id
        )
    })?;
    write(output, &jpeg)?;
    println!(
        "{}: {} bytes from {} written to {}",
        camera.id,
        jpeg.len(),
        onvif::error::redact(&uri),
        output.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes next to `output` and renames, so a reader never sees half a JPEG.
fn write(output: &Path, jpeg: &[u8]) -> anyhow::Result<()> {
    let name = output
        .file_name()
        .with_context(|| format!("-o {}: name a file, not a folder", output.display()))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(".part");
    let temp = output.with_file_name(temp_name);
    std::fs::write(&temp, jpeg)
        .and_then(|()| std::fs::rename(&temp, output))
        .map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            anyhow::anyhow!(
                "cannot write {}: {e}; check that the folder exists and is writable",
                output.display()
            )
        })
}
