//! What a container is, as a front end declares it ([`Spec`]), and what preflight learns about
//! the host for it ([`Facts`]). Both are plan types: a front end translates its own format
//! into a `Spec`; nothing here knows Container.toml.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::cgroup::{CgroupSetup, CgroupView, Limits};
use super::network::{NetworkFacts, NetworkSetup};
use super::security::{CapabilitySet, RlimitSpec, SeccompFilter, SeccompProfile};
use super::step::{IdMaps, MountSpec, TerminalMode, UserIds};
use super::{Origin, StopPolicy};

/// A value and the origin that asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At<T> {
    pub value: T,
    pub origin: Origin,
}

impl<T> At<T> {
    pub fn new(value: T, origin: Origin) -> Self {
        At { value, origin }
    }

    /// A built-in default.
    pub fn default_value(value: T) -> Self {
        At {
            value,
            origin: Origin::Default,
        }
    }
}

/// A container, validated but not yet checked against the host.
#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    /// The file it was declared in, for messages and records.
    pub file: PathBuf,
    pub root: At<Root>,
    /// The root filesystem is made read-only (after the mounts), when asked for.
    pub readonly_root: Option<Origin>,
    /// The front end's mounts, in its order; targets absolute and unique.
    pub mounts: Vec<At<MountSpec>>,
    pub namespaces: At<Namespaces>,
    /// Where the network namespace was asked for (or not).
    pub net_origin: Origin,
    /// The container's network: none, the host's, a bridge, pasta; ports, DNS, hosts.
    pub network: NetworkSetup,
    /// `None`: the kernel's (the container has no UTS namespace, or no valid name).
    pub hostname: Option<At<String>>,
    pub process: Process,
    /// Cgroup limits; `None`: no cgroup is made.
    pub limits: Option<At<Limits>>,
    pub rlimits: Option<At<Vec<RlimitSpec>>>,
    pub security: Security,
    pub stop: StopPolicy,
    /// Existing namespaces the container's process enters (by path) instead of making its
    /// own; the kinds joined are off in `namespaces`.
    pub joins: Vec<At<NamespaceJoin>>,
    /// Kernel parameters set in the container's namespaces (`net.*` in its network
    /// namespace, `kernel.shm*`/`msg*`/`sem` in its IPC namespace).
    pub sysctl: Option<At<Vec<(String, String)>>>,
}

/// An existing namespace to enter: its kind as /proc/PID/ns names it and a path to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceJoin {
    /// `net`, `ipc`, `uts` or `cgroup`.
    pub kind: String,
    pub path: PathBuf,
}

/// The root filesystem, as the front end names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// A folder of the host, absolute.
    Folder(PathBuf),
    /// The host's own `/`, read-only, with fresh /proc, /dev, /tmp and /run.
    Host,
    /// An image, to be resolved (pulled, its config merged) into [`Root::Layers`] before
    /// preflight.
    Image(ImageSource),
    /// The layers of an image, as an overlay.
    Layers(Layers),
}

/// An image as the front end names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSource {
    /// As written: `alpine:3.20`, `oci:layout:tag`, `docker-archive:app.tar`.
    pub reference: String,
    /// The folder relative `oci:` and `docker-archive:` paths start at.
    pub base_dir: PathBuf,
    pub pull: PullPolicy,
    /// `os/arch[/variant]`; `None`: this machine's.
    pub platform: Option<String>,
    /// Its registry over plain HTTP.
    pub insecure: bool,
}

/// When an image is fetched from its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullPolicy {
    /// When it is not in the store.
    #[default]
    Missing,
    /// At each start.
    Always,
    /// Never: it must be in the store.
    Never,
}

/// The layers of an image in the store, lowest first, and the container's own writable
/// layer on top of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layers {
    /// The reference, as written, and the manifest digest it resolved to.
    pub image: String,
    pub digest: String,
    /// Unpacked layer folders, lowest first.
    pub layers: Vec<PathBuf>,
    /// The folder of the container's writable layer (its `upper` and `work`); `None`: a
    /// read-only root, no writable layer.
    pub writable: Option<PathBuf>,
    /// The layers' whiteouts are `user.overlay.*` xattrs (unpacked without root): the overlay
    /// is mounted with `userxattr`, in the container's user namespace.
    pub userxattr: bool,
}

/// The root filesystem as the plan makes it: what preflight found the front end's root to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvedRoot {
    Folder(PathBuf),
    Host,
    Layers(Layers),
}

