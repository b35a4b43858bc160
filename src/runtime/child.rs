//! The container's process: the second half of the clone step (parent-death signal, wait for
//! the go-ahead), then every step of the plan that is not the parent's, in order, up to exec
//! (itself, or under init). On failure it reports the step to the launcher and exits.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use super::channel::{self, Trace};
use super::error::Failure;
use super::ops::{ExecOp, Op, Ops};
use super::{init, mounts, rootfs, security, tty};
use crate::plan::{Plan, Side};
use crate::sys::{self, Errno};

/// What the container's process gets from the launcher, besides the plan: its own copies of
/// the descriptors (the launcher's ends are closed in it before this is made).
pub struct ChildContext {
    /// Write end of the channel (close-on-exec).
    pub report: OwnedFd,
    /// Read end of the go-ahead pipe: one byte, or end of file if the launcher died.
    pub go: OwnedFd,
    /// Our end of the socket the pseudo-terminal's master is sent over.
    pub tty_socket: Option<OwnedFd>,
    /// Our end of the socket idmapped mounts come over (`remap`).
    pub mounts_socket: Option<OwnedFd>,
    /// The signal mask to give the command.
    pub signal_mask: libc::sigset_t,
    /// Write end of the pipe init tells the command's wait status over (close-on-exec: the
    /// command never holds it). The launcher cannot wait for the command itself, and init's
    /// own exit status cannot say "killed by signal N".
    pub status: OwnedFd,
}

/// Exit status of a container process that failed a step before exec.
const SETUP_FAILED: i32 = 125;

/// The state the steps build up in the container's process.
struct Child<'a> {
    ops: &'a Ops,
    /// `None` once the process has detached (the launcher has gone on without it).
    report: Option<OwnedFd>,
    /// Until the terminal step sends the pseudo-terminal over it.
    tty_socket: Option<OwnedFd>,
    /// Until the open-host-paths step has received the idmapped mounts.
    mounts_socket: Option<OwnedFd>,
    signal_mask: libc::sigset_t,
    status: OwnedFd,
    /// The host paths, opened by the open-host-paths step.
    host: Vec<OwnedFd>,
    /// The idmapped copies of host paths (by host index), attached in place of a bind.
    idmapped: Vec<Option<OwnedFd>>,
    /// The overlay of idmapped layers the launcher made (`remap` with an image).
    overlay: Option<OwnedFd>,
    /// The new root's mount, from the root filesystem step until pivot_root.
    root: Option<OwnedFd>,
    trace: Trace,
}

/// Runs in the cloned process from step `first` on; never returns.
pub fn run(plan: &Plan, ops: &Ops, ctx: ChildContext, first: usize, trace: Trace) -> ! {
    // If the launcher dies, so does the container: SIGKILL to our PID 1 ends the whole PID
    // namespace. A launcher that died before this prctl is seen below as end of file on the
    // go-ahead pipe (getppid() is 0 in a new PID namespace, so it cannot tell).
    if sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong).is_err() {
        sys::exit_now(SETUP_FAILED);
    }
    let mut go = [0u8; 1];
    if !matches!(sys::read(ctx.go.as_raw_fd(), &mut go), Ok(1)) {
        sys::exit_now(SETUP_FAILED);
    }
    drop(ctx.go);
    let mut child = Child {
        ops,
        report: Some(ctx.report),
        tty_socket: ctx.tty_socket,
        mounts_socket: ctx.mounts_socket,
        signal_mask: ctx.signal_mask,
        status: ctx.status,
        host: Vec::with_capacity(ops.host_paths.len()),
        idmapped: Vec::new(),
        overlay: None,
        root: None,
        trace,
    };
    for (index, (step, op)) in plan.steps.iter().zip(&ops.ops).enumerate().skip(first) {
        if step.side == Side::Parent {
            continue;
        }
        match op {
            Op::Init => child.become_init(index),
            Op::Exec(exec) => child.exec(index, exec),
            _ => {}
        }
        if let Op::Detach(fifo) = op {
            child.trace.record(index);
            if let Err(failure) = child.detach(*fifo) {
                child.fail(index, failure);
            }
            continue;
        }
        if let Err(failure) = child.step(op) {
            child.fail(index, failure);
        }
        child.trace.record(index);
    }
    sys::exit_now(SETUP_FAILED)
}

