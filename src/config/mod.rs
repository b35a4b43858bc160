//! Container.toml, the first front end: loading (syntax and shape, every problem at once) and
//! validation into a [`Spec`](crate::plan::Spec), the plan's description of a container.
//! `validate` holds the builder; `mounts`, `process`, `resources` and `security` add to it,
//! one concern each.

pub mod file;
mod image;
mod mounts;
mod network;
mod process;
mod resources;
mod restart;
mod salvage;
mod security;
mod shape;
pub mod stop;
mod validate;
mod values;

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::DeTable;

use crate::diagnostic::{Problem, Problems, SourceFile};
use crate::plan::{Action, Plan, SeccompFilter};
use file::ContainerFile;

pub use validate::spec;

/// Security warnings about the file (`check` shows them; `check --strict` fails on them).
pub fn lint(loaded: &Loaded, plan: &Plan) -> Vec<Problem> {
    let capabilities = plan
        .find(|a| match a {
            Action::Capabilities { set } => Some(set),
            _ => None,
        })
        .cloned()
        .unwrap_or_default();
    let mut found = security::lint(&loaded.file, &capabilities);
    found.extend(network::lint(&loaded.file));
    // A profile may name system calls this machine's libseccomp does not know: they are left
    // out of the filter, which for a deny-list means not denied.
    let unknown = plan
        .find(|a| match a {
            Action::Seccomp(SeccompFilter::Compiled { unknown_names, .. }) => Some(unknown_names),
            _ => None,
        })
        .filter(|names| !names.is_empty());
    if let (Some(names), Some(value)) = (unknown, &loaded.file.security.seccomp) {
        found.push(
            Problem::error("lint::seccomp-unknown-syscalls", "security.seccomp", value.span())
                .message(format!(
                    "the seccomp profile names {} system call(s) this machine does not know: {}",
                    names.len(),
                    names.join(", ")
                ))
                .label("left out of the filter")
                .help("with a deny-list profile they are not denied: check the names against this kernel's system calls (`ausyscall --dump`)")
                .warning(),
        );
    }
    found
}
pub use values::{check_name, parse_mode, parse_size};

/// For `check --strict`: a container whose root is the host's root (no user namespace, or
/// one that maps container 0 onto host 0), one kernel bug or writable host file away from
/// the host. A warning: strictness asks for it, the file is not wrong.
pub fn lint_host_root(loaded: &Loaded, plan: &Plan) -> Option<Problem> {
    let maps = plan.find(|a| match a {
        Action::IdMaps(maps) => Some(maps),
        _ => None,
    });
    let root_inside = plan
        .find(|a| match a {
            Action::User(user) => Some(user),
            _ => None,
        })
        .is_none_or(|user| user.uid == 0);
    let host_root = match maps {
        None => true,
        Some(maps) => crate::plan::host_id(&maps.uid, 0) == Some(0),
    };
    if !(root_inside && host_root) {
        return None;
    }
    let (key, span) = match &loaded.file.namespaces.user {
        Some(user) => ("namespaces.user", user.span()),
        None => ("", 0..0),
    };
    Some(
        Problem::error("lint::root-is-host-root", key, span)
            .message("the container's root is the host's root")
            .label("no range of its own")
            .help("`[namespaces] user = \"remap\"` gives it 65,536 ids of the launcher's range (the root filesystem mounted idmapped), or run it as another `user`")
            .warning(),
    )
}

/// A Container.toml that parsed and has the right shape.
#[derive(Debug)]
pub struct Loaded {
    pub source: SourceFile,
    pub file: ContainerFile,
}

/// Why a Container.toml could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} has {} error(s)", .0.source.path.display(), .0.errors())]
    Invalid(Problems),
}

/// Reads and parses a Container.toml.
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(SourceFile::new(path, text))
}

