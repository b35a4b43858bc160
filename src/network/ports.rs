//! Published ports: `80`, `8080:80`, `127.0.0.1:5353:53/udp`, `8080-8082:80-82`.
//!
//! The same text serves the root path (nftables DNAT) and the rootless one (pasta's `-t`/`-u`).

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// TCP or UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// A range of ports; a single port is a range of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl PortRange {
    pub fn len(&self) -> u32 {
        u32::from(self.last) - u32::from(self.first) + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    fn overlaps(&self, other: &PortRange) -> bool {
        self.first <= other.last && other.first <= self.last
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// One published port (or range): host address and port(s) → the container's port(s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PortSpec {
    /// The host address that accepts connections; `None`: every address of the host.
    pub host_address: Option<Ipv4Addr>,
    pub host: PortRange,
    pub container: PortRange,
    pub protocol: Protocol,
}

/// The most ports one range may publish (each is a rule per hook in nftables).
pub const MAX_RANGE: u32 = 256;

impl PortSpec {
    /// Each host port with the container port it reaches.
    pub fn pairs(&self) -> impl Iterator<Item = (u16, u16)> {
        let offset = self.container.first;
        (self.host.first..=self.host.last)
            .map(move |host| (host, offset + (host - self.host.first)))
    }

    /// Whether both would take one host port: same protocol, overlapping ports, and the same
    /// address or either on every address.
    pub fn clashes_with(&self, other: &PortSpec) -> bool {
        self.protocol == other.protocol
            && self.host.overlaps(&other.host)
            && match (self.host_address, other.host_address) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }

    /// pasta's form of the same mapping: `[ADDRESS/]PORTS[:PORTS]`.
    pub fn pasta_spec(&self) -> String {
        let address = self
            .host_address
            .map(|a| format!("{a}/"))
            .unwrap_or_default();
        format!("{address}{}:{}", self.host, self.container)
    }
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(address) = self.host_address {
            write!(f, "{address}:")?;
        }
        write!(
            f,
            "{}:{}/{}",
            self.host,
            self.container,
            self.protocol.name()
        )
    }
}

fn parse_range(text: &str, what: &str) -> Result<PortRange, String> {
    let port = |part: &str| -> Result<u16, String> {
        match part.parse::<u16>() {
            Ok(0) => Err(format!("{what} port 0 is not a port; use 1 to 65535")),
            Ok(port) => Ok(port),
            Err(_) => Err(format!(
                "{what} port {part:?} is not a number from 1 to 65535"
            )),
        }
    };
    let range = match text.split_once('-') {
        Some((first, last)) => PortRange {
            first: port(first)?,
            last: port(last)?,
        },
        None => {
            let single = port(text)?;
            PortRange {
                first: single,
                last: single,
            }
        }
    };
    if range.first > range.last {
        return Err(format!(
            "{what} range {text} runs backwards; write it low-high ({}-{})",
            range.last, range.first
        ));
    }
    if range.len() > MAX_RANGE {
        return Err(format!(
            "{what} range {text} has {} ports; at most {MAX_RANGE} in one entry",
            range.len()
        ));
    }
    Ok(range)
}

impl FromStr for PortSpec {
    type Err = String;

