//! The launcher's own nftables table, `inet launcher`: outbound NAT per network, DNAT per
//! published port, isolation between networks. Other tables and rules are never touched.
//!
//! Every rule carries a comment that names its owner (`network NAME` or `container NAME`),
//! so one container's rules are removed by handle without disturbing anyone else's. Changes
//! go to `nft -f -` as one batch, which the kernel applies as one transaction.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use super::NetworkError;
use super::lease::{Lease, NetworkRecord};
use super::ports::PortSpec;

/// `table inet launcher`.
pub const TABLE: &str = "launcher";

/// The prefix of every bridge's name: the isolation rule matches `ln-*`.
pub const BRIDGE_PREFIX: &str = "ln-";

/// The table and its base chains; `add` leaves them as they are when they exist.
fn base() -> String {
    format!(
        "add table inet {TABLE}\n\
         add chain inet {TABLE} prerouting {{ type nat hook prerouting priority dstnat; policy accept; }}\n\
         add chain inet {TABLE} output {{ type nat hook output priority -100; policy accept; }}\n\
         add chain inet {TABLE} postrouting {{ type nat hook postrouting priority srcnat; policy accept; }}\n\
         add chain inet {TABLE} forward {{ type filter hook forward priority filter; policy accept; }}\n"
    )
}

/// A comment of at most 128 bytes (nft's limit) that names one owner.
fn tag(kind: &str, name: &str) -> String {
    let plain = format!("{kind} {name}");
    if plain.len() <= 128 {
        plain
    } else {
        let digest = Sha256::digest(name.as_bytes());
        let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        format!("{kind} #{hex}")
    }
}

pub fn network_tag(network: &str) -> String {
    tag("network", network)
}

pub fn container_tag(container: &str) -> String {
    tag("container", container)
}

/// The rules of a network: masquerade what leaves the bridge's subnet; masquerade what a
/// DNAT from the host's 127.0.0.1 (or from a container of the subnet, hairpin) sends to the
/// bridge, so replies come back through the host; drop what one network forwards to
/// another's bridge.
pub fn network_rules(record: &NetworkRecord) -> String {
    let t = network_tag(&record.name);
    let (bridge, subnet) = (&record.bridge, record.subnet);
    format!(
        "add rule inet {TABLE} postrouting ip saddr {subnet} oifname != \"{bridge}\" masquerade comment \"{t}\"\n\
         add rule inet {TABLE} postrouting oifname \"{bridge}\" ip saddr 127.0.0.0/8 masquerade comment \"{t}\"\n\
         add rule inet {TABLE} postrouting oifname \"{bridge}\" ip saddr {subnet} ct status dnat masquerade comment \"{t}\"\n\
         add rule inet {TABLE} forward iifname \"{bridge}\" oifname \"{BRIDGE_PREFIX}*\" oifname != \"{bridge}\" drop comment \"{t}\"\n"
    )
}

/// DNAT rules of a container's published ports: in prerouting (from other hosts, and from
/// containers) and in output (from the host itself, 127.0.0.1 included).
pub fn port_rules(container: &str, address: Ipv4Addr, ports: &[PortSpec]) -> String {
    let t = container_tag(container);
    let mut text = String::new();
    for spec in ports {
        let destination = match spec.host_address {
            Some(host) => format!("ip daddr {host}"),
            None => "meta nfproto ipv4 fib daddr type local".to_string(),
        };
        let protocol = spec.protocol.name();
        for (host_port, container_port) in spec.pairs() {
            for chain in ["prerouting", "output"] {
                text.push_str(&format!(
                    "add rule inet {TABLE} {chain} {destination} {protocol} dport {host_port} dnat ip to {address}:{container_port} comment \"{t}\"\n"
                ));
            }
        }
    }
    text
}

