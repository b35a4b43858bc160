//! Mounts inside the new root: targets resolved without leaving it, filesystems attached by
//! descriptor, and the container's /dev.

use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use super::error::Failure;
use super::ops::{CgroupOp, DevOp, MountOp, MountOpKind, Ops};
use crate::sys::{self, Errno};

/// Opens `target` (relative) below `root` as an O_PATH descriptor, creating missing folders
/// (and the last component as an empty file when `file`). Every lookup uses RESOLVE_IN_ROOT:
/// a symlink in the root filesystem cannot send a mount outside it.
pub fn resolve_target(root: BorrowedFd<'_>, target: &CStr, file: bool) -> Result<OwnedFd, Errno> {
    match sys::open_in_root(root, target, libc::O_PATH) {
        Err(Errno::ENOENT) => {}
        other => return other,
    }
    let bytes = target.to_bytes();
    let mut parent = sys::open_in_root(root, c".", libc::O_PATH | libc::O_DIRECTORY)?;
    let parts: Vec<&[u8]> = bytes
        .split(|b| *b == b'/')
        .filter(|p| !p.is_empty())
        .collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let name = sys::cstring(part)?;
        let prefix =
            sys::cstring(&bytes[..part.as_ptr() as usize - bytes.as_ptr() as usize + part.len()])?;
        let created = if last && file {
            sys::openat(
                parent.as_fd(),
                &name,
                libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW,
                0o644,
            )
            .map(drop)
        } else {
            sys::mkdirat(parent.as_fd(), &name, 0o755)
        };
        match created {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e),
        }
        let flags = if last {
            libc::O_PATH
        } else {
            libc::O_PATH | libc::O_DIRECTORY
        };
        parent = sys::open_in_root(root, &prefix, flags)?;
    }
    Ok(parent)
}

