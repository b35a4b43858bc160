//! Mounts: the classic calls for propagation and pivot_root, and the new mount API (detached
//! mounts attached by descriptor, targets opened with openat2 RESOLVE_IN_ROOT).

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use super::*;

pub fn mount(
    source: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: libc::c_ulong,
    data: Option<&CStr>,
) -> SysResult<()> {
    let ptr = |s: Option<&CStr>| s.map_or(std::ptr::null(), CStr::as_ptr);
    // SAFETY: every pointer is null or a valid NUL-terminated string that outlives the call.
    check(unsafe {
        libc::mount(
            ptr(source),
            target.as_ptr(),
            ptr(fstype),
            flags,
            ptr(data).cast(),
        )
    })
    .map(drop)
}

pub fn umount_detach(target: &CStr) -> SysResult<()> {
    // SAFETY: target is a valid C string.
    check(unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) }).map(drop)
}

pub fn pivot_root(new_root: &CStr, put_old: &CStr) -> SysResult<()> {
    // SAFETY: both are valid C strings; pivot_root has no glibc wrapper.
    check_long(unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) })
        .map(drop)
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const AT_RECURSIVE: libc::c_uint = 0x8000;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Makes the mount at `fd` read-only, with every mount below it when `recursive`.
/// `mount_setattr(2)` (Linux 5.12) does it in one call, submounts included.
pub fn set_readonly(fd: BorrowedFd<'_>, recursive: bool) -> SysResult<()> {
    set_mount_attrs(fd, MOUNT_ATTR_RDONLY, recursive)
}

