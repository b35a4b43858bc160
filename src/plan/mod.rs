//! The plan: what `launcher up` will do, as an ordered list of typed steps. Pure data, no I/O.
//!
//! `Display` prints the numbered dry run (`launcher plan`); `Serialize` gives `--format json`.
//! The executor runs one loop over these same steps, so the dry run cannot drift from `up`.

mod join;
mod step;
mod stop;

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

use serde::Serialize;

pub use step::{
    Action, CgroupPlan, CgroupWrite, DevSetup, Exec, IdMap, MountKind, MountSpec, NamespaceSet,
    RlimitSpec, SeccompPlan, UserIds, human_size,
};

pub use join::JoinSpec;
pub use stop::{Signal, StopPolicy, human_duration, parse_duration};

pub use crate::config::file::NetMode;

/// Version of the JSON form of a plan; bumped when a field changes meaning or goes away.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// A checked, resolved container: everything `up` needs, in the order it does it.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The container's name.
    pub name: String,
    /// The Container.toml the plan came from.
    pub file: PathBuf,
    /// The steps, in the order they run.
    pub steps: Vec<Step>,
    /// How `launcher stop` ends the container (`[stop]`): not a step of `up`.
    pub stop: StopPolicy,
}

/// One step and the part of Container.toml that asked for it.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    #[serde(flatten)]
    pub action: Action,
    pub origin: Origin,
}

/// Where a step comes from: a span of Container.toml, or a built-in default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Always done, or a default the file did not change.
    Default,
    /// Asked for by the key at this place of the file.
    File {
        key: String,
        span: Range<usize>,
        line: usize,
        column: usize,
    },
}

impl Serialize for Origin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Origin::Default => s.serialize_str("default"),
            Origin::File {
                key,
                span,
                line,
                column,
            } => serde_json::json!({
                "key": key,
                "line": line,
                "column": column,
                "span": { "start": span.start, "end": span.end },
            })
            .serialize(s),
        }
    }
}

impl Plan {
    /// The JSON document printed by `launcher plan --format json`.
    pub fn to_json(&self) -> serde_json::Value {
        let steps: Vec<serde_json::Value> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, step)| {
                let mut value = serde_json::to_value(step).unwrap_or_default();
                if let Some(map) = value.as_object_mut() {
                    map.insert("index".into(), (i + 1).into());
                    map.insert("summary".into(), step.action.to_string().into());
                }
                value
            })
            .collect();
        serde_json::json!({
            "format_version": PLAN_FORMAT_VERSION,
            "name": self.name,
            "file": self.file.display().to_string(),
            "steps": steps,
            "stop": self.stop,
        })
    }

    /// The first step of a kind, if the plan has one.
    pub fn find<T>(&self, pick: impl Fn(&Action) -> Option<&T>) -> Option<&T> {
        self.steps.iter().find_map(|s| pick(&s.action))
    }

    /// The namespaces the container is created with.
    pub fn namespaces(&self) -> Option<&NamespaceSet> {
        self.find(|a| match a {
            Action::Namespaces(set) => Some(set),
            _ => None,
        })
    }

    /// The final step, to change the command (`up -- ARGS`).
    pub fn exec_mut(&mut self) -> Option<&mut Exec> {
        self.steps.iter_mut().find_map(|s| match &mut s.action {
            Action::Exec(exec) => Some(exec),
            _ => None,
        })
    }

    /// The final step: what runs.
    pub fn exec(&self) -> Option<&Exec> {
        self.find(|a| match a {
            Action::Exec(exec) => Some(exec),
            _ => None,
        })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File { key, line, .. } => write!(f, "line {line}: {key}"),
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
            let origin = format!("[{}]", step.origin);
            let pad = 64usize.saturating_sub(text.chars().count());
            writeln!(f, "{:>width$}. {text}{:pad$}  {origin}", i + 1, "")?;
        }
        let text = self.stop.to_string();
        let pad = (64 + width + 2).saturating_sub(text.chars().count());
        writeln!(f, "{text}{:pad$}  [{}]", "", self.stop.origin)
    }
}
