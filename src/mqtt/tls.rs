//! The rustls client config for `mqtts://`: the CA from `mqtt.ca_file` or the system roots,
//! and an optional client certificate. Built once at start, so a TLS problem stops the bridge
//! with a message; there is never a plaintext fallback.

use std::path::Path;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::Error;
use crate::config::MqttConfig;

fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, Error> {
    // Read once at start, before any task runs (like the config file itself).
    std::fs::read(path).map_err(|source| Error::ReadFile {
        key,
        path: path.to_owned(),
        source,
    })
}

fn certificates(key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let pem = read(key, path)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(Error::BadPem {
            key,
            path: path.to_owned(),
            problem: "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
        });
    }
    Ok(certs)
}

fn roots(config: &MqttConfig) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    match &config.ca_file {
        Some(path) => {
            let (added, _ignored) = roots.add_parsable_certificates(certificates("ca_file", path)?);
            if added == 0 {
                return Err(Error::BadPem {
                    key: "ca_file",
                    path: path.clone(),
                    problem: "holds no usable CA certificate",
                });
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for error in &found.errors {
                tracing::debug!("system CA certificates: {error}");
            }
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(Error::NoSystemRoots);
            }
        }
    }
    Ok(roots)
}

/// The client config for `config` (which must be `mqtts://`).
pub fn client_config(config: &MqttConfig) -> Result<Arc<ClientConfig>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(Error::Tls)?
        .with_root_certificates(roots(config)?);
    let tls = match &config.client_auth {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let certs = certificates("client_cert", cert)?;
            let pem = read("client_key", key)?;
            let key_der = PrivateKeyDer::from_pem_slice(&pem).map_err(|_| Error::BadPem {
                key: "client_key",
                path: key.clone(),
                problem: "holds no PEM private key (PKCS#8, PKCS#1 or SEC1)",
            })?;
            builder
                .with_client_auth_cert(certs, key_der)
                .map_err(Error::Tls)?
        }
    };
    Ok(Arc::new(tls))
}
