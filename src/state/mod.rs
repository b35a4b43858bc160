//! Lifecycle records: the state folder, one folder per container in it, a lock per container
//! and atomic writes of its record.
//!
//! ```text
//! /run/launcher/                  the state root (root), or $XDG_RUNTIME_DIR/launcher
//!   web/                          one folder per container, named after it
//!     lock                        flock: held while the record changes
//!     state.json                  the record, replaced atomically (temp file + rename)
//!     stdout.log, stdout.log.1    what the command wrote, capped (see lifecycle::logs)
//!     stderr.log, stderr.log.1
//!     exec-oom-kills              processes of `exec`s the memory limit killed (state/oom.rs)
//! ```
//!
//! Readers (`ps`, `inspect`) take no lock: a rename is atomic, so they see the old record or
//! the new one, never half of one.

pub mod ids;
mod lock;
mod oom;
mod record;
#[cfg(test)]
mod tests;

use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub use lock::NameLock;
pub use oom::ExecOomCounter;
pub use record::{
    ExitStatus, FileId, RECORD_FORMAT_VERSION, Record, RecordError, State, StopSettings,
};

/// Why the state folder could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("create the state folder {}: {}", path.display(), io_text(source))]
    CreateFolder { path: PathBuf, source: io::Error },
    #[error("the state folder {} {why}", path.display())]
    Unsafe { path: PathBuf, why: String },
    #[error("read the state folder {}: {}", path.display(), io_text(source))]
    List { path: PathBuf, source: io::Error },
    #[error("lock {}: {}", path.display(), io_text(source))]
    Lock { path: PathBuf, source: io::Error },
    #[error(
        "container \"{name}\" is locked by another launcher command for more than {} s ({})",
        seconds, path.display()
    )]
    LockTimeout {
        name: String,
        path: PathBuf,
        seconds: u64,
    },
    #[error("remove {}: {}", path.display(), io_text(source))]
    Remove { path: PathBuf, source: io::Error },
    #[error(
        "container \"{name}\" cannot take the ids from uid {uid}: container \"{other}\" took them since the plan was made"
    )]
    IdsTaken {
        name: String,
        other: String,
        uid: u32,
    },
    #[error(transparent)]
    Record(#[from] RecordError),
}

impl StateError {
    /// What to try.
    pub fn hint(&self) -> String {
        match self {
            StateError::CreateFolder { source, .. } | StateError::List { source, .. }
                if source.kind() == io::ErrorKind::PermissionDenied =>
            {
                "run as the user who owns the state folder, or give another one with `--root DIR`".into()
            }
            StateError::Unsafe { .. } => {
                "use a folder only you can write (chmod 700), or give another one with `--root DIR`".into()
            }
            StateError::LockTimeout { .. } => {
                "another `launcher` command is still working on this container; try again, or look for a stuck one with `ps -ef | grep launcher`".into()
            }
            StateError::Record(error) => error.hint(),
            StateError::IdsTaken { .. } => {
                "run `launcher up` again: its plan then takes a free share of the launcher's range".into()
            }
            _ => "check the state folder's owner and free space; `--root DIR` picks another one".into(),
        }
    }
}

/// "Permission denied (EACCES)", the style of every error of the launcher.
pub fn io_text(error: &io::Error) -> String {
    match error.raw_os_error() {
        Some(code) => {
            let errno = nix::errno::Errno::from_raw(code);
            format!("{} ({errno:?})", errno.desc())
        }
        None => error.to_string(),
    }
}

/// The folder that holds every container's folder.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// The files of one container.
#[derive(Debug, Clone)]
pub struct ContainerPaths {
    pub dir: PathBuf,
    pub record: PathBuf,
    pub lock: PathBuf,
    pub stdout_log: PathBuf,
    pub stderr_log: PathBuf,
}

impl ContainerPaths {
    /// The log file of a stream and its one rotated predecessor (`.1`).
    pub fn rotated(log: &Path) -> PathBuf {
        let mut name = log.as_os_str().to_owned();
        name.push(".1");
        PathBuf::from(name)
    }

    /// The times of a log's output (`NAME.log.times`: byte offset and Unix ms per write).
    pub fn times(log: &Path) -> PathBuf {
        let mut name = log.as_os_str().to_owned();
        name.push(".times");
        PathBuf::from(name)
    }
}

