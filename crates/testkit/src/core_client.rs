//! A client-role core driven by hand over a blocking socket, for tests of a server side
//! (a shell, the Python stream) that want a real, well-behaved peer: frames are encoded
//! and parsed by wshd-proto, masked with [`FixedMask`]. Not a client library: it panics
//! on anything unexpected, and waits at most [`PATIENCE`] for a read.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use wshd_proto::{Connection, Event, Limits};

use crate::wire::FixedMask;

/// Longest a read waits: a hang fails the test, a slow machine does not.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// The client: its core, and its end of the socket.
#[derive(Debug)]
pub struct CoreClient {
    /// The client-role connection; queue frames on it, then [`CoreClient::flush`].
    pub conn: Connection,
    /// Its end of the socket, for writing raw bytes too.
    pub socket: TcpStream,
}

impl CoreClient {
    /// A client with default limits over `socket`.
    pub fn new(socket: TcpStream) -> CoreClient {
        socket.set_read_timeout(Some(PATIENCE)).expect("setting a read timeout");
        CoreClient { conn: Connection::client(Limits::default(), Box::new(FixedMask)), socket }
    }

    /// Writes out everything the core queued.
    pub fn flush(&mut self) {
        self.socket.write_all(self.conn.data_to_send()).expect("writing to the server");
        let n = self.conn.data_to_send().len();
        self.conn.advance_sent(n);
    }

    /// Queues frames with `build`, then writes them out.
    pub fn send(&mut self, build: impl FnOnce(&mut Connection)) {
        build(&mut self.conn);
        self.flush();
    }

    /// The next event, reading as needed; `None` at the end of the stream.
    pub fn next_event(&mut self) -> Option<Event> {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(event) = self.conn.next_event() {
                return Some(event.expect("the server sends valid frames"));
            }
            match self.socket.read(&mut buf).expect("the server answers within the patience") {
                0 => return None,
                n => self.conn.receive_data(&buf[..n]),
            }
        }
    }
}
