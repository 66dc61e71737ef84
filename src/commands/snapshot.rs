//! `doorbell-bridge snapshot --camera ID -o FILE`: fetch one JPEG from a configured camera.
//!
//! [`take`] is also the `check` command's snapshot step: the same lookup and fetch as the
//! bridge's snapshot task ([`crate::snapshot::lookup`], [`crate::snapshot::fetch_jpeg`]), and it
//! returns the URI so `check` can show it.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use bytes::Bytes;
use url::Url;

use crate::config::CameraConfig;
use crate::onvif::{self, Client};
use crate::snapshot::{self, Error};

/// Looks the snapshot URI up and fetches one JPEG (size capped, magic checked).
pub async fn take(client: &Client, camera: &CameraConfig) -> Result<(Url, Bytes), Error> {
    let uri = snapshot::lookup(client, camera).await?;
    let bytes = snapshot::fetch_jpeg(client, &uri, camera.snapshot.max_size).await?;
    Ok((uri, bytes))
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