/// Which namespaces the container gets of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Namespaces {
    pub uts: bool,
    pub ipc: bool,
    pub pid: bool,
    /// A network namespace (loopback only); `false`: the host's network.
    pub net: bool,
    pub cgroup: bool,
    pub user: UserNamespace,
}

/// Whether the container gets a user namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserNamespace {
    /// On when the launcher does not run as root (preflight decides): with the caller's
    /// subordinate ranges when it has entries, else one id.
    Auto,
    /// One id: the caller is the command's user.
    On,
    Off,
    /// A range of ids: as root, one of the launcher's own (mounts idmapped); rootless, the
    /// caller's subordinate ranges.
    Remap,
}

/// The command and how it runs. A value whose origin is [`Origin::Default`] was not set by
/// the front end: an image's config may replace it.
#[derive(Debug, Clone)]
pub struct Process {
    /// The program and its arguments, as given (the program is found by preflight). With an
    /// image: the arguments after its entrypoint (`docker run IMAGE ARGS`); empty and
    /// "default" when the front end gave none.
    pub command: At<Vec<String>>,
    /// With an image only: replaces its Entrypoint.
    pub entrypoint: Option<At<Vec<String>>>,
    /// The environment, sorted by name.
    pub env: Vec<(String, String)>,
    /// The names in `env` the front end set (the others are defaults an image may replace).
    pub env_set: Vec<String>,
    /// Absolute, inside the container.
    pub workdir: At<String>,
    pub user: At<UserSpec>,
    pub terminal: At<TerminalMode>,
    /// A tiny init as PID 1.
    pub init: bool,
}

/// Who runs the command, as written: ids or names to look up in the root filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    /// As written (`"0:0"` by default), for messages.
    pub text: String,
    pub user: Id,
    /// `None`: the user's group from /etc/passwd, else 0.
    pub group: Option<Id>,
}

impl UserSpec {
    /// `uid`, `uid:gid`, `name` or `name:group` (as Container.toml and image configs write
    /// it); the error says what is wrong.
    pub fn parse(text: &str) -> Result<UserSpec, String> {
        let (user, group) = match text.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (text, None),
        };
        if user.is_empty() || group.is_some_and(|g| g.is_empty() || g.contains(':')) {
            return Err("expected uid, uid:gid, name or name:group".into());
        }
        let id = |text: &str| match text.parse::<u32>() {
            Ok(number) => Id::Number(number),
            Err(_) => Id::Name(text.to_string()),
        };
        Ok(UserSpec {
            text: text.to_string(),
            user: id(user),
            group: group.map(id),
        })
    }
}

/// A uid/gid, or a name to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Id {
    Number(u32),
    Name(String),
}

/// Capabilities, no_new_privs, seccomp, masked and read-only paths.
#[derive(Debug, Clone)]
pub struct Security {
    pub capabilities: At<CapabilitySet>,
    /// `Some`: set no_new_privs (asked for there, or by default).
    pub no_new_privileges: Option<Origin>,
    pub seccomp: At<SeccompProfile>,
    pub masked_paths: At<Vec<String>>,
    pub readonly_paths: At<Vec<String>>,
}

/// What preflight learned about the host for a spec: every value the plan needs that only the
/// host can tell. Nothing in it is optional that the plan needs.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The root filesystem (an image resolved to its layers).
    pub root: ResolvedRoot,
    /// The user namespace's id maps; `None`: no user namespace.
    pub user_namespace: Option<IdMaps>,
    /// The command's user, resolved.
    pub user: UserIds,
    /// The path of the command inside the container (found through `PATH`).
    pub program: String,
    /// The cgroup to make, when the spec has limits.
    pub cgroup: Option<CgroupSetup>,
    /// What a `cgroup` mount shows on this host, when the spec has one; `None`: none asked
    /// for, or the host mounts no cgroup filesystem (then a default one is left out, and one
    /// the front end asked for is a preflight problem).
    pub cgroup_view: Option<CgroupView>,
    /// The seccomp filter, compiled for this machine (or none, unconfined).
    pub seccomp: SeccompFilter,
    /// For a bridge or pasta network: the state folders its steps use.
    pub network: Option<NetworkFacts>,
    /// The mount targets the mounts will make in a root folder, removed when it ends.
    pub made_targets: Vec<super::MadeTarget>,
}
