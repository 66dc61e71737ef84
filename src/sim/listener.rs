//! The simulated doorbell's TCP listener: an axum [`Listener`] that can go truly offline.
//!
//! Offline closes the listening socket, so connections are refused, and closes every open
//! connection. While offline the port is held by a bound, non-listening `SO_REUSEPORT` socket
//! (a connect to it is refused) so that nobody else takes the port and coming back re-binds the
//! same one. If that reservation cannot be made, the listener stays open and every connection
//! is accepted and closed at once instead.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::serve::Listener;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::WaitForCancellationFutureOwned;

use super::state::Shared;

/// Pause before retrying a failed accept or re-bind.
const RETRY_DELAY: Duration = Duration::from_millis(50);
/// Listen backlog.
const BACKLOG: i32 = 128;

fn socket(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    #[cfg(unix)]
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// Binds and listens on `addr` (with `SO_REUSEPORT`, so a reservation can share it).
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = socket(addr)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    TcpListener::from_std(socket.into())
}

/// Binds `addr` without listening: holds the port while refusing connections.
fn reserve(addr: SocketAddr) -> io::Result<Socket> {
    let socket = socket(addr)?;
    socket.bind(&addr.into())?;
    Ok(socket)
}

/// The listener handed to `axum::serve`.
pub struct SimListener {
    shared: Arc<Shared>,
    listener: Option<TcpListener>,
    reservation: Option<Socket>,
}

impl SimListener {
    /// Wraps a bound listener.
    pub fn new(shared: Arc<Shared>, listener: TcpListener) -> Self {
        SimListener {
            shared,
            listener: Some(listener),
            reservation: None,
        }
    }

    /// Offline: swap the listener for a reservation, or keep it (accept-and-close) if the
    /// reservation fails.
    fn go_offline(&mut self) {
        if self.listener.is_some() && self.reservation.is_none() {
            match reserve(self.shared.addr) {
                Ok(socket) => {
                    self.reservation = Some(socket);
                    self.listener = None;
                }
                Err(err) => tracing::warn!(
                    "sim: cannot reserve {} while offline ({err}); accepting and closing instead",
                    self.shared.addr
                ),
            }
        }
    }

    /// Online: re-bind if the listener was closed.
    fn go_online(&mut self) -> io::Result<()> {
        if self.listener.is_none() {
            self.listener = Some(bind(self.shared.addr)?);
        }
        self.reservation = None;
        Ok(())
    }
}

impl Listener for SimListener {
    type Io = SimStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (SimStream, SocketAddr) {
        let mut offline = self.shared.offline.subscribe();
        loop {
            let is_offline = *offline.borrow_and_update();
            if is_offline {
                self.go_offline();
            } else if let Err(err) = self.go_online() {
                tracing::warn!("sim: cannot re-bind {}: {err}; retrying", self.shared.addr);
                tokio::time::sleep(RETRY_DELAY).await;
                continue;
            }
            let Some(listener) = &self.listener else {
                // Offline with the port reserved: nothing to accept until the fault changes.
                let _ = offline.changed().await;
                continue;
            };
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    // Offline fallback: accepted only to be closed (dropped) at once.
                    Ok(_) if is_offline => {}
                    Ok((stream, peer)) => return (SimStream::new(stream, &self.shared), peer),
                    Err(err) => {
                        tracing::debug!("sim: accept failed: {err}");
                        tokio::time::sleep(RETRY_DELAY).await;
                    }
                },
                _ = offline.changed() => {}
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.shared.addr)
    }
}

/// An accepted connection that fails with `ConnectionReset` once the simulator closes all
/// connections (reboot, offline), so hyper drops it and the socket closes.
pub struct SimStream {
    inner: TcpStream,
    closed: Pin<Box<WaitForCancellationFutureOwned>>,
    dead: bool,
}

impl SimStream {
    fn new(inner: TcpStream, shared: &Shared) -> Self {
        let _ = inner.set_nodelay(true);
        let closed = Box::pin(shared.connection_token().cancelled_owned());
        SimStream {
            inner,
            closed,
            dead: false,
        }
    }

    /// True once the connection must die (registers the waker while alive).
    fn is_dead(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.dead && self.closed.as_mut().poll(cx).is_ready() {
            self.dead = true;
        }
        self.dead
    }
}

fn reset() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "simulated doorbell closed the connection",
    )
}

impl AsyncRead for SimStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.is_dead(cx) {
            return Poll::Ready(Err(reset()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.is_dead(cx) {
            return Poll::Ready(Err(reset()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
