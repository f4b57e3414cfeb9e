//! A measurement instrument, not a server: the smallest WebSocket echo loop on io_uring,
//! one thread, to measure what a completion-based reactor saves over epoll on this
//! machine before wshd commits to building one (bench/README.md, "Where the remaining
//! cost is", has the figures and the commands).
//!
//! It answers an opening handshake by echoing the key's accept value without checking
//! anything else, echoes data frames as they arrive (no fragmentation, UTF-8, limits or
//! timeouts), answers a close with a close and then closes the socket. It is only ever
//! pointed at `wshd-load`, and it is not conformant to anything.
//!
//! Every connection has one operation in flight at a time: a `recv` into its buffer, or
//! a `send` of everything that buffer's frames produced. The loop submits all operations
//! the last batch of completions asked for in one `io_uring_enter`, and waits for at
//! least one completion in the same call.
//!
//! ```text
//! cargo run --release --manifest-path bench/uring-probe/Cargo.toml -- --taskrun defer
//! ```

use std::net::TcpListener;
use std::os::fd::AsRawFd;

use io_uring::{IoUring, cqueue, opcode, squeue, types};

/// `user_data` of the accept; other operations carry `slot << 8 | op`.
const ACCEPT: u64 = u64::MAX;
const OP_RECV: u64 = 1;
const OP_SEND: u64 = 2;
const OP_CLOSE: u64 = 3;
/// Room for one 64 KiB frame and its header, so that any frame fits the buffer.
const BUFFER: usize = 65536 + 64;

struct Conn {
    fd: i32,
    buf: Vec<u8>,
    len: usize,
    open: bool,
    out: Vec<u8>,
    sent: usize,
    closing: bool,
}

fn main() {
    let mut port = 0u16;
    let mut defer = true;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--port", Some(p)) => port = p.parse().expect("--port takes a number"),
            ("--taskrun", Some(m)) if m == "defer" || m == "coop" => defer = m == "defer",
            _ => {
                eprintln!("usage: wshd-uring-probe [--port N] [--taskrun defer|coop]");
                std::process::exit(2);
            }
        }
    }
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind 127.0.0.1");
    let lfd = listener.as_raw_fd();
    // Accepted sockets inherit TCP_NODELAY from the listener on Linux.
    let one: libc::c_int = 1;
    // SAFETY: `lfd` is an open socket and `one` outlives the call.
    let rc = unsafe {
        libc::setsockopt(lfd, libc::IPPROTO_TCP, libc::TCP_NODELAY, (&raw const one).cast(), 4)
    };
    assert_eq!(rc, 0, "setsockopt(TCP_NODELAY) failed");
    let mut builder = IoUring::builder();
    builder.setup_single_issuer();
    if defer {
        // Completions are run in this thread's io_uring_enter, not on interrupt return.
        builder.setup_defer_taskrun();
    } else {
        builder.setup_coop_taskrun();
    }
    let mut ring = builder.build(4096).expect("io_uring_setup (needs Linux 6.1 or later)");
    println!("listening on {}", listener.local_addr().expect("local address"));

    let accept = || opcode::Accept::new(types::Fd(lfd), std::ptr::null_mut(), std::ptr::null_mut());
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut pending: Vec<squeue::Entry> = vec![accept().build().user_data(ACCEPT)];
    let mut done: Vec<(u64, i32)> = Vec::new();
    loop {
        {
            let mut sq = ring.submission();
            for entry in pending.drain(..) {
                // SAFETY: every buffer an entry points to is owned by a `Conn` that stays
                // in `conns`, unmoved and unchanged, until the entry's completion arrives.
                unsafe { sq.push(&entry).expect("submission queue full") };
            }
        }
        ring.submit_and_wait(1).expect("io_uring_enter");
        done.extend(ring.completion().map(|c: cqueue::Entry| (c.user_data(), c.result())));
        for (user_data, res) in done.drain(..) {
            if user_data == ACCEPT {
                if res >= 0 {
                    let mut conn = Conn {
                        fd: res,
                        buf: vec![0; BUFFER],
                        len: 0,
                        open: false,
                        out: Vec::new(),
                        sent: 0,
                        closing: false,
                    };
                    let slot = free.pop().unwrap_or_else(|| {
                        conns.push(None);
                        conns.len() - 1
                    });
                    pending.push(recv(&mut conn, slot));
                    conns[slot] = Some(conn);
                }
                pending.push(accept().build().user_data(ACCEPT));
                continue;
            }
            let (slot, op) = ((user_data >> 8) as usize, user_data & 0xff);
            if op == OP_CLOSE {
                conns[slot] = None;
                free.push(slot);
                continue;
            }
            let Some(conn) = conns[slot].as_mut() else { continue };
            if res <= 0 {
                pending.push(close(conn, slot));
            } else if op == OP_SEND {
                conn.sent += res as usize;
                if conn.sent < conn.out.len() {
                    pending.push(send(conn, slot));
                } else if conn.closing {
                    pending.push(close(conn, slot));
                } else {
                    conn.out.clear();
                    conn.sent = 0;
                    pending.push(recv(conn, slot));
                }
            } else {
                conn.len += res as usize;
                respond(conn);
                pending.push(if conn.out.is_empty() { recv(conn, slot) } else { send(conn, slot) });
            }
        }
    }
}

