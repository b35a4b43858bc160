//! A container on a named network: ensure the bridge, take a lease, make the veth pair (the
//! container's end `eth0`, made straight in its namespace), address it, route it, publish its
//! ports, write its /etc files. [`Attachment::release`] undoes all of it.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use super::NetworkError;
use super::bridge::{self, NetworkSpec};
use super::etc::{self, EtcFiles, HostDns, HostEntry, Resolv};
use super::lease::{Lease, NetworkRecord, Networks, process_start};
use super::netlink::Netlink;
use super::netns::Netns;
use super::nft;
use super::ports::PortSpec;
use super::preflight;

/// The prefix of the host's ends of veth pairs.
pub const VETH_PREFIX: &str = "lv-";

/// The container's end of its veth pair, in its namespace.
pub const CONTAINER_LINK: &str = "eth0";

/// What the container's /etc files say beyond its name and address.
#[derive(Debug, Clone, Default)]
pub struct EtcRequest {
    /// The folder to write `resolv.conf`, `hosts` and `hostname` into (the container's state
    /// folder).
    pub dir: PathBuf,
    /// The user's `hosts` entries.
    pub hosts: Vec<HostEntry>,
    /// The user's `dns` servers; empty: the host's (see [`HostDns`]).
    pub dns: Vec<IpAddr>,
    /// Where the host's resolver settings are read.
    pub host_dns: HostDns,
}

/// Everything [`attach`] needs.
#[derive(Debug)]
pub struct AttachRequest<'a> {
    /// The launcher's state folder root (`/run/launcher`); the network state lives in its
    /// `.networks/`.
    pub state_root: &'a Path,
    pub network: NetworkSpec,
    /// The container's name: unique among running containers, it names the lease.
    pub container: &'a str,
    pub hostname: &'a str,
    /// The container's network namespace (from its first process, before the go-ahead).
    pub netns: &'a Netns,
    /// A static address in the network's subnet; `None`: the first free one.
    pub address: Option<Ipv4Addr>,
    pub ports: Vec<PortSpec>,
    /// Write /etc files into this folder; `None`: write none.
    pub etc: Option<EtcRequest>,
}

/// A container attached to a network. [`Attachment::release`] removes its veth pair (if its
/// namespace has not taken it along already), its rules and its lease.
#[derive(Debug)]
#[must_use = "an attachment holds a lease, a veth pair and rules until it is released"]
pub struct Attachment {
    state_root: PathBuf,
    network: NetworkRecord,
    lease: Lease,
    etc: Option<EtcFiles>,
}

impl Attachment {
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    pub fn network(&self) -> &NetworkRecord {
        &self.network
    }

    pub fn address(&self) -> Ipv4Addr {
        self.lease.address
    }

    pub fn gateway(&self) -> Ipv4Addr {
        self.network.gateway
    }

    /// The files written, to bind over the container's /etc/resolv.conf, hosts, hostname.
    pub fn etc_files(&self) -> Option<&EtcFiles> {
        self.etc.as_ref()
    }

    /// Removes the port rules and the lease, and the veth pair while the container runs (once
    /// it has ended, its namespace takes the pair along: the kernel removes it off the caller's
    /// way, where a delete by netlink waits about 20 ms for the network's RCU grace period);
    /// rewrites the peers' hosts files.
    pub fn release(self) -> Result<(), NetworkError> {
        let networks = Networks::lock(&self.state_root)?;
        let mut netlink = host_netlink()?;
        remove_lease_artifacts(&networks, &mut netlink, &self.lease)
    }
}

pub(crate) fn host_netlink() -> Result<Netlink, NetworkError> {
    Netlink::open().map_err(|e| {
        NetworkError::netlink("cannot open a netlink socket", "in the host's namespace", e)
    })
}

/// The host's end of a container's veth pair: named after the container and its first
/// process, so that a new run of the name never meets the pair of the last one, which the
/// kernel may still be removing with its namespace.
pub fn host_link_name(container: &str, pid: i32) -> String {
    bridge::link_name(VETH_PREFIX, &format!("{container}-{pid}"))
}

