//! `config.json` → [`Spec`]: the OCI front end's validation. What the plan has a type for goes
//! into the spec; what only the OCI process model needs (cgroup path, device rules, hooks,
//! umask, OOM score) goes into [`Extras`], which the OCI commands apply around the plan. A
//! field the launcher cannot honour is a problem naming its JSON path and line; every problem
//! of the file is reported at once.

use std::path::{Path, PathBuf};

use super::config::{Config, DeviceRule, Hooks, JsonProblem, Mount, Process, Resources};
use super::locate::{JsonPath, line_of};
use crate::plan::{
    At, Capability, CapabilitySet, Id, IdMap, IdMaps, Limits, MountFlags, MountKind, MountSpec,
    NamespaceJoin, Namespaces, NetworkMode, NetworkSetup, Origin, RlimitKind, RlimitSpec, Root,
    SeccompProfile, Security, Spec, StopPolicy, TerminalMode, UserNamespace, UserSpec,
};

/// What a bundle asks for that is not a step of the plan.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// `linux.cgroupsPath`, absolute (`/libpod_parent/libpod-ID`).
    pub cgroups_path: String,
    pub device_rules: Vec<DeviceRule>,
    pub additional_gids: Vec<u32>,
    pub umask: Option<u32>,
    pub oom_score_adj: Option<i32>,
    /// `linux.uidMappings` / `gidMappings`, when the container has a user namespace.
    pub id_maps: Option<IdMaps>,
    /// `linux.seccomp` as written, for the profile file the spec names.
    pub seccomp: Option<serde_json::Value>,
    pub hooks: Hooks,
    pub console_size: Option<(u16, u16)>,
}

/// A bundle's config.json, read.
pub struct Source<'a> {
    /// The bundle folder (root.path and bind sources are relative to it).
    pub bundle: &'a Path,
    pub file: PathBuf,
    pub text: &'a str,
}

struct Check<'a> {
    source: &'a Source<'a>,
    problems: Vec<JsonProblem>,
}

impl Check<'_> {
    fn origin(&self, path: &str) -> Origin {
        let (line, column) = line_of(self.source.text, &JsonPath::parse(path));
        let start = offset_of(self.source.text, line, column);
        Origin::File {
            key: path.to_string(),
            span: start..start + 1,
            line,
            column,
        }
    }

    fn problem(&mut self, path: &str, message: impl Into<String>) {
        let (line, column) = line_of(self.source.text, &JsonPath::parse(path));
        self.problems.push(JsonProblem {
            path: path.to_string(),
            line,
            column,
            message: message.into(),
        });
    }

    /// A field the launcher cannot honour, when it is set.
    fn unsupported<T>(&mut self, path: &str, value: &Option<T>, why: &str) {
        if value.is_some() {
            self.problem(path, format!("not supported: {why}"));
        }
    }
}

fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (start + column.saturating_sub(1)).min(text.len())
}

