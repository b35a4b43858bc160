//! A handle on a container's process that this launcher may not have started: a pidfd,
//! checked against the process's start time once opened. From then on signals and waits reach
//! that process and no other, even if it ends and its pid is reused (a `stop` racing the
//! container's natural exit cannot hit a stranger).

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use super::procfs;
use crate::sys::{self, Errno};

#[derive(Debug)]
pub struct ProcessHandle {
    pid: libc::pid_t,
    fd: OwnedFd,
}

impl ProcessHandle {
    /// The process `pid` that started at `start`; `Ok(None)` when it has ended or the pid now
    /// names another process.
    pub fn open(pid: libc::pid_t, start: u64) -> Result<Option<ProcessHandle>, Errno> {
        if pid <= 0 {
            return Ok(None);
        }
        let fd = match sys::pidfd_open(pid) {
            Ok(fd) => fd,
            Err(Errno::ESRCH) => return Ok(None),
            Err(errno) => return Err(errno),
        };
        // Checked after the pidfd is open: a process that matches now is the one it names.
        if !procfs::is_alive(pid, start) {
            return Ok(None);
        }
        Ok(Some(ProcessHandle { pid, fd }))
    }

    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// Sends `signal`; `Ok(false)` when the process had already ended.
    pub fn signal(&self, signal: libc::c_int) -> Result<bool, Errno> {
        match sys::pidfd_send_signal(self.fd.as_fd(), signal) {
            Ok(()) => Ok(true),
            Err(Errno::ESRCH) => Ok(false),
            Err(errno) => Err(errno),
        }
    }

    /// Waits until the process ends, at most `timeout` (`None`: for as long as it takes).
    /// Returns whether it has ended.
    pub fn wait_exit(&self, timeout: Option<Duration>) -> Result<bool, Errno> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let ms = match deadline {
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    left.as_millis().min(i32::MAX as u128) as libc::c_int
                }
                None => -1,
            };
            let mut fds = [libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            match sys::poll(&mut fds, ms) {
                Ok(0) => return Ok(false),
                Ok(_) => return Ok(true),
                Err(Errno::EINTR) => {}
                Err(errno) => return Err(errno),
            }
        }
    }
}
