//! The byte stream under a WebSocket: plain TCP for now, TLS later; or nothing, once the
//! connection was handed over to blocking I/O.
//!
//! An enum rather than a trait object, so the handler API stays non-generic and each
//! read or write is a direct call. It adds no buffering of its own.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A connected stream.
#[derive(Debug)]
pub(crate) enum Transport {
    Tcp(TcpStream),
    /// Handed over to blocking I/O ([`crate::WebSocket::detach`]); every operation fails.
    Detached,
}

fn detached() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the connection was detached for blocking I/O")
}

impl Transport {
    /// Our address on the connection.
    pub(crate) fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        match self {
            Transport::Tcp(s) => s.local_addr(),
            Transport::Detached => Err(detached()),
        }
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Detached => Poll::Ready(Err(detached())),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Detached => Poll::Ready(Err(detached())),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Transport::Detached => Poll::Ready(Err(detached())),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Transport::Tcp(s) => s.is_write_vectored(),
            Transport::Detached => false,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_flush(cx),
            Transport::Detached => Poll::Ready(Err(detached())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Detached => Poll::Ready(Err(detached())),
        }
    }
}

/// Shuts down our sending side, then reads and discards until the peer closes or
/// `linger` passes, so that the last bytes we wrote are not lost to a TCP reset.
pub(crate) async fn linger_close(io: &mut Transport, linger: std::time::Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if io.shutdown().await.is_err() {
        return;
    }
    let drain = async {
        // On the heap: an array here would enlarge every connection's task, idle or not.
        let mut sink = vec![0u8; 4096];
        while matches!(io.read(&mut sink).await, Ok(n) if n > 0) {}
    };
    let _ = tokio::time::timeout(linger, drain).await;
}