/// Attaches a container to a named network. Call it between clone and the go-ahead, in the
/// host's network namespace, as root. A lease of the same container name left by a dead
/// launcher is cleaned first (the caller makes sure the name is not running).
pub fn attach(request: AttachRequest<'_>) -> Result<Attachment, NetworkError> {
    bridge::check_name("container", request.container)?;
    let networks = Networks::lock(request.state_root)?;
    let mut netlink = host_netlink()?;
    // What dead containers left (a launcher killed with -9): their ports and addresses are
    // free again. A lease of this very name is stale too: the caller holds the name.
    let (stale, live): (Vec<Lease>, Vec<Lease>) = networks
        .all_leases()?
        .into_iter()
        .partition(|l| l.container == request.container || !l.owner_alive());
    for stale in &stale {
        remove_lease_artifacts(&networks, &mut netlink, stale)?;
    }
    let record = bridge::ensure(&networks, &mut netlink, &request.network)?;
    check_ports(&live, &request.ports)?;
    let address = networks.free_address(&record, request.address)?;
    let pid = request.netns.pid().unwrap_or(0);
    let record = networks.note_allocated(record, address)?;
    let lease = Lease {
        container: request.container.to_string(),
        network: record.name.clone(),
        hostname: request.hostname.to_string(),
        address,
        host_link: host_link_name(request.container, pid),
        ports: request.ports.clone(),
        pid,
        pid_start: process_start(pid),
        hosts_file: request
            .etc
            .as_ref()
            .map(|e| EtcFiles::in_folder(&e.dir).hosts),
        extra_hosts: request
            .etc
            .as_ref()
            .map(|e| e.hosts.clone())
            .unwrap_or_default(),
    };
    // The lease first: whatever is made next, a prune finds it named there.
    networks.save_lease(&lease)?;
    let made = connect(&mut netlink, &record, &lease, request.netns)
        .and_then(|()| nft::add_ports(&lease))
        .and_then(|()| match &request.etc {
            Some(etc) => write_etc(&networks, &record, &lease, etc).map(Some),
            None => Ok(None),
        })
        .and_then(|files| refresh_peers(&networks, &record.name, &lease.container).map(|()| files));
    match made {
        Ok(etc) => Ok(Attachment {
            state_root: request.state_root.to_path_buf(),
            network: record,
            lease,
            etc,
        }),
        Err(error) => {
            // Undo what was made; the first failure is the one to report.
            let _ = remove_lease_artifacts(&networks, &mut netlink, &lease);
            Err(error)
        }
    }
}

/// The veth pair, and the container's side of it configured from inside its namespace.
fn connect(
    netlink: &mut Netlink,
    record: &NetworkRecord,
    lease: &Lease,
    netns: &Netns,
) -> Result<(), NetworkError> {
    let master = netlink
        .link_index(&record.bridge)
        .map_err(|e| NetworkError::netlink("cannot look up the bridge", &record.bridge, e))?
        .ok_or_else(|| {
            NetworkError::netlink(
                "the bridge is gone",
                &record.bridge,
                std::io::ErrorKind::NotFound.into(),
            )
        })?;
    netlink
        .add_veth_into(&lease.host_link, master, CONTAINER_LINK, netns.fd())
        .map_err(|e| {
            NetworkError::netlink(
                "cannot create the veth pair",
                format!(
                    "{} (peer {CONTAINER_LINK} in {})",
                    lease.host_link,
                    netns.label()
                ),
                e,
            )
        })?;
    let mut inside = netns.netlink()?;
    let target = |what: &str| format!("{what} in {}", netns.label());
    let loopback = inside
        .link_index("lo")
        .map_err(|e| NetworkError::netlink("cannot look up", target("lo"), e))?;
    if let Some(lo) = loopback {
        inside
            .set_up(lo)
            .map_err(|e| NetworkError::netlink("cannot set up", target("lo"), e))?;
    }
    let eth0 = inside
        .link_index(CONTAINER_LINK)
        .map_err(|e| NetworkError::netlink("cannot look up", target(CONTAINER_LINK), e))?
        .ok_or_else(|| {
            NetworkError::netlink(
                "cannot find",
                target(CONTAINER_LINK),
                std::io::ErrorKind::NotFound.into(),
            )
        })?;
    inside
        .add_address(eth0, lease.address, record.subnet.prefix(), false)
        .map_err(|e| {
            NetworkError::netlink("cannot give its address to", target(CONTAINER_LINK), e)
        })?;
    inside
        .set_up(eth0)
        .map_err(|e| NetworkError::netlink("cannot set up", target(CONTAINER_LINK), e))?;
    inside
        .add_default_route(eth0, record.gateway)
        .map_err(|e| {
            NetworkError::netlink(
                "cannot add the default route via",
                format!("{} {}", record.gateway, target(CONTAINER_LINK)),
                e,
            )
        })?;
    Ok(())
}

