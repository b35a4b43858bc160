//! The OS layer: the thin layer over the kernel that every module making system calls goes
//! through (the runtime, preflight, state, lifecycle). Every `unsafe` block of the crate lives
//! here, each with its `// SAFETY:` reason; a function whose contract the compiler cannot check
//! is an `unsafe fn` with a `# Safety` section.
//!
//! Functions take C strings prepared before the clone, so the container's process allocates
//! as little as it can, and return `Errno` so callers can attach the step and path.

use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

pub use nix::errno::Errno;

mod exec;
mod fs;
mod mount;
mod process;
mod signal;
mod tty;

pub use exec::*;
pub use fs::*;
pub use mount::*;
pub use process::*;
pub use signal::*;
pub use tty::*;

pub type SysResult<T> = Result<T, Errno>;

pub(super) fn check(ret: libc::c_int) -> SysResult<libc::c_int> {
    if ret == -1 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

pub(super) fn check_long(ret: libc::c_long) -> SysResult<libc::c_long> {
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

/// CLOCK_MONOTONIC in nanoseconds (the vDSO: no system call), comparable across processes.
pub fn monotonic_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: now is a valid timespec to write to; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

pub(super) fn owned(fd: libc::c_long) -> OwnedFd {
    // SAFETY: called only with a descriptor a syscall just returned, that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}
