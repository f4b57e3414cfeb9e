//! Tokenizers for the header values the handshake reads (`Connection`,
//! `Sec-WebSocket-Protocol`, `Sec-WebSocket-Extensions`) and the checks used before we write
//! a header.
//!
//! Every parser here makes one left-to-right pass over the value with a cursor: no regex,
//! no backtracking, so time is linear in the input whatever the peer sends (the
//! `split(/ *, */)` ReDoS of CVE-2021-32640 and the unterminated quoted-string ReDoS of
//! CVE-2020-7662/7663 cannot happen). This is not a general HTTP header library: it knows
//! the RFC 7230 `#rule`, `token`, `quoted-string`, and the RFC 6455 §9.1 extension grammar,
//! nothing else.

use std::fmt;

use super::error::InvalidHeader;

/// A header value that does not follow its grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSyntaxError {
    reason: &'static str,
    position: usize,
}

impl HeaderSyntaxError {
    /// What was expected or wrong.
    pub fn reason(&self) -> &'static str {
        self.reason
    }

    /// Byte offset in the value where the problem was found.
    pub fn position(&self) -> usize {
        self.position
    }
}

impl fmt::Display for HeaderSyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.reason, self.position)
    }
}

impl std::error::Error for HeaderSyntaxError {}

/// RFC 7230 §3.2.6 `tchar`.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 7230 §3.2.6 `token = 1*tchar`.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// Whether `s` can be written as a header field value without breaking the framing: no
/// control character except HTAB (so no CR, LF or NUL). Non-ASCII is allowed (`obs-text`).
pub fn is_field_value(s: &str) -> bool {
    s.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// Appends `name: value\r\n` to `out`, after checking that `name` is a token and `value`
/// a safe field value.
pub(crate) fn push_field(out: &mut Vec<u8>, name: &str, value: &str) -> Result<(), InvalidHeader> {
    if !is_token(name) {
        return Err(InvalidHeader::new(name, "name is not an HTTP token"));
    }
    if !is_field_value(value) {
        return Err(InvalidHeader::new(name, "value contains CR, LF, NUL or a control character"));
    }
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// A cursor over a header value. Every method advances or fails; none goes back.
struct Cursor<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(src: &'a str) -> Self {
        Cursor { src, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.pos += usize::from(hit);
        hit
    }

    /// RFC 7230 `OWS = *( SP / HTAB )`.
    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// The longest run of `tchar` here, or `None` if there is none.
    fn token(&mut self) -> Option<&'a str> {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        // Boundaries sit next to ASCII bytes, so they are char boundaries.
        (self.pos > start).then(|| &self.src[start..self.pos])
    }

    /// RFC 7230 §3.2.6 `quoted-string`, unescaped; the cursor is on the opening `"`.
    fn quoted_string(&mut self) -> Result<Vec<u8>, HeaderSyntaxError> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let b = self.peek().ok_or_else(|| self.error("unterminated quoted-string"))?;
            self.pos += 1;
            match b {
                b'"' => return Ok(out),
                b'\\' => {
                    let escaped =
                        self.peek().ok_or_else(|| self.error("unterminated quoted-string"))?;
                    if !is_qtext_or_escapable(escaped) {
                        return Err(self.error("invalid character after backslash"));
                    }
                    self.pos += 1;
                    out.push(escaped);
                }
                b if is_qtext_or_escapable(b) => out.push(b),
                _ => return Err(self.error("invalid character in quoted-string")),
            }
        }
    }

    fn error(&self, reason: &'static str) -> HeaderSyntaxError {
        HeaderSyntaxError { reason, position: self.pos }
    }

    /// After a list element: end of input, or a comma (consumed). Anything else is an error.
    fn end_of_element(&mut self, reason: &'static str) -> Result<bool, HeaderSyntaxError> {
        self.skip_ows();
        match self.peek() {
            None => Ok(true),
            Some(b',') => {
                self.pos += 1;
                Ok(false)
            }
            Some(_) => Err(self.error(reason)),
        }
    }

    /// Before a list element: skips OWS and empty elements (`#rule` allows `a, , b`).
    /// Returns false at the end of input.
    fn start_of_element(&mut self) -> bool {
        loop {
            self.skip_ows();
            if !self.eat(b',') {
                return self.peek().is_some();
            }
        }
    }
}