/// Refuses host ports another running container (`others`) publishes, or that a socket of
/// the host holds.
fn check_ports(others: &[Lease], ports: &[PortSpec]) -> Result<(), NetworkError> {
    for other in others {
        for theirs in &other.ports {
            if let Some(ours) = ports.iter().find(|p| p.clashes_with(theirs)) {
                return Err(NetworkError::PortInUse {
                    port: ours.to_string(),
                    why: format!("container {:?} publishes {theirs}", other.container),
                });
            }
        }
    }
    for spec in ports {
        preflight::port_free(spec)?;
    }
    Ok(())
}

fn peer_entries(
    networks: &Networks,
    network: &str,
    except: &str,
) -> Result<Vec<HostEntry>, NetworkError> {
    Ok(networks
        .leases(network)?
        .into_iter()
        .filter(|l| l.container != except)
        .map(|l| {
            let mut names = vec![l.container.clone()];
            if l.hostname != l.container {
                names.push(l.hostname.clone());
            }
            HostEntry {
                address: IpAddr::V4(l.address),
                names,
            }
        })
        .collect())
}

fn write_etc(
    networks: &Networks,
    record: &NetworkRecord,
    lease: &Lease,
    request: &EtcRequest,
) -> Result<EtcFiles, NetworkError> {
    let resolv = if request.dns.is_empty() {
        request.host_dns.resolvers()?
    } else {
        Resolv {
            servers: request.dns.clone(),
            ..Resolv::default()
        }
    };
    let files = EtcFiles::in_folder(&request.dir);
    let peers = peer_entries(networks, &record.name, &lease.container)?;
    let hosts = etc::hosts(
        &lease.container,
        &lease.hostname,
        Some(lease.address),
        &request.hosts,
        &peers,
    );
    files.write(&etc::resolv_conf(&resolv), &hosts, &lease.hostname)?;
    Ok(files)
}

/// Rewrites the hosts file of every other container of `network` that has one.
fn refresh_peers(networks: &Networks, network: &str, except: &str) -> Result<(), NetworkError> {
    for peer in networks.leases(network)? {
        let Some(hosts_file) = peer
            .hosts_file
            .as_ref()
            .filter(|_| peer.container != except)
        else {
            continue;
        };
        if !hosts_file.exists() {
            continue;
        }
        let peers = peer_entries(networks, network, &peer.container)?;
        let text = etc::hosts(
            &peer.container,
            &peer.hostname,
            Some(peer.address),
            &peer.extra_hosts,
            &peers,
        );
        etc::write_in_place(hosts_file, &text)?;
    }
    Ok(())
}

/// Removes what a lease names: the host's veth end (while its container runs: a dead one's
/// namespace takes the pair along), the container's port rules, the lease; then rewrites the
/// peers' hosts files. Each part may be gone already.
pub(crate) fn remove_lease_artifacts(
    networks: &Networks,
    netlink: &mut Netlink,
    lease: &Lease,
) -> Result<(), NetworkError> {
    if lease.owner_alive() {
        netlink.delete_link(&lease.host_link).map_err(|e| {
            NetworkError::netlink("cannot remove the veth pair", &lease.host_link, e)
        })?;
    }
    if !lease.ports.is_empty() {
        nft::remove_tagged(&nft::container_tag(&lease.container))?;
    }
    networks.remove_lease(lease)?;
    refresh_peers(networks, &lease.network, &lease.container)
}
