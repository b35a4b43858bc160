//! Turns the plan's steps into operations ready to run: C strings made, paths joined, flags
//! chosen, all before the clone, so the container's process does as little as it can between
//! clone and exec. `ops[i]` is the operation of `plan.steps[i]`.

use std::collections::HashMap;
use std::ffi::CString;
use std::path::{Path, PathBuf};

use super::StepFailed;
use super::error::Failure;
use crate::plan::{Action, CgroupView, IdMap, MountKind, MountSpec, Plan, Program, SeccompFilter};
use crate::plan::{NamespaceSet, TerminalMode};
use crate::sys::{self, Errno};

/// With `rootfs.host`: where the host's / is while the container's root is built, and the
/// folder the new root is assembled in; both live on a private tmpfs staged over /tmp in the
/// new mount namespace. A root filesystem folder needs no staging: it is bound onto itself.
pub const STAGE: &str = "/tmp";
pub const OLD_ROOT: &str = "/oldroot";
pub const NEW_ROOT: &str = "/newroot";

pub struct Ops {
    pub ops: Vec<Op>,
    /// Host paths the container's process opens before its first mount.
    pub host_paths: Vec<HostPath>,
    /// Whether the command gets a pseudo-terminal (decided now for `terminal = "auto"`).
    pub terminal: bool,
    /// The host paths the launcher makes idmapped copies of (`remap`), in the order it
    /// sends them to the container's process...
    pub idmap_paths: Vec<CString>,
    /// ...and their indices in `host_paths`, in the same order.
    pub idmapped: Vec<HostIndex>,
    /// `remap` with an image: the overlay the launcher makes of idmapped copies of its
    /// layers and sends after the copies above.
    pub idmap_overlay: Option<IdmapOverlay>,
}

/// An overlay made by the launcher of idmapped copies of an image's layers.
pub struct IdmapOverlay {
    /// The layer folders, top first.
    pub layers: Vec<CString>,
    /// The writable layer's folders and the overlay's flags (`upperdir`, `workdir`, ...).
    pub options: Vec<(CString, Option<CString>)>,
    pub shown: String,
}

/// What each step does, ready to run. Steps of the parent whose data needs no preparing read
/// it from the plan itself.
pub enum Op {
    CgroupCreate,
    CgroupOpen,
    JoinNamespaces(libc::c_int),
    Clone(libc::c_int),
    IdMaps {
        uid_map: String,
        gid_map: String,
        deny_setgroups: bool,
    },
    CgroupJoin,
    IdmapMounts,
    WritableLayer,
    /// The network steps: their data is read from the plan.
    Network,
    Start,
    Prologue,
    NamespaceRoot,
    /// setns into the namespace at this path, of this kind (`CLONE_NEW*`).
    JoinNamespace(CString, libc::c_int),
    CgroupNamespace,
    OpenHostPaths,
    PrivatePropagation,
    /// A root filesystem folder, opened by the launcher (`None`: the host's /, staged).
    Rootfs(Option<HostIndex>),
    /// An overlay of the layers, attached over the top layer's folder (opened first).
    Overlay {
        options: Vec<(CString, Option<CString>)>,
        /// The same layers as one `lowerdir=` value, for kernels before 6.8 (no `lowerdir+`).
        joined: Vec<(CString, Option<CString>)>,
        top: HostIndex,
        shown: String,
        /// Made by the launcher (`remap`) and received with the idmapped copies: attached,
        /// not mounted here.
        received: bool,
    },
    Mount(MountOp),
    CgroupMount(CgroupOp),
    Dev(DevOp),
    LoopbackUp,
    /// Files under /proc/sys and the values written to them.
    Sysctl(Vec<(PathBuf, String)>),
    /// Outlive the launcher; with a FIFO (opened first), wait at it for `start`.
    Detach(Option<HostIndex>),
    /// Paths to hide, relative to the new root.
    Mask(Vec<CString>),
    /// Paths to make read-only, relative to the new root.
    Readonly(Vec<CString>),
    /// pivot_root into the new root; `staged`: the host's / is at /oldroot, detached first.
    PivotRoot {
        staged: bool,
    },
    Terminal {
        console: bool,
    },
    ReadonlyRoot,
    Hostname(Vec<u8>),
    Rlimits(Vec<(libc::__rlimit_resource_t, libc::rlimit)>),
    Workdir(CString),
    User {
        uid: u32,
        gid: u32,
        groups: Vec<libc::gid_t>,
        set_groups: bool,
    },
    /// The set to keep, and the highest capability number of this kernel.
    Capabilities(caps::CapsHashSet, u8),
    NoNewPrivileges,
    /// A compiled program (struct sock_filter array); empty only for "unconfined".
    Seccomp(Vec<libc::sock_filter>),
    CloseFds,
    Init,
    Exec(ExecOp),
    Monitor,
    CgroupRemove,
    RemoveWritableLayer,
    RemoveMountTargets,
}