/// The spec of container `id` from its bundle's config, and what the OCI commands apply
/// around its plan.
pub fn translate(
    id: &str,
    config: &Config,
    source: &Source<'_>,
    seccomp_file: &Path,
) -> Result<(Spec, Extras), Vec<JsonProblem>> {
    let mut check = Check {
        source,
        problems: Vec::new(),
    };
    let c = &mut check;
    let mut extras = Extras::default();
    if !config.oci_version.starts_with("1.") {
        c.problem(
            "ociVersion",
            format!(
                "version {} of the runtime spec is not supported (1.x is)",
                config.oci_version
            ),
        );
    }
    let linux = config.linux.clone().unwrap_or_default();
    let default_process = Process::default();
    let process = config.process.as_ref().unwrap_or(&default_process);
    if config.process.is_none() {
        c.problem("process", "missing: the container needs a process to run");
    }
    let root = match &config.root {
        Some(root) => {
            let path = source.bundle.join(&root.path);
            At::new(Root::Folder(path), c.origin("root.path"))
        }
        None => {
            c.problem("root", "missing: the container needs a root filesystem");
            At::default_value(Root::Folder(source.bundle.join("rootfs")))
        }
    };
    let readonly_root = config
        .root
        .as_ref()
        .filter(|r| r.readonly)
        .map(|_| c.origin("root.readonly"));
    if config.domainname.as_deref().is_some_and(|d| !d.is_empty()) {
        c.problem(
            "domainname",
            "not supported: the launcher sets no NIS domain name",
        );
    }

    let (namespaces, joins) = namespaces(c, &linux);
    let hostname = config.hostname.as_ref().filter(|h| !h.is_empty()).map(|h| {
        if !namespaces.uts {
            c.problem(
                "hostname",
                "set, but the container has no UTS namespace of its own to set it in",
            );
        }
        At::new(h.clone(), c.origin("hostname"))
    });
    let hostname = hostname.filter(|_| namespaces.uts);

    // Id maps: the user namespace's, given by the engine.
    if namespaces.user == UserNamespace::On {
        let map = |maps: &[super::config::IdMapping]| {
            maps.iter()
                .map(|m| IdMap {
                    inside: m.container_id,
                    outside: m.host_id,
                    count: m.size,
                })
                .collect::<Vec<_>>()
        };
        if linux.uid_mappings.is_empty() || linux.gid_mappings.is_empty() {
            c.problem(
                "linux.namespaces",
                "a user namespace needs linux.uidMappings and linux.gidMappings",
            );
        }
        extras.id_maps = Some(IdMaps {
            uid: map(&linux.uid_mappings),
            gid: map(&linux.gid_mappings),
            deny_setgroups: false,
            helpers: None,
            range: None,
        });
    } else if !linux.uid_mappings.is_empty() || !linux.gid_mappings.is_empty() {
        c.problem(
            "linux.uidMappings",
            "id mappings without a user namespace in linux.namespaces",
        );
    }

    let cgroup_namespace = namespaces.cgroup || joins.iter().any(|j| j.value.kind == "cgroup");
    let mounts = mounts(
        c,
        &config.mounts,
        source.bundle,
        &root.value,
        cgroup_namespace,
    );
    let process_spec = process_spec(c, process, &mut extras);
    let (limits, device_rules) = resources(c, linux.resources.as_ref());
    extras.device_rules = device_rules;
    let rlimits = rlimits(c, process);
    let security = security(c, process, &linux, seccomp_file, &mut extras);

    c.unsupported("linux.timeOffsets", &linux.time_offsets, "time namespaces");
    c.unsupported("linux.intelRdt", &linux.intel_rdt, "Intel RDT");
    c.unsupported("linux.personality", &linux.personality, "personality");
    c.unsupported(
        "linux.netDevices",
        &linux.net_devices,
        "moving network devices",
    );
    c.unsupported(
        "linux.memoryPolicy",
        &linux.memory_policy,
        "NUMA memory policy",
    );
    c.unsupported(
        "linux.mountLabel",
        &linux.mount_label.as_ref().filter(|l| !l.is_empty()),
        "SELinux labels",
    );
    if !linux.devices.is_empty() {
        c.problem(
            "linux.devices",
            "not supported: extra device nodes (the container's /dev has null, zero, full, random, urandom, tty, ptmx and pts)",
        );
    }
    match linux.rootfs_propagation.as_deref() {
        None | Some("") | Some("slave") | Some("rslave") | Some("private") | Some("rprivate") => {}
        Some(other) => c.problem(
            "linux.rootfsPropagation",
            format!("{other:?} is not supported: the container's mounts are slaves of the host's (rslave), never shared back"),
        ),
    }
    let sysctl = (!linux.sysctl.is_empty()).then(|| {
        for key in linux.sysctl.keys() {
            let ok = key.starts_with("net.")
                || key.starts_with("kernel.shm")
                || key.starts_with("kernel.msg")
                || key == "kernel.sem"
                || key.starts_with("fs.mqueue.");
            if !ok || key.contains('/') || key.contains("..") {
                c.problem(
                    &format!("linux.sysctl.{key}"),
                    "not namespaced: only net.*, kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.* can be set for one container",
                );
            }
            // The namespace the key belongs to: without one of the container's (its own or
            // one it joins), the write would change the host's value.
            let (kind, own, needs) = if key.starts_with("net.") {
                ("net", namespaces.net, "a net.* sysctl needs a network namespace of the container's")
            } else {
                ("ipc", namespaces.ipc, "an IPC sysctl (kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*) needs an IPC namespace of the container's")
            };
            if ok && !own && !joins.iter().any(|j| j.value.kind == kind) {
                c.problem(&format!("linux.sysctl.{key}"), needs);
            }
        }
        At::new(
            linux.sysctl.clone().into_iter().collect::<Vec<_>>(),
            c.origin("linux.sysctl"),
        )
    });
    extras.hooks = config.hooks.clone().unwrap_or_default();
    // Refused before anything runs: no prestart hook may act for a create that cannot succeed.
    for (field, hooks) in [
        ("createContainer", &extras.hooks.create_container),
        ("startContainer", &extras.hooks.start_container),
    ] {
        if !hooks.is_empty() {
            c.problem(
                &format!("hooks.{field}"),
                "not supported: it runs inside the container's namespaces",
            );
        }
    }
    extras.cgroups_path = match linux.cgroups_path.as_deref() {
        None | Some("") => format!("/launcher/{id}"),
        Some(path) if path.contains(':') && !path.starts_with('/') => {
            c.problem(
                "linux.cgroupsPath",
                "a systemd slice:prefix:name path: the launcher manages cgroupfs folders only (no --systemd-cgroup)",
            );
            String::new()
        }
        Some(path) if path.split('/').any(|p| p == "..") => {
            c.problem("linux.cgroupsPath", "a path with .. in it");
            String::new()
        }
        Some(path) => format!("/{}", path.trim_start_matches('/')),
    };

    if !check.problems.is_empty() {
        return Err(check.problems);
    }
    let net_origin = check.origin("linux.namespaces");
    let ns_origin = net_origin.clone();
    let limits_origin = check.origin("linux.resources");
    let spec = Spec {
        name: id.to_string(),
        file: source.file.clone(),
        root,
        readonly_root,
        mounts,
        namespaces: At::new(namespaces, ns_origin),
        network: NetworkSetup {
            mode: At::new(
                if namespaces.net {
                    NetworkMode::None
                } else {
                    NetworkMode::Host
                },
                net_origin.clone(),
            ),
            ..NetworkSetup::none()
        },
        net_origin,
        hostname,
        process: process_spec,
        limits: Some(At::new(limits, limits_origin)),
        rlimits,
        security,
        stop: StopPolicy::standard(),
        joins,
        sysctl,
    };
    Ok((spec, extras))
}

