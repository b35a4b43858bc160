//! `NAME/exec-oom-kills`: how many processes the memory limit killed while `launcher exec`s
//! ran in the container. The container's monitor reads it when the command ends, so an end by
//! SIGKILL is not taken for out of memory because an exec'd process was killed for it.
//!
//! An exec opens the file before it enters the container's mount namespace (the state folder
//! is out of its sight there) and adds to it under `flock` once its process has ended.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};

use super::{NameLock, Store, remove_file};
use crate::sys;

/// The counter, open.
#[derive(Debug)]
pub struct ExecOomCounter {
    file: File,
}

impl Store {
    /// Opens (creating) the counter of `name`, for an exec about to run.
    pub fn open_exec_oom_kills(&self, name: &str) -> io::Result<ExecOomCounter> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(self.paths(name).dir.join("exec-oom-kills"))?;
        Ok(ExecOomCounter { file })
    }

    /// The count of `name`: 0 when no exec was killed (or the file cannot be read).
    pub fn exec_oom_kills(&self, name: &str) -> u64 {
        std::fs::read_to_string(self.paths(name).dir.join("exec-oom-kills"))
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Forgets the count (a new run of the name starts from none).
    pub fn reset_exec_oom_kills(
        &self,
        name: &str,
        _lock: &NameLock,
    ) -> Result<(), super::StateError> {
        remove_file(&self.paths(name).dir.join("exec-oom-kills"))
    }
}

impl ExecOomCounter {
    /// Adds `kills` to the count.
    pub fn add(&self, kills: u64) -> io::Result<()> {
        sys::flock(self.file.as_fd(), libc::LOCK_EX)
            .map_err(|e| io::Error::from_raw_os_error(e as i32))?;
        let mut buf = [0u8; 32];
        let n = self.file.read_at(&mut buf, 0)?;
        let now: u64 = std::str::from_utf8(&buf[..n])
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0);
        let text = format!("{}\n", now.saturating_add(kills));
        self.file.set_len(0)?;
        self.file.write_all_at(text.as_bytes(), 0)?;
        sys::flock(self.file.as_fd(), libc::LOCK_UN)
            .map_err(|e| io::Error::from_raw_os_error(e as i32))
    }
}
