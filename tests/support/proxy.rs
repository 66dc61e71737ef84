//! A TCP proxy that can swallow what a client sends and then cut the connection: a network
//! that loses packets the client believes are on their way (publishes written, never acked).

#![allow(dead_code)] // each test binary uses a different part

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

struct State {
    swallow: AtomicBool,
    swallowed: watch::Sender<Vec<u8>>,
    generation: watch::Sender<u64>,
}

/// A proxy on 127.0.0.1 in front of `upstream`.
pub struct Proxy {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// Starts forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let state = Arc::new(State {
            swallow: AtomicBool::new(false),
            swallowed: watch::Sender::new(Vec::new()),
            generation: watch::Sender::new(0),
        });
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(client, upstream, shared.clone()));
            }
        });
        Proxy { addr, state, task }
    }

    /// Where clients connect.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// From now on, bytes from clients are kept here instead of forwarded.
    pub fn swallow(&self) {
        self.state.swallow.store(true, Ordering::SeqCst);
    }

    /// Waits until the swallowed bytes contain `needle`.
    pub async fn swallowed(&self, needle: &[u8]) {
        let mut rx = self.state.swallowed.subscribe();
        rx.wait_for(|b| b.windows(needle.len()).any(|w| w == needle))
            .await
            .expect("proxy state lives");
    }

    /// Closes every open connection and forwards normally again.
    pub fn cut(&self) {
        self.state.swallow.store(false, Ordering::SeqCst);
        self.state.generation.send_modify(|g| *g += 1);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(client: TcpStream, upstream: SocketAddr, state: Arc<State>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let mut generation = state.generation.subscribe();
    generation.borrow_and_update();
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::select! {
        () = pump(client_read, server_write, Some(&state)) => {}
        () = pump(server_read, client_write, None) => {}
        _ = generation.changed() => {}
    }
    // Dropping the halves closes both sockets.
}

async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, state: Option<&State>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if let Some(state) = state.filter(|s| s.swallow.load(Ordering::SeqCst)) {
            state
                .swallowed
                .send_modify(|b| b.extend_from_slice(&buf[..n]));
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
