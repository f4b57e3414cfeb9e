//! [`Router`]: which handler serves which resource path.
//!
//! Lookup is exact and case-sensitive on the path, with the query ignored, as in
//! pywebsocket. A fallback handler may serve every path without an exact match. The
//! router only maps; it does not load handlers from files.

use std::collections::HashMap;
use std::sync::Arc;

use crate::handler::{DynHandler, Handler};

/// Maps resource paths to handlers.
#[derive(Default, Clone)]
pub struct Router {
    routes: HashMap<String, Arc<dyn DynHandler>>,
    fallback: Option<Arc<dyn DynHandler>>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("routes", &self.routes.keys().collect::<Vec<_>>())
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

impl Router {
    /// An empty router: every path answers 404.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `path` (e.g. `/echo`) with `handler`, replacing any earlier one.
    pub fn route(self, path: impl Into<String>, handler: impl Handler) -> Self {
        self.route_dyn(path, Arc::new(handler))
    }

    /// [`Router::route`] for an already shared handler.
    pub fn route_dyn(mut self, path: impl Into<String>, handler: Arc<dyn DynHandler>) -> Self {
        self.routes.insert(path.into(), handler);
        self
    }

    /// Serves every path that has no exact route with `handler`.
    pub fn fallback(mut self, handler: impl Handler) -> Self {
        self.fallback = Some(Arc::new(handler));
        self
    }

    /// The handler for a request target; the query and fragment are ignored.
    pub fn find(&self, target: &str) -> Option<&Arc<dyn DynHandler>> {
        let path = wshd_proto::handshake::Target::parse(target).path;
        self.routes.get(path).or(self.fallback.as_ref())
    }
}
