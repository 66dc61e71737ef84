//! Bounded TCP listening for the bridge's own HTTP servers (the health endpoint and the push
//! listener): at most a fixed number of open connections, each cut off after a lifetime.
//! hyper and axum set no connection limit of their own, and these servers may listen beyond
//! loopback.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

/// Pause after a failed `accept` (out of file descriptors, say) before the next one.
pub const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// A listener with at most `connections` open connections (more wait in the backlog), each
/// closed after `lifetime`.
pub struct Bounded {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    lifetime: Duration,
    name: &'static str,
}

impl Bounded {
    /// Wraps `inner`; `name` is the server's, for the debug log.
    pub fn new(
        inner: TcpListener,
        connections: usize,
        lifetime: Duration,
        name: &'static str,
    ) -> Self {
        Bounded {
            inner,
            permits: Arc::new(Semaphore::new(connections)),
            lifetime,
            name,
        }
    }

    /// The next connection, once a permit is free.
    pub async fn next(&mut self) -> (Limited<TcpStream>, SocketAddr) {
        loop {
            let Ok(permit) = self.permits.clone().acquire_owned().await else {
                // The semaphore is never closed; stay in the loop rather than panic.
                continue;
            };
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    return (Limited::new(stream, permit, self.lifetime), addr);
                }
                Err(e) => {
                    tracing::debug!("{}: accept failed: {e}", self.name);
                    tokio::time::sleep(ACCEPT_RETRY).await;
                }
            }
        }
    }
}

/// A connection's peer address, as axum's connect info for a [`Bounded`] listener.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, Bounded>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, Bounded>) -> Self {
        Peer(*stream.remote_addr())
    }
}

impl Listener for Bounded {
    type Io = Limited<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Limited<TcpStream>, SocketAddr) {
        self.next().await
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// One connection with its permit and its deadline; past the deadline every read and write
/// fails, so hyper drops it.
pub struct Limited<S> {
    stream: S,
    deadline: Pin<Box<Sleep>>,
    _permit: OwnedSemaphorePermit,
}

impl<S> Limited<S> {
    /// `stream`, holding `permit` until dropped, failing after `lifetime`.
    pub fn new(stream: S, permit: OwnedSemaphorePermit, lifetime: Duration) -> Self {
        Limited {
            stream,
            deadline: Box::pin(tokio::time::sleep(lifetime)),
            _permit: permit,
        }
    }

    fn expired(&mut self, cx: &mut Context<'_>) -> Option<std::io::Error> {
        self.deadline
            .as_mut()
            .poll(cx)
            .is_ready()
            .then(|| std::io::Error::new(std::io::ErrorKind::TimedOut, "connection lifetime over"))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Limited<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if let Some(e) = self.expired(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Limited<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if let Some(e) = self.expired(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn connections_end_after_their_lifetime_and_free_their_permit() {
        let permits = Arc::new(Semaphore::new(1));
        let (client, server) = tokio::io::duplex(64);
        let permit = permits.clone().try_acquire_owned().unwrap();
        let mut io = Limited::new(server, permit, Duration::from_millis(200));
        assert_eq!(permits.available_permits(), 0);
        let mut client = client;
        client.write_all(b"GET").await.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(io.read(&mut buf).await.unwrap(), 3);
        // A client that sends nothing more is cut off once the lifetime is over.
        let err = io.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert!(io.write_all(b"x").await.is_err());
        drop(io);
        assert_eq!(permits.available_permits(), 1);
    }
}
