//! Preflight: the host facts a [`Spec`] needs, checked before anything is created. The root
//! filesystem and bind sources exist, the command and its interpreter exist inside the
//! container, the user exists, user namespaces are allowed, the cgroup controllers are there,
//! the seccomp profile compiles. What it learns becomes the [`Facts`] the plan is built from;
//! every problem is reported at once, at the origin that asked for it.

mod cgroups;
mod limits;
mod mounts;
mod process;
pub mod seccomp;
mod view;

use std::path::{Path, PathBuf};

use crate::diagnostic::Problem;
use crate::plan::{
    At, Facts, IdMap, IdMaps, MountKind, Origin, ResolvedRoot, Root, Spec, UserNamespace,
};
use view::ContainerView;

pub use cgroups::{Hierarchies, is_container_folder};

/// Facts about the caller that preflight needs; passed in so tests can vary them.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub uid: u32,
    pub gid: u32,
}

impl Caller {
    /// The effective ids of this process.
    pub fn current() -> Self {
        Caller {
            uid: nix::unistd::geteuid().as_raw(),
            gid: nix::unistd::getegid().as_raw(),
        }
    }
}

/// What preflight reads of the host, besides files: passed in so tests can vary it.
#[derive(Debug, Clone)]
pub struct Host {
    pub caller: Caller,
    /// The cgroup hierarchies; read from /proc/self/mountinfo when `None` and needed.
    pub hierarchies: Option<Hierarchies>,
    /// Where compiled seccomp programs are cached; `None`: compiled at every start.
    pub seccomp_cache: Option<PathBuf>,
}

impl Host {
    /// This host, as the current process sees it. The seccomp cache is `LAUNCHER_CACHE_DIR`,
    /// else /run/launcher/cache as root, the user's runtime dir otherwise.
    pub fn current() -> Self {
        let caller = Caller::current();
        let seccomp_cache = match std::env::var_os("LAUNCHER_CACHE_DIR") {
            Some(dir) => Some(dir.into()),
            None if caller.uid == 0 => Some("/run/launcher/cache".into()),
            None => directories::BaseDirs::new()
                .and_then(|d| d.runtime_dir().map(|d| d.join("launcher/cache"))),
        };
        Host {
            caller,
            hierarchies: None,
            seccomp_cache,
        }
    }
}

/// Problem codes that `up` maps to Docker's exit statuses.
pub const COMMAND_NOT_FOUND: &str = "preflight::command-not-found";
pub const COMMAND_NOT_EXECUTABLE: &str = "preflight::command-not-executable";

/// Checks `spec` against the host and returns what the plan needs to know of it.
pub fn check(spec: &Spec, host: &Host) -> Result<Facts, Vec<Problem>> {
    let caller = host.caller;
    let mut problems = Vec::new();
    let user_ns = resolve_user_namespace(spec, caller, &mut problems);
    let view = ContainerView::from_spec(spec);
    let view_ok = check_paths(spec, &view, &mut problems);
    let rootless = user_ns && caller.uid != 0;
    let root = match &spec.root.value {
        Root::Folder(path) => Some(ResolvedRoot::Folder(path.clone())),
        Root::Host => Some(ResolvedRoot::Host),
        Root::Layers(layers) => Some(ResolvedRoot::Layers(layers.clone())),
        Root::Image(source) => {
            problems.push(
                at(&spec.root.origin, "preflight::image-not-resolved", "")
                    .message(format!("the image {} was not resolved to its layers", source.reference))
                    .label("not pulled")
                    .help("this is the launcher's own failure: the image stage runs before preflight; please report it"),
            );
            None
        }
    };
    let (user, program) = if view_ok {
        let process = &spec.process;
        process::check_workdir(&process.workdir, &view, &mut problems);
        let user = process::resolve_user(&process.user, &view, rootless, &mut problems);
        let program = process::resolve_command(process, &view, &mut problems);
        (user, program)
    } else {
        (None, None)
    };
    let cgroup = limits::cgroup(spec, host, rootless, &mut problems);
    limits::check_rlimits(spec, user_ns, &mut problems);
    let seccomp = limits::seccomp(spec, host.seccomp_cache.as_deref(), &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    let (Some(root), Some(user), Some(program), Some(seccomp)) = (root, user, program, seccomp)
    else {
        // Each `None` above came with a problem.
        return Err(problems);
    };
    // Without newuidmap, an unprivileged user can map exactly one id: its own, onto the
    // container user's. As root, the same single mapping keeps things predictable.
    let user_namespace = user_ns.then(|| IdMaps {
        uid: vec![IdMap {
            inside: user.uid,
            outside: caller.uid,
            count: 1,
        }],
        gid: vec![IdMap {
            inside: user.gid,
            outside: caller.gid,
            count: 1,
        }],
        deny_setgroups: caller.uid != 0,
    });
    let made_targets = match &root {
        ResolvedRoot::Folder(folder) => mounts::made_targets(spec, folder),
        _ => Vec::new(),
    };
    Ok(Facts {
        root,
        user_namespace,
        user,
        program,
        cgroup,
        seccomp,
        made_targets,
    })
}

/// A problem at an origin, with the key made more precise (`mount[2].source`).
fn at(origin: &Origin, code: &'static str, field: &str) -> Problem {
    match origin {
        Origin::File { key, span, .. } => {
            let key = if field.is_empty() {
                key.clone()
            } else {
                format!("{key}.{field}")
            };
            Problem::error(code, key, span.clone())
        }
        Origin::CommandLine { what } => Problem::error(code, field, 0..0).given_by(what),
        Origin::Default | Origin::Image { .. } => Problem::error(code, field, 0..0),
    }
}

/// "auto" becomes on or off; a rootless caller without a user namespace is an error.
fn resolve_user_namespace(spec: &Spec, caller: Caller, problems: &mut Vec<Problem>) -> bool {
    let At { value, origin } = &spec.namespaces;
    let wanted = match value.user {
        UserNamespace::Auto => caller.uid != 0,
        UserNamespace::On => true,
        UserNamespace::Off => false,
    };
    if !wanted && caller.uid != 0 {
        problems.push(
            at(origin, "preflight::needs-root", "user")
                .message(format!(
                    "`namespaces.user = false` needs root, and the launcher runs as uid {}",
                    caller.uid
                ))
                .label("no user namespace asked for here")
                .help("remove the line (\"auto\" gives rootless runs a user namespace), or run as root"),
        );
    }
    if wanted && let Err(why) = user_namespaces_allowed(caller) {
        problems.push(
            at(origin, "preflight::user-namespaces-disabled", "user")
                .message("this host does not allow user namespaces")
                .label(why)
                .help("as root: `sysctl user.max_user_namespaces=15000` (and kernel.unprivileged_userns_clone=1 where it exists); or run the launcher as root"),
        );
    }
    wanted
}

fn user_namespaces_allowed(caller: Caller) -> Result<(), String> {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
    };
    if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return Err("/proc/sys/user/max_user_namespaces is 0".into());
    }
    if caller.uid != 0 && read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0")
    {
        return Err("/proc/sys/kernel/unprivileged_userns_clone is 0".into());
    }
    Ok(())
}

