//! The executor: the only module that changes the system on the container's behalf. It runs
//! the plan's steps in order, one loop (`executor.rs`) for the launcher's steps and one
//! (`child.rs`) for the container's process, and stays as the container's monitor until the
//! command ends. `up` and `exec` are the same loop over different plans.

mod cgroups;
mod channel;
mod child;
mod error;
mod executor;
pub mod handle;
mod idmap;
mod init;
mod join;
mod layers;
mod mounts;
mod ops;
pub mod procfs;
mod rootfs;
mod security;
mod tty;
mod watch;

use crate::plan::Plan;

pub use cgroups::remove_leftovers as remove_leftover_cgroups;
pub use error::{Failure, StepFailed, errno_text, exec_exit_code};
pub use executor::Observer;
pub use join::Target;
pub use layers::remove_writable as remove_writable_layer;
pub use watch::{Foreground, Logs, Stream, Watcher, fork_monitor, reap};

/// How the container ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The command exited with this code.
    Exited(i32),
    /// The command (or the container's init) was killed by this signal, and dumped core.
    Signaled { signal: i32, core_dumped: bool },
    /// The kernel killed a process of the container for lack of memory (`resources.memory`).
    OutOfMemory { limit: Option<u64> },
}

impl Ended {
    /// A line for the user when the end needs explaining ("killed: out of memory, limit
    /// 32 MiB"); `None` for a plain exit.
    pub fn explain(self) -> Option<String> {
        match self {
            Ended::OutOfMemory { limit: Some(limit) } => Some(format!(
                "killed: out of memory, limit {}",
                crate::plan::human_size(limit)
            )),
            Ended::OutOfMemory { limit: None } => Some("killed: out of memory".into()),
            _ => None,
        }
    }

    /// The launcher's exit status: the command's own code, or 128 + the signal.
    pub fn exit_code(self) -> u8 {
        match self {
            Ended::Exited(code) => (code & 0xff) as u8,
            Ended::Signaled { signal, .. } => (128 + signal).min(255) as u8,
            Ended::OutOfMemory { .. } => 128 + libc::SIGKILL as u8,
        }
    }
}

/// A plan that ran to its end: how the command ended, and a cleanup step that failed after it
/// (the cgroup could not be removed), if one did.
#[derive(Debug)]
pub struct Finished {
    pub ended: Ended,
    pub cleanup: Option<StepFailed>,
    /// How many processes the memory limit killed in the cgroup while the command ran
    /// (those of an `exec` in the same container too).
    pub oom_kills: u64,
}

/// Runs a checked `up` plan in the foreground: stdio is the container's (or a
/// pseudo-terminal), signals sent to the launcher reach the command, and the call returns
/// when it ends. `started` is called once the command runs, with its pid.
pub fn up(
    plan: &Plan,
    observe: Observer<'_>,
    started: &mut dyn FnMut(libc::pid_t) -> Result<(), String>,
) -> Result<Finished, StepFailed> {
    let mut watcher = Foreground {
        started: Some(started),
    };
    executor::run(plan, &mut watcher, None, observe)
}

/// Runs an `exec` plan (`Plan::exec_plan`) in the running container `target`.
pub fn exec(plan: &Plan, target: Target, observe: Observer<'_>) -> Result<Finished, StepFailed> {
    executor::run(
        plan,
        &mut Foreground { started: None },
        Some(target),
        observe,
    )
}

/// Runs a checked `up` plan under a detached monitor: `started` is called once the command
/// runs, with its pid; `sink` gets its output.
pub fn up_detached(
    plan: &Plan,
    started: &mut dyn FnMut(libc::pid_t) -> Result<(), String>,
    sink: &mut dyn FnMut(Stream, &[u8]),
) -> Result<Finished, StepFailed> {
    let monitor = plan
        .steps
        .iter()
        .position(|s| matches!(s.action, crate::plan::Action::Monitor))
        .unwrap_or(plan.steps.len().saturating_sub(1));
    let mut logs = Logs::new(started, sink).map_err(|failure| StepFailed::at(monitor, failure))?;
    executor::run(plan, &mut logs, None, &mut |_, _| {})
}