fn namespaces(
    c: &mut Check<'_>,
    linux: &super::config::Linux,
) -> (Namespaces, Vec<At<NamespaceJoin>>) {
    let mut ns = Namespaces {
        uts: false,
        ipc: false,
        pid: false,
        net: false,
        cgroup: false,
        user: UserNamespace::Off,
    };
    let mut mount = false;
    let mut joins = Vec::new();
    for (i, n) in linux.namespaces.iter().enumerate() {
        let path = format!("linux.namespaces[{i}]");
        let joined = n.path.as_ref().filter(|p| !p.is_empty());
        let kernel_name = match n.kind.as_str() {
            "network" => "net",
            "ipc" => "ipc",
            "uts" => "uts",
            "cgroup" => "cgroup",
            "pid" | "mount" | "user" => "",
            other => {
                c.problem(
                    &format!("{path}.type"),
                    format!("namespace type {other:?} is not supported (pid, network, ipc, uts, mount, cgroup, user are)"),
                );
                continue;
            }
        };
        if let Some(target) = joined {
            if kernel_name.is_empty() {
                c.problem(
                    &format!("{path}.path"),
                    format!("joining an existing {} namespace is not supported (network, ipc, uts and cgroup can be joined)", n.kind),
                );
                continue;
            }
            let join = NamespaceJoin {
                kind: kernel_name.to_string(),
                path: PathBuf::from(target),
            };
            joins.push(At::new(join, c.origin(&format!("{path}.path"))));
            continue;
        }
        match n.kind.as_str() {
            "network" => ns.net = true,
            "ipc" => ns.ipc = true,
            "uts" => ns.uts = true,
            "cgroup" => ns.cgroup = true,
            "pid" => ns.pid = true,
            "mount" => mount = true,
            "user" => ns.user = UserNamespace::On,
            _ => {}
        }
    }
    if !mount {
        c.problem(
            "linux.namespaces",
            "no mount namespace: the launcher never mounts in the host's (add {\"type\": \"mount\"})",
        );
    }
    (ns, joins)
}

