//! The client's address behind reverse proxies, from RFC 7239 `Forwarded` or the de facto
//! `X-Forwarded-For`, believed only as far as the chain of proxies is trusted.
//!
//! Anyone can send these headers, so they are read only when the TCP peer is a trusted
//! proxy, and then from the right (the hop nearest to us) leftwards, past every trusted
//! proxy, to the first address that is not one: that is the client. A hop that cannot
//! be read (`unknown`, an obfuscated name, garbage) stops the walk, and the peer's own
//! address stands. `Forwarded` is used when present, `X-Forwarded-For` otherwise.
//!
//! Which proxies are trusted is the caller's policy (a predicate); this module only reads
//! headers. It does not look at `Forwarded`'s `proto`, `host` or `by`.

use std::net::{IpAddr, SocketAddr};

use super::Headers;

/// The client `peer` forwarded for, when `peer` is trusted and the headers name one;
/// `None` means: use `peer` itself. A forwarded address without a port gets port 0.
pub fn forwarded_client(
    headers: &Headers,
    peer: SocketAddr,
    trusted: impl Fn(IpAddr) -> bool,
) -> Option<SocketAddr> {
    if !trusted(peer.ip()) {
        return None;
    }
    let mut hops: Vec<Option<SocketAddr>> = Vec::new();
    if headers.count("forwarded") > 0 {
        for value in headers.get_all("forwarded") {
            let value = std::str::from_utf8(value).ok()?;
            hops.extend(split_list(value).map(forwarded_for));
        }
    } else {
        for value in headers.get_all("x-forwarded-for") {
            let value = std::str::from_utf8(value).ok()?;
            hops.extend(split_list(value).map(node));
        }
    }
    let mut client = None;
    for hop in hops.into_iter().rev() {
        let addr = hop?;
        client = Some(addr);
        if !trusted(addr.ip()) {
            break;
        }
    }
    client
}

/// The elements of a comma-separated list, trimmed; commas inside quoted strings do not
/// split (RFC 7239 §4 allows quoted values).
fn split_list(value: &str) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    let mut start = 0;
    let mut parts = Vec::new();
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts.into_iter().map(str::trim).filter(|p| !p.is_empty())
}

/// The `for=` node of one `Forwarded` element (`for=192.0.2.60;proto=http`), if readable.
fn forwarded_for(element: &str) -> Option<SocketAddr> {
    let value = element.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        name.trim().eq_ignore_ascii_case("for").then(|| value.trim())
    })?;
    let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
    node(value)
}

/// A node: `192.0.2.60`, `192.0.2.60:47011`, `[2001:db8::17]`, `[2001:db8::17]:4711`, or a
/// bare IPv6 address as `X-Forwarded-For` writes it. Ports default to 0.
fn node(value: &str) -> Option<SocketAddr> {
    if let Ok(ip) = value.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, 0));
    }
    if let Ok(addr) = value.parse::<SocketAddr>() {
        return Some(addr);
    }
    let ip = value.strip_prefix('[')?.strip_suffix(']')?.parse::<IpAddr>().ok()?;
    Some(SocketAddr::new(ip, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        let mut h = Headers::new();
        for (name, value) in pairs {
            h.push(*name, value.as_bytes());
        }
        h
    }

    const PROXY: &str = "10.0.0.2:51000";

    fn trusted(ip: IpAddr) -> bool {
        matches!(ip, IpAddr::V4(v4) if v4.octets()[0] == 10)
    }

    fn client(pairs: &[(&str, &str)]) -> Option<SocketAddr> {
        forwarded_client(&headers(pairs), PROXY.parse().unwrap(), trusted)
    }

    #[test]
    fn an_untrusted_peer_is_never_believed() {
        let h = headers(&[("X-Forwarded-For", "203.0.113.9")]);
        assert_eq!(forwarded_client(&h, "192.0.2.1:5000".parse().unwrap(), trusted), None);
    }

    #[test]
    fn x_forwarded_for_is_read_from_the_right_past_trusted_proxies() {
        let got = client(&[("X-Forwarded-For", "198.51.100.7, 203.0.113.9, 10.1.1.1")]);
        // 203.0.113.9 is the first hop we do not trust: whatever it claims is its own.
        assert_eq!(got, Some("203.0.113.9:0".parse().unwrap()));
        let got = client(&[("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-For", "10.1.1.1")]);
        assert_eq!(got, Some("203.0.113.9:0".parse().unwrap()), "repeated headers join");
        let got = client(&[("X-Forwarded-For", "2001:db8::5, [2001:db8::6]:8080")]);
        assert_eq!(got, Some("[2001:db8::6]:8080".parse().unwrap()));
    }

    #[test]
    fn forwarded_is_preferred_and_its_quoted_nodes_and_ports_are_read() {
        let got = client(&[
            ("X-Forwarded-For", "198.51.100.1"),
            ("Forwarded", r#"for=192.0.2.43;proto=https, for="[2001:db8:cafe::17]:4711""#),
        ]);
        assert_eq!(got, Some("[2001:db8:cafe::17]:4711".parse().unwrap()));
        let got = client(&[("Forwarded", "For=\"192.0.2.60:47011\";by=10.0.0.2")]);
        assert_eq!(got, Some("192.0.2.60:47011".parse().unwrap()));
    }

    #[test]
    fn an_unreadable_hop_stops_the_walk() {
        assert_eq!(client(&[("Forwarded", "for=unknown")]), None);
        assert_eq!(client(&[("Forwarded", "for=_hidden, for=10.1.1.1")]), None);
        assert_eq!(client(&[("X-Forwarded-For", "203.0.113.9, not-an-address")]), None);
        assert_eq!(client(&[("X-Forwarded-For", "")]), None);
        assert_eq!(client(&[]), None);
    }

    #[test]
    fn a_chain_of_trusted_proxies_only_gives_its_first_hop() {
        let got = client(&[("X-Forwarded-For", "10.9.9.9, 10.1.1.1")]);
        assert_eq!(got, Some("10.9.9.9:0".parse().unwrap()));
    }
}
