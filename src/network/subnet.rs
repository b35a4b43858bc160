//! IPv4 subnets: parsing (`10.88.0.0/24`), the gateway and host addresses in one, and overlap
//! (with another network's subnet or a host route).

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 network: an address with its host bits zero, and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Subnet {
    network: Ipv4Addr,
    prefix: u8,
}

impl Subnet {
    /// `network/prefix`; the host bits of `network` must be zero.
    pub fn new(network: Ipv4Addr, prefix: u8) -> Result<Subnet, String> {
        if prefix > 32 {
            return Err(format!("prefix /{prefix} is longer than 32"));
        }
        let subnet = Subnet { network, prefix };
        if u32::from(network) & !subnet.mask() != 0 {
            let base = Ipv4Addr::from(u32::from(network) & subnet.mask());
            return Err(format!(
                "{network}/{prefix} has host bits set; the network is {base}/{prefix}"
            ));
        }
        Ok(subnet)
    }

    pub fn network(&self) -> Ipv4Addr {
        self.network
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }

    fn broadcast(&self) -> u32 {
        u32::from(self.network) | !self.mask()
    }

    pub fn contains(&self, address: Ipv4Addr) -> bool {
        u32::from(address) & self.mask() == u32::from(self.network)
    }

    /// Whether the two share at least one address (one contains the other).
    pub fn overlaps(&self, other: &Subnet) -> bool {
        self.contains(other.network) || other.contains(self.network)
    }

    /// The first host address: the bridge's own, the containers' default route.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }

    /// Host addresses for containers, in order: after the gateway, before the broadcast.
    pub fn hosts(&self) -> impl Iterator<Item = Ipv4Addr> {
        let first = u32::from(self.network) + 2;
        let last = self.broadcast().saturating_sub(1);
        (first..=last).map(Ipv4Addr::from)
    }

    /// Checks that a subnet can hold a bridge and at least one container: /30 or wider.
    pub fn check_usable(&self) -> Result<(), String> {
        if self.prefix > 30 {
            return Err(format!(
                "{self} has no room for a gateway and a container; use a /30 or wider (e.g. /24)"
            ));
        }
        Ok(())
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = String;

    fn from_str(text: &str) -> Result<Subnet, String> {
        let (address, prefix) = text
            .split_once('/')
            .ok_or_else(|| format!("{text:?} has no prefix length; write it as 10.89.0.0/24"))?;
        let network: Ipv4Addr = address
            .parse()
            .map_err(|_| format!("{address:?} is not an IPv4 address (as in 10.89.0.0/24)"))?;
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| format!("{prefix:?} is not a prefix length (0 to 32)"))?;
        Subnet::new(network, prefix)
    }
}

impl TryFrom<String> for Subnet {
    type Error = String;
    fn try_from(text: String) -> Result<Subnet, String> {
        text.parse()
    }
}

impl From<Subnet> for String {
    fn from(subnet: Subnet) -> String {
        subnet.to_string()
    }
}

/// Where a subnet is chosen from when a network names none: 10.90.0.0/24, 10.90.1.0/24, ...
/// (podman takes 10.88/16 and 10.89.x/24, Docker 172.17/16 and up: stay clear of both).
pub fn default_candidates() -> impl Iterator<Item = Subnet> {
    (0..=255u32).map(|third| Subnet {
        network: Ipv4Addr::from((10 << 24) | (90 << 16) | (third << 8)),
        prefix: 24,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let subnet: Subnet = "10.89.3.0/24".parse().unwrap();
        assert_eq!(subnet.to_string(), "10.89.3.0/24");
        assert_eq!(subnet.gateway(), Ipv4Addr::new(10, 89, 3, 1));
        let hosts: Vec<_> = subnet.hosts().collect();
        assert_eq!(hosts.len(), 253);
        assert_eq!(hosts[0], Ipv4Addr::new(10, 89, 3, 2));
        assert_eq!(hosts[252], Ipv4Addr::new(10, 89, 3, 254));
    }

    #[test]
    fn rejects_host_bits_and_bad_text() {
        let error = "10.89.3.7/24".parse::<Subnet>().unwrap_err();
        assert!(error.contains("10.89.3.0/24"), "{error}");
        assert!(
            "10.89.3.0"
                .parse::<Subnet>()
                .unwrap_err()
                .contains("prefix")
        );
        assert!("10.89.3.0/33".parse::<Subnet>().unwrap_err().contains("32"));
        assert!("ten/8".parse::<Subnet>().unwrap_err().contains("IPv4"));
        assert!(
            "10.0.0.0/31"
                .parse::<Subnet>()
                .unwrap()
                .check_usable()
                .is_err()
        );
    }

    #[test]
    fn overlap_is_containment_either_way() {
        let wide: Subnet = "10.0.0.0/8".parse().unwrap();
        let narrow: Subnet = "10.90.4.0/24".parse().unwrap();
        let other: Subnet = "10.91.0.0/16".parse().unwrap();
        assert!(wide.overlaps(&narrow) && narrow.overlaps(&wide));
        assert!(!narrow.overlaps(&other));
        let all: Subnet = "0.0.0.0/0".parse().unwrap();
        assert!(all.overlaps(&narrow));
    }
}
