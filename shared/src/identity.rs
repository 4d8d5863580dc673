//! Who the client is, as far as nobody but the platform can say: the address the rate
//! limit counts and `context.ip` stores.
//!
//! The adapter hands the core the transport peer as its platform knows it (Cloudflare
//! Workers: `CF-Connecting-IP`, which Cloudflare's edge overwrites; Spin: the
//! `spin-client-addr` the Spin host sets). `X-Forwarded-For` counts only when that peer is
//! in `TRUSTED_PROXIES`; then the client is the rightmost hop that is not itself a trusted
//! proxy (every proxy appends; only the left part is the client's own writing). Headers a
//! proxy passes through unchanged (`CF-Connecting-IP`, `X-Real-IP` behind nginx, an ALB
//! or an ingress) are never believed. IPv6 clients are bucketed per /64, the block one
//! subscriber gets.

use std::net::IpAddr;

/// One `TRUSTED_PROXIES` entry: an address block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parse `10.0.0.0/8`, `2001:db8::/32`, or a single address.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or CIDR block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Self { addr, prefix })
    }

    /// Whether `ip` is inside this block (IPv4-mapped IPv6 counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                same_prefix(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                same_prefix(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn same_prefix(a: &[u8], b: &[u8], bits: u8) -> bool {
    let full = usize::from(bits / 8);
    let rest = bits % 8;
    if a.get(..full) != b.get(..full) {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    matches!((a.get(full), b.get(full)), (Some(x), Some(y)) if x & mask == y & mask)
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// `TRUSTED_PROXIES`: the peers whose proxy headers are believed (default: none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// Parse a comma list of CIDR blocks or addresses.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(Cidr::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }
}

/// Parse an address as hosts write it: `1.2.3.4`, `1.2.3.4:5678`, `[::1]:80`, `::1`.
pub fn parse_addr(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    s.parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
        .map(canonical)
}

/// The client's address: the peer, unless the peer is a trusted proxy; then the rightmost
/// `X-Forwarded-For` hop that is not a trusted proxy (the peer itself when there is none).
pub fn client_ip(
    headers: &http::HeaderMap,
    peer: Option<IpAddr>,
    trusted: &TrustedProxies,
) -> Option<IpAddr> {
    let peer = peer.map(canonical)?;
    if !trusted.contains(peer) {
        return Some(peer);
    }
    let mut hops: Vec<IpAddr> = Vec::new();
    for v in headers.get_all("x-forwarded-for") {
        let text = v.to_str().unwrap_or_default();
        hops.extend(text.split(',').filter_map(parse_addr));
    }
    hops.into_iter()
        .rev()
        .find(|ip| !trusted.contains(*ip))
        .or(Some(peer))
}