pub struct MountOp {
    /// Relative to the new root: "data/x".
    pub target: CString,
    /// As written: "/data/x", for messages.
    pub shown: String,
    pub kind: MountOpKind,
}

pub enum MountOpKind {
    Bind {
        source: HostIndex,
        readonly: bool,
        /// Attributes asked for besides nodev and read-only (nosuid, noexec).
        attrs: libc::c_uint,
    },
    Fs {
        fstype: CString,
        options: Vec<(CString, Option<CString>)>,
        attrs: libc::c_uint,
    },
}

/// The container's cgroups at `target`: cgroup2 on it, or (`v1`) a tmpfs with each v1
/// hierarchy, links and a hybrid host's cgroup2 in it, all read-only.
pub struct CgroupOp {
    /// Relative to the new root.
    pub target: CString,
    pub shown: String,
    pub v1: Option<CgroupV1Op>,
}

pub struct CgroupV1Op {
    pub hierarchies: Vec<CgroupV1Mount>,
    /// (name, target).
    pub links: Vec<(CString, CString)>,
    pub unified: Option<CString>,
}

/// One v1 hierarchy: its folder, the options of `cgroup` that name it, and the same as
/// written, for messages.
pub struct CgroupV1Mount {
    pub dir: CString,
    pub options: Vec<(CString, Option<CString>)>,
    pub shown: String,
}

pub struct DevOp {
    /// The host's device nodes bound into the container's /dev (a tmpfs mounted nodev, so
    /// that no node made in it later opens a device): (name, the host's node, opened).
    pub devices: Vec<(CString, HostIndex)>,
    /// Mount options of /dev/pts.
    pub devpts: Vec<(CString, Option<CString>)>,
}

pub struct ExecOp {
    /// The files to try, in order: one for a resolved program, each folder of `PATH` for a
    /// search (as execvp does).
    pub candidates: Vec<CString>,
    pub argv: sys::Argv,
    pub envp: sys::Argv,
}

/// A host path the container's process opens (O_PATH) first thing, in its own mount namespace,
/// before any mount: the steps then bind what these descriptors refer to, so no later lookup
/// (through a staged /oldroot, or a symlink swapped meanwhile) can change what gets mounted.
pub struct HostPath {
    pub path: CString,
    pub shown: String,
}

/// Index into `Ops::host_paths` (and the descriptors the container's process opened).
pub type HostIndex = usize;

fn c(text: impl AsRef<[u8]>, step: usize, what: &str) -> Result<CString, StepFailed> {
    sys::cstring(text).map_err(|errno| {
        StepFailed::at(
            step,
            Failure::new(errno, format!("{what}: a NUL byte in a path or argument")),
        )
    })
}

fn opt(key: &str, value: Option<String>) -> (CString, Option<CString>) {
    // Keys and values made here hold no NUL byte.
    (
        CString::new(key).unwrap_or_default(),
        value.map(|v| CString::new(v).unwrap_or_default()),
    )
}

