//! The command's facts, read from the container's files: the program (through `PATH`), its
//! ELF or `#!` interpreter, the working folder, the user's and groups' ids.

use std::os::unix::fs::PermissionsExt;

use super::view::{self, ContainerView, Resolved};
use super::{COMMAND_NOT_EXECUTABLE, COMMAND_NOT_FOUND, at};
use crate::diagnostic::Problem;
use crate::plan::{At, Id, Origin, Process, UserIds, UserSpec};

/// The path the command runs from inside the container: it exists (searching `PATH` when it
/// has no slash), is an executable file, and its ELF or `#!` interpreter exists there too.
pub fn resolve_command(
    process: &Process,
    view: &ContainerView,
    problems: &mut Vec<Problem>,
) -> Option<String> {
    let origin = &process.command.origin;
    let program = process.command.value.first()?.clone();
    let path_var = process
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
    let from = command_source(origin);
    let Some((path, resolved)) = found else {
        let message = if program.contains('/') {
            format!("the command {program}{from} does not exist in the container")
        } else {
            format!("the command \"{program}\"{from} is not in the container's PATH ({path_var})")
        };
        problems.push(
            at(origin, COMMAND_NOT_FOUND, "")
                .message(message)
                .label(format!("{program} not found in {}", view.describe()))
                .help("check the spelling, give a full path, or add the program to the root filesystem"),
        );
        return None;
    };
    if resolved.meta.permissions().mode() & 0o111 == 0 {
        problems.push(
            at(origin, COMMAND_NOT_EXECUTABLE, "")
                .message(format!("the command {path}{from} is not executable"))
                .label(format!("{} has no x bit", resolved.host.display()))
                .help(format!(
                    "point `command` at a program, or make this one executable: chmod +x {}",
                    resolved.host.display()
                )),
        );
        return None;
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
        return None;
    }
    Some(path)
}

/// " (from the command line)" when the command did not come from the file.
fn command_source(origin: &Origin) -> String {
    match origin {
        Origin::CommandLine { what } => format!(" (from the command line: {what})"),
        _ => String::new(),
    }
}

pub fn check_workdir(workdir: &At<String>, view: &ContainerView, problems: &mut Vec<Problem>) {
    let (path, origin) = (&workdir.value, &workdir.origin);
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

/// Names become ids from the container's /etc/passwd and /etc/group; a user without a group
/// takes the passwd entry's group, else 0 (as Docker does). Supplementary groups are the
/// groups that list the user by name, unless the container's user namespace was made without
/// root (setgroups is denied there).
pub fn resolve_user(
    spec: &At<UserSpec>,
    view: &ContainerView,
    rootless: bool,
    problems: &mut Vec<Problem>,
) -> Option<UserIds> {
    let (user, origin) = (&spec.value, &spec.origin);
    let passwd = view.read_to_string("/etc/passwd").unwrap_or_default();
    let entry = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| {
            f.len() >= 4
                && match &user.user {
                    Id::Name(name) => f[0] == name,
                    Id::Number(uid) => f[2].parse::<u32>().ok() == Some(*uid),
                }
        });
    let uid = match (&user.user, &entry) {
        (Id::Number(uid), _) => *uid,
        (Id::Name(_), Some(f)) => match f[2].parse() {
            Ok(uid) => uid,
            Err(_) => {
                problems.push(
                    at(origin, "preflight::unknown-user", "")
                        .message(format!("the uid of user \"{}\" in the container's /etc/passwd is not a number", f[0]))
                        .label("unusable /etc/passwd entry")
                        .help("fix the entry in the root filesystem's /etc/passwd, or give a numeric uid"),
                );
                return None;
            }
        },
        (Id::Name(name), None) => {
            problems.push(
                at(origin, "preflight::unknown-user", "")
                    .message(format!(
                        "user \"{name}\" is not in the container's /etc/passwd"
                    ))
                    .label("unknown user")
                    .help(
                        "give a numeric uid, or add the user to the root filesystem's /etc/passwd",
                    ),
            );
            return None;
        }
    };
    let groups_file = view.read_to_string("/etc/group").unwrap_or_default();
    let group_lines: Vec<Vec<&str>> = groups_file
        .lines()
        .map(|l| l.split(':').collect())
        .filter(|f: &Vec<&str>| f.len() >= 4)
        .collect();
    let gid = match &user.group {
        Some(Id::Number(gid)) => *gid,
        Some(Id::Name(name)) => {
            match group_lines
                .iter()
                .find(|f| f[0] == name)
                .and_then(|f| f[2].parse().ok())
            {
                Some(gid) => gid,
                None => {
                    problems.push(
                        at(origin, "preflight::unknown-group", "")
                            .message(format!("group \"{name}\" is not in the container's /etc/group"))
                            .label("unknown group")
                            .help("give a numeric gid, or add the group to the root filesystem's /etc/group"),
                    );
                    return None;
                }
            }
        }
        None => entry.as_ref().and_then(|f| f[3].parse().ok()).unwrap_or(0),
    };
    let groups = match &entry {
        Some(f) if !rootless => group_lines
            .iter()
            .filter(|g| g[3].split(',').any(|m| m == f[0]))
            .filter_map(|g| g[2].parse().ok())
            .filter(|g| *g != gid)
            .collect(),
        _ => Vec::new(),
    };
    Some(UserIds {
        spec: user.text.clone(),
        uid,
        gid,
        groups,
        set_groups: !rootless,
        name: entry.as_ref().map(|f| f[0].to_string()),
        home: entry
            .as_ref()
            .and_then(|f| f.get(5))
            .filter(|h| h.starts_with('/'))
            .map(|h| h.to_string()),
    })
}
