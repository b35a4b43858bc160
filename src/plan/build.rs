//! The order of the steps, and the reason for each ordering. This is the only place that
//! orders them: front ends describe a container ([`Spec`]), preflight learns the host
//! ([`Facts`]), and [`Plan::build`] lays both out as the list the executor runs.

use std::path::{Path, PathBuf};

use super::network::{BridgeAttach, ETC_FILES, NetworkMode, PastaSetup};
use super::spec::{At, Facts, Layers, ResolvedRoot, Spec};
use super::step::{Action, DevSetup, Exec, MountKind, MountSpec, NamespaceSet, Overlay, Program};
use super::{Origin, Plan, Side, Step};

/// Signals sent to the launcher that reach the command (the monitor step forwards them).
pub const FORWARDED_SIGNALS: [i32; 7] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

struct Steps(Vec<Step>);

impl Steps {
    fn push(&mut self, side: Side, action: Action, origin: Origin) {
        self.0.push(Step {
            side,
            action,
            origin,
        });
    }
}

impl Plan {
    /// Lays out what `launcher up` does for `spec` on a host with `facts`.
    pub fn build(spec: Spec, facts: Facts) -> Plan {
        let mut steps = Steps(Vec::with_capacity(32 + spec.mounts.len()));
        let ns = spec.namespaces.value;
        let ns_origin = spec.namespaces.origin.clone();
        let cgroup_origin = spec.limits.as_ref().map(|l| l.origin.clone());

        // The parent, before the container's process runs anything.
        // The cgroup namespace is not made here but by the child once it is in its cgroup: a
        // cgroup namespace is rooted at the cgroup of whoever makes it.
        let clone = NamespaceSet {
            mount: true,
            uts: ns.uts,
            ipc: ns.ipc,
            pid: ns.pid,
            net: ns.net,
            user: facts.user_namespace.is_some(),
        };
        steps.push(Side::Parent, Action::Clone(clone), ns_origin.clone());
        // While the new process waits for the go-ahead; when this fails, the executor ends it.
        if let (Some(setup), Some(origin)) = (&facts.cgroup, &cgroup_origin) {
            steps.push(
                Side::Parent,
                Action::CgroupCreate(setup.clone()),
                origin.clone(),
            );
        }
        // The writable layer is made fresh for each run, while the new process waits; before
        // an overlay of idmapped layers is made on it. With `remap`, its `upper` (the root of
        // the overlay) is the container root's.
        if let ResolvedRoot::Layers(Layers {
            writable: Some(path),
            ..
        }) = &facts.root
        {
            let owner = facts
                .user_namespace
                .as_ref()
                .and_then(|maps| maps.range.as_ref())
                .map(|range| (range.uid, range.gid));
            let action = Action::WritableLayer {
                path: path.clone(),
                owner,
            };
            steps.push(Side::Parent, action, spec.root.origin.clone());
        }
        // Id maps are written from outside the new user namespace, before the child uses an
        // id (it waits for the go-ahead).
        if let Some(maps) = &facts.user_namespace {
            steps.push(
                Side::Parent,
                Action::IdMaps(maps.clone()),
                ns_origin.clone(),
            );
            // Once the maps are written (an idmapped mount takes them from the namespace),
            // before the child opens its host paths.
            if maps.range.is_some() {
                let (paths, overlay) = match &facts.root {
                    ResolvedRoot::Folder(path) => (vec![path.clone()], None),
                    ResolvedRoot::Layers(layers) => (Vec::new(), Some(overlay(layers))),
                    ResolvedRoot::Host => (Vec::new(), None),
                };
                steps.push(
                    Side::Parent,
                    Action::IdmapMounts { paths, overlay },
                    ns_origin.clone(),
                );
            }
        }
        // Into the cgroup before the child runs a step: its setup is accounted and limited too.
        if let (Some(setup), Some(origin)) = (&facts.cgroup, &cgroup_origin) {
            let paths = setup.paths.clone();
            steps.push(Side::Parent, Action::CgroupJoin { paths }, origin.clone());
        }
        // The network last before the go-ahead: its namespace exists (and, rootless, its id
        // maps, which pasta needs to join it), and the child binds the /etc files written here.
        let network_origin = spec.network.mode.origin.clone();
        if let Some(action) = network_step(&spec, &facts) {
            steps.push(Side::Parent, action, network_origin.clone());
        }
        steps.push(Side::Parent, Action::Start, Origin::Default);

        // The container's process, from the go-ahead on.
        steps.push(Side::Child, Action::Prologue, Origin::Default);
        // Joined before anything else: the cgroup namespace, the mounts and the loopback below
        // are made in (or relative to) the namespaces the container shares.
        for join in &spec.joins {
            let action = Action::JoinNamespace(join.value.clone());
            steps.push(Side::Child, action, join.origin.clone());
        }
        if ns.cgroup {
            steps.push(Side::Child, Action::CgroupNamespace, ns_origin.clone());
        }
        // A networked container's /etc files, bound from its state folder after the front
        // end's mounts (a file the front end binds itself stays its own).
        let etc_mounts = etc_mounts(&spec, &facts);
        let mounts = front_end_mounts(&spec, &facts);
        // Host paths are opened before the first mount, so no mount (nor a symlink swapped in
        // meanwhile) can change what they name; the steps below bind the descriptors.
        steps.push(
            Side::Child,
            Action::OpenHostPaths {
                paths: host_paths(&spec, &facts.root, &mounts, &etc_mounts),
            },
            Origin::Default,
        );
        // After the host paths are opened (still as host root: the launcher's folders may be
        // closed to others), before anything creates a file: host root is no id of a share of
        // the launcher's range, the process would be `nobody` in its namespace.
        // So too with maps another front end gave (an OCI engine's) that leave host root out.
        if facts
            .user_namespace
            .as_ref()
            .is_some_and(|m| m.range.is_some() || m.leave_out_host_root())
        {
            steps.push(Side::Child, Action::NamespaceRoot, ns_origin.clone());
        }
        // Before any mount: a mount made while / is shared would appear on the host.
        steps.push(Side::Child, Action::PrivatePropagation, Origin::Default);
        let root_origin = spec.root.origin.clone();
        let host_root = facts.root == ResolvedRoot::Host;
        match &facts.root {
            ResolvedRoot::Folder(path) => steps.push(
                Side::Child,
                Action::BindRootfs { path: path.clone() },
                root_origin.clone(),
            ),
            // The host's / is made read-only as it is bound, before anything is mounted in it.
            ResolvedRoot::Host => steps.push(Side::Child, Action::HostRootfs, root_origin.clone()),
            ResolvedRoot::Layers(layers) => steps.push(
                Side::Child,
                Action::OverlayRootfs(overlay(layers)),
                root_origin.clone(),
            ),
        }
        // /proc and /dev before the front end's mounts, so that a mount under /dev (a device,
        // a sized /dev/shm) lands on the container's /dev instead of being hidden by it. A
        // mount of the front end's own at /proc or /dev replaces the default one.
        let targets: Vec<&str> = spec
            .mounts
            .iter()
            .map(|m| m.value.target.as_str())
            .collect();
        if !targets.contains(&"/proc") {
            let proc = MountSpec {
                kind: MountKind::Proc,
                target: "/proc".into(),
                readonly: false,
                flags: Default::default(),
            };
            steps.push(Side::Child, Action::Mount(proc), Origin::Default);
        }
        if !targets.contains(&"/dev") {
            steps.push(
                Side::Child,
                Action::Dev(DevSetup::standard()),
                Origin::Default,
            );
        }
        // The host's / is read-only: a /tmp the container can write, and a /run of its own
        // (read-only does not stop connect() on the host's sockets there: systemd, container
        // engines, the user's session bus).
        if host_root {
            for (target, mode) in [("/tmp", 0o1777), ("/run", 0o755)] {
                if !targets.contains(&target) {
                    let tmpfs = MountSpec {
                        kind: MountKind::Tmpfs { size: None, mode },
                        target: target.into(),
                        readonly: false,
                        flags: Default::default(),
                    };
                    steps.push(Side::Child, Action::Mount(tmpfs), root_origin.clone());
                }
            }
        }
        for (action, origin) in mounts {
            steps.push(Side::Child, action, origin);
        }
        for mount in etc_mounts {
            steps.push(Side::Child, Action::Mount(mount.value), mount.origin);
        }
        // Only without a network of its own: a bridge's attach step and pasta bring loopback
        // up with the container's interface.
        if ns.net && spec.network.mode.value == NetworkMode::None {
            steps.push(Side::Child, Action::LoopbackUp, spec.net_origin.clone());
        }
        // In the container's network and IPC namespaces, through the host's /proc/sys still
        // in view (before pivot_root); /proc/sys/net shows the writer's network namespace.
        if let Some(sysctl) = &spec.sysctl {
            let values = sysctl.value.clone();
            steps.push(
                Side::Child,
                Action::Sysctl { values },
                sysctl.origin.clone(),
            );
        }
        // After every mount, so that nothing is mounted over a mask; before pivot_root, while
        // the paths are still reached through the new root's descriptor.
        let security = &spec.security;
        steps.push(
            Side::Child,
            Action::MaskPaths {
                paths: security.masked_paths.value.clone(),
            },
            security.masked_paths.origin.clone(),
        );
        steps.push(
            Side::Child,
            Action::ReadonlyPaths {
                paths: security.readonly_paths.value.clone(),
            },
            security.readonly_paths.origin.clone(),
        );
        steps.push(Side::Child, Action::PivotRoot, Origin::Default);
        // After pivot_root: the pseudo-terminal comes from the container's own devpts, so it
        // is named in the container and /dev/console can be bound to it.
        let process = &spec.process;
        steps.push(
            Side::Child,
            Action::Terminal {
                mode: process.terminal.value,
                console: true,
            },
            process.terminal.origin.clone(),
        );
        // A folder root only after the mounts, whose targets may need creating in it.
        if let Some(origin) = &spec.readonly_root {
            steps.push(Side::Child, Action::ReadonlyRoot, origin.clone());
        }
        if let Some(hostname) = &spec.hostname {
            let action = Action::Hostname {
                hostname: hostname.value.clone(),
            };
            steps.push(Side::Child, action, hostname.origin.clone());
        }
        if let Some(rlimits) = &spec.rlimits {
            let action = Action::Rlimits {
                limits: rlimits.value.clone(),
            };
            steps.push(Side::Child, action, rlimits.origin.clone());
        }
        let workdir = Action::Workdir {
            path: process.workdir.value.clone(),
        };
        steps.push(Side::Child, workdir, process.workdir.origin.clone());
        let env = facts.user.login_env(&process.env, &process.env_set);
        push_confinement(&mut steps, &spec, facts.user, facts.seccomp);
        let exec = Exec {
            args: process.command.value.clone(),
            program: Program::Path(facts.program),
            env,
        };
        let command_origin = process.command.origin.clone();
        if process.init {
            // Init is the launcher's code: it runs confined like the command (seccomp, no
            // capabilities beyond the set), and non-dumpable, so no process of the container
            // can open /proc/1/exe, the launcher's binary (CVE-2019-5736).
            steps.push(Side::Child, Action::Init, Origin::Default);
            steps.push(Side::Init, Action::Exec(exec), command_origin);
        } else {
            steps.push(Side::Child, Action::Exec(exec), command_origin);
        }

        // The parent again, once the command runs.
        steps.push(Side::Parent, Action::Monitor, Origin::Default);
        // The network first: its rules and lease name host ports and an address others wait
        // for; the veth pair goes with the namespace.
        if let Some(network) = &facts.network {
            let state_root = network.state_root.clone();
            let container = spec.name.clone();
            match spec.network.mode.value {
                NetworkMode::Bridge(_) => steps.push(
                    Side::Parent,
                    Action::NetworkRelease {
                        state_root,
                        container,
                    },
                    network_origin.clone(),
                ),
                NetworkMode::Pasta => steps.push(
                    Side::Parent,
                    Action::PastaStop {
                        state_root,
                        container,
                    },
                    network_origin.clone(),
                ),
                NetworkMode::None | NetworkMode::Host => {}
            }
        }
        if let (Some(setup), Some(origin)) = (&facts.cgroup, cgroup_origin) {
            let paths = setup.paths.clone();
            steps.push(Side::Parent, Action::CgroupRemove { paths }, origin);
        }
        // What the mounts made in the root folder goes once they are gone with the container.
        if let (ResolvedRoot::Folder(root), false) = (&facts.root, facts.made_targets.is_empty()) {
            let action = Action::RemoveMountTargets {
                root: root.clone(),
                targets: facts.made_targets.clone(),
            };
            steps.push(Side::Parent, action, Origin::Default);
        }
        // What the container wrote goes with it (a detached container's, at `rm`).
        if let ResolvedRoot::Layers(Layers {
            writable: Some(path),
            ..
        }) = &facts.root
        {
            let action = Action::RemoveWritableLayer { path: path.clone() };
            steps.push(Side::Parent, action, spec.root.origin.clone());
        }
        Plan {
            name: spec.name,
            file: spec.file,
            steps: steps.0,
            stop: spec.stop,
        }
    }
}