fn process_spec(c: &mut Check<'_>, p: &Process, extras: &mut Extras) -> crate::plan::Process {
    if p.args.is_empty() {
        c.problem("process.args", "empty: the container needs a command");
    }
    if !p.cwd.starts_with('/') {
        c.problem("process.cwd", "must be an absolute path");
    }
    let mut env: Vec<(String, String)> = Vec::new();
    for (i, entry) in p.env.iter().enumerate() {
        match entry.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                env.retain(|(name, _)| name != k);
                env.push((k.to_string(), v.to_string()));
            }
            _ => c.problem(&format!("process.env[{i}]"), "expected NAME=VALUE"),
        }
    }
    env.sort();
    c.unsupported(
        "process.apparmorProfile",
        &p.apparmor_profile.as_ref().filter(|a| !a.is_empty()),
        "AppArmor profiles",
    );
    c.unsupported(
        "process.selinuxLabel",
        &p.selinux_label.as_ref().filter(|a| !a.is_empty()),
        "SELinux labels",
    );
    c.unsupported("process.ioPriority", &p.io_priority, "I/O priority");
    c.unsupported("process.scheduler", &p.scheduler, "scheduling policies");
    c.unsupported(
        "process.execCPUAffinity",
        &p.exec_cpu_affinity,
        "CPU affinity",
    );
    extras.additional_gids = p.user.additional_gids.clone();
    extras.umask = p.user.umask;
    extras.oom_score_adj = p.oom_score_adj;
    extras.console_size = p.console_size.map(|s| (s.height, s.width));
    let user = &p.user;
    crate::plan::Process {
        command: At::new(p.args.clone(), c.origin("process.args")),
        entrypoint: None,
        env_set: env.iter().map(|(k, _)| k.clone()).collect(),
        env,
        workdir: At::new(p.cwd.clone(), c.origin("process.cwd")),
        user: At::new(
            UserSpec {
                text: format!("{}:{}", user.uid, user.gid),
                user: Id::Number(user.uid),
                group: Some(Id::Number(user.gid)),
            },
            c.origin("process.user"),
        ),
        terminal: At::new(
            if p.terminal {
                TerminalMode::On
            } else {
                TerminalMode::Off
            },
            c.origin("process.terminal"),
        ),
        init: false,
    }
}

fn rlimits(c: &mut Check<'_>, p: &Process) -> Option<At<Vec<RlimitSpec>>> {
    if p.rlimits.is_empty() {
        return None;
    }
    let mut limits = Vec::new();
    for (i, r) in p.rlimits.iter().enumerate() {
        let name = r.kind.trim_start_matches("RLIMIT_").to_ascii_lowercase();
        match RlimitKind::ALL.iter().find(|k| k.name() == name) {
            Some(kind) => {
                let value = |v: u64| (v != u64::MAX).then_some(v);
                limits.push(RlimitSpec {
                    name: *kind,
                    soft: value(r.soft),
                    hard: value(r.hard),
                });
            }
            None => c.problem(
                &format!("process.rlimits[{i}].type"),
                format!("unknown rlimit {:?}", r.kind),
            ),
        }
    }
    Some(At::new(limits, c.origin("process.rlimits")))
}

