//! Turns the plan's steps into operations ready for the child: C strings made, paths joined,
//! flags chosen, all before the clone, so the child does as little as it can between clone
//! and exec. `ops[i]` is the operation of `plan.steps[i]`.

use std::ffi::CString;
use std::path::Path;

use super::sys::{self, Errno};
use super::{RunError, StepFailed};
use crate::plan::{Action, DevSetup, IdMap, MountKind, MountSpec, NetMode, Plan};

/// With `rootfs.host`: where the host's / is while the container's root is built, and the
/// folder the new root is assembled in; both live on a private tmpfs staged over /tmp in the
/// new mount namespace. A root filesystem folder needs no staging: it is bound onto itself.
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
    /// A cgroup namespace, unshared by the child after it joined its cgroup.
    pub cgroup_namespace: bool,
    /// Host paths the child opens before its first mount.
    pub host_paths: Vec<HostPath>,
    pub ops: Vec<Op>,
}

pub enum Op {
    /// Done by the parent (namespaces at clone, id maps).
    Parent,
    Terminal,
    PrivatePropagation,
    /// Stage the tmpfs root, then bind `source` (a folder, or the host's / when `None`).
    /// A root filesystem folder, opened by the launcher (`None`: the host's /).
    Rootfs {
        folder: Option<HostIndex>,
    },
    Mount(MountOp),
    Dev(DevOp),
    LoopbackUp,
    /// pivot_root into the new root; `staged`: the host's / is at /oldroot, detached first.
    PivotRoot {
        staged: bool,
    },
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
    /// The set to keep, and the highest capability number of this kernel.
    Capabilities(caps::CapsHashSet, u8),
    NoNewPrivileges,
    /// A compiled seccomp program (struct sock_filter array), or none (unconfined).
    Seccomp(Vec<libc::sock_filter>),
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
    },
    Fs {
        fstype: CString,
        options: Vec<(CString, Option<CString>)>,
        attrs: libc::c_uint,
    },
}

pub struct DevOp {
    /// The host's device nodes bound into the container's /dev (a tmpfs mounted nodev, so
    /// that no node made in it later opens a device): (name, the host's node, opened).
    pub devices: Vec<(CString, HostIndex)>,
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
        cgroup_namespace: false,
        host_paths: Vec::new(),
        ops: Vec::with_capacity(plan.steps.len()),
    };
    // Whether the host's / is staged at /oldroot (rootfs.host) when pivot_root comes.
    let mut staged = false;
    for (i, step) in plan.steps.iter().enumerate() {
        let op = match &step.action {
            Action::Namespaces(set) => {
                let mut flags = libc::CLONE_NEWNS;
                for (on, flag) in [
                    (set.uts, libc::CLONE_NEWUTS),
                    (set.ipc, libc::CLONE_NEWIPC),
                    (set.pid, libc::CLONE_NEWPID),
                    (set.net == NetMode::None, libc::CLONE_NEWNET),
                    (set.user == Some(true), libc::CLONE_NEWUSER),
                ] {
                    if on {
                        flags |= flag;
                    }
                }
                prepared.clone_flags = flags;
                // Unshared by the child once it is in its cgroup: the namespace's root is the
                // cgroup of whoever makes it, which must be the container's, not the launcher's.
                prepared.cgroup_namespace = set.cgroup;
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
                folder: Some(host_path(&mut prepared.host_paths, path, i, "rootfs")?),
            },
            Action::HostRootfs => {
                staged = true;
                Op::Rootfs { folder: None }
            }
            Action::Mount(spec) => Op::Mount(mount_op(spec, i, &mut prepared.host_paths)?),
            Action::Dev(dev) => Op::Dev(dev_op(dev, i, &mut prepared.host_paths)?),
            Action::LoopbackUp => Op::LoopbackUp,
            Action::PivotRoot => Op::PivotRoot { staged },
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
            Action::Capabilities { set } => Op::Capabilities(
                super::security::capability_set(set),
                super::security::last_capability(),
            ),
            Action::NoNewPrivileges => Op::NoNewPrivileges,
            Action::Seccomp(seccomp) => {
                // Only "unconfined" runs without a filter; a profile not compiled (a front
                // end that skipped preflight) is an error, never a silent lack of one.
                if seccomp.profile != "unconfined" && seccomp.bpf.is_empty() {
                    return Err(RunError::Step(StepFailed {
                        step: i,
                        errno: Errno::EINVAL,
                        detail: format!(
                            "the seccomp profile \"{}\" was not compiled",
                            seccomp.profile
                        ),
                    }));
                }
                Op::Seccomp(super::security::bpf_program(&seccomp.bpf))
            }
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

fn mount_op(spec: &MountSpec, step: usize, paths: &mut Vec<HostPath>) -> Result<MountOp, RunError> {
    let target = c(spec.target.trim_start_matches('/'), step, "target")?;
    let shown = spec.target.clone();
    let ro = if spec.readonly {
        sys::MOUNT_ATTR_READONLY
    } else {
        0
    };
    let nosuid_nodev = sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV;
    let noexec = nosuid_nodev | sys::MOUNT_ATTR_NOEXEC;
    let (fstype, options, attrs) = match &spec.kind {
        MountKind::Bind { source } => {
            let source = host_path(paths, source, step, "source")?;
            let kind = MountOpKind::Bind {
                source,
                readonly: spec.readonly,
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
    };
    let kind = MountOpKind::Fs {
        fstype: c(fstype, step, fstype)?,
        options,
        attrs,
    };
    Ok(MountOp {
        target,
        shown,
        kind,
    })
}

/// A devpts instance of the container's own, with its own ptmx.
fn devpts_options() -> Vec<(CString, Option<CString>)> {
    vec![
        opt("newinstance", None),
        opt("ptmxmode", Some("0666".into())),
        opt("mode", Some("0620".into())),
    ]
}

fn dev_op(dev: &DevSetup, step: usize, paths: &mut Vec<HostPath>) -> Result<DevOp, RunError> {
    let devpts = devpts_options();
    let devices = dev
        .devices
        .iter()
        .map(|d| {
            Ok((
                c(d, step, "device")?,
                host_path(paths, &Path::new("/dev").join(d), step, "device")?,
            ))
        })
        .collect::<Result<_, RunError>>()?;
    Ok(DevOp { devices, devpts })
}

/// A host path the child opens (O_PATH) first thing, in its own mount namespace, before any
/// mount: the steps then bind what these descriptors refer to, so no later lookup (through a
/// staged /oldroot, or a symlink swapped meanwhile) can change what gets mounted.
pub struct HostPath {
    pub path: CString,
    pub shown: String,
    /// The step that needs it, for the report when it cannot be opened.
    pub step: usize,
}

/// Index into `Prepared::host_paths` (and the child's opened descriptors).
pub type HostIndex = usize;

fn host_path(
    paths: &mut Vec<HostPath>,
    path: &Path,
    step: usize,
    what: &str,
) -> Result<HostIndex, RunError> {
    let cpath = c(path.as_os_str().as_encoded_bytes(), step, what)?;
    paths.push(HostPath {
        path: cpath,
        shown: path.display().to_string(),
        step,
    });
    Ok(paths.len() - 1)
}
