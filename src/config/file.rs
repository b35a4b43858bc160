//! The serde types of Container.toml, one to one with the file.
//!
//! Every field is documented with its default; the docs become the descriptions in
//! `schemas/container.schema.json`. Values that are checked later are wrapped in
//! `Spanned` so a diagnostic can point at them.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

/// A container, declared once: what it runs, on which root filesystem, with which mounts and
/// namespaces.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Container.toml")]
pub struct ContainerFile {
    /// The container's name, unique on this host. Letters, digits, `.`, `_` and `-`.
    /// Default: the name of the folder that holds Container.toml.
    #[schemars(with = "Option<String>")]
    pub name: Option<Spanned<String>>,

    /// The hostname inside the container (RFC 1123, at most 64 bytes). Default: `name`.
    #[schemars(with = "Option<String>")]
    pub hostname: Option<Spanned<String>>,

    /// The root filesystem: a folder path relative to this file (short form), or a table.
    /// Give `rootfs` (a folder, or the host's /) or `image`, not both; with `image`, a
    /// `[rootfs]` table may only set `readonly`.
    #[schemars(with = "Option<RootfsSpec>")]
    pub rootfs: Option<Spanned<RootfsSpec>>,

    /// The image the container runs: a registry reference (`alpine:3.20`,
    /// `registry.example.com/app@sha256:...`), `oci:PATH[:TAG]` (an OCI image layout folder,
    /// relative to this file) or `docker-archive:PATH` (a `docker save` tarball); or a table.
    /// Its layers become the root filesystem (an overlay; the container's writes go to a layer
    /// of its own), its config the defaults of `command`, `env`, `workdir`, `user` and
    /// `[stop] signal`. The digest it resolved to is kept in Container.lock.
    #[schemars(with = "Option<ImageSpec>")]
    pub image: Option<Spanned<ImageSpec>>,

    /// The command and its arguments. A command without a slash is searched in the `PATH` of
    /// `env` inside the root filesystem. Required with `rootfs`, not empty; with `image` it
    /// replaces the image's Cmd (the image's Entrypoint stays, as with `docker run IMAGE CMD`).
    #[schemars(with = "Option<Vec<String>>")]
    pub command: Option<Spanned<Vec<Spanned<String>>>>,

    /// With `image` only: replaces the image's Entrypoint (and then, as with `docker run
    /// --entrypoint`, the image's Cmd is not used: `command` gives the arguments). Default: the
    /// image's.
    #[schemars(with = "Option<Vec<String>>")]
    pub entrypoint: Option<Spanned<Vec<Spanned<String>>>>,

    /// Environment variables, merged over the default environment
    /// (`PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, `HOME`, `TERM` when a
    /// terminal is used, `HOSTNAME`). Default: empty.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub env: BTreeMap<Spanned<String>, Spanned<String>>,

    /// The working folder inside the container, an absolute path. It must exist in the root
    /// filesystem. Default: `/`.
    #[schemars(with = "Option<String>")]
    pub workdir: Option<Spanned<String>>,

    /// Who runs the command: `uid`, `uid:gid`, `name` or `name:group`; names are looked up in the
    /// root filesystem's /etc/passwd and /etc/group. Default: `0:0` (root inside the container).
    #[schemars(with = "Option<String>")]
    pub user: Option<Spanned<String>>,

    /// Give the command a pseudo-terminal: `true`, `false`, or `"auto"` (a terminal when the
    /// launcher's stdin is one). Default: `"auto"`.
    #[schemars(with = "Option<Switch>")]
    pub terminal: Option<Spanned<Switch>>,

    /// Run a tiny init as PID 1 that forwards signals to the command and reaps zombies.
    /// With `false` the command itself is PID 1 and ignores signals it has no handler for.
    /// Default: `true`.
    pub init: Option<bool>,

    /// Mounts, applied in file order after the root filesystem. Default: none.
    #[serde(default, rename = "mount")]
    #[schemars(rename = "mount", with = "Vec<MountEntry>")]
    pub mounts: Vec<Spanned<MountEntry>>,

    /// Which namespaces the container gets. Default: all of them, `net = "none"`,
    /// `user = "auto"`.
    #[serde(default)]
    pub namespaces: NamespacesTable,

