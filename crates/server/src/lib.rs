//! wshd-server
