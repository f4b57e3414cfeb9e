//! HTTP Basic authentication (RFC 7617) as pywebsocket's `--basic-auth` does it: one
//! credential for the whole server, checked on every request (WebSocket handshakes, static
//! files, CGI) before anything else, with the realm `Pywebsocket`.
//!
//! The token is compared in constant time ([`ct_eq`]). Unlike pywebsocket, which compares
//! the header string exactly, the scheme name is matched without regard to case and
//! surrounding spaces are ignored, as RFC 7617 allows. It holds no per-path or per-user
//! policy.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use wshd_proto::handshake::{HandshakeError, Request};

/// The `WWW-Authenticate` challenge sent with every 401 (pywebsocket's exact value).
pub(crate) const CHALLENGE: &str = "Basic realm=\"Pywebsocket\"";

/// The credential every request must present.
#[derive(Clone)]
pub(crate) struct BasicAuth {
    /// base64 of `user:password`, the token after `Basic `.
    token: Vec<u8>,
    /// The user part (`REMOTE_USER` for CGI).
    user: String,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BasicAuth(..)")
    }
}

impl BasicAuth {
    /// From `user:password` (UTF-8, as pywebsocket encodes it).
    pub(crate) fn new(credential: &str) -> BasicAuth {
        let user = credential.split(':').next().unwrap_or_default().to_owned();
        BasicAuth { token: BASE64.encode(credential.as_bytes()).into_bytes(), user }
    }

    /// The user name of the credential.
    pub(crate) fn user(&self) -> &str {
        &self.user
    }

    /// `Ok` when `request` carries the credential; otherwise the 401 to answer, with the
    /// challenge, and a reason that says what was wrong (never the credential).
    pub(crate) fn check(&self, request: &Request) -> Result<(), HandshakeError> {
        // Which of several would count depends on who reads them (a proxy may check one
        // and forward another): refused, as several Host headers are.
        if request.headers.count("authorization") > 1 {
            return Err(HandshakeError::bad_request("more than one Authorization header"));
        }
        let reason = match request.headers.get("authorization") {
            None => "authentication required: no Authorization header",
            Some(value) => match split_scheme(value) {
                Some(token) if ct_eq(token, &self.token) => return Ok(()),
                Some(_) => "authentication failed: wrong credential",
                None => "authentication failed: Authorization is not Basic",
            },
        };
        Err(HandshakeError::new(401, reason).with_header("WWW-Authenticate", CHALLENGE))
    }
}

/// The token of `Basic <token>` (scheme in any case), or `None` for another scheme.
fn split_scheme(value: &[u8]) -> Option<&[u8]> {
    let value = value.trim_ascii();
    let (scheme, rest) = value.split_at(value.iter().position(|&b| b == b' ')?);
    scheme.eq_ignore_ascii_case(b"basic").then(|| rest.trim_ascii())
}

/// Whether `a == b`, in time that depends on their lengths only, not on where they differ.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    let n = a.len().max(b.len());
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= std::hint::black_box(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use wshd_proto::HandshakeLimits;
    use wshd_proto::handshake::parse_request;

    fn check(auth: &BasicAuth, header: Option<&str>) -> Result<(), HandshakeError> {
        let head = match header {
            Some(h) => format!("GET / HTTP/1.1\r\nAuthorization: {h}\r\n\r\n"),
            None => "GET / HTTP/1.1\r\n\r\n".to_owned(),
        };
        let req = parse_request(head.as_bytes(), &HandshakeLimits::default()).unwrap().unwrap().0;
        auth.check(&req)
    }

    #[test]
    fn rfc7617_accepts_the_credential_and_refuses_everything_else() {
        let auth = BasicAuth::new("test:test");
        assert_eq!(check(&auth, Some("Basic dGVzdDp0ZXN0")), Ok(()));
        assert_eq!(check(&auth, Some("basic  dGVzdDp0ZXN0 ")), Ok(()));
        for bad in [
            None,
            Some("Basic aW52YWxpZDp0ZXN0"),
            Some("Basic "),
            Some("Bearer dGVzdDp0ZXN0"),
            Some("Basic dGVzdDp0ZXN0dGVzdDp0ZXN0"),
            Some("dGVzdDp0ZXN0"),
        ] {
            let e = check(&auth, bad).unwrap_err();
            assert_eq!(e.status(), 401, "{bad:?}");
            assert_eq!(e.headers(), [("WWW-Authenticate".to_owned(), CHALLENGE.to_owned())]);
            assert!(!e.reason().contains("dGVzd"), "{}", e.reason());
        }
    }

    #[test]
    fn several_authorization_headers_are_refused_with_400() {
        let auth = BasicAuth::new("test:test");
        for second in ["Basic dGVzdDp0ZXN0", "Basic aW52YWxpZDp0ZXN0"] {
            let head = format!(
                "GET / HTTP/1.1\r\nAuthorization: Basic dGVzdDp0ZXN0\r\nAuthorization: {second}\r\n\r\n"
            );
            let req =
                parse_request(head.as_bytes(), &HandshakeLimits::default()).unwrap().unwrap().0;
            let e = auth.check(&req).unwrap_err();
            assert_eq!(e.status(), 400, "{second}");
            assert!(e.reason().contains("more than one Authorization"), "{}", e.reason());
        }
    }

    #[test]
    fn ct_eq_is_equality() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(!ct_eq(b"ab\0", b"ab"));
        assert!(!ct_eq(b"", b"a"));
    }
}
