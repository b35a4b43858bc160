//! The text of a plan: one line per step, as `launcher plan` prints it.

use std::fmt;

use super::cgroup::{CgroupSetup, CgroupView, Limits};
use super::security::SeccompFilter;
use super::step::{Action, Exec, IdMap, MountKind, MountSpec, NamespaceSet, Program, UserIds};
use super::step::{IdMaps, TerminalMode};
use super::{Origin, Plan};

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::CgroupCreate(setup) => write!(f, "{setup}"),
            Action::CgroupOpen { paths, .. } => {
                write!(f, "open the container's cgroup {}", short_cgroup(paths))
            }
            Action::JoinNamespaces { namespaces } => write!(
                f,
                "enter the container's namespaces: {}",
                namespaces.join(", ")
            ),
            Action::Clone(set) if *set == NamespaceSet::default() => {
                f.write_str("fork the process that runs the command")
            }
            Action::Clone(set) => write!(f, "create namespaces: {set}"),
            Action::IdMaps(maps) => write!(f, "{maps}"),
            Action::IdmapMounts { paths, overlay } => {
                let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                match overlay {
                    None => write!(f, "make idmapped copies of {}", paths.join(", ")),
                    Some(overlay) => write!(
                        f,
                        "make the overlay of image {}: idmapped copies of its {} layer{}, the writable layer on top",
                        overlay.image,
                        overlay.layers.len(),
                        if overlay.layers.len() == 1 { "" } else { "s" }
                    ),
                }
            }
            Action::CgroupJoin { paths } => {
                write!(f, "move the process into cgroup {}", short_cgroup(paths))
            }
            Action::NetworkAttach(attach) => {
                write!(
                    f,
                    "network: attach to bridged network \"{}\"",
                    attach.network
                )?;
                if let Some(subnet) = attach.subnet {
                    write!(f, " ({subnet})")?;
                }
                match attach.address {
                    Some(address) => write!(f, ", address {address}")?,
                    None => f.write_str(", next free address")?,
                }
                f.write_str(", NAT out")?;
                ports_text(f, &attach.ports)?;
                f.write_str("; /etc/resolv.conf, hosts, hostname")
            }
            Action::Pasta(pasta) => {
                f.write_str("network: start pasta (the host's addresses, no root)")?;
                ports_text(f, &pasta.ports)?;
                f.write_str("; /etc/resolv.conf, hosts, hostname")
            }
            Action::NetworkRelease { .. } => {
                f.write_str("network: remove the port rules and the lease")
            }
            Action::PastaStop { .. } => f.write_str("network: end pasta"),
            Action::Start => f.write_str("let the container's process run its steps"),
            Action::WritableLayer { path, owner } => {
                write!(
                    f,
                    "create the container's writable layer {}",
                    path.display()
                )?;
                match owner {
                    Some((uid, gid)) => write!(f, ", its root owned by {uid}:{gid}"),
                    None => Ok(()),
                }
            }
            Action::RemoveMountTargets { targets, .. } => {
                let made: Vec<&str> = targets.iter().map(|t| t.made.as_str()).collect();
                write!(
                    f,
                    "remove the mount targets made in the root folder: {}",
                    made.join(" ")
                )
            }
            Action::RemoveWritableLayer { path } => write!(
                f,
                "discard the container's writable layer {} (its writes)",
                path.display()
            ),
            Action::NamespaceRoot => {
                write!(f, "become uid and gid 0 of the user namespace")
            }
            Action::JoinNamespace(join) => {
                write!(
                    f,
                    "join the {} namespace {}",
                    join.kind,
                    join.path.display()
                )
            }
            Action::Prologue => {
                f.write_str("close inherited descriptors, new session, not dumpable")
            }
            Action::CgroupNamespace => f.write_str("unshare the cgroup namespace"),
            Action::OpenHostPaths { paths } => {
                write!(f, "open host paths before any mount: {}", join_paths(paths))
            }
            Action::PrivatePropagation => f.write_str("make / rslave: no mount reaches the host"),
            Action::BindRootfs { path } => write!(f, "bind root filesystem {}", path.display()),
            Action::HostRootfs => f.write_str("bind the host's / as root (read-only)"),
            Action::OverlayRootfs(overlay) => {
                let writable = match overlay.upper {
                    Some(_) => ", writable layer on top",
                    None => ", read-only",
                };
                write!(
                    f,
                    "mount image {} as root: overlay of {} layer{}{writable}",
                    overlay.image,
                    overlay.layers.len(),
                    if overlay.layers.len() == 1 { "" } else { "s" }
                )
            }
            Action::Mount(spec) => write!(f, "{spec}"),
            Action::CgroupMount { target, view } => {
                write!(
                    f,
                    "mount cgroup on {target} (read-only), the container's own: "
                )?;
                match view {
                    CgroupView::V2 => f.write_str("cgroup2"),
                    CgroupView::V1 {
                        hierarchies,
                        unified,
                        ..
                    } => {
                        let dirs: Vec<&str> = hierarchies.iter().map(|h| h.dir.as_str()).collect();
                        write!(f, "v1 {}", dirs.join(" "))?;
                        match unified {
                            Some(dir) => write!(f, ", cgroup2 at {dir}"),
                            None => Ok(()),
                        }
                    }
                }
            }
            Action::Dev(dev) => write!(f, "mount /dev: tmpfs, {}, pts, shm", dev.devices.join(" ")),
            Action::LoopbackUp => f.write_str(
                "network \"none\": bring loopback up, no other interface (no route out)",
            ),
            Action::Sysctl { values } => {
                let list: Vec<String> = values.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "set sysctl {}", list.join(" "))
            }
            Action::MaskPaths { paths } => write!(f, "mask {}", paths.join(" ")),
            Action::ReadonlyPaths { paths } => write!(f, "make read-only {}", paths.join(" ")),
            Action::PivotRoot => f.write_str("pivot_root into the new root, detach the old one"),
            Action::Terminal { mode, .. } => match mode {
                TerminalMode::On => f.write_str("terminal: a pseudo-terminal for the command"),
                TerminalMode::Off => f.write_str("terminal: none, stdio passes through"),
                TerminalMode::Auto => {
                    f.write_str("terminal: a pseudo-terminal if stdin is a terminal")
                }
            },
            Action::ReadonlyRoot => f.write_str("make / read-only"),
            Action::Hostname { hostname } => write!(f, "set hostname \"{hostname}\""),
            Action::Rlimits { limits } => {
                let list: Vec<String> = limits
                    .iter()
                    .map(|l| {
                        format!(
                            "{}={}/{}",
                            l.name.name(),
                            limit_text(l.soft),
                            limit_text(l.hard)
                        )
                    })
                    .collect();
                write!(f, "set rlimits (soft/hard): {}", list.join(" "))
            }
            Action::Workdir { path } => write!(f, "change folder to {path}"),
            Action::User(ids) => write!(f, "{ids}"),
            Action::Capabilities { set } => {
                let mut names: Vec<String> = set
                    .iter()
                    .map(|c| c.name().trim_start_matches("CAP_").to_string())
                    .collect();
                names.sort();
                if names.is_empty() {
                    f.write_str("capabilities: none")
                } else {
                    write!(f, "capabilities ({}): {}", names.len(), names.join(" "))
                }
            }
            Action::NoNewPrivileges => f.write_str("set no_new_privs"),
            Action::Seccomp(SeccompFilter::Unconfined) => f.write_str("seccomp: none (unconfined)"),
            Action::Seccomp(SeccompFilter::Compiled { profile, size, .. }) => {
                write!(
                    f,
                    "load seccomp profile \"{profile}\" ({size} bytes of BPF)"
                )
            }
            Action::CloseFds => f.write_str("close inherited file descriptors but 0, 1, 2"),
            Action::Detach { fifo: Some(fifo) } => write!(
                f,
                "detach from the launcher, wait for start at {}",
                fifo.display()
            ),
            Action::Detach { fifo: None } => f.write_str("detach from the launcher"),
            Action::Init => {
                f.write_str("become init (PID 1): start the command, forward signals, reap zombies")
            }
            Action::Exec(exec) => write!(f, "{exec}"),
            Action::Monitor => {
                f.write_str("wait for the command: forward signals, relay its terminal or output")
            }
            Action::CgroupRemove { paths } => write!(
                f,
                "end what is left in cgroup {}, remove it",
                short_cgroup(paths)
            ),
        }
    }
}

