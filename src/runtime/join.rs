//! Entering a running container (`launcher exec`'s first steps): the namespaces of its first
//! process, through a pidfd, all at once and the user namespace first (`setns(2)`).

use std::os::fd::{AsFd, OwnedFd};

use super::error::Failure;
use super::procfs;
use crate::sys::{self, Errno};

/// The container's first process, as its record names it (pid and start time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub pid: libc::pid_t,
    pub start: u64,
}

/// Joins the namespaces `flags` of the container's first process. setns(2) with a pidfd needs
/// ptrace access to that process, which a non-dumpable init refuses to a caller without
/// CAP_SYS_PTRACE on the host, that is, rootless: then the oldest child of init, the command,
/// which shares all its namespaces, serves instead.
pub fn join_namespaces(target: Target, flags: libc::c_int) -> Result<(), Failure> {
    // From here on the launcher shares namespaces with the container: nothing there may open
    // /proc/PID/exe, the launcher's binary (CVE-2019-5736).
    sys::prctl(libc::PR_SET_DUMPABLE, 0).map_err(Failure::of("make the launcher non-dumpable"))?;
    let gone = || {
        Failure::new(
            Errno::ESRCH,
            format!(
                "the container's first process (pid {}) has ended",
                target.pid
            ),
        )
    };
    let failed = |pid: libc::pid_t| {
        Failure::of(format!(
            "join the namespaces of the container's process {pid}"
        ))
    };
    let first = pinned(target.pid, target.start)?.ok_or_else(gone)?;
    match sys::setns(first.as_fd(), flags) {
        Err(Errno::EPERM) => {}
        other => return other.map_err(failed(target.pid)),
    }
    let oldest_child = procfs::children(target.pid)
        .into_iter()
        .min_by_key(|&(_, start)| start);
    let Some((child, start)) = oldest_child else {
        return Err(failed(target.pid)(Errno::EPERM));
    };
    let child_fd = pinned(child, start)?.ok_or_else(gone)?;
    sys::setns(child_fd.as_fd(), flags).map_err(failed(child))
}

/// A pidfd of `pid` if it still is the process that started at `start`.
fn pinned(pid: libc::pid_t, start: u64) -> Result<Option<OwnedFd>, Failure> {
    let fd = match sys::pidfd_open(pid) {
        Ok(fd) => fd,
        Err(Errno::ESRCH) => return Ok(None),
        Err(errno) => {
            return Err(Failure::new(
                errno,
                format!("open a pidfd for the container's process {pid}"),
            ));
        }
    };
    // The pidfd pins the process: if it matches now, it is the one the record names.
    Ok(procfs::is_alive(pid, start).then_some(fd))
}
