//! The steps of a plan, in the order DESIGN.md §4 gives. Each variant holds all the data the
//! executor needs for it.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::config::file::{MountType, NetMode};

/// What one step does.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Action {
    /// Clone the container's first process into new namespaces.
    Namespaces(NamespaceSet),
    /// Write the user namespace's uid and gid maps (from the parent, `setgroups` denied first).
    IdMaps { uid: IdMap, gid: IdMap },
    /// Create the container's cgroup under `launcher/`, write its limits and move the first
    /// process in, from the parent, before the child runs any step.
    Cgroup(CgroupPlan),
    /// Give the container a pseudo-terminal; `None` decides at start (stdin a tty or not).
    Terminal { enabled: Option<bool> },
    /// Make every mount under `/` a slave of the host's, before any other mount, so that no
    /// mount the container makes can reach the host.
    PrivatePropagation,
    /// Bind the root filesystem folder onto itself, so it can become the new root.
    BindRootfs { path: PathBuf },
    /// Bind the host's `/` (recursively) as the new root; made read-only after the mounts.
    HostRootfs,
    /// A mount inside the new root.
    Mount(MountSpec),
    /// A minimal /dev: a tmpfs with device nodes, devpts, shm and the standard links.
    Dev(DevSetup),
    /// Bring the loopback interface of the new network namespace up.
    LoopbackUp,
    /// Hide paths: /dev/null over files, an empty read-only tmpfs over folders.
    MaskPaths { paths: Vec<String> },
    /// Make paths read-only (bound onto themselves, read-only).
    ReadonlyPaths { paths: Vec<String> },
    /// Switch the root to the new root and detach the old one.
    PivotRoot,
    /// Make `/` read-only, after every mount point inside it exists.
    ReadonlyRoot,
    /// Set the hostname in the new UTS namespace.
    Hostname { hostname: String },
    /// Set resource limits (setrlimit).
    Rlimits { limits: Vec<RlimitSpec> },
    /// Change to the working folder, checked to be inside the new root.
    Workdir { path: String },
    /// Switch to the command's groups, gid and uid.
    User(UserIds),
    /// Reduce the bounding, permitted, effective and inheritable sets to `set`; clear ambient.
    Capabilities { set: Vec<String> },
    /// PR_SET_NO_NEW_PRIVS: no exec gains privileges.
    NoNewPrivileges,
    /// Load the seccomp filter: the last step before exec (or before capabilities are dropped
    /// when `no_new_privileges = false`, since loading then needs CAP_SYS_ADMIN).
    Seccomp(SeccompPlan),
    /// Close every file descriptor but stdin, stdout and stderr.
    CloseFds,
    /// Run the command.
    Exec(Exec),
}

/// Which namespaces to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamespaceSet {
    pub mount: bool,
    pub uts: bool,
    pub ipc: bool,
    pub pid: bool,
    pub net: NetMode,
    pub cgroup: bool,
    /// `None`: "auto", decided by preflight (on when not root).
    pub user: Option<bool>,
}

/// One line of a uid or gid map: `inside` .. `inside + count` maps to `outside` ..
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IdMap {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

/// Limits of the container's cgroup, and, once preflight has looked at the host, the files
/// written for them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CgroupPlan {
    pub memory: Option<u64>,
    /// Memory plus swap (Docker's `--memory-swap`).
    pub memory_swap: Option<u64>,
    /// CPU quota and period, in microseconds.
    pub cpu_quota: Option<(u64, u64)>,
    pub cpu_weight: Option<u64>,
    pub pids: Option<u64>,
    /// "v1" or "v2"; set by preflight.
    pub version: Option<String>,
    /// The cgroup folders (one per v1 controller, one for v2); set by preflight.
    pub paths: Vec<String>,
    /// The files written, in order; set by preflight.
    pub writes: Vec<CgroupWrite>,
}

/// One cgroup file and the value written to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CgroupWrite {
    pub file: String,
    pub value: String,
}

/// One rlimit; `None` is unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RlimitSpec {
    /// The key in `[rlimits]`: "nofile".
    pub name: String,
    pub soft: Option<u64>,
    pub hard: Option<u64>,
}

/// The seccomp profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeccompPlan {
    /// "default", "unconfined", or the profile's path.
    pub profile: String,
    /// Size of the compiled BPF program, in bytes; set by preflight.
    pub size: Option<usize>,
    /// Syscall names the profile lists that this machine's libseccomp does not know.
    pub unknown_names: Vec<String>,
    /// The compiled program; set by preflight.
    #[serde(skip)]
    pub bpf: Vec<u8>,
}