/// Prepares every step of `plan`.
pub fn prepare(plan: &Plan) -> Result<Ops, StepFailed> {
    let mut ops = Ops {
        ops: Vec::with_capacity(plan.steps.len()),
        host_paths: Vec::new(),
        terminal: false,
        idmap_paths: Vec::new(),
        idmapped: Vec::new(),
        idmap_overlay: None,
    };
    let mut idmap_sources: Vec<PathBuf> = Vec::new();
    let mut host_index: HashMap<PathBuf, HostIndex> = HashMap::new();
    // Whether the host's / is staged at /oldroot (rootfs.host) when pivot_root comes.
    let mut staged = false;
    for (i, step) in plan.steps.iter().enumerate() {
        let index = |path: &Path| {
            host_index.get(path).copied().ok_or_else(|| {
                StepFailed::at(
                    i,
                    Failure::new(
                        Errno::EINVAL,
                        format!(
                            "{} is not among the host paths opened first",
                            path.display()
                        ),
                    ),
                )
            })
        };
        let op = match &step.action {
            Action::CgroupCreate(_) => Op::CgroupCreate,
            Action::CgroupOpen { .. } => Op::CgroupOpen,
            Action::JoinNamespaces { namespaces } => {
                Op::JoinNamespaces(namespace_flags(namespaces))
            }
            Action::Clone(set) => Op::Clone(clone_flags(set)),
            Action::IdMaps(maps) => Op::IdMaps {
                uid_map: map_text(&maps.uid),
                gid_map: map_text(&maps.gid),
                deny_setgroups: maps.deny_setgroups,
            },
            Action::CgroupJoin { .. } => Op::CgroupJoin,
            Action::IdmapMounts { paths, overlay } => {
                for path in paths {
                    let text = c(path.as_os_str().as_encoded_bytes(), i, "idmapped path")?;
                    ops.idmap_paths.push(text);
                    idmap_sources.push(path.clone());
                }
                if let Some(overlay) = overlay {
                    ops.idmap_overlay = Some(IdmapOverlay {
                        layers: overlay
                            .layers
                            .iter()
                            .rev()
                            .map(|l| c(l.as_os_str().as_encoded_bytes(), i, "layer"))
                            .collect::<Result<_, _>>()?,
                        options: overlay_flags(overlay, i)?,
                        shown: overlay.image.clone(),
                    });
                }
                Op::IdmapMounts
            }
            Action::WritableLayer { .. } => Op::WritableLayer,
            Action::RemoveWritableLayer { .. } => Op::RemoveWritableLayer,
            Action::RemoveMountTargets { .. } => Op::RemoveMountTargets,
            Action::OverlayRootfs(overlay) => {
                overlay_op(overlay, i, index, ops.idmap_overlay.is_some())?
            }
            Action::Start => Op::Start,
            Action::Prologue => Op::Prologue,
            Action::NamespaceRoot => Op::NamespaceRoot,
            Action::JoinNamespace(join) => Op::JoinNamespace(
                c(
                    join.path.as_os_str().as_encoded_bytes(),
                    i,
                    "namespace path",
                )?,
                namespace_flags(std::slice::from_ref(&join.kind)),
            ),
            Action::CgroupNamespace => Op::CgroupNamespace,
            Action::OpenHostPaths { paths } => {
                for path in paths {
                    if host_index.contains_key(path) {
                        continue;
                    }
                    host_index.insert(path.clone(), ops.host_paths.len());
                    ops.host_paths.push(HostPath {
                        path: c(path.as_os_str().as_encoded_bytes(), i, "host path")?,
                        shown: path.display().to_string(),
                    });
                }
                Op::OpenHostPaths
            }
            Action::PrivatePropagation => Op::PrivatePropagation,
            Action::BindRootfs { path } => Op::Rootfs(Some(index(path)?)),
            Action::HostRootfs => {
                staged = true;
                Op::Rootfs(None)
            }
            Action::Mount(spec) => Op::Mount(mount_op(spec, i, index)?),
            Action::CgroupMount { target, view } => Op::CgroupMount(cgroup_op(target, view, i)?),
            Action::Dev(dev) => Op::Dev(DevOp {
                devices: dev
                    .devices
                    .iter()
                    .map(|d| Ok((c(d, i, "device")?, index(&Path::new("/dev").join(d))?)))
                    .collect::<Result<_, StepFailed>>()?,
                devpts: devpts_options(),
            }),
            Action::LoopbackUp => Op::LoopbackUp,
            Action::Sysctl { values } => Op::Sysctl(
                values
                    .iter()
                    .map(|(key, value)| {
                        let file = Path::new("/proc/sys").join(key.replace('.', "/"));
                        (file, value.clone())
                    })
                    .collect(),
            ),
            Action::Detach { fifo } => Op::Detach(fifo.as_deref().map(index).transpose()?),
            Action::MaskPaths { paths } => Op::Mask(relative_paths(paths, i)?),
            Action::ReadonlyPaths { paths } => Op::Readonly(relative_paths(paths, i)?),
            Action::PivotRoot => Op::PivotRoot { staged },
            Action::Terminal { mode, console } => {
                ops.terminal = match mode {
                    TerminalMode::On => true,
                    TerminalMode::Off => false,
                    TerminalMode::Auto => sys::isatty(0),
                };
                Op::Terminal { console: *console }
            }
            Action::ReadonlyRoot => Op::ReadonlyRoot,
            Action::Hostname { hostname } => Op::Hostname(hostname.as_bytes().to_vec()),
            Action::Rlimits { limits } => Op::Rlimits(
                limits
                    .iter()
                    .map(|l| {
                        let value = |v: Option<u64>| v.unwrap_or(libc::RLIM_INFINITY);
                        let limit = libc::rlimit {
                            rlim_cur: value(l.soft),
                            rlim_max: value(l.hard),
                        };
                        (l.name.resource(), limit)
                    })
                    .collect(),
            ),
            Action::Workdir { path } => Op::Workdir(c(path, i, "workdir")?),
            Action::User(ids) => Op::User {
                uid: ids.uid,
                gid: ids.gid,
                groups: ids.groups.clone(),
                set_groups: ids.set_groups,
            },
            Action::Capabilities { set } => Op::Capabilities(
                set.iter().map(|c| c.0).collect(),
                super::security::last_capability(),
            ),
            Action::NoNewPrivileges => Op::NoNewPrivileges,
            Action::Seccomp(SeccompFilter::Unconfined) => Op::Seccomp(Vec::new()),
            Action::Seccomp(SeccompFilter::Compiled { bpf, .. }) => {
                Op::Seccomp(super::security::bpf_program(bpf.bytes()))
            }
            Action::CloseFds => Op::CloseFds,
            Action::Init => Op::Init,
            Action::Exec(exec) => {
                let program = exec.args.first().map(String::as_str).unwrap_or("");
                let candidates: Vec<String> = match &exec.program {
                    Program::Path(path) => vec![path.clone()],
                    Program::Search { .. } if program.contains('/') => vec![program.into()],
                    Program::Search { path } => path
                        .split(':')
                        .filter(|dir| !dir.is_empty())
                        .map(|dir| format!("{}/{program}", dir.trim_end_matches('/')))
                        .collect(),
                };
                Op::Exec(ExecOp {
                    candidates: candidates
                        .iter()
                        .map(|p| c(p, i, "command"))
                        .collect::<Result<_, _>>()?,
                    argv: sys::Argv::new(
                        exec.args
                            .iter()
                            .map(|a| c(a, i, "command"))
                            .collect::<Result<_, _>>()?,
                    ),
                    envp: sys::Argv::new(
                        exec.env
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .chain(terminal_type(ops.terminal, &exec.env))
                            .map(|(k, v)| c(format!("{k}={v}"), i, "env"))
                            .collect::<Result<_, _>>()?,
                    ),
                })
            }
            Action::Monitor => Op::Monitor,
            Action::NetworkAttach(_)
            | Action::Pasta(_)
            | Action::NetworkRelease { .. }
            | Action::PastaStop { .. } => Op::Network,
            Action::CgroupRemove { .. } => Op::CgroupRemove,
        };
        ops.ops.push(op);
    }
    // Each idmapped copy replaces the plain bind of a path the child opens.
    for path in &idmap_sources {
        let index = host_index.get(path).copied().ok_or_else(|| {
            StepFailed::at(
                0,
                Failure::new(
                    Errno::EINVAL,
                    format!("{} is made idmapped but no step binds it", path.display()),
                ),
            )
        })?;
        ops.idmapped.push(index);
    }
    Ok(ops)
}

