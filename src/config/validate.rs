//! Validation of a loaded Container.toml into a [`Spec`]: paths resolved against the file's
//! folder, sizes and modes parsed, names typed, defaults filled in. Every problem is collected;
//! none stops the others from being found. The order of the steps is not decided here but by
//! the plan (`plan/build.rs`).

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::Loaded;
use super::file::{ContainerFile, RootfsSpec, UserMode, UserWord};

use super::values::{check_hostname, check_name};
use crate::diagnostic::{Problem, Problems, SourceFile};
use crate::plan::{At, Namespaces, NetworkMode, Origin, Root, Spec, UserNamespace};

/// The environment every container starts from; `env` is merged over it.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Turns a loaded file into a spec. `base_dir` is the absolute folder that holds the file:
/// relative paths in it are resolved against that folder.
pub fn spec(loaded: &Loaded, base_dir: &Path) -> Result<Spec, Problems> {
    let mut builder = Builder {
        source: &loaded.source,
        base_dir,
        problems: Vec::new(),
    };
    let spec = builder.build(&loaded.file);
    let mut problems = Problems::new(loaded.source.clone());
    problems.list = builder.problems;
    if problems.errors() > 0 {
        return Err(problems);
    }
    Ok(spec)
}

/// The problems of the rules alone, for a file whose shape problems were mended (`salvage`).
pub(super) fn problems(file: &ContainerFile, source: &SourceFile, base_dir: &Path) -> Vec<Problem> {
    let mut builder = Builder {
        source,
        base_dir,
        problems: Vec::new(),
    };
    builder.build(file);
    builder.problems
}

pub(super) struct Builder<'a> {
    pub(super) source: &'a SourceFile,
    pub(super) base_dir: &'a Path,
    pub(super) problems: Vec<Problem>,
}

impl Builder<'_> {
    pub(super) fn origin<T>(&self, key: &str, value: &Spanned<T>) -> Origin {
        self.origin_span(key, value.span())
    }

    pub(super) fn origin_span(&self, key: &str, span: Range<usize>) -> Origin {
        let (line, column) = self.source.line_column(span.start);
        Origin::File {
            key: key.to_string(),
            span,
            line,
            column,
        }
    }

    /// The file's first line: where a problem about a key the file lacks points.
    pub(super) fn first_line(&self) -> Range<usize> {
        let text = &self.source.text;
        0..text.find('\n').unwrap_or(text.len())
    }

    pub(super) fn error(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    fn build(&mut self, file: &ContainerFile) -> Spec {
        let name = self.name(file);
        let network = self.network(file);
        let mut namespaces = self.namespaces(file);
        namespaces.net = network.mode.value != NetworkMode::Host;
        let (root, root_origin) = self.root(file);
        let mounts = super::mounts::with_system_mounts(self.mounts(file), &root, &namespaces);
        let hostname = self.hostname(file, &name, &namespaces);
        let process = self.process(file, &name);
        let limits = self.resources(file);
        let rlimits = self.rlimits(file);
        let security = self.security(file);
        let mut stop = super::stop::policy(&file.stop, self.source, &mut self.problems);
        stop.restart = super::restart::policy(&file.restart, self.source, &mut self.problems);
        let readonly_root = self.readonly_origin(file, &root);
        Spec {
            file: self.source.path.clone(),
            root: At::new(root, root_origin),
            readonly_root,
            mounts,
            namespaces: At::new(namespaces, self.section_origin("namespaces")),
            net_origin: network.mode.origin.clone(),
            network,
            hostname,
            process,
            limits,
            rlimits,
            security,
            stop,
            name,
            joins: Vec::new(),
            sysctl: None,
        }
    }

    pub(super) fn section_origin(&self, section: &str) -> Origin {
        // A table's span is the whole table; point at its header line.
        let text = &self.source.text;
        let header = format!("[{section}]");
        match text.find(&header) {
            Some(start) => self.origin_span(section, start..start + header.len()),
            None => Origin::Default,
        }
    }

    /// Where a read-only root was asked for; `None` when it was not. The host's / is
    /// read-only as it is bound, so it takes no step of its own.
    fn readonly_origin(&self, file: &ContainerFile, root: &Root) -> Option<Origin> {
        let Some(RootfsSpec::Table(table)) = file.rootfs.as_ref().map(|r| r.get_ref()) else {
            return None;
        };
        match (&table.readonly, root) {
            (Some(ro), Root::Folder(_) | Root::Image(_)) if *ro.get_ref() => {
                Some(self.origin("rootfs.readonly", ro))
            }
            _ => None,
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

    fn namespaces(&mut self, file: &ContainerFile) -> Namespaces {
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
        Namespaces {
            uts: ns.uts.unwrap_or(true),
            ipc: ns.ipc.unwrap_or(true),
            pid: ns.pid.unwrap_or(true),
            // From the network's mode (`Builder::network`).
            net: true,
            cgroup: ns.cgroup.unwrap_or(true),
            user: match ns.user.as_ref().map(|u| *u.get_ref()) {
                Some(UserMode::Bool(true)) => UserNamespace::On,
                Some(UserMode::Bool(false)) => UserNamespace::Off,
                Some(UserMode::Word(UserWord::Remap)) => UserNamespace::Remap,
                Some(UserMode::Word(UserWord::Auto)) | None => UserNamespace::Auto,
            },
        }
    }

    /// The root filesystem: `rootfs` or `image`, and the origin of the one given.
    fn root(&mut self, file: &ContainerFile) -> (Root, Origin) {
        let rootfs = match (&file.rootfs, &file.image) {
            (None, None) => {
                self.error(
                    Problem::error("plan::no-root", "rootfs", self.first_line())
                        .message("the file names no root filesystem: no `rootfs`, no `image`")
                        .label("neither `rootfs` nor `image` in the file")
                        .help("add `image = \"alpine:3.20\"` (an image), `rootfs = \"rootfs\"` (a folder next to this file), or `[rootfs] host = true` (the host's /)"),
                );
                return (Root::Host, Origin::Default);
            }
            (_, Some(image)) => return self.image_root(file, image),
            (Some(rootfs), None) => rootfs,
        };
        let root = self.folder_root(rootfs);
        (root, self.origin("rootfs", rootfs))
    }

    fn folder_root(&mut self, rootfs: &Spanned<RootfsSpec>) -> Root {
        match rootfs.get_ref() {
            RootfsSpec::Path(path) => Root::Folder(self.host_path(path, "rootfs", rootfs.span())),
            RootfsSpec::Table(table) => {
                let host = table.host.as_ref().is_some_and(|h| *h.get_ref());
                match (&table.path, host) {
                    (Some(path), false) => {
                        Root::Folder(self.host_path(path.get_ref(), "rootfs.path", path.span()))
                    }
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
                            Problem::error("plan::rootfs-missing", "rootfs", rootfs.span())
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
    pub(super) fn host_path(&mut self, path: &str, key: &str, span: Range<usize>) -> PathBuf {
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
        namespaces: &Namespaces,
    ) -> Option<At<String>> {
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
                Some(At::new(
                    hostname.get_ref().clone(),
                    self.origin("hostname", hostname),
                ))
            }
            // The name is a fine hostname when it is a valid one; otherwise leave the kernel's.
            None if namespaces.uts && check_hostname(name).is_ok() => {
                Some(At::default_value(name.to_string()))
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
