//! The thin layer over the kernel: every system call the executor makes goes through here, and
//! every `unsafe` block of the crate lives here, each with its `// SAFETY:` reason.
//!
//! Functions take C strings prepared before the clone, so the child allocates as little as it
//! can, and return `Errno` so callers can attach the step and path.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

pub use nix::errno::Errno;

pub type SysResult<T> = Result<T, Errno>;

fn check(ret: libc::c_int) -> SysResult<libc::c_int> {
    if ret == -1 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

fn check_long(ret: libc::c_long) -> SysResult<libc::c_long> {
    if ret == -1 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

/// A C string from a path or text; a NUL byte inside is `EINVAL` (the config layer already
/// refuses those, so this is a safety net).
pub fn cstring(text: impl AsRef<[u8]>) -> SysResult<CString> {
    CString::new(text.as_ref()).map_err(|_| Errno::EINVAL)
}

/// `clone(2)` with fork semantics (the child continues on a copy of this stack).
/// Returns the child's pid in the parent and 0 in the child.
pub fn clone_process(flags: libc::c_int) -> SysResult<libc::pid_t> {
    // SAFETY: the raw clone syscall without CLONE_VM and with a null stack behaves like fork:
    // the child gets a copy-on-write copy of the address space. The launcher is
    // single-threaded when it calls this, so no lock can be held by another thread.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    check_long(ret).map(|pid| pid as libc::pid_t)
}

/// `fork(2)`.
pub fn fork() -> SysResult<libc::pid_t> {
    // SAFETY: fork in a single-threaded process; the child only runs async-signal-safe work
    // and exec, or the init loop.
    check(unsafe { libc::fork() })
}

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

pub fn mkdirat(dir: BorrowedFd<'_>, name: &CStr, mode: libc::mode_t) -> SysResult<()> {
    // SAFETY: name is a valid C string; dir is an open descriptor.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode) }).map(drop)
}

pub fn mknodat(
    dir: BorrowedFd<'_>,
    name: &CStr,
    mode: libc::mode_t,
    dev: libc::dev_t,
) -> SysResult<()> {
    // SAFETY: name is a valid C string; dir is an open descriptor.
    check(unsafe { libc::mknodat(dir.as_raw_fd(), name.as_ptr(), mode, dev) }).map(drop)
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

pub fn setsid() -> SysResult<()> {
    // SAFETY: no arguments.
    check(unsafe { libc::setsid() }).map(drop)
}

/// Makes `fd` (a terminal) the controlling terminal of this session.
pub fn set_controlling_terminal(fd: RawFd) -> SysResult<()> {
    // SAFETY: TIOCSCTTY takes an int argument.
    check(unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) }).map(drop)
}

pub fn dup2(old: RawFd, new: RawFd) -> SysResult<()> {
    // SAFETY: plain descriptor numbers.
    check(unsafe { libc::dup2(old, new) }).map(drop)
}

pub fn close(fd: RawFd) {
    // SAFETY: closing a descriptor number this process owns; errors are irrelevant here.
    unsafe { libc::close(fd) };
}

pub fn setgroups(groups: &[libc::gid_t]) -> SysResult<()> {
    // SAFETY: groups points to groups.len() gids.
    check(unsafe { libc::setgroups(groups.len(), groups.as_ptr()) }).map(drop)
}

pub fn setresgid(gid: libc::gid_t) -> SysResult<()> {
    // SAFETY: plain ids.
    check(unsafe { libc::setresgid(gid, gid, gid) }).map(drop)
}

pub fn setresuid(uid: libc::uid_t) -> SysResult<()> {
    // SAFETY: plain ids.
    check(unsafe { libc::setresuid(uid, uid, uid) }).map(drop)
}

pub fn prctl(option: libc::c_int, arg: libc::c_ulong) -> SysResult<()> {
    // SAFETY: the prctl options used here take one integer argument.
    check(unsafe { libc::prctl(option, arg, 0, 0, 0) }).map(drop)
}

/// Marks every descriptor from `first` up close-on-exec (`close_range(2)`), so they vanish at
/// exec while the error channel still works until then.
pub fn cloexec_from(first: libc::c_uint) -> SysResult<()> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: plain integer arguments.
    check_long(unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    })
    .map(drop)
}