fn capability_set(c: &mut Check<'_>, path: &str, names: &[String]) -> CapabilitySet {
    let mut set = CapabilitySet::new();
    for (i, name) in names.iter().enumerate() {
        match Capability::parse(name) {
            Some(cap) => {
                set.insert(cap);
            }
            None => c.problem(
                &format!("{path}[{i}]"),
                format!("unknown capability {name:?}"),
            ),
        }
    }
    set
}

fn security(
    c: &mut Check<'_>,
    p: &Process,
    linux: &super::config::Linux,
    seccomp_file: &Path,
    extras: &mut Extras,
) -> Security {
    let caps = p.capabilities.clone().unwrap_or_default();
    let path = "process.capabilities";
    let bounding = capability_set(c, &format!("{path}.bounding"), &caps.bounding);
    let effective = capability_set(c, &format!("{path}.effective"), &caps.effective);
    let permitted = capability_set(c, &format!("{path}.permitted"), &caps.permitted);
    let inheritable = capability_set(c, &format!("{path}.inheritable"), &caps.inheritable);
    let ambient = capability_set(c, &format!("{path}.ambient"), &caps.ambient);
    if effective != permitted {
        c.problem(
            &format!("{path}.permitted"),
            "differs from effective: the launcher gives the command one set, effective and permitted alike",
        );
    }
    if !effective.is_subset(&bounding) {
        c.problem(
            &format!("{path}.effective"),
            "holds capabilities the bounding set does not",
        );
    }
    if !inheritable.is_empty() {
        c.problem(
            &format!("{path}.inheritable"),
            "not supported: the launcher clears the inheritable set",
        );
    }
    if !ambient.is_empty() {
        c.problem(
            &format!("{path}.ambient"),
            "not supported: the launcher clears the ambient set",
        );
    }
    // The bounding set is the effective one: a larger bounding set would only matter to a
    // setuid program, which gets no more than the command has.
    let seccomp = match &linux.seccomp {
        None => At::new(SeccompProfile::Unconfined, Origin::Default),
        Some(value) => {
            for field in ["flags", "listenerPath", "listenerMetadata"] {
                let set = value
                    .get(field)
                    .is_some_and(|v| !v.is_null() && v != &serde_json::json!([]) && v != "");
                if set {
                    c.problem(&format!("linux.seccomp.{field}"), "not supported");
                }
            }
            extras.seccomp = Some(value.clone());
            At::new(
                SeccompProfile::File(seccomp_file.to_path_buf()),
                c.origin("linux.seccomp"),
            )
        }
    };
    Security {
        capabilities: At::new(effective, c.origin(path)),
        no_new_privileges: p
            .no_new_privileges
            .then(|| c.origin("process.noNewPrivileges")),
        seccomp,
        masked_paths: At::new(linux.masked_paths.clone(), c.origin("linux.maskedPaths")),
        readonly_paths: At::new(
            linux.readonly_paths.clone(),
            c.origin("linux.readonlyPaths"),
        ),
    }
}

