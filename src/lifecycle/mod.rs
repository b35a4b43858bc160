//! Containers managed by name: `up -d`, `ps`, `stop`, `kill`, `rm`, `logs`, `inspect`,
//! `exec`, `wait`. Each command is a short function over the state records (`state`) and the
//! runtime's process handles (`runtime`); `main.rs` prints what they return.
//!
//! A record says what the monitor last wrote; the processes say what is true now. [`observe`]
//! joins the two, so a record whose processes are gone (a reboot, a killed monitor) is shown
//! as stopped, never as running.

mod control;
mod list;
mod logs;
mod start;

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use control::{ExecChanges, ExecJob, StopOutcome, exec, kill, remove, stop, wait};
pub use list::{Row, inspect, list, render_rows, rows_json};
pub use logs::{LOG_CAP, logs, logs_timed};
pub use start::{Started, start_again, terminal_refused, up_detached, up_foreground};

use crate::plan::Plan;
use crate::runtime::{StepFailed, errno_text, procfs};
use crate::state::{Record, State, StateError};
use crate::sys::Errno;

/// Why a lifecycle command failed.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    State(#[from] StateError),
    /// A flag of the command line that cannot be honoured (`exec -u nosuch`).
    #[error("{what}")]
    Usage { what: String, hint: String },
    #[error("no container named \"{name}\" (state folder {})", root.display())]
    NoSuchContainer { name: String, root: PathBuf },
    #[error("container \"{name}\" is already running (pid {pid}, from {})", file.display())]
    AlreadyRunning {
        name: String,
        pid: i32,
        file: PathBuf,
    },
    #[error("container \"{name}\" is not running (it is {state})")]
    NotRunning { name: String, state: &'static str },
    #[error("container \"{name}\" is running; `rm` removes stopped containers")]
    StillRunning { name: String },
    #[error("{what} container \"{name}\" (pid {pid}): {}", errno_text(*errno))]
    Signal {
        what: String,
        name: String,
        pid: i32,
        errno: Errno,
    },
    #[error("container \"{name}\" did not end {seconds} s after SIGKILL (pid {pid})")]
    Unkillable {
        name: String,
        pid: i32,
        seconds: u64,
    },
    #[error(
        "the exit status of container \"{name}\" is unknown: its monitor (pid {monitor}) was killed before it could record it"
    )]
    ExitUnknown { name: String, monitor: i32 },
    /// A step of the plan failed while the monitor started the container.
    #[error("step {} failed: {}", .0.step + 1, .0)]
    Step(StepFailed),
    /// The monitor failed before the container ran.
    #[error("the monitor of container \"{name}\" failed: {what}")]
    Monitor { name: String, what: String },
    /// A step of `launcher exec`'s plan failed.
    #[error("exec in container \"{name}\": {failed}")]
    Exec {
        name: String,
        plan: Box<Plan>,
        failed: StepFailed,
    },
    /// A foreground container's output goes to its terminal, not to logs.
    #[error(
        "container \"{name}\" runs in the foreground: its output goes to the terminal of its `launcher up` (pid {pid}), not to logs"
    )]
    NotLogged { name: String, pid: i32 },
    /// What a dead container left could not be removed.
    #[error("clean up after container \"{name}\": {what}")]
    Cleanup { name: String, what: String },
}

impl LifecycleError {
    /// What to try.
    pub fn hint(&self) -> String {
        match self {
            LifecycleError::Usage { hint, .. } => hint.clone(),
            LifecycleError::State(error) => error.hint(),
            LifecycleError::NoSuchContainer { .. } => {
                "`launcher ps -a` lists the containers; `--root DIR` reads another state folder".into()
            }
            LifecycleError::AlreadyRunning { name, .. } => format!(
                "stop it with `launcher stop {name}` (or `launcher rm -f {name}`), or give this one another `name`"
            ),
            LifecycleError::NotRunning { .. } => {
                "start it with `launcher up -d FILE`; `launcher ps -a` shows how it ended".into()
            }
            LifecycleError::StillRunning { name } => format!(
                "stop it first with `launcher stop {name}`, or stop and remove it with `launcher rm -f {name}`"
            ),
            LifecycleError::Signal { errno: Errno::EPERM, .. } => {
                "run as the user (or root) who started the container".into()
            }
            LifecycleError::Signal { .. } => "see the errno; `launcher inspect NAME` shows its processes".into(),
            LifecycleError::Unkillable { .. } => {
                "a process stuck in the kernel (state D, e.g. on a dead NFS mount) cannot die until that call returns; see `cat /proc/PID/stack`".into()
            }
            LifecycleError::ExitUnknown { name, .. } => {
                format!("`launcher rm {name}` removes the record; the container's processes are gone")
            }
            LifecycleError::Step(_) => "see the step above and the errno; `launcher plan` shows every step".into(),
            LifecycleError::Monitor { .. } => {
                "this is the launcher's own failure, not the container's; please report it".into()
            }
            LifecycleError::Exec { plan, failed, .. } => failed.hint(plan),
            LifecycleError::NotLogged { .. } => {
                "run it with `launcher up -d` to keep its output in logs; `launcher exec NAME -- ...` runs commands in it".into()
            }
            LifecycleError::Cleanup { .. } => {
                "remove what is left by hand (rmdir the cgroup folder once it is empty), then `launcher rm -f NAME`".into()
            }
        }
    }

    /// The exit status of the command that failed: Docker's 125 for the launcher's own
    /// failures, 126/127 when an exec'd program cannot run or is missing, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            LifecycleError::Exec { plan, failed, .. } => failed.exit_code(plan),
            LifecycleError::Step(_) | LifecycleError::Monitor { .. } => 125,
            LifecycleError::AlreadyRunning { .. } | LifecycleError::Usage { .. } => 125,
            _ => 1,
        }
    }
}

/// The state of a container as its processes show it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    pub state: State,
    /// The record said otherwise, and nobody is left to correct it: the monitor was killed
    /// (or the host rebooted) while the container ran.
    pub lost: bool,
}

/// Joins a record with the processes it names.
pub fn observe(record: &Record) -> Observed {
    let seen = |state, lost| Observed { state, lost };
    if record.state == State::Stopped {
        return seen(State::Stopped, false);
    }
    if record.boot_id != procfs::boot_id() {
        return seen(State::Stopped, true);
    }
    let monitor = procfs::is_alive(record.monitor_pid, record.monitor_start);
    match (container_alive(record), monitor) {
        (true, _) if record.state == State::Running => seen(State::Running, !monitor),
        (true, _) => seen(record.state, !monitor),
        // Being set up: there is no container process yet.
        (false, true) if record.state != State::Running => seen(record.state, false),
        // It has just ended: the monitor is about to record how.
        (false, true) => seen(State::Stopped, false),
        (false, false) => seen(State::Stopped, true),
    }
}

/// Whether a process of the container is still there: its first one, or, without a PID
/// namespace (where its death does not end the others), any process of its session.
fn container_alive(record: &Record) -> bool {
    let (Some(pid), Some(start)) = (record.pid, record.pid_start) else {
        return false;
    };
    procfs::is_alive(pid, start)
        || (!record.pid_namespace && !procfs::session_members(pid, start).is_empty())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as u64
}
