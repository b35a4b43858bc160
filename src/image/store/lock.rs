//! `flock` locks of the store: one on the whole store (pulls share it; `rmi` and `prune` hold
//! it alone, so they never remove what a pull is writing), and one per blob and per layer (two
//! pulls of one layer: one fetches and unpacks, the other waits and then finds it done).
//! A lock dies with its process, so a pull killed with SIGKILL never leaves one held.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rustix::fs::{FlockOperation, flock};

/// A held lock, released when dropped.
#[derive(Debug)]
pub struct Held {
    _file: File,
}

/// Takes `path`'s lock, creating the file when missing; waits while another process holds it
/// (shared locks wait only for an exclusive holder).
pub fn take(path: &Path, shared: bool) -> io::Result<Held> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    let operation = match shared {
        true => FlockOperation::LockShared,
        false => FlockOperation::LockExclusive,
    };
    loop {
        match flock(&file, operation) {
            Ok(()) => return Ok(Held { _file: file }),
            Err(rustix::io::Errno::INTR) => continue,
            Err(errno) => return Err(errno.into()),
        }
    }
}
