//! A HyBi 00 (hixie-76) client's opening handshake, written by hand for tests: the
//! request of the draft's worked example (section 1.3 of
//! draft-ietf-hybi-thewebsocketprotocol-00), with its challenge and the answer the draft
//! gives. Not a client: frames are bytes the test writes itself (`0x00 … 0xFF`).

use std::net::SocketAddr;

use crate::raw_client::Raw;

/// The 8 bytes after the example's head (the draft's `key3`).
pub const KEY3: &[u8; 8] = b"^n:ds[4U";
/// The 16 bytes the draft gives as the server's answer to the example's challenge.
pub const ANSWER: &[u8; 16] = b"8jKS'y:G*Co,Wxa-";
/// The example's `Sec-WebSocket-Key1`.
pub const KEY1: &str = "4 @1  46546xW%0l 1 5";
/// The example's `Sec-WebSocket-Key2`.
pub const KEY2: &str = "12998 5 Y3 1  .P00";

/// The example's request head for `path` and `host`, with its subprotocol `sample`,
/// `Origin: http://example.com`, and the `extra` header lines.
pub fn request(path: &str, host: &str, extra: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key2: {KEY2}\r\nSec-WebSocket-Protocol: sample\r\n\
         Upgrade: WebSocket\r\nSec-WebSocket-Key1: {KEY1}\r\n\
         Origin: http://example.com\r\n{extra}\r\n"
    )
    .into_bytes()
}

/// Sends the example's handshake for `path` (`Host: example.com`) and its 8 bytes;
/// returns the client and the response head. After a 101, the 16-byte answer is the
/// next thing to read.
pub fn open(addr: SocketAddr, path: &str) -> (Raw, String) {
    let mut raw = Raw::connect(addr);
    raw.write(&request(path, "example.com", ""));
    raw.write(KEY3);
    let head = raw.head();
    (raw, head)
}
