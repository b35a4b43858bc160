//! Processes: clone, fork, credentials, limits, seccomp, signals to a process, pidfds,
//! namespaces, descriptors across exec.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

use super::*;

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

pub fn setsid() -> SysResult<()> {
    // SAFETY: no arguments.
    check(unsafe { libc::setsid() }).map(drop)
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

/// Leaves the process at once, without running destructors or atexit handlers (a forked child
/// must not flush the parent's buffers).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and is async-signal-safe.
    unsafe { libc::_exit(code) }
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

pub fn getpid() -> libc::pid_t {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::getpid() }
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

// Lifecycle: the lock of a container's state folder, pidfds that pin a process so a signal
// cannot reach a recycled pid, and joining a running container's namespaces (`launcher exec`).

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

pub fn unshare(flags: libc::c_int) -> SysResult<()> {
    // SAFETY: plain integer argument.
    check(unsafe { libc::unshare(flags) }).map(drop)
}

/// Closes a descriptor by number.
///
/// # Safety
///
/// `fd` must be a descriptor this process owns that nothing else (an `OwnedFd`, a `File`)
/// will use or close again.
pub unsafe fn close(fd: RawFd) {
    // SAFETY: the caller owns fd and nothing uses it after this; errors are irrelevant here.
    unsafe { libc::close(fd) };
}