fn resources(c: &mut Check<'_>, r: Option<&Resources>) -> (Limits, Vec<DeviceRule>) {
    let mut limits = Limits::default();
    let Some(r) = r else {
        return (limits, Vec::new());
    };
    let base = "linux.resources";
    if let Some(m) = &r.memory {
        limits.memory = m.limit.filter(|l| *l > 0).map(|l| l as u64);
        limits.memory_swap = m.swap.filter(|s| *s > 0).map(|s| s as u64);
        c.unsupported(
            &format!("{base}.memory.reservation"),
            &m.reservation.filter(|v| *v > 0),
            "memory reservations",
        );
        c.unsupported(
            &format!("{base}.memory.kernel"),
            &m.kernel.filter(|v| *v > 0),
            "kernel memory limits",
        );
        c.unsupported(
            &format!("{base}.memory.kernelTCP"),
            &m.kernel_tcp.filter(|v| *v > 0),
            "kernel TCP memory limits",
        );
        c.unsupported(
            &format!("{base}.memory.swappiness"),
            &m.swappiness.filter(|v| *v <= 100),
            "swappiness",
        );
        c.unsupported(
            &format!("{base}.memory.disableOOMKiller"),
            &m.disable_oom_killer.filter(|v| *v),
            "turning the OOM killer off",
        );
    }
    if let Some(cpu) = &r.cpu {
        if let Some(quota) = cpu.quota.filter(|q| *q > 0) {
            limits.cpu_quota = Some((quota as u64, cpu.period.unwrap_or(100_000)));
        }
        // Shares to weight, the inverse of the conversion the v1 writes use.
        if let Some(shares) = cpu.shares.filter(|s| *s >= 2) {
            limits.cpu_weight = Some((1 + (shares - 2) * 9_999 / 262_142).clamp(1, 10_000));
        }
        c.unsupported(
            &format!("{base}.cpu.cpus"),
            &cpu.cpus.as_ref().filter(|v| !v.is_empty()),
            "cpusets",
        );
        c.unsupported(
            &format!("{base}.cpu.mems"),
            &cpu.mems.as_ref().filter(|v| !v.is_empty()),
            "cpusets",
        );
        c.unsupported(
            &format!("{base}.cpu.realtimeRuntime"),
            &cpu.realtime_runtime.filter(|v| *v > 0),
            "real-time scheduling",
        );
        c.unsupported(
            &format!("{base}.cpu.burst"),
            &cpu.burst.filter(|v| *v > 0),
            "CPU burst",
        );
        c.unsupported(
            &format!("{base}.cpu.idle"),
            &cpu.idle.filter(|v| *v != 0),
            "SCHED_IDLE cgroups",
        );
    }
    if let Some(pids) = r.pids {
        limits.pids = (pids.limit > 0).then_some(pids.limit as u64);
    }
    // Set to something: not null, not {} and not [].
    let empty = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .filter(|v| {
                let blank = v.is_null()
                    || v.as_object().is_some_and(|o| o.is_empty())
                    || v.as_array().is_some_and(|a| a.is_empty());
                !blank
            })
            .cloned()
    };
    c.unsupported(
        &format!("{base}.blockIO"),
        &empty(&r.block_io),
        "block I/O limits",
    );
    c.unsupported(
        &format!("{base}.hugepageLimits"),
        &empty(&r.hugepage_limits),
        "huge page limits",
    );
    c.unsupported(
        &format!("{base}.network"),
        &empty(&r.network),
        "network classes and priorities",
    );
    c.unsupported(&format!("{base}.rdma"), &empty(&r.rdma), "RDMA limits");
    c.unsupported(
        &format!("{base}.unified"),
        &empty(&r.unified),
        "raw cgroup v2 files",
    );
    for (i, rule) in r.devices.iter().enumerate() {
        let kind = rule.kind.as_deref().unwrap_or("a");
        if !matches!(kind, "a" | "b" | "c") {
            c.problem(
                &format!("{base}.devices[{i}].type"),
                format!("{kind:?}: expected a, b or c"),
            );
        }
        let access = rule.access.as_deref().unwrap_or("rwm");
        if access.is_empty() || !access.chars().all(|ch| matches!(ch, 'r' | 'w' | 'm')) {
            c.problem(
                &format!("{base}.devices[{i}].access"),
                format!("{access:?}: expected letters of rwm"),
            );
        }
    }
    (limits, r.devices.clone())
}

