//! Preflight: the host facts a [`Spec`] needs, checked before anything is created. The root
//! filesystem and bind sources exist, the command and its interpreter exist inside the
//! container, the user exists, user namespaces are allowed, the cgroup controllers are there,
//! the seccomp profile compiles. What it learns becomes the [`Facts`] the plan is built from;
//! every problem is reported at once, at the origin that asked for it.

mod cgroups;
pub mod ids;
mod limits;
mod mounts;
mod network;
mod process;
pub mod seccomp;
mod view;

use std::path::{Path, PathBuf};

use crate::diagnostic::Problem;
use crate::plan::{
    At, Facts, IdMap, IdMaps, IdRange, MountKind, Origin, ResolvedRoot, Root, Spec, UserNamespace,
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
    /// The launcher's state root (`--root`): networks, leases, the container's folder.
    pub state_root: PathBuf,
    /// Where a rootless caller's subordinate ranges and their helpers are looked for.
    pub ids: ids::IdSources,
    /// For root's `remap`: the share of the launcher's range the container holds or would
    /// take (from the state folder), or why there is none. `None`: not looked up.
    pub remap: Option<Result<IdRange, String>>,
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
            state_root: crate::state::Store::default_root(),
            ids: ids::IdSources::current(),
            remap: None,
        }
    }
}

/// Problem codes that `up` maps to Docker's exit statuses.
pub const COMMAND_NOT_FOUND: &str = "preflight::command-not-found";
pub const COMMAND_NOT_EXECUTABLE: &str = "preflight::command-not-executable";