/// Parses the text of a Container.toml, reporting every syntax and shape problem at once.
pub fn parse(source: SourceFile) -> Result<Loaded, LoadError> {
    let text = source.text.clone();
    let mut problems = Problems::new(source);
    let (document, syntax_errors) = DeTable::parse_recoverable(&text);
    // The parser recovers and goes on, so one mistake (an unclosed array) can make several
    // errors on a line: the first one of each line is the one to read.
    let mut found: Vec<Problem> = syntax_errors
        .iter()
        .map(|error| syntax_problem(error, &text))
        .collect();
    found.sort_by_key(|p| p.span.start);
    let mut lines = std::collections::BTreeSet::new();
    for problem in found {
        if lines.insert(problems.source.line_column(problem.span.start).0) {
            problems.list.push(problem);
        }
    }
    if !syntax_errors.is_empty() {
        return Err(LoadError::Invalid(problems));
    }
    // serde first: a valid file (the common case) costs no schema. Only when it fails does
    // the shape check walk the file against the schema, to report every problem at once.
    let deserializer = toml::de::Deserializer::from(document.clone());
    let serde_error: toml::de::Error = match serde::Deserialize::deserialize(deserializer) {
        Ok(file) => {
            return Ok(Loaded {
                source: problems.source,
                file,
            });
        }
        Err(error) => error,
    };
    let schema = crate::schema::container_schema();
    let first_line = 0..text.find('\n').unwrap_or(text.len());
    shape::ShapeChecker::new(&schema).check_document(
        document.get_ref(),
        first_line,
        &mut problems.list,
    );
    if problems.list.is_empty() {
        // The shape check found nothing serde did: still point at the file.
        problems.list.push(syntax_problem(&serde_error, &text));
        return Err(LoadError::Invalid(problems));
    }
    // The rest of the file still has its rules checked: every problem in one run.
    let mut mended = document;
    if let Some(tainted) = salvage::mend(mended.get_mut(), &problems.list) {
        let deserializer = toml::de::Deserializer::from(mended);
        if let Ok(file) = <ContainerFile as serde::Deserialize>::deserialize(deserializer) {
            let base = base_dir(&problems.source.path);
            let rules = validate::problems(&file, &problems.source, &base);
            problems.list.extend(
                rules
                    .into_iter()
                    .filter(|p| !salvage::depends_on_mended(p, &tainted)),
            );
        }
    }
    Err(LoadError::Invalid(problems))
}

/// The absolute folder of a Container.toml: relative paths in it start there.
pub fn base_dir(file: &Path) -> PathBuf {
    let parent = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let absolute = std::path::absolute(parent).unwrap_or_else(|_| parent.to_path_buf());
    // Drop `.` parts so the default name is the folder's own.
    absolute.components().collect()
}

/// Preflight's problems about this file, each pointing at the key it names when the file sets
/// it: a step knows only the entry it came from (`[[mount]]`), the problem its key
/// (`mount[1].source`).
pub fn host_problems(source: &SourceFile, found: Vec<Problem>) -> Problems {
    let mut problems = Problems::new(source.clone());
    problems.list = found;
    for problem in &mut problems.list {
        if let Some(span) = key_span(&source.text, &problem.key) {
            problem.span = span;
        }
    }
    problems
}

/// The span of a key's value in a Container.toml, by its path (`mount[2].source`,
/// `namespaces.user`); `None` when the text does not parse or does not set the key. Lets a
/// check that only knows a key (preflight) point at the value itself.
pub fn key_span(text: &str, key: &str) -> Option<Range<usize>> {
    let document = DeTable::parse(text).ok()?;
    let mut table = document.get_ref();
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        let (name, index) = match part.strip_suffix(']').and_then(|p| p.split_once('[')) {
            Some((name, n)) => (name, Some(n.parse::<usize>().ok()?.checked_sub(1)?)),
            None => (part, None),
        };
        let mut value = table.get(name)?;
        if let Some(index) = index {
            value = value.get_ref().as_array()?.get(index)?;
        }
        if parts.peek().is_none() {
            return Some(value.span());
        }
        table = value.get_ref().as_table()?;
    }
    None
}

fn syntax_problem(error: &toml::de::Error, text: &str) -> Problem {
    let span = error.span().unwrap_or(0..0);
    let span = if span.is_empty() && span.start < text.len() {
        span.start..span.start + 1
    } else {
        span
    };
    let message = error.message().trim().to_string();
    let help = if message.starts_with("duplicate key") {
        let key = text.get(span.clone()).unwrap_or_default();
        format!("a key is set once per table: remove one of the two `{key}`")
    } else if message.starts_with("invalid basic string")
        || message.starts_with("invalid literal string")
    {
        "close the string on the same line; a string over several lines is written \"\"\"...\"\"\""
            .to_string()
    } else if message.starts_with("unclosed table") || message.starts_with("unclosed array table") {
        "close the header: [name] for a table, [[name]] for one entry of a list".to_string()
    } else if message.starts_with("missing comma between array elements")
        || message.starts_with("unclosed array")
    {
        "an array is [\"a\", \"b\"]: a `,` or its closing `]` is missing before here".to_string()
    } else {
        "see https://toml.io for the syntax; strings need quotes, tables are [name]".to_string()
    };
    Problem::error("config::syntax", "", span)
        .message(format!("invalid TOML: {message}"))
        .label(message)
        .help(help)
}

#[cfg(test)]
mod tests {
    use super::key_span;

    #[test]
    fn key_span_finds_values_by_path() {
        let text = "command = [\"/bin/sh\"]\n\n[[mount]]\ntype = \"tmpfs\"\n\n[[mount]]\nsource = \"data\"\n";
        let at = |key: &str| key_span(text, key).map(|span| &text[span]);
        assert_eq!(at("command"), Some("[\"/bin/sh\"]"));
        assert_eq!(at("mount[2].source"), Some("\"data\""));
        assert_eq!(at("mount[1].source"), None);
        assert_eq!(at("mount[3].source"), None);
        assert_eq!(at("command.x"), None);
        assert_eq!(key_span("not = toml = at all", "not"), None);
    }
}
