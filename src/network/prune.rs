//! Cleaning up after containers that are gone (a `kill -9` of the launcher leaves leases,
//! rules and a host veth end behind), and the commands that list and remove networks.

use std::path::Path;

use serde::Serialize;

use super::NetworkError;
use super::attach::{host_netlink, remove_lease_artifacts};
use super::bridge;
use super::lease::{Lease, NetworkRecord, Networks};
use super::nft;

/// What a prune removed.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    /// `network/container` of each lease removed.
    pub leases: Vec<String>,
    /// Networks removed (their bridges and rules): no lease used them.
    pub networks: Vec<String>,
    /// Containers whose pasta was ended: they had ended.
    pub pastas: Vec<String>,
    /// Host ends of veth pairs no lease names, removed (a namespace kept alive after its
    /// container ended held them).
    pub links: Vec<String>,
}

/// Removes the leases whose container `is_alive` says is gone, with their veth ends and
/// rules; then the networks no lease uses, with their bridges and rules; then the launcher's
/// table if it is empty. Call it before `up` takes a lease, from `rm`, or from
/// `launcher network prune`. [`Lease::owner_alive`] is a ready `is_alive`.
pub fn prune(
    state_root: &Path,
    is_alive: impl Fn(&Lease) -> bool,
) -> Result<PruneReport, NetworkError> {
    let mut report = PruneReport::default();
    if !Networks::exists(state_root) {
        return Ok(report);
    }
    let networks = Networks::lock(state_root)?;
    for pasta in networks.pastas()? {
        if !pasta.owner_alive() {
            super::pasta::end_recorded(&networks, &pasta)?;
            report.pastas.push(pasta.container);
        }
    }
    if networks.networks()?.is_empty() {
        return Ok(report);
    }
    let mut netlink = host_netlink()?;
    for lease in networks.all_leases()? {
        if !is_alive(&lease) {
            remove_lease_artifacts(&networks, &mut netlink, &lease)?;
            report
                .leases
                .push(format!("{}/{}", lease.network, lease.container));
        }
    }
    for record in networks.networks()? {
        if networks.leases(&record.name)?.is_empty() {
            bridge::remove(&networks, &mut netlink, &record)?;
            report.networks.push(record.name);
        }
    }
    // Veth ends no lease names: their containers' leases went while something still held
    // the namespace (a process that outlived its container without a PID namespace).
    let named: Vec<String> = networks
        .all_leases()?
        .into_iter()
        .map(|l| l.host_link)
        .collect();
    let links = netlink.link_names().map_err(|e| {
        NetworkError::netlink("cannot list the links", "in the host's namespace", e)
    })?;
    for link in links {
        if link.starts_with(super::VETH_PREFIX) && !named.contains(&link) {
            netlink
                .delete_link(&link)
                .map_err(|e| NetworkError::netlink("cannot remove the veth pair", &link, e))?;
            report.links.push(link);
        }
    }
    if networks.networks()?.is_empty() {
        nft::remove_table_if_empty()?;
    }
    Ok(report)
}

/// Removes the lease of `container` (whatever network it is on) with its veth end and rules,
/// and ends its pasta: for a process that does not hold the attachment (`rm`, the next run of
/// the name). `Ok(false)`: it had none.
pub fn release_container(state_root: &Path, container: &str) -> Result<bool, NetworkError> {
    if !Networks::exists(state_root) {
        return Ok(false);
    }
    let networks = Networks::lock(state_root)?;
    let mut found = false;
    for pasta in networks.pastas()? {
        if pasta.container == container {
            super::pasta::end_recorded(&networks, &pasta)?;
            found = true;
        }
    }
    if networks.networks()?.is_empty() {
        return Ok(found);
    }
    let mut netlink = host_netlink()?;
    for lease in networks.all_leases()? {
        if lease.container == container {
            remove_lease_artifacts(&networks, &mut netlink, &lease)?;
            found = true;
        }
    }
    Ok(found)
}

/// A network with its leases, for `launcher network ls` and `inspect`.
#[derive(Debug, Clone, Serialize)]
pub struct NetworkInfo {
    #[serde(flatten)]
    pub record: NetworkRecord,
    pub leases: Vec<Lease>,
}

/// Every network of the state root, with its leases.
pub fn list(state_root: &Path) -> Result<Vec<NetworkInfo>, NetworkError> {
    if !Networks::exists(state_root) {
        return Ok(Vec::new());
    }
    let networks = Networks::lock(state_root)?;
    networks
        .networks()?
        .into_iter()
        .map(|record| {
            let leases = networks.leases(&record.name)?;
            Ok(NetworkInfo { record, leases })
        })
        .collect()
}

/// Removes network `name`: its dead leases first (as `prune`), then its bridge, rules and
/// record. A live lease is an error that names the containers.
pub fn remove(
    state_root: &Path,
    name: &str,
    is_alive: impl Fn(&Lease) -> bool,
) -> Result<(), NetworkError> {
    bridge::check_name("network", name)?;
    let missing = || {
        NetworkError::invalid(
            format!("network {name:?}"),
            "there is no such network; `launcher network ls` lists them",
        )
    };
    if !Networks::exists(state_root) {
        return Err(missing());
    }
    let networks = Networks::lock(state_root)?;
    let record = networks.network(name)?.ok_or_else(missing)?;
    let mut netlink = host_netlink()?;
    let mut users = Vec::new();
    for lease in networks.leases(name)? {
        if is_alive(&lease) {
            users.push(lease.container);
        } else {
            remove_lease_artifacts(&networks, &mut netlink, &lease)?;
        }
    }
    if !users.is_empty() {
        return Err(NetworkError::invalid(
            format!("network {name:?}"),
            format!(
                "containers use it: {}; stop them first (`launcher stop NAME`)",
                users.join(", ")
            ),
        ));
    }
    bridge::remove(&networks, &mut netlink, &record)?;
    if networks.networks()?.is_empty() {
        nft::remove_table_if_empty()?;
    }
    Ok(())
}
