//! A fake Home Assistant Companion app's push service: Home Assistant's `mobile_app` notify
//! POSTs every notification for a registered phone to that phone's `push_url`; this server on
//! 127.0.0.1:0 keeps each one, so a test awaits notifications instead of sleeping.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use serde_json::Value;
use tokio::sync::Notify;

/// At most this many notifications are kept (a runaway automation fails the test, not the
/// machine).
pub const MAX_PUSHES: usize = 64;

#[derive(Default)]
struct Inbox {
    pushes: Mutex<Vec<Value>>,
    arrived: Notify,
}

/// The push server; every phone registered with [`PushServer::url`] shares it, and a push names
/// its phone by `push_token`.
pub struct PushServer {
    addr: SocketAddr,
    inbox: Arc<Inbox>,
    task: tokio::task::JoinHandle<()>,
}

async fn receive(
    State(inbox): State<Arc<Inbox>>,
    body: axum::body::Bytes,
) -> ([(http::header::HeaderName, &'static str); 1], &'static str) {
    let push = serde_json::from_slice(&body).unwrap_or_else(|e| {
        Value::String(format!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        ))
    });
    {
        let mut pushes = inbox.pushes.lock().unwrap();
        if pushes.len() < MAX_PUSHES {
            pushes.push(push);
        }
    }
    inbox.arrived.notify_waiters();
    // What the Companion push service answers, less the rate limits Home Assistant logs.
    ([(http::header::CONTENT_TYPE, "application/json")], "{}")
}

impl PushServer {
    pub async fn start() -> PushServer {
        let inbox = Arc::new(Inbox::default());
        let app = axum::Router::new()
            .route("/push", post(receive))
            .with_state(inbox.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the push server");
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("push server");
        });
        PushServer { addr, inbox, task }
    }

    /// The `push_url` a fake phone registers.
    pub fn url(&self) -> String {
        format!("http://{}/push", self.addr)
    }

    /// Every push so far for the phone registered with `token`.
    pub fn pushes(&self, token: &str) -> Vec<Value> {
        self.inbox
            .pushes
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p["push_token"] == token)
            .cloned()
            .collect()
    }

    /// Waits until the phone registered with `token` has had more than `seen` pushes and
    /// returns push number `seen`; after `timeout`, an error showing what did arrive.
    pub async fn wait(&self, token: &str, seen: usize, timeout: Duration) -> Result<Value, String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let arrived = self.inbox.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if let Some(p) = self.pushes(token).get(seen) {
                return Ok(p.clone());
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                let all = self.inbox.pushes.lock().unwrap().clone();
                return Err(format!(
                    "no push number {seen} for {token} within {timeout:?}; all pushes: {all:#?}"
                ));
            }
        }
    }
}

impl Drop for PushServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