/// `qdtext` and the characters a `quoted-pair` may escape: HTAB, SP, VCHAR, obs-text.
/// (`"` and `\` are handled by the caller before this is asked.)
fn is_qtext_or_escapable(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

/// Parses RFC 7230 `1#token`, e.g. `Connection: keep-alive, Upgrade` or
/// `Sec-WebSocket-Protocol: chat, superchat`.
///
/// OWS around commas is skipped and empty elements (`a, , b`) are tolerated as the `#rule`
/// asks, but at least one token must be present. Tokens keep their case. Any character that
/// is neither a `tchar`, OWS nor a comma is an error.
pub fn parse_token_list(value: &str) -> Result<Vec<String>, HeaderSyntaxError> {
    let mut c = Cursor::new(value);
    let mut tokens = Vec::new();
    while c.start_of_element() {
        let token = c.token().ok_or_else(|| c.error("expected a token"))?;
        tokens.push(token.to_owned());
        if c.end_of_element("expected ',' after a token")? {
            break;
        }
    }
    if tokens.is_empty() {
        return Err(c.error("no token in list"));
    }
    Ok(tokens)
}

/// One element of `Sec-WebSocket-Extensions` (RFC 6455 §9.1): a name and its parameters in
/// the order they were written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtensionOffer {
    /// The extension token, e.g. `permessage-deflate`.
    pub name: String,
    /// Parameters; the value is `None` for a bare `; client_no_context_takeover`. A quoted
    /// value is stored unquoted.
    pub params: Vec<(String, Option<String>)>,
}

impl ExtensionOffer {
    /// An offer with no parameters.
    pub fn new(name: impl Into<String>) -> Self {
        ExtensionOffer { name: name.into(), params: Vec::new() }
    }

    /// Adds a parameter (builder style).
    #[must_use]
    pub fn with_param(mut self, name: impl Into<String>, value: Option<&str>) -> Self {
        self.params.push((name.into(), value.map(str::to_owned)));
        self
    }

    /// The first parameter called `name` (compared exactly): `None` if absent,
    /// `Some(None)` if present without a value, `Some(Some(v))` otherwise.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_deref())
    }

    /// Whether a parameter called `name` is present, with or without a value.
    pub fn has_param(&self, name: &str) -> bool {
        self.param(name).is_some()
    }
}

/// Parses a `Sec-WebSocket-Extensions` value (RFC 6455 §9.1):
/// `ext; p=v; q="10", ext2` into offers in order.
///
/// Parameter values are a token or a quoted-string; a quoted value must itself be a token
/// once unquoted, as §9.1 requires (so `q="a b"` is an error). OWS is allowed around `;`,
/// `=` and `,`, empty list elements are skipped, and at least one extension must be present.
/// An unterminated quoted-string is an error, found in one pass.
pub fn parse_extensions(value: &str) -> Result<Vec<ExtensionOffer>, HeaderSyntaxError> {
    let mut c = Cursor::new(value);
    let mut offers = Vec::new();
    while c.start_of_element() {
        let name = c.token().ok_or_else(|| c.error("expected an extension name"))?;
        let mut offer = ExtensionOffer::new(name);
        loop {
            c.skip_ows();
            if !c.eat(b';') {
                break;
            }
            c.skip_ows();
            let param = c.token().ok_or_else(|| c.error("expected a parameter name"))?;
            c.skip_ows();
            let value = if c.eat(b'=') {
                c.skip_ows();
                Some(param_value(&mut c)?)
            } else {
                None
            };
            offer.params.push((param.to_owned(), value));
        }
        offers.push(offer);
        if c.end_of_element("expected ',' or ';' after an extension")? {
            break;
        }
    }
    if offers.is_empty() {
        return Err(c.error("no extension in list"));
    }
    Ok(offers)
}

/// A parameter value: a token, or a quoted-string whose content is a token.
fn param_value(c: &mut Cursor<'_>) -> Result<String, HeaderSyntaxError> {
    if c.peek() == Some(b'"') {
        let start = c.pos;
        let raw = c.quoted_string()?;
        match String::from_utf8(raw) {
            Ok(s) if is_token(&s) => Ok(s),
            _ => Err(HeaderSyntaxError {
                reason: "quoted parameter value is not a token (RFC 6455 §9.1)",
                position: start,
            }),
        }
    } else {
        c.token().map(str::to_owned).ok_or_else(|| c.error("expected a parameter value"))
    }
}