/// Removes what the mounts made in the root folder `root` (on the host, once the container
/// has ended and its mounts are gone), last target first: each target, then its folders up
/// to the topmost one made. Every lookup is by descriptor without following symlinks, so a
/// container that swapped a folder for a symlink cannot send a removal outside its root. A
/// folder the container wrote into (not empty) and a file it wrote to stay, and so does
/// everything above them.
pub fn remove_made_targets(
    root: &std::path::Path,
    targets: &[crate::plan::MadeTarget],
) -> Result<(), Failure> {
    let root_c = sys::cstring(root.as_os_str().as_encoded_bytes())
        .map_err(Failure::of(format!("open {}", root.display())))?;
    let top = sys::open(&root_c, libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .map_err(Failure::of(format!("open {}", root.display())))?;
    for made in targets.iter().rev() {
        let parts: Vec<&str> = made.target.split('/').filter(|p| !p.is_empty()).collect();
        let kept = made.made.split('/').filter(|p| !p.is_empty()).count();
        // The folders down to the target's parent, each opened from the one above.
        let mut folders: Vec<OwnedFd> = Vec::with_capacity(parts.len());
        let mut reached = true;
        for part in &parts[..parts.len().saturating_sub(1)] {
            let parent = folders.last().map_or(top.as_fd(), |f| f.as_fd());
            let Ok(name) = sys::cstring(part.as_bytes()) else {
                reached = false;
                break;
            };
            match sys::openat(
                parent,
                &name,
                libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                0,
            ) {
                Ok(fd) => folders.push(fd),
                Err(_) => {
                    reached = false;
                    break;
                }
            }
        }
        if !reached {
            continue;
        }
        // Deepest first: the target, then each folder above it that was made.
        for depth in (kept.max(1)..=parts.len()).rev() {
            let parent = match depth {
                1 => top.as_fd(),
                d => folders[d - 2].as_fd(),
            };
            let Ok(name) = sys::cstring(parts[depth - 1].as_bytes()) else {
                break;
            };
            let removed = if depth == parts.len() && made.file {
                match sys::regular_file_size_at(parent, &name) {
                    Ok(Some(0)) => sys::unlinkat(parent, &name, 0),
                    Ok(_) => break,
                    Err(errno) => Err(errno),
                }
            } else {
                sys::unlinkat(parent, &name, libc::AT_REMOVEDIR)
            };
            match removed {
                Ok(()) => {}
                // Written into, replaced, or already gone: it stays (or is not there).
                Err(Errno::ENOTEMPTY | Errno::EEXIST | Errno::ENOTDIR | Errno::ENOENT) => break,
                Err(errno) => {
                    return Err(Failure::new(
                        errno,
                        format!(
                            "remove the mount target {} made in {}",
                            parts[..depth].join("/"),
                            root.display()
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Makes the mount of one `[[mount]]` entry (or a default one) and attaches it.
pub fn mount(
    root: BorrowedFd<'_>,
    op: &MountOp,
    ops: &Ops,
    host: &[OwnedFd],
) -> Result<(), Failure> {
    let (mount, what) = match &op.kind {
        MountOpKind::Bind {
            source,
            readonly,
            attrs: asked,
        } => {
            let shown = &ops.host_paths[*source].shown;
            let tree = sys::clone_tree_at(host[*source].as_fd(), true)
                .map_err(Failure::of(format!("bind {shown}: copy its mount")))?;
            // nodev: a device node in a bound folder opens nothing (there is no device cgroup
            // to stop it otherwise).
            let attrs = (sys::MOUNT_ATTR_NODEV | *asked) as u64
                | if *readonly {
                    sys::MOUNT_ATTR_READONLY as u64
                } else {
                    0
                };
            sys::set_mount_attrs(tree.as_fd(), attrs, true).map_err(Failure::of(format!(
                "make the bind of {shown} nodev{}",
                if *readonly { " and read-only" } else { "" }
            )))?;
            (tree, format!("bind {shown} on {}", op.shown))
        }
        MountOpKind::Fs {
            fstype,
            options,
            attrs,
        } => {
            let pairs: Vec<(&CStr, Option<&CStr>)> = options
                .iter()
                .map(|(k, v)| (k.as_c_str(), v.as_deref()))
                .collect();
            let name = fstype.to_string_lossy();
            let fs = sys::new_mount(fstype, &pairs, *attrs).map_err(Failure::of(format!(
                "create a {name} filesystem for {}",
                op.shown
            )))?;
            (fs, format!("mount {name} on {}", op.shown))
        }
    };
    // A file is bound onto a file, a folder onto a folder (anything but a bind is a folder).
    let file = match &op.kind {
        MountOpKind::Bind { source, .. } => !sys::is_dir(host[*source].as_fd()).unwrap_or(true),
        MountOpKind::Fs { .. } => false,
    };
    let target = resolve_target(root, &op.target, file).map_err(Failure::of(format!(
        "{what}: resolve or create the target {} in the root filesystem",
        op.shown
    )))?;
    sys::attach(mount.as_fd(), target.as_fd()).map_err(Failure::of(what))
}

/// The container's cgroups, read-only, made in its cgroup namespace (so each filesystem is
/// rooted at the container's own cgroup): cgroup2 on the target, or a tmpfs there with each
/// v1 hierarchy in its folder, the links of co-mounted controllers and a hybrid host's
/// cgroup2; the tmpfs is made read-only last.
pub fn cgroup(root: BorrowedFd<'_>, op: &CgroupOp) -> Result<(), Failure> {
    let attrs = sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV | sys::MOUNT_ATTR_NOEXEC;
    let ro = attrs | sys::MOUNT_ATTR_READONLY;
    let target = |file| {
        resolve_target(root, &op.target, file).map_err(Failure::of(format!(
            "mount cgroup on {}: resolve or create the target in the root filesystem",
            op.shown
        )))
    };
    let Some(v1) = &op.v1 else {
        let fs = sys::new_mount(c"cgroup2", &[], ro).map_err(Failure::of(format!(
            "create a cgroup2 filesystem for {}",
            op.shown
        )))?;
        return sys::attach(fs.as_fd(), target(false)?.as_fd())
            .map_err(Failure::of(format!("mount cgroup2 on {}", op.shown)));
    };
    let tmpfs = sys::new_mount(
        c"tmpfs",
        &[(c"mode", Some(c"755")), (c"size", Some(c"64k"))],
        attrs,
    )
    .map_err(Failure::of(format!(
        "create the tmpfs for the cgroup hierarchies at {}",
        op.shown
    )))?;
    sys::attach(tmpfs.as_fd(), target(false)?.as_fd()).map_err(Failure::of(format!(
        "mount a tmpfs on {} for the cgroup hierarchies",
        op.shown
    )))?;
    let mut mounts: Vec<(&CStr, OwnedFd, String)> = Vec::new();
    for hierarchy in &v1.hierarchies {
        let (dir, shown) = (&hierarchy.dir, &hierarchy.shown);
        let pairs: Vec<(&CStr, Option<&CStr>)> = hierarchy
            .options
            .iter()
            .map(|(k, v)| (k.as_c_str(), v.as_deref()))
            .collect();
        let fs = sys::new_mount(c"cgroup", &pairs, ro).map_err(Failure::of(format!(
            "create the cgroup v1 filesystem {shown} for {}/{}",
            op.shown,
            dir.to_string_lossy()
        )))?;
        mounts.push((dir, fs, format!("cgroup ({shown})")));
    }
    if let Some(dir) = &v1.unified {
        let fs = sys::new_mount(c"cgroup2", &[], ro).map_err(Failure::of(format!(
            "create a cgroup2 filesystem for {}/{}",
            op.shown,
            dir.to_string_lossy()
        )))?;
        mounts.push((dir, fs, "cgroup2".into()));
    }
    for (dir, fs, what) in &mounts {
        let shown = format!("{}/{}", op.shown, dir.to_string_lossy());
        sys::mkdirat(tmpfs.as_fd(), dir, 0o555).map_err(Failure::of(format!(
            "mount {what} on {shown}: make the folder"
        )))?;
        let folder = sys::openat(
            tmpfs.as_fd(),
            dir,
            libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
            0,
        )
        .map_err(Failure::of(format!(
            "mount {what} on {shown}: open the folder"
        )))?;
        sys::attach(fs.as_fd(), folder.as_fd())
            .map_err(Failure::of(format!("mount {what} on {shown}")))?;
    }
    for (name, to) in &v1.links {
        sys::symlinkat(to, tmpfs.as_fd(), name).map_err(Failure::of(format!(
            "link {}/{} to {}",
            op.shown,
            name.to_string_lossy(),
            to.to_string_lossy()
        )))?;
    }
    sys::set_readonly(tmpfs.as_fd(), false).map_err(Failure::of(format!(
        "make the tmpfs at {} read-only",
        op.shown
    )))
}

/// The container's /dev: a small tmpfs with the standard device nodes, a devpts of its own,
/// /dev/shm (a world-writable sticky folder in it) and the usual links.
pub fn dev(root: BorrowedFd<'_>, op: &DevOp, host: &[OwnedFd]) -> Result<(), Failure> {
    let tmpfs = sys::new_mount(
        c"tmpfs",
        &[(c"mode", Some(c"755")), (c"size", Some(c"65536k"))],
        // nodev: the nodes above are bind mounts of the host's; a node made here later by a
        // process with CAP_MKNOD opens nothing.
        sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NOEXEC | sys::MOUNT_ATTR_NODEV,
    )
    .map_err(Failure::of("create the tmpfs for /dev"))?;
    let target = resolve_target(root, c"dev", false)
        .map_err(Failure::of("create /dev in the root filesystem"))?;
    sys::attach(tmpfs.as_fd(), target.as_fd()).map_err(Failure::of("mount tmpfs on /dev"))?;
    let dev = sys::open_in_root(root, c"dev", libc::O_PATH | libc::O_DIRECTORY)
        .map_err(Failure::of("open /dev"))?;
    for (name, node) in &op.devices {
        let shown = format!("/dev/{}", name.to_string_lossy());
        let node = sys::clone_tree_at(host[*node].as_fd(), false)
            .map_err(Failure::of(format!("bind the host's {shown}")))?;
        let file = sys::openat(
            dev.as_fd(),
            name,
            libc::O_CREAT | libc::O_WRONLY | libc::O_NOFOLLOW,
            0o666,
        )
        .map_err(Failure::of(format!("create {shown}")))?;
        sys::attach(node.as_fd(), file.as_fd())
            .map_err(Failure::of(format!("bind the host's {shown}")))?;
    }
    for dir in [c"pts", c"shm"] {
        sys::mkdirat(dev.as_fd(), dir, 0o755).map_err(Failure::of(format!(
            "create /dev/{}",
            dir.to_string_lossy()
        )))?;
    }
    let pairs: Vec<(&CStr, Option<&CStr>)> = op
        .devpts
        .iter()
        .map(|(k, v)| (k.as_c_str(), v.as_deref()))
        .collect();
    let pts = sys::new_mount(
        c"devpts",
        &pairs,
        sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NOEXEC,
    )
    .map_err(Failure::of("create a devpts instance for /dev/pts"))?;
    let pts_dir = sys::open_in_root(root, c"dev/pts", libc::O_PATH | libc::O_DIRECTORY)
        .map_err(Failure::of("open /dev/pts"))?;
    sys::attach(pts.as_fd(), pts_dir.as_fd()).map_err(Failure::of("mount devpts on /dev/pts"))?;
    // /dev/shm is a folder of /dev's tmpfs (nosuid, nodev, noexec, 64 MiB), as bubblewrap
    // makes it: a superblock fewer at every start.
    let shm_dir = sys::open_in_root(root, c"dev/shm", libc::O_RDONLY | libc::O_DIRECTORY)
        .map_err(Failure::of("open /dev/shm"))?;
    sys::fchmod(shm_dir.as_fd(), 0o1777).map_err(Failure::of("chmod 1777 /dev/shm"))?;
    for (link, target) in [
        (c"ptmx", c"pts/ptmx"),
        (c"fd", c"/proc/self/fd"),
        (c"stdin", c"/proc/self/fd/0"),
        (c"stdout", c"/proc/self/fd/1"),
        (c"stderr", c"/proc/self/fd/2"),
        (c"core", c"/proc/kcore"),
    ] {
        sys::symlinkat(target, dev.as_fd(), link)
            .map_err(Failure::of(format!("link /dev/{}", link.to_string_lossy())))?;
    }
    Ok(())
}

/// Hides each path that exists: a file under /dev/null, a folder under an empty read-only
/// tmpfs. A path that does not exist has nothing to hide.
pub fn mask(root: BorrowedFd<'_>, paths: &[std::ffi::CString]) -> Result<(), Failure> {
    // One /dev/null and one empty tmpfs serve every mask: each further cover is a copy of
    // the first, not a new superblock.
    let mut null: Option<OwnedFd> = None;
    let mut empty: Option<OwnedFd> = None;
    for path in paths {
        let shown = format!("/{}", path.to_string_lossy());
        let target = match sys::open_in_root(root, path, libc::O_PATH) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(Failure::new(e, format!("open {shown} to mask it"))),
        };
        let is_dir = sys::is_dir(target.as_fd()).map_err(Failure::of(format!("stat {shown}")))?;
        let cover = match (is_dir, &empty, &null) {
            (true, Some(first), _) => sys::clone_tree_at(first.as_fd(), false),
            (true, None, _) => sys::new_mount(
                c"tmpfs",
                &[(c"size", Some(c"0")), (c"mode", Some(c"0"))],
                sys::MOUNT_ATTR_READONLY
                    | sys::MOUNT_ATTR_NOSUID
                    | sys::MOUNT_ATTR_NODEV
                    | sys::MOUNT_ATTR_NOEXEC,
            ),
            (false, _, Some(null)) => sys::clone_tree_at(null.as_fd(), false),
            (false, _, None) => {
                let opened = sys::open_in_root(root, c"dev/null", libc::O_PATH)
                    .map_err(Failure::of("open the container's /dev/null"))?;
                let cover = sys::clone_tree_at(opened.as_fd(), false);
                null = Some(opened);
                cover
            }
        }
        .map_err(Failure::of(format!("make the cover for {shown}")))?;
        sys::attach(cover.as_fd(), target.as_fd()).map_err(Failure::of(format!("mask {shown}")))?;
        if is_dir && empty.is_none() {
            // Attached, the descriptor now names a mount that can be copied.
            empty = Some(cover);
        }
    }
    Ok(())
}

/// Makes each path that exists read-only, by binding it onto itself read-only.
pub fn readonly(root: BorrowedFd<'_>, paths: &[std::ffi::CString]) -> Result<(), Failure> {
    for path in paths {
        let shown = format!("/{}", path.to_string_lossy());
        let target = match sys::open_in_root(root, path, libc::O_PATH) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => continue,
            Err(e) => {
                return Err(Failure::new(
                    e,
                    format!("open {shown} to make it read-only"),
                ));
            }
        };
        let tree = sys::clone_tree_at(target.as_fd(), true)
            .map_err(Failure::of(format!("bind {shown} onto itself")))?;
        sys::set_readonly(tree.as_fd(), true)
            .map_err(Failure::of(format!("make {shown} read-only")))?;
        sys::attach(tree.as_fd(), target.as_fd())
            .map_err(Failure::of(format!("make {shown} read-only")))?;
    }
    Ok(())
}
