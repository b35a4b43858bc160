//! A container's network, as a front end asks for it ([`NetworkSetup`], part of the `Spec`),
//! what preflight learns for it ([`NetworkFacts`]), and the data of the steps that make it
//! ([`BridgeAttach`], [`PastaSetup`]). The value types (ports, subnets, hosts entries) are the
//! network library's: pure data, parsed and printed in one place.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::spec::At;
pub use crate::network::{HostEntry, PortSpec, Subnet};

/// What the front end asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSetup {
    pub mode: At<NetworkMode>,
    /// Published ports (bridge or pasta).
    pub ports: Vec<At<PortSpec>>,
    /// Name servers for /etc/resolv.conf; empty: the host's (bridge) or pasta's forwarder.
    pub dns: Vec<IpAddr>,
    /// Extra /etc/hosts lines.
    pub hosts: Vec<HostEntry>,
}

impl NetworkSetup {
    /// An own network namespace with loopback only.
    pub fn none() -> Self {
        NetworkSetup {
            mode: At::default_value(NetworkMode::None),
            ports: Vec::new(),
            dns: Vec::new(),
            hosts: Vec::new(),
        }
    }
}

/// How the container is networked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkMode {
    /// An own namespace, loopback only.
    None,
    /// The host's namespace.
    Host,
    /// A veth pair to a bridge of a named network, NAT out, published ports (root).
    Bridge(Box<BridgeNetwork>),
    /// pasta: the host's addresses and routes through a tap device (rootless).
    Pasta,
}

impl NetworkMode {
    /// The word Container.toml uses.
    pub fn name(&self) -> &'static str {
        match self {
            NetworkMode::None => "none",
            NetworkMode::Host => "host",
            NetworkMode::Bridge(_) => "bridge",
            NetworkMode::Pasta => "pasta",
        }
    }
}

/// The named network of a bridged container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeNetwork {
    pub name: At<String>,
    /// The network's subnet, when the front end names one (else the network's, or the first
    /// free one when it is made).
    pub subnet: Option<At<Subnet>>,
    /// A static address in it; `None`: the next free one.
    pub address: Option<At<Ipv4Addr>>,
}

/// What preflight learned for a container with a network of its own: where the launcher keeps
/// network state, and where the container's /etc files go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkFacts {
    /// The launcher's state root: `.networks/` in it holds networks, leases, pasta records.
    pub state_root: PathBuf,
    /// The container's state folder: its resolv.conf, hosts and hostname are written there
    /// and bound over the container's.
    pub etc_dir: PathBuf,
}

/// Attach the container to a bridged network: lease, veth pair, address, route, port rules,
/// /etc files. Released by [`super::Action::NetworkRelease`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeAttach {
    pub state_root: PathBuf,
    pub network: String,
    pub subnet: Option<Subnet>,
    pub address: Option<Ipv4Addr>,
    pub ports: Vec<PortSpec>,
    pub container: String,
    pub hostname: String,
    pub etc_dir: PathBuf,
    pub dns: Vec<IpAddr>,
    pub hosts: Vec<HostEntry>,
}

/// Start pasta for the container's namespaces, write its /etc files. Ended by
/// [`super::Action::PastaStop`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastaSetup {
    pub state_root: PathBuf,
    pub ports: Vec<PortSpec>,
    pub container: String,
    pub hostname: String,
    pub etc_dir: PathBuf,
    pub dns: Vec<IpAddr>,
    pub hosts: Vec<HostEntry>,
}

/// The /etc files a networked container gets, bound from its state folder.
pub const ETC_FILES: [&str; 3] = ["resolv.conf", "hosts", "hostname"];
