//! `[[mount]]` entries into mount steps: targets normalised and unique, keys checked against
//! the mount type, sizes and modes parsed. Part of the `validate` builder.

use std::collections::BTreeMap;
use std::ops::Range;

use super::file::{ContainerFile, MountEntry, MountType};
use super::validate::{Builder, container_path_help};
use super::values::{container_path, parse_mode};
use crate::diagnostic::Problem;
use crate::plan::{At, MountKind, MountSpec, Namespaces, Root};

impl Builder<'_> {
    pub(super) fn mounts(&mut self, file: &ContainerFile) -> Vec<At<MountSpec>> {
        let mut specs: Vec<At<MountSpec>> = Vec::new();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (i, entry) in file.mounts.iter().enumerate() {
            let key = format!("mount[{}]", i + 1);
            let target = &entry.get_ref().target;
            // Two entries on one target are a problem even when one of them has others.
            if let Ok(normalised) = container_path(target.get_ref())
                && normalised != "/"
            {
                if let Some(first) = seen.get(&normalised) {
                    let (line, _) = self.source.line_column(file.mounts[*first].span().start);
                    self.error(
                        Problem::error(
                            "plan::duplicate-target",
                            format!("{key}.target"),
                            target.span(),
                        )
                        .message(format!("two mounts on {normalised}"))
                        .label(format!(
                            "also the target of mount[{}] (line {line})",
                            first + 1
                        ))
                        .help("each mount needs its own target; remove one or change its target"),
                    );
                    continue;
                }
                seen.insert(normalised, i);
            }
            let Some(spec) = self.mount(entry.get_ref(), &key) else {
                continue;
            };
            let origin = self.origin(&key, entry);
            specs.push(At::new(spec, origin));
        }
        specs
    }

    fn mount(&mut self, entry: &MountEntry, key: &str) -> Option<MountSpec> {
        let kind_name = entry.kind.get_ref().name();
        let mut ok = true;
        let target = match container_path(entry.target.get_ref()) {
            Ok(t) if t == "/" => {
                self.error(
                    Problem::error(
                        "plan::mount-on-root",
                        format!("{key}.target"),
                        entry.target.span(),
                    )
                    .message("a mount cannot replace the container's /")
                    .label("target is /")
                    .help("set `rootfs` for the root filesystem; mounts go under it"),
                );
                ok = false;
                t
            }
            Ok(t) => t,
            Err(why) => {
                self.error(
                    Problem::error(
                        "plan::invalid-target",
                        format!("{key}.target"),
                        entry.target.span(),
                    )
                    .message("a mount target must be an absolute path inside the container")
                    .label(why)
                    .help(container_path_help("target", entry.target.get_ref())),
                );
                ok = false;
                String::new()
            }
        };
        let kind = *entry.kind.get_ref();
        // Keys that belong to other mount types are errors, not silently ignored.
        let mut not_for = |this: &mut Self, field: &str, span: Range<usize>, only: &str| {
            this.error(
                Problem::error("plan::key-not-for-type", format!("{key}.{field}"), span)
                    .message(format!("`{field}` does not apply to a {kind_name} mount"))
                    .label(format!("only for {only}"))
                    .help(format!("remove `{field}`, or change `type`")),
            );
            ok = false;
        };
        if kind != MountType::Bind
            && let Some(source) = &entry.source
        {
            not_for(self, "source", source.span(), "bind mounts");
        }
        if kind != MountType::Tmpfs {
            if let Some(size) = &entry.size {
                not_for(self, "size", size.span(), "tmpfs");
            }
            if let Some(mode) = &entry.mode {
                not_for(self, "mode", mode.span(), "tmpfs");
            }
        }
        let readonly = entry.readonly.as_ref().map(|r| *r.get_ref());
        let kind = match kind {
            MountType::Bind => match &entry.source {
                Some(source) => MountKind::Bind {
                    source: self.host_path(
                        source.get_ref(),
                        &format!("{key}.source"),
                        source.span(),
                    ),
                },
                None => {
                    self.error(
                        Problem::error(
                            "plan::bind-without-source",
                            format!("{key}.source"),
                            entry.kind.span(),
                        )
                        .message("a bind mount needs a `source`")
                        .label("bind, but no `source` in this entry")
                        .help("add `source = \"folder\"`, a host path relative to this file"),
                    );
                    return None;
                }
            },
            MountType::Tmpfs => {
                let size = entry.size.as_ref().and_then(|size| {
                    size.get_ref()
                        .bytes()
                        .map_err(|why| {
                            self.error(
                                Problem::error(
                                    "plan::invalid-size",
                                    format!("{key}.size"),
                                    size.span(),
                                )
                                .message("invalid tmpfs size")
                                .label(why)
                                .help("e.g. size = \"64MiB\""),
                            );
                            ok = false;
                        })
                        .ok()
                });
                let mode = match &entry.mode {
                    Some(mode) => parse_mode(mode.get_ref()).unwrap_or_else(|why| {
                        self.error(
                            Problem::error(
                                "plan::invalid-mode",
                                format!("{key}.mode"),
                                mode.span(),
                            )
                            .message("invalid tmpfs mode")
                            .label(why)
                            .help("an octal string, e.g. mode = \"1777\" or \"0755\""),
                        );
                        ok = false;
                        0
                    }),
                    None => 0o1777,
                };
                MountKind::Tmpfs { size, mode }
            }
            MountType::Proc => MountKind::Proc,
            MountType::Sysfs => {
                if let Some(ro) = &entry.readonly
                    && !*ro.get_ref()
                {
                    self.error(
                        Problem::error("plan::sysfs-writable", format!("{key}.readonly"), ro.span())
                            .message("sysfs is always mounted read-only")
                            .label("cannot be false for sysfs")
                            .help("remove `readonly`; a writable sysfs would let the container reconfigure the host"),
                    );
                    ok = false;
                }
                MountKind::Sysfs
            }
            MountType::Cgroup => {
                if let Some(ro) = &entry.readonly
                    && !*ro.get_ref()
                {
                    self.error(
                        Problem::error("plan::cgroup-writable", format!("{key}.readonly"), ro.span())
                            .message("the cgroup mount is always read-only")
                            .label("cannot be false for cgroup")
                            .help("remove `readonly`; the container's root could raise its own limits through a writable one"),
                    );
                    ok = false;
                }
                MountKind::Cgroup
            }
            MountType::Devpts => MountKind::Devpts,
            MountType::Mqueue => MountKind::Mqueue,
        };
        let readonly =
            readonly.unwrap_or(false) || matches!(kind, MountKind::Sysfs | MountKind::Cgroup);
        ok.then_some(MountSpec {
            kind,
            target,
            readonly,
            flags: Default::default(),
        })
    }
}