fn clone_flags(set: &NamespaceSet) -> libc::c_int {
    [
        (set.mount, libc::CLONE_NEWNS),
        (set.uts, libc::CLONE_NEWUTS),
        (set.ipc, libc::CLONE_NEWIPC),
        (set.pid, libc::CLONE_NEWPID),
        (set.net, libc::CLONE_NEWNET),
        (set.user, libc::CLONE_NEWUSER),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .fold(0, |flags, (_, flag)| flags | flag)
}

/// The flags of `setns(pidfd, ...)` for namespaces named as in /proc/PID/ns.
fn namespace_flags(names: &[String]) -> libc::c_int {
    names
        .iter()
        .map(|name| match name.as_str() {
            "user" => libc::CLONE_NEWUSER,
            "mnt" => libc::CLONE_NEWNS,
            "uts" => libc::CLONE_NEWUTS,
            "ipc" => libc::CLONE_NEWIPC,
            "net" => libc::CLONE_NEWNET,
            "pid" => libc::CLONE_NEWPID,
            "cgroup" => libc::CLONE_NEWCGROUP,
            _ => 0,
        })
        .fold(0, |flags, flag| flags | flag)
}

fn map_text(maps: &[IdMap]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.inside, m.outside, m.count))
        .collect()
}

fn relative_paths(paths: &[String], step: usize) -> Result<Vec<CString>, StepFailed> {
    paths
        .iter()
        .map(|p| c(p.trim_start_matches('/'), step, "path"))
        .collect()
}