impl Store {
    /// The state folder: `/run/launcher` as root; otherwise `launcher` in the user's runtime
    /// folder (`$XDG_RUNTIME_DIR`) when it is theirs, else `/tmp/launcher-UID`.
    pub fn default_root() -> PathBuf {
        let uid = nix::unistd::geteuid().as_raw();
        if uid == 0 {
            return PathBuf::from("/run/launcher");
        }
        let runtime_dir = directories::BaseDirs::new()
            .and_then(|dirs| dirs.runtime_dir().map(Path::to_path_buf))
            .filter(|dir| std::fs::metadata(dir).is_ok_and(|m| m.is_dir() && m.uid() == uid));
        match runtime_dir {
            Some(dir) => dir.join("launcher"),
            None => PathBuf::from(format!("/tmp/launcher-{uid}")),
        }
    }

    pub fn new(root: PathBuf) -> Self {
        Store { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn paths(&self, name: &str) -> ContainerPaths {
        let dir = self.root.join(name);
        ContainerPaths {
            record: dir.join("state.json"),
            lock: dir.join("lock"),
            stdout_log: dir.join("stdout.log"),
            stderr_log: dir.join("stderr.log"),
            dir,
        }
    }

    /// Creates the state root when missing (mode 0700) and checks that it is ours: in a
    /// shared folder such as /tmp, another user could have made it first.
    pub fn ensure_root(&self) -> Result<(), StateError> {
        let failed = |source| StateError::CreateFolder {
            path: self.root.clone(),
            source,
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .map_err(failed)?;
        let meta = std::fs::symlink_metadata(&self.root).map_err(failed)?;
        let uid = nix::unistd::geteuid().as_raw();
        let why = if !meta.is_dir() {
            Some("is not a folder".to_string())
        } else if meta.uid() != uid {
            Some(format!(
                "belongs to uid {}, not to you (uid {uid})",
                meta.uid()
            ))
        } else if meta.permissions().mode() & 0o022 != 0 {
            // Others could plant folders or records in it.
            Some(format!(
                "can be written by others (mode {:04o})",
                meta.permissions().mode() & 0o7777
            ))
        } else {
            None
        };
        match why {
            Some(why) => Err(StateError::Unsafe {
                path: self.root.clone(),
                why,
            }),
            None => Ok(()),
        }
    }

    /// The names of every container folder, sorted. A missing state root has none.
    pub fn names(&self) -> Result<Vec<String>, StateError> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(StateError::List {
                    path: self.root.clone(),
                    source,
                });
            }
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| crate::config::check_name(name).is_ok())
            .collect();
        names.sort();
        Ok(names)
    }

    /// The record of `name`; `Ok(None)` when there is none.
    pub fn read(&self, name: &str) -> Result<Option<Record>, StateError> {
        Ok(Record::read(&self.paths(name).record)?)
    }

    /// Replaces the record atomically, synced to disk. The caller holds the container's
    /// lock.
    pub fn write(&self, record: &Record, _lock: &NameLock) -> Result<(), StateError> {
        record.write(&self.paths(&record.name).record, true)?;
        Ok(())
    }

    /// [`Store::write`] without syncing: for the record of a running foreground container,
    /// which goes when it ends (and which the live processes tell the truth about).
    pub fn write_running(&self, record: &Record, _lock: &NameLock) -> Result<FileId, StateError> {
        Ok(record.write(&self.paths(&record.name).record, false)?)
    }

    /// Removes the log files (before a new run under the same name replaces the record).
    pub fn remove_logs(&self, name: &str, _lock: &NameLock) -> Result<(), StateError> {
        let paths = self.paths(name);
        for log in [&paths.stdout_log, &paths.stderr_log] {
            let rotated = ContainerPaths::rotated(log);
            for path in [
                ContainerPaths::times(log),
                ContainerPaths::times(&rotated),
                log.clone(),
                rotated,
            ] {
                remove_file(&path)?;
            }
        }
        Ok(())
    }

    /// Removes the container's folder and everything in it. The lock file goes last, while
    /// it is still held: a command waiting for it then finds it unlinked and starts over.
    pub fn remove(&self, name: &str, lock: NameLock) -> Result<(), StateError> {
        let paths = self.paths(name);
        let entries = std::fs::read_dir(&paths.dir).map_err(|source| StateError::List {
            path: paths.dir.clone(),
            source,
        })?;
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path != paths.lock {
                remove_file(&path)?;
            }
        }
        remove_file(&paths.lock)?;
        let removed = match std::fs::remove_dir(&paths.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StateError::Remove {
                path: paths.dir,
                source,
            }),
        };
        drop(lock);
        removed
    }
}

fn remove_file(path: &Path) -> Result<(), StateError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StateError::Remove {
            path: path.to_path_buf(),
            source,
        }),
    }
}