    /// The container's network: none (loopback only), the host's, a bridged network with NAT
    /// and published ports (root), or pasta (rootless). Default: `mode = "none"`.
    #[serde(default)]
    pub network: NetworkTable,

    /// How `launcher stop` ends the container: a signal, then SIGKILL after a timeout.
    /// Default: `SIGTERM`, then SIGKILL after 10 seconds.
    #[serde(default)]
    pub stop: super::stop::StopTable,

    /// Whether the monitor of a detached container (`up -d`) runs the command again when it
    /// ends: a policy, a maximum count and a back-off. Default: never.
    #[serde(default)]
    pub restart: super::restart::RestartTable,

    /// Resource limits, enforced with cgroups (v2, or the v1 controllers). Default: none, and
    /// then no cgroup is made.
    #[serde(default)]
    pub resources: ResourcesTable,

    /// Per-process limits (setrlimit), inherited by every process of the container. Default:
    /// the launcher's own.
    #[serde(default)]
    pub rlimits: RlimitsTable,

    /// Security settings. Default: Docker's capabilities, no new privileges, the default seccomp
    /// profile, masked and read-only paths of /proc and /sys.
    #[serde(default)]
    pub security: SecurityTable,
}

/// `image = "REF"` or an `[image]` table.
#[derive(Debug, JsonSchema)]
#[schemars(untagged)]
pub enum ImageSpec {
    /// A reference: `alpine:3.20`, `oci:PATH[:TAG]`, `docker-archive:PATH`.
    Reference(String),
    /// The long form.
    Table(ImageTable),
}

/// The long form of `image`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageTable {
    /// The reference, as in the short form. Required.
    #[serde(rename = "ref")]
    #[schemars(rename = "ref", with = "String")]
    pub reference: Spanned<String>,

    /// When to fetch it: `"missing"` (when it is not in the store), `"always"` (check the
    /// source for a newer one at each start) or `"never"` (fail when it is not in the store).
    /// Default: `"missing"`.
    #[schemars(with = "Option<PullPolicy>")]
    pub pull: Option<Spanned<PullPolicy>>,

    /// The platform to pick from a multi-platform image: `os/arch[/variant]`
    /// (`linux/arm64`, `linux/arm/v7`). Default: this machine's.
    #[schemars(with = "Option<String>")]
    pub platform: Option<Spanned<String>>,

    /// Reach its registry over plain HTTP (never needed for localhost or 127.0.0.1). Default:
    /// `false`: HTTPS.
    #[schemars(with = "Option<bool>")]
    pub insecure: Option<Spanned<bool>>,
}

/// When an image is fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PullPolicy {
    /// When it is not in the store.
    Missing,
    /// At each start, to find a newer one.
    Always,
    /// Never: it must be in the store.
    Never,
}

/// `rootfs = "path"` or a `[rootfs]` table.
#[derive(Debug, JsonSchema)]
#[schemars(untagged)]
pub enum RootfsSpec {
    /// A folder that holds the root filesystem, relative to this file.
    Path(String),
    /// The long form.
    Table(RootfsTable),
}

/// The long form of `rootfs`: either `path` or `host = true`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RootfsTable {
    /// A folder that holds the root filesystem, relative to this file.
    #[schemars(with = "Option<String>")]
    pub path: Option<Spanned<String>>,

    /// Use the host's own `/`, read-only, with a fresh /proc, /dev, /tmp and /run: runs programs
    /// installed on the host with nothing downloaded. Default: `false`.
    #[schemars(with = "Option<bool>")]
    pub host: Option<Spanned<bool>>,

    /// Mount the root filesystem read-only. Default: `false` (`true`, and only `true`, with
    /// `host`).
    #[schemars(with = "Option<bool>")]
    pub readonly: Option<Spanned<bool>>,
}

/// `true`, `false` or `"auto"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Switch {
    /// On or off.
    Bool(bool),
    /// Decided when the container starts.
    Auto(Auto),
}

/// `true`, `false`, `"auto"` or `"remap"`: the user namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum UserMode {
    /// On (one id) or off.
    Bool(bool),
    /// `"auto"` or `"remap"`.
    Word(UserWord),
}

/// The words of `namespaces.user`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum UserWord {
    /// On when the launcher is not root; ranges when the caller has them.
    Auto,
    /// A range of ids of the container's own.
    Remap,
}