/// The options of a mount the launcher knows: each one is honoured (or implied by the kind).
fn mounts(
    c: &mut Check<'_>,
    mounts: &[Mount],
    bundle: &Path,
    root: &Root,
    cgroup_namespace: bool,
) -> Vec<At<MountSpec>> {
    let mut out: Vec<At<MountSpec>> = Vec::new();
    for (i, m) in mounts.iter().enumerate() {
        let path = format!("mounts[{i}]");
        if !m.destination.starts_with('/') {
            c.problem(&format!("{path}.destination"), "must be an absolute path");
            continue;
        }
        if m.uid_mappings.is_some() || m.gid_mappings.is_some() {
            c.problem(&path, "not supported: id-mapped mounts");
        }
        let target = normalize(&m.destination);
        let bind = m.options.iter().any(|o| o == "bind" || o == "rbind")
            || m.kind.as_deref() == Some("bind");
        let kind = m.kind.as_deref().unwrap_or(if bind { "bind" } else { "" });
        let mut readonly = false;
        let mut flags = MountFlags::default();
        let mut size = None;
        let mut mode = None;
        let mut copyup = false;
        for (j, option) in m.options.iter().enumerate() {
            let at = format!("{path}.options[{j}]");
            let (key, value) = option
                .split_once('=')
                .map_or((option.as_str(), None), |(k, v)| (k, Some(v)));
            match (key, value) {
                ("ro", None) => readonly = true,
                ("rw", None) => readonly = false,
                ("nosuid", None) => flags.nosuid = true,
                ("noexec", None) => flags.noexec = true,
                // Every mount of the launcher is nodev but the container's /dev nodes.
                ("nodev", None) => {}
                ("bind" | "rbind", None) if bind => {}
                // Propagation: every mount is a slave of the host's (nothing made in the
                // container reaches the host; nothing flows back to it).
                ("private" | "rprivate" | "slave" | "rslave", None) => {}
                (
                    "relatime" | "strictatime" | "noatime" | "nodiratime" | "atime" | "norelatime",
                    None,
                ) => {}
                ("size", Some(v)) if kind == "tmpfs" => match parse_size(v) {
                    Some(bytes) => size = Some(bytes),
                    None => c.problem(&at, format!("size {v:?}: expected bytes with k, m or g")),
                },
                ("mode", Some(v)) if matches!(kind, "tmpfs" | "devpts") => {
                    match u32::from_str_radix(v, 8) {
                        Ok(m) => mode = Some(m),
                        Err(_) => c.problem(&at, format!("mode {v:?}: expected octal")),
                    }
                }
                ("tmpcopyup", None) if kind == "tmpfs" => copyup = true,
                ("newinstance" | "ptmxmode" | "gid", _) if kind == "devpts" => {}
                _ => c.problem(
                    &at,
                    format!("mount option {option:?} is not supported for a {kind} mount"),
                ),
            }
        }
        let mount_kind = match kind {
            "bind" => {
                let Some(source) = m.source.as_deref().filter(|s| !s.is_empty()) else {
                    c.problem(&format!("{path}.source"), "a bind mount needs a source");
                    continue;
                };
                MountKind::Bind {
                    source: bundle.join(source),
                }
            }
            "proc" => MountKind::Proc,
            "sysfs" => MountKind::Sysfs,
            "mqueue" => MountKind::Mqueue,
            // The container's /dev is the launcher's: a tmpfs with the standard nodes, devpts
            // and shm, as the runtime spec asks of a runtime.
            "tmpfs" if target == "/dev" => continue,
            "devpts" if target == "/dev/pts" => continue,
            "tmpfs" => {
                if copyup && let Root::Folder(rootfs) = root {
                    let inside = rootfs.join(target.trim_start_matches('/'));
                    let empty = std::fs::read_dir(&inside).map_or(true, |mut d| d.next().is_none());
                    if !empty {
                        c.problem(&format!("{path}.options"), format!("tmpcopyup: {} is not empty in the root filesystem, and copying it up is not supported", target));
                    }
                }
                MountKind::Tmpfs {
                    size,
                    mode: mode.unwrap_or(0o1777),
                }
            }
            // In a cgroup namespace, the container's own cgroups (each hierarchy mounted
            // afresh there, as runc and crun do); without one, the host's, read-only.
            "cgroup" | "cgroup2" if target == "/sys/fs/cgroup" => {
                readonly = true;
                if cgroup_namespace {
                    MountKind::Cgroup
                } else {
                    MountKind::Bind {
                        source: PathBuf::from("/sys/fs/cgroup"),
                    }
                }
            }
            other => {
                c.problem(&format!("{path}.type"), format!("mount type {other:?} is not supported (bind, proc, sysfs, tmpfs, devpts, mqueue, cgroup are)"));
                continue;
            }
        };
        if let Some(previous) = out.iter().position(|o| o.value.target == target) {
            // A later mount on the same target hides the earlier one: keep the later.
            out.remove(previous);
        }
        let readonly =
            readonly || mount_kind == MountKind::Sysfs && m.options.iter().any(|o| o == "ro");
        out.push(At::new(
            MountSpec {
                kind: mount_kind,
                target,
                readonly,
                flags,
            },
            c.origin(&path),
        ));
    }
    out
}