/// Checks `spec` against the host and returns what the plan needs to know of it.
pub fn check(spec: &Spec, host: &Host) -> Result<Facts, Vec<Problem>> {
    // The cgroup hierarchies are read once, when limits or a cgroup mount need them.
    let needs_hierarchies = spec.limits.is_some()
        || spec
            .mounts
            .iter()
            .any(|m| m.value.kind == MountKind::Cgroup);
    let filled;
    let host = match &host.hierarchies {
        None if needs_hierarchies => {
            filled = Host {
                hierarchies: Some(Hierarchies::current()),
                ..host.clone()
            };
            &filled
        }
        _ => host,
    };
    let caller = host.caller;
    let mut problems = Vec::new();
    let mode = resolve_user_namespace(spec, host, &mut problems);
    let user_ns = !matches!(mode, Mode::None);
    let view = ContainerView::from_spec(spec);
    let view_ok = check_paths(spec, &view, &mut problems);
    let rootless = user_ns && caller.uid != 0;
    // One id cannot hold supplementary groups; ranges can.
    let one_id = rootless && !matches!(mode, Mode::Ranges(_));
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
        let user = process::resolve_user(&process.user, &view, one_id, &mut problems);
        let program = process::resolve_command(process, &view, &mut problems);
        (user, program)
    } else {
        (None, None)
    };
    let cgroup = limits::cgroup(spec, host, rootless, &mut problems);
    let cgroup_view = limits::cgroup_view(spec, host, &mut problems);
    limits::check_rlimits(spec, user_ns, &mut problems);
    let seccomp = limits::seccomp(spec, host.seccomp_cache.as_deref(), &mut problems);
    let network = network::check(spec, host, &mut problems);
    if let (Mode::Ranges(ranges), Some(user)) = (&mode, &user) {
        check_user_in_ranges(spec, user, ranges, &mut problems);
    }
    if let Mode::Remap(_) = &mode {
        check_remap(spec, user.as_ref(), &mut problems);
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let (Some(root), Some(user), Some(program), Some(seccomp)) = (root, user, program, seccomp)
    else {
        // Each `None` above came with a problem.
        return Err(problems);
    };
    let user_namespace = match mode {
        Mode::None => None,
        // Without the helpers, an unprivileged user can map exactly one id: its own, onto
        // the container user's. As root, the same single mapping keeps things predictable.
        Mode::OneId => Some(IdMaps {
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
            helpers: None,
            range: None,
        }),
        // newgidmap leaves setgroups allowed when it maps subordinate gids.
        Mode::Ranges(ranges) => Some(IdMaps {
            uid: ranges.uid,
            gid: ranges.gid,
            deny_setgroups: false,
            helpers: Some(ranges.helpers),
            range: None,
        }),
        Mode::Remap(range) => Some(IdMaps {
            uid: vec![IdMap {
                inside: 0,
                outside: range.uid,
                count: IdRange::SIZE,
            }],
            gid: vec![IdMap {
                inside: 0,
                outside: range.gid,
                count: IdRange::SIZE,
            }],
            deny_setgroups: false,
            helpers: None,
            range: Some(range),
        }),
    };
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
        cgroup_view,
        seccomp,
        network,
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

/// How the container's ids are mapped.
enum Mode {
    /// No user namespace.
    None,
    /// One id: the caller is the command's user.
    OneId,
    /// The caller's subordinate ranges, written by the setuid helpers.
    Ranges(ids::Ranges),
    /// Root's `remap`: a share of the launcher's range, the root filesystem idmapped.
    Remap(IdRange),
}

/// "auto" becomes a mode; a rootless caller without a user namespace is an error, and so is
/// each missing fact of the ranges it asks for (or has entries for).
fn resolve_user_namespace(spec: &Spec, host: &Host, problems: &mut Vec<Problem>) -> Mode {
    let caller = host.caller;
    let At { value, origin } = &spec.namespaces;
    let rootless = caller.uid != 0;
    let wanted = match value.user {
        UserNamespace::Auto => rootless,
        UserNamespace::On | UserNamespace::Remap => true,
        UserNamespace::Off => false,
    };
    if !wanted && rootless {
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
    if !wanted {
        return Mode::None;
    }
    let ranges_asked = match value.user {
        UserNamespace::Remap => true,
        UserNamespace::Auto => false,
        UserNamespace::On | UserNamespace::Off => return Mode::OneId,
    };
    if !rootless {
        if !ranges_asked {
            return Mode::OneId;
        }
        return match &host.remap {
            Some(Ok(range)) => Mode::Remap(*range),
            Some(Err(why)) => {
                problems.push(
                    at(origin, "preflight::launcher-range", "user")
                        .message("the container cannot get ids of the launcher's own range")
                        .label("a range of 65,536 ids asked for here")
                        .help(why.clone()),
                );
                Mode::OneId
            }
            None => {
                problems.push(
                    at(origin, "preflight::launcher-range", "user")
                        .message("the launcher's range was not looked up for this plan")
                        .label("a range of 65,536 ids asked for here")
                        .help("this is the launcher's own failure: the front end looks it up before preflight; please report it"),
                );
                Mode::OneId
            }
        };
    }
    let owner = ids::Owner {
        id: caller.uid,
        name: nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(caller.uid))
            .ok()
            .flatten()
            .map(|u| u.name),
    };
    match ids::caller_ranges(owner, caller.gid, &host.ids, ranges_asked) {
        Ok(Some(ranges)) => Mode::Ranges(ranges),
        Ok(None) => Mode::OneId,
        Err(missing) => {
            let why = if ranges_asked {
                "subordinate ranges asked for here"
            } else {
                "the caller has subordinate ids, so \"auto\" maps them"
            };
            for fact in missing {
                let message = if fact.message.is_empty() {
                    fact.label.clone()
                } else {
                    fact.message
                };
                let help = if ranges_asked {
                    fact.help
                } else {
                    format!(
                        "{}; or `[namespaces] user = true` for the one-id map",
                        fact.help
                    )
                };
                problems.push(
                    at(origin, "preflight::subordinate-ids", "user")
                        .message(message)
                        .label(format!("{}; {why}", fact.label))
                        .help(help),
                );
            }
            Mode::OneId
        }
    }
}

/// With `remap`, the user is one of the 65,536 ids, the root filesystem a folder of a
/// filesystem that can be idmapped.
fn check_remap(spec: &Spec, user: Option<&crate::plan::UserIds>, problems: &mut Vec<Problem>) {
    let top = IdRange::SIZE - 1;
    let ids = user.map(|u| {
        [u.uid, u.gid]
            .into_iter()
            .chain(u.groups.iter().copied())
            .collect::<Vec<_>>()
    });
    for id in ids.unwrap_or_default() {
        if id > top {
            problems.push(
                at(
                    &spec.process.user.origin,
                    "preflight::user-outside-ranges",
                    "",
                )
                .message(format!(
                    "id {id} is outside the container's 65,536 ids (0 to {top})"
                ))
                .label(format!("{id} > {top}"))
                .help("give a user and group up to 65535, or drop `namespaces.user = \"remap\"`"),
            );
        }
    }
    match &spec.root.value {
        Root::Folder(path) => {
            if let Err(why) = ids::idmappable(path) {
                problems.push(
                    at(&spec.root.origin, "preflight::not-idmappable", "")
                        .message("the root filesystem cannot be mounted idmapped, as `remap` needs")
                        .label(why)
                        .help("put the root filesystem on ext4, xfs, btrfs, tmpfs or another filesystem that supports idmapped mounts, or drop `namespaces.user = \"remap\"`"),
                );
            }
        }
        // The overlay is made of idmapped copies of the layers, handed to overlayfs as
        // mounts (`lowerdir+` by descriptor).
        Root::Layers(layers) => {
            let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
            let why = match ids::kernel_at_least(&release, (6, 13)) {
                false => Some(format!(
                    "Linux {} cannot make an overlay of idmapped layers (6.13 can)",
                    release.trim()
                )),
                true => layers.layers.iter().find_map(|l| ids::idmappable(l).err()),
            };
            if let Some(why) = why {
                problems.push(
                    at(&spec.root.origin, "preflight::not-idmappable", "")
                        .message("the image's layers cannot be mounted idmapped, as `remap` needs")
                        .label(why)
                        .help("run on Linux 6.13 or newer with the image store on ext4, xfs, btrfs or tmpfs, or drop `namespaces.user = \"remap\"`"),
                );
            }
        }
        Root::Host | Root::Image(_) => {
            problems.push(
                at(&spec.root.origin, "preflight::not-idmappable", "")
                    .message("`namespaces.user = \"remap\"` needs a root filesystem folder or an image")
                    .label("the host's / cannot be given to a range of ids")
                    .help("use `rootfs = \"FOLDER\"` or `image = \"...\"`, or drop `namespaces.user = \"remap\"`"),
            );
        }
    }
}

/// The command's user, group and groups are ids the ranges map.
fn check_user_in_ranges(
    spec: &Spec,
    user: &crate::plan::UserIds,
    ranges: &ids::Ranges,
    problems: &mut Vec<Problem>,
) {
    let (top_uid, top_gid) = ranges.highest();
    let origin = &spec.process.user.origin;
    let mut outside = |kind: &str, id: u32, top: u32, file: &str, flag: &str| {
        problems.push(
            at(origin, "preflight::user-outside-ranges", "")
                .message(format!(
                    "{kind} {id} is outside the ids this user can map (0 to {top})"
                ))
                .label(format!("{kind} {id} > {top}: {file} gives {top} ids"))
                .help(format!(
                    "as root, give the caller a larger range in {file} (`usermod {flag} START-END USER`), or run as an id up to {top}"
                )),
        );
    };
    if user.uid > top_uid {
        outside("uid", user.uid, top_uid, "/etc/subuid", "--add-subuids");
    }
    for gid in std::iter::once(user.gid).chain(user.groups.iter().copied()) {
        if gid > top_gid {
            outside("gid", gid, top_gid, "/etc/subgid", "--add-subgids");
        }
    }
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
