//! The plan of `launcher exec`: a new process in a running container, confined as its command
//! is. Made from the container's own plan when it starts (and kept in its record), so an exec
//! sees the container as it was started, whatever became of its Container.toml since; the
//! security steps are the very steps of that plan, run by the same code.

use super::step::{Action, NamespaceSet, Program, TerminalMode};
use super::{Origin, Plan, Side, Step};

impl Plan {
    /// The steps of `launcher exec` in this container; [`Plan::set_command`] gives it the
    /// command to run.
    pub fn exec_plan(&self) -> Plan {
        let mut steps = Vec::new();
        let mut push = |side, action, origin| {
            steps.push(Step {
                side,
                action,
                origin,
            })
        };
        let cgroup = self
            .cgroup()
            .map(|setup| (setup.version, setup.paths.clone()));
        // Opened while the host's cgroup tree is still in view: entering the container's mount
        // namespace hides it.
        if let Some((version, paths)) = &cgroup {
            let action = Action::CgroupOpen {
                version: *version,
                paths: paths.clone(),
            };
            push(Side::Parent, action, Origin::Default);
        }
        push(
            Side::Parent,
            Action::JoinNamespaces {
                namespaces: self.own_namespaces(),
            },
            Origin::Default,
        );
        // A PID namespace applies to children only: the process that runs the command is a
        // fork of the launcher, which stays outside as its monitor.
        push(
            Side::Parent,
            Action::Clone(NamespaceSet::default()),
            Origin::Default,
        );
        if let Some((_, paths)) = cgroup {
            push(Side::Parent, Action::CgroupJoin { paths }, Origin::Default);
        }
        push(Side::Parent, Action::Start, Origin::Default);
        push(Side::Child, Action::Prologue, Origin::Default);
        push(
            Side::Child,
            Action::Terminal {
                mode: TerminalMode::Off,
                console: false,
            },
            Origin::Default,
        );
        // The container's own process settings and confinement, in the order `up` ran them.
        for step in &self.steps {
            let kept = match &step.action {
                Action::Rlimits { .. }
                | Action::Workdir { .. }
                | Action::User(_)
                | Action::Capabilities { .. }
                | Action::NoNewPrivileges
                | Action::Seccomp(_)
                | Action::CloseFds => Some(step.action.clone()),
                Action::Exec(exec) => {
                    let mut exec = exec.clone();
                    let path = exec
                        .env
                        .iter()
                        .find(|(k, _)| k == "PATH")
                        .map_or_else(|| "/usr/bin:/bin".to_string(), |(_, v)| v.clone());
                    exec.program = Program::Search { path };
                    Some(Action::Exec(exec))
                }
                _ => None,
            };
            if let Some(action) = kept {
                push(Side::Child, action, step.origin.clone());
            }
        }
        push(Side::Parent, Action::Monitor, Origin::Default);
        Plan {
            name: self.name.clone(),
            file: self.file.clone(),
            steps,
            stop: self.stop.clone(),
        }
    }

    /// The plan for a detached container: its writable layer stays when it stops (what it
    /// wrote can be looked at) and goes at `rm`.
    pub fn detached(mut self) -> Plan {
        self.steps
            .retain(|s| !matches!(s.action, Action::RemoveWritableLayer { .. }));
        self
    }

    /// The folder of the container's writable layer, when it has one.
    pub fn writable_layer(&self) -> Option<&std::path::Path> {
        self.find(|a| match a {
            Action::WritableLayer { path, .. } => Some(path),
            _ => None,
        })
        .map(|p| p.as_path())
    }

    /// Sets the command of an exec plan, and whether it gets a pseudo-terminal.
    pub fn set_command(&mut self, args: &[String], terminal: bool) {
        for step in &mut self.steps {
            match &mut step.action {
                Action::Exec(exec) => {
                    exec.args = args.to_vec();
                    step.origin = Origin::CommandLine {
                        what: "launcher exec NAME -- COMMAND".into(),
                    };
                }
                Action::Terminal { mode, .. } => {
                    *mode = if terminal {
                        TerminalMode::On
                    } else {
                        TerminalMode::Off
                    }
                }
                _ => {}
            }
        }
    }

    /// `exec -w DIR`: the working folder of an exec plan.
    pub fn set_workdir(&mut self, dir: &str) {
        for step in &mut self.steps {
            if let Action::Workdir { path } = &mut step.action {
                *path = dir.to_string();
                step.origin = exec_flag("-w");
            }
        }
    }

    /// `exec -u USER`: who runs the command of an exec plan; `HOME`, `USER` and `LOGNAME`
    /// become the new user's. Supplementary groups stay unset where the container's were.
    pub fn set_user(&mut self, mut ids: super::UserIds) {
        for step in &mut self.steps {
            match &mut step.action {
                Action::User(old) => {
                    ids.set_groups = old.set_groups;
                    if !ids.set_groups {
                        ids.groups.clear();
                    }
                    *old = ids.clone();
                    step.origin = exec_flag("-u");
                }
                Action::Exec(exec) => {
                    exec.env
                        .retain(|(k, _)| !matches!(k.as_str(), "HOME" | "USER" | "LOGNAME"));
                    exec.env = ids.login_env(&exec.env, &[]);
                }
                _ => {}
            }
        }
    }

    /// `exec -e K=V`: variables over the exec plan's environment.
    pub fn set_env(&mut self, vars: &[(String, String)]) {
        for step in &mut self.steps {
            if let Action::Exec(exec) = &mut step.action {
                for (key, value) in vars {
                    exec.env.retain(|(k, _)| k != key);
                    exec.env.push((key.clone(), value.clone()));
                }
                exec.env.sort();
            }
        }
    }

    /// The namespaces the container has of its own, named as in /proc/PID/ns, user first
    /// (setns with a pidfd applies it first). The others are the host's already.
    fn own_namespaces(&self) -> Vec<String> {
        let clone = self.namespaces().copied().unwrap_or_default();
        let cgroup = self
            .steps
            .iter()
            .any(|s| matches!(s.action, Action::CgroupNamespace));
        // A namespace joined by path is the container's too (a pod's shared network).
        let joined = |kind: &str| {
            self.steps
                .iter()
                .any(|s| matches!(&s.action, Action::JoinNamespace(j) if j.kind == kind))
        };
        let clone = NamespaceSet {
            uts: clone.uts || joined("uts"),
            ipc: clone.ipc || joined("ipc"),
            net: clone.net || joined("net"),
            ..clone
        };
        let cgroup = cgroup || joined("cgroup");
        [
            ("user", clone.user),
            ("mnt", clone.mount),
            ("uts", clone.uts),
            ("ipc", clone.ipc),
            ("net", clone.net),
            ("pid", clone.pid),
            ("cgroup", cgroup),
        ]
        .iter()
        .filter(|(_, own)| *own)
        .map(|(name, _)| name.to_string())
        .collect()
    }
}

fn exec_flag(flag: &str) -> Origin {
    Origin::CommandLine {
        what: format!("launcher exec {flag}"),
    }
}
