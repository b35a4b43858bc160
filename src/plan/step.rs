//! The actions of a plan. Each variant holds all the data the executor needs for it; its text
//! (the `launcher plan` line) is in `display.rs`, and the order of the steps in `build.rs`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::cgroup::{CgroupSetup, CgroupVersion, CgroupView};
use super::network::{BridgeAttach, PastaSetup};
use super::security::{CapabilitySet, RlimitSpec, SeccompFilter};

/// What one step does. The `step` field of the JSON form is the variant's name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Action {
    // The parent, before the container's process runs a step.
    /// Create the container's cgroup under `launcher/` and write its limits.
    #[serde(rename = "cgroup")]
    CgroupCreate(CgroupSetup),
    /// Open the container's `cgroup.procs` files (`exec`: before entering the container's
    /// mount namespace hides the host's cgroup tree).
    CgroupOpen {
        version: CgroupVersion,
        paths: Vec<PathBuf>,
    },
    /// Enter the namespaces of the container's first process (`exec`), through a pidfd.
    JoinNamespaces { namespaces: Vec<String> },
    /// Clone the container's process (into new namespaces for `up`; a plain fork for `exec`).
    /// The new process sets its parent-death signal and waits for the go-ahead.
    #[serde(rename = "namespaces")]
    Clone(NamespaceSet),
    /// Write the user namespace's uid and gid maps.
    IdMaps(IdMaps),
    /// Make idmapped copies of host folders (through the user namespace's maps: its root sees
    /// their root-owned files as its own, nothing is chowned on disk) and hand them to the
    /// container's process, which mounts them in place of plain binds.
    IdmapMounts {
        paths: Vec<PathBuf>,
        /// An image's layers: the overlay is made here, of idmapped copies of its layers
        /// (the writable layer on top is not idmapped: what the container writes is stored
        /// with the ids of its range), and handed over whole.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        overlay: Option<Overlay>,
    },
    /// Move the container's process into its cgroup.
    CgroupJoin { paths: Vec<PathBuf> },
    /// Create the container's writable layer: `upper` and `work` folders under `path`, empty.
    WritableLayer {
        path: PathBuf,
        /// The uid and gid `upper` is given (its folder is the overlay's root): the
        /// container's root with `remap`; `None`: the launcher's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<(u32, u32)>,
    },
    /// Attach the container's network namespace to a bridged network (lease, veth pair,
    /// address, route, published ports) and write its /etc files.
    #[serde(rename = "network")]
    NetworkAttach(BridgeAttach),
    /// Start pasta for the container's namespaces (rootless network, published ports) and
    /// write its /etc files.
    Pasta(PastaSetup),
    /// Let the container's process run its steps; wait until it has exec'd (or failed).
    Start,

    // The container's process.
    /// Close every descriptor but the launcher's channel, a session of its own, non-dumpable.
    Prologue,
    /// Take uid and gid 0 of the user namespace (and no supplementary groups): with a range
    /// that does not map the launcher's own uid, the process would otherwise be `nobody` in it.
    NamespaceRoot,
    /// Enter an existing namespace by path (setns): a pod's shared network, for one.
    JoinNamespace(super::spec::NamespaceJoin),
    /// Unshare the cgroup namespace, rooted at the container's cgroup.
    CgroupNamespace,
    /// Open the host paths the steps bind, before any mount can change what a path names.
    OpenHostPaths { paths: Vec<PathBuf> },
    /// Make every mount a slave of the host's: no mount made later reaches the host.
    PrivatePropagation,
    /// Bind the root filesystem folder onto itself, so it can become the new root.
    BindRootfs { path: PathBuf },
    /// Bind the host's `/` (recursively, read-only) as the new root.
    HostRootfs,
    /// Mount an image's layers as an overlay (with the writable layer on top, if any) and make
    /// it the new root.
    OverlayRootfs(Overlay),
    /// A mount inside the new root.
    Mount(MountSpec),
    /// A minimal /dev: a tmpfs with device nodes, devpts, shm and the standard links.
    Dev(DevSetup),
    /// The container's cgroups at `target`, read-only, mounted afresh in its cgroup namespace
    /// as the host mounts them (cgroup2, or a tmpfs with the v1 hierarchies).
    CgroupMount { target: String, view: CgroupView },
    /// Bring the loopback interface of the new network namespace up.
    LoopbackUp,
    /// Write kernel parameters under /proc/sys, in the container's namespaces.
    Sysctl { values: Vec<(String, String)> },
    /// Hide paths: /dev/null over files, an empty read-only tmpfs over folders.
    MaskPaths { paths: Vec<String> },
    /// Make paths read-only (bound onto themselves, read-only).
    ReadonlyPaths { paths: Vec<String> },
    /// Switch the root to the new root and detach the old one.
    PivotRoot,
    /// Give the command a pseudo-terminal from the container's devpts.
    Terminal {
        mode: TerminalMode,
        /// Bind it on /dev/console (the container's first process only).
        console: bool,
    },
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
    /// Reduce the bounding, permitted and effective sets to `set`; clear inheritable and
    /// ambient.
    Capabilities { set: CapabilitySet },
    /// PR_SET_NO_NEW_PRIVS: no exec gains privileges.
    NoNewPrivileges,
    /// Load the seccomp filter.
    Seccomp(SeccompFilter),
    /// Mark every descriptor but 0, 1 and 2 close-on-exec.
    CloseFds,
    /// The process outlives the launcher (no parent-death signal; the launcher's channel
    /// closed: it has set up); with `fifo`, it then waits until a reader opens that FIFO (OCI
    /// `start`) before the next step.
    Detach { fifo: Option<PathBuf> },
    /// Become the container's init (PID 1): start the command, forward signals, reap.
    Init,
    /// Execute the command.
    Exec(Exec),

    // The parent, after the command runs.
    /// Wait for the command to end: forward signals, copy the terminal or the output.
    Monitor,
    /// Give back the container's network: its port rules, its lease (the veth pair goes with
    /// its namespace).
    NetworkRelease {
        state_root: PathBuf,
        container: String,
    },
    /// End the container's pasta.
    PastaStop {
        state_root: PathBuf,
        container: String,
    },
    /// End what is left in the container's cgroup and remove its folders.
    CgroupRemove { paths: Vec<PathBuf> },
    /// Remove the container's writable layer (what it wrote goes with it).
    RemoveWritableLayer { path: PathBuf },
    /// Remove the mount targets the container's mounts made in its root folder (empty
    /// folders and files, deepest first; one the container wrote into stays).
    RemoveMountTargets {
        root: PathBuf,
        targets: Vec<MadeTarget>,
    },
}