/// Sets `MOUNT_ATTR_*` flags on the mount at `fd` (and every mount below it when `recursive`).
pub fn set_mount_attrs(fd: BorrowedFd<'_>, attrs: u64, recursive: bool) -> SysResult<()> {
    let attr = MountAttr {
        attr_set: attrs,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let flags = libc::AT_EMPTY_PATH as libc::c_uint | if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: attr is a valid mount_attr of the size passed; the empty path with AT_EMPTY_PATH
    // makes the call act on fd.
    check_long(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
    .map(drop)
}

const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// Makes the detached mount at `fd` (and its submounts when `recursive`) idmapped through the
/// user namespace `userns` (its maps: a file of uid N on disk shows as the id the namespace
/// maps N to), with `attrs` (`MOUNT_ATTR_*`) set too. Linux 5.12; the mount must not be
/// attached yet, the filesystem must allow it (else EINVAL).
pub fn set_idmap(
    fd: BorrowedFd<'_>,
    userns: BorrowedFd<'_>,
    attrs: u64,
    recursive: bool,
) -> SysResult<()> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP | attrs,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    let flags = libc::AT_EMPTY_PATH as libc::c_uint | if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: attr is a valid mount_attr of the size passed; the empty path with AT_EMPTY_PATH
    // makes the call act on fd.
    check_long(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
    .map(drop)
}

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_IN_ROOT: u64 = 0x10;

/// Opens `path` (relative) below `root` as if `root` were `/`: `..` and absolute symlinks
/// cannot leave it (`openat2(2)` with `RESOLVE_IN_ROOT`).
pub fn open_in_root(root: BorrowedFd<'_>, path: &CStr, flags: libc::c_int) -> SysResult<OwnedFd> {
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: how is a valid open_how of the size passed; path is a valid C string.
    let fd = check_long(unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    })?;
    // SAFETY: openat2 returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

// The new mount API (Linux 5.2; mount_setattr 5.12): mounts are made as detached file
// descriptors and attached to a target descriptor, so no path is looked up twice and no
// symlink can be swapped in between (CVE-2025-31133).

const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;
const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_SET_FLAG: libc::c_uint = 0;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_SET_FD: libc::c_uint = 5;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
pub const MOUNT_ATTR_NOSUID: libc::c_uint = 0x2;
pub const MOUNT_ATTR_NODEV: libc::c_uint = 0x4;
pub const MOUNT_ATTR_NOEXEC: libc::c_uint = 0x8;
pub const MOUNT_ATTR_READONLY: libc::c_uint = 0x1;

/// A detached copy of the mount tree at `source` (recursive when asked): a bind mount not yet
/// attached anywhere.
pub fn clone_tree(source: &CStr, recursive: bool) -> SysResult<OwnedFd> {
    let flags = OPEN_TREE_CLONE
        | libc::O_CLOEXEC as libc::c_uint
        | if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: source is a valid C string.
    check_long(unsafe {
        libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, source.as_ptr(), flags)
    })
    .map(owned)
}

/// A detached new filesystem of `fstype` with `options` (`key` or `key=value`), mounted with
/// `attrs` (`MOUNT_ATTR_*`).
pub fn new_mount(
    fstype: &CStr,
    options: &[(&CStr, Option<&CStr>)],
    attrs: libc::c_uint,
) -> SysResult<OwnedFd> {
    new_mount_with_fds(fstype, &[], options, attrs)
}

/// [`new_mount`] with descriptors as the values of the first options, in order (an overlay's
/// `lowerdir+` given as mounts, Linux 6.13 or newer).
pub fn new_mount_with_fds(
    fstype: &CStr,
    fds: &[(&CStr, BorrowedFd<'_>)],
    options: &[(&CStr, Option<&CStr>)],
    attrs: libc::c_uint,
) -> SysResult<OwnedFd> {
    // SAFETY: fstype is a valid C string.
    let fs =
        check_long(unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) })
            .map(owned)?;
    for (key, fd) in fds {
        // SAFETY: key is a valid C string; the value is null and aux the descriptor, as
        // FSCONFIG_SET_FD takes them.
        check_long(unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs.as_raw_fd(),
                FSCONFIG_SET_FD,
                key.as_ptr(),
                std::ptr::null::<libc::c_char>(),
                fd.as_raw_fd(),
            )
        })?;
    }
    for (key, value) in options {
        let (cmd, value) = match value {
            Some(v) => (FSCONFIG_SET_STRING, v.as_ptr()),
            None => (FSCONFIG_SET_FLAG, std::ptr::null()),
        };
        // SAFETY: key and value are valid C strings (or null for a flag).
        check_long(unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs.as_raw_fd(),
                cmd,
                key.as_ptr(),
                value,
                0,
            )
        })?;
    }
    // SAFETY: plain integer arguments.
    check_long(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_char>(),
            0,
        )
    })?;
    // SAFETY: plain integer arguments.
    check_long(unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, attrs) })
        .map(owned)
}

/// Attaches the detached mount `mount` on the file or folder `target` refers to.
pub fn attach(mount: BorrowedFd<'_>, target: BorrowedFd<'_>) -> SysResult<()> {
    // SAFETY: empty paths with the *_EMPTY_PATH flags make the call act on the descriptors.
    check_long(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            mount.as_raw_fd(),
            c"".as_ptr(),
            target.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    })
    .map(drop)
}

/// [`clone_tree`] of what an open descriptor refers to.
pub fn clone_tree_at(fd: BorrowedFd<'_>, recursive: bool) -> SysResult<OwnedFd> {
    let flags = OPEN_TREE_CLONE
        | libc::O_CLOEXEC as libc::c_uint
        | libc::AT_EMPTY_PATH as libc::c_uint
        | if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: the empty path with AT_EMPTY_PATH makes the call act on fd.
    check_long(unsafe { libc::syscall(libc::SYS_open_tree, fd.as_raw_fd(), c"".as_ptr(), flags) })
        .map(owned)
}

/// Whether an open descriptor (O_PATH included) refers to a folder.
pub fn is_dir(fd: BorrowedFd<'_>) -> SysResult<bool> {
    // SAFETY: stat is plain data, filled by fstat.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open; stat is writable.
    check(unsafe { libc::fstat(fd.as_raw_fd(), &mut stat) })?;
    Ok(stat.st_mode & libc::S_IFMT == libc::S_IFDIR)
}