fn mount_op(
    spec: &MountSpec,
    step: usize,
    index: impl Fn(&Path) -> Result<HostIndex, StepFailed>,
) -> Result<MountOp, StepFailed> {
    let target = c(spec.target.trim_start_matches('/'), step, "target")?;
    let shown = spec.target.clone();
    let ro = if spec.readonly {
        sys::MOUNT_ATTR_READONLY
    } else {
        0
    };
    let asked = if spec.flags.nosuid {
        sys::MOUNT_ATTR_NOSUID
    } else {
        0
    } | if spec.flags.noexec {
        sys::MOUNT_ATTR_NOEXEC
    } else {
        0
    };
    let nosuid_nodev = sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV;
    let noexec = nosuid_nodev | sys::MOUNT_ATTR_NOEXEC;
    let (fstype, options, attrs) = match &spec.kind {
        MountKind::Bind { source } => {
            let kind = MountOpKind::Bind {
                source: index(source)?,
                readonly: spec.readonly,
                attrs: asked,
            };
            return Ok(MountOp {
                target,
                shown,
                kind,
            });
        }
        MountKind::Tmpfs { size, mode } => {
            let mut options = vec![opt("mode", Some(format!("{mode:o}")))];
            if let Some(size) = size {
                options.push(opt("size", Some(size.to_string())));
            }
            ("tmpfs", options, nosuid_nodev | ro)
        }
        MountKind::Proc => ("proc", Vec::new(), noexec | ro),
        MountKind::Sysfs => ("sysfs", Vec::new(), noexec | sys::MOUNT_ATTR_READONLY),
        MountKind::Devpts => (
            "devpts",
            devpts_options(),
            sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NOEXEC | ro,
        ),
        MountKind::Mqueue => ("mqueue", Vec::new(), noexec | ro),
        // The plan turns it into a `CgroupMount` with the host's view.
        MountKind::Cgroup => {
            return Err(StepFailed::at(
                step,
                Failure::new(
                    Errno::EINVAL,
                    format!("mount cgroup on {shown}: the plan has no view of the host's cgroups"),
                ),
            ));
        }
    };
    let kind = MountOpKind::Fs {
        fstype: c(fstype, step, fstype)?,
        options,
        attrs: attrs | asked,
    };
    Ok(MountOp {
        target,
        shown,
        kind,
    })
}

fn cgroup_op(target: &str, view: &CgroupView, step: usize) -> Result<CgroupOp, StepFailed> {
    let v1 = match view {
        CgroupView::V2 => None,
        CgroupView::V1 {
            hierarchies,
            links,
            unified,
        } => Some(CgroupV1Op {
            hierarchies: hierarchies
                .iter()
                .map(|h| {
                    let mut options = Vec::new();
                    for option in &h.options {
                        options.push(match option.split_once('=') {
                            Some((key, value)) => opt_c(key, Some(value), step)?,
                            None => opt_c(option, None, step)?,
                        });
                    }
                    // A named hierarchy without controllers is mounted with "none".
                    if !h.options.iter().any(|o| !o.contains('=')) {
                        options.push(opt_c("none", None, step)?);
                    }
                    Ok(CgroupV1Mount {
                        dir: c(h.dir.as_str(), step, "cgroup folder")?,
                        options,
                        shown: h.options.join(","),
                    })
                })
                .collect::<Result<_, StepFailed>>()?,
            links: links
                .iter()
                .map(|l| {
                    Ok((
                        c(l.name.as_str(), step, "cgroup link")?,
                        c(l.target.as_str(), step, "cgroup link")?,
                    ))
                })
                .collect::<Result<_, StepFailed>>()?,
            unified: unified
                .as_deref()
                .map(|u| c(u, step, "cgroup folder"))
                .transpose()?,
        }),
    };
    Ok(CgroupOp {
        target: c(target.trim_start_matches('/'), step, "target")?,
        shown: target.to_string(),
        v1,
    })
}

