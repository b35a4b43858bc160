//! `[network]` (and the older `namespaces.net`) into the spec's [`NetworkSetup`]: the mode,
//! published ports, name servers and hosts entries, each checked where it was written. Part
//! of the `validate` builder.

use std::net::{IpAddr, Ipv4Addr};

use super::file::{ContainerFile, NetMode, NetworkModeWord};
use super::validate::Builder;
use crate::diagnostic::Problem;
use crate::network::{self, DEFAULT_NETWORK, PortSpec, Subnet};
use crate::plan::{At, BridgeNetwork, HostEntry, NetworkMode, NetworkSetup, Origin};

impl Builder<'_> {
    /// The container's network, from `[network]` or `namespaces.net` (one of the two).
    pub(super) fn network(&mut self, file: &ContainerFile) -> NetworkSetup {
        let table = &file.network;
        let old = file.namespaces.net.as_ref();
        if let (Some(net), Some(mode)) = (old, &table.mode) {
            self.error(
                Problem::error("plan::network-twice", "namespaces.net", net.span())
                    .message("the network is set twice: `namespaces.net` and `network.mode`")
                    .label("here, and `mode` in [network]")
                    .help(format!(
                        "remove this line: `[network] mode = \"{}\"` says it",
                        word_name(*mode.get_ref())
                    )),
            );
        }
        let (word, origin) = match (&table.mode, old) {
            (Some(mode), _) => (*mode.get_ref(), self.origin("network.mode", mode)),
            (None, Some(net)) => {
                let word = match net.get_ref() {
                    NetMode::None => NetworkModeWord::None,
                    NetMode::Host => NetworkModeWord::Host,
                };
                (word, self.origin("namespaces.net", net))
            }
            (None, None) => (NetworkModeWord::None, Origin::Default),
        };
        let own = matches!(word, NetworkModeWord::Bridge | NetworkModeWord::Pasta);
        // Keys that only a network of its own can honour.
        let needs_own = [
            ("network.ports", table.ports.as_ref().map(|p| p.span())),
            ("network.dns", table.dns.as_ref().map(|d| d.span())),
            ("network.hosts", table.hosts.keys().next().map(|k| k.span())),
        ];
        let bridge_only = [
            ("network.network", table.network.as_ref().map(|n| n.span())),
            ("network.subnet", table.subnet.as_ref().map(|s| s.span())),
            ("network.address", table.address.as_ref().map(|a| a.span())),
        ];
        for (key, span) in needs_own {
            if let (false, Some(span)) = (own, span) {
                self.error(
                    Problem::error("plan::network-key-needs-own-network", key, span)
                        .message(format!(
                            "`{key}` needs a network of the container's own, but the mode is \"{}\"",
                            word_name(word)
                        ))
                        .label("not for this mode")
                        .help("set `[network] mode = \"bridge\"` (root) or `\"pasta\"` (rootless), or remove this key"),
                );
            }
        }
        for (key, span) in bridge_only {
            if let (true, Some(span)) = (word != NetworkModeWord::Bridge, span) {
                self.error(
                    Problem::error("plan::network-key-needs-bridge", key, span)
                        .message(format!(
                            "`{key}` is for bridged networks, but the mode is \"{}\"",
                            word_name(word)
                        ))
                        .label("only with mode = \"bridge\"")
                        .help(if word == NetworkModeWord::Pasta {
                            "pasta gives the container the host's own addresses: remove this key, or use `mode = \"bridge\"` (root)"
                        } else {
                            "set `[network] mode = \"bridge\"`, or remove this key"
                        }),
                );
            }
        }
        let mode = match word {
            NetworkModeWord::None => NetworkMode::None,
            NetworkModeWord::Host => NetworkMode::Host,
            NetworkModeWord::Pasta => NetworkMode::Pasta,
            NetworkModeWord::Bridge => NetworkMode::Bridge(Box::new(self.bridge(file))),
        };
        let ports = if own { self.ports(file) } else { Vec::new() };
        let dns = if own { self.dns(file) } else { Vec::new() };
        let hosts = if own { self.hosts(file) } else { Vec::new() };
        NetworkSetup {
            mode: At::new(mode, origin),
            ports,
            dns,
            hosts,
        }
    }

    fn bridge(&mut self, file: &ContainerFile) -> BridgeNetwork {
        let table = &file.network;
        let name = match &table.network {
            Some(name) => {
                if let Err(error) = network::check_name("network", name.get_ref()) {
                    self.error(
                        Problem::error("plan::invalid-network-name", "network.network", name.span())
                            .message(format!("invalid network name \"{}\"", name.get_ref()))
                            .label(error.to_string())
                            .help("a letter or digit, then letters, digits, '.', '_' or '-' (at most 128 bytes)"),
                    );
                }
                At::new(name.get_ref().clone(), self.origin("network.network", name))
            }
            None => At::default_value(DEFAULT_NETWORK.to_string()),
        };
        let subnet = table.subnet.as_ref().and_then(|text| {
            match text.get_ref().parse::<Subnet>().and_then(|s| s.check_usable().map(|()| s)) {
                Ok(subnet) => Some(At::new(subnet, self.origin("network.subnet", text))),
                Err(why) => {
                    self.error(
                        Problem::error("plan::invalid-subnet", "network.subnet", text.span())
                            .message(format!("invalid subnet \"{}\"", text.get_ref()))
                            .label(why)
                            .help("an IPv4 network and prefix, such as \"10.89.3.0/24\" (/30 or wider)"),
                    );
                    None
                }
            }
        });
        let address = table.address.as_ref().and_then(|text| {
            let parsed = text.get_ref().parse::<Ipv4Addr>();
            let why = match (&parsed, &subnet) {
                (Err(_), _) => Some("not an IPv4 address".to_string()),
                (Ok(address), Some(subnet)) if !subnet.value.contains(*address) => {
                    Some(format!("outside the subnet {}", subnet.value))
                }
                (Ok(address), Some(subnet))
                    if u32::from(*address) < u32::from(subnet.value.gateway()) + 1
                        || !subnet.value.hosts().any(|host| host == *address) =>
                {
                    Some(format!(
                        "the network's own address in {} (its number, gateway or broadcast)",
                        subnet.value
                    ))
                }
                _ => None,
            };
            if let Some(why) = why {
                self.error(
                    Problem::error("plan::invalid-address", "network.address", text.span())
                        .message(format!("cannot give the container address \"{}\"", text.get_ref()))
                        .label(why)
                        .help("an IPv4 address of the network's subnet other than its gateway (the first one), or remove `address` for the next free one"),
                );
                return None;
            }
            parsed
                .ok()
                .map(|a| At::new(a, self.origin("network.address", text)))
        });
        BridgeNetwork {
            name,
            subnet,
            address,
        }
    }

    fn ports(&mut self, file: &ContainerFile) -> Vec<At<PortSpec>> {
        let Some(list) = &file.network.ports else {
            return Vec::new();
        };
        let mut ports: Vec<At<PortSpec>> = Vec::new();
        for (i, text) in list.get_ref().iter().enumerate() {
            let key = format!("network.ports[{}]", i + 1);
            match text.get_ref().parse::<PortSpec>() {
                Ok(spec) => {
                    if let Some(earlier) = ports.iter().find(|p| p.value.clashes_with(&spec)) {
                        self.error(
                            Problem::error("plan::port-twice", &key, text.span())
                                .message(format!(
                                    "host port {} is published twice",
                                    text.get_ref()
                                ))
                                .label(format!("also taken by \"{}\"", earlier.value))
                                .help("publish each host port (per protocol and address) once"),
                        );
                        continue;
                    }
                    ports.push(At::new(spec, self.origin(&key, text)));
                }
                Err(why) => self.error(
                    Problem::error("plan::invalid-port", &key, text.span())
                        .message(format!("invalid port \"{}\"", text.get_ref()))
                        .label(why)
                        .help("\"[HOST_ADDRESS:]HOST_PORT[:CONTAINER_PORT][/tcp|udp]\", such as \"8080:80\" or \"127.0.0.1:5353:53/udp\""),
                ),
            }
        }
        ports
    }

    fn dns(&mut self, file: &ContainerFile) -> Vec<IpAddr> {
        let Some(list) = &file.network.dns else {
            return Vec::new();
        };
        let mut servers = Vec::new();
        for (i, text) in list.get_ref().iter().enumerate() {
            match text.get_ref().parse::<IpAddr>() {
                Ok(address) => servers.push(address),
                Err(_) => self.error(
                    Problem::error(
                        "plan::invalid-dns",
                        format!("network.dns[{}]", i + 1),
                        text.span(),
                    )
                    .message(format!("invalid name server \"{}\"", text.get_ref()))
                    .label("not an IP address")
                    .help("name servers by address, such as \"9.9.9.9\" or \"2620:fe::fe\""),
                ),
            }
        }
        servers
    }

    fn hosts(&mut self, file: &ContainerFile) -> Vec<HostEntry> {
        let mut entries = Vec::new();
        for (name, address) in &file.network.hosts {
            let key = format!("network.hosts.{}", name.get_ref());
            if let Err(why) = super::values::check_hostname(name.get_ref()) {
                self.error(
                    Problem::error("plan::invalid-host-name", &key, name.span())
                        .message(format!("invalid host name \"{}\"", name.get_ref()))
                        .label(why)
                        .help("letters, digits and '-' in dot-separated labels (RFC 1123)"),
                );
                continue;
            }
            match address.get_ref().parse::<IpAddr>() {
                Ok(ip) => entries.push(HostEntry {
                    address: ip,
                    names: vec![name.get_ref().clone()],
                }),
                Err(_) => self.error(
                    Problem::error("plan::invalid-host-address", &key, address.span())
                        .message(format!(
                            "invalid address \"{}\" for host \"{}\"",
                            address.get_ref(),
                            name.get_ref()
                        ))
                        .label("not an IP address")
                        .help("an IPv4 or IPv6 address, such as \"10.1.2.3\""),
                ),
            }
        }
        entries
    }
}