impl Child<'_> {
    fn fail(&self, index: usize, failure: Failure) -> ! {
        channel::send_trace(self.report_fd(), &self.trace);
        channel::send_failure(self.report_fd(), index, failure.errno, &failure.what);
        sys::exit_now(SETUP_FAILED)
    }

    /// The channel to the launcher; -1 (writes fail) once detached.
    fn report_fd(&self) -> std::os::fd::RawFd {
        self.report.as_ref().map_or(-1, AsRawFd::as_raw_fd)
    }

    /// Outlives the launcher: no parent-death signal, the report sent and the channel closed
    /// (end of file: the launcher's create is done); then, with a FIFO, blocks until `start`
    /// opens it for reading, through /proc/self/fd (the host path is out of view since
    /// pivot_root), and tells it so with one byte.
    fn detach(&mut self, fifo: Option<usize>) -> Result<(), Failure> {
        sys::prctl(libc::PR_SET_PDEATHSIG, 0)
            .map_err(Failure::of("clear the parent-death signal"))?;
        channel::send_trace(self.report_fd(), &self.trace);
        self.report = None;
        let Some(fifo) = fifo else { return Ok(()) };
        let path = format!("/proc/self/fd/{}", self.host[fifo].as_raw_fd());
        let shown = &self.ops.host_paths[fifo].shown;
        let fd = sys::cstring(&path)
            .and_then(|c| sys::open(&c, libc::O_WRONLY))
            .map_err(Failure::of(format!("open the start FIFO {shown}")))?;
        sys::write_all(fd.as_raw_fd(), b"0")
            .map_err(Failure::of(format!("write to the start FIFO {shown}")))
    }

    fn root(&self) -> Result<std::os::fd::BorrowedFd<'_>, Failure> {
        self.root
            .as_ref()
            .map(|r| r.as_fd())
            .ok_or_else(|| Failure::new(Errno::EBADF, "the new root is not bound yet"))
    }

    fn step(&mut self, op: &Op) -> Result<(), Failure> {
        let ops = self.ops;
        match op {
            Op::Prologue => {
                // Nothing the launcher holds may reach the container, not even init, which
                // never execs (close-on-exec does not help there): a detached monitor's state
                // lock and start-up pipe, a host folder (CVE-2024-21626).
                let report = self.report_fd();
                let tty = self.tty_socket.as_ref().map_or(report, AsRawFd::as_raw_fd);
                let mounts = self
                    .mounts_socket
                    .as_ref()
                    .map_or(report, AsRawFd::as_raw_fd);
                let keep = [0, 1, 2, report, tty, self.status.as_raw_fd(), mounts];
                sys::close_fds_except(&keep).map_err(Failure::of(
                    "close the descriptors inherited from the launcher",
                ))?;
                // A session of our own: the host terminal's job control (Ctrl-C) reaches the
                // launcher, which forwards it, instead of reaching the container twice.
                let _ = sys::setsid();
                // From here on this process may share namespaces with the container's: nothing
                // in it may open /proc/PID/exe, the launcher's binary (CVE-2019-5736). exec
                // gives the command its own dumpable state back.
                sys::prctl(libc::PR_SET_DUMPABLE, 0)
                    .map_err(Failure::of("make the process non-dumpable"))
            }
            Op::NamespaceRoot => security::switch_user(0, 0, &[], true, self.report.is_some()),
            Op::JoinNamespace(path, kind) => {
                let shown = path.to_string_lossy();
                let fd = sys::open(path, libc::O_RDONLY)
                    .map_err(Failure::of(format!("open the namespace {shown}")))?;
                sys::setns(fd.as_fd(), *kind)
                    .map_err(Failure::of(format!("join the namespace {shown} (setns)")))
            }
            Op::Sysctl(values) => {
                for (file, value) in values {
                    std::fs::write(file, value)
                        .map_err(Failure::io(format!("write {value} to {}", file.display())))?;
                }
                Ok(())
            }
            Op::CgroupNamespace => sys::unshare(libc::CLONE_NEWCGROUP).map_err(Failure::of(
                "create the cgroup namespace (in the container's cgroup)",
            )),
            Op::OpenHostPaths => {
                for path in &ops.host_paths {
                    let fd = sys::open(&path.path, libc::O_PATH)
                        .map_err(Failure::of(format!("open {}", path.shown)))?;
                    self.host.push(fd);
                }
                self.idmapped = (0..ops.host_paths.len()).map(|_| None).collect();
                if let Some(socket) = self.mounts_socket.take() {
                    for &index in &ops.idmapped {
                        let shown = &ops.host_paths[index].shown;
                        let tree = sys::recv_fd(socket.as_raw_fd())
                            .map_err(Failure::of(format!(
                                "receive the idmapped mount of {shown}"
                            )))?
                            .ok_or_else(|| {
                                Failure::new(
                                    Errno::EPIPE,
                                    format!("the launcher sent no idmapped mount of {shown}"),
                                )
                            })?;
                        self.idmapped[index] = Some(tree);
                    }
                    if let Some(overlay) = &ops.idmap_overlay {
                        let shown = &overlay.shown;
                        let tree = sys::recv_fd(socket.as_raw_fd())
                            .map_err(Failure::of(format!(
                                "receive the overlay of the idmapped layers of {shown}"
                            )))?
                            .ok_or_else(|| {
                                Failure::new(
                                    Errno::EPIPE,
                                    format!("the launcher sent no overlay of {shown}"),
                                )
                            })?;
                        self.overlay = Some(tree);
                    }
                }
                Ok(())
            }
            Op::PrivatePropagation => rootfs::private_propagation(),
            Op::Rootfs(folder) => {
                let idmapped = folder.and_then(|i| self.idmapped[i].take());
                let folder = folder.map(|i| (&ops.host_paths[i], self.host[i].as_fd()));
                self.root = Some(rootfs::bind_root(folder, idmapped)?);
                Ok(())
            }
            Op::Overlay {
                options,
                joined,
                top,
                shown,
                received,
            } => {
                let target = self.host[*top].as_fd();
                let made = match received {
                    true => Some(self.overlay.take().ok_or_else(|| {
                        Failure::new(Errno::EPIPE, format!("no overlay of {shown} was received"))
                    })?),
                    false => None,
                };
                self.root = Some(rootfs::overlay_root(options, joined, target, shown, made)?);
                Ok(())
            }
            Op::Mount(mount) => mounts::mount(self.root()?, mount, ops, &self.host),
            Op::CgroupMount(cgroup) => mounts::cgroup(self.root()?, cgroup),
            Op::Dev(dev) => mounts::dev(self.root()?, dev, &self.host),
            Op::LoopbackUp => {
                sys::loopback_up().map_err(Failure::of("bring the loopback interface up"))
            }
            Op::Mask(paths) => mounts::mask(self.root()?, paths),
            Op::Readonly(paths) => mounts::readonly(self.root()?, paths),
            Op::PivotRoot { staged } => {
                let new_root = self
                    .root
                    .take()
                    .ok_or_else(|| Failure::new(Errno::EBADF, "the new root is not bound yet"))?;
                rootfs::pivot_root(new_root.as_fd(), *staged)
            }
            Op::Terminal { console } => match (ops.terminal, self.tty_socket.take()) {
                (true, Some(socket)) => tty::attach_in_container(socket, *console),
                _ => Ok(()),
            },
            Op::ReadonlyRoot => rootfs::readonly_root(),
            Op::Hostname(name) => sys::sethostname(name).map_err(Failure::of(format!(
                "set the hostname to \"{}\"",
                String::from_utf8_lossy(name)
            ))),
            Op::Rlimits(limits) => security::apply_rlimits(limits),
            Op::Workdir(dir) => security::enter_workdir(dir),
            Op::User {
                uid,
                gid,
                groups,
                set_groups,
            } => security::switch_user(*uid, *gid, groups, *set_groups, self.report.is_some()),
            Op::Capabilities(keep, last) => security::apply_capabilities(keep, *last),
            Op::NoNewPrivileges => security::apply_no_new_privileges(),
            Op::Seccomp(program) => security::apply_seccomp(program),
            Op::CloseFds => sys::cloexec_from(3)
                .map_err(Failure::of("mark inherited descriptors close-on-exec")),
            // The parent's steps, and the two that end this loop (see `run`).
            Op::CgroupCreate
            | Op::CgroupOpen
            | Op::JoinNamespaces(_)
            | Op::Clone(_)
            | Op::IdMaps { .. }
            | Op::IdmapMounts
            | Op::CgroupJoin
            | Op::WritableLayer
            | Op::Network
            | Op::RemoveWritableLayer
            | Op::RemoveMountTargets
            | Op::Start
            | Op::Init
            | Op::Detach(_)
            | Op::Exec(_)
            | Op::Monitor
            | Op::CgroupRemove => Ok(()),
        }
    }

    /// Execs the command; reports the failure if it returns.
    fn exec(&self, index: usize, exec: &ExecOp) -> ! {
        channel::send_trace(self.report_fd(), &self.trace);
        // Rust's runtime ignores SIGPIPE; the command must start with the defaults.
        sys::reset_signal_dispositions();
        let errno = match sys::set_signal_mask(&self.signal_mask) {
            Ok(()) => sys::exec_first(&exec.candidates, &exec.argv, &exec.envp),
            Err(errno) => errno,
        };
        channel::send_failure(self.report_fd(), index, errno, &exec_detail(exec));
        sys::exit_now(i32::from(super::error::exec_exit_code(errno)))
    }

    /// Becomes the container's init: starts the command (the next step, an exec) and waits
    /// for signals. Never returns.
    fn become_init(mut self, index: usize) -> ! {
        let exec_index = index + 1;
        let Some(Op::Exec(exec)) = self.ops.ops.get(exec_index) else {
            self.fail(
                index,
                Failure::new(Errno::EINVAL, "init needs the exec step right after it"),
            );
        };
        // Block every signal before the command starts, so none is lost before the loop; the
        // command gets the original mask back before exec. Default dispositions for both: an
        // ignored signal never reaches init's sigwaitinfo, and exec keeps it ignored.
        if let Err(errno) = sys::block_all_signals() {
            self.fail(index, Failure::new(errno, "block signals for init"));
        }
        sys::reset_signal_dispositions();
        self.trace.record(index);
        channel::send_trace(self.report_fd(), &self.trace);
        let spawn = sys::Spawn {
            candidates: &exec.candidates,
            argv: &exec.argv,
            envp: &exec.envp,
            mask: &self.signal_mask,
            foreground: self.ops.terminal || sys::isatty(0),
        };
        match sys::spawn(&spawn) {
            Err(errno) => {
                channel::send_failure(self.report_fd(), exec_index, errno, &exec_detail(exec));
                sys::exit_now(i32::from(super::error::exec_exit_code(errno)))
            }
            Ok(command) => {
                // The command has exec'd: end of file on the channel tells the launcher so.
                drop(self.report);
                init::run(command, self.status)
            }
        }
    }
}

fn exec_detail(exec: &ExecOp) -> String {
    let program = exec
        .argv
        .strings()
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default();
    match exec.candidates.as_slice() {
        [one] => format!("execute {}", one.to_string_lossy()),
        _ => format!("execute {program} (searched in PATH)"),
    }
}
