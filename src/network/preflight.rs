//! Facts about the host that a network needs, for the launcher's preflight: each returns an
//! error that says what is missing and what to install or change.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};

use caps::{CapSet, Capability};
use nix::sched::{CloneFlags, unshare};

use super::NetworkError;
use super::lease::Networks;
use super::netlink::Netlink;
use super::ports::{PortSpec, Protocol};
use super::subnet::Subnet;

/// A bridged network changes the host's links and nftables: it needs CAP_NET_ADMIN (root).
pub fn require_net_admin() -> Result<(), NetworkError> {
    match caps::has_cap(None, CapSet::Effective, Capability::CAP_NET_ADMIN) {
        Ok(true) => Ok(()),
        _ => Err(NetworkError::invalid(
            "a bridged network",
            "needs root (CAP_NET_ADMIN) to make bridges, veth pairs and nftables rules; without root, use pasta (rootless)",
        )),
    }
}

/// The path of `program` on $PATH.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| {
            use std::os::unix::fs::PermissionsExt;
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// nft, which installs the launcher's rules.
pub fn require_nft() -> Result<PathBuf, NetworkError> {
    find_program("nft").ok_or_else(|| NetworkError::NftMissing {
        action: "find nft on $PATH".to_string(),
        source: std::io::ErrorKind::NotFound.into(),
    })
}

/// pasta, for rootless networks.
pub fn require_pasta() -> Result<PathBuf, NetworkError> {
    find_program("pasta").ok_or(NetworkError::PastaMissing)
}

/// Whether `uid` may open /dev/net/tun, which pasta opens for the container's interface.
pub fn tun_usable(uid: u32) -> Result<(), NetworkError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let path = "/dev/net/tun";
    let metadata = std::fs::metadata(path).map_err(|e| NetworkError::Pasta {
        action: "check /dev/net/tun for pasta",
        detail: format!("{e}; the kernel needs the tun driver (CONFIG_TUN, `modprobe tun`)"),
    })?;
    let mode = metadata.permissions().mode();
    let allowed =
        uid == 0 || (metadata.uid() == uid && mode & 0o600 == 0o600) || mode & 0o006 == 0o006;
    if allowed {
        Ok(())
    } else {
        Err(NetworkError::Pasta {
            action: "check /dev/net/tun for pasta",
            detail: format!(
                "it is mode {:04o}, so pasta cannot open it as uid {uid}; Debian's default is 0666 (`chmod 0666 /dev/net/tun`)",
                mode & 0o7777
            ),
        })
    }
}

/// Whether a host port can be taken: binds it (and lets go at once) on the host address it
/// names, or on every address.
pub fn port_free(spec: &PortSpec) -> Result<(), NetworkError> {
    let address = spec.host_address.unwrap_or(Ipv4Addr::UNSPECIFIED);
    for (host_port, _) in spec.pairs() {
        let socket = SocketAddrV4::new(address, host_port);
        let bound = match spec.protocol {
            Protocol::Tcp => tcp_port_free(socket),
            Protocol::Udp => UdpSocket::bind(socket).map(drop),
        };
        if let Err(e) = bound {
            let why = match e.raw_os_error() {
                Some(libc::EADDRINUSE) => "a program of the host listens on it".to_string(),
                Some(libc::EADDRNOTAVAIL) => format!("{address} is not an address of the host"),
                _ => format!("cannot bind it to check: {e}"),
            };
            return Err(NetworkError::PortInUse {
                port: format!("{socket}/{}", spec.protocol.name()),
                why,
            });
        }
    }
    Ok(())
}

/// Binds a TCP socket to `socket` and closes it. With SO_REUSEADDR, which lets two such probes
/// (two `check`s of one file at once) both succeed while a socket that listens there, with
/// SO_REUSEADDR or without, still makes the bind fail.
fn tcp_port_free(socket: SocketAddrV4) -> std::io::Result<()> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, SockaddrIn, sockopt};
    use std::os::fd::AsRawFd;
    let fd = nix::sys::socket::socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    nix::sys::socket::setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    nix::sys::socket::bind(fd.as_raw_fd(), &SockaddrIn::from(socket))?;
    Ok(())
}

/// Whether `subnet` is free for network `name`: no other network and no host route has it.
pub fn subnet_free(state_root: &Path, name: &str, subnet: Subnet) -> Result<(), NetworkError> {
    let networks = Networks::lock(state_root)?;
    let mut netlink = super::attach::host_netlink()?;
    let own = match networks.network(name)? {
        Some(record) => netlink.link_index(&record.bridge).ok().flatten(),
        None => None,
    };
    super::bridge::check_subnet(&networks, &mut netlink, name, subnet, own)
}

/// Tries, in a throwaway network namespace, what a bridged network does: a bridge, a veth
/// pair, and an nftables table with masquerade, fib and DNAT. The error names the kernel
/// module that is missing. Needs root.
pub fn kernel_support() -> Result<(), NetworkError> {
    let probe = || -> Result<(), NetworkError> {
        unshare(CloneFlags::CLONE_NEWNET).map_err(|e| NetworkError::Netns {
            action: "cannot make a throwaway network namespace to probe the kernel",
            path: "(new)".to_string(),
            source: e.into(),
        })?;
        let mut netlink = Netlink::open()
            .map_err(|e| NetworkError::netlink("cannot open a netlink socket", "(probe)", e))?;
        netlink.add_bridge("probe-br").map_err(|e| {
            NetworkError::netlink("the kernel has no bridges (module bridge)", "probe-br", e)
        })?;
        let master = netlink.link_index("probe-br").ok().flatten().unwrap_or(0);
        let here = std::fs::File::open("/proc/thread-self/ns/net")
            .map_err(|e| NetworkError::state("cannot open", "/proc/thread-self/ns/net", e))?;
        use std::os::fd::AsFd;
        netlink
            .add_veth_into("probe-v0", master, "probe-v1", here.as_fd())
            .map_err(|e| {
                NetworkError::netlink("the kernel has no veth pairs (module veth)", "probe-v0", e)
            })?;
        super::nft::apply(
            "probe nftables (modules nf_tables, nft_nat, nft_masq, nft_fib_inet, nft_ct)",
            "add table inet probe\n\
             add chain inet probe post { type nat hook postrouting priority srcnat; }\n\
             add chain inet probe pre { type nat hook prerouting priority dstnat; }\n\
             add rule inet probe post ip saddr 10.0.0.0/24 ct status dnat masquerade\n\
             add rule inet probe pre meta nfproto ipv4 fib daddr type local tcp dport 1 dnat ip to 10.0.0.2:1\n",
        )
    };
    // The thread's namespace ends with it, with everything made in it.
    std::thread::scope(|scope| scope.spawn(probe).join()).unwrap_or_else(|_| {
        Err(NetworkError::invalid(
            "the kernel probe",
            "its thread panicked",
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn a_bound_port_is_reported() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let spec: PortSpec = format!("127.0.0.1:{port}:80").parse().unwrap();
        let error = port_free(&spec).unwrap_err().to_string();
        assert!(error.contains("listens"), "{error}");
        drop(listener);
        assert!(port_free(&spec).is_ok());
    }

    #[test]
    fn a_foreign_address_is_reported() {
        let spec: PortSpec = "192.0.2.77:8080:80".parse().unwrap();
        let error = port_free(&spec).unwrap_err().to_string();
        assert!(error.contains("not an address of the host"), "{error}");
    }
}
