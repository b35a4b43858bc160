//! One container's record, `state.json`: what it runs, its processes, its state and how it
//! ended. Written atomically: a temporary file, fsync, rename, fsync of the folder.

use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::io_text;
use crate::plan::Plan;

/// Version of `state.json`; a launcher refuses records of another one.
/// 2: the typed plan replaced `join` and the plan's JSON text form.
pub const RECORD_FORMAT_VERSION: u32 = 2;

/// The OCI runtime states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// The monitor is setting the container up.
    Creating,
    /// Set up, the command not started yet (not used by `up -d`, which starts at once).
    Created,
    /// The command runs.
    Running,
    /// The command has ended (or its processes are gone).
    Stopped,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Creating => "creating",
            State::Created => "created",
            State::Running => "running",
            State::Stopped => "stopped",
        }
    }
}

/// How the container ended: the status `launcher up` would have exited with, and the signal
/// when the container's first process was killed by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitStatus {
    pub code: i32,
    pub signal: Option<i32>,
    /// Killed by a signal that dumped core.
    #[serde(default)]
    pub core_dumped: bool,
}

/// What `stop` does, from the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopSettings {
    pub signal: i32,
    pub timeout_ms: u64,
}

/// `state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub format_version: u32,
    /// Unique per run: a later run under the same name has another.
    pub id: String,
    pub name: String,
    pub state: State,
    /// The Container.toml, absolute.
    pub file: PathBuf,
    /// The command, as it runs.
    pub command: Vec<String>,
    /// Unix times, in milliseconds.
    pub created_ms: u64,
    pub started_ms: Option<u64>,
    pub finished_ms: Option<u64>,
    /// The container's first process (init, or the command), as the host sees it.
    pub pid: Option<i32>,
    /// Its start time (clock ticks after boot, /proc/PID/stat): tells a recycled pid apart.
    pub pid_start: Option<u64>,
    /// The launcher process that watches the container and records its exit.
    pub monitor_pid: i32,
    pub monitor_start: u64,
    /// /proc/sys/kernel/random/boot_id when written: a record from before a reboot is stale.
    pub boot_id: String,
    /// Whether the container has its own PID namespace (then killing its first process ends
    /// every process of it).
    pub pid_namespace: bool,
    /// Run by a foreground `launcher up` (its monitor is that launcher): no logs, and the
    /// record goes when the container ends.
    #[serde(default)]
    pub foreground: bool,
    pub exit: Option<ExitStatus>,
    /// How many times the monitor ran the command again (`[restart]`).
    #[serde(default)]
    pub restarts: u32,
    /// `launcher stop` (or `rm -f`) is ending it: the monitor does not restart it.
    #[serde(default)]
    pub stop_requested: bool,
    /// Why it ended, when that needs telling: a failure of its monitor, or out of memory.
    pub error: Option<String>,
    pub stop: StopSettings,
    /// The plan the container was started with; `launcher exec` runs the exec plan made from
    /// it (`Plan::exec_plan`), so it sees the container as it was started.
    pub plan: Plan,
}

/// Why a record could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("read the record {}: {}", path.display(), io_text(source))]
    Read { path: PathBuf, source: io::Error },
    #[error("the record {} of container \"{name}\" is damaged: {detail}", path.display())]
    Corrupt {
        name: String,
        path: PathBuf,
        detail: String,
    },
    #[error("write the record {}: {}", path.display(), io_text(source))]
    Write { path: PathBuf, source: io::Error },
}

impl RecordError {
    pub fn hint(&self) -> String {
        match self {
            RecordError::Corrupt { name, .. } => format!(
                "it was cut short or edited (a crash, a full disk?); `launcher rm -f {name}` removes it (stop its processes yourself if it still runs)"
            ),
            RecordError::Read { .. } => {
                "check the owner of the state folder; `--root DIR` picks another one".into()
            }
            RecordError::Write { .. } => {
                "check the free space and owner of the state folder; `--root DIR` picks another one"
                    .into()
            }
        }
    }
}

impl Record {
    /// Reads the record at `path`; `Ok(None)` when there is none.
    pub fn read(path: &Path) -> Result<Option<Record>, RecordError> {
        let text = match std::fs::read(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(RecordError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let corrupt = |detail: String| RecordError::Corrupt {
            name: name_of(path),
            path: path.to_path_buf(),
            detail,
        };
        if text.is_empty() {
            return Err(corrupt("the file is empty".into()));
        }
        // The version first, so a record of another launcher says so rather than what field
        // it lacks.
        #[derive(Deserialize)]
        struct Version {
            format_version: u32,
        }
        let version: Version =
            serde_json::from_slice(&text).map_err(|e| corrupt(format!("not a record: {e}")))?;
        if version.format_version != RECORD_FORMAT_VERSION {
            return Err(corrupt(format!(
                "written by another launcher version (format {}, this one reads {RECORD_FORMAT_VERSION})",
                version.format_version
            )));
        }
        let record: Record =
            serde_json::from_slice(&text).map_err(|e| corrupt(format!("not a record: {e}")))?;
        if record.name != name_of(path) {
            return Err(corrupt(format!(
                "it names container \"{}\", not the folder's",
                record.name
            )));
        }
        Ok(Some(record))
    }

    /// Replaces the record at `path` atomically; with `durable`, synced to disk first (a
    /// record that outlives its processes must survive a crash; one of a running foreground
    /// container can be rebuilt from the live process, and /run is in memory anyway).
    /// Returns which file it wrote, to tell later whether it is still the one there.
    pub fn write(&self, path: &Path, durable: bool) -> Result<FileId, RecordError> {
        let failed = |source: io::Error| RecordError::Write {
            path: path.to_path_buf(),
            source,
        };
        let mut text = serde_json::to_vec(self)
            .map_err(|e| failed(io::Error::new(io::ErrorKind::InvalidData, e)))?;
        text.push(b'\n');
        let dir = path.parent().unwrap_or(Path::new("."));
        let temp = dir.join(format!(".state.json.{}", std::process::id()));
        let written = (|| {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
                .open(&temp)?;
            file.write_all(&text)?;
            if durable {
                file.sync_all()?;
            }
            let written = FileId::of(&file.metadata()?);
            std::fs::rename(&temp, path)?;
            // The rename itself reaches the disk with the folder.
            if durable {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(written)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        written.map_err(failed)
    }
}

/// Which file a record is (device and inode): a record replaced since is another file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    fn of(meta: &std::fs::Metadata) -> FileId {
        use std::os::unix::fs::MetadataExt;
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }

    /// The record file at `path` now, if there is one.
    pub fn at(path: &Path) -> Option<FileId> {
        std::fs::symlink_metadata(path).ok().map(|m| FileId::of(&m))
    }
}

/// The container's name: the name of the record's folder.
fn name_of(path: &Path) -> String {
    path.parent()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