fn normalize(path: &str) -> String {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    format!("/{}", parts.join("/"))
}

fn parse_size(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let (digits, unit) = match lower.char_indices().find(|(_, ch)| !ch.is_ascii_digit()) {
        Some((at, _)) => lower.split_at(at),
        None => (lower.as_str(), ""),
    };
    let n: u64 = digits.parse().ok()?;
    let factor = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translate_json(value: &serde_json::Value) -> Result<(Spec, Extras), Vec<JsonProblem>> {
        let text = serde_json::to_string_pretty(value).unwrap();
        let config: Config = super::super::config::parse(&text).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let source = Source {
            bundle: dir.path(),
            file: dir.path().join("config.json"),
            text: &text,
        };
        translate("t", &config, &source, &dir.path().join("seccomp.json"))
    }

    #[test]
    fn the_default_spec_becomes_a_spec_with_the_launchers_dev() {
        let (spec, extras) = translate_json(&super::super::features::default_spec(false)).unwrap();
        let targets: Vec<&str> = spec
            .mounts
            .iter()
            .map(|m| m.value.target.as_str())
            .collect();
        assert_eq!(targets, ["/proc", "/dev/shm", "/dev/mqueue", "/sys"]);
        assert!(spec.namespaces.value.pid && spec.namespaces.value.net);
        assert_eq!(extras.cgroups_path, "/launcher/t");
        assert!(spec.security.no_new_privileges.is_some());
        assert_eq!(spec.security.capabilities.value.len(), 3);
    }

    #[test]
    fn problems_name_the_path_and_line_all_at_once() {
        let mut config = super::super::features::default_spec(false);
        config["linux"]["namespaces"][0]["path"] = "/proc/1/ns/pid".into();
        config["mounts"][0]["options"] = serde_json::json!(["shared"]);
        config["process"]["capabilities"]["ambient"] = serde_json::json!(["CAP_KILL"]);
        let problems = translate_json(&config).unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "linux.namespaces[0].path",
                "mounts[0].options[0]",
                "process.capabilities.ambient"
            ]
        );
        assert!(problems.iter().all(|p| p.line > 1), "{problems:?}");
    }

    #[test]
    fn a_pods_namespaces_are_joined_by_path() {
        let mut config = super::super::features::default_spec(false);
        config["linux"]["namespaces"][1]["path"] = "/proc/42/ns/net".into();
        let (spec, _) = translate_json(&config).unwrap();
        assert!(
            !spec.namespaces.value.net,
            "no network namespace of its own"
        );
        assert_eq!(spec.joins.len(), 1);
        assert_eq!(spec.joins[0].value.kind, "net");
    }
}
