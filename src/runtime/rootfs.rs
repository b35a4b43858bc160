//! The root filesystem: propagation, the staging tmpfs, the bind of the new root, pivot_root.
//!
//! A root filesystem folder is bound onto itself and becomes the new root: every mount is made
//! below that bind, in this private mount namespace. For `rootfs.host`, as bubblewrap does, the
//! new root is assembled on a private tmpfs: the host's / is moved to /oldroot of that tmpfs
//! and bound, read-only, at /newroot; host paths are then reached as /oldroot/.... Either way
//! nothing is ever mounted on the host's own tree.

use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use super::error::Failure;
use super::ops::{HostPath, NEW_ROOT, OLD_ROOT, STAGE};
use crate::sys;

fn fail(what: impl Into<String>) -> impl FnOnce(sys::Errno) -> Failure {
    Failure::of(what)
}

/// Makes every mount in this (new) namespace a slave of the host's: events flow in from the
/// host, none flow out. Must come before any other mount.
pub fn private_propagation() -> Result<(), Failure> {
    sys::mount(None, c"/", None, libc::MS_REC | libc::MS_SLAVE, None)
        .map_err(fail("make / rslave (mount --make-rslave /)"))
}

/// Binds the root filesystem folder (opened by the launcher) onto itself, or, with `None`,
/// stages a tmpfs over /tmp, pivots into it with the host's / at /oldroot, and binds the host's
/// / read-only at /newroot. Returns a descriptor of the new root's mount. With `remap`, the
/// launcher's idmapped (and nodev) copy of the folder is attached instead of a plain bind.
pub fn bind_root(
    folder: Option<(&HostPath, BorrowedFd<'_>)>,
    idmapped: Option<OwnedFd>,
) -> Result<OwnedFd, Failure> {
    let Some((folder, fd)) = folder else {
        return bind_host_root();
    };
    let shown = &folder.shown;
    if let Some(tree) = idmapped {
        sys::attach(tree.as_fd(), fd)
            .map_err(fail(format!("attach the idmapped {shown} onto itself")))?;
        return Ok(tree);
    }
    let tree =
        sys::clone_tree_at(fd, true).map_err(fail(format!("bind {shown} as the new root")))?;
    // nodev: the container's devices are the ones bound into its /dev, nothing from the
    // root filesystem (which may hold device nodes from an unpacked image).
    sys::set_mount_attrs(tree.as_fd(), sys::MOUNT_ATTR_NODEV as u64, true)
        .map_err(fail(format!("make the root filesystem {shown} nodev")))?;
    sys::attach(tree.as_fd(), fd).map_err(fail(format!("bind {shown} onto itself")))?;
    // The descriptor of a mount once attached refers to its root: the new root.
    Ok(tree)
}

/// Mounts an image's layers as an overlay (`nodev`) and attaches it over `target`, the top
/// layer's folder, in this mount namespace only; or attaches `made`, the overlay of idmapped
/// layers the launcher made (`remap`). Returns a descriptor of the new root.
pub fn overlay_root(
    options: &[(CString, Option<CString>)],
    joined: &[(CString, Option<CString>)],
    target: BorrowedFd<'_>,
    shown: &str,
    made: Option<OwnedFd>,
) -> Result<OwnedFd, Failure> {
    if let Some(overlay) = made {
        sys::attach(overlay.as_fd(), target).map_err(fail(format!(
            "attach the overlay of the idmapped layers of {shown} as the new root"
        )))?;
        return Ok(overlay);
    }
    fn pairs(list: &[(CString, Option<CString>)]) -> Vec<(&CStr, Option<&CStr>)> {
        list.iter()
            .map(|(k, v)| (k.as_c_str(), v.as_deref()))
            .collect()
    }
    let attrs = sys::MOUNT_ATTR_NODEV;
    let overlay = match sys::new_mount(c"overlay", &pairs(options), attrs) {
        // Before Linux 6.8 there is no `lowerdir+`: all layers in one option.
        Err(sys::Errno::EINVAL) => sys::new_mount(c"overlay", &pairs(joined), attrs),
        other => other,
    }
    .map_err(fail(format!("mount the layers of {shown} as an overlay")))?;
    sys::attach(overlay.as_fd(), target).map_err(fail(format!(
        "attach the overlay of {shown} as the new root"
    )))?;
    Ok(overlay)
}

fn bind_host_root() -> Result<OwnedFd, Failure> {
    let stage = sys::cstring(STAGE).map_err(fail("stage"))?;
    sys::mount(
        Some(c"tmpfs"),
        &stage,
        Some(c"tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some(c"mode=0700,size=64k"),
    )
    .map_err(fail(format!("mount the staging tmpfs on {STAGE}")))?;
    sys::chdir(&stage).map_err(fail(format!("enter {STAGE}")))?;
    for dir in [c"newroot", c"oldroot"] {
        sys::mkdir(dir, 0o755)
            .map_err(fail(format!("create {STAGE}/{}", dir.to_string_lossy())))?;
    }
    sys::pivot_root(c".", c"oldroot").map_err(fail(format!(
        "pivot_root into the staging tmpfs on {STAGE}"
    )))?;
    sys::chdir(c"/").map_err(fail("enter the staging root"))?;
    let tree =
        sys::clone_tree(c"/oldroot", true).map_err(fail("bind the host's / as the new root"))?;
    let attrs = sys::MOUNT_ATTR_READONLY as u64 | sys::MOUNT_ATTR_NODEV as u64;
    sys::set_mount_attrs(tree.as_fd(), attrs, true).map_err(fail(
        "make the host's / read-only and nodev (with every mount under it)",
    ))?;
    let new_root = sys::cstring(NEW_ROOT).map_err(fail("new root"))?;
    let target = sys::open(&new_root, libc::O_PATH | libc::O_DIRECTORY)
        .map_err(fail(format!("open {NEW_ROOT}")))?;
    sys::attach(tree.as_fd(), target.as_fd())
        .map_err(fail("attach the host's / as the new root"))?;
    // Reopen: the descriptor must refer to the attached mount, not the folder under it.
    sys::open(&new_root, libc::O_PATH | libc::O_DIRECTORY).map_err(fail("open the new root"))
}

/// Makes `new_root` the root and detaches the old one (after the staged host tree, when the
/// host's / was staged).
pub fn pivot_root(new_root: BorrowedFd<'_>, staged: bool) -> Result<(), Failure> {
    if staged {
        let old_root = sys::cstring(OLD_ROOT).map_err(fail("old root"))?;
        sys::umount_detach(&old_root).map_err(fail("detach the host's / (umount /oldroot)"))?;
    }
    sys::fchdir(new_root).map_err(fail("enter the new root"))?;
    // pivot_root(".", "."): the old root ends up under the new one and is detached at once,
    // with no folder needed for it.
    sys::pivot_root(c".", c".").map_err(fail("pivot_root into the new root"))?;
    sys::umount_detach(c".").map_err(fail("detach the old root"))?;
    sys::chdir(c"/").map_err(fail("enter /"))
}

/// Makes the container's / read-only (not its other mounts: /proc, /dev, tmpfs, binds).
pub fn readonly_root() -> Result<(), Failure> {
    let root = sys::open(c"/", libc::O_PATH | libc::O_DIRECTORY).map_err(fail("open /"))?;
    sys::set_readonly(root.as_fd(), false).map_err(fail("make / read-only"))
}
