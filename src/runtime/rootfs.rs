//! The root filesystem: propagation, the staging tmpfs, the bind of the new root, pivot_root.
//!
//! As bubblewrap does, the new root is assembled on a private tmpfs: the host's / is moved to
//! /oldroot of that tmpfs and the container's root is bound at /newroot. Every host path is
//! then reached as /oldroot/..., and nothing is ever mounted on the host's own tree.

use std::ffi::CStr;
use std::os::fd::{AsFd, OwnedFd};

use super::prepare::{NEW_ROOT, OLD_ROOT, STAGE};
use super::sys::{self, Errno};

/// A failed operation: errno and what was being done to which path.
pub type Failure = (Errno, String);

fn fail(what: impl Into<String>) -> impl FnOnce(Errno) -> Failure {
    let what = what.into();
    move |errno| (errno, what)
}

/// Makes every mount in this (new) namespace a slave of the host's: events flow in from the
/// host, none flow out. Must come before any other mount.
pub fn private_propagation() -> Result<(), Failure> {
    sys::mount(None, c"/", None, libc::MS_REC | libc::MS_SLAVE, None)
        .map_err(fail("make / rslave (mount --make-rslave /)"))
}

/// Stages a tmpfs over /tmp, pivots into it with the host's / at /oldroot, and binds the
/// root filesystem (or, with `None`, the host's / read-only) at /newroot.
pub fn bind_root(source: Option<&CStr>) -> Result<OwnedFd, Failure> {
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

    let (source, recursive_readonly) = match source {
        Some(path) => (path, false),
        None => (c"/oldroot", true),
    };
    let shown = source
        .to_string_lossy()
        .trim_start_matches(OLD_ROOT)
        .to_string();
    let shown = if shown.is_empty() {
        "/".to_string()
    } else {
        shown
    };
    let tree =
        sys::clone_tree(source, true).map_err(fail(format!("bind {shown} as the new root")))?;
    if recursive_readonly {
        sys::set_readonly(tree.as_fd(), true).map_err(fail(
            "make the host's / read-only (with every mount under it)",
        ))?;
    }
    let new_root = sys::cstring(NEW_ROOT).map_err(fail("new root"))?;
    let target = sys::open(&new_root, libc::O_PATH | libc::O_DIRECTORY)
        .map_err(fail(format!("open {NEW_ROOT}")))?;
    sys::attach(tree.as_fd(), target.as_fd())
        .map_err(fail(format!("attach {shown} as the new root")))?;
    // Reopen: the descriptor must refer to the attached mount, not the folder under it.
    sys::open(&new_root, libc::O_PATH | libc::O_DIRECTORY)
        .map_err(fail(format!("open the new root {shown}")))
}

/// Detaches the host's tree, makes /newroot the root and drops the staging tmpfs.
pub fn pivot_root() -> Result<(), Failure> {
    let old_root = sys::cstring(OLD_ROOT).map_err(fail("old root"))?;
    sys::umount_detach(&old_root).map_err(fail("detach the host's / (umount /oldroot)"))?;
    let new_root = sys::cstring(NEW_ROOT).map_err(fail("new root"))?;
    sys::chdir(&new_root).map_err(fail("enter the new root"))?;
    // pivot_root(".", "."): the old root ends up under the new one and is detached at once,
    // with no folder needed for it.
    sys::pivot_root(c".", c".").map_err(fail("pivot_root into the new root"))?;
    sys::umount_detach(c".").map_err(fail("detach the staging root"))?;
    sys::chdir(c"/").map_err(fail("enter /"))
}

/// Makes the container's / read-only (not its other mounts: /proc, /dev, tmpfs, binds).
pub fn readonly_root() -> Result<(), Failure> {
    let root = sys::open(c"/", libc::O_PATH | libc::O_DIRECTORY).map_err(fail("open /"))?;
    sys::set_readonly(root.as_fd(), false).map_err(fail("make / read-only"))
}
