//! The state folder of the OCI commands (`--root`, /run/launcher-oci by default): one folder
//! per container with its record (written atomically), its start FIFO while it is created,
//! and its seccomp profile. The status is read from the kernel each time, as the runtime
//! spec asks: a record whose process is gone is stopped.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::OciError;
use super::config::Hooks;
use crate::plan::{CgroupVersion, Plan};
use crate::runtime::procfs;

pub const DEFAULT_ROOT: &str = "/run/launcher-oci";
pub const OCI_VERSION: &str = "1.1.0";

/// What `create` keeps of a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub pid: libc::pid_t,
    /// The process's start time (clock ticks after boot): with the pid, it names the process.
    pub start: u64,
    /// RFC 3339, UTC.
    pub created: String,
    pub owner: String,
    pub annotations: std::collections::BTreeMap<String, String>,
    pub cgroup_version: CgroupVersion,
    pub cgroup_paths: Vec<PathBuf>,
    pub hooks: Hooks,
    /// The plan it was created with: `exec` derives its plan from it.
    pub plan: Plan,
}

/// The runtime spec's statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// The state JSON of the runtime spec (with runc's `rootfs`, `created` and `owner`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub oci_version: String,
    pub id: String,
    pub status: String,
    pub pid: libc::pid_t,
    pub bundle: String,
    pub rootfs: String,
    pub created: String,
    pub owner: String,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty", default)]
    pub annotations: std::collections::BTreeMap<String, String>,
}

pub struct StateDir {
    pub root: PathBuf,
}

impl StateDir {
    pub fn new(root: Option<PathBuf>) -> Self {
        StateDir {
            root: root.unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT)),
        }
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    pub fn fifo(&self, id: &str) -> PathBuf {
        self.dir(id).join("exec.fifo")
    }

    /// The record of `id`.
    pub fn load(&self, id: &str) -> Result<Record, OciError> {
        check_id(id)?;
        let file = self.dir(id).join("record.json");
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(OciError::no_such(id));
            }
            Err(e) => return Err(OciError::io(format!("read {}", file.display()))(e)),
        };
        serde_json::from_str(&text).map_err(|e| {
            OciError::new(format!("read {}: {e}", file.display()))
                .hint("the record was written by another version; `delete --force` the container")
        })
    }

    /// Writes the record atomically (a temporary file renamed over it).
    pub fn save(&self, record: &Record) -> Result<(), OciError> {
        let file = self.dir(&record.id).join("record.json");
        let text = serde_json::to_vec(record)
            .map_err(|e| OciError::new(format!("encode the record of {}: {e}", record.id)))?;
        write_atomic(&file, &text)
    }

    /// The ids of the containers under the root, sorted.
    pub fn ids(&self) -> Result<Vec<String>, OciError> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(OciError::io(format!("read {}", self.root.display()))(e)),
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("record.json").exists())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        ids.sort();
        Ok(ids)
    }

    pub fn status(&self, record: &Record) -> Status {
        if !procfs::is_alive(record.pid, record.start) {
            return Status::Stopped;
        }
        if self.fifo(&record.id).exists() {
            return Status::Created;
        }
        if frozen(record) {
            return Status::Paused;
        }
        Status::Running
    }

    pub fn state(&self, record: &Record) -> State {
        let status = self.status(record);
        State {
            oci_version: OCI_VERSION.into(),
            id: record.id.clone(),
            status: status.name().into(),
            pid: if status == Status::Stopped {
                0
            } else {
                record.pid
            },
            bundle: record.bundle.display().to_string(),
            rootfs: record.rootfs.display().to_string(),
            created: record.created.clone(),
            owner: record.owner.clone(),
            annotations: record.annotations.clone(),
        }
    }
}

/// Whether the container's freezer says it is frozen.
pub fn frozen(record: &Record) -> bool {
    match record.cgroup_version {
        CgroupVersion::V1 => record
            .cgroup_paths
            .iter()
            .filter(|p| p.to_string_lossy().contains("/freezer/"))
            .any(|p| {
                std::fs::read_to_string(p.join("freezer.state")).is_ok_and(|s| s.trim() == "FROZEN")
            }),
        CgroupVersion::V2 => record.cgroup_paths.iter().any(|p| {
            std::fs::read_to_string(p.join("cgroup.freeze")).is_ok_and(|s| s.trim() == "1")
        }),
    }
}

/// Container ids name folders: no `/`, not empty, not `.` or `..`.
pub fn check_id(id: &str) -> Result<(), OciError> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'));
    if ok {
        Ok(())
    } else {
        Err(OciError::new(format!("invalid container id {id:?}"))
            .hint("ids are letters, digits and - _ . +"))
    }
}

pub fn write_atomic(file: &Path, bytes: &[u8]) -> Result<(), OciError> {
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, file))
        .map_err(OciError::io(format!("write {}", file.display())))
}

/// Now, as RFC 3339 in UTC with nanoseconds (as runc writes `created`).
pub fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:09}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        now.subsec_nanos()
    )
}
