//! Turns the plan's steps into operations ready for the child: C strings made, paths joined,
//! flags chosen, all before the clone, so the child does as little as it can between clone
//! and exec. `ops[i]` is the operation of `plan.steps[i]`.

use std::ffi::CString;

use super::sys::{self, Errno};
use super::{RunError, StepFailed};
use crate::plan::{Action, DevSetup, IdMap, MountKind, MountSpec, NetMode, Plan};

/// Where the host's / is while the container's root is built, and the folder the new root is
/// assembled in; both live on a private tmpfs staged over /tmp in the new mount namespace.
pub const STAGE: &str = "/tmp";
pub const OLD_ROOT: &str = "/oldroot";
pub const NEW_ROOT: &str = "/newroot";

pub struct Prepared {
    pub clone_flags: libc::c_int,
    /// uid and gid maps for a user namespace, and whether `setgroups` must be denied first.
    pub id_maps: Option<(IdMap, IdMap, bool)>,
    pub user_ns: bool,
    /// A pseudo-terminal (decided now for `terminal = "auto"`).
    pub terminal: bool,
    /// The container's cgroup, made by the parent.
    pub cgroup: Option<crate::plan::CgroupPlan>,
    pub ops: Vec<Op>,
}

pub enum Op {
    /// Done by the parent (namespaces at clone, id maps).
    Parent,
    Terminal,
    PrivatePropagation,
    /// Stage the tmpfs root, then bind `source` (a folder, or the host's / when `None`).
    Rootfs {
        source: Option<CString>,
    },
    Mount(MountOp),
    Dev(DevOp),
    LoopbackUp,
    PivotRoot,
    ReadonlyRoot,
    Hostname(Vec<u8>),
    Workdir(CString),
    User {
        uid: u32,
        gid: u32,
        groups: Vec<libc::gid_t>,
        set_groups: bool,
    },
    CloseFds,
    Exec(ExecOp),
    /// Paths to hide, relative to the new root.
    Mask(Vec<CString>),
    /// Paths to make read-only, relative to the new root.
    Readonly(Vec<CString>),
    Rlimits(Vec<(libc::__rlimit_resource_t, libc::rlimit)>),
    Capabilities(caps::CapsHashSet),
    NoNewPrivileges,
    /// A compiled seccomp program (struct sock_filter array), or none (unconfined).
    Seccomp(Vec<libc::sock_filter>),
}

pub struct MountOp {
    /// Relative to the new root: "data/x".
    pub target: CString,
    /// As written: "/data/x", for messages.
    pub shown: String,
    /// Create a file (not a folder) when the target is missing.
    pub file: bool,
    pub kind: MountOpKind,
}

pub enum MountOpKind {
    Bind {
        source: CString,
        readonly: bool,
    },
    Fs {
        fstype: CString,
        options: Vec<(CString, Option<CString>)>,
        attrs: libc::c_uint,
    },
}

pub struct DevOp {
    /// Device nodes to make: (name, major, minor).
    pub devices: Vec<(CString, u32, u32)>,
    /// Inside a user namespace mknod is refused: bind the host's nodes instead.
    pub bind_devices: bool,
    /// Mount options of /dev/pts.
    pub devpts: Vec<(CString, Option<CString>)>,
}

pub struct ExecOp {
    pub path: CString,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    pub init: bool,
}

fn c(text: impl AsRef<[u8]>, step: usize, what: &str) -> Result<CString, RunError> {
    sys::cstring(text).map_err(|errno| {
        RunError::Step(StepFailed {
            step,
            errno,
            detail: format!("{what}: a NUL byte in a path or argument"),
        })
    })
}

fn opt(key: &str, value: Option<String>) -> (CString, Option<CString>) {
    // Keys and values made here hold no NUL byte.
    (
        CString::new(key).unwrap_or_default(),
        value.map(|v| CString::new(v).unwrap_or_default()),
    )
}