fn ports_text(f: &mut fmt::Formatter<'_>, ports: &[super::PortSpec]) -> fmt::Result {
    if !ports.is_empty() {
        let list: Vec<String> = ports.iter().map(ToString::to_string).collect();
        write!(f, ", publish {}", list.join(" "))?;
    }
    Ok(())
}

fn join_paths(paths: &[std::path::PathBuf]) -> String {
    let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    list.join(" ")
}

impl fmt::Display for NamespaceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [
            (self.mount, "mount"),
            (self.uts, "uts"),
            (self.ipc, "ipc"),
            (self.pid, "pid"),
            (self.net, "net"),
            (self.user, "user"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| *name)
        .collect();
        write!(f, "{}", names.join(", "))?;
        if !self.net {
            write!(f, "; host network")?;
        }
        Ok(())
    }
}

impl fmt::Display for IdMaps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |maps: &[IdMap]| {
            let parts: Vec<String> = maps.iter().map(IdMap::to_string).collect();
            parts.join(", ")
        };
        write!(
            f,
            "write id maps: uid {}, gid {}",
            list(&self.uid),
            list(&self.gid)
        )?;
        if self.deny_setgroups {
            f.write_str(" (setgroups denied)")?;
        }
        if let Some(range) = &self.range {
            write!(
                f,
                " (the launcher's range from uid {}, gid {})",
                range.uid, range.gid
            )?;
        }
        if let Some(helpers) = &self.helpers {
            write!(
                f,
                " (by {} and {})",
                helpers.newuidmap.display(),
                helpers.newgidmap.display()
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for IdMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> host {}", self.inside, self.outside)?;
        if self.count != 1 {
            write!(f, " (x{})", self.count)?;
        }
        Ok(())
    }
}