impl Plan {
    /// The plan of an OCI `create`: as [`Plan::build`] up to exec, but the container's process
    /// detaches once set up and waits at `fifo` until `start` opens it, then execs; the
    /// engine (conmon, containerd's shim) is its monitor, and `delete` removes its cgroup.
    pub fn build_created(spec: Spec, facts: Facts, fifo: PathBuf) -> Plan {
        let mut plan = Plan::build(spec, facts);
        // Opened with the other host paths, before any mount hides it.
        for step in &mut plan.steps {
            if let Action::OpenHostPaths { paths } = &mut step.action {
                paths.push(fifo.clone());
            }
        }
        plan.detach_before_exec(Some(fifo));
        plan
    }

    /// Makes the plan's process outlive the launcher: a detach step right before the user and
    /// confinement steps (or exec), and none of the parent's steps after start (monitor, cleanup).
    pub fn detach_before_exec(&mut self, fifo: Option<PathBuf>) {
        let start = self
            .steps
            .iter()
            .position(|s| matches!(s.action, Action::Start));
        if let Some(start) = start {
            let mut index = 0;
            self.steps.retain(|s| {
                index += 1;
                index <= start + 1 || s.side != Side::Parent
            });
        }
        // Before the user and confinement steps: the FIFO is root's, and reopening it through
        // /proc/self/fd needs what the command's user may not have (a dumpable process, or
        // CAP_DAC_OVERRIDE). What follows the wait is short and cannot fail on the host's
        // account: ids, capabilities, no_new_privs, the filter, then exec.
        let exec = self.steps.iter().position(|s| {
            matches!(
                s.action,
                Action::User(_) | Action::Seccomp(_) | Action::Init | Action::Exec(_)
            ) && s.side == Side::Child
        });
        if let Some(exec) = exec {
            let step = Step {
                side: Side::Child,
                action: Action::Detach { fifo },
                origin: Origin::Default,
            };
            self.steps.insert(exec, step);
        }
    }
}

