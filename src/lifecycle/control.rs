//! `stop`, `kill`, `rm`, `wait` and `exec` on a container by name.
//!
//! Signals go through pidfds opened on the pids of the record and checked against their start
//! times, so a container that ends on its own while `stop` runs is never mistaken for a
//! process that reuses its pid. With a PID namespace, SIGKILL to the container's first process
//! ends every process of it (the kernel kills the namespace); without one, every process of
//! its session gets SIGKILL too.

use std::time::Duration;

use super::{LifecycleError, now_ms, observe};
use crate::plan::{Action, Plan, Signal};
use crate::runtime::handle::ProcessHandle;
use crate::runtime::{self, Finished, Target, procfs};
use crate::state::{ExitStatus, Record, State, Store};

/// How long to wait for the processes to go after SIGKILL, and for a monitor to record.
const AFTER_KILL: Duration = Duration::from_secs(10);

fn no_such(store: &Store, name: &str) -> LifecycleError {
    LifecycleError::NoSuchContainer {
        name: name.to_string(),
        root: store.root().to_path_buf(),
    }
}

fn existing(store: &Store, name: &str) -> Result<Record, LifecycleError> {
    store.read(name)?.ok_or_else(|| no_such(store, name))
}

fn signal_error(record: &Record, what: String) -> impl FnOnce(crate::sys::Errno) -> LifecycleError {
    let name = record.name.clone();
    let pid = record.pid.unwrap_or(0);
    move |errno| LifecycleError::Signal {
        what,
        name,
        pid,
        errno,
    }
}

/// The container's first process, if it still runs.
fn first_process(record: &Record) -> Result<Option<ProcessHandle>, LifecycleError> {
    let (Some(pid), Some(start)) = (record.pid, record.pid_start) else {
        return Ok(None);
    };
    ProcessHandle::open(pid, start).map_err(signal_error(record, "open a pidfd for".into()))
}

/// Every process of the container to kill: its first one, and without a PID namespace the
/// rest of its session.
fn all_processes(record: &Record) -> Result<Vec<ProcessHandle>, LifecycleError> {
    let mut handles: Vec<ProcessHandle> = first_process(record)?.into_iter().collect();
    if let (false, Some(pid), Some(start)) = (record.pid_namespace, record.pid, record.pid_start) {
        for (member, member_start) in procfs::session_members(pid, start) {
            if member != pid
                && let Ok(Some(handle)) = ProcessHandle::open(member, member_start)
            {
                handles.push(handle);
            }
        }
    }
    Ok(handles)
}

/// SIGKILL to every process of the container; waits until its first process is gone.
fn kill_all(record: &Record) -> Result<(), LifecycleError> {
    let handles = all_processes(record)?;
    for handle in &handles {
        handle
            .signal(libc::SIGKILL)
            .map_err(signal_error(record, "send SIGKILL to".into()))?;
    }
    for handle in &handles {
        if !handle.wait_exit(Some(AFTER_KILL)).unwrap_or(true) {
            return Err(LifecycleError::Unkillable {
                name: record.name.clone(),
                pid: handle.pid(),
                seconds: AFTER_KILL.as_secs(),
            });
        }
    }
    Ok(())
}

/// Waits for the monitor to record the end (it exits right after), then reads the record.
/// A monitor that is gone cannot: the record is then marked stopped here, exit unknown.
/// `None`: the record is gone, as a foreground container's goes when it ends.
fn settle(store: &Store, record: &Record) -> Result<Option<Record>, LifecycleError> {
    if let Ok(Some(monitor)) = ProcessHandle::open(record.monitor_pid, record.monitor_start) {
        let _ = monitor.wait_exit(Some(AFTER_KILL));
    }
    let Some(lock) = store.lock_existing(&record.name)? else {
        return Ok(None);
    };
    let Some(mut current) = store.read(&record.name)? else {
        return Ok(None);
    };
    if current.id == record.id && current.state != State::Stopped && !observe_alive(&current) {
        if current.foreground {
            // Its launcher was killed before it could remove the record: nothing is left.
            remove_leftovers(&current)?;
            store.remove(&current.name, lock)?;
            return Ok(None);
        }
        current.state = State::Stopped;
        current.finished_ms = Some(now_ms());
        store.write(&current, &lock)?;
    }
    Ok(Some(current))
}