impl fmt::Display for MountSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ro = if self.readonly { " (read-only)" } else { "" };
        match &self.kind {
            MountKind::Bind { source } => {
                write!(f, "bind {} on {}{ro}", source.display(), self.target)
            }
            MountKind::Tmpfs { size, mode } => {
                write!(f, "mount tmpfs on {}", self.target)?;
                if let Some(size) = size {
                    write!(f, " size {}", human_size(*size))?;
                }
                write!(f, " mode {mode:04o}{ro}")
            }
            other => write!(f, "mount {} on {}{ro}", other.name(), self.target),
        }
    }
}

impl fmt::Display for UserIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "run as uid {} gid {}", self.uid, self.gid)?;
        if !self.groups.is_empty() {
            let groups: Vec<String> = self.groups.iter().map(u32::to_string).collect();
            write!(f, " groups {}", groups.join(","))?;
        }
        if self.spec.chars().any(|c| !c.is_ascii_digit() && c != ':') {
            write!(f, " (\"{}\")", self.spec)?;
        }
        Ok(())
    }
}

impl fmt::Display for Exec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("exec")?;
        for (i, arg) in self.args.iter().enumerate() {
            match (&self.program, i) {
                (Program::Path(path), 0) if path != arg => write!(f, " {path}")?,
                _ if arg.is_empty() || arg.contains(char::is_whitespace) => write!(f, " {arg:?}")?,
                _ => write!(f, " {arg}")?,
            }
        }
        if let Program::Search { .. } = self.program
            && self.args.first().is_some_and(|a| !a.contains('/'))
        {
            f.write_str(" (searched in PATH)")?;
        }
        Ok(())
    }
}

fn limit_text(value: Option<u64>) -> String {
    value.map_or_else(|| "unlimited".to_string(), |v| v.to_string())
}

impl fmt::Display for CgroupSetup {
    /// Short: the files and values are in the JSON form (`paths`, `writes`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "create cgroup {} {}: {}",
            self.version.name(),
            short_cgroup(&self.paths),
            self.limits
        )
    }
}

/// `launcher/web (memory, cpu, pids)` for the folders of one container's cgroup.
fn short_cgroup(paths: &[std::path::PathBuf]) -> String {
    let name = |p: &std::path::PathBuf| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let hierarchy = |p: &std::path::PathBuf| {
        p.parent()
            .and_then(|p| p.parent())
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    match paths {
        [] => String::new(),
        [one] => format!("launcher/{}", name(one)),
        many => {
            let hierarchies: Vec<String> = many.iter().map(hierarchy).collect();
            format!("launcher/{} ({})", name(&many[0]), hierarchies.join(", "))
        }
    }
}

impl fmt::Display for Limits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(memory) = self.memory {
            parts.push(format!("memory {}", human_size(memory)));
        }
        if let Some(swap) = self.memory_swap {
            parts.push(format!("memory+swap {}", human_size(swap)));
        }
        if let Some((quota, period)) = self.cpu_quota {
            parts.push(format!("cpu {quota}/{period} us"));
        }
        if let Some(weight) = self.cpu_weight {
            parts.push(format!("cpu weight {weight}"));
        }
        if let Some(pids) = self.pids {
            parts.push(format!("pids {pids}"));
        }
        write!(f, "{}", parts.join(", "))
    }
}

/// 64 MiB, 1.5 GiB, 512 B.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{value} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File { key, line, .. } => write!(f, "line {line}: {key}"),
            Origin::CommandLine { what } => write!(f, "command line: {what}"),
            Origin::Image { field } => write!(f, "image config: {field}"),
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "plan for container \"{}\" ({}), {} steps:",
            self.name,
            self.file.display(),
            self.steps.len()
        )?;
        let width = self.steps.len().to_string().len();
        for (i, step) in self.steps.iter().enumerate() {
            let text = step.action.to_string();
            let pad = 64usize.saturating_sub(text.chars().count());
            writeln!(
                f,
                "{:>width$}. {text}{:pad$}  {:<6} [{}]",
                i + 1,
                "",
                step.side.name(),
                step.origin
            )?;
        }
        let text = self.stop.to_string();
        let pad = (64 + width + 2).saturating_sub(text.chars().count());
        writeln!(f, "{text}{:pad$}  {:<6} [{}]", "", "", self.stop.origin)?;
        let restart = &self.stop.restart;
        if restart.when != super::RestartWhen::No {
            let text = restart.to_string();
            let pad = (64 + width + 2).saturating_sub(text.chars().count());
            writeln!(f, "{text}{:pad$}  {:<6} [{}]", "", "", restart.origin)?;
        }
        Ok(())
    }
}
