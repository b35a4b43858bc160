//! The executor: one loop over the plan's steps. The launcher runs the parent's steps itself;
//! the clone step starts the container's process, which runs the child's steps (`child.rs`)
//! while the launcher waits at the start step for its report; then the launcher monitors the
//! command and cleans up. Each step that completes is told to the observer with its time, in
//! plan order, so `up --debug` (and a test) can compare what ran with the plan.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use super::cgroups::Cgroup;
use super::channel::{self, Trace};
use super::child::{self, ChildContext};
use super::error::{Failure, StepFailed};
use super::init::status_code;
use super::join::{self, Target};
use super::ops::{Op, Ops};
use super::watch::Watcher;
use super::{Ended, Finished};
use crate::network;
use crate::plan::{Action, FORWARDED_SIGNALS, Plan, Side};
use crate::sys::{self, Errno};

/// Told each step as it completes: its index and when it ended (CLOCK_MONOTONIC, ns).
pub type Observer<'a> = &'a mut dyn FnMut(usize, u64);

/// Runs `plan` to its end. `target` is the running container an `exec` plan joins.
pub fn run(
    plan: &Plan,
    watcher: &mut dyn Watcher,
    target: Option<Target>,
    observe: Observer<'_>,
) -> Result<Finished, StepFailed> {
    let ops = super::ops::prepare(plan)?;
    let mut parent = Parent {
        plan,
        ops: &ops,
        watcher,
        target,
        observe,
        cgroup: None,
        cgroup_made: false,
        child: None,
        pipes: None,
        signal_mask: None,
        master: None,
        ended: None,
        network: Network::default(),
        init_status: None,
        oom_kills: 0,
    };
    match parent.steps() {
        Ok(Some(finished)) => Ok(finished),
        Ok(None) => Err(StepFailed::at(
            plan.steps.len().saturating_sub(1),
            Failure::new(Errno::EINVAL, "the plan has no monitor step"),
        )),
        Err(mut failed) => {
            if let Some(cleanup) = parent.abort() {
                failed.detail = format!("{}; and cleaning up failed too: {cleanup}", failed.detail);
            }
            Err(failed)
        }
    }
}

/// A container process that has detached (OCI `create`, `exec --detach`): set up, waiting at
/// its FIFO or running, no longer the launcher's child to wait for.
#[derive(Debug)]
pub struct Detached {
    pub pid: libc::pid_t,
    /// The master of its pseudo-terminal, when it has one.
    pub master: Option<OwnedFd>,
}

/// Runs a plan with a detach step (`Plan::detach_before_exec`) until its process has set up
/// and detached. `target`: the running container an `exec` plan joins.
pub fn run_detached(
    plan: &Plan,
    target: Option<Target>,
    observe: Observer<'_>,
) -> Result<Detached, StepFailed> {
    let ops = super::ops::prepare(plan)?;
    let mut watcher = super::watch::Foreground { started: None };
    let mut parent = Parent {
        plan,
        ops: &ops,
        watcher: &mut watcher,
        target,
        observe,
        cgroup: None,
        cgroup_made: false,
        child: None,
        pipes: None,
        signal_mask: None,
        master: None,
        ended: None,
        network: Network::default(),
        init_status: None,
        oom_kills: 0,
    };
    match parent.steps() {
        Ok(_) => match parent.child.take() {
            Some(pid) => Ok(Detached {
                pid,
                master: parent.master.take(),
            }),
            None => Err(StepFailed::at(
                0,
                Failure::new(Errno::ESRCH, "the plan started no process"),
            )),
        },
        Err(mut failed) => {
            if let Some(cleanup) = parent.abort() {
                failed.detail = format!("{}; and cleaning up failed too: {cleanup}", failed.detail);
            }
            Err(failed)
        }
    }
}

/// The launcher's ends of the pipes to the container's process.
struct Pipes {
    report: OwnedFd,
    go: OwnedFd,
    tty: Option<OwnedFd>,
    /// Where idmapped mounts are sent to the container's process (`remap`).
    mounts: Option<OwnedFd>,
}

