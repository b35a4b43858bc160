//! The lock of one container: `flock` on `NAME/lock`. Whoever changes a record holds it: two
//! `up`s of one name, a `stop` racing the monitor that records a natural exit, an `rm`.
//!
//! `rm` unlinks the lock file while it holds it, so a command that was waiting for the lock
//! checks, once it has it, that the file it locked is still the one at the path; if not, it
//! starts over (and finds the container gone, or makes a new folder for `up`).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{StateError, Store};
use crate::sys;

/// A held lock; released when dropped (and, in a monitor forked while holding it, once both
/// processes have dropped their copy: an flock belongs to the open file they share).
#[derive(Debug)]
pub struct NameLock {
    /// Held open for the lock; closing it releases it.
    _file: File,
}

/// How long a command waits for another one to finish with a container.
const WAIT: Duration = Duration::from_secs(30);

impl Store {
    /// Locks `name`, making its folder when missing (`up`).
    pub fn lock_or_create(&self, name: &str) -> Result<NameLock, StateError> {
        self.ensure_root()?;
        match self.lock(name, true)? {
            Some(lock) => Ok(lock),
            // With `create`, lock() makes the folder; it is never missing.
            None => Err(StateError::Lock {
                path: self.paths(name).lock,
                source: io::Error::from(io::ErrorKind::NotFound),
            }),
        }
    }

    /// Locks `name` if it has a folder; `Ok(None)` when it has none (removed, or never made).
    pub fn lock_existing(&self, name: &str) -> Result<Option<NameLock>, StateError> {
        self.lock(name, false)
    }

    fn lock(&self, name: &str, create: bool) -> Result<Option<NameLock>, StateError> {
        let paths = self.paths(name);
        let failed = |source: io::Error| StateError::Lock {
            path: paths.lock.clone(),
            source,
        };
        let deadline = Instant::now() + WAIT;
        loop {
            if create {
                match std::fs::DirBuilder::new().mode(0o700).create(&paths.dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(source) => {
                        return Err(StateError::CreateFolder {
                            path: paths.dir.clone(),
                            source,
                        });
                    }
                }
            }
            let opened = OpenOptions::new()
                .read(true)
                .write(true)
                .create(create)
                .mode(0o600)
                .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
                .open(&paths.lock);
            let file = match opened {
                Ok(file) => file,
                // Removed between the folder and the file: start over, or report it gone.
                Err(e) if e.kind() == io::ErrorKind::NotFound && create => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(source) => return Err(failed(source)),
            };
            match sys::flock(file.as_fd(), libc::LOCK_EX | libc::LOCK_NB) {
                Ok(()) => {}
                Err(sys::Errno::EWOULDBLOCK) => {
                    if Instant::now() >= deadline {
                        return Err(StateError::LockTimeout {
                            name: name.to_string(),
                            path: paths.lock.clone(),
                            seconds: WAIT.as_secs(),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                Err(errno) => return Err(failed(io::Error::from_raw_os_error(errno as i32))),
            }
            if still_linked(&file, &paths.lock) {
                return Ok(Some(NameLock { _file: file }));
            }
            if !create && !paths.dir.exists() {
                return Ok(None);
            }
        }
    }
}

/// Whether the locked file is still the one at `path` (not unlinked by `rm`).
fn still_linked(file: &File, path: &PathBuf) -> bool {
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(held), Ok(current)) => held.ino() == current.ino() && held.dev() == current.dev(),
        _ => false,
    }
}
