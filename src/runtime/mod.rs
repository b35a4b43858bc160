//! The executor: the only module that changes the system. It runs the plan's steps in order,
//! the first ones in the parent (namespaces, id maps), the rest in the container's first
//! process, and stays as the container's monitor until the command ends.

mod cgroups;
mod channel;
mod child;
pub mod detach;
pub mod exec;
pub mod handle;
mod init;
mod mounts;
mod prepare;
mod process;
pub mod procfs;
mod rootfs;
mod security;
pub mod sys;
mod tty;

use std::fmt;

use crate::plan::Plan;

pub use cgroups::remove_leftovers as remove_leftover_cgroups;
pub use security::rlimit_resource;
pub use sys::Errno;

/// A step that failed, as reported by the process that ran it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepFailed {
    /// Index into `plan.steps`.
    pub step: usize,
    pub errno: Errno,
    /// What was being done, to which path ("attach tmpfs on /scratch").
    pub detail: String,
}

/// Why `up` could not run the container to its end.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A step of the plan failed.
    #[error("step {} failed: {}: {}", .0.step + 1, .0.detail, errno_text(.0.errno))]
    Step(StepFailed),
    /// The monitor itself failed (waiting, reading the child's report, the terminal).
    #[error("{what}: {}", errno_text(*errno))]
    Monitor { what: String, errno: Errno },
}

/// "No such file or directory (ENOENT)".
pub fn errno_text(errno: Errno) -> String {
    format!("{} ({errno:?})", errno.desc())
}

impl StepFailed {
    /// The exit status Docker gives: 127 when the command was not found, 126 when it cannot
    /// be run, 125 for every other failure of the launcher.
    pub fn exit_code(&self, plan: &Plan) -> u8 {
        let is_exec = matches!(
            plan.steps.get(self.step).map(|s| &s.action),
            Some(crate::plan::Action::Exec(_))
        );
        match (is_exec, self.errno) {
            (true, Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP) => 127,
            (
                true,
                Errno::EACCES | Errno::ENOEXEC | Errno::EPERM | Errno::EISDIR | Errno::ETXTBSY,
            ) => 126,
            _ => 125,
        }
    }

    /// What to try, chosen by errno.
    pub fn hint(&self, plan: &Plan) -> String {
        let is_exec = self.exit_code(plan) != 125;
        match self.errno {
            Errno::ENOENT if is_exec => "the command, its #! interpreter or its ELF loader is missing in the container; `launcher check` tells which".into(),
            Errno::EACCES | Errno::ENOEXEC if is_exec => "make the command executable (chmod +x) and check its format matches this machine".into(),
            Errno::EPERM => "needs root or a user namespace: run as root, or leave `namespaces.user` at \"auto\"".into(),
            Errno::EACCES => "permission denied: check the owner and mode of the path (rootless runs need a root filesystem the user owns)".into(),
            Errno::ENOENT => "a path is missing: it may have been removed after `launcher check`; check it again".into(),
            Errno::EROFS => "the file system is read-only here: with `rootfs.host` or `readonly`, mount onto folders that exist, or under /tmp".into(),
            Errno::EINVAL => "the kernel refused the arguments: check the key's value (size, mode, type), or that this kernel supports it".into(),
            Errno::ENOSPC => "out of space or a kernel limit (e.g. user.max_user_namespaces) was reached".into(),
            Errno::ENOTDIR => "a part of the path is a file, not a folder: change the path, or move that file out of the way in the root filesystem".into(),
            Errno::EBUSY => "the target is busy: is something else mounted there?".into(),
            Errno::ENOSYS => "this kernel lacks the system call (the launcher needs Linux 5.12 or newer)".into(),
            _ => "see the step above and the errno; `launcher plan` shows every step".into(),
        }
    }
}

impl fmt::Display for StepFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.detail, errno_text(self.errno))
    }
}

/// How the container ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The command exited with this code.
    Exited(i32),
    /// The command (or the container's init) was killed by this signal.
    Signaled(i32),
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
            Ended::Signaled(signal) => (128 + signal).min(255) as u8,
            Ended::OutOfMemory { .. } => 128 + libc::SIGKILL as u8,
        }
    }
}

/// Runs the checked plan in the foreground: stdio is the container's (or a pseudo-terminal),
/// signals sent to the launcher reach the command, and the call returns when it ends.
pub fn up(plan: &Plan) -> Result<Ended, RunError> {
    let prepared = prepare::prepare(plan)?;
    process::run(plan, &prepared, &mut process::Foreground)
}