    /// `[HOST_ADDRESS:][HOST_PORTS:]CONTAINER_PORTS[/tcp|/udp]`.
    fn from_str(text: &str) -> Result<PortSpec, String> {
        let form = "write HOST:CONTAINER, e.g. \"8080:80\", \"127.0.0.1:5353:53/udp\" or \"80\"";
        if text.starts_with('[') {
            return Err(format!(
                "{text:?}: IPv6 host addresses are not supported yet; publish on an IPv4 address or on all of them (\"8080:80\")"
            ));
        }
        let (ports, protocol) = match text.rsplit_once('/') {
            Some((ports, "tcp")) => (ports, Protocol::Tcp),
            Some((ports, "udp")) => (ports, Protocol::Udp),
            Some((_, other)) => {
                return Err(format!("{text:?}: protocol {other:?} is not tcp or udp"));
            }
            None => (text, Protocol::Tcp),
        };
        let parts: Vec<&str> = ports.split(':').collect();
        let (host_address, host, container) = match parts.as_slice() {
            [container] => (None, *container, *container),
            [host, container] => (None, *host, *container),
            [address, host, container] => {
                let address: Ipv4Addr = address.parse().map_err(|_| {
                    format!("{text:?}: host address {address:?} is not an IPv4 address")
                })?;
                // 0.0.0.0 is every address, as when no address is written.
                (
                    Some(address).filter(|a| !a.is_unspecified()),
                    *host,
                    *container,
                )
            }
            _ => return Err(format!("{text:?} has too many ':'; {form}")),
        };
        if container.is_empty() || host.is_empty() {
            return Err(format!("{text:?} has an empty port; {form}"));
        }
        let host = parse_range(host, "host").map_err(|e| format!("{text:?}: {e}"))?;
        let container =
            parse_range(container, "container").map_err(|e| format!("{text:?}: {e}"))?;
        if host.len() != container.len() {
            return Err(format!(
                "{text:?}: the host range has {} ports and the container range {}; they must be as long",
                host.len(),
                container.len()
            ));
        }
        Ok(PortSpec {
            host_address,
            host,
            container,
            protocol,
        })
    }
}

/// Parses every entry; the error names each entry that is wrong, and two entries that take
/// the same host port.
pub fn parse_all<S: AsRef<str>>(entries: &[S]) -> Result<Vec<PortSpec>, String> {
    let mut specs = Vec::new();
    let mut problems = Vec::new();
    for entry in entries {
        match entry.as_ref().parse::<PortSpec>() {
            Ok(spec) => {
                if let Some(earlier) = specs.iter().find(|s: &&PortSpec| s.clashes_with(&spec)) {
                    problems.push(format!(
                        "{:?} takes host port(s) {} that {earlier} takes already",
                        entry.as_ref(),
                        spec.host
                    ));
                }
                specs.push(spec);
            }
            Err(problem) => problems.push(problem),
        }
    }
    if problems.is_empty() {
        Ok(specs)
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> PortSpec {
        text.parse().unwrap()
    }

    #[test]
    fn the_three_forms() {
        assert_eq!(spec("80").to_string(), "80:80/tcp");
        assert_eq!(spec("8080:80").to_string(), "8080:80/tcp");
        let udp = spec("127.0.0.1:5353:53/udp");
        assert_eq!(udp.host_address, Some(Ipv4Addr::LOCALHOST));
        assert_eq!(udp.protocol, Protocol::Udp);
        assert_eq!(udp.pasta_spec(), "127.0.0.1/5353:53");
    }

    #[test]
    fn ranges_pair_port_by_port() {
        let range = spec("8080-8082:80-82");
        let pairs: Vec<_> = range.pairs().collect();
        assert_eq!(pairs, vec![(8080, 80), (8081, 81), (8082, 82)]);
        assert_eq!(range.pasta_spec(), "8080-8082:80-82");
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let error = |text: &str| text.parse::<PortSpec>().unwrap_err();
        assert!(error("0:80").contains("port 0"));
        assert!(error("99999:80").contains("1 to 65535"));
        assert!(error("8080:80/sctp").contains("sctp"));
        assert!(error("a:b:c:d").contains("too many"));
        assert!(error("localhost:80:80").contains("IPv4"));
        assert!(error("8080-8081:80").contains("as long"));
        assert!(error("90-80").contains("backwards"));
        assert!(error("1-1000").contains("at most"));
        assert!(error("[::1]:80:80").contains("IPv6"));
        assert!(error(":80").contains("empty"));
    }

    #[test]
    fn two_entries_on_one_host_port_clash() {
        let error = parse_all(&["8080:80", "0.0.0.0:8080:81"]).unwrap_err();
        assert!(error.contains("8080"), "{error}");
        assert!(parse_all(&["8080:80", "8080:80/udp"]).is_ok());
        assert!(parse_all(&["127.0.0.1:53:53/udp", "127.0.0.2:53:53/udp"]).is_ok());
    }
}
