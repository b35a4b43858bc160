//! `[security]` into plan steps: masked and read-only paths, capabilities, no_new_privs and
//! seccomp; and the security lint of `check`. Part of the `validate` builder.

use std::collections::BTreeSet;

use toml::Spanned;

use super::file::{ContainerFile, MountType, NetMode};
use super::validate::Builder;
use super::values::container_path;
use crate::diagnostic::Problem;
use crate::plan::{At, Capability, CapabilitySet, Origin, SeccompProfile, Security};

/// Docker's default capabilities.
pub const DEFAULT_CAPABILITIES: [&str; 14] = [
    "CAP_AUDIT_WRITE",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_MKNOD",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// Paths of /proc and /sys hidden from every container (Docker's, and runc's).
pub const DEFAULT_MASKED: [&str; 12] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
];

/// Paths of /proc made read-only in every container.
pub const DEFAULT_READONLY: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Host folders that a read-write bind would let the container change the host through.
const HOST_SYSTEM_FOLDERS: [&str; 14] = [
    "/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/root", "/run", "/sbin",
    "/sys", "/usr", "/var",
];

impl Builder<'_> {
    pub(super) fn security(&mut self, file: &ContainerFile) -> Security {
        let s = &file.security;
        let masked = self.paths("security.masked_paths", &DEFAULT_MASKED, &s.masked_paths);
        let readonly = self.paths(
            "security.readonly_paths",
            &DEFAULT_READONLY,
            &s.readonly_paths,
        );
        let capabilities = self.capabilities(file);
        let no_new_privileges = match &s.no_new_privileges {
            Some(v) if !*v.get_ref() => None,
            Some(v) => Some(self.origin("security.no_new_privileges", v)),
            None => Some(Origin::Default),
        };
        let seccomp = match &s.seccomp {
            None => At::default_value(SeccompProfile::Default),
            Some(value) => {
                let origin = self.origin("security.seccomp", value);
                let profile = match value.get_ref().as_str() {
                    "default" => SeccompProfile::Default,
                    "unconfined" => SeccompProfile::Unconfined,
                    path => {
                        SeccompProfile::File(self.host_path(path, "security.seccomp", value.span()))
                    }
                };
                At::new(profile, origin)
            }
        };
        Security {
            capabilities,
            no_new_privileges,
            seccomp,
            masked_paths: masked,
            readonly_paths: readonly,
        }
    }

    fn paths(
        &mut self,
        key: &str,
        defaults: &[&str],
        extra: &[Spanned<String>],
    ) -> At<Vec<String>> {
        let mut all: BTreeSet<String> = defaults.iter().map(|p| p.to_string()).collect();
        let mut origin = Origin::Default;
        for (i, path) in extra.iter().enumerate() {
            let item = format!("{key}[{}]", i + 1);
            match container_path(path.get_ref()) {
                Ok(p) if p == "/" => self.error(
                    Problem::error("plan::invalid-path", item, path.span())
                        .message(format!("`{key}` cannot hold /"))
                        .label("the whole container")
                        .help("name a file or folder inside the container"),
                ),
                Ok(p) => {
                    all.insert(p);
                    if origin == Origin::Default {
                        origin = self.origin(key, path);
                    }
                }
                Err(why) => self.error(
                    Problem::error("plan::invalid-path", item, path.span())
                        .message(format!(
                            "`{key}` holds a path that is not absolute inside the container"
                        ))
                        .label(why)
                        .help("e.g. \"/proc/driver\""),
                ),
            }
        }
        At::new(all.into_iter().collect(), origin)
    }

    fn capabilities(&mut self, file: &ContainerFile) -> At<CapabilitySet> {
        let table = &file.security.capabilities;
        let mut set: CapabilitySet = DEFAULT_CAPABILITIES
            .iter()
            .filter_map(|c| Capability::parse(c))
            .collect();
        let all: CapabilitySet = Capability::all().collect();
        let mut origin = Origin::Default;
        let is_all = |v: &Spanned<String>| v.get_ref().eq_ignore_ascii_case("ALL");
        let mut named = |this: &mut Self, key: &str, list: &[Spanned<String>]| -> Vec<Capability> {
            let mut found = Vec::new();
            for (i, value) in list.iter().enumerate() {
                if origin == Origin::Default {
                    origin = this.origin(key, value);
                }
                if is_all(value) {
                    continue;
                }
                match Capability::parse(value.get_ref()) {
                    Some(capability) => found.push(capability),
                    None => {
                        let known: Vec<String> = all
                            .iter()
                            .map(|c| c.name().trim_start_matches("CAP_").to_string())
                            .collect();
                        let known_refs: Vec<&str> = known.iter().map(String::as_str).collect();
                        let word = value
                            .get_ref()
                            .trim_start_matches("CAP_")
                            .to_ascii_uppercase();
                        let problem = Problem::error(
                            "plan::unknown-capability",
                            format!("{key}[{}]", i + 1),
                            value.span(),
                        )
                        .message(format!("unknown capability \"{}\"", value.get_ref()))
                        .label("not a Linux capability");
                        this.error(match crate::config::shape::suggest(&word, &known_refs) {
                            Some(best) => problem.help(format!("did you mean \"{best}\"?")),
                            None => problem.help("see capabilities(7); names go with or without CAP_, e.g. \"NET_ADMIN\""),
                        });
                    }
                }
            }
            found
        };
        let add = named(self, "security.capabilities.add", &table.add);
        let drop = named(self, "security.capabilities.drop", &table.drop);
        if table.add.iter().any(is_all) {
            set = all.clone();
        }
        if table.drop.iter().any(is_all) {
            set.clear();
        } else {
            for capability in &drop {
                set.remove(capability);
            }
        }
        for capability in add {
            if drop.contains(&capability) {
                let name = capability.name();
                if let Some(value) = table
                    .add
                    .iter()
                    .find(|v| Capability::parse(v.get_ref()) == Some(capability))
                {
                    self.error(
                        Problem::error(
                            "plan::capability-added-and-dropped",
                            "security.capabilities.add",
                            value.span(),
                        )
                        .message(format!("{name} is both added and dropped"))
                        .label("added here, and dropped in `drop`")
                        .help("keep it in one list"),
                    );
                }
                continue;
            }
            set.insert(capability);
        }
        At::new(set, origin)
    }
}