fn observe_alive(record: &Record) -> bool {
    observe(record).state != State::Stopped
}

/// What `stop` found and did.
#[derive(Debug, Clone)]
pub enum StopOutcome {
    /// It had already stopped.
    AlreadyStopped,
    /// It ended after the stop signal, or was killed after the timeout.
    Stopped {
        killed: bool,
        exit: Option<ExitStatus>,
    },
}

/// `launcher stop`: the stop signal, then SIGKILL to every process after the timeout
/// (`timeout`, else the record's `[stop] timeout`).
pub fn stop(
    store: &Store,
    name: &str,
    timeout: Option<Duration>,
) -> Result<StopOutcome, LifecycleError> {
    let record = request_stop(store, name)?;
    if !observe_alive(&record) {
        return Ok(StopOutcome::AlreadyStopped);
    }
    let signal = Signal::from_number(record.stop.signal).unwrap_or(Signal::TERM);
    let timeout = timeout.unwrap_or(Duration::from_millis(record.stop.timeout_ms));
    let mut killed = false;
    if let Some(first) = first_process(&record)? {
        let sent = first
            .signal(signal.number())
            .map_err(signal_error(&record, format!("send {signal} to")))?;
        killed = sent && !first.wait_exit(Some(timeout)).unwrap_or(false);
    }
    // After the timeout; and without a PID namespace, whatever outlived the first process.
    kill_all(&record)?;
    let settled = settle(store, &record)?;
    Ok(StopOutcome::Stopped {
        killed,
        exit: settled.and_then(|r| r.exit),
    })
}

/// Marks the record as being stopped, so its monitor does not run it again (`[restart]`),
/// also while it waits to; returns the record.
fn request_stop(store: &Store, name: &str) -> Result<Record, LifecycleError> {
    let lock = store
        .lock_existing(name)?
        .ok_or_else(|| no_such(store, name))?;
    let mut record = existing(store, name)?;
    if !record.stop_requested
        && !record.foreground
        && record.plan.stop.restart.when != crate::plan::RestartWhen::No
    {
        record.stop_requested = true;
        store.write(&record, &lock)?;
    }
    Ok(record)
}

/// `launcher kill`: one signal to the container's first process (init forwards it to the
/// command; SIGKILL ends the container).
pub fn kill(store: &Store, name: &str, signal: Signal) -> Result<(), LifecycleError> {
    let record = existing(store, name)?;
    let seen = observe(&record);
    let first = match seen.state {
        State::Stopped => None,
        _ => first_process(&record)?,
    };
    let Some(first) = first else {
        return Err(LifecycleError::NotRunning {
            name: name.to_string(),
            state: State::Stopped.name(),
        });
    };
    first
        .signal(signal.number())
        .map_err(signal_error(&record, format!("send {signal} to")))?;
    Ok(())
}

/// `launcher rm`: removes a stopped container's record and logs; with `force`, stops a
/// running one first (SIGKILL). A damaged record goes only with `force`.
pub fn remove(store: &Store, name: &str, force: bool) -> Result<(), LifecycleError> {
    let Some(lock) = store.lock_existing(name)? else {
        return Err(no_such(store, name));
    };
    let record = match store.read(name) {
        Ok(Some(record)) => record,
        // A folder without a record: an `up -d` that failed half-way. Nothing runs.
        Ok(None) => return Ok(store.remove(name, lock)?),
        Err(_) if force => return Ok(store.remove(name, lock)?),
        Err(error) => return Err(error.into()),
    };
    if !observe_alive(&record) {
        remove_leftovers(&record)?;
        return Ok(store.remove(name, lock)?);
    }
    if !force {
        return Err(LifecycleError::StillRunning {
            name: name.to_string(),
        });
    }
    // The monitor takes the lock to record the end: let go of it meanwhile.
    drop(lock);
    kill_all(&record)?;
    if let Ok(Some(monitor)) = ProcessHandle::open(record.monitor_pid, record.monitor_start)
        && !monitor.wait_exit(Some(AFTER_KILL)).unwrap_or(true)
    {
        let _ = monitor.signal(libc::SIGKILL);
        let _ = monitor.wait_exit(Some(AFTER_KILL));
    }
    remove_leftovers(&record)?;
    match store.lock_existing(name)? {
        Some(lock) => Ok(store.remove(name, lock)?),
        // Removed meanwhile by another `rm`.
        None => Ok(()),
    }
}