/// The user and the security steps, in the order `up` and `exec` share. Capabilities go after
/// the uid change (keepcaps carries them across it) and the filter last, so it filters as
/// little of the setup as it can; but loading a filter without no_new_privs needs
/// CAP_SYS_ADMIN in the effective set, which a non-root user loses with its uid: then the
/// filter goes before the user changes.
fn push_confinement(
    steps: &mut Steps,
    spec: &Spec,
    user: super::step::UserIds,
    seccomp: super::security::SeccompFilter,
) {
    let security = &spec.security;
    let seccomp_origin = security.seccomp.origin.clone();
    let seccomp = Action::Seccomp(seccomp);
    if security.no_new_privileges.is_none() {
        steps.push(Side::Child, seccomp.clone(), seccomp_origin.clone());
    }
    let user_origin = spec.process.user.origin.clone();
    steps.push(Side::Child, Action::User(user), user_origin);
    let capabilities = Action::Capabilities {
        set: security.capabilities.value.clone(),
    };
    steps.push(
        Side::Child,
        capabilities,
        security.capabilities.origin.clone(),
    );
    if let Some(origin) = &security.no_new_privileges {
        steps.push(Side::Child, Action::NoNewPrivileges, origin.clone());
        steps.push(Side::Child, seccomp, seccomp_origin);
    }
    // Last before exec: descriptors opened by the steps (the channel excepted) vanish at exec.
    steps.push(Side::Child, Action::CloseFds, Origin::Default);
}