/// The word `"auto"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Auto {
    /// Decided when the container starts.
    Auto,
}

/// One `[[mount]]` entry.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MountEntry {
    /// What to mount. Required.
    #[serde(rename = "type")]
    #[schemars(rename = "type", with = "MountType")]
    pub kind: Spanned<MountType>,

    /// For `bind`: the host path to bind, relative to this file. Required for `bind`, not
    /// allowed for the other types.
    #[schemars(with = "Option<String>")]
    pub source: Option<Spanned<String>>,

    /// Where it appears inside the container: an absolute path, created when missing.
    /// Required.
    #[schemars(with = "String")]
    pub target: Spanned<String>,

    /// Mount read-only (for `bind`, submounts too). Default: `false`, except `sysfs` and
    /// `cgroup`, which are always read-only.
    #[schemars(with = "Option<bool>")]
    pub readonly: Option<Spanned<bool>>,

    /// For `tmpfs`: its size, in bytes or with a unit (`"64MiB"`, `"1G"`, `"512k"`).
    /// Default: half of the host's memory (the kernel's default).
    #[schemars(with = "Option<Size>")]
    pub size: Option<Spanned<Size>>,

    /// For `tmpfs`: the permissions of its root folder, an octal string such as `"1777"`.
    /// Default: `"1777"`.
    #[schemars(with = "Option<String>")]
    pub mode: Option<Spanned<String>>,
}

/// A size: a number of bytes, or a string with a unit (`"64MiB"`, `"1G"`, `"512k"`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Size {
    /// A number of bytes.
    Bytes(u64),
    /// A number with a unit: B, k/KiB, M/MiB, G/GiB, T/TiB (powers of 1024) or KB, MB, GB, TB
    /// (powers of 1000).
    Text(String),
}

impl Size {
    /// The number of bytes, or why it is not a size.
    pub fn bytes(&self) -> Result<u64, String> {
        match self {
            Size::Bytes(0) => Err("a size must be at least 1 byte".to_string()),
            Size::Bytes(n) => Ok(*n),
            Size::Text(text) => super::values::parse_size(text),
        }
    }
}

/// The kinds of mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MountType {
    /// A host file or folder, recursively.
    Bind,
    /// A fresh in-memory filesystem.
    Tmpfs,
    /// A procfs for the container's PID namespace.
    Proc,
    /// A read-only sysfs.
    Sysfs,
    /// A new devpts instance with its own ptmx.
    Devpts,
    /// A POSIX message queue filesystem for the container's IPC namespace.
    Mqueue,
    /// The container's own cgroups, read-only: cgroup2, or the host's v1 hierarchies on a
    /// tmpfs, mounted in its cgroup namespace (so a program reads its own limits at the top).
    /// Given by default at /sys/fs/cgroup when the container has a cgroup namespace.
    Cgroup,
}

/// `[namespaces]`: each `true` gives the container its own namespace of that kind.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NamespacesTable {
    /// Own hostname and domain name. Default: `true`.
    pub uts: Option<bool>,
    /// Own process IDs; the command (or init) is PID 1. Default: `true`.
    pub pid: Option<bool>,
    /// Own System V IPC and POSIX message queues. Default: `true`.
    pub ipc: Option<bool>,
    /// Own mount table. Always `true`: the launcher cannot build a root filesystem without it.
    /// Default: `true`.
    #[schemars(with = "Option<bool>")]
    pub mount: Option<Spanned<bool>>,
    /// Own cgroup root view. Default: `true`.
    pub cgroup: Option<bool>,
    /// `"none"`: an own network namespace with only loopback, up. `"host"`: the host's network.
    /// The same as `[network] mode` (give one of the two); bridged and pasta networks are set
    /// there. Default: `"none"`.
    #[schemars(with = "Option<NetMode>")]
    pub net: Option<Spanned<NetMode>>,
    /// A user namespace: `true` (one id: the caller is the command's user inside), `false`
    /// (none; root only), `"auto"` (on when the launcher is not run as root: with the caller's
    /// ranges of /etc/subuid and /etc/subgid when it has entries there, through newuidmap and
    /// newgidmap, else one id), or `"remap"` (a range of ids: as root, 65,536 ids of the
    /// launcher's own range, with the root filesystem and bind mounts mounted idmapped; rootless,
    /// the caller's subordinate ranges, required). Default: `"auto"`.
    #[schemars(with = "Option<UserMode>")]
    pub user: Option<Spanned<UserMode>>,
}

