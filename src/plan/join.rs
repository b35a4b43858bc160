//! What a process that joins a running container gets (`launcher exec`): the working folder,
//! user and environment the container's command got. Kept in the container's record, so an
//! exec sees the container as it was started, whatever became of its Container.toml since.

use serde::{Deserialize, Serialize};

use super::{Action, NetMode, Plan, RlimitSpec};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinSpec {
    /// Absolute, inside the container.
    pub workdir: String,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// Whether they can be set: not in a user namespace made without root, where setgroups
    /// is denied.
    pub set_groups: bool,
    /// The command's environment, sorted by name.
    pub env: Vec<(String, String)>,
    /// The namespaces the container has of its own, named as in /proc/PID/ns: `user`, `mnt`,
    /// `uts`, `ipc`, `net`, `pid`, `cgroup`. The others are the host's already.
    pub namespaces: Vec<String>,
    /// The container's cgroup folders (one per v1 controller, one for v2); none without
    /// `[resources]`.
    #[serde(default)]
    pub cgroups: Vec<String>,
    #[serde(default)]
    pub rlimits: Vec<RlimitSpec>,
    /// The capability set (canonical names).
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub no_new_privileges: bool,
    /// The compiled seccomp program, in hex; empty when unconfined.
    #[serde(default)]
    pub seccomp: String,
}

impl JoinSpec {
    /// From a checked plan (preflight resolved the user), for a launcher running as `euid`.
    pub fn from_plan(plan: &Plan, euid: u32) -> JoinSpec {
        let workdir = plan
            .find(|a| match a {
                Action::Workdir { path } => Some(path),
                _ => None,
            })
            .cloned()
            .unwrap_or_else(|| "/".into());
        let user = plan.find(|a| match a {
            Action::User(ids) => Some(ids),
            _ => None,
        });
        let user_ns = plan.namespaces().is_some_and(|ns| ns.user == Some(true));
        let namespaces = match plan.namespaces() {
            Some(ns) => [
                ("user", user_ns),
                ("mnt", ns.mount),
                ("uts", ns.uts),
                ("ipc", ns.ipc),
                ("net", ns.net == NetMode::None),
                ("pid", ns.pid),
                ("cgroup", ns.cgroup),
            ]
            .iter()
            .filter(|(_, own)| *own)
            .map(|(name, _)| name.to_string())
            .collect(),
            None => Vec::new(),
        };
        JoinSpec {
            workdir,
            uid: user.and_then(|u| u.uid).unwrap_or(0),
            gid: user.and_then(|u| u.gid).unwrap_or(0),
            groups: user.map(|u| u.groups.clone()).unwrap_or_default(),
            set_groups: !(user_ns && euid != 0),
            env: plan.exec().map(|e| e.env.clone()).unwrap_or_default(),
            namespaces,
            cgroups: plan
                .find(|a| match a {
                    Action::Cgroup(cgroup) => Some(&cgroup.paths),
                    _ => None,
                })
                .cloned()
                .unwrap_or_default(),
            rlimits: plan
                .find(|a| match a {
                    Action::Rlimits { limits } => Some(limits),
                    _ => None,
                })
                .cloned()
                .unwrap_or_default(),
            capabilities: plan
                .find(|a| match a {
                    Action::Capabilities { set } => Some(set),
                    _ => None,
                })
                .cloned()
                .unwrap_or_default(),
            no_new_privileges: plan
                .steps
                .iter()
                .any(|s| matches!(s.action, Action::NoNewPrivileges)),
            seccomp: plan
                .find(|a| match a {
                    Action::Seccomp(seccomp) => Some(&seccomp.bpf),
                    _ => None,
                })
                .map(|bpf| bpf.iter().map(|b| format!("{b:02x}")).collect())
                .unwrap_or_default(),
        }
    }
}
