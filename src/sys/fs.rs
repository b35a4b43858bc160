//! Files, folders, pipes, sockets and descriptors: plain wrappers that return `Errno`.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use super::*;

pub fn open(path: &CStr, flags: libc::c_int) -> SysResult<OwnedFd> {
    // SAFETY: path is a valid C string.
    let fd = check(unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) })?;
    // SAFETY: open returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn openat(
    dir: BorrowedFd<'_>,
    name: &CStr,
    flags: libc::c_int,
    mode: libc::mode_t,
) -> SysResult<OwnedFd> {
    // SAFETY: name is a valid C string; dir is an open descriptor.
    let fd = check(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            flags | libc::O_CLOEXEC,
            mode,
        )
    })?;
    // SAFETY: openat returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// unlinkat(2): removes `name` in `dir` (a folder with `AT_REMOVEDIR`, which fails when it is
/// not empty); never follows a symlink at `name`.
pub fn unlinkat(dir: BorrowedFd<'_>, name: &CStr, flags: libc::c_int) -> SysResult<()> {
    // SAFETY: name is a valid C string; dir is an open descriptor.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) }).map(drop)
}

/// The size of `name` in `dir` when it is a regular file (not following a symlink); `None`
/// for anything else.
pub fn regular_file_size_at(dir: BorrowedFd<'_>, name: &CStr) -> SysResult<Option<u64>> {
    let mut stat = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: name is a valid C string, dir an open descriptor, stat has room for a struct
    // stat.
    check(unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            stat.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })?;
    // SAFETY: fstatat succeeded and filled the struct.
    let stat = unsafe { stat.assume_init() };
    Ok(((stat.st_mode & libc::S_IFMT) == libc::S_IFREG).then_some(stat.st_size as u64))
}

pub fn mkdirat(dir: BorrowedFd<'_>, name: &CStr, mode: libc::mode_t) -> SysResult<()> {
    // SAFETY: name is a valid C string; dir is an open descriptor.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode) }).map(drop)
}

pub fn symlinkat(target: &CStr, dir: BorrowedFd<'_>, name: &CStr) -> SysResult<()> {
    // SAFETY: both strings are valid; dir is an open descriptor.
    check(unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), name.as_ptr()) }).map(drop)
}

pub fn fchmod(fd: BorrowedFd<'_>, mode: libc::mode_t) -> SysResult<()> {
    // SAFETY: fd is an open descriptor.
    check(unsafe { libc::fchmod(fd.as_raw_fd(), mode) }).map(drop)
}

pub fn chdir(path: &CStr) -> SysResult<()> {
    // SAFETY: path is a valid C string.
    check(unsafe { libc::chdir(path.as_ptr()) }).map(drop)
}

pub fn fchdir(fd: BorrowedFd<'_>) -> SysResult<()> {
    // SAFETY: fd is an open descriptor.
    check(unsafe { libc::fchdir(fd.as_raw_fd()) }).map(drop)
}

pub fn mkdir(path: &CStr, mode: libc::mode_t) -> SysResult<()> {
    // SAFETY: path is a valid C string.
    check(unsafe { libc::mkdir(path.as_ptr(), mode) }).map(drop)
}

/// The current folder, or `None` when it lies outside the root (the kernel then prefixes
/// "(unreachable)"), which would be an escape (CVE-2024-21626).
pub fn cwd_is_reachable() -> SysResult<bool> {
    let mut buf = [0u8; 4096];
    // SAFETY: buf is writable for its whole length.
    let ret = unsafe { libc::getcwd(buf.as_mut_ptr().cast(), buf.len()) };
    if ret.is_null() {
        return Err(Errno::last());
    }
    Ok(buf[0] == b'/')
}

pub fn sethostname(name: &[u8]) -> SysResult<()> {
    // SAFETY: name points to name.len() readable bytes.
    check(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) }).map(drop)
}

pub fn dup2(old: RawFd, new: RawFd) -> SysResult<()> {
    // SAFETY: plain descriptor numbers.
    check(unsafe { libc::dup2(old, new) }).map(drop)
}

/// A pipe whose both ends close on exec.
pub fn pipe() -> SysResult<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds has room for two descriptors.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 returned two new descriptors that nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

pub fn write(fd: RawFd, bytes: &[u8]) -> SysResult<usize> {
    // SAFETY: bytes is readable for its length.
    let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    if n < 0 {
        Err(Errno::last())
    } else {
        Ok(n as usize)
    }
}