/// `[network]`: how the container reaches other machines, and they it.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkTable {
    /// `"none"`: an own network namespace with only loopback. `"host"`: the host's network.
    /// `"bridge"`: an own namespace on a bridged network of the host (an address on its
    /// subnet, NAT to the outside, published `ports`, other containers of the network by
    /// name); needs root. `"pasta"`: an own namespace given the host's addresses by pasta
    /// (Debian's passt package), published `ports`; needs no root. Default: `"none"` (or what
    /// `namespaces.net` says).
    #[schemars(with = "Option<NetworkModeWord>")]
    pub mode: Option<Spanned<NetworkModeWord>>,

    /// With `bridge`: the named network to join, made on first use. Containers of one network
    /// reach each other by name; containers of different networks do not reach each other.
    /// Default: `"default"`.
    #[schemars(with = "Option<String>")]
    pub network: Option<Spanned<String>>,

    /// With `bridge`: the network's IPv4 subnet (`"10.89.3.0/24"`), when the launcher makes it;
    /// it must not overlap a route of the host or another network. Default: the first free
    /// /24 of 10.90.0.0/16.
    #[schemars(with = "Option<String>")]
    pub subnet: Option<Spanned<String>>,

    /// With `bridge`: a static IPv4 address in the network's subnet. Default: the next free one.
    #[schemars(with = "Option<String>")]
    pub address: Option<Spanned<String>>,

    /// With `bridge` or `pasta`: ports of the host that reach the container:
    /// `"[HOST_ADDRESS:]HOST_PORT[:CONTAINER_PORT][/tcp|udp]"`, ranges as `8080-8082:80-82`
    /// (`"8080:80"`, `"127.0.0.1:5353:53/udp"`). Default: none.
    #[schemars(with = "Option<Vec<String>>")]
    pub ports: Option<Spanned<Vec<Spanned<String>>>>,

    /// With `bridge` or `pasta`: name servers for /etc/resolv.conf (IPv4 or IPv6 addresses).
    /// Default: the host's (with a local stub such as 127.0.0.53, its upstream servers) for
    /// `bridge`, pasta's forwarder for `pasta`.
    #[schemars(with = "Option<Vec<String>>")]
    pub dns: Option<Spanned<Vec<Spanned<String>>>>,

    /// With `bridge` or `pasta`: extra /etc/hosts entries, name = address
    /// (`hosts = { "db.internal" = "10.1.2.3" }`). Default: none.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub hosts: BTreeMap<Spanned<String>, Spanned<String>>,
}

/// The words of `network.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NetworkModeWord {
    /// An own network namespace with loopback up and nothing else.
    None,
    /// The host's network namespace.
    Host,
    /// A bridged network with NAT and published ports (root).
    Bridge,
    /// pasta: the host's addresses, published ports, no root needed.
    Pasta,
}

impl MountType {
    /// The word used in Container.toml.
    pub fn name(self) -> &'static str {
        match self {
            MountType::Bind => "bind",
            MountType::Tmpfs => "tmpfs",
            MountType::Proc => "proc",
            MountType::Sysfs => "sysfs",
            MountType::Cgroup => "cgroup",
            MountType::Devpts => "devpts",
            MountType::Mqueue => "mqueue",
        }
    }
}

/// Network modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NetMode {
    /// An own network namespace with loopback up and nothing else.
    None,
    /// The host's network namespace.
    Host,
}

