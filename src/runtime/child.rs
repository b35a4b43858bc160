//! The container's first process: runs the plan's steps in order, then execs the command
//! (itself, or under the tiny init). On failure it reports the step to the parent and exits.

use std::os::fd::{AsFd, OwnedFd, RawFd};

use super::prepare::{ExecOp, Op, Prepared};
use super::rootfs::{self, Failure};
use super::sys::{self, Errno};
use super::{channel, init, mounts, security, tty};

/// What the child inherits from the parent, besides the plan.
pub struct ChildContext {
    /// Write end of the error channel (close-on-exec).
    pub report: RawFd,
    /// Read end of the go-ahead pipe: one byte once the parent wrote id maps and cgroups.
    pub go: RawFd,
    /// Our end of the socket the pseudo-terminal's master is sent over.
    pub tty_socket: Option<RawFd>,
    /// The signal mask to give the command.
    pub signal_mask: libc::sigset_t,
}

/// Exit status of a container process that failed a step before exec.
const SETUP_FAILED: i32 = 125;

/// Runs in the cloned process; never returns.
pub fn run(prepared: &Prepared, ctx: &ChildContext) -> ! {
    // If the launcher dies, so does the container: SIGKILL to our PID 1 ends the whole PID
    // namespace. A parent that died before this prctl is seen below as end of file on the
    // go-ahead pipe (getppid() is 0 in a new PID namespace, so it cannot tell).
    if sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong).is_err() {
        sys::exit_now(SETUP_FAILED);
    }
    // Nothing the launcher holds may reach the container, not even init, which never execs
    // (close-on-exec does not help there): a detached monitor's state lock and start-up pipe,
    // a host folder (CVE-2024-21626). Add a descriptor here when the child needs a new one.
    let keep = [
        0,
        1,
        2,
        ctx.report,
        ctx.go,
        ctx.tty_socket.unwrap_or(ctx.report),
    ];
    if sys::close_fds_except(&keep).is_err() {
        sys::exit_now(SETUP_FAILED);
    }
    // A session of our own: the host terminal's job control (Ctrl-C) reaches the launcher,
    // which forwards it, instead of reaching the container twice.
    let _ = sys::setsid();
    let mut go = [0u8; 1];
    if !matches!(sys::read(ctx.go, &mut go), Ok(1)) {
        sys::exit_now(SETUP_FAILED);
    }
    sys::close(ctx.go);
    // From here on this process may share namespaces with the container's: nothing in it may
    // open /proc/PID/exe, the launcher's binary (CVE-2019-5736). exec gives the command its
    // own dumpable state back.
    if sys::prctl(libc::PR_SET_DUMPABLE, 0).is_err() {
        sys::exit_now(SETUP_FAILED);
    }
    if prepared.cgroup_namespace
        && let Err(errno) = sys::unshare(libc::CLONE_NEWCGROUP)
    {
        let step = prepared
            .ops
            .iter()
            .position(|op| matches!(op, Op::Parent))
            .unwrap_or(0);
        channel::send(
            ctx.report,
            step,
            errno,
            "create the cgroup namespace (in the container's cgroup)",
        );
        sys::exit_now(SETUP_FAILED);
    }

    // The host paths the steps bind, opened before any mount changes what a path means.
    let mut host = Vec::with_capacity(prepared.host_paths.len());
    for path in &prepared.host_paths {
        match sys::open(&path.path, libc::O_PATH) {
            Ok(fd) => host.push(fd),
            Err(errno) => {
                channel::send(
                    ctx.report,
                    path.step,
                    errno,
                    &format!("open {}", path.shown),
                );
                sys::exit_now(SETUP_FAILED);
            }
        }
    }
    let mut root: Option<OwnedFd> = None;
    for (index, op) in prepared.ops.iter().enumerate() {
        if let Err((errno, detail)) = step(op, prepared, ctx, &host, &mut root) {
            channel::send(ctx.report, index, errno, &detail);
            sys::exit_now(SETUP_FAILED);
        }
        if let Op::Exec(exec) = op {
            let errno = exec_command(exec, prepared, ctx);
            channel::send(
                ctx.report,
                index,
                errno,
                &format!("execute {}", exec.path.to_string_lossy()),
            );
            sys::exit_now(exec_failure_code(errno));
        }
    }
    sys::exit_now(SETUP_FAILED)
}

fn exec_failure_code(errno: Errno) -> i32 {
    match errno {
        Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP => 127,
        _ => 126,
    }
}

fn no_root() -> Failure {
    (Errno::EBADF, "the new root is not bound yet".into())
}

