//! `launcher exec`: a new process in a running container.
//!
//! The launcher joins the namespaces of the container's first process through a pidfd, all at
//! once and the user namespace first (`setns(2)`), then forks, because a PID namespace applies
//! to children only. The child takes the container's working folder, user and environment and
//! execs; the launcher stays outside the container's PID namespace as the process's monitor:
//! it forwards signals, copies the terminal (`-t`) and returns how the process ended.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use super::process::{FORWARDED, Foreground, Watcher};
use super::sys::{self, Errno};
use super::{Ended, channel, errno_text, init::status_code, procfs, security};
use crate::plan::JoinSpec;

/// Which process to run where.
pub struct ExecRequest<'a> {
    /// The container's first process, and its start time (from the record).
    pub pid: libc::pid_t,
    pub start: u64,
    pub join: &'a JoinSpec,
    /// The program (searched in the container's `PATH` when it has no `/`) and its arguments.
    pub args: &'a [String],
    /// A pseudo-terminal from the container's devpts.
    pub tty: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The container's first process has ended.
    #[error("the container's first process (pid {pid}) has ended")]
    Gone { pid: libc::pid_t },
    /// Joining the container failed, in the launcher.
    #[error("{what}: {}", errno_text(*errno))]
    Join { what: String, errno: Errno },
    /// The new process could not be set up inside the container.
    #[error("{what}: {}", errno_text(*errno))]
    Setup { what: String, errno: Errno },
    /// The program could not be executed.
    #[error("execute {program}: {}", errno_text(*errno))]
    Command { program: String, errno: Errno },
}

impl ExecError {
    /// 127 when the program was not found, 126 when it cannot be run, 125 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            ExecError::Command { errno, .. } => exec_failure_code(*errno) as u8,
            _ => 125,
        }
    }

    pub fn hint(&self) -> String {
        match self {
            ExecError::Gone { .. } => "the container has stopped: `launcher ps -a` shows how it ended".into(),
            ExecError::Command { errno: Errno::ENOENT | Errno::ENOTDIR, .. } => {
                "the program is not in the container: give its full path, or check the container's PATH (`launcher inspect NAME`)".into()
            }
            ExecError::Command { .. } => "make the program executable (chmod +x) and check its format matches this machine".into(),
            ExecError::Join { errno: Errno::EPERM, .. } => {
                "joining needs the rights that started the container: run as the user (or root) who ran `launcher up -d`".into()
            }
            _ => "see the errno above; `launcher inspect NAME` shows the container's settings".into(),
        }
    }
}

/// The namespaces a process can join, with the name of their file in /proc/PID/ns. The user
/// namespace comes first, as setns(2) with a pidfd applies it first.
const NAMESPACES: [(&str, libc::c_int); 7] = [
    ("user", libc::CLONE_NEWUSER),
    ("mnt", libc::CLONE_NEWNS),
    ("uts", libc::CLONE_NEWUTS),
    ("ipc", libc::CLONE_NEWIPC),
    ("net", libc::CLONE_NEWNET),
    ("pid", libc::CLONE_NEWPID),
    ("cgroup", libc::CLONE_NEWCGROUP),
];

