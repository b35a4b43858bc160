//! Named networks: one Linux bridge each, its address the subnet's gateway, its NAT rules in
//! the launcher's table. Made on first use, checked against the host's routes first.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::NetworkError;
use super::lease::{NetworkRecord, Networks};
use super::netlink::Netlink;
use super::nft::{self, BRIDGE_PREFIX};
use super::subnet::{self, Subnet};

/// The network a container joins: its name and, optionally, its subnet (else the first free
/// /24 of 10.90.0.0/16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSpec {
    pub name: String,
    pub subnet: Option<Subnet>,
}

/// The network of containers that name none.
pub const DEFAULT_NETWORK: &str = "default";

impl NetworkSpec {
    pub fn named(name: &str) -> NetworkSpec {
        NetworkSpec {
            name: name.to_string(),
            subnet: None,
        }
    }
}

/// Network and container names become file and rule names: a letter or digit, then letters,
/// digits, `.`, `_`, `-`; at most 128 bytes (as container names).
pub fn check_name(what: &str, name: &str) -> Result<(), NetworkError> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if first_ok && rest_ok && name.len() <= 128 {
        Ok(())
    } else {
        Err(NetworkError::invalid(
            format!("{what} name {name:?}"),
            "use a letter or digit, then letters, digits, '.', '_' or '-' (at most 128 bytes)",
        ))
    }
}