/// A mount target missing in the root folder, made by the mount step: `made` is its topmost
/// missing folder (or the target itself), `target` the whole path, `file` whether the target
/// is made as an empty file (a bind of a file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MadeTarget {
    pub made: String,
    pub target: String,
    pub file: bool,
}

/// An overlay root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overlay {
    /// The reference as written, and the manifest digest it resolved to.
    pub image: String,
    pub digest: String,
    /// The layer folders, lowest first.
    pub layers: Vec<PathBuf>,
    /// The writable layer's folders; `None`: read-only.
    pub upper: Option<PathBuf>,
    pub work: Option<PathBuf>,
    /// Whiteouts and opaque folders as `user.overlay.*` xattrs (`userxattr`).
    pub userxattr: bool,
}

/// Which namespaces the container's first process is cloned into (all `false`: a fork).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NamespaceSet {
    pub mount: bool,
    pub uts: bool,
    pub ipc: bool,
    pub pid: bool,
    /// A network namespace of its own (`false`: the host's network).
    pub net: bool,
    pub user: bool,
}

/// One line of a uid or gid map: `inside` .. `inside + count` maps to `outside` ..
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMap {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

/// A user namespace's maps, written from outside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMaps {
    pub uid: Vec<IdMap>,
    pub gid: Vec<IdMap>,
    /// `setgroups` is denied first: an unprivileged process may map a gid only then
    /// (CVE-2014-8989).
    pub deny_setgroups: bool,
    /// The maps hold the caller's subordinate ranges: the setuid helpers write them.
    /// `None`: the launcher writes them itself.
    #[serde(default)]
    pub helpers: Option<MapHelpers>,
    /// `remap` as root: the range of the launcher's own this container holds (65,536 uids
    /// and gids from these), recorded in the state folder while it exists.
    #[serde(default)]
    pub range: Option<IdRange>,
}