/// Security warnings for `check`: settings that weaken the container. `check --strict` makes
/// them errors.
pub fn lint(file: &ContainerFile, capabilities: &CapabilitySet) -> Vec<Problem> {
    let warn = |key: String, span: std::ops::Range<usize>, message: String, help: &str| {
        Problem::error("lint::weakens-isolation", key, span)
            .message(message)
            .label("weakens the container")
            .help(help)
            .warning()
    };
    let mut found = Vec::new();
    let sys_admin = Capability(caps::Capability::CAP_SYS_ADMIN);
    if capabilities.contains(&sys_admin) {
        let span = file
            .security
            .capabilities
            .add
            .iter()
            .find(|v| {
                v.get_ref().eq_ignore_ascii_case("ALL")
                    || Capability::parse(v.get_ref()) == Some(sys_admin)
            })
            .map_or(0..0, |v| v.span());
        found.push(warn(
            "security.capabilities.add".into(),
            span,
            "CAP_SYS_ADMIN is nearly root: mounts, namespaces, and many ways out of a container"
                .into(),
            "add the narrow capability the program needs instead (see capabilities(7))",
        ));
    }
    if let Some(seccomp) = &file.security.seccomp
        && seccomp.get_ref() == "unconfined"
    {
        found.push(warn(
            "security.seccomp".into(),
            seccomp.span(),
            "no seccomp filter: every system call of the kernel is reachable".into(),
            "use \"default\", or a profile that allows what the program needs",
        ));
    }
    if let Some(net) = &file.namespaces.net
        && *net.get_ref() == NetMode::Host
    {
        found.push(warn(
            "namespaces.net".into(),
            net.span(),
            "the host's network: the container can reach every local service and listen on host ports".into(),
            "use \"none\" unless the container must share the host's network",
        ));
    }
    for (i, mount) in file.mounts.iter().enumerate() {
        let entry = mount.get_ref();
        if *entry.kind.get_ref() != MountType::Bind
            || entry.readonly.as_ref().is_some_and(|r| *r.get_ref())
        {
            continue;
        }
        if let Some(source) = &entry.source {
            let path = source.get_ref().trim_end_matches('/');
            let path = if path.is_empty() { "/" } else { path };
            if HOST_SYSTEM_FOLDERS.contains(&path) {
                found.push(warn(
                    format!("mount[{}].source", i + 1),
                    source.span(),
                    format!("a read-write bind of the host's {path}: the container can change the host's system files"),
                    "add `readonly = true`, or bind a narrower folder",
                ));
            }
        }
    }
    found
}