pub fn write_all(fd: RawFd, mut bytes: &[u8]) -> SysResult<()> {
    while !bytes.is_empty() {
        match write(fd, bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

pub fn read(fd: RawFd, buf: &mut [u8]) -> SysResult<usize> {
    loop {
        // SAFETY: buf is writable for its length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let errno = Errno::last();
        if errno != Errno::EINTR {
            return Err(errno);
        }
    }
}

/// Brings the loopback interface up, as `ip link set lo up` does.
pub fn loopback_up() -> SysResult<()> {
    // SAFETY: a plain socket call.
    let sock =
        check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: socket returned a new descriptor that nothing else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(sock) };
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS fills req for the named interface.
    check(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) })?;
    // SAFETY: the union field ifru_flags is the one SIOCGIFFLAGS filled.
    unsafe { req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads req.
    check(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) }).map(drop)
}

/// Sends one descriptor over a unix socket (SCM_RIGHTS).
pub fn send_fd(socket: RawFd, fd: RawFd) -> SysResult<()> {
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    let iov = [std::io::IoSlice::new(b"t")];
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(socket, &iov, &cmsg, MsgFlags::empty(), None).map(drop)
}

/// Receives one descriptor sent with [`send_fd`]; `Ok(None)` at end of stream.
pub fn recv_fd(socket: RawFd) -> SysResult<Option<OwnedFd>> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let mut byte = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        socket,
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    for cmsg in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg
            && let Some(&fd) = fds.first()
        {
            // SAFETY: the kernel installed this descriptor for us; nothing else owns it.
            return Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }));
        }
    }
    Ok(None)
}

/// A connected pair of unix stream sockets, close-on-exec.
pub fn socketpair() -> SysResult<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds has room for two descriptors.
    check(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    })?;
    // SAFETY: socketpair returned two new descriptors that nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// `poll(2)` on the given descriptors; returns their `revents`.
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: libc::c_int) -> SysResult<usize> {
    // SAFETY: fds is a valid array of pollfd of the given length.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    if n < 0 {
        Err(Errno::last())
    } else {
        Ok(n as usize)
    }
}

/// `flock(2)` on an open file: `LOCK_EX`, `LOCK_EX | LOCK_NB`, `LOCK_UN`.
pub fn flock(fd: BorrowedFd<'_>, operation: libc::c_int) -> SysResult<()> {
    loop {
        // SAFETY: fd is an open descriptor; operation is a plain integer.
        match check(unsafe { libc::flock(fd.as_raw_fd(), operation) }) {
            Err(Errno::EINTR) => continue,
            other => return other.map(drop),
        }
    }
}

/// Removes a file or a folder tree, without following symlinks. A folder made without write
/// or search permission for its owner (an image's `dr-xr-xr-x`, the overlay's `work/work`)
/// cannot be emptied by a non-root owner: such folders are opened up first when the plain
/// removal is refused. A path that is not there is fine.
pub fn remove_tree(path: &std::path::Path) -> std::io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return std::fs::remove_file(path);
    }
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            open_up(path);
            std::fs::remove_dir_all(path)
        }
        other => other,
    }
}

/// Gives the owner rwx on every folder below `dir` it can reach.
fn open_up(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.filter_map(Result::ok) {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                open_up(&entry.path());
            }
        }
    }
}

/// The size of the extended attribute `name` of `path` (`getxattr(2)` with no buffer).
pub fn xattr_size(path: &std::path::Path, name: &CStr) -> SysResult<usize> {
    use std::os::unix::ffi::OsStrExt;
    let path = cstring(path.as_os_str().as_bytes())?;
    // SAFETY: path and name are valid C strings; a null buffer of size 0 asks for the size.
    let size = unsafe { libc::getxattr(path.as_ptr(), name.as_ptr(), std::ptr::null_mut(), 0) };
    if size < 0 {
        Err(Errno::last())
    } else {
        Ok(size as usize)
    }
}

/// The filesystem type (`f_type`, a magic number) of the filesystem holding `path`.
pub fn statfs_type(path: &std::path::Path) -> SysResult<i64> {
    use std::os::unix::ffi::OsStrExt;
    let path = cstring(path.as_os_str().as_bytes())?;
    // SAFETY: statfs is plain data, filled by the call.
    let mut buf: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: path is a valid C string; buf is writable.
    check(unsafe { libc::statfs(path.as_ptr(), &mut buf) })?;
    Ok(buf.f_type as i64)
}
