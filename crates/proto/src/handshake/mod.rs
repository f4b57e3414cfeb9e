//! The opening handshake of RFC 6455 §4, server and client side.
