//! The runtime's one error type: the step that failed, what was being done to which path, the
//! errno; and, in one place, the hint and the exit status chosen from them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::plan::{Action, Plan, Program};
use crate::sys::Errno;

/// What was being done, to which path, and why it failed: the result of every action the
/// executor takes. The step it belongs to is added by the loop that ran it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub errno: Errno,
    /// "attach tmpfs on /scratch", "write /proc/42/uid_map".
    pub what: String,
    /// What to try, when the part of the crate that failed knows better than the errno
    /// (the network library); `None`: [`StepFailed::hint`] chooses.
    pub hint: Option<String>,
}

impl Failure {
    pub fn new(errno: Errno, what: impl Into<String>) -> Self {
        Failure {
            errno,
            what: what.into(),
            hint: None,
        }
    }

    /// A network step's failure: the library's message, errno and hint.
    pub fn network(error: crate::network::NetworkError) -> Failure {
        Failure {
            errno: Errno::from_raw(error.errno()),
            what: error.to_string(),
            hint: Some(error.hint()),
        }
    }

    /// A closure for `map_err` that names the action.
    pub fn of(what: impl Into<String>) -> impl FnOnce(Errno) -> Failure {
        let what = what.into();
        move |errno| Failure {
            errno,
            what,
            hint: None,
        }
    }

    /// From an `io::Error` of std (file writes in the parent).
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Failure {
        let what = what.into();
        move |error| Failure {
            errno: Errno::from_raw(error.raw_os_error().unwrap_or(libc::EIO)),
            what,
            hint: None,
        }
    }
}

/// A step of the plan that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("step {} failed: {}: {}", .step + 1, .detail, errno_text(*.errno))]
pub struct StepFailed {
    /// Index into `plan.steps`.
    pub step: usize,
    #[serde(with = "errno_number")]
    pub errno: Errno,
    /// What was being done, to which path ("attach tmpfs on /scratch").
    pub detail: String,
    /// What to try, when the failure brought its own (see [`Failure::hint`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl StepFailed {
    pub fn at(step: usize, failure: Failure) -> Self {
        StepFailed {
            step,
            errno: failure.errno,
            detail: failure.what,
            hint: failure.hint,
        }
    }

    /// The exit status Docker gives: 127 when the command was not found, 126 when it cannot
    /// be run, 125 for every other failure of the launcher. The only such mapping.
    pub fn exit_code(&self, plan: &Plan) -> u8 {
        match plan.steps.get(self.step).map(|s| &s.action) {
            Some(Action::Exec(_)) => exec_exit_code(self.errno),
            _ => 125,
        }
    }

    /// What to try, chosen by the step and the errno.
    pub fn hint(&self, plan: &Plan) -> String {
        if let Some(hint) = &self.hint {
            return hint.clone();
        }
        let action = plan.steps.get(self.step).map(|s| &s.action);
        if let Some(Action::Exec(exec)) = action {
            let searched = matches!(exec.program, Program::Search { .. });
            return match exec_exit_code(self.errno) {
                127 if searched => "the program is not in the container: give its full path, or check the container's PATH (`launcher inspect NAME`)".into(),
                127 => "the command, its #! interpreter or its ELF loader is missing in the container; `launcher check` tells which".into(),
                _ if self.errno == Errno::E2BIG => "the arguments and environment are too long for one exec: shorten them".into(),
                _ => "make the command executable (chmod +x) and check its format matches this machine".into(),
            };
        }
        if let (Some(Action::JoinNamespaces { .. }), Errno::ESRCH) = (action, self.errno) {
            return "the container has stopped: `launcher ps -a` shows how it ended".into();
        }
        if let (Some(Action::JoinNamespaces { .. }), Errno::EPERM) = (action, self.errno) {
            return "joining needs the rights that started the container: run as the user (or root) who ran `launcher up`".into();
        }
        if let (Some(Action::CgroupCreate(_)), Errno::EBUSY) = (action, self.errno) {
            return format!(
                "stop it with `launcher stop {name}` (add `--root DIR` if it was started with another state folder; `launcher ps` there lists it), or give this one another `name`",
                name = plan.name
            );
        }
        if let Some(Action::Monitor | Action::Start) = action {
            return "this is the launcher's own failure, not the container's; please report it"
                .into();
        }
        match self.errno {
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

/// The status of a failed exec: 127 when the program (or its interpreter) was not found, 126
/// when it cannot be run.
pub fn exec_exit_code(errno: Errno) -> u8 {
    match errno {
        Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP => 127,
        _ => 126,
    }
}

/// "No such file or directory (ENOENT)".
pub fn errno_text(errno: Errno) -> String {
    format!("{} ({errno:?})", errno.desc())
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, errno_text(self.errno))
    }
}

mod errno_number {
    use super::Errno;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(errno: &Errno, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i32(*errno as i32)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Errno, D::Error> {
        Ok(Errno::from_raw(i32::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_failures_map_to_docker_statuses_and_agree_everywhere() {
        assert_eq!(exec_exit_code(Errno::ENOENT), 127);
        assert_eq!(exec_exit_code(Errno::ELOOP), 127);
        assert_eq!(exec_exit_code(Errno::EACCES), 126);
        assert_eq!(exec_exit_code(Errno::E2BIG), 126);
        assert_eq!(exec_exit_code(Errno::ENOEXEC), 126);
    }
}