/// `launcher wait`: blocks until the container stops; returns how it ended.
pub fn wait(store: &Store, name: &str) -> Result<ExitStatus, LifecycleError> {
    let record = existing(store, name)?;
    if observe_alive(&record) {
        if let Ok(Some(monitor)) = ProcessHandle::open(record.monitor_pid, record.monitor_start) {
            let _ = monitor.wait_exit(None);
        }
        // A lost monitor: wait for the container's own processes.
        if let Ok(Some(first)) = first_process(&record) {
            let _ = first.wait_exit(None);
        }
    }
    let settled = settle(store, &record)?;
    settled
        .and_then(|r| r.exit)
        .ok_or(LifecycleError::ExitUnknown {
            name: name.to_string(),
            monitor: record.monitor_pid,
        })
}

/// Removes the record, and the cgroup, of a foreground container whose launcher was killed
/// (it could not remove them itself); another run of the name meanwhile is left alone.
pub(super) fn forget_foreground(store: &Store, record: &Record) -> Result<(), LifecycleError> {
    let Some(lock) = store.lock_existing(&record.name)? else {
        return Ok(());
    };
    match store.read(&record.name)? {
        Some(current) if current.id == record.id && !observe_alive(&current) => {
            remove_leftovers(&current)?;
            Ok(store.remove(&current.name, lock)?)
        }
        _ => Ok(()),
    }
}

/// Forgets every foreground container of the store whose launcher was killed, with the cgroup
/// and writable layer it left: `up` runs this, so that what a killed `up` left does not wait
/// for a command on its name. A record that cannot be read or cleaned is left for `ps` to
/// report.
pub fn reap_dead_foreground(store: &Store) {
    let Ok(names) = store.names() else {
        return;
    };
    for name in names {
        if let Ok(Some(record)) = store.read(&name)
            && record.foreground
            && !observe_alive(&record)
        {
            let _ = forget_foreground(store, &record);
        }
    }
}

/// Removes what a stopped container left: its writable layer (what it wrote), its network's
/// lease, port rules and pasta, and the cgroup folders its monitor could not remove (it was
/// killed).
pub(super) fn remove_leftovers(record: &Record) -> Result<(), LifecycleError> {
    if let Some(layer) = record.plan.writable_layer() {
        runtime::remove_writable_layer(layer).map_err(|failure| LifecycleError::Cleanup {
            name: record.name.clone(),
            what: failure.to_string(),
        })?;
    }
    remove_leftover_network(record)?;
    remove_leftover_cgroups(record)
}

/// Gives back the network of a container whose monitor could not (it was killed): its lease,
/// port rules and pasta, found by the container's name under the state root its plan names.
fn remove_leftover_network(record: &Record) -> Result<(), LifecycleError> {
    let state_root = record.plan.steps.iter().find_map(|s| match &s.action {
        Action::NetworkRelease { state_root, .. } | Action::PastaStop { state_root, .. } => {
            Some(state_root)
        }
        _ => None,
    });
    let Some(state_root) = state_root else {
        return Ok(());
    };
    crate::network::release_container(state_root, &record.name)
        .map(drop)
        .map_err(|error| LifecycleError::Cleanup {
            name: record.name.clone(),
            what: format!("{error} ({})", error.hint()),
        })
}

