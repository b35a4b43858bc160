//! The launcher's side of the process model: clone the container's first process, write its
//! id maps, let it go, learn whether its steps and exec succeeded, then stay as its monitor:
//! forward signals, copy the terminal, and return how it ended.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use super::cgroups::Cgroup;
use super::child::{self, ChildContext};
use super::init::status_code;
use super::prepare::Prepared;
use super::sys::{self, Errno};
use super::tty::{self, RawMode};
use super::{Ended, RunError, StepFailed, channel};
use crate::plan::{Action, IdMap, Plan};

/// Signals sent to the launcher that reach the command.
pub(super) const FORWARDED: [libc::c_int; 7] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

fn step_index(plan: &Plan, pick: impl Fn(&Action) -> bool) -> usize {
    plan.steps.iter().position(|s| pick(&s.action)).unwrap_or(0)
}

fn monitor(what: &str) -> impl FnOnce(Errno) -> RunError + '_ {
    move |errno| RunError::Monitor {
        what: what.to_string(),
        errno,
    }
}

/// Kills and reaps the container's first process unless disarmed: no path out of `run`
/// leaves it behind.
struct ChildGuard {
    pid: libc::pid_t,
    armed: bool,
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = sys::kill(self.pid, libc::SIGKILL);
            let _ = sys::waitpid(self.pid, false);
        }
    }
}

/// What the launcher does while the container runs: in the foreground it forwards signals and
/// copies the terminal; a detached monitor records the container and copies its output to logs.
pub trait Watcher {
    /// Called once the command runs (its exec succeeded).
    fn started(&mut self, pid: libc::pid_t) -> Result<(), RunError>;
    /// Waits until the container's first process ends; returns its wait status.
    fn watch(
        &mut self,
        pid: libc::pid_t,
        signal_fd: OwnedFd,
        master: Option<OwnedFd>,
    ) -> Result<libc::c_int, RunError>;
}

/// `launcher up` in the foreground.
pub struct Foreground;

impl Watcher for Foreground {
    fn started(&mut self, _pid: libc::pid_t) -> Result<(), RunError> {
        Ok(())
    }

    fn watch(
        &mut self,
        pid: libc::pid_t,
        signal_fd: OwnedFd,
        master: Option<OwnedFd>,
    ) -> Result<libc::c_int, RunError> {
        watch(pid, signal_fd, master)
    }
}

pub fn run(plan: &Plan, prepared: &Prepared, watcher: &mut dyn Watcher) -> Result<Ended, RunError> {
    let (report_read, report_write) = sys::pipe().map_err(monitor("create the error channel"))?;
    let (go_read, go_write) = sys::pipe().map_err(monitor("create the start pipe"))?;
    let tty_sockets = if prepared.terminal {
        Some(sys::socketpair().map_err(monitor("create the terminal socket"))?)
    } else {
        None
    };
    let mut signals = FORWARDED.to_vec();
    signals.push(libc::SIGCHLD);
    // Blocked before the clone, so a signal that arrives while the container starts waits for
    // the monitor loop instead of killing the launcher.
    let signal_mask = sys::block_signals(&signals).map_err(monitor("block signals"))?;

    // The cgroup is made before the clone (a failure leaves no process to clean up) and
    // joined before the child runs its first step.
    let cgroup_step = step_index(plan, |a| matches!(a, Action::Cgroup(_)));
    let cgroup = match &prepared.cgroup {
        Some(limits) => Some(Cgroup::create(limits).map_err(|(errno, detail)| {
            RunError::Step(StepFailed {
                step: cgroup_step,
                errno,
                detail,
            })
        })?),
        None => None,
    };
    let namespaces_step = step_index(plan, |a| matches!(a, Action::Namespaces(_)));
    let pid = match sys::clone_process(prepared.clone_flags) {
        Ok(pid) => pid,
        Err(errno) => {
            return Err(RunError::Step(StepFailed {
                step: namespaces_step,
                errno,
                detail: "create the container's process in new namespaces (clone)".into(),
            }));
        }
    };
    if pid == 0 {
        let ctx = ChildContext {
            report: report_write.as_raw_fd(),
            go: go_read.as_raw_fd(),
            tty_socket: tty_sockets
                .as_ref()
                .map(|(_, child_end)| child_end.as_raw_fd()),
            signal_mask,
        };
        child::run(prepared, &ctx);
    }
    let mut guard = ChildGuard { pid, armed: true };
    drop(report_write);
    drop(go_read);
    let tty_socket = tty_sockets.map(|(parent_end, _child_end)| parent_end);

    if let Some((uid, gid, deny_setgroups)) = prepared.id_maps {
        let step = step_index(plan, |a| matches!(a, Action::IdMaps { .. }));
        write_id_maps(pid, uid, gid, deny_setgroups).map_err(|(errno, detail)| {
            RunError::Step(StepFailed {
                step,
                errno,
                detail,
            })
        })?;
    }
    if let Some(cgroup) = &cgroup {
        cgroup.join(pid).map_err(|(errno, detail)| {
            RunError::Step(StepFailed {
                step: cgroup_step,
                errno,
                detail,
            })
        })?;
    }
    sys::write_all(go_write.as_raw_fd(), b"g").map_err(monitor("start the container's process"))?;
    drop(go_write);

    let master = match &tty_socket {
        Some(socket) => {
            sys::recv_fd(socket.as_raw_fd()).map_err(monitor("receive the pseudo-terminal"))?
        }
        None => None,
    };
    drop(tty_socket);
    if let Some(failed) =
        channel::receive(report_read.as_raw_fd()).map_err(monitor("read the container's report"))?
    {
        return Err(RunError::Step(failed));
    }
    drop(report_read);
    watcher.started(pid)?;

    let signal_fd = sys::signalfd(&signals).map_err(monitor("create a signalfd"))?;
    let status = watcher.watch(pid, signal_fd, master)?;
    guard.armed = false;
    // Killed by SIGKILL with the kernel's OOM counter up: the memory limit did it.
    let killed = (libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL)
        || (libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 128 + libc::SIGKILL);
    if killed
        && let Some(cgroup) = &cgroup
        && cgroup.oom_kills() > 0
    {
        return Ok(Ended::OutOfMemory {
            limit: prepared.cgroup.as_ref().and_then(|c| c.memory),
        });
    }
    Ok(if libc::WIFSIGNALED(status) {
        Ended::Signaled(libc::WTERMSIG(status))
    } else {
        Ended::Exited(status_code(status))
    })
}