/// The step that makes a bridge or pasta network, with what it needs.
fn network_step(spec: &Spec, facts: &Facts) -> Option<Action> {
    let network = facts.network.as_ref()?;
    let setup = &spec.network;
    let ports = setup.ports.iter().map(|p| p.value).collect();
    let hostname = spec
        .hostname
        .as_ref()
        .map_or_else(|| spec.name.clone(), |h| h.value.clone());
    match &setup.mode.value {
        NetworkMode::Bridge(bridge) => Some(Action::NetworkAttach(BridgeAttach {
            state_root: network.state_root.clone(),
            network: bridge.name.value.clone(),
            subnet: bridge.subnet.as_ref().map(|s| s.value),
            address: bridge.address.as_ref().map(|a| a.value),
            ports,
            container: spec.name.clone(),
            hostname,
            etc_dir: network.etc_dir.clone(),
            dns: setup.dns.clone(),
            hosts: setup.hosts.clone(),
        })),
        NetworkMode::Pasta => Some(Action::Pasta(PastaSetup {
            state_root: network.state_root.clone(),
            ports,
            container: spec.name.clone(),
            hostname,
            etc_dir: network.etc_dir.clone(),
            dns: setup.dns.clone(),
            hosts: setup.hosts.clone(),
        })),
        NetworkMode::None | NetworkMode::Host => None,
    }
}