/// The kinds of mount, with what each one needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum MountKind {
    Bind { source: PathBuf },
    Tmpfs { size: Option<u64>, mode: u32 },
    Proc,
    Sysfs,
    Devpts,
    Mqueue,
}

impl MountKind {
    pub fn mount_type(&self) -> MountType {
        match self {
            MountKind::Bind { .. } => MountType::Bind,
            MountKind::Tmpfs { .. } => MountType::Tmpfs,
            MountKind::Proc => MountType::Proc,
            MountKind::Sysfs => MountType::Sysfs,
            MountKind::Devpts => MountType::Devpts,
            MountKind::Mqueue => MountType::Mqueue,
        }
    }
}

/// A mount at an absolute, normalised `target` inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountSpec {
    #[serde(flatten)]
    pub kind: MountKind,
    pub target: String,
    pub readonly: bool,
}

/// The /dev the container gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DevSetup {
    /// Device files made in it.
    pub devices: Vec<String>,
}

impl DevSetup {
    pub const DEVICES: [&'static str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

    pub fn standard() -> Self {
        DevSetup {
            devices: Self::DEVICES.iter().map(|d| d.to_string()).collect(),
        }
    }
}

/// Who runs the command. Names are resolved by preflight from the root filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserIds {
    /// As written in Container.toml (`"0:0"` by default).
    pub spec: String,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Supplementary groups (from the root filesystem's /etc/group when a name was given).
    pub groups: Vec<u32>,
}

/// The command and how it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exec {
    /// `args[0]` as written; resolved against `PATH` inside the container by preflight.
    pub args: Vec<String>,
    /// The path that is executed, inside the container; set by preflight.
    pub path: Option<String>,
    /// The environment, sorted by name.
    pub env: Vec<(String, String)>,
    /// A tiny init as PID 1 forwards signals and reaps zombies.
    pub init: bool,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Namespaces(set) => write!(f, "create namespaces: {set}"),
            Action::IdMaps { uid, gid } => write!(f, "write id maps: uid {uid}, gid {gid}"),
            Action::Terminal { enabled } => match enabled {
                Some(true) => f.write_str("terminal: a pseudo-terminal for the command"),
                Some(false) => f.write_str("terminal: none, stdio passes through"),
                None => f.write_str("terminal: a pseudo-terminal if stdin is a terminal"),
            },
            Action::PrivatePropagation => f.write_str("make / rslave: no mount reaches the host"),
            Action::BindRootfs { path } => write!(f, "bind root filesystem {}", path.display()),
            Action::HostRootfs => f.write_str("bind the host's / as root (read-only)"),
            Action::Mount(spec) => write!(f, "{spec}"),
            Action::Dev(dev) => write!(f, "mount /dev: tmpfs, {}, pts, shm", dev.devices.join(" ")),
            Action::LoopbackUp => f.write_str("bring loopback up"),
            Action::Cgroup(cgroup) => write!(f, "{cgroup}"),
            Action::MaskPaths { paths } => write!(f, "mask {}", paths.join(" ")),
            Action::ReadonlyPaths { paths } => write!(f, "make read-only {}", paths.join(" ")),
            Action::Rlimits { limits } => {
                let list: Vec<String> = limits
                    .iter()
                    .map(|l| format!("{}={}/{}", l.name, limit_text(l.soft), limit_text(l.hard)))
                    .collect();
                write!(f, "set rlimits (soft/hard): {}", list.join(" "))
            }
            Action::Capabilities { set } => {
                let names: Vec<&str> = set.iter().map(|c| c.trim_start_matches("CAP_")).collect();
                if names.is_empty() {
                    f.write_str("capabilities: none")
                } else {
                    write!(f, "capabilities ({}): {}", names.len(), names.join(" "))
                }
            }
            Action::NoNewPrivileges => f.write_str("set no_new_privs"),
            Action::Seccomp(seccomp) => match seccomp.size {
                _ if seccomp.profile == "unconfined" => f.write_str("seccomp: none (unconfined)"),
                Some(size) => write!(
                    f,
                    "load seccomp profile \"{}\" ({size} bytes of BPF)",
                    seccomp.profile
                ),
                None => write!(f, "load seccomp profile \"{}\"", seccomp.profile),
            },
            Action::PivotRoot => f.write_str("pivot_root into the new root, detach the old one"),
            Action::ReadonlyRoot => f.write_str("make / read-only"),
            Action::Hostname { hostname } => write!(f, "set hostname \"{hostname}\""),
            Action::Workdir { path } => write!(f, "change folder to {path}"),
            Action::User(ids) => write!(f, "{ids}"),
            Action::CloseFds => f.write_str("close inherited file descriptors but 0, 1, 2"),
            Action::Exec(exec) => write!(f, "{exec}"),
        }
    }
}

