//! Preflight: host facts checked before anything is created. The root filesystem and bind
//! sources exist, the command and its interpreter exist inside the container, the user exists,
//! user namespaces are allowed. Fills in what only the host can tell: "auto" user namespaces,
//! the id maps, the command's path, the user's ids.

mod cgroups;
mod limits;
pub mod seccomp;
mod view;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::diagnostic::{Problem, Problems, SourceFile};
use crate::plan::{Action, Exec, IdMap, MountKind, Origin, Plan, Step, UserIds};
use view::{ContainerView, Resolved};

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

/// Problem codes that `up` maps to Docker's exit statuses.
pub const COMMAND_NOT_FOUND: &str = "preflight::command-not-found";
pub const COMMAND_NOT_EXECUTABLE: &str = "preflight::command-not-executable";

/// Checks the plan against the host and completes it. Every problem is reported at once.
pub fn check(plan: &mut Plan, source: &SourceFile, caller: Caller) -> Result<(), Problems> {
    let mut problems = Vec::new();
    let user_ns = resolve_user_namespace(plan, caller, &mut problems);
    let view = ContainerView::from_plan(plan);
    let view_ok = check_paths(plan, &view, &mut problems);
    let mut map_ids = None;
    for step in &mut plan.steps {
        let origin = step.origin.clone();
        match &mut step.action {
            Action::User(ids) if view_ok => {
                resolve_user(ids, &view, &origin, user_ns, &mut problems);
                map_ids = Some((ids.uid.unwrap_or(0), ids.gid.unwrap_or(0)));
            }
            Action::Exec(exec) if view_ok => resolve_command(exec, &view, &origin, &mut problems),
            Action::Workdir { path } if view_ok => {
                check_workdir(path, &view, &origin, &mut problems)
            }
            _ => {}
        }
    }
    limits::check(plan, user_ns && caller.uid != 0, user_ns, &mut problems);
    if user_ns && let Some((uid, gid)) = map_ids {
        // Without newuidmap, an unprivileged user can map exactly one id: its own, onto the
        // container user's. As root, the same single mapping keeps things predictable.
        let maps = Action::IdMaps {
            uid: IdMap {
                inside: uid,
                outside: caller.uid,
                count: 1,
            },
            gid: IdMap {
                inside: gid,
                outside: caller.gid,
                count: 1,
            },
        };
        let at = plan
            .steps
            .iter()
            .position(|s| matches!(s.action, Action::Namespaces(_)))
            .map_or(0, |i| i + 1);
        plan.steps.insert(
            at,
            Step {
                action: maps,
                origin: namespaces_origin(plan),
            },
        );
    }
    // A step knows the entry it came from (`[[mount]]`); point at the key itself
    // (`mount[1].source`) when the file sets it.
    for problem in &mut problems {
        if let Some(span) = crate::config::key_span(&source.text, &problem.key) {
            problem.span = span;
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        let mut all = Problems::new(source.clone());
        all.list = problems;
        Err(all)
    }
}

fn namespaces_origin(plan: &Plan) -> Origin {
    plan.steps
        .iter()
        .find(|s| matches!(s.action, Action::Namespaces(_)))
        .map_or(Origin::Default, |s| s.origin.clone())
}

/// A problem at a step's origin, with the key made more precise (`mount[2].source`).
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
        Origin::Default => Problem::error(code, field, 0..0),
    }
}

