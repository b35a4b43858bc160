//! Container networks.
//!
//! Root (bridged): one Linux bridge per named network, its address the subnet's gateway; a
//! veth pair per container, its end `eth0` in the container's namespace, an address leased
//! from the network's subnet, a default route via the gateway; outbound NAT and published
//! ports in the launcher's own nftables table (`inet launcher`). Rootless: pasta.
//!
//! How the runtime calls it, between clone (CLONE_NEWNET) and the child's go-ahead, in the
//! host's network namespace:
//!
//! 1. [`prune`] with a liveness check, to clean what dead containers left (optional, cheap);
//! 2. [`Netns::of_pid`] on the child's pid;
//! 3. root: [`attach`] with an [`AttachRequest`]; rootless: [`pasta::start`], then
//!    [`etc`] for the container's files;
//! 4. bind the files of [`Attachment::etc_files`] over the container's /etc files;
//! 5. when the container has ended: [`Attachment::release`] (or [`release_container`] by
//!    name, from a process that does not hold the attachment), [`Pasta::release`].
//!
//! State: `STATE/.networks/` (see [`lease`]).

mod attach;
mod bridge;
mod error;
pub mod etc;
pub mod lease;
pub mod netlink;
mod netns;
pub mod nft;
pub mod pasta;
pub mod ports;
pub mod preflight;
mod prune;
pub mod subnet;

pub use attach::{
    AttachRequest, Attachment, CONTAINER_LINK, EtcRequest, VETH_PREFIX, attach, host_link_name,
};
pub use bridge::{DEFAULT_NETWORK, NetworkSpec, check_name};
pub use error::NetworkError;
pub use etc::{EtcFiles, HostDns, HostEntry};
pub use lease::{Lease, NetworkRecord};
pub use netns::Netns;
pub use pasta::{Pasta, PastaRequest};
pub use ports::{PortSpec, Protocol};
pub use prune::{NetworkInfo, PruneReport, list, prune, release_container, remove};
pub use subnet::Subnet;
