//! The container's cgroup: the limits asked for, and the folders and files they become on this
//! host (cgroup v2 or the v1 hierarchies), as preflight resolved them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Limits of the container's cgroup (`[resources]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub memory: Option<u64>,
    /// Memory plus swap (Docker's `--memory-swap`).
    pub memory_swap: Option<u64>,
    /// CPU quota and period, in microseconds.
    pub cpu_quota: Option<(u64, u64)>,
    pub cpu_weight: Option<u64>,
    pub pids: Option<u64>,
}

/// Which cgroup hierarchy holds the container's controllers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CgroupVersion {
    #[serde(rename = "v1")]
    V1,
    #[serde(rename = "v2")]
    V2,
}

impl CgroupVersion {
    pub fn name(self) -> &'static str {
        match self {
            CgroupVersion::V1 => "v1",
            CgroupVersion::V2 => "v2",
        }
    }
}

/// The cgroup as made on this host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupSetup {
    pub version: CgroupVersion,
    #[serde(flatten)]
    pub limits: Limits,
    /// The container's folders: one per v1 controller, one for v2. Each lies under a
    /// `launcher/` folder of its hierarchy.
    pub paths: Vec<PathBuf>,
    /// The files written, in order.
    pub writes: Vec<CgroupWrite>,
}

/// One cgroup file and the value written to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupWrite {
    pub file: PathBuf,
    pub value: String,
}

/// What a `cgroup` mount shows the container: the host's cgroup filesystems mounted afresh
/// in its cgroup namespace, so each is rooted at the container's own cgroup and a program
/// reads its own limits at the top (`memory.max`, `memory/memory.limit_in_bytes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "version", rename_all = "lowercase")]
pub enum CgroupView {
    /// A cgroup2 filesystem (a host where /sys/fs/cgroup is cgroup2).
    V2,
    /// A small tmpfs holding each v1 hierarchy the host mounts under /sys/fs/cgroup, the
    /// links of co-mounted controllers (`cpu` → `cpu,cpuacct`), and a hybrid host's cgroup2.
    V1 {
        hierarchies: Vec<V1Hierarchy>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        links: Vec<CgroupLink>,
        /// The folder cgroup2 is mounted on (`unified`), on a hybrid host.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unified: Option<String>,
    },
}

/// One v1 hierarchy: the folder it is mounted on and the options that name it (its
/// controllers, `name=systemd`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct V1Hierarchy {
    pub dir: String,
    pub options: Vec<String>,
}

/// A symbolic link beside the hierarchies: `name` → `target` (a sibling folder).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupLink {
    pub name: String,
    pub target: String,
}