struct Parent<'a> {
    plan: &'a Plan,
    ops: &'a Ops,
    watcher: &'a mut dyn Watcher,
    target: Option<Target>,
    observe: Observer<'a>,
    cgroup: Option<Cgroup>,
    /// The cgroup was made by this run (not an exec's view of the container's).
    cgroup_made: bool,
    /// The container's process, until it has been waited for.
    child: Option<libc::pid_t>,
    pipes: Option<Pipes>,
    signal_mask: Option<libc::sigset_t>,
    master: Option<OwnedFd>,
    ended: Option<Ended>,
    network: Network,
    /// Read end of the pipe the container's init writes the command's wait status to.
    init_status: Option<OwnedFd>,
    /// Out-of-memory kills in the cgroup while the command ran.
    oom_kills: u64,
}

/// What the network steps made, until the release steps (or an abort) give it back.
#[derive(Default)]
struct Network {
    attachment: Option<network::Attachment>,
    pasta: Option<network::Pasta>,
}

impl Parent<'_> {
    /// `None`: the plan had no monitor step (its process detached).
    fn steps(&mut self) -> Result<Option<Finished>, StepFailed> {
        let plan = self.plan;
        let mut cleanup = None;
        for (index, (step, op)) in plan.steps.iter().zip(&self.ops.ops).enumerate() {
            if step.side != Side::Parent {
                continue;
            }
            match self.step(index, op) {
                // The start step tells itself, before the steps it waits for.
                Ok(()) if matches!(op, Op::Start) => {}
                Ok(()) => (self.observe)(index, sys::monotonic_ns()),
                // Once the command has ended, a failure to clean up does not hide how it ended.
                Err(failed) if self.ended.is_some() => {
                    cleanup.get_or_insert(failed);
                }
                Err(failed) => return Err(failed),
            }
        }
        Ok(self.ended.map(|ended| Finished {
            ended,
            cleanup,
            oom_kills: self.oom_kills,
        }))
    }

    fn step(&mut self, index: usize, op: &Op) -> Result<(), StepFailed> {
        let at = |failure| StepFailed::at(index, failure);
        let action = &self.plan.steps[index].action;
        match (op, action) {
            (Op::CgroupCreate, Action::CgroupCreate(setup)) => {
                self.cgroup = Some(Cgroup::create(setup).map_err(at)?);
                self.cgroup_made = true;
            }
            (Op::CgroupOpen, Action::CgroupOpen { version, paths }) => {
                self.cgroup = Some(Cgroup::open(paths, *version).map_err(at)?);
            }
            (Op::JoinNamespaces(flags), _) => {
                let target = self.target.ok_or_else(|| {
                    at(Failure::new(Errno::ESRCH, "no running container to join"))
                })?;
                join::join_namespaces(target, *flags).map_err(at)?;
            }
            (Op::Clone(flags), _) => self.clone_process(index, *flags).map_err(at)?,
            (
                Op::IdMaps {
                    uid_map,
                    gid_map,
                    deny_setgroups,
                },
                Action::IdMaps(maps),
            ) => {
                let pid = self.child_pid().map_err(at)?;
                match &maps.helpers {
                    Some(helpers) => super::idmap::run_helpers(pid, maps, helpers).map_err(at)?,
                    None => write_id_maps(pid, uid_map, gid_map, *deny_setgroups).map_err(at)?,
                }
            }
            (Op::IdmapMounts, _) => {
                let pid = self.child_pid().map_err(at)?;
                let socket = self.pipes.as_ref().and_then(|p| p.mounts.as_ref());
                let socket = socket.ok_or_else(|| {
                    at(Failure::new(
                        Errno::EBADF,
                        "no socket to the container's process",
                    ))
                })?;
                super::idmap::send_idmapped(pid, &self.ops.idmap_paths, socket.as_fd())
                    .map_err(at)?;
                if let Some(overlay) = &self.ops.idmap_overlay {
                    super::idmap::send_idmapped_overlay(pid, overlay, socket.as_fd())
                        .map_err(at)?;
                }
            }
            (Op::CgroupJoin, _) => {
                let pid = self.child_pid().map_err(at)?;
                let cgroup = self.cgroup.as_ref().ok_or_else(|| {
                    at(Failure::new(Errno::EINVAL, "no cgroup was made or opened"))
                })?;
                cgroup.join(pid).map_err(at)?;
            }
            (Op::WritableLayer, Action::WritableLayer { path, owner }) => {
                super::layers::create_writable(path, *owner).map_err(at)?
            }
            (Op::RemoveWritableLayer, Action::RemoveWritableLayer { path }) => {
                super::layers::discard_writable(path).map_err(at)?
            }
            (Op::RemoveMountTargets, Action::RemoveMountTargets { root, targets }) => {
                super::mounts::remove_made_targets(root, targets).map_err(at)?
            }
            (Op::Network, action) => self.network_step(action).map_err(at)?,
            (Op::Start, _) => self.start(index)?,
            (Op::Monitor, _) => self.monitor().map_err(at)?,
            (Op::CgroupRemove, _) => {
                if let Some(cgroup) = self.cgroup.take() {
                    cgroup.remove().map_err(at)?;
                }
            }
            _ => {
                return Err(at(Failure::new(
                    Errno::EINVAL,
                    format!("\"{action}\" is not a step the launcher itself runs"),
                )));
            }
        }
        Ok(())
    }

    /// Attaches the waiting container to its network (or starts its pasta), or gives it back.
    fn network_step(&mut self, action: &Action) -> Result<(), Failure> {
        match action {
            Action::NetworkAttach(attach) => {
                let netns = network::Netns::of_pid(self.child_pid()?).map_err(Failure::network)?;
                let request = network::AttachRequest {
                    state_root: &attach.state_root,
                    network: network::NetworkSpec {
                        name: attach.network.clone(),
                        subnet: attach.subnet,
                    },
                    container: &attach.container,
                    hostname: &attach.hostname,
                    netns: &netns,
                    address: attach.address,
                    ports: attach.ports.clone(),
                    etc: Some(network::EtcRequest {
                        dir: attach.etc_dir.clone(),
                        hosts: attach.hosts.clone(),
                        dns: attach.dns.clone(),
                        host_dns: network::HostDns::default(),
                    }),
                };
                self.network.attachment = Some(network::attach(request).map_err(Failure::network)?);
            }
            Action::Pasta(setup) => {
                let netns = network::Netns::of_pid(self.child_pid()?).map_err(Failure::network)?;
                let request = network::PastaRequest {
                    ports: setup.ports.clone(),
                    run_as: None,
                    record: Some((setup.state_root.clone(), setup.container.clone())),
                };
                let pasta = network::pasta::start(&netns, &request).map_err(Failure::network)?;
                let host_dns = network::HostDns::default();
                let resolv = match setup.dns.is_empty() {
                    true => network::etc::pasta_resolvers(pasta.dns_forwarder(), &host_dns),
                    false => network::etc::Resolv {
                        servers: setup.dns.clone(),
                        ..Default::default()
                    },
                };
                // Held before the files are written: a failure to write them ends it too.
                self.network.pasta = Some(pasta);
                network::etc::write_standalone(
                    &setup.etc_dir,
                    &setup.container,
                    &setup.hostname,
                    &setup.hosts,
                    &resolv,
                )
                .map_err(Failure::network)?;
            }
            Action::NetworkRelease {
                state_root,
                container,
            } => match self.network.attachment.take() {
                Some(attachment) => attachment.release().map_err(Failure::network)?,
                None => {
                    network::release_container(state_root, container).map_err(Failure::network)?;
                }
            },
            Action::PastaStop { .. } => {
                if let Some(pasta) = self.network.pasta.take() {
                    pasta.release().map_err(Failure::network)?;
                }
            }
            _ => {
                return Err(Failure::new(
                    Errno::EINVAL,
                    format!("\"{action}\" is not a network step"),
                ));
            }
        }
        Ok(())
    }

    fn child_pid(&self) -> Result<libc::pid_t, Failure> {
        self.child
            .ok_or_else(|| Failure::new(Errno::ESRCH, "the container's process is not running"))
    }

    /// Creates the pipes, blocks the forwarded signals (so one that arrives while the
    /// container starts waits for the monitor step instead of killing the launcher), and
    /// clones the container's process, which goes on at the next step.
    fn clone_process(&mut self, index: usize, flags: libc::c_int) -> Result<(), Failure> {
        let (report_read, report_write) =
            sys::pipe().map_err(Failure::of("create the error channel"))?;
        let (go_read, go_write) = sys::pipe().map_err(Failure::of("create the start pipe"))?;
        let (status_read, status_write) =
            sys::pipe().map_err(Failure::of("create the exit status pipe"))?;
        let tty = match self.ops.terminal {
            true => Some(sys::socketpair().map_err(Failure::of("create the terminal socket"))?),
            false => None,
        };
        let mounts = match self.ops.idmapped.is_empty() && self.ops.idmap_overlay.is_none() {
            false => Some(sys::socketpair().map_err(Failure::of("create the mounts socket"))?),
            true => None,
        };
        let signal_mask =
            sys::block_signals(&monitored_signals()).map_err(Failure::of("block signals"))?;
        self.signal_mask = Some(signal_mask);
        // Room for every step, so the container's process never allocates to record one.
        let trace = Trace::with_capacity(self.plan.steps.len());
        let pid = sys::clone_process(flags)
            .map_err(Failure::of("create the container's process (clone)"))?;
        if pid == 0 {
            // The container's process closes its copies of the launcher's ends: a launcher that
            // dies then shows as end of file on the go-ahead pipe.
            drop((report_read, go_write, status_read));
            let tty_socket = tty.map(|(parent_end, child_end)| {
                drop(parent_end);
                child_end
            });
            let mounts_socket = mounts.map(|(parent_end, child_end)| {
                drop(parent_end);
                child_end
            });
            let ctx = ChildContext {
                report: report_write,
                go: go_read,
                tty_socket,
                mounts_socket,
                signal_mask,
                status: status_write,
            };
            child::run(self.plan, self.ops, ctx, index + 1, trace);
        }
        self.child = Some(pid);
        self.init_status = Some(status_read);
        self.pipes = Some(Pipes {
            report: report_read,
            go: go_write,
            tty: tty.map(|(parent_end, _child_end)| parent_end),
            mounts: mounts.map(|(parent_end, _child_end)| parent_end),
        });
        Ok(())
    }

    /// Lets the container's process run its steps and waits until it has exec'd: end of file
    /// on the channel after its trace. Its steps are told to the observer as it reports them.
    fn start(&mut self, index: usize) -> Result<(), StepFailed> {
        let at = |failure| StepFailed::at(index, failure);
        let pipes = self
            .pipes
            .take()
            .ok_or_else(|| at(Failure::new(Errno::EBADF, "no container process to start")))?;
        sys::write_all(pipes.go.as_raw_fd(), b"g")
            .map_err(|e| at(Failure::new(e, "let the container's process start")))?;
        drop(pipes.go);
        (self.observe)(index, sys::monotonic_ns());
        if let Some(socket) = &pipes.tty {
            self.master = sys::recv_fd(socket.as_raw_fd())
                .map_err(|e| at(Failure::new(e, "receive the pseudo-terminal")))?;
        }
        drop(pipes.tty);
        let report = channel::receive(pipes.report.as_raw_fd())
            .map_err(|e| at(Failure::new(e, "read the container's report")))?;
        for &(step, at_ns) in &report.trace.done {
            (self.observe)(step, at_ns);
        }
        if let Some(failed) = report.failed {
            return Err(failed);
        }
        // End of file with no failure: the command's exec succeeded.
        if let Some(exec) = self
            .plan
            .steps
            .iter()
            .position(|s| matches!(s.action, Action::Exec(_)))
        {
            (self.observe)(exec, sys::monotonic_ns());
        }
        Ok(())
    }

    /// Waits for the command (the watcher forwards signals and copies its output) and records
    /// how it ended.
    fn monitor(&mut self) -> Result<(), Failure> {
        let pid = self.child_pid()?;
        self.watcher.started(pid)?;
        let signal_fd =
            sys::signalfd(&monitored_signals()).map_err(Failure::of("create a signalfd"))?;
        // The cgroup's OOM kills while this process ran, not ever: an exec's kills are not
        // the container's, nor the other way round.
        let oom_before = self.cgroup.as_ref().map_or(0, Cgroup::oom_kills);
        let status = self.watcher.watch(pid, signal_fd, self.master.take())?;
        self.child = None;
        // Under init, the command's own status, which init wrote before it exited (nothing
        // else holds the pipe's write end now); init's status when it was killed itself.
        let status = self
            .init_status
            .take()
            .and_then(|fd| command_status(&fd))
            .unwrap_or(status);
        // Killed by SIGKILL with the kernel's OOM counter up: the memory limit did it.
        let killed = libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL;
        self.oom_kills = self
            .cgroup
            .as_ref()
            .map_or(0, |c| c.oom_kills().saturating_sub(oom_before));
        let oom = killed && self.oom_kills > 0;
        self.ended = Some(if oom {
            Ended::OutOfMemory {
                limit: self.plan.cgroup().and_then(|c| c.limits.memory),
            }
        } else if libc::WIFSIGNALED(status) {
            Ended::Signaled {
                signal: libc::WTERMSIG(status),
                core_dumped: libc::WCOREDUMP(status),
            }
        } else {
            Ended::Exited(status_code(status))
        });
        Ok(())
    }

    /// After a failed step: ends the container's process and removes what this run made.
    /// Returns what could not be cleaned up.
    fn abort(&mut self) -> Option<Failure> {
        if let Some(pid) = self.child.take() {
            let _ = sys::kill(pid, libc::SIGKILL);
            let _ = sys::waitpid(pid, false);
        }
        // The network goes first: its ports and address are free again at once.
        let network = [
            self.network.attachment.take().map(|a| a.release()),
            self.network.pasta.take().map(|p| p.release()),
        ]
        .into_iter()
        .flatten()
        .find_map(Result::err)
        .map(Failure::network);
        let cgroup = match self.cgroup.take() {
            Some(cgroup) if self.cgroup_made => cgroup.remove().err(),
            _ => None,
        };
        // A writable layer made for this run goes too: nothing ran in it.
        let layer = self.plan.steps.iter().find_map(|s| match &s.action {
            Action::WritableLayer { path, .. } if path.exists() => {
                super::layers::remove_writable(path).err()
            }
            _ => None,
        });
        network.or(cgroup).or(layer)
    }
}