fn word_name(word: NetworkModeWord) -> &'static str {
    match word {
        NetworkModeWord::None => "none",
        NetworkModeWord::Host => "host",
        NetworkModeWord::Bridge => "bridge",
        NetworkModeWord::Pasta => "pasta",
    }
}

/// Programs that fetch from the network: in a container without one they fail to resolve a
/// name, and nothing says why.
const NETWORK_PROGRAMS: [&str; 13] = [
    "apt-get", "apt", "apk", "dnf", "yum", "curl", "wget", "pip", "pip3", "npm", "git", "go",
    "cargo",
];

/// Warnings about the network: the host's network shared; a command that fetches from the
/// network in a container that has none.
pub(super) fn lint(file: &ContainerFile) -> Vec<Problem> {
    let mut found = Vec::new();
    let mode = file.network.mode.as_ref();
    if let Some(mode) = mode.filter(|m| *m.get_ref() == NetworkModeWord::Host) {
        found.push(
            Problem::error("lint::weakens-isolation", "network.mode", mode.span())
                .message("the host's network: the container can reach every local service and listen on host ports")
                .label("weakens the container")
                .help("use \"bridge\" (root) or \"pasta\" with `ports` for what must be reached")
                .warning(),
        );
    }
    let none = match (mode, &file.namespaces.net) {
        (Some(mode), _) => *mode.get_ref() == NetworkModeWord::None,
        (None, Some(net)) => *net.get_ref() == NetMode::None,
        (None, None) => true,
    };
    let Some(command) = file.command.as_ref().filter(|_| none) else {
        return found;
    };
    // The program, or a word of a shell's script (`sh -c "apt-get update && ..."`).
    let words: Vec<&str> = command
        .get_ref()
        .iter()
        .flat_map(|arg| {
            arg.get_ref()
                .split(|c: char| c.is_whitespace() || ";&|()`".contains(c))
        })
        .collect();
    let fetcher = words.iter().find_map(|word| {
        let name = word.rsplit('/').next().unwrap_or(word);
        NETWORK_PROGRAMS.iter().find(|p| **p == name)
    });
    if let Some(program) = fetcher {
        found.push(
            Problem::error("lint::no-network", "command", command.span())
                .message(format!(
                    "the command runs {program}, which needs the network, but the container has none (loopback only)"
                ))
                .label("no route out, no name resolution")
                .help("add `[network]` with `mode = \"bridge\"` (root) or `mode = \"pasta\"` (rootless)")
                .warning(),
        );
    }
    found
}