/// The root filesystem and bind sources exist; in host mode, mount targets exist already.
/// Returns whether the container's files can be looked at.
fn check_paths(spec: &Spec, view: &ContainerView, problems: &mut Vec<Problem>) -> bool {
    let mut ok = true;
    if let Root::Folder(path) = &spec.root.value
        && let Some(problem) = rootfs_problem(path, &spec.root.origin)
    {
        problems.push(problem.help(
            "fix the path (relative paths start at this file's folder), or fill a root filesystem there as the launcher's rootfs/README.md says (busybox-static, or an exported image)",
        ));
        ok = false;
    }
    for mount in &spec.mounts {
        let spec = &mount.value;
        if let MountKind::Bind { source } = &spec.kind
            && let Err(error) = std::fs::metadata(source)
        {
            problems.push(
                // The path goes in the label, which is never wrapped: a long path stays whole
                // and easy to copy.
                at(&mount.origin, "preflight::bind-source-missing", "source")
                    .message(format!("the bind source {}", io_reason(&error)))
                    .label(format!("{} {}", source.display(), io_reason(&error)))
                    .help(
                        "create it, or fix `source` (relative paths start at this file's folder)",
                    ),
            );
        }
        // What is there before this mount: its own target does not count as fresh.
        let before = view.without(&spec.target);
        if view.is_host() && !before.is_fresh(&spec.target) && before.resolve(&spec.target).is_err()
        {
            problems.push(
                at(&mount.origin, "preflight::host-target-missing", "target")
                    .message(format!(
                        "{} does not exist on the host, and the host's / is never written to",
                        spec.target
                    ))
                    .label("target missing in the host's /")
                    .help("with `rootfs.host`, mount onto a folder that exists, or under /tmp"),
            );
        }
    }
    ok
}

/// What is wrong with the root filesystem folder, if anything.
fn rootfs_problem(path: &Path, origin: &Origin) -> Option<Problem> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => None,
        Ok(_) => Some(
            at(origin, "preflight::rootfs-not-a-folder", "")
                .message("the root filesystem is not a folder")
                .label(format!("{} is not a folder", path.display())),
        ),
        Err(error) => Some(
            at(origin, "preflight::rootfs-missing", "")
                .message(format!("the root filesystem {}", io_reason(&error)))
                .label(format!("{} {}", path.display(), io_reason(&error))),
        ),
    }
}

fn io_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "does not exist".into(),
        std::io::ErrorKind::PermissionDenied => "cannot be read (permission denied)".into(),
        _ => format!("cannot be read: {error}"),
    }
}