fn step(
    op: &Op,
    prepared: &Prepared,
    ctx: &ChildContext,
    host: &[OwnedFd],
    root: &mut Option<OwnedFd>,
) -> Result<(), Failure> {
    match op {
        Op::Parent => Ok(()),
        Op::PrivatePropagation => rootfs::private_propagation(),
        Op::Rootfs { folder } => {
            let folder = folder.map(|i| (&prepared.host_paths[i], host[i].as_fd()));
            *root = Some(rootfs::bind_root(folder)?);
            Ok(())
        }
        Op::Mount(mount) => {
            let root = root.as_ref().ok_or_else(no_root)?;
            mounts::mount(root.as_fd(), mount, prepared, host)
        }
        Op::Dev(dev) => mounts::dev(root.as_ref().ok_or_else(no_root)?.as_fd(), dev, host),
        Op::LoopbackUp => {
            sys::loopback_up().map_err(|e| (e, "bring the loopback interface up".into()))
        }
        Op::PivotRoot { staged } => {
            let new_root = root.take().ok_or_else(no_root)?;
            rootfs::pivot_root(new_root.as_fd(), *staged)
        }
        Op::Terminal => match (prepared.terminal, ctx.tty_socket) {
            (true, Some(socket)) => tty::attach_in_container(socket, true),
            _ => Ok(()),
        },
        Op::ReadonlyRoot => rootfs::readonly_root(),
        Op::Hostname(name) => sys::sethostname(name).map_err(|e| {
            (
                e,
                format!("set the hostname to \"{}\"", String::from_utf8_lossy(name)),
            )
        }),
        Op::Workdir(dir) => {
            let shown = dir.to_string_lossy();
            sys::chdir(dir).map_err(|e| (e, format!("change folder to {shown}")))?;
            // CVE-2024-21626: a folder outside the root would show as "(unreachable)/...".
            match sys::cwd_is_reachable() {
                Ok(true) => Ok(()),
                Ok(false) => Err((
                    Errno::EPERM,
                    format!("the working folder {shown} lies outside the container"),
                )),
                Err(e) => Err((e, format!("check the working folder {shown}"))),
            }
        }
        Op::User {
            uid,
            gid,
            groups,
            set_groups,
        } => {
            // Keep the permitted capabilities across the uid change; the capabilities step
            // then reduces them to the container's set.
            sys::prctl(libc::PR_SET_KEEPCAPS, 1)
                .map_err(|e| (e, "keep capabilities across the uid change".into()))?;
            if *set_groups {
                sys::setgroups(groups)
                    .map_err(|e| (e, format!("set supplementary groups {groups:?}")))?;
            }
            sys::setresgid(*gid).map_err(|e| (e, format!("switch to gid {gid}")))?;
            sys::setresuid(*uid).map_err(|e| (e, format!("switch to uid {uid}")))?;
            // Changing credentials clears the parent-death signal; set it again.
            sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong)
                .map_err(|e| (e, "set the parent-death signal".into()))
        }
        Op::Mask(paths) => mounts::mask(root.as_ref().ok_or_else(no_root)?.as_fd(), paths),
        Op::Readonly(paths) => mounts::readonly(root.as_ref().ok_or_else(no_root)?.as_fd(), paths),
        Op::Rlimits(limits) => security::apply_rlimits(limits),
        Op::Capabilities(keep, last) => security::apply_capabilities(keep, *last),
        Op::NoNewPrivileges => security::apply_no_new_privileges(),
        Op::Seccomp(program) => security::apply_seccomp(program),
        Op::CloseFds => {
            sys::cloexec_from(3).map_err(|e| (e, "mark inherited descriptors close-on-exec".into()))
        }
        Op::Exec(_) => Ok(()),
    }
}

/// Execs the command, directly or under init. Returns only on failure.
fn exec_command(exec: &ExecOp, prepared: &Prepared, ctx: &ChildContext) -> Errno {
    let argv: Vec<*const libc::c_char> = exec
        .argv
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp: Vec<*const libc::c_char> = exec
        .envp
        .iter()
        .map(|e| e.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    if !exec.init {
        // Rust's runtime ignores SIGPIPE; the command must start with the defaults.
        sys::reset_signal_dispositions();
        if let Err(errno) = sys::set_signal_mask(&ctx.signal_mask) {
            return errno;
        }
        return sys::execve(&exec.path, &argv, &envp);
    }
    // Init: block every signal before the command starts, so none is lost before the loop;
    // the command gets the original mask back before exec. Default dispositions for both: an
    // ignored signal never reaches init's sigwaitinfo, and exec keeps it ignored.
    if let Err(errno) = sys::block_all_signals() {
        return errno;
    }
    sys::reset_signal_dispositions();
    let foreground = prepared.terminal || sys::isatty(0);
    let detail = format!("execute {}", exec.path.to_string_lossy());
    let step = prepared
        .ops
        .iter()
        .position(|op| matches!(op, Op::Exec(_)))
        .unwrap_or(0);
    // The command shares init's memory until it execs (no page tables copied): it only makes
    // system calls, and reports its own exec failure.
    let mut command = || -> libc::c_int {
        // Its own process group, in the foreground of the terminal.
        let _ = sys::setpgid(0, 0);
        if foreground {
            let _ = sys::tcsetpgrp(0, sys::getpid());
        }
        let errno = match sys::set_signal_mask(&ctx.signal_mask) {
            Ok(()) => sys::execve(&exec.path, &argv, &envp),
            Err(errno) => errno,
        };
        channel::send(ctx.report, step, errno, &detail);
        sys::exit_now(exec_failure_code(errno))
    };
    let mut stack = vec![0u8; 64 * 1024];
    match sys::spawn_shared(&mut command, &mut stack) {
        Err(errno) => errno,
        Ok(command) => {
            // Only the command's exec (or failure) may end the parent's wait on the channel.
            sys::close(ctx.report);
            init::run(command)
        }
    }
}