/// Binds of the network's /etc files (resolv.conf, hosts, hostname) from the container's
/// state folder, read-only, but for targets the front end mounts itself.
fn etc_mounts(spec: &Spec, facts: &Facts) -> Vec<At<MountSpec>> {
    let Some(network) = &facts.network else {
        return Vec::new();
    };
    ETC_FILES
        .iter()
        .map(|file| (file, format!("/etc/{file}")))
        .filter(|(_, target)| !spec.mounts.iter().any(|m| m.value.target == *target))
        .map(|(file, target)| {
            let mount = MountSpec {
                kind: MountKind::Bind {
                    source: network.etc_dir.join(file),
                },
                target,
                readonly: true,
                flags: super::step::MountFlags::default(),
            };
            At::new(mount, spec.network.mode.origin.clone())
        })
        .collect()
}

/// The front end's mounts as steps. A `cgroup` mount shows what preflight found the host to
/// mount (left out when it mounts none: preflight refused one the front end asked for, so
/// only a default one gets here). A sysfs in a user namespace without a network namespace of
/// its own, which the kernel refuses, is the host's /sys bound read-only, as runc does.
fn front_end_mounts(spec: &Spec, facts: &Facts) -> Vec<(Action, Origin)> {
    let sysfs_refused = facts.user_namespace.is_some() && !spec.namespaces.value.net;
    spec.mounts
        .iter()
        .filter_map(|mount| {
            let origin = mount.origin.clone();
            let action = match &mount.value.kind {
                MountKind::Cgroup => Action::CgroupMount {
                    target: mount.value.target.clone(),
                    view: facts.cgroup_view.clone()?,
                },
                MountKind::Sysfs if sysfs_refused => Action::Mount(MountSpec {
                    kind: MountKind::Bind {
                        source: "/sys".into(),
                    },
                    readonly: true,
                    ..mount.value.clone()
                }),
                _ => Action::Mount(mount.value.clone()),
            };
            Some((action, origin))
        })
        .collect()
}

/// The overlay of an image's layers, with the writable layer's folders when it has one.
fn overlay(layers: &Layers) -> Overlay {
    let folder = |name| layers.writable.as_ref().map(|w| w.join(name));
    Overlay {
        image: layers.image.clone(),
        digest: layers.digest.clone(),
        layers: layers.layers.clone(),
        upper: folder("upper"),
        work: folder("work"),
        userxattr: layers.userxattr,
    }
}

/// The host paths the child opens first: the root filesystem (an overlay is attached over its
/// top layer's folder, in the container's mount namespace only), bind sources, device nodes.
fn host_paths(
    spec: &Spec,
    root: &ResolvedRoot,
    mounts: &[(Action, Origin)],
    etc: &[At<MountSpec>],
) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    match root {
        ResolvedRoot::Folder(path) => paths.push(path.clone()),
        ResolvedRoot::Layers(layers) => paths.extend(layers.layers.last().cloned()),
        ResolvedRoot::Host => {}
    }
    let dev_default = !spec.mounts.iter().any(|m| m.value.target == "/dev");
    if dev_default {
        paths.extend(DevSetup::DEVICES.iter().map(|d| Path::new("/dev").join(d)));
    }
    let specs = mounts.iter().filter_map(|(action, _)| match action {
        Action::Mount(spec) => Some(spec),
        _ => None,
    });
    for mount in specs.chain(etc.iter().map(|m| &m.value)) {
        if let MountKind::Bind { source } = &mount.kind {
            paths.push(source.clone());
        }
    }
    paths
}