impl fmt::Display for NamespaceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names = Vec::new();
        for (on, name) in [
            (self.mount, "mount"),
            (self.uts, "uts"),
            (self.ipc, "ipc"),
            (self.pid, "pid"),
            (self.net == NetMode::None, "net"),
            (self.cgroup, "cgroup"),
        ] {
            if on {
                names.push(name);
            }
        }
        match self.user {
            Some(true) => names.push("user"),
            Some(false) => {}
            None => names.push("user (if not root)"),
        }
        write!(f, "{}", names.join(", "))?;
        if self.net == NetMode::Host {
            write!(f, "; host network")?;
        }
        Ok(())
    }
}

impl fmt::Display for IdMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> host {}", self.inside, self.outside)?;
        if self.count != 1 {
            write!(f, " (x{})", self.count)?;
        }
        Ok(())
    }
}

impl fmt::Display for MountSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ro = if self.readonly { " (read-only)" } else { "" };
        match &self.kind {
            MountKind::Bind { source } => {
                write!(f, "bind {} on {}{ro}", source.display(), self.target)
            }
            MountKind::Tmpfs { size, mode } => {
                write!(f, "mount tmpfs on {}", self.target)?;
                if let Some(size) = size {
                    write!(f, " size {}", human_size(*size))?;
                }
                write!(f, " mode {mode:04o}{ro}")
            }
            other => write!(
                f,
                "mount {} on {}{ro}",
                other.mount_type().name(),
                self.target
            ),
        }
    }
}

impl fmt::Display for UserIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.uid, self.gid) {
            (Some(uid), Some(gid)) => {
                write!(f, "run as uid {uid} gid {gid}")?;
                if !self.groups.is_empty() {
                    let groups: Vec<String> = self.groups.iter().map(u32::to_string).collect();
                    write!(f, " groups {}", groups.join(","))?;
                }
                if self.spec.chars().any(|c| !c.is_ascii_digit() && c != ':') {
                    write!(f, " (\"{}\")", self.spec)?;
                }
                Ok(())
            }
            _ => write!(
                f,
                "run as \"{}\" (looked up in the root filesystem)",
                self.spec
            ),
        }
    }
}

impl fmt::Display for Exec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("exec")?;
        if self.init {
            f.write_str(" (under init)")?;
        }
        for (i, arg) in self.args.iter().enumerate() {
            match (&self.path, i) {
                (Some(path), 0) if path != arg => write!(f, " {path}")?,
                _ if arg.is_empty() || arg.contains(char::is_whitespace) => write!(f, " {arg:?}")?,
                _ => write!(f, " {arg}")?,
            }
        }
        Ok(())
    }
}

fn limit_text(value: Option<u64>) -> String {
    value.map_or_else(|| "unlimited".to_string(), |v| v.to_string())
}

impl fmt::Display for CgroupPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.writes.is_empty() {
            let writes: Vec<String> = self
                .writes
                .iter()
                .map(|w| format!("{}={}", w.file, w.value))
                .collect();
            return write!(
                f,
                "cgroup {} {}: {}",
                self.version.as_deref().unwrap_or(""),
                self.paths.join(" "),
                writes.join(" ")
            );
        }
        let mut parts = Vec::new();
        if let Some(memory) = self.memory {
            parts.push(format!("memory {}", human_size(memory)));
        }
        if let Some(swap) = self.memory_swap {
            parts.push(format!("memory+swap {}", human_size(swap)));
        }
        if let Some((quota, period)) = self.cpu_quota {
            parts.push(format!("cpu {quota}/{period} us"));
        }
        if let Some(weight) = self.cpu_weight {
            parts.push(format!("cpu weight {weight}"));
        }
        if let Some(pids) = self.pids {
            parts.push(format!("pids {pids}"));
        }
        write!(f, "cgroup with {}", parts.join(", "))
    }
}

/// 64 MiB, 1.5 GiB, 512 B.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{value} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