/// The rate-limit bucket of a client: the IPv4 address, the IPv6 /64, or `unknown`.
pub fn bucket(ip: Option<IpAddr>) -> String {
    match ip.map(canonical) {
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(v4) => v4.to_string(),
        None => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
        let mut m = http::HeaderMap::new();
        for (k, v) in pairs {
            m.append(*k, v.parse().unwrap());
        }
        m
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn cidr_blocks() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains("10.200.1.1".parse().unwrap()));
        assert!(!c.contains("11.0.0.1".parse().unwrap()));
        assert!(c.contains("::ffff:10.1.2.3".parse().unwrap()));
        let c = Cidr::parse("2001:db8::/33").unwrap();
        assert!(c.contains("2001:db8:7fff::1".parse().unwrap()));
        assert!(!c.contains("2001:db8:8000::1".parse().unwrap()));
        assert!(
            Cidr::parse("127.0.0.1")
                .unwrap()
                .contains("127.0.0.1".parse().unwrap())
        );
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        for bad in ["10.0.0.0/33", "::/129", "x", "10.0.0.0/", "1.2.3.4/-1"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
        assert!(TrustedProxies::parse("10.0.0.0/8, ,::1").is_ok());
        assert!(TrustedProxies::parse("10.0.0.0/8,nope").is_err());
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let forged = h(&[
            ("cf-connecting-ip", "1.1.1.1"),
            ("x-forwarded-for", "2.2.2.2"),
            ("x-real-ip", "3.3.3.3"),
        ]);
        let none = TrustedProxies::default();
        assert_eq!(
            client_ip(&forged, ip("203.0.113.5"), &none),
            ip("203.0.113.5")
        );
        assert_eq!(client_ip(&forged, None, &none), None);
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let t = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let peer = ip("10.0.0.7");
        // rightmost untrusted hop: the client cannot prepend its way past the proxy
        let xff = h(&[("x-forwarded-for", "6.6.6.6, 198.51.100.4, 10.0.0.9")]);
        assert_eq!(client_ip(&xff, peer, &t), ip("198.51.100.4"));
        // headers a proxy passes through are the client's own writing: ignored
        let passed = h(&[
            ("cf-connecting-ip", "2001:db8::1"),
            ("x-real-ip", "7.7.7.7"),
        ]);
        assert_eq!(client_ip(&passed, peer, &t), peer);
        assert_eq!(client_ip(&h(&[]), peer, &t), peer);
        assert_eq!(
            client_ip(&h(&[("x-forwarded-for", "10.1.1.1")]), peer, &t),
            peer
        );
    }

    #[test]
    fn buckets_are_per_ipv4_address_and_per_ipv6_64() {
        assert_eq!(bucket(ip("198.51.100.4")), "198.51.100.4");
        assert_eq!(
            bucket(ip("2001:db8:1:2:aaaa::1")),
            bucket(ip("2001:db8:1:2:ffff:1:2:3"))
        );
        assert_eq!(bucket(ip("2001:db8:1:2::9")), "2001:db8:1:2::/64");
        assert_ne!(bucket(ip("2001:db8:1:3::1")), bucket(ip("2001:db8:1:2::1")));
        assert_eq!(bucket(ip("::ffff:198.51.100.4")), "198.51.100.4");
        assert_eq!(bucket(None), "unknown");
        assert_eq!(parse_addr("[::1]:8080"), ip("::1"));
        assert_eq!(parse_addr("127.0.0.1:5000"), ip("127.0.0.1"));
    }

    #[test]
    fn finding_2a_a_client_written_cf_connecting_ip_does_not_beat_the_proxy_hop() {
        let t = TrustedProxies::parse("10.0.0.0/8").unwrap();
        // nginx at 10.0.0.7: proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        // every other client header passes through unchanged.
        let forged = h(&[
            ("cf-connecting-ip", "6.6.6.6"),
            ("x-forwarded-for", "198.51.100.4"),
        ]);
        assert_eq!(client_ip(&forged, ip("10.0.0.7"), &t), ip("198.51.100.4"));
        // and with a fresh forged value per request, a fresh bucket per request
        let rotated = h(&[
            ("cf-connecting-ip", "6.6.6.7"),
            ("x-forwarded-for", "198.51.100.4"),
        ]);
        assert_eq!(
            bucket(client_ip(&forged, ip("10.0.0.7"), &t)),
            bucket(client_ip(&rotated, ip("10.0.0.7"), &t))
        );
    }

    #[test]
    fn finding_2b_workers_behind_a_trusted_proxy_sees_the_client_not_the_proxy() {
        // A proxy/WAF at 192.0.2.10 in front of the Cloudflare zone: Cloudflare sets
        // CF-Connecting-IP to the proxy and appends it to X-Forwarded-For.
        let t = TrustedProxies::parse("192.0.2.0/24").unwrap();
        let hdr = h(&[
            ("cf-connecting-ip", "192.0.2.10"),
            ("x-forwarded-for", "198.51.100.4, 192.0.2.10"),
        ]);
        let peer = parse_addr("192.0.2.10"); // what the Workers adapter passes as peer_ip
        assert_eq!(client_ip(&hdr, peer, &t), ip("198.51.100.4"));
    }

    proptest! {
        #[test]
        fn any_header_text_gives_an_answer(xff in "\\PC{0,200}", peer in proptest::option::of(any::<[u8; 4]>())) {
            let t = TrustedProxies::parse("0.0.0.0/0").unwrap();
            let mut m = http::HeaderMap::new();
            if let Ok(v) = xff.parse() { m.insert("x-forwarded-for", v); }
            let _ = client_ip(&m, peer.map(IpAddr::from), &t);
        }
    }
}