/// Writes `/proc/PID/{setgroups,uid_map,gid_map}` for the child's user namespace.
fn write_id_maps(
    pid: libc::pid_t,
    uid: IdMap,
    gid: IdMap,
    deny_setgroups: bool,
) -> Result<(), (Errno, String)> {
    let write = |file: &str, text: String| {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, text).map_err(|e| {
            (
                Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
                format!("write {path}"),
            )
        })
    };
    // Before gid_map: an unprivileged process may map its gid only once setgroups is denied
    // (CVE-2014-8989).
    if deny_setgroups {
        write("setgroups", "deny".into())?;
    }
    write(
        "uid_map",
        format!("{} {} {}\n", uid.inside, uid.outside, uid.count),
    )?;
    write(
        "gid_map",
        format!("{} {} {}\n", gid.inside, gid.outside, gid.count),
    )
}

/// The monitor loop: forwards signals, copies the terminal, returns the wait status.
fn watch(
    pid: libc::pid_t,
    signal_fd: OwnedFd,
    master: Option<OwnedFd>,
) -> Result<libc::c_int, RunError> {
    let stdin_is_tty = sys::isatty(0);
    let _raw = match &master {
        Some(_) if stdin_is_tty => {
            Some(RawMode::enter(0).map_err(monitor("put the terminal in raw mode"))?)
        }
        _ => None,
    };
    if let Some(master) = &master
        && stdin_is_tty
    {
        tty::sync_size(0, master);
    }
    let master_fd: RawFd = master.as_ref().map_or(-1, |m| m.as_raw_fd());
    let mut stdin_open = master.is_some();
    let mut master_open = master.is_some();
    loop {
        let mut fds = [
            poll_fd(signal_fd.as_raw_fd()),
            poll_fd(if master_open { master_fd } else { -1 }),
            poll_fd(if stdin_open { 0 } else { -1 }),
        ];
        match sys::poll(&mut fds, -1) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(errno) => {
                return Err(RunError::Monitor {
                    what: "wait for the container".into(),
                    errno,
                });
            }
        }
        if fds[1].revents != 0 && !tty::pump(master_fd, 1).unwrap_or(false) {
            master_open = false;
        }
        if fds[2].revents != 0 && !tty::pump(0, master_fd).unwrap_or(false) {
            stdin_open = false;
            // End of input: the terminal's end-of-file character, as a typed Ctrl-D would.
            let _ = sys::write_all(master_fd, b"\x04");
        }
        if fds[0].revents == 0 {
            continue;
        }
        let signal = sys::read_signal(signal_fd.as_raw_fd()).map_err(monitor("read a signal"))?;
        match signal {
            libc::SIGCHLD => {
                if let Some((_, status)) =
                    sys::waitpid(pid, true).map_err(monitor("wait for the container"))?
                {
                    if master_open {
                        drain(master_fd);
                    }
                    return Ok(status);
                }
            }
            // With a terminal, the kernel signals the container's foreground job itself.
            libc::SIGWINCH if master_open => {
                if let Some(master) = &master {
                    tty::sync_size(0, master);
                }
            }
            other => {
                let _ = sys::kill(pid, other);
            }
        }
    }
}

fn poll_fd(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// Copies what the container wrote to the terminal before it ended.
fn drain(master: RawFd) {
    loop {
        let mut fds = [poll_fd(master)];
        if !matches!(sys::poll(&mut fds, 0), Ok(1)) || !tty::pump(master, 1).unwrap_or(false) {
            return;
        }
    }
}
