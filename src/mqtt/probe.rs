//! A one-off connection test for `doorbell-bridge check`: connect with the configured
//! credentials and TLS, wait for the ConnAck, send DISCONNECT.
//!
//! It does not use [`super::connection::options`]: a probe must neither take over the
//! running bridge's client id (the broker would disconnect the bridge) nor carry its Last
//! Will (a probe that times out would publish the bridge `offline`). Credentials and TLS are
//! the same as the bridge's.

use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, Incoming, MqttOptions, Outgoing,
    TlsConfiguration, TlsError, Transport,
};

use rustls::AlertDescription;

use crate::config::MqttConfig;

/// How long the DISCONNECT may take to go out after the ConnAck.
pub const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Keep-alive of the probe connection (it lives for one round trip).
const KEEP_ALIVE: Duration = Duration::from_secs(30);

/// Why the probe failed: what happened and what to try.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}; {hint}")]
pub struct ProbeError {
    /// What happened, naming the broker (never a password).
    pub problem: String,
    /// What to check next.
    pub hint: &'static str,
}

const HINT_CREDENTIALS: &str = "check mqtt.username and mqtt.password (or password_file)";
const HINT_REFUSED: &str = "check mqtt.client_id and the broker's log";
const HINT_UNREACHABLE: &str =
    "check the host and port in mqtt.url and that the broker is running and reachable from here";
const HINT_TLS: &str = "check mqtt.ca_file and that the broker's certificate names this host";
const HINT_CLIENT_CERT: &str = "the broker wants a client certificate it trusts: check mqtt.client_cert and mqtt.client_key (signed by a CA in the broker's cafile)";
const HINT_TIMEOUT: &str = "check the host and port in mqtt.url (a TLS port spoken to with mqtt://, or a firewall that drops packets?)";

/// Connects to the broker `config` names, waits for its ConnAck (at most `timeout`) and
/// disconnects.
pub async fn probe(config: &MqttConfig, timeout: Duration) -> Result<(), ProbeError> {
    let broker = format!("{}:{}", config.host, config.port);
    let options = options(config).map_err(|e| ProbeError {
        problem: format!("{e:#}"),
        hint: "fix the TLS files in the [mqtt] section",
    })?;
    let (client, mut eventloop) = AsyncClient::new(options, 4);
    let connect = async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Incoming::ConnAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(explain(&e, &broker)),
            }
        }
    };
    match tokio::time::timeout(timeout, connect).await {
        Err(_) => {
            return Err(ProbeError {
                problem: format!("MQTT broker {broker}: no ConnAck within {timeout:?}"),
                hint: HINT_TIMEOUT,
            });
        }
        Ok(Err(e)) => return Err(e),
        Ok(Ok(())) => {}
    }
    // Connected: a clean DISCONNECT is polite but not part of the verdict.
    if client.try_disconnect().is_ok() {
        let sent = async {
            while let Ok(event) = eventloop.poll().await {
                if let Event::Outgoing(Outgoing::Disconnect) = event {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(DISCONNECT_TIMEOUT, sent).await;
    }
    Ok(())
}

/// The probe's options: a client id of its own, no Last Will, the bridge's credentials and TLS.
fn options(config: &MqttConfig) -> Result<MqttOptions, super::Error> {
    let id = format!("doorbell-bridge-check-{}", uuid::Uuid::new_v4().simple());
    let mut o = MqttOptions::new(id, config.host.clone(), config.port);
    o.set_keep_alive(KEEP_ALIVE).set_clean_session(true);
    if let Some(user) = &config.username {
        let password = config.password.as_ref().map(|p| p.expose()).unwrap_or("");
        o.set_credentials(user.clone(), password);
    }
    if config.tls {
        let tls = super::tls::client_config(config)?;
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls)));
    }
    Ok(o)
}

/// A connection error in the user's words (pure): [`diagnose`] without the retry advice.
pub fn explain(e: &ConnectionError, broker: &str) -> ProbeError {
    let d = diagnose(e, broker);
    ProbeError {
        problem: d.problem,
        hint: d.hint,
    }
}

/// What a connection error means: its kind (for logging once per outage), the problem naming
/// the broker, a hint, and whether only the user can fix it. The one place these words live;
/// the bridge's connection task and `check` both use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    /// Which kind of failure.
    pub kind: &'static str,
    /// What happened, naming the broker.
    pub problem: String,
    /// What to check.
    pub hint: &'static str,
    /// Retrying soon will not help.
    pub fatal: bool,
}