/// Consumes the complete request head or frames at the front of the buffer, appending
/// what they call for to `out`.
fn respond(conn: &mut Conn) {
    if !conn.open {
        let Some(end) = conn.buf[..conn.len].windows(4).position(|w| w == b"\r\n\r\n") else {
            return;
        };
        let head = String::from_utf8_lossy(&conn.buf[..end]);
        let key = head
            .lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-key"))
            .map_or("", |(_, value)| value.trim());
        conn.out.extend_from_slice(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
        );
        conn.out.extend_from_slice(accept_value(key).as_bytes());
        conn.out.extend_from_slice(b"\r\n\r\n");
        conn.buf.copy_within(end + 4..conn.len, 0);
        conn.len -= end + 4;
        conn.open = true;
    }
    let mut pos = 0;
    while !conn.closing {
        let b = &mut conn.buf[pos..conn.len];
        if b.len() < 2 {
            break;
        }
        let opcode = b[0] & 0x0f;
        let (len, header) = match b[1] & 0x7f {
            126 if b.len() >= 4 => (usize::from(u16::from_be_bytes([b[2], b[3]])), 4),
            127 if b.len() >= 10 => {
                (u64::from_be_bytes(b[2..10].try_into().expect("8 bytes")) as usize, 10)
            }
            126 | 127 => break,
            n => (usize::from(n), 2),
        };
        if b.len() < header + 4 + len {
            break;
        }
        let mask = [b[header], b[header + 1], b[header + 2], b[header + 3]];
        let payload = &mut b[header + 4..header + 4 + len];
        unmask(payload, mask);
        conn.out.push(0x80 | opcode);
        match len {
            0..126 => conn.out.push(len as u8),
            126..65536 => {
                conn.out.push(126);
                conn.out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                conn.out.push(127);
                conn.out.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        conn.out.extend_from_slice(payload);
        pos += header + 4 + len;
        conn.closing = opcode == 8;
    }
    conn.buf.copy_within(pos..conn.len, 0);
    conn.len -= pos;
}

/// Unmasks eight bytes at a time.
fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    let word = u64::from_ne_bytes([
        mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3],
    ]);
    let mut chunks = payload.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let v = u64::from_ne_bytes(chunk.try_into().expect("8 bytes")) ^ word;
        chunk.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= mask[i & 3];
    }
}

fn accept_value(key: &str) -> String {
    use base64::Engine;
    use sha1::{Digest, Sha1};
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

fn recv(conn: &mut Conn, slot: usize) -> squeue::Entry {
    let spare = &mut conn.buf[conn.len..];
    opcode::Recv::new(types::Fd(conn.fd), spare.as_mut_ptr(), spare.len() as u32)
        .build()
        .user_data((slot as u64) << 8 | OP_RECV)
}

fn send(conn: &mut Conn, slot: usize) -> squeue::Entry {
    let rest = &conn.out[conn.sent..];
    opcode::Send::new(types::Fd(conn.fd), rest.as_ptr(), rest.len() as u32)
        .build()
        .user_data((slot as u64) << 8 | OP_SEND)
}

fn close(conn: &Conn, slot: usize) -> squeue::Entry {
    opcode::Close::new(types::Fd(conn.fd)).build().user_data((slot as u64) << 8 | OP_CLOSE)
}
