//! Validation of a loaded Container.toml into a [`Plan`]: paths resolved against the file's
//! folder, sizes and modes parsed, defaults filled in, steps ordered. Every problem is
//! collected; none stops the others from being found.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

#[path = "mounts.rs"]
mod mounts;
#[path = "process.rs"]
mod process;
#[path = "resources.rs"]
mod resources;
#[path = "security.rs"]
pub(super) mod security;

use super::Loaded;
use super::file::{ContainerFile, NetMode, RootfsSpec, Switch};
use super::values::{check_hostname, check_name};
use crate::diagnostic::{Problem, Problems, SourceFile};
use crate::plan::{Action, DevSetup, MountKind, MountSpec, NamespaceSet, Origin, Plan, Step};

/// The environment every container starts from; `env` is merged over it.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Turns a loaded file into a plan. `base_dir` is the absolute folder that holds the file:
/// relative paths in it are resolved against that folder.
pub fn plan(loaded: &Loaded, base_dir: &Path) -> Result<Plan, Problems> {
    let mut builder = Builder {
        source: &loaded.source,
        base_dir,
        problems: Vec::new(),
        steps: Vec::new(),
    };
    let name = builder.build(&loaded.file);
    let stop = super::stop::policy(&loaded.file.stop, &loaded.source, &mut builder.problems);
    let mut problems = Problems::new(loaded.source.clone());
    problems.list = builder.problems;
    if problems.errors() > 0 {
        return Err(problems);
    }
    Ok(Plan {
        name,
        file: loaded.source.path.clone(),
        steps: builder.steps,
        stop,
    })
}

struct Builder<'a> {
    source: &'a SourceFile,
    base_dir: &'a Path,
    problems: Vec<Problem>,
    steps: Vec<Step>,
}

/// The root filesystem as resolved from `rootfs`.
enum Root {
    Folder { path: PathBuf, readonly: bool },
    Host,
}

