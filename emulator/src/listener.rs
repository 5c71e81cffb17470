//! A TCP listener that counts open connections for the statistics.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::stats::Connections;

/// Wraps a [`TcpListener`]; every accepted stream is counted until it is dropped.
pub struct CountingListener {
    inner: TcpListener,
    connections: Arc<Connections>,
}

impl CountingListener {
    pub fn new(inner: TcpListener, connections: Arc<Connections>) -> Self {
        CountingListener { inner, connections }
    }
}

impl Listener for CountingListener {
    type Io = CountedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (CountedStream, SocketAddr) {
        let (stream, address) = Listener::accept(&mut self.inner).await;
        // Small answers must not wait for Nagle's algorithm.
        if let Err(error) = stream.set_nodelay(true) {
            eprintln!("ocrcloud-emulator: cannot set TCP_NODELAY: {error}");
        }
        self.connections.opened();
        let stream = CountedStream {
            stream,
            connections: Arc::clone(&self.connections),
        };
        (stream, address)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A [`TcpStream`] that counts itself as closed when dropped.
pub struct CountedStream {
    stream: TcpStream,
    connections: Arc<Connections>,
}

impl Drop for CountedStream {
    fn drop(&mut self) {
        self.connections.closed();
    }
}

impl AsyncRead for CountedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