/// Removes the cgroup folders a container's monitor could not (it was killed): only those
/// that are this container's folders under `launcher/` of a hierarchy of this host, whatever
/// the record says.
fn remove_leftover_cgroups(record: &Record) -> Result<(), LifecycleError> {
    let paths = record.plan.cgroup_paths().to_vec();
    if paths.is_empty() {
        return Ok(());
    }
    let hosts = crate::preflight::Hierarchies::current();
    let (ours, strangers): (Vec<_>, Vec<_>) = paths
        .into_iter()
        .partition(|p| crate::preflight::is_container_folder(&hosts, p, &record.name));
    if let Some(stranger) = strangers.first() {
        return Err(LifecycleError::Cleanup {
            name: record.name.clone(),
            what: format!(
                "the record names the cgroup {}, which is not a folder of the launcher's for this container",
                stranger.display()
            ),
        });
    }
    runtime::remove_leftover_cgroups(&ours).map_err(|failure| LifecycleError::Cleanup {
        name: record.name.clone(),
        what: failure.to_string(),
    })
}

/// A command to run in a running container: the container's exec plan with the command set,
/// and the container's first process.
pub struct ExecJob {
    pub name: String,
    pub plan: Plan,
    pub target: Target,
}

impl ExecJob {
    /// Runs it until the command ends; `on_step` is told each step as it completes.
    /// An exec'd process killed for lack of memory is counted in the record, so the
    /// container's end is not taken for one.
    pub fn run(
        &self,
        store: &Store,
        on_step: runtime::Observer<'_>,
    ) -> Result<Finished, LifecycleError> {
        // Opened here: the exec enters the container's mount namespace, where the state
        // folder is out of sight.
        let counter = store.open_exec_oom_kills(&self.name);
        let finished = runtime::exec(&self.plan, self.target, on_step).map_err(|failed| {
            LifecycleError::Exec {
                name: self.name.clone(),
                plan: Box::new(self.plan.clone()),
                failed,
            }
        })?;
        if matches!(finished.ended, runtime::Ended::OutOfMemory { .. })
            && let Ok(counter) = &counter
        {
            // The count only corrects how the container's end is told; losing it is no
            // reason to fail the exec, whose status is already known.
            let _ = counter.add(finished.oom_kills);
        }
        Ok(finished)
    }
}

/// What `exec -u USER -e K=V -w DIR` changes in the container's exec plan.
#[derive(Debug, Clone, Default)]
pub struct ExecChanges {
    pub user: Option<String>,
    pub env: Vec<(String, String)>,
    pub workdir: Option<String>,
}

/// `launcher exec`: `args` to run in the running container, with a pseudo-terminal when
/// `tty`.
pub fn exec(
    store: &Store,
    name: &str,
    args: &[String],
    changes: &ExecChanges,
    tty: bool,
) -> Result<ExecJob, LifecycleError> {
    let record = existing(store, name)?;
    let seen = observe(&record);
    let (State::Running, Some(pid), Some(start)) = (seen.state, record.pid, record.pid_start)
    else {
        return Err(LifecycleError::NotRunning {
            name: name.to_string(),
            state: seen.state.name(),
        });
    };
    let mut plan = record.plan.exec_plan();
    plan.set_command(args, tty);
    if let Some(dir) = &changes.workdir {
        if !dir.starts_with('/') || dir.contains('\0') {
            return Err(LifecycleError::Usage {
                what: format!("-w {dir:?}: the working folder must be an absolute path"),
                hint: "give a path inside the container, e.g. -w /tmp".into(),
            });
        }
        plan.set_workdir(dir);
    }
    if let Some(user) = &changes.user {
        // The container's /etc/passwd and /etc/group, read through its first process's root
        // (before the exec enters its mount namespace).
        let etc = |file: &str| std::fs::read_to_string(format!("/proc/{pid}/root/etc/{file}"));
        let ids = crate::plan::UserIds::lookup(
            user,
            &etc("passwd").unwrap_or_default(),
            &etc("group").unwrap_or_default(),
        )
        .map_err(|why| LifecycleError::Usage {
            what: format!("-u {user}: {why}"),
            hint: "give a user of the container's /etc/passwd, or numbers: -u UID[:GID]".into(),
        })?;
        plan.set_user(ids);
    }
    plan.set_env(&changes.env);
    Ok(ExecJob {
        name: name.to_string(),
        plan,
        target: Target { pid, start },
    })
}
