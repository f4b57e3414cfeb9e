//! Request targets in absolute form (`GET ws://host:port/path HTTP/1.1`), as pywebsocket
//! accepts them, and its `-V`/`-P` validation of the host and port they name.
//!
//! [`resolve`] turns a target into the path (with its query) that routing and handlers
//! see. It does not route, and does not apply to origin-form targets (`/path`), which pass
//! through unchanged.

/// What a request target resolves to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// Route this path (and query).
    Path(String),
    /// An absolute `ws://` or `wss://` URI whose host or port differs from the validation
    /// host or port: pywebsocket then skips WebSocket handling (the answer is 404).
    Mismatch(String),
}

/// Resolves `target` against the validation host and port (`None`: not checked).
/// Only the `ws` and `wss` schemes are taken as absolute; their default ports are 80 and
/// 443. Host comparison ignores ASCII case.
pub(crate) fn resolve(target: &str, host: Option<&str>, port: Option<u16>) -> Target {
    let lower = target.get(..6).map(str::to_ascii_lowercase).unwrap_or_default();
    let (rest, default_port) = if lower.starts_with("ws://") {
        (&target[5..], 80)
    } else if lower.starts_with("wss://") {
        (&target[6..], 443)
    } else {
        return Target::Path(target.to_owned());
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let path = if path.starts_with('/') { path.to_owned() } else { format!("/{path}") };
    let (uri_host, uri_port) = split_authority(authority, default_port);
    if host.is_some_and(|h| !h.eq_ignore_ascii_case(uri_host)) {
        return Target::Mismatch(format!("host {uri_host:?} is not the validation host"));
    }
    if port.is_some_and(|p| Some(p) != uri_port) {
        return Target::Mismatch(format!("port of {authority:?} is not the validation port"));
    }
    Target::Path(path)
}

/// Splits `host[:port]` (or `[v6]:port`); a port that is not a number gives `None`.
fn split_authority(authority: &str, default_port: u16) -> (&str, Option<u16>) {
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => (&authority[..i], Some(&authority[i + 1..])),
        _ => (authority, None),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (host, port.map_or(Some(default_port), |p| p.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_form_passes_through() {
        assert_eq!(
            resolve("/echo?x=1", Some("localhost"), Some(80)),
            Target::Path("/echo?x=1".into())
        );
    }

    #[test]
    fn absolute_uri_becomes_its_path_when_host_and_port_match() {
        assert_eq!(
            resolve("ws://localhost:8080/echo?x", Some("localhost"), Some(8080)),
            Target::Path("/echo?x".into())
        );
        assert_eq!(
            resolve("WS://LocalHost/echo", Some("localhost"), Some(80)),
            Target::Path("/echo".into())
        );
        assert_eq!(resolve("wss://h/", None, Some(443)), Target::Path("/".into()));
        assert_eq!(resolve("ws://h", None, None), Target::Path("/".into()));
        assert_eq!(resolve("ws://[::1]:9/e", Some("::1"), Some(9)), Target::Path("/e".into()));
    }

    #[test]
    fn mismatched_host_or_port_is_refused() {
        assert!(matches!(
            resolve("ws://invalidlocalhost:8080/echo", Some("localhost"), None),
            Target::Mismatch(_)
        ));
        assert!(matches!(
            resolve("ws://localhost:8081/echo", None, Some(8080)),
            Target::Mismatch(_)
        ));
        assert!(matches!(resolve("ws://localhost/echo", None, Some(8080)), Target::Mismatch(_)));
        assert!(matches!(resolve("ws://localhost:x/echo", None, Some(8080)), Target::Mismatch(_)));
    }
}