/// Classifies a rumqttc connection error (pure).
pub fn diagnose(e: &ConnectionError, broker: &str) -> Diagnosis {
    // TLS 1.3 finishes the client's side of the handshake before the broker checks the client
    // certificate, so its refusal arrives later, as an alert on the first read: whatever
    // rumqttc wrapped it in, it is about the certificate.
    if let Some(alert) = client_cert_alert(e) {
        return Diagnosis {
            kind: "client certificate",
            problem: format!(
                "MQTT broker {broker} refused our TLS client certificate (alert {alert:?})"
            ),
            hint: HINT_CLIENT_CERT,
            fatal: true,
        };
    }
    let (kind, problem, hint, fatal) = match e {
        ConnectionError::ConnectionRefused(
            code @ (ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized),
        ) => (
            "credentials",
            format!("MQTT broker {broker} rejected the credentials ({code:?})"),
            HINT_CREDENTIALS,
            true,
        ),
        ConnectionError::ConnectionRefused(code) => (
            "refused",
            format!("MQTT broker {broker} refused the connection ({code:?})"),
            HINT_REFUSED,
            false,
        ),
        // tokio-rustls reports a rejected certificate as an InvalidData IO error; other IO
        // errors during the handshake (reset, EOF) are the network, not the settings.
        ConnectionError::Tls(TlsError::Io(io)) if io.kind() != std::io::ErrorKind::InvalidData => (
            "unreachable",
            format!("MQTT broker {broker} unreachable during the TLS handshake: {io}"),
            HINT_UNREACHABLE,
            false,
        ),
        ConnectionError::Tls(tls) => (
            "tls",
            format!("TLS with MQTT broker {broker} failed: {tls}"),
            HINT_TLS,
            true,
        ),
        other => (
            "unreachable",
            format!("MQTT broker {broker} unreachable: {other}"),
            HINT_UNREACHABLE,
            false,
        ),
    };
    Diagnosis {
        kind,
        problem,
        hint,
        fatal,
    }
}

/// The TLS alert with which the broker said no to our client certificate (or to its
/// absence), wherever rumqttc wrapped the IO error that carries it.
fn client_cert_alert(e: &ConnectionError) -> Option<AlertDescription> {
    use rumqttc::StateError;
    let io = match e {
        ConnectionError::Io(io)
        | ConnectionError::Tls(TlsError::Io(io))
        | ConnectionError::MqttState(StateError::Io(io))
        | ConnectionError::MqttState(StateError::Deserialization(rumqttc::mqttbytes::Error::Io(
            io,
        ))) => io,
        _ => return None,
    };
    let rustls::Error::AlertReceived(alert) = io.get_ref()?.downcast_ref::<rustls::Error>()? else {
        return None;
    };
    matches!(
        alert,
        AlertDescription::CertificateRequired
            | AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateRevoked
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnsupportedCertificate
    )
    .then_some(*alert)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_explained() {
        let cases = [
            (
                ConnectionError::ConnectionRefused(ConnectReturnCode::NotAuthorized),
                HINT_CREDENTIALS,
            ),
            (
                ConnectionError::ConnectionRefused(ConnectReturnCode::BadClientId),
                HINT_REFUSED,
            ),
            (
                ConnectionError::Io(std::io::ErrorKind::ConnectionRefused.into()),
                HINT_UNREACHABLE,
            ),
            (
                ConnectionError::Tls(TlsError::Io(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "bad certificate",
                ))),
                HINT_TLS,
            ),
            (
                ConnectionError::MqttState(rumqttc::StateError::Deserialization(
                    rumqttc::mqttbytes::Error::Io(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        rustls::Error::AlertReceived(AlertDescription::CertificateRequired),
                    )),
                )),
                HINT_CLIENT_CERT,
            ),
            (
                ConnectionError::Io(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    rustls::Error::AlertReceived(AlertDescription::UnknownCA),
                )),
                HINT_CLIENT_CERT,
            ),
            (
                ConnectionError::Io(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    rustls::Error::AlertReceived(AlertDescription::InternalError),
                )),
                HINT_UNREACHABLE,
            ),
        ];
        assert!(!cases.is_empty());
        for (e, hint) in &cases {
            let p = explain(e, "broker:1883");
            assert_eq!(p.hint, *hint, "{e}");
            assert!(p.problem.contains("broker:1883"), "{}", p.problem);
        }
    }

    #[test]
    fn the_probe_has_its_own_id_and_no_will() {
        let config = crate::config::from_toml(
            "[mqtt]\nurl = \"mqtt://127.0.0.1:1\"\nusername = \"u\"\npassword = \"p\"\n",
            std::path::Path::new("t.toml"),
        )
        .unwrap()
        .mqtt;
        let o = options(&config).unwrap();
        assert_ne!(o.client_id(), config.client_id);
        assert!(o.last_will().is_none());
        let login = o.credentials().expect("credentials set");
        assert_eq!(
            (login.username.as_str(), login.password.as_str()),
            ("u", "p")
        );
    }
}