/// The host id that id `inside` of the namespace is, by `maps`.
pub fn host_id(maps: &[IdMap], inside: u32) -> Option<u32> {
    maps.iter()
        .find(|m| inside >= m.inside && inside - m.inside < m.count)
        .map(|m| m.outside + (inside - m.inside))
}

/// Whether host id `outside` is an id of the namespace, by `maps`.
pub fn maps_host_id(maps: &[IdMap], outside: u32) -> bool {
    maps.iter()
        .any(|m| outside >= m.outside && outside - m.outside < m.count)
}

impl IdMaps {
    /// Maps the launcher writes itself with `setgroups` allowed (so as root: an unprivileged
    /// writer must deny it, or use the helpers) that map no host uid 0 or gid 0: the new
    /// process, still host root, has no id in its namespace and can create no file there
    /// until it becomes the namespace's root.
    pub fn leave_out_host_root(&self) -> bool {
        self.helpers.is_none()
            && !self.deny_setgroups
            && !(maps_host_id(&self.uid, 0) && maps_host_id(&self.gid, 0))
    }
}

/// The first uid and gid of a container's 65,536 ids of the launcher's own range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRange {
    pub uid: u32,
    pub gid: u32,
}

impl IdRange {
    /// How many ids each container gets.
    pub const SIZE: u32 = 65536;
}

/// The setuid helpers that write a rootless caller's subordinate ranges (shadow's uidmap).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapHelpers {
    pub newuidmap: PathBuf,
    pub newgidmap: PathBuf,
}

/// The kinds of mount, with what each one needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum MountKind {
    Bind {
        source: PathBuf,
    },
    Tmpfs {
        size: Option<u64>,
        mode: u32,
    },
    Proc,
    Sysfs,
    Devpts,
    Mqueue,
    /// The container's own cgroups, read-only: what it shows is a host fact
    /// ([`CgroupView`]); the plan mounts it with [`Action::CgroupMount`].
    Cgroup,
}

impl MountKind {
    /// The filesystem's name: `"tmpfs"`.
    pub fn name(&self) -> &'static str {
        match self {
            MountKind::Bind { .. } => "bind",
            MountKind::Tmpfs { .. } => "tmpfs",
            MountKind::Proc => "proc",
            MountKind::Sysfs => "sysfs",
            MountKind::Devpts => "devpts",
            MountKind::Mqueue => "mqueue",
            MountKind::Cgroup => "cgroup",
        }
    }
}

/// A mount at an absolute, normalised `target` inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountSpec {
    #[serde(flatten)]
    pub kind: MountKind,
    pub target: String,
    pub readonly: bool,
    /// Flags asked for beyond the kind's own (an OCI mount's `nosuid`, `noexec`).
    #[serde(default, skip_serializing_if = "MountFlags::is_empty")]
    pub flags: MountFlags,
}

/// Mount flags a front end may add to a mount (each kind already has its own: a bind is
/// nodev, proc nosuid, nodev and noexec).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountFlags {
    #[serde(default)]
    pub nosuid: bool,
    #[serde(default)]
    pub noexec: bool,
}

impl MountFlags {
    pub fn is_empty(&self) -> bool {
        !self.nosuid && !self.noexec
    }
}

/// The /dev the container gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevSetup {
    /// The host's device nodes bound into it.
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

/// Whether the command gets a pseudo-terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TerminalMode {
    On,
    Off,
    /// When the launcher's stdin is a terminal (decided as the container starts).
    Auto,
}

