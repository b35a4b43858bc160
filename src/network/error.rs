//! What can go wrong in a container's network, each variant naming the action, what it was
//! done to, and why; `hint()` says what to try.

use std::io;
use std::path::PathBuf;

/// A failed network action.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// A netlink request (links, addresses, routes) failed.
    #[error("{action} {target}: {source}")]
    Netlink {
        action: &'static str,
        target: String,
        #[source]
        source: io::Error,
    },
    /// The container's network namespace could not be opened or entered.
    #[error("{action} {path}: {source}")]
    Netns {
        action: &'static str,
        path: String,
        #[source]
        source: io::Error,
    },
    /// `nft` could not be started.
    #[error("cannot run nft ({action}): {source}")]
    NftMissing {
        action: String,
        #[source]
        source: io::Error,
    },
    /// `nft` ran and refused.
    #[error("nft {action}: {status}: {stderr}")]
    Nft {
        action: String,
        status: String,
        stderr: String,
    },
    /// A file of the launcher's state folder (`.networks/`), or a generated /etc file.
    #[error("{action} {path}: {source}")]
    State {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A kernel setting under /proc/sys.
    #[error("cannot set {path} to {value}: {source}")]
    Sysctl {
        path: PathBuf,
        value: &'static str,
        #[source]
        source: io::Error,
    },
    /// A value the caller passed (name, subnet, address, port) that cannot be used.
    #[error("{what}: {why}")]
    Invalid { what: String, why: String },
    /// A subnet that overlaps a route of the host.
    #[error(
        "subnet {subnet} of network {network:?} overlaps the host route {route} (dev {device})"
    )]
    SubnetOverlapsRoute {
        network: String,
        subnet: String,
        route: String,
        device: String,
    },
    /// A subnet that overlaps another network of the launcher.
    #[error("subnet {subnet} of network {network:?} overlaps network {other:?} ({other_subnet})")]
    SubnetOverlapsNetwork {
        network: String,
        subnet: String,
        other: String,
        other_subnet: String,
    },
    /// A host port that something already uses.
    #[error("host port {port} is taken: {why}")]
    PortInUse { port: String, why: String },
    /// Every address of the subnet is leased.
    #[error("network {network:?} has no free address left in {subnet}")]
    NoFreeAddress { network: String, subnet: String },
    /// pasta is not installed.
    #[error("rootless networking needs pasta, which is not on $PATH")]
    PastaMissing,
    /// pasta (rootless networking) failed.
    #[error("{action}: {detail}")]
    Pasta {
        action: &'static str,
        detail: String,
    },
}

impl NetworkError {
    pub(crate) fn netlink(
        action: &'static str,
        target: impl Into<String>,
        source: io::Error,
    ) -> Self {
        NetworkError::Netlink {
            action,
            target: target.into(),
            source,
        }
    }

    pub(crate) fn state(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        NetworkError::State {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(what: impl Into<String>, why: impl Into<String>) -> Self {
        NetworkError::Invalid {
            what: what.into(),
            why: why.into(),
        }
    }

    /// The errno that says why, for the runtime's step failures: the system call's own when
    /// one failed, else the nearest one.
    pub fn errno(&self) -> i32 {
        let of = |source: &io::Error| source.raw_os_error().unwrap_or(libc::EIO);
        match self {
            NetworkError::Netlink { source, .. }
            | NetworkError::Netns { source, .. }
            | NetworkError::NftMissing { source, .. }
            | NetworkError::State { source, .. }
            | NetworkError::Sysctl { source, .. } => of(source),
            NetworkError::Nft { .. } | NetworkError::Pasta { .. } => libc::EIO,
            NetworkError::Invalid { .. } => libc::EINVAL,
            NetworkError::SubnetOverlapsRoute { .. }
            | NetworkError::SubnetOverlapsNetwork { .. } => libc::EEXIST,
            NetworkError::PortInUse { .. } => libc::EADDRINUSE,
            NetworkError::NoFreeAddress { .. } => libc::EADDRNOTAVAIL,
            NetworkError::PastaMissing => libc::ENOENT,
        }
    }

    /// What to try.
    pub fn hint(&self) -> String {
        let by_errno = |source: &io::Error| match source.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => Some(
                "a bridged network needs root (CAP_NET_ADMIN on the host); run as root, or use pasta for a rootless container",
            ),
            Some(libc::EOPNOTSUPP) => Some(
                "the kernel lacks a driver: check that the veth and bridge modules are available (`modprobe veth bridge`)",
            ),
            Some(libc::EEXIST) => Some(
                "a link of that name exists already: `launcher network prune` removes what dead containers left",
            ),
            Some(libc::ENOSPC) | Some(libc::ENOBUFS) => {
                Some("the kernel is out of room for links or rules; remove unused containers")
            }
            _ => None,
        };
        let text = match self {
            NetworkError::Netlink { source, .. } => by_errno(source).unwrap_or(
                "run `launcher network prune`, then try again; `ip link` shows the host's links",
            ),
            NetworkError::Netns { source, .. } => by_errno(source)
                .unwrap_or("the container's process must still run when its network is set up"),
            NetworkError::NftMissing { .. } => {
                "install nftables (Debian: `apt-get install nftables`)"
            }
            NetworkError::Nft { .. } => {
                "nftables (the nf_tables, nft_nat, nft_masq, nft_fib modules) must be available; `nft list table inet launcher` shows the launcher's rules"
            }
            NetworkError::State { source, .. } => by_errno(source)
                .unwrap_or("the state folder must be writable; `launcher network prune` tidies it"),
            NetworkError::Sysctl { .. } => "needs root in the host's network namespace",
            NetworkError::Invalid { .. } => "fix the value as the message says",
            NetworkError::SubnetOverlapsRoute { .. }
            | NetworkError::SubnetOverlapsNetwork { .. } => {
                "pick a subnet no host route or other network uses (`ip route` lists the host's)"
            }
            NetworkError::PortInUse { .. } => {
                "publish another host port, or stop what uses it (`ss -lntu` lists them)"
            }
            NetworkError::NoFreeAddress { .. } => {
                "use a wider subnet for the network, or `launcher network prune` to free dead leases"
            }
            NetworkError::PastaMissing => {
                "install the passt package, which has pasta (Debian: `apt-get install passt`)"
            }
            NetworkError::Pasta { .. } => {
                "pasta's own message says why; `pasta --help` lists its options"
            }
        };
        text.to_string()
    }
}
