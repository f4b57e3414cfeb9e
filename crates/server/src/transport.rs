//! The byte stream under a WebSocket: plain TCP, or TLS over TCP (server or client side);
//! or nothing, once the socket was closed or handed over to blocking I/O.
//!
//! An enum rather than a trait object, so the handler API stays non-generic and each
//! read or write is a direct call. It adds no buffering of its own (rustls keeps its own
//! record buffers). The TLS stream is boxed: it is large, and a plain connection should
//! not pay for it.
//!
//! A TLS peer that closes TCP without a `close_notify` alert reads as end of file, as it
//! does on plain TCP: the WebSocket closing handshake, not TLS, tells a clean close from
//! a lost connection.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A connected stream.
#[derive(Debug)]
pub(crate) enum Transport {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::TlsStream<TcpStream>>),
    /// No socket any more: closed after the closing handshake, or handed over to
    /// blocking I/O ([`crate::WebSocket::detach`]). Every operation fails.
    Gone,
}

fn gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the socket was closed, or handed over to blocking I/O (WebSocket::detach)",
    )
}

impl Transport {
    /// Our address on the connection.
    pub(crate) fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        match self {
            Transport::Tcp(s) => s.local_addr(),
            Transport::Tls(s) => s.get_ref().0.local_addr(),
            Transport::Gone => Err(gone()),
        }
    }

    /// Hands `data` to the kernel to go out with the FIN of the close that follows, in one
    /// segment (Linux: `send` with `MSG_MORE`, which holds it until then). Returns the
    /// bytes taken: 0 on TLS, elsewhere than Linux, or when the socket would block; the
    /// caller writes what is left as usual. Only for the last bytes before a close.
    pub(crate) fn send_before_close(&self, data: &[u8]) -> usize {
        #[cfg(target_os = "linux")]
        if let Transport::Tcp(s) = self {
            use rustix::net::{SendFlags, send};
            return send(s, data, SendFlags::MORE | SendFlags::DONTWAIT).unwrap_or(0);
        }
        let _ = data;
        0
    }

    /// Whether the bytes travel over TLS.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, Transport::Tls(_))
    }

    /// The TLS session, when there is one: peer certificates, version, cipher suite.
    pub(crate) fn tls_state(&self) -> Option<&rustls::CommonState> {
        match self {
            Transport::Tcp(_) | Transport::Gone => None,
            Transport::Tls(s) => Some(s.get_ref().1),
        }
    }

    /// The server name the client asked for (SNI), on the server side of a TLS session.
    pub(crate) fn tls_server_name(&self) -> Option<&str> {
        match self {
            Transport::Tls(s) => match &**s {
                tokio_rustls::TlsStream::Server(s) => s.get_ref().1.server_name(),
                tokio_rustls::TlsStream::Client(_) => None,
            },
            Transport::Tcp(_) | Transport::Gone => None,
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
            Transport::Tls(s) => match Pin::new(&mut **s).poll_read(cx, buf) {
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    Poll::Ready(Ok(()))
                }
                other => other,
            },
            Transport::Gone => Poll::Ready(Err(gone())),
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
            Transport::Tls(s) => Pin::new(&mut **s).poll_write(cx, buf),
            Transport::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Transport::Tls(s) => Pin::new(&mut **s).poll_write_vectored(cx, bufs),
            Transport::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Transport::Tcp(s) => s.is_write_vectored(),
            Transport::Tls(s) => s.is_write_vectored(),
            Transport::Gone => false,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(&mut **s).poll_flush(cx),
            Transport::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(&mut **s).poll_shutdown(cx),
            Transport::Gone => Poll::Ready(Err(gone())),
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