/// Who runs the command, resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserIds {
    /// As written (`"0:0"` by default).
    pub spec: String,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// Whether they are set: not in a user namespace made without root (setgroups denied).
    pub set_groups: bool,
    /// The user's name and home folder in the container's /etc/passwd, when it lists the uid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
}

impl UserIds {
    /// `USER[:GROUP]` (names or numbers) looked up in the text of a container's /etc/passwd
    /// and /etc/group, as `exec -u` gives it: a name must be listed; a uid need not be.
    pub fn lookup(text: &str, passwd: &str, group: &str) -> Result<UserIds, String> {
        let (user, wanted_group) = match text.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (text, None),
        };
        let entries: Vec<Vec<&str>> = passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .filter(|f| f.len() >= 6)
            .collect();
        let entry = entries.iter().find(|f| match user.parse::<u32>() {
            Ok(uid) => f[2].parse::<u32>().ok() == Some(uid),
            Err(_) => f[0] == user,
        });
        let uid = match (user.parse::<u32>(), entry) {
            (Ok(uid), _) => uid,
            (Err(_), Some(f)) => f[2]
                .parse()
                .map_err(|_| format!("the uid of \"{user}\" in /etc/passwd is not a number"))?,
            (Err(_), None) => {
                return Err(format!("no user \"{user}\" in the container's /etc/passwd"));
            }
        };
        let groups: Vec<Vec<&str>> = group
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .filter(|f| f.len() >= 4)
            .collect();
        let gid = match wanted_group {
            Some(g) => match g.parse::<u32>() {
                Ok(gid) => gid,
                Err(_) => groups
                    .iter()
                    .find(|f| f[0] == g)
                    .and_then(|f| f[2].parse().ok())
                    .ok_or_else(|| format!("no group \"{g}\" in the container's /etc/group"))?,
            },
            None => entry.and_then(|f| f[3].parse().ok()).unwrap_or(0),
        };
        let supplementary = entry
            .map(|f| {
                groups
                    .iter()
                    .filter(|g| g[3].split(',').any(|m| m == f[0]))
                    .filter_map(|g| g[2].parse().ok())
                    .filter(|g| *g != gid)
                    .collect()
            })
            .unwrap_or_default();
        Ok(UserIds {
            spec: text.to_string(),
            uid,
            gid,
            groups: supplementary,
            set_groups: true,
            name: entry.map(|f| f[0].to_string()),
            home: entry
                .map(|f| f[5].to_string())
                .filter(|h| h.starts_with('/')),
        })
    }

    /// `env` with what a login gives, as docker and podman do: `HOME` from the passwd entry
    /// (unless `env_set`, the names the file set, has it, or an image's Env changed it), `USER`
    /// and `LOGNAME` from its name when not set.
    pub fn login_env(&self, env: &[(String, String)], env_set: &[String]) -> Vec<(String, String)> {
        let mut env: std::collections::BTreeMap<String, String> = env.iter().cloned().collect();
        // The front end's default is /root; a HOME the image's Env gave differs from it.
        let default_home = env.get("HOME").is_none_or(|h| h == "/root");
        if let Some(home) = &self.home
            && default_home
            && !env_set.iter().any(|k| k == "HOME")
        {
            env.insert("HOME".into(), home.clone());
        }
        if let Some(name) = &self.name {
            for key in ["USER", "LOGNAME"] {
                env.entry(key.into()).or_insert_with(|| name.clone());
            }
        }
        env.into_iter().collect()
    }
}

/// The command and its environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exec {
    /// As given; `args[0]` names the program.
    pub args: Vec<String>,
    pub program: Program,
    /// The environment, sorted by name.
    pub env: Vec<(String, String)>,
}

/// Which file is executed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Program {
    /// This path inside the container (preflight found it).
    Path(String),
    /// `args[0]` itself when it has a `/`, else the first folder of `PATH` that has it, looked
    /// up when the step runs (`launcher exec`, in a running container).
    Search { path: String },
}