/// `execve(2)`; returns only on failure.
pub fn execve(path: &CStr, argv: &[*const libc::c_char], envp: &[*const libc::c_char]) -> Errno {
    // SAFETY: argv and envp are null-terminated arrays of valid C strings that outlive the call.
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    Errno::last()
}

/// Leaves the process at once, without running destructors or atexit handlers (a forked child
/// must not flush the parent's buffers).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and is async-signal-safe.
    unsafe { libc::_exit(code) }
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

/// Blocks `signals` in this thread and returns the previous mask.
pub fn block_signals(signals: &[libc::c_int]) -> SysResult<libc::sigset_t> {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &signal in signals {
            libc::sigaddset(&mut set, signal);
        }
        let mut old: libc::sigset_t = std::mem::zeroed();
        check(libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old)).map(|_| old)
    }
}

/// Blocks every signal and returns the previous mask.
pub fn block_all_signals() -> SysResult<libc::sigset_t> {
    // SAFETY: sigset_t is plain data, initialised by sigfillset before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        let mut old: libc::sigset_t = std::mem::zeroed();
        check(libc::pthread_sigmask(libc::SIG_SETMASK, &set, &mut old)).map(|_| old)
    }
}

pub fn set_signal_mask(mask: &libc::sigset_t) -> SysResult<()> {
    // SAFETY: mask is a valid sigset_t.
    check(unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, mask, std::ptr::null_mut()) }).map(drop)
}

/// Puts every signal back to its default action: a forked child inherits ignored signals
/// (Rust's runtime ignores SIGPIPE; a caller may have ignored others), and exec keeps them
/// ignored. The raw system call, because glibc's wrappers refuse its two internal real-time
/// signals (32 and 33), which a caller may have left ignored too.
pub fn reset_signal_dispositions() {
    /// The kernel's `struct sigaction` (x86_64 and aarch64 layout).
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }
    let default = KernelSigaction {
        handler: 0, // SIG_DFL
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for signal in 1..=64 {
        if signal == libc::SIGKILL || signal == libc::SIGSTOP {
            continue;
        }
        // SAFETY: default is a valid kernel sigaction of the size passed; the old action is
        // not asked for; errors for signals the kernel lacks are ignored.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                signal,
                &default as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                std::mem::size_of::<u64>(),
            )
        };
    }
}

pub fn ignore_signal(signal: libc::c_int) {
    // SAFETY: SIG_IGN is always a valid disposition.
    unsafe { libc::signal(signal, libc::SIG_IGN) };
}

/// Waits for one signal of the blocked set `mask`; returns its number and sender's pid.
pub fn wait_signal(mask: &libc::sigset_t) -> SysResult<libc::c_int> {
    loop {
        // SAFETY: mask is valid; siginfo may be null.
        let ret = unsafe { libc::sigwaitinfo(mask, std::ptr::null_mut()) };
        if ret >= 0 {
            return Ok(ret);
        }
        let errno = Errno::last();
        if errno != Errno::EINTR {
            return Err(errno);
        }
    }
}

/// The full signal set.
pub fn full_sigset() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data, initialised by sigfillset.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        set
    }
}

pub fn kill(pid: libc::pid_t, signal: libc::c_int) -> SysResult<()> {
    // SAFETY: plain integers.
    check(unsafe { libc::kill(pid, signal) }).map(drop)
}

/// `waitpid`; `Ok(None)` when `nohang` and nothing has changed.
pub fn waitpid(pid: libc::pid_t, nohang: bool) -> SysResult<Option<(libc::pid_t, libc::c_int)>> {
    let mut status = 0;
    loop {
        // SAFETY: status is a valid int to write to.
        let ret =
            unsafe { libc::waitpid(pid, &mut status, if nohang { libc::WNOHANG } else { 0 }) };
        match ret {
            -1 if Errno::last() == Errno::EINTR => continue,
            -1 => return Err(Errno::last()),
            0 => return Ok(None),
            pid => return Ok(Some((pid, status))),
        }
    }
}