/// The file's mounts after the container's system ones: a read-only sysfs at /sys (not with
/// the host's / as root, which has its own), then, with a cgroup namespace, its cgroups at
/// /sys/fs/cgroup. A mount of the file's at one of them replaces the default; a sysfs of the
/// file's at /sys gets the default cgroups right after it (any other mount there hides /sys,
/// and the default cgroups with it).
pub(super) fn with_system_mounts(
    mut mounts: Vec<At<MountSpec>>,
    root: &Root,
    namespaces: &Namespaces,
) -> Vec<At<MountSpec>> {
    let system = |kind, target: &str| {
        At::default_value(MountSpec {
            kind,
            target: target.into(),
            readonly: true,
            flags: Default::default(),
        })
    };
    let own_sys = mounts.iter().position(|m| m.value.target == "/sys");
    let own_cgroup = mounts.iter().any(|m| m.value.target == CGROUP_TARGET);
    let cgroup =
        (namespaces.cgroup && !own_cgroup).then(|| system(MountKind::Cgroup, CGROUP_TARGET));
    match own_sys {
        Some(i) => {
            if let Some(cgroup) = cgroup
                && mounts[i].value.kind == MountKind::Sysfs
            {
                mounts.insert(i + 1, cgroup);
            }
            mounts
        }
        None => {
            let mut all = Vec::with_capacity(mounts.len() + 2);
            if *root != Root::Host {
                all.push(system(MountKind::Sysfs, "/sys"));
            }
            all.extend(cgroup);
            all.extend(mounts);
            all
        }
    }
}

/// Where the container's cgroups are mounted by default.
const CGROUP_TARGET: &str = "/sys/fs/cgroup";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::UserNamespace;

    fn ns(cgroup: bool) -> Namespaces {
        Namespaces {
            uts: true,
            ipc: true,
            pid: true,
            net: true,
            cgroup,
            user: UserNamespace::Auto,
        }
    }

    fn mount(kind: MountKind, target: &str) -> At<MountSpec> {
        At::default_value(MountSpec {
            kind,
            target: target.into(),
            readonly: false,
            flags: Default::default(),
        })
    }

    fn targets(mounts: &[At<MountSpec>]) -> Vec<(&'static str, &str)> {
        mounts
            .iter()
            .map(|m| (m.value.kind.name(), m.value.target.as_str()))
            .collect()
    }

    #[test]
    fn system_mounts_come_first_and_give_way_to_the_files_own() {
        let folder = Root::Folder("/r".into());
        let data = || {
            mount(
                MountKind::Tmpfs {
                    size: None,
                    mode: 0o755,
                },
                "/data",
            )
        };
        let all = with_system_mounts(vec![data()], &folder, &ns(true));
        assert_eq!(
            targets(&all),
            [
                ("sysfs", "/sys"),
                ("cgroup", "/sys/fs/cgroup"),
                ("tmpfs", "/data")
            ]
        );
        assert!(all[0].value.readonly && all[1].value.readonly);
        // The host's / has its own /sys; no cgroup namespace, no cgroup view.
        let host = with_system_mounts(vec![data()], &Root::Host, &ns(true));
        assert_eq!(
            targets(&host),
            [("cgroup", "/sys/fs/cgroup"), ("tmpfs", "/data")]
        );
        let no_ns = with_system_mounts(vec![data()], &folder, &ns(false));
        assert_eq!(targets(&no_ns), [("sysfs", "/sys"), ("tmpfs", "/data")]);
        // A sysfs of the file's own gets the cgroups right after it; a tmpfs hides both.
        let own_sysfs = vec![data(), mount(MountKind::Sysfs, "/sys")];
        assert_eq!(
            targets(&with_system_mounts(own_sysfs, &folder, &ns(true))),
            [
                ("tmpfs", "/data"),
                ("sysfs", "/sys"),
                ("cgroup", "/sys/fs/cgroup")
            ]
        );
        let own_tmpfs = vec![mount(
            MountKind::Tmpfs {
                size: None,
                mode: 0o755,
            },
            "/sys",
        )];
        assert_eq!(
            targets(&with_system_mounts(own_tmpfs, &folder, &ns(true))),
            [("tmpfs", "/sys")]
        );
        let own_cgroup = vec![mount(
            MountKind::Bind {
                source: "/x".into(),
            },
            "/sys/fs/cgroup",
        )];
        assert_eq!(
            targets(&with_system_mounts(own_cgroup, &folder, &ns(true))),
            [("sysfs", "/sys"), ("bind", "/sys/fs/cgroup")]
        );
    }
}
