//! wshd-proto's integration tests, one binary: the connection driven with bytes in and
//! bytes out, with no sockets and no clock.
//!
//! - `rfc6455`: framing, masking, fragmentation, UTF-8, closing handshake, timers;
//! - `rfc7692`: permessage-deflate and deflate-frame through the connection;
//! - `closing`: the closing decisions the core makes for both shells, and read hints;
//! - `framing`: the framing seam with a test double, and whole-message assembly;
//! - `hybi00`: HyBi 00's frames through the connection;
//! - `hostile`: hostile peers, with a counting allocator, and the fuzz regression replay.

mod closing;
mod framing;
mod hostile;
mod hybi00;
mod rfc6455;
mod rfc7692;
mod support;