/// The command's wait status as init wrote it; `None` when it wrote none (no init, or init
/// was killed).
fn command_status(fd: &OwnedFd) -> Option<libc::c_int> {
    let mut bytes = [0u8; 4];
    match sys::read(fd.as_raw_fd(), &mut bytes) {
        Ok(4) => Some(libc::c_int::from_ne_bytes(bytes)),
        _ => None,
    }
}

/// The signals the monitor waits for: the forwarded ones and SIGCHLD.
fn monitored_signals() -> Vec<libc::c_int> {
    let mut signals = FORWARDED_SIGNALS.to_vec();
    signals.push(libc::SIGCHLD);
    signals
}

/// Writes `/proc/PID/{setgroups,uid_map,gid_map}` for the child's user namespace.
fn write_id_maps(
    pid: libc::pid_t,
    uid_map: &str,
    gid_map: &str,
    deny_setgroups: bool,
) -> Result<(), Failure> {
    let write = |file: &str, text: &str| {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, text).map_err(Failure::io(format!("write {path}")))
    };
    // Before gid_map: an unprivileged process may map its gid only once setgroups is denied
    // (CVE-2014-8989).
    if deny_setgroups {
        write("setgroups", "deny")?;
    }
    write("uid_map", uid_map)?;
    write("gid_map", gid_map)
}
