//! Signal masks and dispositions, sigwaitinfo, signalfd.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use super::*;

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

/// Runs `work` with `signal` ignored, then puts back the disposition the signal had.
pub fn with_signal_ignored<R>(signal: libc::c_int, work: impl FnOnce() -> R) -> R {
    // SAFETY: SIG_IGN is always a valid disposition.
    let before = unsafe { libc::signal(signal, libc::SIG_IGN) };
    let result = work();
    if before != libc::SIG_ERR {
        // SAFETY: `before` is the disposition the kernel returned for this signal.
        unsafe { libc::signal(signal, before) };
    }
    result
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
