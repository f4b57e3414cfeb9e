//! A blocking WebSocket client for tests that writes and reads exact bytes: a handshake
//! with a fixed key, masked frames out and server frames in (both by [`crate::wire`]),
//! and the raw bytes around them. Not a client library: it checks nothing it reads.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::wire;

/// A connection and the bytes read from it but not consumed yet.
#[derive(Debug)]
pub struct Raw {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    /// Sends a handshake for `path` (any request target) with the `extra` header lines;
    /// returns the client and the response head.
    pub fn open(addr: SocketAddr, path: &str, extra: &str) -> (Raw, String) {
        let mut raw = Raw::connect(addr);
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        );
        raw.write(request.as_bytes());
        let head = raw.head();
        (raw, head)
    }

    /// A connection that has sent nothing yet (reads time out after 10 s).
    pub fn connect(addr: SocketAddr) -> Raw {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Raw { s, buf: Vec::new() }
    }

    /// Writes `bytes` as they are.
    pub fn write(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    /// Exactly the next `n` bytes; panics if the stream ends first.
    pub fn take(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(self.fill() > 0, "connection closed; have {:?}", self.buf);
        }
        self.buf.drain(..n).collect()
    }

    /// Reads once (waiting up to the read timeout) into the unconsumed bytes; returns how
    /// many arrived, 0 at the end of the stream or on a timeout.
    pub fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 4096];
        let n = self.s.read(&mut chunk).unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    /// The response head, up to and including its blank line; at the end of the stream
    /// before one, whatever arrived.
    pub fn head(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..i + 4).collect();
                return String::from_utf8(head).unwrap();
            }
            if self.fill() == 0 {
                return String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned();
            }
        }
    }

    /// One server frame: (first byte, payload).
    pub fn frame(&mut self) -> (u8, Vec<u8>) {
        loop {
            if let Some((first, payload, used)) = wire::split_frame(&self.buf) {
                self.buf.drain(..used);
                return (first, payload);
            }
            assert!(self.fill() > 0, "connection closed; have {:?}", self.buf);
        }
    }

    /// Sends one client frame with first byte `first`, masked (`wshd_testkit::wire`).
    pub fn send(&mut self, first: u8, payload: &[u8]) {
        self.s.write_all(&wire::masked(first, payload)).unwrap();
    }

    /// Reads once more (waiting up to the read timeout) and shows every byte not consumed.
    pub fn read_some(&mut self) -> &[u8] {
        self.fill();
        &self.buf
    }

    /// Whether the server ends the stream next, with nothing before the end: `Err` says
    /// what came instead (bytes, or no end within the read timeout).
    pub fn end_of_stream(&mut self) -> Result<(), String> {
        if !self.buf.is_empty() {
            return Err(format!("bytes before the end of the stream: {:?}", self.buf));
        }
        let mut chunk = [0u8; 256];
        match self.s.read(&mut chunk) {
            Ok(0) => Ok(()),
            Ok(n) => Err(format!("bytes before the end of the stream: {:?}", &chunk[..n])),
            Err(e) => Err(format!("no end of the stream within the read timeout ({e})")),
        }
    }

    /// Everything until the server closes TCP.
    pub fn rest(&mut self) -> Vec<u8> {
        while self.fill() > 0 {}
        std::mem::take(&mut self.buf)
    }
}

/// The status code of a response head.
pub fn status(head: &str) -> u16 {
    head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status in {head:?}"))
}