fn opt_c(
    key: &str,
    value: Option<&str>,
    step: usize,
) -> Result<(CString, Option<CString>), StepFailed> {
    Ok((
        c(key, step, "cgroup option")?,
        value.map(|v| c(v, step, "cgroup option")).transpose()?,
    ))
}

/// The overlay's options: each layer top first (`lowerdir+`, Linux 6.8; `joined` has the
/// older single `lowerdir=` form), the writable layer, `userxattr` for layers unpacked
/// without root.
fn overlay_op(
    overlay: &crate::plan::Overlay,
    step: usize,
    index: impl Fn(&Path) -> Result<HostIndex, StepFailed>,
    received: bool,
) -> Result<Op, StepFailed> {
    let top = overlay.layers.last().ok_or_else(|| {
        StepFailed::at(step, Failure::new(Errno::EINVAL, "an image without layers"))
    })?;
    let path = |p: &Path| c(p.as_os_str().as_encoded_bytes(), step, "layer");
    let rest = overlay_flags(overlay, step)?;
    let mut options = Vec::new();
    for layer in overlay.layers.iter().rev() {
        options.push((c("lowerdir+", step, "overlay")?, Some(path(layer)?)));
    }
    options.extend(rest.iter().cloned());
    let all: Vec<String> = overlay
        .layers
        .iter()
        .rev()
        .map(|l| l.display().to_string())
        .collect();
    let mut joined = vec![(
        c("lowerdir", step, "overlay")?,
        Some(c(all.join(":"), step, "overlay")?),
    )];
    joined.extend(rest);
    Ok(Op::Overlay {
        options,
        joined,
        top: index(top)?,
        shown: overlay.image.clone(),
        received,
    })
}

/// The overlay's options but its layers: the writable layer, `volatile`, `userxattr`.
fn overlay_flags(
    overlay: &crate::plan::Overlay,
    step: usize,
) -> Result<Vec<(CString, Option<CString>)>, StepFailed> {
    let path = |p: &Path| c(p.as_os_str().as_encoded_bytes(), step, "layer");
    let mut rest = Vec::new();
    if let (Some(upper), Some(work)) = (&overlay.upper, &overlay.work) {
        rest.push((c("upperdir", step, "overlay")?, Some(path(upper)?)));
        rest.push((c("workdir", step, "overlay")?, Some(path(work)?)));
        // The writable layer is made fresh for each run: the overlay need not sync it (each
        // sync would be a journal commit of the filesystem under it).
        rest.push((c("volatile", step, "overlay")?, None));
    }
    if overlay.userxattr {
        rest.push((c("userxattr", step, "overlay")?, None));
    }
    Ok(rest)
}

/// A devpts instance of the container's own, with its own ptmx.
fn devpts_options() -> Vec<(CString, Option<CString>)> {
    vec![
        opt("newinstance", None),
        opt("ptmxmode", Some("0666".into())),
        opt("mode", Some("0620".into())),
    ]
}

/// `TERM` for a command that gets a pseudo-terminal and has none in its environment: the
/// caller's, else `xterm` (as docker and podman give), so programs do not take it for `dumb`.
/// Decided when the container starts, like the terminal itself.
fn terminal_type(terminal: bool, env: &[(String, String)]) -> Option<(String, String)> {
    if !terminal || env.iter().any(|(k, _)| k == "TERM") {
        return None;
    }
    let caller = std::env::var("TERM")
        .ok()
        .filter(|t| !t.is_empty() && !t.contains('\0'));
    Some(("TERM".into(), caller.unwrap_or_else(|| "xterm".into())))
}