pub fn setpgid(pid: libc::pid_t, pgid: libc::pid_t) -> SysResult<()> {
    // SAFETY: plain integers.
    check(unsafe { libc::setpgid(pid, pgid) }).map(drop)
}

pub fn tcsetpgrp(fd: RawFd, pgrp: libc::pid_t) -> SysResult<()> {
    // SAFETY: plain integers.
    check(unsafe { libc::tcsetpgrp(fd, pgrp) }).map(drop)
}

pub fn getpid() -> libc::pid_t {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::getpid() }
}

pub fn getppid() -> libc::pid_t {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::getppid() }
}

pub fn isatty(fd: RawFd) -> bool {
    // SAFETY: plain integer.
    unsafe { libc::isatty(fd) == 1 }
}

pub fn get_winsize(fd: RawFd) -> SysResult<libc::winsize> {
    // SAFETY: winsize is plain data; TIOCGWINSZ fills it.
    unsafe {
        let mut size: libc::winsize = std::mem::zeroed();
        check(libc::ioctl(fd, libc::TIOCGWINSZ, &mut size)).map(|_| size)
    }
}

pub fn set_winsize(fd: RawFd, size: &libc::winsize) -> SysResult<()> {
    // SAFETY: TIOCSWINSZ reads a valid winsize.
    check(unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, size) }).map(drop)
}

pub fn tcgetattr(fd: RawFd) -> SysResult<libc::termios> {
    // SAFETY: termios is plain data; tcgetattr fills it.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        check(libc::tcgetattr(fd, &mut t)).map(|_| t)
    }
}

pub fn tcsetattr(fd: RawFd, t: &libc::termios) -> SysResult<()> {
    // SAFETY: t is a valid termios.
    check(unsafe { libc::tcsetattr(fd, libc::TCSADRAIN, t) }).map(drop)
}

pub fn make_raw(t: &mut libc::termios) {
    // SAFETY: t is a valid termios.
    unsafe { libc::cfmakeraw(t) };
}

/// Opens a new pseudo-terminal pair from the devpts at `ptmx`: (master, slave).
pub fn open_pty(ptmx: &CStr) -> SysResult<(OwnedFd, OwnedFd)> {
    let master = open(ptmx, libc::O_RDWR | libc::O_NOCTTY)?;
    // SAFETY: master is an open ptmx descriptor.
    check(unsafe { libc::unlockpt(master.as_raw_fd()) })?;
    // TIOCGPTPEER opens the peer through the master itself, without a path lookup.
    const TIOCGPTPEER: libc::c_ulong = 0x5441;
    // SAFETY: TIOCGPTPEER takes open flags and returns a new descriptor.
    let slave = check(unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: the ioctl returned a new descriptor that nothing else owns.
    Ok((master, unsafe { OwnedFd::from_raw_fd(slave) }))
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

/// A signalfd for the (blocked) `signals`.
pub fn signalfd(signals: &[libc::c_int]) -> SysResult<OwnedFd> {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset before use.
    let fd = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &signal in signals {
            libc::sigaddset(&mut set, signal);
        }
        check(libc::signalfd(-1, &set, libc::SFD_CLOEXEC))?
    };
    // SAFETY: signalfd returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Reads one signal number from a signalfd.
pub fn read_signal(fd: RawFd) -> SysResult<libc::c_int> {
    // SAFETY: signalfd_siginfo is plain data.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    // SAFETY: info is writable for its size.
    let buf = unsafe {
        std::slice::from_raw_parts_mut(
            (&mut info as *mut libc::signalfd_siginfo).cast::<u8>(),
            std::mem::size_of::<libc::signalfd_siginfo>(),
        )
    };
    read(fd, buf)?;
    Ok(info.ssi_signo as libc::c_int)
}

pub fn borrow(fd: RawFd) -> BorrowedFd<'static> {
    // SAFETY: used only for descriptors that stay open for the life of the process
    // (stdio, or ones held in an OwnedFd by the caller for longer than the borrow).
    unsafe { BorrowedFd::borrow_raw(fd) }
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
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
pub const MOUNT_ATTR_NOSUID: libc::c_uint = 0x2;
pub const MOUNT_ATTR_NODEV: libc::c_uint = 0x4;
pub const MOUNT_ATTR_NOEXEC: libc::c_uint = 0x8;
pub const MOUNT_ATTR_READONLY: libc::c_uint = 0x1;

fn owned(fd: libc::c_long) -> OwnedFd {
    // SAFETY: called only with a descriptor a syscall just returned, that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

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
    // SAFETY: fstype is a valid C string.
    let fs =
        check_long(unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) })
            .map(owned)?;
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

/// The number N of the pseudo-terminal /dev/pts/N behind a master.
pub fn pty_number(master: RawFd) -> SysResult<u32> {
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes an unsigned int.
    check(unsafe { libc::ioctl(master, libc::TIOCGPTN, &mut n) }).map(|_| n)
}

pub fn setrlimit(resource: libc::__rlimit_resource_t, limit: &libc::rlimit) -> SysResult<()> {
    // SAFETY: limit is a valid rlimit.
    check(unsafe { libc::setrlimit(resource, limit) }).map(drop)
}

pub fn getrlimit(resource: libc::__rlimit_resource_t) -> SysResult<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: limit is writable.
    check(unsafe { libc::getrlimit(resource, &mut limit) }).map(|_| limit)
}