pub fn prepare(plan: &Plan) -> Result<Prepared, RunError> {
    let euid = nix::unistd::geteuid().as_raw();
    let mut prepared = Prepared {
        clone_flags: 0,
        id_maps: None,
        user_ns: false,
        terminal: false,
        cgroup: None,
        ops: Vec::with_capacity(plan.steps.len()),
    };
    for (i, step) in plan.steps.iter().enumerate() {
        let op = match &step.action {
            Action::Namespaces(set) => {
                let mut flags = libc::CLONE_NEWNS;
                for (on, flag) in [
                    (set.uts, libc::CLONE_NEWUTS),
                    (set.ipc, libc::CLONE_NEWIPC),
                    (set.pid, libc::CLONE_NEWPID),
                    (set.net == NetMode::None, libc::CLONE_NEWNET),
                    (set.cgroup, libc::CLONE_NEWCGROUP),
                    (set.user == Some(true), libc::CLONE_NEWUSER),
                ] {
                    if on {
                        flags |= flag;
                    }
                }
                prepared.clone_flags = flags;
                prepared.user_ns = set.user == Some(true);
                Op::Parent
            }
            Action::IdMaps { uid, gid } => {
                prepared.id_maps = Some((*uid, *gid, euid != 0));
                Op::Parent
            }
            Action::Terminal { enabled } => {
                prepared.terminal = enabled.unwrap_or_else(|| sys::isatty(0));
                Op::Terminal
            }
            Action::PrivatePropagation => Op::PrivatePropagation,
            Action::BindRootfs { path } => Op::Rootfs {
                source: Some(c(format!("{OLD_ROOT}{}", path.display()), i, "rootfs")?),
            },
            Action::HostRootfs => Op::Rootfs { source: None },
            Action::Mount(spec) => Op::Mount(mount_op(spec, i)?),
            Action::Dev(dev) => Op::Dev(dev_op(dev, prepared.user_ns)),
            Action::LoopbackUp => Op::LoopbackUp,
            Action::PivotRoot => Op::PivotRoot,
            Action::ReadonlyRoot => Op::ReadonlyRoot,
            Action::Hostname { hostname } => Op::Hostname(hostname.as_bytes().to_vec()),
            Action::Workdir { path } => Op::Workdir(c(path, i, "workdir")?),
            Action::User(ids) => {
                let (Some(uid), Some(gid)) = (ids.uid, ids.gid) else {
                    return Err(RunError::Step(StepFailed {
                        step: i,
                        errno: Errno::EINVAL,
                        detail: format!("user \"{}\" was not resolved by preflight", ids.spec),
                    }));
                };
                // An unprivileged user namespace has setgroups denied; there are no
                // supplementary groups to set there.
                let set_groups = !(prepared.user_ns && euid != 0);
                Op::User {
                    uid,
                    gid,
                    groups: ids.groups.clone(),
                    set_groups,
                }
            }
            Action::CloseFds => Op::CloseFds,
            Action::Cgroup(cgroup) => {
                prepared.cgroup = Some(cgroup.clone());
                Op::Parent
            }
            Action::MaskPaths { paths } => Op::Mask(relative_paths(paths, i)?),
            Action::ReadonlyPaths { paths } => Op::Readonly(relative_paths(paths, i)?),
            Action::Rlimits { limits } => Op::Rlimits(super::security::rlimits(limits)),
            Action::Capabilities { set } => Op::Capabilities(super::security::capability_set(set)),
            Action::NoNewPrivileges => Op::NoNewPrivileges,
            Action::Seccomp(seccomp) => Op::Seccomp(super::security::bpf_program(&seccomp.bpf)),
            Action::Exec(exec) => {
                let program = exec
                    .path
                    .as_deref()
                    .or(exec.args.first().map(String::as_str))
                    .unwrap_or("");
                Op::Exec(ExecOp {
                    path: c(program, i, "command")?,
                    argv: exec
                        .args
                        .iter()
                        .map(|a| c(a, i, "command"))
                        .collect::<Result<_, _>>()?,
                    envp: exec
                        .env
                        .iter()
                        .map(|(k, v)| c(format!("{k}={v}"), i, "env"))
                        .collect::<Result<_, _>>()?,
                    init: exec.init,
                })
            }
        };
        prepared.ops.push(op);
    }
    Ok(prepared)
}