// By hand rather than `#[serde(untagged)]`: untagged enums buffer their input, which loses the
// spans of the `Spanned` fields inside the table form.
impl<'de> Deserialize<'de> for RootfsSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RootfsSpec;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a folder path or a table")
            }

            fn visit_str<E: serde::de::Error>(self, path: &str) -> Result<RootfsSpec, E> {
                Ok(RootfsSpec::Path(path.to_string()))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<RootfsSpec, A::Error> {
                let table =
                    RootfsTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(RootfsSpec::Table(table))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

// By hand, as for `RootfsSpec`: an untagged enum would lose the spans inside the table form.
impl<'de> Deserialize<'de> for ImageSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ImageSpec;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an image reference or a table")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<ImageSpec, E> {
                Ok(ImageSpec::Reference(text.to_string()))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<ImageSpec, A::Error> {
                let table =
                    ImageTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(ImageSpec::Table(table))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// `[resources]`: limits for the whole container, in its own cgroup under `launcher/`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourcesTable {
    /// Memory limit: bytes or a size such as `"256MiB"`. Past it the kernel reclaims, then
    /// kills (reported as "out of memory", status 137). Default: no limit.
    #[schemars(with = "Option<Size>")]
    pub memory: Option<Spanned<Size>>,

    /// Memory plus swap, as Docker's `--memory-swap`: at least `memory`; equal to it means no
    /// swap. Needs `memory`. Default: no swap limit of its own.
    #[schemars(with = "Option<Size>")]
    pub memory_swap: Option<Spanned<Size>>,

    /// CPU time, in CPUs: `1.5` is 150 ms of CPU per 100 ms period (quota/period). At least
    /// 0.01. Default: no limit.
    #[schemars(with = "Option<f64>")]
    pub cpus: Option<Spanned<f64>>,

    /// Relative CPU weight under contention, 1 to 10000 (cgroup v2 `cpu.weight`; v1 shares are
    /// derived from it). Default: 100, the kernel's.
    #[schemars(with = "Option<u64>")]
    pub cpu_weight: Option<Spanned<u64>>,

    /// Most processes and threads the container may have at once. Default: no limit.
    #[schemars(with = "Option<u64>")]
    pub pids: Option<Spanned<u64>>,
}

/// `[rlimits]`: each is a number (soft and hard), `"unlimited"`, or `{ soft = N, hard = N }`.
/// A hard limit above the launcher's own needs CAP_SYS_RESOURCE and no user namespace.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RlimitsTable {
    /// RLIMIT_AS: address space, bytes.
    #[serde(rename = "as")]
    #[schemars(rename = "as", with = "Option<Rlimit>")]
    pub address_space: Option<Spanned<Rlimit>>,
    /// RLIMIT_CORE: core file size, bytes.
    #[schemars(with = "Option<Rlimit>")]
    pub core: Option<Spanned<Rlimit>>,
    /// RLIMIT_CPU: CPU time, seconds.
    #[schemars(with = "Option<Rlimit>")]
    pub cpu: Option<Spanned<Rlimit>>,
    /// RLIMIT_DATA: data segment, bytes.
    #[schemars(with = "Option<Rlimit>")]
    pub data: Option<Spanned<Rlimit>>,
    /// RLIMIT_FSIZE: file size, bytes.
    #[schemars(with = "Option<Rlimit>")]
    pub fsize: Option<Spanned<Rlimit>>,
    /// RLIMIT_LOCKS: file locks.
    #[schemars(with = "Option<Rlimit>")]
    pub locks: Option<Spanned<Rlimit>>,
    /// RLIMIT_MEMLOCK: locked memory, bytes.
    #[schemars(with = "Option<Rlimit>")]
    pub memlock: Option<Spanned<Rlimit>>,
    /// RLIMIT_MSGQUEUE: POSIX message queues, bytes.
    #[schemars(with = "Option<Rlimit>")]
    pub msgqueue: Option<Spanned<Rlimit>>,
    /// RLIMIT_NICE: ceiling of the nice value (20 - limit).
    #[schemars(with = "Option<Rlimit>")]
    pub nice: Option<Spanned<Rlimit>>,
    /// RLIMIT_NOFILE: open files.
    #[schemars(with = "Option<Rlimit>")]
    pub nofile: Option<Spanned<Rlimit>>,
    /// RLIMIT_NPROC: processes of the user.
    #[schemars(with = "Option<Rlimit>")]
    pub nproc: Option<Spanned<Rlimit>>,
    /// RLIMIT_RSS: resident set, bytes (ignored by Linux, accepted for compatibility).
    #[schemars(with = "Option<Rlimit>")]
    pub rss: Option<Spanned<Rlimit>>,
    /// RLIMIT_RTPRIO: real-time priority.
    #[schemars(with = "Option<Rlimit>")]
    pub rtprio: Option<Spanned<Rlimit>>,
    /// RLIMIT_RTTIME: real-time CPU time, microseconds.
    #[schemars(with = "Option<Rlimit>")]
    pub rttime: Option<Spanned<Rlimit>>,
    /// RLIMIT_SIGPENDING: queued signals.
    #[schemars(with = "Option<Rlimit>")]
    pub sigpending: Option<Spanned<Rlimit>>,
    /// RLIMIT_STACK: stack size, bytes.
    #[schemars(with = "Option<Rlimit>")]
    pub stack: Option<Spanned<Rlimit>>,
}

impl RlimitsTable {
    /// The entry of one limit, when the file sets it.
    pub fn get(&self, kind: crate::plan::RlimitKind) -> Option<&Spanned<Rlimit>> {
        use crate::plan::RlimitKind as K;
        match kind {
            K::As => self.address_space.as_ref(),
            K::Core => self.core.as_ref(),
            K::Cpu => self.cpu.as_ref(),
            K::Data => self.data.as_ref(),
            K::Fsize => self.fsize.as_ref(),
            K::Locks => self.locks.as_ref(),
            K::Memlock => self.memlock.as_ref(),
            K::Msgqueue => self.msgqueue.as_ref(),
            K::Nice => self.nice.as_ref(),
            K::Nofile => self.nofile.as_ref(),
            K::Nproc => self.nproc.as_ref(),
            K::Rss => self.rss.as_ref(),
            K::Rtprio => self.rtprio.as_ref(),
            K::Rttime => self.rttime.as_ref(),
            K::Sigpending => self.sigpending.as_ref(),
            K::Stack => self.stack.as_ref(),
        }
    }
}

/// One rlimit: a number for both soft and hard, `"unlimited"`, or a table.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Rlimit {
    /// Soft and hard limit.
    Both(LimitValue),
    /// Separate soft and hard limits; soft at most hard.
    Pair {
        /// The limit the kernel enforces; a process may raise it up to `hard`.
        soft: LimitValue,
        /// The ceiling of `soft`.
        hard: LimitValue,
    },
}