/// Formats offers as a `Sec-WebSocket-Extensions` value: `name; p=v; q` joined by `, `.
///
/// A value that is not a token (which RFC 6455 §9.1 does not allow, and [`parse_extensions`]
/// never produces) is written as an escaped quoted-string so the result is at least a
/// well-formed header value.
pub fn format_extensions(offers: &[ExtensionOffer]) -> String {
    let mut out = String::new();
    for (i, offer) in offers.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&offer.name);
        for (name, value) in &offer.params {
            out.push_str("; ");
            out.push_str(name);
            if let Some(value) = value {
                out.push('=');
                if is_token(value) {
                    out.push_str(value);
                } else {
                    out.push('"');
                    for ch in value.chars() {
                        if ch == '"' || ch == '\\' {
                            out.push('\\');
                        }
                        out.push(ch);
                    }
                    out.push('"');
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::{Duration, Instant};

    fn offer(name: &str, params: &[(&str, Option<&str>)]) -> ExtensionOffer {
        params.iter().fold(ExtensionOffer::new(name), |o, (n, v)| o.with_param(*n, *v))
    }

    #[test]
    fn rfc7230_3_2_6_tokens() {
        assert!(is_token("permessage-deflate"));
        assert!(is_token("!#$%&'*+-.^_`|~09azAZ"));
        for bad in ["", "a b", "a,b", "a;b", "a\"b", "a=b", "é", "a\tb", "a/b", "(a)"] {
            assert!(!is_token(bad), "{bad:?}");
        }
        assert!(is_field_value("text/plain; q=\"x\"\t é"));
        for bad in ["a\r\nb", "a\nb", "a\rb", "a\0b", "a\x7fb", "a\x1bb"] {
            assert!(!is_field_value(bad), "{bad:?}");
        }
    }

    #[test]
    fn rfc7230_7_token_list_with_ows_and_empty_elements() {
        assert_eq!(parse_token_list("chat").unwrap(), ["chat"]);
        assert_eq!(parse_token_list("keep-alive, Upgrade").unwrap(), ["keep-alive", "Upgrade"]);
        assert_eq!(parse_token_list(" a ,\tb\t,c ").unwrap(), ["a", "b", "c"]);
        assert_eq!(parse_token_list(",a,,  , b,").unwrap(), ["a", "b"]);
    }

    #[test]
    fn rfc7230_7_token_list_rejects_empty_and_invalid() {
        for bad in ["", " ", ",", " , ,", "a b", "a;b", "a,\"b\"", "a, b c", "é", "a/b", "a,\r\nb"]
        {
            assert!(parse_token_list(bad).is_err(), "{bad:?}");
        }
        let e = parse_token_list("chat, super chat").unwrap_err();
        assert_eq!(e.position(), 12);
        assert_eq!(e.reason(), "expected ',' after a token");
    }

    #[test]
    fn rfc6455_9_1_extension_list() {
        let got = parse_extensions(
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10, x-foo",
        )
        .unwrap();
        assert_eq!(
            got,
            [
                offer(
                    "permessage-deflate",
                    &[("client_max_window_bits", None), ("server_max_window_bits", Some("10"))]
                ),
                offer("x-foo", &[]),
            ]
        );
        assert_eq!(got[0].param("server_max_window_bits"), Some(Some("10")));
        assert_eq!(got[0].param("client_max_window_bits"), Some(None));
        assert_eq!(got[0].param("nope"), None);
        assert!(got[0].has_param("client_max_window_bits"));
        // OWS everywhere it may appear, and empty elements.
        let got = parse_extensions(" , a ;\tb = 1 ; c ,, d ,").unwrap();
        assert_eq!(got, [offer("a", &[("b", Some("1")), ("c", None)]), offer("d", &[])]);
    }

    #[test]
    fn rfc6455_9_1_extension_params_quoted_string() {
        let got = parse_extensions(r#"ext; p="10"; q="a\bc", e2; x="y""#).unwrap();
        assert_eq!(
            got,
            [
                offer("ext", &[("p", Some("10")), ("q", Some("abc"))]),
                offer("e2", &[("x", Some("y"))])
            ]
        );
    }

    #[test]
    fn rfc6455_9_1_quoted_value_must_be_a_token() {
        // Syntactically a quoted-string, but not a token once unquoted.
        for bad in [r#"ext; q="quoted \"string\"""#, r#"ext; q="a b""#, r#"ext; q="""#] {
            let e = parse_extensions(bad).unwrap_err();
            assert!(e.reason().contains("not a token"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn rfc6455_9_1_extension_syntax_errors() {
        for bad in [
            "",
            " , ",
            "ext;",
            "ext; =1",
            "ext; p=",
            "ext; p=\"unterminated",
            "ext; p=\"ends in backslash\\",
            "ext; p=a b",
            "ext p",
            "ext; p=1 q=2",
            ";ext",
            "ext; p=\"a\"b",
            "ext; p=\"\x01\"",
            "ext,, e x",
        ] {
            assert!(parse_extensions(bad).is_err(), "{bad:?}");
        }
        let e = parse_extensions("a;b=\"\\c\\c").unwrap_err();
        assert_eq!(e.reason(), "unterminated quoted-string");
    }

    #[test]
    fn rfc6455_9_1_format_extensions() {
        let offers = [
            offer("permessage-deflate", &[("client_no_context_takeover", None), ("w", Some("9"))]),
            offer("x", &[]),
        ];
        assert_eq!(
            format_extensions(&offers),
            "permessage-deflate; client_no_context_takeover; w=9, x"
        );
        assert_eq!(format_extensions(&[]), "");
        assert_eq!(
            format_extensions(&[offer("e", &[("q", Some("a \"b\\"))])]),
            r#"e; q="a \"b\\""#
        );
    }

    /// CVE-2020-7662/7663 (websocket-extensions ReDoS) and CVE-2021-32640 (ws protocol
    /// header ReDoS): 100k-character hostile values must be rejected in one pass.
    #[test]
    fn rfc6455_9_1_redos_inputs_are_linear() {
        let n = 100_000;
        let unterminated = format!("a;b=\"{}", "\\c".repeat(n / 2));
        let many_spaces = format!("a{}b", " ".repeat(n));
        let spaces_commas = format!("a{}", " ,".repeat(n / 2)) + "b c";
        let semis = format!("a{}", "; b".repeat(n / 3)) + "; =";
        let start = Instant::now();
        for _ in 0..10 {
            assert!(parse_extensions(&unterminated).is_err());
            assert!(parse_extensions(&many_spaces).is_err());
            assert!(parse_extensions(&semis).is_err());
            assert!(parse_token_list(&many_spaces).is_err());
            assert!(parse_token_list(&spaces_commas).is_err());
            assert!(parse_token_list(&unterminated).is_err());
        }
        assert_eq!(parse_token_list(&format!("a{}", " ,".repeat(n / 2))).unwrap(), ["a"]);
        assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
    }

    fn token() -> impl Strategy<Value = String> {
        "[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}"
    }

    fn offers() -> impl Strategy<Value = Vec<ExtensionOffer>> {
        let param = (token(), proptest::option::of(token()));
        let offer = (token(), proptest::collection::vec(param, 0..4))
            .prop_map(|(name, params)| ExtensionOffer { name, params });
        proptest::collection::vec(offer, 1..5)
    }

    proptest! {
        #[test]
        fn rfc6455_9_1_format_then_parse_round_trips(offers in offers()) {
            prop_assert_eq!(parse_extensions(&format_extensions(&offers)).unwrap(), offers);
        }

        #[test]
        fn rfc6455_9_1_parsers_never_panic(
            s in "[ \t,;=\"\\\\a-z\u{80}-\u{10ffff}\x00-\x1f]{0,64}",
        ) {
            let _ = parse_extensions(&s);
            let _ = parse_token_list(&s);
        }

        #[test]
        fn rfc7230_7_token_list_round_trips(tokens in proptest::collection::vec(token(), 1..8)) {
            prop_assert_eq!(parse_token_list(&tokens.join(" ,\t")).unwrap(), tokens);
        }
    }
}