/// Runs `request.args` in the container until it ends.
pub fn exec(request: &ExecRequest) -> Result<Ended, ExecError> {
    let join = |what: &str| {
        let what = what.to_string();
        move |errno| ExecError::Join { what, errno }
    };
    // The child runs the launcher's code inside the container until it execs: nothing there
    // may open /proc/PID/exe, the launcher's binary (CVE-2019-5736).
    sys::prctl(libc::PR_SET_DUMPABLE, 0).map_err(join("make the launcher non-dumpable"))?;
    // The cgroup files are opened while the host's /sys/fs/cgroup is still in view; the
    // process writes itself into them, and they are closed before exec.
    let cgroup_procs = request
        .join
        .cgroups
        .iter()
        .map(|dir| {
            let file = format!("{dir}/cgroup.procs");
            sys::cstring(&file)
                .and_then(|path| sys::open(&path, libc::O_WRONLY))
                .map_err(|errno| ExecError::Join {
                    what: format!("open {file}"),
                    errno,
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    join_namespaces(request)?;

    let mut prepared = Prepared::new(request).map_err(join("prepare the command"))?;
    prepared.cgroup_procs = cgroup_procs;
    let (report_read, report_write) = sys::pipe().map_err(join("create the error channel"))?;
    let sockets = match request.tty {
        true => Some(sys::socketpair().map_err(join("create the terminal socket"))?),
        false => None,
    };
    let mut signals = FORWARDED.to_vec();
    signals.push(libc::SIGCHLD);
    let mask = sys::block_signals(&signals).map_err(join("block signals"))?;
    let pid = sys::fork().map_err(join("fork the process to run"))?;
    if pid == 0 {
        let socket = sockets.as_ref().map(|(_, child)| child.as_raw_fd());
        child(&prepared, request, report_write.as_raw_fd(), socket, &mask);
    }
    let mut guard = Reaper { pid, armed: true };
    drop(report_write);
    let socket = sockets.map(|(parent, _child)| parent);
    let master = match &socket {
        Some(socket) => sys::recv_fd(socket.as_raw_fd()).map_err(join("receive the terminal"))?,
        None => None,
    };
    drop(socket);
    if let Some(failed) =
        channel::receive(report_read.as_raw_fd()).map_err(join("read the process's report"))?
    {
        return Err(match failed.step {
            EXEC_STEP => ExecError::Command {
                program: request.args.first().cloned().unwrap_or_default(),
                errno: failed.errno,
            },
            _ => ExecError::Setup {
                what: failed.detail,
                errno: failed.errno,
            },
        });
    }
    let signal_fd = sys::signalfd(&signals).map_err(join("create a signalfd"))?;
    let status = Foreground
        .watch(pid, signal_fd, master)
        .map_err(|error| ExecError::Setup {
            what: error.to_string(),
            errno: Errno::EIO,
        })?;
    guard.armed = false;
    Ok(if libc::WIFSIGNALED(status) {
        Ended::Signaled(libc::WTERMSIG(status))
    } else {
        Ended::Exited(status_code(status))
    })
}

/// Joins the container's namespaces through a pidfd of its first process. setns(2) with a
/// pidfd needs ptrace access to that process, which a non-dumpable init (init.rs) refuses to
/// a caller without CAP_SYS_PTRACE on the host, that is, rootless: then the oldest child of
/// init, the command, which shares all its namespaces, serves instead.
fn join_namespaces(request: &ExecRequest) -> Result<(), ExecError> {
    // Only the namespaces the container has of its own: joining one's own user namespace is
    // an error, and joining the host's network namespace from a user namespace is refused.
    let flags = NAMESPACES
        .iter()
        .filter(|(name, _)| request.join.namespaces.iter().any(|n| n == name))
        .fold(0, |flags, (_, flag)| flags | flag);
    let failed = |pid: libc::pid_t| {
        move |errno| ExecError::Join {
            what: format!("join the namespaces of the container's process {pid}"),
            errno,
        }
    };
    let first = pinned(request.pid, request.start)?.ok_or(ExecError::Gone { pid: request.pid })?;
    match sys::setns(first.as_fd(), flags) {
        Err(Errno::EPERM) => {}
        other => return other.map_err(failed(request.pid)),
    }
    let oldest_child = procfs::children(request.pid)
        .into_iter()
        .min_by_key(|&(_, start)| start);
    let Some((child, start)) = oldest_child else {
        return Err(failed(request.pid)(Errno::EPERM));
    };
    let Some(child_fd) = pinned(child, start)? else {
        return Err(ExecError::Gone { pid: request.pid });
    };
    sys::setns(child_fd.as_fd(), flags).map_err(failed(child))
}

/// A pidfd of `pid` if it still is the process that started at `start`.
fn pinned(pid: libc::pid_t, start: u64) -> Result<Option<OwnedFd>, ExecError> {
    let fd = match sys::pidfd_open(pid) {
        Ok(fd) => fd,
        Err(Errno::ESRCH) => return Ok(None),
        Err(errno) => {
            return Err(ExecError::Join {
                what: format!("open a pidfd for the container's process {pid}"),
                errno,
            });
        }
    };
    // The pidfd pins the process: if it matches now, it is the one the record names.
    Ok(procfs::is_alive(pid, start).then_some(fd))
}

/// The child's report: step 0 is the set-up, step 1 the exec itself.
const SETUP_STEP: usize = 0;
const EXEC_STEP: usize = 1;

/// C strings made before the fork.
struct Prepared {
    workdir: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    /// Where to look for the program: itself when it has a `/`, else each folder of `PATH`.
    candidates: Vec<CString>,
    /// `cgroup.procs` of each of the container's cgroup folders, open for writing.
    cgroup_procs: Vec<OwnedFd>,
    rlimits: Vec<(libc::__rlimit_resource_t, libc::rlimit)>,
    capabilities: caps::CapsHashSet,
    seccomp: Vec<libc::sock_filter>,
}

impl Prepared {
    fn new(request: &ExecRequest) -> Result<Prepared, Errno> {
        let program = request.args.first().ok_or(Errno::EINVAL)?;
        let path = request
            .join
            .env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map_or("/usr/bin:/bin", |(_, v)| v.as_str());
        let candidates = if program.contains('/') {
            vec![sys::cstring(program)?]
        } else {
            path.split(':')
                .filter(|dir| !dir.is_empty())
                .map(|dir| sys::cstring(format!("{}/{program}", dir.trim_end_matches('/'))))
                .collect::<Result<_, _>>()?
        };
        Ok(Prepared {
            workdir: sys::cstring(&request.join.workdir)?,
            argv: request
                .args
                .iter()
                .map(sys::cstring)
                .collect::<Result<_, _>>()?,
            envp: request
                .join
                .env
                .iter()
                .map(|(k, v)| sys::cstring(format!("{k}={v}")))
                .collect::<Result<_, _>>()?,
            candidates,
            cgroup_procs: Vec::new(),
            rlimits: security::rlimits(&request.join.rlimits),
            capabilities: security::capability_set(&request.join.capabilities),
            seccomp: security::bpf_program(&hex(&request.join.seccomp).ok_or(Errno::EINVAL)?),
        })
    }
}

fn hex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Kills and reaps the process unless disarmed.
struct Reaper {
    pid: libc::pid_t,
    armed: bool,
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if self.armed {
            let _ = sys::kill(self.pid, libc::SIGKILL);
            let _ = sys::waitpid(self.pid, false);
        }
    }
}

/// In the forked process, inside the container's namespaces; never returns.
fn child(
    prepared: &Prepared,
    request: &ExecRequest,
    report: RawFd,
    socket: Option<RawFd>,
    mask: &libc::sigset_t,
) -> ! {
    let fail = |(errno, what): (Errno, String)| -> ! {
        channel::send(report, SETUP_STEP, errno, &what);
        sys::exit_now(125)
    };
    if let Err(failure) = set_up(prepared, request.join, socket) {
        fail(failure);
    }
    if let Err(errno) = sys::set_signal_mask(mask) {
        fail((errno, "restore the signal mask".into()));
    }
    sys::reset_signal_dispositions();
    let argv: Vec<*const libc::c_char> = pointers(&prepared.argv);
    let envp: Vec<*const libc::c_char> = pointers(&prepared.envp);
    // As execvp does: the first folder of PATH that has it; "cannot run" beats "not found".
    let mut error = Errno::ENOENT;
    for candidate in &prepared.candidates {
        match sys::execve(candidate, &argv, &envp) {
            Errno::ENOENT | Errno::ENOTDIR => {}
            Errno::EACCES => error = Errno::EACCES,
            other => {
                error = other;
                break;
            }
        }
    }
    channel::send(report, EXEC_STEP, error, "execute");
    sys::exit_now(exec_failure_code(error))
}

fn pointers(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

fn exec_failure_code(errno: Errno) -> i32 {
    match errno {
        Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP => 127,
        _ => 126,
    }
}

type Failure = (Errno, String);

/// The container's terminal, folder, limits, user and security, in DESIGN.md §4 order.
fn set_up(prepared: &Prepared, join: &JoinSpec, socket: Option<RawFd>) -> Result<(), Failure> {
    let at = |what: &str| {
        let what = what.to_string();
        move |errno| (errno, what)
    };
    // Ends with the launcher, as the container does; our own session keeps the host
    // terminal's Ctrl-C for the launcher, which forwards it.
    sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong)
        .map_err(at("set the parent-death signal"))?;
    let _ = sys::setsid();
    if let Some(socket) = socket {
        super::tty::attach_in_container(socket, false)?;
    }
    let shown = join.workdir.as_str();
    sys::chdir(&prepared.workdir).map_err(at(&format!("change folder to {shown}")))?;
    if !sys::cwd_is_reachable().map_err(at(&format!("check the working folder {shown}")))? {
        return Err((
            Errno::EPERM,
            format!("the working folder {shown} lies outside the container"),
        ));
    }
    confine_before_user(prepared)?;
    // Without no_new_privs, loading the filter needs CAP_SYS_ADMIN in the effective set,
    // which a non-root user loses with its uid: load it first then.
    if !join.no_new_privileges {
        security::apply_seccomp(&prepared.seccomp)?;
    }
    if join.set_groups {
        sys::setgroups(&join.groups)
            .map_err(at(&format!("set supplementary groups {:?}", join.groups)))?;
    }
    sys::setresgid(join.gid).map_err(at(&format!("switch to gid {}", join.gid)))?;
    sys::setresuid(join.uid).map_err(at(&format!("switch to uid {}", join.uid)))?;
    // Changing credentials clears the parent-death signal; set it again.
    sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong)
        .map_err(at("set the parent-death signal"))?;
    confine_after_user(prepared, join)?;
    sys::cloexec_from(3).map_err(at("mark inherited descriptors close-on-exec"))
}

/// What the container's first process got before its user changed: its cgroup and rlimits,
/// so an exec'd process counts against the same limits.
fn confine_before_user(prepared: &Prepared) -> Result<(), Failure> {
    for procs in &prepared.cgroup_procs {
        // "0" is the writing process itself, whatever its pid looks like from here.
        sys::write_all(procs.as_raw_fd(), b"0")
            .map_err(|e| (e, "join the container's cgroup".to_string()))?;
    }
    security::apply_rlimits(&prepared.rlimits)?;
    // Keep the permitted capabilities across the uid change, to reduce them after it.
    sys::prctl(libc::PR_SET_KEEPCAPS, 1)
        .map_err(|e| (e, "keep capabilities across the uid change".to_string()))
}

/// Capabilities, no_new_privs and seccomp, as the container's command got them: the filter
/// last (or, with no_new_privs off, before the user changed: see the caller).
fn confine_after_user(prepared: &Prepared, join: &JoinSpec) -> Result<(), Failure> {
    security::apply_capabilities(&prepared.capabilities, security::last_capability())?;
    if join.no_new_privileges {
        security::apply_no_new_privileges()?;
        security::apply_seccomp(&prepared.seccomp)?;
    }
    Ok(())
}
