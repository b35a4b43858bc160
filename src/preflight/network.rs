//! The host facts a container's network needs: root for a bridge, nft and the kernel's
//! modules, host ports that are free, a subnet no host route or other network has; pasta and
//! a usable /dev/net/tun without root. Each problem points at the key that asked.

use std::path::Path;

use super::{Host, at};
use crate::diagnostic::Problem;
use crate::network::{self, NetworkError, lease::Networks};
use crate::plan::{At, BridgeNetwork, NetworkFacts, NetworkMode, PortSpec, Spec};

/// The facts of a bridge or pasta network; `None` for none and host (or with problems).
pub(super) fn check(spec: &Spec, host: &Host, problems: &mut Vec<Problem>) -> Option<NetworkFacts> {
    let setup = &spec.network;
    let origin = &setup.mode.origin;
    let before = problems.len();
    let problem = |error: &NetworkError, code: &'static str| {
        at(origin, code, "")
            .message(error.to_string())
            .label(format!("mode = \"{}\"", setup.mode.value.name()))
            .help(error.hint())
    };
    match &setup.mode.value {
        NetworkMode::None | NetworkMode::Host => return None,
        NetworkMode::Bridge(bridge) => {
            if host.caller.uid != 0 || network::preflight::require_net_admin().is_err() {
                problems.push(
                    at(origin, "preflight::bridge-needs-root", "")
                        .message("a bridged network needs root: it makes a bridge, a veth pair and nftables rules on the host")
                        .label("needs root (CAP_NET_ADMIN)")
                        .help("run as root, or use `mode = \"pasta\"` for a rootless container (Debian: `apt-get install passt`)"),
                );
                return None;
            }
            if let Err(error) = network::preflight::require_nft() {
                problems.push(problem(&error, "preflight::nft-missing"));
            } else if let Err(error) = kernel_support(host.seccomp_cache.as_deref()) {
                problems.push(problem(&error, "preflight::network-kernel"));
            }
            check_subnet(bridge, &host.state_root, problems);
            check_ports(&setup.ports, &spec.name, &host.state_root, problems);
        }
        NetworkMode::Pasta => {
            if let Err(error) = network::preflight::require_pasta() {
                problems.push(problem(&error, "preflight::pasta-missing"));
            } else if let Err(error) = network::preflight::tun_usable(host.caller.uid) {
                problems.push(problem(&error, "preflight::tun-unusable"));
            }
            check_ports(&setup.ports, &spec.name, &host.state_root, problems);
        }
    }
    (problems.len() == before).then(|| NetworkFacts {
        state_root: host.state_root.clone(),
        etc_dir: crate::state::Store::new(host.state_root.clone())
            .paths(&spec.name)
            .dir,
    })
}

/// A subnet the file names: free of host routes and other networks, and the network's own
/// when the network exists already.
fn check_subnet(bridge: &BridgeNetwork, state_root: &Path, problems: &mut Vec<Problem>) {
    let Some(At {
        value: subnet,
        origin,
    }) = &bridge.subnet
    else {
        return;
    };
    let name = &bridge.name.value;
    if Networks::exists(state_root) {
        let existing = Networks::lock(state_root).and_then(|n| n.network(name));
        if let Ok(Some(record)) = existing {
            if record.subnet != *subnet {
                problems.push(
                    at(origin, "preflight::subnet-differs", "")
                        .message(format!(
                            "network \"{name}\" exists with subnet {}, not {subnet}",
                            record.subnet
                        ))
                        .label("another subnet than the network's")
                        .help(format!(
                            "remove `subnet` (the network keeps its own), or remove the network first: `launcher network rm {name}`"
                        )),
                );
            }
            return;
        }
    }
    if let Err(error) = network::preflight::subnet_free(state_root, name, *subnet) {
        problems.push(
            at(origin, "preflight::subnet-taken", "")
                .message(error.to_string())
                .label("overlaps")
                .help(error.hint()),
        );
    }
}

/// Each published host port: no socket of the host holds it, no running container publishes
/// it.
fn check_ports(
    ports: &[At<PortSpec>],
    container: &str,
    state_root: &Path,
    problems: &mut Vec<Problem>,
) {
    if ports.is_empty() {
        return;
    }
    let leases = match Networks::exists(state_root) {
        true => Networks::lock(state_root)
            .and_then(|n| n.all_leases())
            .unwrap_or_default(),
        false => Vec::new(),
    };
    for port in ports {
        let theirs = leases
            .iter()
            .filter(|l| l.container != container && l.owner_alive())
            .find_map(|l| {
                l.ports
                    .iter()
                    .find(|p| p.clashes_with(&port.value))
                    .map(|p| (l, p))
            });
        let error = match theirs {
            Some((lease, published)) => Some(NetworkError::PortInUse {
                port: port.value.to_string(),
                why: format!("container \"{}\" publishes {published}", lease.container),
            }),
            None => network::preflight::port_free(&port.value).err(),
        };
        if let Some(error) = error {
            problems.push(
                at(&port.origin, "preflight::port-taken", "")
                    .message(error.to_string())
                    .label("taken")
                    .help(error.hint()),
            );
        }
    }
}

/// The kernel probe of a bridged network (bridge, veth, nftables NAT), run once per boot: its
/// success is kept in the cache folder under the boot's id.
fn kernel_support(cache: Option<&Path>) -> Result<(), NetworkError> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let marker = cache
        .filter(|_| !boot.trim().is_empty())
        .map(|dir| dir.join(format!("network-kernel-{}", boot.trim())));
    if marker.as_ref().is_some_and(|m| m.exists()) {
        return Ok(());
    }
    network::preflight::kernel_support()?;
    if let Some(marker) = marker {
        // A cache: failing to keep it costs only a probe at the next start.
        let _ = std::fs::create_dir_all(marker.parent().unwrap_or(Path::new("/")))
            .and_then(|()| std::fs::write(&marker, b""));
    }
    Ok(())
}
