//! The one parser of an origin-form request target (`/path?query#fragment`) every part
//! of wshd uses: routing, handler lookup, the fragment rule of the opening handshake and
//! the HTTP path resolver.
//!
//! It splits as pywebsocket did: the fragment at the first `#`, then the query at the
//! first `?` of what is left. It decodes nothing and checks nothing about the path: that
//! is the caller's (the HTTP path resolver refuses `..` and hidden separators).

/// The parts of a request target. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// Everything before the query and the fragment: the resource name handlers are
    /// found by, exactly and case-sensitively.
    pub path: &'a str,
    /// After the first `?` (before any `#`), without the `?`.
    pub query: Option<&'a str>,
    /// After the first `#`, without the `#`.
    pub fragment: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// Splits `target`.
    pub fn parse(target: &'a str) -> Target<'a> {
        let (rest, fragment) = match target.split_once('#') {
            Some((rest, fragment)) => (rest, Some(fragment)),
            None => (target, None),
        };
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        Target { path, query, fragment }
    }

    /// Whether a WebSocket handshake for this target must be refused (400) when its path
    /// has a handler: a non-empty fragment ("Fragment identifiers MUST NOT be used on
    /// WebSocket URIs", RFC 6455 §3). pywebsocket tests the fragment for truth, so a bare
    /// trailing `#` is served.
    pub fn has_fragment(&self) -> bool {
        self.fragment.is_some_and(|f| !f.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::Target;

    #[test]
    fn splits_the_fragment_first_then_the_query() {
        let t = Target::parse("/echo?a=1#frag");
        assert_eq!((t.path, t.query, t.fragment), ("/echo", Some("a=1"), Some("frag")));
        // A `?` inside the fragment is the fragment's.
        let t = Target::parse("/echo#f?x");
        assert_eq!((t.path, t.query, t.fragment), ("/echo", None, Some("f?x")));
        let t = Target::parse("/a/b");
        assert_eq!((t.path, t.query, t.fragment), ("/a/b", None, None));
        let t = Target::parse("/echo?");
        assert_eq!((t.path, t.query), ("/echo", Some("")));
    }

    #[test]
    fn only_a_non_empty_fragment_counts() {
        assert!(Target::parse("/echo#x").has_fragment());
        assert!(!Target::parse("/echo#").has_fragment());
        assert!(!Target::parse("/echo?q").has_fragment());
    }
}
