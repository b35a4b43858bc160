//! A rootless container's subordinate ranges, written by the setuid helpers newuidmap and
//! newgidmap: the kernel lets an unprivileged process map only its own id, so the ranges
//! /etc/subuid and /etc/subgid grant the caller are written by them, checked against those
//! files.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::process::Command;

use super::error::Failure;
use super::ops::IdmapOverlay;
use crate::plan::{IdMap, IdMaps, MapHelpers};
use crate::sys::{self, Errno};

/// `remap`: makes a detached, idmapped (through the container's user namespace, whose maps
/// are written) and nodev copy of each path's mount tree and sends it to the container's
/// process, which attaches it in place of a plain bind. Only root can: the copies are made
/// here because an idmapped mount needs CAP_SYS_ADMIN over the filesystem, which the
/// container's process, in its own user namespace, lacks.
pub fn send_idmapped(
    pid: libc::pid_t,
    paths: &[CString],
    socket: BorrowedFd<'_>,
) -> Result<(), Failure> {
    let ns = format!("/proc/{pid}/ns/user");
    let ns_path = sys::cstring(&ns).map_err(Failure::of(format!("open {ns}")))?;
    let userns = sys::open(&ns_path, libc::O_RDONLY).map_err(Failure::of(format!(
        "open the container's user namespace ({ns})"
    )))?;
    for path in paths {
        let shown = path.to_string_lossy();
        let tree = sys::clone_tree(path, true).map_err(Failure::of(format!(
            "copy the mount of {shown} to idmap it"
        )))?;
        sys::set_idmap(
            tree.as_fd(),
            userns.as_fd(),
            sys::MOUNT_ATTR_NODEV as u64,
            true,
        )
        .map_err(|errno| {
            let why = match errno {
                Errno::EINVAL => ": its filesystem (or one mounted below it) cannot be idmapped",
                _ => "",
            };
            Failure::new(errno, format!("mount {shown} idmapped{why}"))
        })?;
        sys::send_fd(socket.as_raw_fd(), tree.as_raw_fd()).map_err(Failure::of(format!(
            "hand the idmapped mount of {shown} to the container's process"
        )))?;
    }
    Ok(())
}

/// `remap` with an image: makes the overlay of the image's layers, each an idmapped (and
/// nodev) copy through the container's user namespace, with the writable layer on top (not
/// idmapped: its root is the container root's, and what the container writes is stored with
/// the ids of its range), and sends it to the container's process, which attaches it as its
/// root. Made here, by root: the layers' `trusted.overlay.*` attributes are readable only
/// outside the container's user namespace. The overlay is never attached in the launcher's
/// mount namespace.
pub fn send_idmapped_overlay(
    pid: libc::pid_t,
    overlay: &IdmapOverlay,
    socket: BorrowedFd<'_>,
) -> Result<(), Failure> {
    let ns = format!("/proc/{pid}/ns/user");
    let ns_path = sys::cstring(&ns).map_err(Failure::of(format!("open {ns}")))?;
    let userns = sys::open(&ns_path, libc::O_RDONLY).map_err(Failure::of(format!(
        "open the container's user namespace ({ns})"
    )))?;
    let shown = &overlay.shown;
    let mut trees = Vec::with_capacity(overlay.layers.len());
    for layer in &overlay.layers {
        let tree = sys::clone_tree(layer, false).map_err(Failure::of(format!(
            "copy the mount of the layer {} to idmap it",
            layer.to_string_lossy()
        )))?;
        sys::set_idmap(
            tree.as_fd(),
            userns.as_fd(),
            sys::MOUNT_ATTR_NODEV as u64,
            false,
        )
        .map_err(Failure::of(format!(
            "mount the layer {} idmapped",
            layer.to_string_lossy()
        )))?;
        trees.push(tree);
    }
    let fds: Vec<(&std::ffi::CStr, BorrowedFd<'_>)> =
        trees.iter().map(|t| (c"lowerdir+", t.as_fd())).collect();
    let options: Vec<(&std::ffi::CStr, Option<&std::ffi::CStr>)> = overlay
        .options
        .iter()
        .map(|(k, v)| (k.as_c_str(), v.as_deref()))
        .collect();
    let made = sys::new_mount_with_fds(c"overlay", &fds, &options, sys::MOUNT_ATTR_NODEV).map_err(
        |errno| {
            let why = match errno {
                Errno::EINVAL | Errno::EBADF => {
                    " (layers given as idmapped mounts need Linux 6.13 or newer)"
                }
                _ => "",
            };
            Failure::new(
                errno,
                format!("mount the idmapped layers of {shown} as an overlay{why}"),
            )
        },
    )?;
    sys::send_fd(socket.as_raw_fd(), made.as_raw_fd()).map_err(Failure::of(format!(
        "hand the overlay of {shown} to the container's process"
    )))
}

/// Runs `newuidmap PID inside outside count...`, then newgidmap, for the waiting process.
pub fn run_helpers(pid: libc::pid_t, maps: &IdMaps, helpers: &MapHelpers) -> Result<(), Failure> {
    for (helper, list) in [
        (&helpers.newuidmap, &maps.uid),
        (&helpers.newgidmap, &maps.gid),
    ] {
        let args = helper_args(pid, list);
        let shown = format!("{} {}", helper.display(), args.join(" "));
        let output = Command::new(helper)
            .args(&args)
            .env_clear()
            .output()
            .map_err(Failure::io(format!("run {shown}")))?;
        if !output.status.success() {
            let said = String::from_utf8_lossy(&output.stderr);
            let said = said.trim();
            return Err(Failure::new(
                Errno::EPERM,
                format!("{shown} failed ({}): {said}", output.status),
            ));
        }
    }
    Ok(())
}

fn helper_args(pid: libc::pid_t, maps: &[IdMap]) -> Vec<String> {
    let mut args = vec![pid.to_string()];
    for map in maps {
        args.extend([map.inside, map.outside, map.count].map(|n| n.to_string()));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_helpers_get_the_pid_then_each_map_as_three_numbers() {
        let maps = [
            IdMap {
                inside: 0,
                outside: 1000,
                count: 1,
            },
            IdMap {
                inside: 1,
                outside: 100000,
                count: 65536,
            },
        ];
        assert_eq!(
            helper_args(42, &maps),
            ["42", "0", "1000", "1", "1", "100000", "65536"]
        );
    }
}
