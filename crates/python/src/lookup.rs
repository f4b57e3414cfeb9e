//! [`HandlerTree::lookup`]: from a request target to the handlers that serve it.
//!
//! pywebsocket's `get_handler_suite`: a `#fragment` is split off first, then a `?query`;
//! the remaining path is looked up exactly and case-sensitively. A non-empty fragment on a
//! path that has handlers is an error the caller answers with 400. This module does not
//! load anything and does not answer requests.

use std::sync::Arc;

use wshd_proto::handshake::Target;

use crate::loader::{HandlerTree, Handlers};

/// The outcome of [`HandlerTree::lookup`].
#[derive(Debug)]
pub enum Lookup<'a> {
    /// The path has handlers.
    Found(&'a Arc<Handlers>),
    /// The path has handlers but the target carries a fragment: answer 400
    /// ("Fragment identifiers MUST NOT be used on WebSocket URIs").
    FragmentOnHandled,
    /// No handlers for this path (pywebsocket falls through to HTTP, usually a 404).
    NotFound,
}

impl HandlerTree {
    /// The handlers for a request target such as `/echo?x=1`.
    pub fn lookup(&self, target: &str) -> Lookup<'_> {
        let target = Target::parse(target);
        match self.handlers.get(target.path) {
            Some(_) if target.has_fragment() => Lookup::FragmentOnHandled,
            Some(handlers) => Lookup::Found(handlers),
            None => Lookup::NotFound,
        }
    }
}
