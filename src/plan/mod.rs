//! The plan: every action `launcher up` (or `launcher exec`) takes, in the order it takes them,
//! as typed steps. Pure data: no I/O, no system calls.
//!
//! A front end (Container.toml today) describes the container as a [`Spec`]; preflight learns
//! the host [`Facts`] it needs; [`Plan::build`] orders both into steps (the order, and the
//! reason for each ordering, live in `build.rs` only). The executor runs one loop over these
//! same steps, `launcher plan` prints them (`Display`, or `to_json`), and the step numbers in
//! a runtime error are theirs: there is no second description of what `up` does.

mod build;
mod cgroup;
mod display;
mod exec;
mod network;
mod restart;
mod security;
mod spec;
mod step;
mod stop;

use std::ops::Range;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use build::FORWARDED_SIGNALS;
pub use cgroup::{
    CgroupLink, CgroupSetup, CgroupVersion, CgroupView, CgroupWrite, Limits, V1Hierarchy,
};
pub use display::human_size;
pub use network::{
    BridgeAttach, BridgeNetwork, ETC_FILES, HostEntry, NetworkFacts, NetworkMode, NetworkSetup,
    PastaSetup, PortSpec, Subnet,
};
pub use restart::{RestartPolicy, RestartWhen};
pub use security::{
    Bpf, Capability, CapabilitySet, RlimitKind, RlimitSpec, SeccompFilter, SeccompProfile,
};
pub use spec::{
    At, Facts, Id, ImageSource, Layers, NamespaceJoin, Namespaces, Process, PullPolicy,
    ResolvedRoot, Root, Security, Spec, UserNamespace, UserSpec,
};
pub use step::{
    Action, DevSetup, Exec, IdMap, IdMaps, IdRange, MadeTarget, MapHelpers, MountFlags, MountKind,
    MountSpec, NamespaceSet, Overlay, Program, TerminalMode, UserIds, host_id, maps_host_id,
};
pub use stop::{Signal, StopPolicy, human_duration, parse_duration};

/// Version of the JSON form of a plan; bumped when a field changes meaning or goes away.
/// 2: every action is a step (parent, child and init sides), `side` on each step.
pub const PLAN_FORMAT_VERSION: u32 = 2;

/// What a container does, in order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    /// The container's name.
    pub name: String,
    /// The file the plan came from (Container.toml).
    pub file: PathBuf,
    /// The steps, in the order they run.
    pub steps: Vec<Step>,
    /// How `launcher stop` ends the container (`[stop]`): not a step of `up`.
    pub stop: StopPolicy,
}

/// One step: what is done, by which process, and the part of the file that asked for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    pub side: Side,
    #[serde(flatten)]
    pub action: Action,
    pub origin: Origin,
}

/// The process that runs a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The launcher itself (the monitor of a detached container).
    Parent,
    /// The container's first process, between clone and exec.
    Child,
    /// The container's init, which starts the command.
    Init,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::Parent => "parent",
            Side::Child => "child",
            Side::Init => "init",
        }
    }
}

/// Where a step comes from: a span of the file, the command line, or a built-in default.
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
    /// Given on the command line (`launcher up FILE -- ARGS`), not by the file.
    CommandLine { what: String },
    /// Taken from the image's config: `field` is its name there (`Env`, `Cmd`, `User`).
    Image { field: String },
}

impl Serialize for Origin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        OriginForm::from(self.clone()).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Origin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(OriginForm::deserialize(d)?.into())
    }
}

/// The JSON form of an origin: `"default"`, `{"key", "line", "column", "span"}`, or
/// `{"command_line": WHAT}`.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum OriginForm {
    Word(String),
    File {
        key: String,
        line: usize,
        column: usize,
        span: SpanForm,
    },
    CommandLine {
        command_line: String,
    },
    Image {
        image_config: String,
    },
}

#[derive(Serialize, Deserialize)]
struct SpanForm {
    start: usize,
    end: usize,
}

impl From<Origin> for OriginForm {
    fn from(origin: Origin) -> Self {
        match origin {
            Origin::Default => OriginForm::Word("default".into()),
            Origin::File {
                key,
                span,
                line,
                column,
            } => OriginForm::File {
                key,
                line,
                column,
                span: SpanForm {
                    start: span.start,
                    end: span.end,
                },
            },
            Origin::CommandLine { what } => OriginForm::CommandLine { command_line: what },
            Origin::Image { field } => OriginForm::Image {
                image_config: field,
            },
        }
    }
}

impl From<OriginForm> for Origin {
    fn from(form: OriginForm) -> Self {
        match form {
            OriginForm::Word(_) => Origin::Default,
            OriginForm::File {
                key,
                line,
                column,
                span,
            } => Origin::File {
                key,
                span: span.start..span.end,
                line,
                column,
            },
            OriginForm::CommandLine { command_line } => Origin::CommandLine { what: command_line },
            OriginForm::Image { image_config } => Origin::Image {
                field: image_config,
            },
        }
    }
}

impl Plan {
    /// The JSON document printed by `launcher plan --format json`: each step with its index
    /// (from 1) and its text line. The compiled seccomp program is left out (it is data for
    /// the executor, kept in records, not for reading).
    pub fn to_json(&self) -> serde_json::Value {
        let steps: Vec<serde_json::Value> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, step)| {
                let mut value = serde_json::to_value(step).unwrap_or_default();
                if let Some(map) = value.as_object_mut() {
                    map.remove("bpf");
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

    /// The namespaces the container's first process is cloned into.
    pub fn namespaces(&self) -> Option<&NamespaceSet> {
        self.find(|a| match a {
            Action::Clone(set) => Some(set),
            _ => None,
        })
    }

    /// What runs.
    pub fn exec(&self) -> Option<&Exec> {
        self.find(|a| match a {
            Action::Exec(exec) => Some(exec),
            _ => None,
        })
    }

    /// The container's cgroup, when it has one.
    /// The share of the launcher's range the container holds (`remap` as root).
    pub fn id_range(&self) -> Option<IdRange> {
        self.find(|a| match a {
            Action::IdMaps(maps) => maps.range.as_ref(),
            _ => None,
        })
        .copied()
    }

    pub fn cgroup(&self) -> Option<&CgroupSetup> {
        self.find(|a| match a {
            Action::CgroupCreate(setup) => Some(setup),
            _ => None,
        })
    }

    /// The folders of the container's cgroup: made by an `up` plan, opened by an `exec` plan.
    pub fn cgroup_paths(&self) -> &[PathBuf] {
        self.find(|a| match a {
            Action::CgroupCreate(setup) => Some(&setup.paths),
            Action::CgroupOpen { paths, .. } => Some(paths),
            _ => None,
        })
        .map_or(&[], Vec::as_slice)
    }
}