/// A number, or `"unlimited"`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum LimitValue {
    /// A count, bytes or seconds, per the limit.
    Number(u64),
    /// `"unlimited"`.
    Word(Unlimited),
}

/// The word `"unlimited"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Unlimited {
    /// No limit.
    Unlimited,
}

/// `[security]`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityTable {
    /// Capabilities, from Docker's default 14 (CHOWN, DAC_OVERRIDE, FSETID, FOWNER, MKNOD,
    /// NET_RAW, SETGID, SETUID, SETFCAP, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, KILL,
    /// AUDIT_WRITE): `add` and `drop` take names with or without `CAP_`, or `"ALL"`. They set
    /// the bounding, permitted, effective and inheritable sets; the ambient set is left empty.
    #[serde(default)]
    pub capabilities: CapabilitiesTable,

    /// Set no_new_privs: no exec can gain privileges (setuid, file capabilities).
    /// Default: `true`.
    #[schemars(with = "Option<bool>")]
    pub no_new_privileges: Option<Spanned<bool>>,

    /// `"default"` (an allow-list at least as strict as Docker's), `"unconfined"`, or the path
    /// of a Docker/OCI JSON profile, relative to this file. Default: `"default"`.
    #[schemars(with = "Option<String>")]
    pub seccomp: Option<Spanned<String>>,

    /// Paths hidden from the container, added to the defaults (/proc/kcore, /proc/keys,
    /// /proc/timer_list, /proc/sched_debug, /proc/acpi, /proc/scsi, /sys/firmware, ...):
    /// a file is covered with /dev/null, a folder with an empty read-only tmpfs.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub masked_paths: Vec<Spanned<String>>,

    /// Paths made read-only, added to the defaults (/proc/sys, /proc/sysrq-trigger,
    /// /proc/irq, /proc/bus, /proc/fs).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub readonly_paths: Vec<Spanned<String>>,
}

/// `capabilities = { add = [...], drop = [...] }`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapabilitiesTable {
    /// Capabilities added to the default set (`"NET_ADMIN"`, `"CAP_SYS_PTRACE"`, `"ALL"`).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub add: Vec<Spanned<String>>,
    /// Capabilities removed, after `add` (`"ALL"` removes every one).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub drop: Vec<Spanned<String>>,
}