/// Loads a seccomp BPF program for this process (all threads: there is one).
pub fn seccomp_load(program: &[libc::sock_filter]) -> SysResult<()> {
    let prog = libc::sock_fprog {
        len: program.len() as libc::c_ushort,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: prog points at `program`, which outlives the call; the kernel copies it.
    check_long(unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const libc::sock_fprog,
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

// Lifecycle: the lock of a container's state folder, pidfds that pin a process so a signal
// cannot reach a recycled pid, and joining a running container's namespaces (`launcher exec`).

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

/// `pidfd_open(2)`: a descriptor for the process `pid` that keeps naming that process, never
/// a later one that reuses the number. Readable (poll) once the process has ended.
pub fn pidfd_open(pid: libc::pid_t) -> SysResult<OwnedFd> {
    // SAFETY: plain integer arguments; the kernel returns a new close-on-exec descriptor.
    check_long(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) }).map(owned)
}

/// `pidfd_send_signal(2)`: sends `signal` to the process a pidfd names.
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, signal: libc::c_int) -> SysResult<()> {
    // SAFETY: a null siginfo makes the kernel fill it in as kill(2) would.
    check_long(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    })
    .map(drop)
}

/// `setns(2)`. With a pidfd and several `CLONE_NEW*` flags, joins all those namespaces of the
/// process at once, the user namespace first, as one atomic change.
pub fn setns(fd: BorrowedFd<'_>, nstype: libc::c_int) -> SysResult<()> {
    // SAFETY: fd is an open descriptor; nstype is a plain integer.
    check(unsafe { libc::setns(fd.as_raw_fd(), nstype) }).map(drop)
}

/// Closes every descriptor of this process but those in `keep` (`close_range(2)` over the
/// gaps). Allocates nothing, so it is safe between clone or fork and exec.
pub fn close_fds_except(keep: &[RawFd]) -> SysResult<()> {
    let close_range = |first: libc::c_uint, last: libc::c_uint| {
        // SAFETY: plain integer arguments.
        check_long(unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) }).map(drop)
    };
    let mut next: libc::c_uint = 0;
    loop {
        // The smallest kept descriptor at or above `next`.
        let kept = keep
            .iter()
            .filter_map(|&fd| libc::c_uint::try_from(fd).ok())
            .filter(|&fd| fd >= next)
            .min();
        match kept {
            Some(fd) => {
                if fd > next {
                    close_range(next, fd - 1)?;
                }
                next = fd + 1;
            }
            None => return close_range(next, libc::c_uint::MAX),
        }
    }
}

pub fn fchdir(fd: BorrowedFd<'_>) -> SysResult<()> {
    // SAFETY: fd is an open descriptor.
    check(unsafe { libc::fchdir(fd.as_raw_fd()) }).map(drop)
}

pub fn unshare(flags: libc::c_int) -> SysResult<()> {
    // SAFETY: plain integer argument.
    check(unsafe { libc::unshare(flags) }).map(drop)
}
