//! [`WebSocket`] as a `futures` [`Stream`] of messages and a [`Sink`] of messages, so it
//! works with the usual combinators and splits into a reading and a writing half
//! ([`WebSocket::split`]), as a tokio-tungstenite user expects.
//!
//! The stream yields whole messages (pings are answered and pongs skipped on the way) and
//! ends when the closing handshake does; the sink queues messages and writes them out on
//! flush, once the write high-water mark is passed, or on close (which sends close 1000).
//! Only the poll functions of the socket are used here: no second driver.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_core::Stream;
use futures_sink::Sink;
use futures_util::StreamExt;
use futures_util::stream::{SplitSink, SplitStream};
use wshd_proto::CloseCode;

use super::{Message, Next, WebSocket};
use crate::error::Error;

impl WebSocket {
    /// Splits the connection into a [`Sink`] and a [`Stream`] that can be used from two
    /// tasks (or one `select!`) at once, as `futures`' `StreamExt::split` does.
    pub fn split(&mut self) -> (SplitSink<&mut WebSocket, Message>, SplitStream<&mut WebSocket>) {
        StreamExt::split(self)
    }
}

impl Stream for WebSocket {
    type Item = Result<Message, Error>;

    /// The next whole message; `None` once the closing handshake is over (the answer to
    /// the peer's close written, the transport closed) or after an error was yielded.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let ws = self.get_mut();
        if ws.finished {
            return Poll::Ready(None);
        }
        let ending = match ready!(ws.poll_recv(cx)) {
            Next::Frame(message) => return Poll::Ready(Some(Ok(message))),
            Next::Failed(Error::Closed) => return Poll::Ready(None),
            Next::Failed(e) => return Poll::Ready(Some(Err(e))),
            Next::End(ending) => ending,
        };
        // Our answer to the peer's close, or our failure's close frame, goes out first.
        if let Err(e) = ready!(ws.poll_flush_queue(cx)) {
            ws.finished = true;
            return Poll::Ready(Some(Err(e)));
        }
        ws.end_without_waiting();
        Poll::Ready(ending.err().map(Err))
    }
}

impl Sink<Message> for WebSocket {
    type Error = Error;

    /// Ready at once, unless the queue passed the write high-water mark: then once it
    /// has been written out.
    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let ws = self.get_mut();
        if ws.finished {
            return Poll::Ready(Err(Error::Closed));
        }
        if ws.conn.data_to_send().len() >= ws.timing.write_high_water {
            return ws.poll_flush_queue(cx);
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        let ws = self.get_mut();
        if ws.finished {
            return Err(Error::Closed);
        }
        ws.queue(&message)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let ws = self.get_mut();
        if ws.finished {
            return Poll::Ready(Err(Error::Closed));
        }
        ws.poll_flush_queue(cx)
    }

    /// Sends close 1000 (unless a close was sent already) and writes out the queue. The
    /// peer's answer arrives through the stream half.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let ws = self.get_mut();
        if ws.finished {
            return Poll::Ready(Ok(()));
        }
        ws.conn.close_when_done(CloseCode::NORMAL, std::time::Instant::now());
        ws.poll_flush_queue(cx)
    }
}