/// A link name (at most 15 bytes): the prefix and `name` when it fits, else a digest of it.
pub(crate) fn link_name(prefix: &str, name: &str) -> String {
    if prefix.len() + name.len() <= 15 {
        format!("{prefix}{name}")
    } else {
        let digest = Sha256::digest(name.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("{prefix}{}", &hex[..15 - prefix.len()])
    }
}

/// Sets a kernel setting of the calling thread's network namespace.
fn sysctl(path: &str, value: &'static str) -> Result<(), NetworkError> {
    let path = PathBuf::from(path);
    if std::fs::read_to_string(&path).is_ok_and(|v| v.trim() == value) {
        return Ok(());
    }
    std::fs::write(&path, value).map_err(|source| NetworkError::Sysctl {
        path,
        value,
        source,
    })
}

/// Checks `subnet` against the other networks and the host's routes (less `own_bridge`'s).
pub fn check_subnet(
    networks: &Networks,
    netlink: &mut Netlink,
    name: &str,
    subnet: Subnet,
    own_bridge: Option<u32>,
) -> Result<(), NetworkError> {
    for other in networks.networks()? {
        if other.name != name && other.subnet.overlaps(&subnet) {
            return Err(NetworkError::SubnetOverlapsNetwork {
                network: name.to_string(),
                subnet: subnet.to_string(),
                other: other.name,
                other_subnet: other.subnet.to_string(),
            });
        }
    }
    let routes = netlink
        .host_routes()
        .map_err(|e| NetworkError::netlink("cannot list", "the host's routes", e))?;
    for route in routes {
        if Some(route.link) != own_bridge && route.destination.overlaps(&subnet) {
            return Err(NetworkError::SubnetOverlapsRoute {
                network: name.to_string(),
                subnet: subnet.to_string(),
                route: route.destination.to_string(),
                device: netlink.link_name(route.link),
            });
        }
    }
    Ok(())
}

/// The network `spec` names, its bridge up with the gateway address and its rules in place:
/// made when missing, remade when its record outlived its bridge (a reboot).
pub fn ensure(
    networks: &Networks,
    netlink: &mut Netlink,
    spec: &NetworkSpec,
) -> Result<NetworkRecord, NetworkError> {
    check_name("network", &spec.name)?;
    let record = match networks.network(&spec.name)? {
        Some(record) => {
            if let Some(wanted) = spec.subnet
                && wanted != record.subnet
            {
                return Err(NetworkError::invalid(
                    format!("subnet {wanted} of network {:?}", spec.name),
                    format!(
                        "the network exists with subnet {}; remove it first (`launcher network rm {}`) or ask for that subnet",
                        record.subnet, spec.name
                    ),
                ));
            }
            let index = netlink.link_index(&record.bridge).map_err(|e| {
                NetworkError::netlink("cannot look up the bridge", &record.bridge, e)
            })?;
            if index.is_some() {
                return Ok(record);
            }
            check_subnet(networks, netlink, &record.name, record.subnet, None)?;
            record
        }
        None => {
            let bridge = link_name(BRIDGE_PREFIX, &spec.name);
            if let Some(taken) = networks
                .networks()?
                .into_iter()
                .find(|n| n.bridge == bridge)
            {
                return Err(NetworkError::invalid(
                    format!("network {:?}", spec.name),
                    format!(
                        "its bridge name {bridge} is network {:?}'s; pick another name",
                        taken.name
                    ),
                ));
            }
            let subnet = match spec.subnet {
                Some(subnet) => {
                    subnet
                        .check_usable()
                        .map_err(|why| NetworkError::invalid(format!("network {:?}", spec.name), why))?;
                    check_subnet(networks, netlink, &spec.name, subnet, None)?;
                    subnet
                }
                None => subnet::default_candidates()
                    .find(|s| check_subnet(networks, netlink, &spec.name, *s, None).is_ok())
                    .ok_or_else(|| {
                        NetworkError::invalid(
                            format!("network {:?}", spec.name),
                            "every subnet of 10.90.0.0/16 is taken by a host route or another network; name one with `subnet`",
                        )
                    })?,
            };
            NetworkRecord {
                name: spec.name.clone(),
                subnet,
                gateway: subnet.gateway(),
                bridge,
                last_address: None,
            }
        }
    };
    // The record first: a bridge is never there without one saying whose it is.
    networks.save_network(&record)?;
    create_bridge(netlink, &record)?;
    nft::remove_tagged(&nft::network_tag(&record.name))?;
    nft::add_network(&record)?;
    Ok(record)
}

fn create_bridge(netlink: &mut Netlink, record: &NetworkRecord) -> Result<(), NetworkError> {
    let bridge = &record.bridge;
    match netlink.add_bridge(bridge) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
            return Err(NetworkError::netlink(
                "cannot create the bridge (a link of that name that the launcher did not record)",
                bridge,
                e,
            ));
        }
        Err(e) => return Err(NetworkError::netlink("cannot create the bridge", bridge, e)),
    }
    let index = netlink
        .link_index(bridge)
        .map_err(|e| NetworkError::netlink("cannot look up the bridge", bridge, e))?
        .ok_or_else(|| {
            NetworkError::netlink(
                "the new bridge is gone",
                bridge,
                std::io::ErrorKind::NotFound.into(),
            )
        })?;
    netlink
        .add_address(index, record.gateway, record.subnet.prefix(), true)
        .map_err(|e| NetworkError::netlink("cannot give the bridge its address", bridge, e))?;
    // Routing: the host forwards for the containers; a DNAT from 127.0.0.1 may leave by
    // the bridge (route_localnet), to be masqueraded on the way.
    sysctl("/proc/sys/net/ipv4/ip_forward", "1")?;
    sysctl(
        &format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet"),
        "1",
    )?;
    Ok(())
}

/// Removes a network's bridge, rules and record (its leases must be gone).
pub fn remove(
    networks: &Networks,
    netlink: &mut Netlink,
    record: &NetworkRecord,
) -> Result<(), NetworkError> {
    netlink
        .delete_link(&record.bridge)
        .map_err(|e| NetworkError::netlink("cannot remove the bridge", &record.bridge, e))?;
    nft::remove_tagged(&nft::network_tag(&record.name))?;
    networks.remove_network(&record.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_names_fit_in_fifteen_bytes() {
        assert_eq!(link_name("ln-", "default"), "ln-default");
        let long = link_name("ln-", "a-rather-long-network-name");
        assert_eq!(long.len(), 15);
        assert!(long.starts_with("ln-"));
        assert_ne!(long, link_name("ln-", "a-rather-long-network-nam"));
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("network", "back-end_2").is_ok());
        assert!(check_name("network", ".hidden").is_err());
        assert!(check_name("network", "a/b").is_err());
        assert!(check_name("network", "").is_err());
    }
}
