//! The simulated doorbell's TCP listener: an axum [`Listener`] that can go truly offline.
//!
//! Offline closes the listening socket, so connections are refused, and closes every open
//! connection. While offline the port is held by a bound, non-listening `SO_REUSEPORT` socket
//! (a connect to it is refused) so that nobody else takes the port and coming back re-binds the
//! same one. If that reservation cannot be made, the listener stays open and every connection
//! is accepted and closed at once instead. The handle switches the sockets synchronously
//! ([`set_offline`]); the accept loop follows.

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
pub fn bind(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = socket(addr)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Binds `addr` without listening: holds the port while refusing connections.
fn reserve(addr: SocketAddr) -> io::Result<Socket> {
    let socket = socket(addr)?;
    socket.bind(&addr.into())?;
    Ok(socket)
}

/// The listening sockets, shared by [`set_offline`] (synchronous, called by the handle) and
/// the accept loop, so that the port state is right when `set_fault` returns.
#[derive(Default)]
pub struct Ports {
    /// The Offline fault is on.
    pub offline: bool,
    /// The accept loop holds an open listener.
    listening: bool,
    /// Holds the port while offline.
    reservation: Option<Socket>,
    /// A listener bound for the accept loop to take.
    fresh: Option<std::net::TcpListener>,
}

impl Ports {
    /// Ports whose first listener is `listener`.
    pub fn new(listener: std::net::TcpListener) -> Self {
        Ports {
            fresh: Some(listener),
            ..Ports::default()
        }
    }
}

/// Switches Offline on or off. Off binds the listener before returning, so a connection made
/// right after is accepted (it waits in the backlog until the accept loop runs).
pub fn set_offline(shared: &Shared, offline: bool) {
    let addr = shared.addr;
    let mut ports = shared.ports();
    ports.offline = offline;
    if offline {
        if ports.reservation.is_none() {
            match reserve(addr) {
                Ok(socket) => ports.reservation = Some(socket),
                Err(err) => tracing::warn!(
                    "sim: cannot reserve {addr} while offline ({err}); accepting and closing instead"
                ),
            }
        }
        if ports.reservation.is_some() {
            ports.fresh = None;
        }
    } else {
        if !ports.listening && ports.fresh.is_none() {
            match bind(addr) {
                Ok(listener) => ports.fresh = Some(listener),
                Err(err) => tracing::warn!("sim: cannot re-bind {addr}: {err}; retrying"),
            }
        }
        ports.reservation = None;
    }
    drop(ports);
    shared.ports_changed.notify_one();
    if offline {
        shared.close_connections();
    }
}

/// Closes the sockets the handle holds (the reservation, an untaken listener) at shutdown.
pub fn release(shared: &Shared) {
    let mut ports = shared.ports();
    ports.reservation = None;
    ports.fresh = None;
}

/// The listener handed to `axum::serve`.
pub struct SimListener {
    shared: Arc<Shared>,
    listener: Option<TcpListener>,
}

impl SimListener {
    /// The accept loop's listener; it takes its socket from the shared [`Ports`].
    pub fn new(shared: Arc<Shared>) -> Self {
        SimListener {
            shared,
            listener: None,
        }
    }

    /// Brings the own listener in line with the shared state; returns whether it is offline.
    fn sync(&mut self) -> io::Result<bool> {
        let shared = self.shared.clone();
        let mut ports = shared.ports();
        if ports.offline && ports.reservation.is_some() {
            self.listener = None;
        } else if let Some(fresh) = ports.fresh.take() {
            // Online, or offline without a reservation (then accepted connections are closed).
            self.listener = Some(TcpListener::from_std(fresh)?);
        } else if self.listener.is_none() && !ports.offline {
            self.listener = Some(TcpListener::from_std(bind(shared.addr)?)?);
        }
        ports.listening = self.listener.is_some();
        Ok(ports.offline)
    }
}

impl Listener for SimListener {
    type Io = SimStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (SimStream, SocketAddr) {
        let shared = self.shared.clone();
        loop {
            let changed = shared.ports_changed.notified();
            if let Err(err) = self.sync() {
                tracing::warn!("sim: cannot listen on {}: {err}; retrying", shared.addr);
                tokio::time::sleep(RETRY_DELAY).await;
                continue;
            }
            let Some(listener) = &self.listener else {
                // Offline with the port reserved: nothing to accept until the fault changes.
                changed.await;
                continue;
            };
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        // Take the connection token before re-reading the flag: `set_offline`
                        // sets the flag before it closes connections, so a connection racing
                        // a switch to Offline is either dropped here or closed with the rest.
                        let stream = SimStream::new(stream, &shared);
                        if !shared.ports().offline {
                            return (stream, peer);
                        }
                        // Offline (fallback or race): dropped, so closed at once.
                    }
                    Err(err) => {
                        tracing::debug!("sim: accept failed: {err}");
                        tokio::time::sleep(RETRY_DELAY).await;
                    }
                },
                _ = changed => {}
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