impl Builder<'_> {
    fn origin<T>(&self, key: &str, value: &Spanned<T>) -> Origin {
        self.origin_span(key, value.span())
    }

    fn origin_span(&self, key: &str, span: Range<usize>) -> Origin {
        let (line, column) = self.source.line_column(span.start);
        Origin::File {
            key: key.to_string(),
            span,
            line,
            column,
        }
    }

    fn push(&mut self, action: Action, origin: Origin) {
        self.steps.push(Step { action, origin });
    }

    fn error(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    /// The steps in DESIGN.md §4 order. Returns the container's name.
    fn build(&mut self, file: &ContainerFile) -> String {
        let name = self.name(file);
        let namespaces = self.namespaces(file);
        let root = self.root(file);
        let mounts = self.mounts(file);
        let hostname = self.hostname(file, &name, &namespaces);
        let exec = self.exec(file, &name);
        let workdir = self.workdir(file);
        let user = self.user(file);

        // Namespaces first: everything after runs in the cloned child.
        let ns_origin = self.section_origin("namespaces");
        let net = namespaces.net;
        self.push(Action::Namespaces(namespaces), ns_origin);
        let resources = self.resources(file);
        let rlimits = self.rlimits(file);
        let security = self.security(file);
        // From the parent, before the child runs a step: setup is accounted and limited too.
        if let Some((cgroup, origin)) = resources {
            self.push(Action::Cgroup(cgroup), origin);
        }
        // Before any mount: a mount made while / is shared would appear on the host.
        self.push(Action::PrivatePropagation, Origin::Default);
        let rootfs_origin = self.origin("rootfs", &file.rootfs);
        let readonly_root_is_host = matches!(root, Root::Host);
        // The host's / is made read-only as it is bound, before anything is mounted in it;
        // a folder root only after the mounts, whose targets may need creating in it.
        let readonly_root = match root {
            Root::Folder { path, readonly } => {
                self.push(Action::BindRootfs { path }, rootfs_origin.clone());
                readonly
            }
            Root::Host => {
                self.push(Action::HostRootfs, rootfs_origin.clone());
                false
            }
        };
        // /proc and /dev before the file's mounts, so that a mount under /dev (a device, a
        // sized /dev/shm) lands on the container's /dev instead of being hidden by it. A mount
        // of the file's own at /proc or /dev replaces the default one.
        let user_targets: Vec<&str> = mounts.iter().map(|(m, _)| m.target.as_str()).collect();
        if !user_targets.contains(&"/proc") {
            self.push(
                Action::Mount(MountSpec {
                    kind: MountKind::Proc,
                    target: "/proc".into(),
                    readonly: false,
                }),
                Origin::Default,
            );
        }
        if !user_targets.contains(&"/dev") {
            self.push(Action::Dev(DevSetup::standard()), Origin::Default);
        }
        // The host's / is read-only: give the container a /tmp it can write, and a /run of its
        // own: read-only does not stop connect() on the host's sockets there (systemd,
        // container engines, the user's session bus), which would be a way out.
        if readonly_root_is_host {
            for (target, mode) in [("/tmp", 0o1777), ("/run", 0o755)] {
                if !user_targets.contains(&target) {
                    self.push(
                        Action::Mount(MountSpec {
                            kind: MountKind::Tmpfs { size: None, mode },
                            target: target.into(),
                            readonly: false,
                        }),
                        rootfs_origin.clone(),
                    );
                }
            }
        }
        for (spec, origin) in mounts {
            self.push(Action::Mount(spec), origin);
        }
        if net == NetMode::None {
            let origin = self.net_origin(file);
            self.push(Action::LoopbackUp, origin);
        }
        // After every mount, so that nothing is mounted over a mask; before pivot_root, while
        // the paths are still reached through the new root's descriptor.
        self.push(
            Action::MaskPaths {
                paths: security.masked.0,
            },
            security.masked.1,
        );
        self.push(
            Action::ReadonlyPaths {
                paths: security.readonly.0,
            },
            security.readonly.1,
        );
        self.push(Action::PivotRoot, Origin::Default);
        // After pivot_root: the pseudo-terminal comes from the container's own devpts, so
        // that it is named in the container and /dev/console can be bound to it.
        let terminal = match &file.terminal {
            Some(t) => (
                match t.get_ref() {
                    Switch::Bool(b) => Some(*b),
                    Switch::Auto(_) => None,
                },
                self.origin("terminal", t),
            ),
            None => (None, Origin::Default),
        };
        self.push(
            Action::Terminal {
                enabled: terminal.0,
            },
            terminal.1,
        );
        if readonly_root {
            let origin = self.readonly_origin(file);
            self.push(Action::ReadonlyRoot, origin);
        }
        if let Some((hostname, origin)) = hostname {
            self.push(Action::Hostname { hostname }, origin);
        }
        if let Some((limits, origin)) = rlimits {
            self.push(Action::Rlimits { limits }, origin);
        }
        self.push(Action::Workdir { path: workdir.0 }, workdir.1);
        // Loading a filter without no_new_privs needs CAP_SYS_ADMIN in the effective set,
        // which a non-root user loses with its uid: then it goes before the user changes;
        // otherwise last, so it filters as little setup as it can.
        let seccomp = Action::Seccomp(security.seccomp.0);
        if security.no_new_privileges.is_none() {
            self.push(seccomp.clone(), security.seccomp.1.clone());
        }
        self.push(Action::User(user.0), user.1);
        self.push(
            Action::Capabilities {
                set: security.capabilities.0,
            },
            security.capabilities.1,
        );
        if let Some(origin) = security.no_new_privileges {
            self.push(Action::NoNewPrivileges, origin);
            self.push(seccomp, security.seccomp.1);
        }
        self.push(Action::CloseFds, Origin::Default);
        self.push(Action::Exec(exec.0), exec.1);
        name
    }

    fn section_origin(&self, section: &str) -> Origin {
        // A table's span is the whole table; point at its header line.
        let text = &self.source.text;
        let header = format!("[{section}]");
        match text.find(&header) {
            Some(start) => self.origin_span(section, start..start + header.len()),
            None => Origin::Default,
        }
    }

    fn net_origin(&self, file: &ContainerFile) -> Origin {
        match &file.namespaces.net {
            Some(net) => self.origin("namespaces.net", net),
            None => Origin::Default,
        }
    }

    fn readonly_origin(&self, file: &ContainerFile) -> Origin {
        match file.rootfs.get_ref() {
            RootfsSpec::Table(table) => match (&table.readonly, &table.host) {
                (Some(ro), _) => self.origin("rootfs.readonly", ro),
                (None, Some(host)) => self.origin("rootfs.host", host),
                _ => Origin::Default,
            },
            RootfsSpec::Path(_) => Origin::Default,
        }
    }

    fn name(&mut self, file: &ContainerFile) -> String {
        match &file.name {
            Some(name) => {
                if let Err(why) = check_name(name.get_ref()) {
                    self.error(
                        Problem::error("plan::invalid-name", "name", name.span())
                            .message(format!("invalid container name \"{}\"", name.get_ref()))
                            .label(why)
                            .help("a name is letters, digits, '.', '_' and '-', starting with a letter or digit"),
                    );
                }
                name.get_ref().clone()
            }
            None => {
                let folder = self
                    .base_dir
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("")
                    .to_string();
                if let Err(why) = check_name(&folder) {
                    self.error(
                        Problem::error("plan::invalid-name", "name", 0..0)
                            .message(format!(
                                "no `name`, and the folder name \"{folder}\" cannot be one"
                            ))
                            .label(why)
                            .help("add `name = \"...\"` at the top of the file"),
                    );
                }
                folder
            }
        }
    }

    fn namespaces(&mut self, file: &ContainerFile) -> NamespaceSet {
        let ns = &file.namespaces;
        if let Some(mount) = &ns.mount
            && !*mount.get_ref()
        {
            self.error(
                Problem::error("plan::mount-namespace-required", "namespaces.mount", mount.span())
                    .message("the mount namespace cannot be turned off")
                    .label("must be true")
                    .help("the launcher builds the root filesystem in a mount namespace of its own; remove this line"),
            );
        }
        NamespaceSet {
            mount: true,
            uts: ns.uts.unwrap_or(true),
            ipc: ns.ipc.unwrap_or(true),
            pid: ns.pid.unwrap_or(true),
            net: ns.net.as_ref().map_or(NetMode::None, |n| *n.get_ref()),
            cgroup: ns.cgroup.unwrap_or(true),
            user: match ns.user.as_ref().map(|u| *u.get_ref()) {
                Some(Switch::Bool(b)) => Some(b),
                Some(Switch::Auto(_)) | None => None,
            },
        }
    }

    fn root(&mut self, file: &ContainerFile) -> Root {
        match file.rootfs.get_ref() {
            RootfsSpec::Path(path) => Root::Folder {
                path: self.host_path(path, "rootfs", file.rootfs.span()),
                readonly: false,
            },
            RootfsSpec::Table(table) => {
                let host = table.host.as_ref().is_some_and(|h| *h.get_ref());
                match (&table.path, host) {
                    (Some(path), false) => Root::Folder {
                        path: self.host_path(path.get_ref(), "rootfs.path", path.span()),
                        readonly: table.readonly.as_ref().is_some_and(|r| *r.get_ref()),
                    },
                    (None, true) => {
                        if let Some(ro) = &table.readonly
                            && !*ro.get_ref()
                        {
                            self.error(
                                Problem::error("plan::host-rootfs-writable", "rootfs.readonly", ro.span())
                                    .message("the host's / is always read-only in a container")
                                    .label("cannot be false with `host = true`")
                                    .help("remove `readonly`, or bind the folders to write with [[mount]] entries"),
                            );
                        }
                        Root::Host
                    }
                    (Some(path), true) => {
                        self.error(
                            Problem::error("plan::rootfs-conflict", "rootfs.path", path.span())
                                .message("`rootfs` has both `path` and `host = true`")
                                .label("a path here")
                                .help("keep one: `path` for a root filesystem folder, `host = true` for the host's /"),
                        );
                        Root::Host
                    }
                    (None, false) => {
                        self.error(
                            Problem::error("plan::rootfs-missing", "rootfs", file.rootfs.span())
                                .message("`rootfs` names no root filesystem")
                                .label("no `path`, and `host` is not true")
                                .help("add `path = \"rootfs\"` (a folder next to this file) or `host = true`"),
                        );
                        Root::Host
                    }
                }
            }
        }
    }

    /// A host path from the file, resolved against the file's folder.
    fn host_path(&mut self, path: &str, key: &str, span: Range<usize>) -> PathBuf {
        if path.is_empty() || path.contains('\0') {
            self.error(
                Problem::error("plan::invalid-path", key, span)
                    .message(format!("`{key}` is not a usable path"))
                    .label("empty, or holds a NUL byte")
                    .help("give a folder path, relative to this file or absolute"),
            );
        }
        let joined = self.base_dir.join(path);
        // Lexical clean-up only: no I/O here. Preflight checks the path exists.
        let mut clean = PathBuf::new();
        for part in joined.components() {
            match part {
                std::path::Component::CurDir => {}
                std::path::Component::ParentDir => {
                    clean.pop();
                }
                other => clean.push(other),
            }
        }
        clean
    }

    fn hostname(
        &mut self,
        file: &ContainerFile,
        name: &str,
        namespaces: &NamespaceSet,
    ) -> Option<(String, Origin)> {
        match &file.hostname {
            Some(hostname) => {
                if let Err(why) = check_hostname(hostname.get_ref()) {
                    self.error(
                        Problem::error("plan::invalid-hostname", "hostname", hostname.span())
                            .message(format!("invalid hostname \"{}\"", hostname.get_ref()))
                            .label(why)
                            .help("a hostname is letters, digits and '-' in dot-separated labels (RFC 1123), at most 64 bytes"),
                    );
                }
                if !namespaces.uts {
                    self.error(
                        Problem::error("plan::hostname-without-uts", "hostname", hostname.span())
                            .message("`hostname` needs the UTS namespace")
                            .label("set here, but `namespaces.uts = false`")
                            .help("remove `hostname`, or the `uts = false` line"),
                    );
                }
                Some((
                    hostname.get_ref().clone(),
                    self.origin("hostname", hostname),
                ))
            }
            // The name is a fine hostname when it is a valid one; otherwise leave the kernel's.
            None if namespaces.uts && check_hostname(name).is_ok() => {
                Some((name.to_string(), Origin::Default))
            }
            None => None,
        }
    }
}

/// What to try for a path inside the container that [`container_path`] refused.
pub(super) fn container_path_help(name: &str, path: &str) -> String {
    if path.contains('\0') {
        "remove the \\u0000".into()
    } else if !path.starts_with('/') && !path.split('/').any(|p| p == "..") {
        format!("start it at the container's /: {name} = \"/{path}\"")
    } else {
        format!("write the whole path from / without \"..\", e.g. {name} = \"/data\"")
    }
}