fn relative_paths(paths: &[String], step: usize) -> Result<Vec<CString>, RunError> {
    paths
        .iter()
        .map(|p| c(p.trim_start_matches('/'), step, "path"))
        .collect()
}

fn mount_op(spec: &MountSpec, step: usize) -> Result<MountOp, RunError> {
    let target = c(spec.target.trim_start_matches('/'), step, "target")?;
    let ro = if spec.readonly {
        sys::MOUNT_ATTR_READONLY
    } else {
        0
    };
    let nosuid_nodev = sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV;
    let (kind, file) = match &spec.kind {
        MountKind::Bind { source } => {
            // A file is bound onto a file, a folder onto a folder.
            let file = std::fs::metadata(source)
                .map(|m| !m.is_dir())
                .unwrap_or(false);
            let source = c(format!("{OLD_ROOT}{}", source.display()), step, "source")?;
            (
                MountOpKind::Bind {
                    source,
                    readonly: spec.readonly,
                },
                file,
            )
        }
        MountKind::Tmpfs { size, mode } => {
            let mut options = vec![opt("mode", Some(format!("{mode:o}")))];
            if let Some(size) = size {
                options.push(opt("size", Some(size.to_string())));
            }
            (
                MountOpKind::Fs {
                    fstype: c("tmpfs", step, "tmpfs")?,
                    options,
                    attrs: nosuid_nodev | ro,
                },
                false,
            )
        }
        MountKind::Proc => (
            MountOpKind::Fs {
                fstype: c("proc", step, "proc")?,
                options: Vec::new(),
                attrs: nosuid_nodev | sys::MOUNT_ATTR_NOEXEC | ro,
            },
            false,
        ),
        MountKind::Sysfs => (
            MountOpKind::Fs {
                fstype: c("sysfs", step, "sysfs")?,
                options: Vec::new(),
                attrs: nosuid_nodev | sys::MOUNT_ATTR_NOEXEC | sys::MOUNT_ATTR_READONLY,
            },
            false,
        ),
        MountKind::Devpts => (
            MountOpKind::Fs {
                fstype: c("devpts", step, "devpts")?,
                options: vec![
                    opt("newinstance", None),
                    opt("ptmxmode", Some("0666".into())),
                    opt("mode", Some("0620".into())),
                ],
                attrs: sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NOEXEC | ro,
            },
            false,
        ),
        MountKind::Mqueue => (
            MountOpKind::Fs {
                fstype: c("mqueue", step, "mqueue")?,
                options: Vec::new(),
                attrs: nosuid_nodev | sys::MOUNT_ATTR_NOEXEC | ro,
            },
            false,
        ),
    };
    Ok(MountOp {
        target,
        shown: spec.target.clone(),
        file,
        kind,
    })
}

fn dev_op(dev: &DevSetup, user_ns: bool) -> DevOp {
    let number = |name: &str| match name {
        "null" => (1, 3),
        "zero" => (1, 5),
        "full" => (1, 7),
        "random" => (1, 8),
        "urandom" => (1, 9),
        "tty" => (5, 0),
        _ => (0, 0),
    };
    let mut devpts = vec![
        opt("newinstance", None),
        opt("ptmxmode", Some("0666".into())),
        opt("mode", Some("0620".into())),
    ];
    // gid 5 (tty) exists only where the host's ids are seen unmapped.
    if !user_ns {
        devpts.push(opt("gid", Some("5".into())));
    }
    DevOp {
        devices: dev
            .devices
            .iter()
            .map(|d| {
                let (major, minor) = number(d);
                (CString::new(d.as_str()).unwrap_or_default(), major, minor)
            })
            .collect(),
        bind_devices: user_ns,
        devpts,
    }
}