/// "auto" becomes on or off; a rootless caller without a user namespace is an error.
fn resolve_user_namespace(plan: &mut Plan, caller: Caller, problems: &mut Vec<Problem>) -> bool {
    let Some(step) = plan
        .steps
        .iter_mut()
        .find(|s| matches!(s.action, Action::Namespaces(_)))
    else {
        return false;
    };
    let Action::Namespaces(set) = &mut step.action else {
        return false;
    };
    let wanted = set.user.unwrap_or(caller.uid != 0);
    set.user = Some(wanted);
    if !wanted && caller.uid != 0 {
        problems.push(
            at(&step.origin, "preflight::needs-root", "user")
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
            at(&step.origin, "preflight::user-namespaces-disabled", "user")
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
fn check_paths(plan: &Plan, view: &ContainerView, problems: &mut Vec<Problem>) -> bool {
    let mut ok = true;
    for step in &plan.steps {
        match &step.action {
            Action::BindRootfs { path } => {
                if let Some(problem) = rootfs_problem(path, &step.origin) {
                    problems.push(problem.help(
                        "fix the path (relative paths start at this file's folder), or fill a root filesystem there as the launcher's rootfs/README.md says (busybox-static, or an exported image)",
                    ));
                    ok = false;
                }
            }
            Action::Mount(spec) => {
                if let MountKind::Bind { source } = &spec.kind
                    && let Err(error) = std::fs::metadata(source)
                {
                    problems.push(
                        // The path goes in the label, which is never wrapped: a long path
                        // stays whole and easy to copy.
                        at(&step.origin, "preflight::bind-source-missing", "source")
                            .message(format!("the bind source {}", io_reason(&error)))
                            .label(format!("{} {}", source.display(), io_reason(&error)))
                            .help("create it, or fix `source` (relative paths start at this file's folder)"),
                    );
                }
                // What is there before this mount: its own target does not count as fresh.
                let before = view.without(&spec.target);
                if view.is_host()
                    && !before.is_fresh(&spec.target)
                    && before.resolve(&spec.target).is_err()
                {
                    problems.push(
                        at(&step.origin, "preflight::host-target-missing", "target")
                            .message(format!("{} does not exist on the host, and the host's / is never written to", spec.target))
                            .label("target missing in the host's /")
                            .help("with `rootfs.host`, mount onto a folder that exists, or under /tmp"),
                    );
                }
            }
            _ => {}
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

/// The command exists in the container (searching `PATH` when it has no slash), is an
/// executable file, and its ELF or `#!` interpreter exists there too.
fn resolve_command(
    exec: &mut Exec,
    view: &ContainerView,
    origin: &Origin,
    problems: &mut Vec<Problem>,
) {
    let Some(program) = exec.args.first().cloned() else {
        return;
    };
    let path_var = exec
        .env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map_or("", |(_, v)| v.as_str());
    let candidates: Vec<String> = if program.contains('/') {
        vec![program.clone()]
    } else {
        path_var
            .split(':')
            .filter(|d| d.starts_with('/'))
            .map(|d| format!("{}/{program}", d.trim_end_matches('/')))
            .collect()
    };
    let found = candidates.iter().find_map(|c| {
        view.resolve(c)
            .ok()
            .filter(|r| r.meta.is_file())
            .map(|r| (c.clone(), r))
    });
    let Some((path, resolved)) = found else {
        let message = if program.contains('/') {
            format!("the command {program} does not exist in the container")
        } else {
            format!("the command \"{program}\" is not in the container's PATH ({path_var})")
        };
        problems.push(
            at(origin, COMMAND_NOT_FOUND, "")
                .message(message)
                .label(format!("{program} not found in {}", view.describe()))
                .help("check the spelling, give a full path, or add the program to the root filesystem"),
        );
        return;
    };
    if resolved.meta.permissions().mode() & 0o111 == 0 {
        problems.push(
            at(origin, COMMAND_NOT_EXECUTABLE, "")
                .message(format!("the command {path} is not executable"))
                .label(format!("{} has no x bit", resolved.host.display()))
                .help(format!(
                    "point `command` at a program, or make this one executable: chmod +x {}",
                    resolved.host.display()
                )),
        );
        return;
    }
    if let Some(interpreter) = view::interpreter(&resolved.host)
        && view.resolve(&interpreter.path).is_err()
    {
        problems.push(
            at(origin, COMMAND_NOT_FOUND, "")
                .message(format!(
                    "the {} of {path}, {}, does not exist in the container",
                    interpreter.kind, interpreter.path
                ))
                .label(format!("needs {}", interpreter.path))
                .help(match interpreter.kind {
                    "ELF interpreter" => "copy the dynamic loader and libraries into the root filesystem, or use a statically linked program (busybox-static)",
                    _ => "install the interpreter in the root filesystem, or fix the #! line",
                }),
        );
    }
    exec.path = Some(path);
}

fn check_workdir(path: &str, view: &ContainerView, origin: &Origin, problems: &mut Vec<Problem>) {
    if view.is_fresh(path) {
        return;
    }
    match view.resolve(path) {
        Ok(Resolved { meta, .. }) if meta.is_dir() => {}
        Ok(_) => problems.push(
            at(origin, "preflight::workdir-not-a-folder", "")
                .message(format!("workdir {path} is not a folder in the container"))
                .label("not a folder")
                .help("pick a folder"),
        ),
        Err(_) => problems.push(
            at(origin, "preflight::workdir-missing", "")
                .message(format!("workdir {path} does not exist in the container"))
                .label(format!("{path} not found in {}", view.describe()))
                .help("create it in the root filesystem, or mount something there"),
        ),
    }
}

/// Names become ids from the container's /etc/passwd and /etc/group; a uid without a group
/// takes the passwd entry's group, else 0 (as Docker does).
fn resolve_user(
    ids: &mut UserIds,
    view: &ContainerView,
    origin: &Origin,
    rootless: bool,
    problems: &mut Vec<Problem>,
) {
    let (user, group) = match ids.spec.split_once(':') {
        Some((u, g)) => (u.to_string(), Some(g.to_string())),
        None => (ids.spec.clone(), None),
    };
    let passwd = view.read_to_string("/etc/passwd").unwrap_or_default();
    let entry = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| {
            f.len() >= 4
                && (f[0] == user || (ids.uid.is_some() && f[2].parse::<u32>().ok() == ids.uid))
        });
    if ids.uid.is_none() {
        match &entry {
            Some(f) => ids.uid = f[2].parse().ok(),
            None => {
                problems.push(
                    at(origin, "preflight::unknown-user", "")
                        .message(format!("user \"{user}\" is not in the container's /etc/passwd"))
                        .label("unknown user")
                        .help("give a numeric uid, or add the user to the root filesystem's /etc/passwd"),
                );
                return;
            }
        }
    }
    let groups_file = view.read_to_string("/etc/group").unwrap_or_default();
    let group_lines: Vec<Vec<&str>> = groups_file
        .lines()
        .map(|l| l.split(':').collect())
        .filter(|f: &Vec<&str>| f.len() >= 4)
        .collect();
    match group {
        Some(g) if ids.gid.is_none() => match group_lines.iter().find(|f| f[0] == g) {
            Some(f) => ids.gid = f[2].parse().ok(),
            None => {
                problems.push(
                    at(origin, "preflight::unknown-group", "")
                        .message(format!("group \"{g}\" is not in the container's /etc/group"))
                        .label("unknown group")
                        .help("give a numeric gid, or add the group to the root filesystem's /etc/group"),
                );
                return;
            }
        },
        Some(_) => {}
        None => ids.gid = Some(entry.as_ref().and_then(|f| f[3].parse().ok()).unwrap_or(0)),
    }
    // Supplementary groups: every group that lists the user by name. A user namespace made
    // without root denies setgroups, so there are none there.
    if !rootless && let Some(f) = &entry {
        let name = f[0];
        ids.groups = group_lines
            .iter()
            .filter(|g| g[3].split(',').any(|m| m == name))
            .filter_map(|g| g[2].parse().ok())
            .filter(|g| Some(*g) != ids.gid)
            .collect();
    }
}
