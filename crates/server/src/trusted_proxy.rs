//! [`TrustedProxy`]: a reverse proxy (an address or a network) whose `Forwarded` and
//! `X-Forwarded-For` headers name the client a WebSocket or HTTP request is for. The
//! headers themselves are read by `wshd_proto::handshake::forwarded_client`; this is
//! only the address set and its parsing.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An address (`127.0.0.1`, `::1`) or a network in CIDR form (`10.0.0.0/8`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy {
    network: IpAddr,
    prefix: u8,
}

impl TrustedProxy {
    /// Whether `ip` lies in this network. IPv4 addresses mapped into IPv6
    /// (`::ffff:10.0.0.2`, as a dual-stack socket reports them) count as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

/// Whether the first `prefix` bits of `a` and `b` are equal.
fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let (bytes, bits) = (usize::from(prefix / 8), prefix % 8);
    if a[..bytes] != b[..bytes] {
        return false;
    }
    bits == 0 || (a[bytes] ^ b[bytes]) >> (8 - bits) == 0
}

impl FromStr for TrustedProxy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let network: IpAddr = addr.parse().map_err(|_| {
            format!("{s:?} is not an IP address or network (examples: 127.0.0.1, 10.0.0.0/8, ::1)")
        })?;
        let network = network.to_canonical();
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(p) if p <= max => p,
                _ => return Err(format!("{s:?}: the prefix length must be 0 to {max}")),
            },
        };
        Ok(TrustedProxy { network, prefix })
    }
}

impl fmt::Display for TrustedProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> TrustedProxy {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_and_networks_contain_what_they_should() {
        assert!(net("127.0.0.1").contains("127.0.0.1".parse().unwrap()));
        assert!(!net("127.0.0.1").contains("127.0.0.2".parse().unwrap()));
        assert!(net("10.0.0.0/8").contains("10.200.3.4".parse().unwrap()));
        assert!(!net("10.0.0.0/8").contains("11.0.0.1".parse().unwrap()));
        assert!(net("192.168.4.0/22").contains("192.168.7.255".parse().unwrap()));
        assert!(!net("192.168.4.0/22").contains("192.168.8.0".parse().unwrap()));
        assert!(net("fd00::/8").contains("fd12::1".parse().unwrap()));
        assert!(!net("fd00::/8").contains("fe80::1".parse().unwrap()));
        assert!(net("0.0.0.0/0").contains("203.0.113.1".parse().unwrap()));
        assert!(!net("0.0.0.0/0").contains("::1".parse().unwrap()), "families never mix");
        assert!(net("10.0.0.0/8").contains("::ffff:10.0.0.2".parse().unwrap()), "mapped IPv4");
    }

    #[test]
    fn bad_input_says_what_is_expected() {
        assert!("proxy.example".parse::<TrustedProxy>().unwrap_err().contains("examples"));
        assert!("10.0.0.0/33".parse::<TrustedProxy>().unwrap_err().contains("0 to 32"));
        assert!("::1/129".parse::<TrustedProxy>().unwrap_err().contains("0 to 128"));
        assert_eq!(net("10.1.2.3/8").to_string(), "10.1.2.3/8");
    }
}