/// Runs `nft -f -` with `script` as one transaction.
pub fn apply(action: &str, script: &str) -> Result<(), NetworkError> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| NetworkError::NftMissing {
            action: action.to_string(),
            source,
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A write error shows as nft's own failure below.
        let _ = stdin.write_all(script.as_bytes());
    }
    let output = child
        .wait_with_output()
        .map_err(|source| NetworkError::NftMissing {
            action: action.to_string(),
            source,
        })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(NetworkError::Nft {
            action: action.to_string(),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}

/// Adds the table, its chains, and the network's rules.
pub fn add_network(record: &NetworkRecord) -> Result<(), NetworkError> {
    apply(
        &format!("add the rules of network {:?}", record.name),
        &(base() + &network_rules(record)),
    )
}

/// Adds a container's port rules (nothing to do without ports).
pub fn add_ports(lease: &Lease) -> Result<(), NetworkError> {
    if lease.ports.is_empty() {
        return Ok(());
    }
    apply(
        &format!("publish the ports of container {:?}", lease.container),
        &(base() + &port_rules(&lease.container, lease.address, &lease.ports)),
    )
}

/// One rule of the launcher's table, as `nft -j list table` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub chain: String,
    pub handle: u64,
    pub comment: String,
}

/// The rules of the launcher's table; none when it does not exist.
pub fn rules() -> Result<Vec<Rule>, NetworkError> {
    let action = "list the launcher's table";
    let output = Command::new("nft")
        .args(["-j", "list", "table", "inet", TABLE])
        .stdin(Stdio::null())
        .output()
        .map_err(|source| NetworkError::NftMissing {
            action: action.to_string(),
            source,
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("No such file or directory") {
            return Ok(Vec::new());
        }
        return Err(NetworkError::Nft {
            action: action.to_string(),
            status: output.status.to_string(),
            stderr: stderr.trim().to_string(),
        });
    }
    let json: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| NetworkError::Nft {
            action: action.to_string(),
            status: "its output is not JSON".to_string(),
            stderr: e.to_string(),
        })?;
    let items = json["nftables"].as_array().cloned().unwrap_or_default();
    Ok(items
        .iter()
        .filter_map(|item| {
            let rule = item.get("rule")?;
            Some(Rule {
                chain: rule["chain"].as_str()?.to_string(),
                handle: rule["handle"].as_u64()?,
                comment: rule["comment"].as_str().unwrap_or_default().to_string(),
            })
        })
        .collect())
}

/// Removes every rule whose comment is `tag`; returns how many.
pub fn remove_tagged(tag: &str) -> Result<usize, NetworkError> {
    let doomed: Vec<Rule> = rules()?.into_iter().filter(|r| r.comment == tag).collect();
    if doomed.is_empty() {
        return Ok(0);
    }
    let script: String = doomed
        .iter()
        .map(|r| format!("delete rule inet {TABLE} {} handle {}\n", r.chain, r.handle))
        .collect();
    apply(&format!("remove the rules of {tag}"), &script)?;
    Ok(doomed.len())
}

/// Deletes the table when no rule is left in it (the last network is gone).
pub fn remove_table_if_empty() -> Result<(), NetworkError> {
    let exists = Command::new("nft")
        .args(["list", "table", "inet", TABLE])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if exists && rules()?.is_empty() {
        apply(
            "remove the launcher's empty table",
            &format!("delete table inet {TABLE}\n"),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_get_a_short_tag() {
        assert_eq!(container_tag("web"), "container web");
        let long = "a".repeat(128);
        let tag = container_tag(&long);
        assert!(tag.len() <= 128 && tag.starts_with("container #"), "{tag}");
        assert_ne!(tag, container_tag(&"b".repeat(128)));
    }

    #[test]
    fn port_rules_cover_both_hooks() {
        let ports = super::super::ports::parse_all(&["8080:80", "127.0.0.1:5353:53/udp"]).unwrap();
        let text = port_rules("web", Ipv4Addr::new(10, 90, 0, 2), &ports);
        assert_eq!(text.lines().count(), 4);
        assert!(text.contains("prerouting meta nfproto ipv4 fib daddr type local tcp dport 8080 dnat ip to 10.90.0.2:80 comment \"container web\""));
        assert!(text.contains("output ip daddr 127.0.0.1 udp dport 5353 dnat ip to 10.90.0.2:53"));
    }
}
