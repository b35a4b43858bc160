//! `launcher up -d`: starts the container under a monitor and returns once it runs.
//!
//! The launcher takes the container's lock, refuses a name that runs, and forks the monitor,
//! which writes the record (creating), starts the container, writes it again (running) and
//! tells the launcher over a pipe: one JSON line, `running`, or the failed step. The launcher
//! holds the lock until then, so a second `up` of the name waits and then finds it running.
//! The monitor stays with the container, copies its output to the log files and records how
//! it ended.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;

use serde::{Deserialize, Serialize};

use super::logs::LogWriter;
use super::{LifecycleError, now_ms, observe};
use crate::plan::{Action, Origin, Plan, TerminalMode};
use crate::runtime::{self, Ended, StepFailed, Stream, procfs};
use crate::state::{ExitStatus, NameLock, Record, State, StateError, Store};
use crate::sys::{self, Errno};

/// A container that `up -d` started.
#[derive(Debug, Clone)]
pub struct Started {
    pub name: String,
    pub pid: i32,
    pub monitor_pid: i32,
}

/// What the monitor tells the launcher once the container runs, or why it does not.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Ready {
    Running {
        pid: i32,
    },
    StepFailed {
        step: usize,
        errno: i32,
        detail: String,
        #[serde(default)]
        hint: Option<String>,
    },
    Failed {
        what: String,
    },
}

/// A detached container has no terminal: `terminal = true` is refused, at the line that
/// asks for it. (`"auto"` is off, as the monitor's stdin is /dev/null.)
pub fn terminal_refused(plan: &Plan) -> Option<Origin> {
    plan.steps.iter().find_map(|step| match &step.action {
        Action::Terminal {
            mode: TerminalMode::On,
            ..
        } => Some(step.origin.clone()),
        _ => None,
    })
}

/// Takes the lock of `name` for a new container: refuses a name that runs (names are unique),
/// and clears what a stopped container of that name left (its logs, and a cgroup its killed
/// monitor could not remove).
fn claim(store: &Store, plan: &Plan) -> Result<NameLock, LifecycleError> {
    let name = plan.name.as_str();
    let lock = claim_name(store, name)?;
    // `remap`: the share of the launcher's range the plan was made with, recorded in the
    // container's folder (and freed with it).
    if let Some(range) = plan.id_range() {
        store.take_ids(name, range, &lock)?;
    }
    Ok(lock)
}

fn claim_name(store: &Store, name: &str) -> Result<NameLock, LifecycleError> {
    let lock = store.lock_or_create(name)?;
    match store.read(name)? {
        Some(old) if observe(&old).state != State::Stopped => Err(LifecycleError::AlreadyRunning {
            name: name.to_string(),
            pid: old.pid.unwrap_or(old.monitor_pid),
            file: old.file,
        }),
        Some(old) => {
            super::control::remove_leftovers(&old)?;
            store.remove_logs(name, &lock)?;
            store.reset_exec_oom_kills(name, &lock)?;
            Ok(lock)
        }
        None => Ok(lock),
    }
}

/// Runs the checked `plan` in the foreground, as a container with a record: listed by `ps`,
/// reachable by `exec`, `stop` and `kill` while it runs, and removed when it ends. `on_step`
/// is told each step as it completes.
pub fn up_foreground(
    plan: &Plan,
    store: &Store,
    on_step: runtime::Observer<'_>,
) -> Result<runtime::Finished, LifecycleError> {
    let name = plan.name.as_str();
    super::control::reap_dead_foreground(store);
    let lock = claim(store, plan)?;
    let mut record = new_record(plan);
    let me = sys::getpid();
    record.foreground = true;
    record.monitor_pid = me;
    record.monitor_start = procfs::stat(me).map_or(0, |s| s.start);
    record.id = format!("{}-{me}", record.created_ms);
    let mut lock = Some(lock);
    let mut written = None;
    // Once the command runs: the record, then the lock goes, so a second `up` of the name
    // finds it running.
    let mut started = |pid: libc::pid_t| -> Result<(), String> {
        record.state = State::Running;
        record.pid = Some(pid);
        record.pid_start = procfs::stat(pid).map(|s| s.start);
        record.started_ms = Some(now_ms());
        let held = lock
            .take()
            .ok_or_else(|| "the container's lock was let go too early".to_string())?;
        written = Some(
            store
                .write_running(&record, &held)
                .map_err(|e| format!("{e} ({})", e.hint()))?,
        );
        Ok(())
    };
    let ran = runtime::up(plan, on_step, &mut started);
    drop(lock);
    let ran = ran.map(|finished| not_an_exec_oom(store, name, finished));
    remove_own_record(store, name, written);
    ran.map_err(LifecycleError::Step)
}

/// An end the runtime took for out of memory (SIGKILL while the cgroup's OOM kills went up)
/// is a plain SIGKILL when every one of those kills was of an `exec`'d process.
fn not_an_exec_oom(
    store: &Store,
    name: &str,
    mut finished: runtime::Finished,
) -> runtime::Finished {
    if !matches!(finished.ended, Ended::OutOfMemory { .. }) {
        return finished;
    }
    if finished.oom_kills <= store.exec_oom_kills(name) {
        finished.ended = Ended::Signaled {
            signal: libc::SIGKILL,
            core_dumped: false,
        };
    }
    finished
}

/// Removes the record a foreground run wrote, once it has ended (unless another run replaced
/// it meanwhile: then the file there is another one).
fn remove_own_record(store: &Store, name: &str, written: Option<crate::state::FileId>) {
    let Ok(Some(lock)) = store.lock_existing(name) else {
        return;
    };
    let current = crate::state::FileId::at(&store.paths(name).record);
    // Ours, or none: the folder of a run that failed before it wrote its record.
    if current.is_none() || current == written {
        let _ = store.remove(name, lock);
    }
}

/// Starts the checked `plan` detached.
pub fn up_detached(plan: &Plan, store: &Store) -> Result<Started, LifecycleError> {
    let detached = plan.clone().detached();
    super::control::reap_dead_foreground(store);
    let lock = claim(store, &detached)?;
    start_detached(&detached, store, lock, None)
}

/// `launcher start NAME`: a stopped detached container runs again, from the plan of its
/// record. Its logs stay; the new run's output follows a marker line in each.
pub fn start_again(store: &Store, name: &str) -> Result<Started, LifecycleError> {
    super::control::reap_dead_foreground(store);
    let no_such = || LifecycleError::NoSuchContainer {
        name: name.to_string(),
        root: store.root().to_path_buf(),
    };
    let lock = store.lock_existing(name)?.ok_or_else(no_such)?;
    let old = store.read(name)?.ok_or_else(no_such)?;
    if old.foreground {
        return Err(LifecycleError::Usage {
            what: format!(
                "container \"{name}\" ran in the foreground: it has nothing to start again"
            ),
            hint: "run it with `launcher up FILE` again, or `launcher up -d FILE` to keep it"
                .into(),
        });
    }
    if observe(&old).state != State::Stopped {
        return Err(LifecycleError::AlreadyRunning {
            name: name.to_string(),
            pid: old.pid.unwrap_or(old.monitor_pid),
            file: old.file,
        });
    }
    super::control::remove_leftovers(&old)?;
    store.reset_exec_oom_kills(name, &lock)?;
    LogWriter::new(&store.paths(name)).marker(&format!(
        "launcher: started again at {}",
        super::list::rfc3339(now_ms())
    ));
    let plan = old.plan.clone();
    start_detached(&plan, store, lock, Some(old))
}

/// Forks the monitor of a detached `plan` (holding `lock`) and waits until the command runs.
/// On failure the record goes, or, for a container started again, is put back as it was.
fn start_detached(
    plan: &Plan,
    store: &Store,
    lock: NameLock,
    previous: Option<Record>,
) -> Result<Started, LifecycleError> {
    let name = plan.name.as_str();
    let record = new_record(plan);
    // The monitor gets its own copy of the lock: it lets go of it once the container runs,
    // while the launcher holds its own until it returns.
    let (monitor_pid, ready, lock) = runtime::fork_monitor(lock, |lock, ready| {
        monitor(plan, store, lock, record, ready)
    })
    .map_err(|failure| LifecycleError::Monitor {
        name: name.to_string(),
        what: failure.to_string(),
    })?;
    let message = read_ready(ready);
    let failed = |lock: NameLock| -> Result<(), StateError> {
        runtime::reap(monitor_pid);
        match &previous {
            Some(old) => store.write(old, &lock),
            None => store.remove(name, lock),
        }
    };
    match message {
        Some(Ready::Running { pid }) => Ok(Started {
            name: name.to_string(),
            pid,
            monitor_pid,
        }),
        Some(Ready::StepFailed {
            step,
            errno,
            detail,
            hint,
        }) => {
            failed(lock)?;
            Err(LifecycleError::Step(StepFailed {
                step,
                errno: Errno::from_raw(errno),
                detail,
                hint,
            }))
        }
        Some(Ready::Failed { what }) => {
            failed(lock)?;
            Err(LifecycleError::Monitor {
                name: name.to_string(),
                what,
            })
        }
        None => {
            failed(lock)?;
            Err(LifecycleError::Monitor {
                name: name.to_string(),
                what: "it ended before the container started".into(),
            })
        }
    }
}

fn read_ready(ready: OwnedFd) -> Option<Ready> {
    let mut text = String::new();
    File::from(ready).read_to_string(&mut text).ok()?;
    serde_json::from_str(text.lines().next()?).ok()
}

fn new_record(plan: &Plan) -> Record {
    let file = std::path::absolute(&plan.file).unwrap_or_else(|_| plan.file.clone());
    let command = plan
        .exec()
        .map(|exec| {
            let mut args = exec.args.clone();
            if let (Some(first), crate::plan::Program::Path(path)) =
                (args.first_mut(), &exec.program)
            {
                *first = path.clone();
            }
            args
        })
        .unwrap_or_default();
    Record {
        format_version: crate::state::RECORD_FORMAT_VERSION,
        id: String::new(),
        name: plan.name.clone(),
        state: State::Creating,
        file,
        command,
        created_ms: now_ms(),
        started_ms: None,
        finished_ms: None,
        pid: None,
        pid_start: None,
        monitor_pid: 0,
        monitor_start: 0,
        boot_id: procfs::boot_id(),
        pid_namespace: plan.namespaces().is_none_or(|ns| ns.pid),
        foreground: false,
        exit: None,
        restarts: 0,
        stop_requested: false,
        error: None,
        stop: crate::state::StopSettings {
            signal: plan.stop.signal.number(),
            timeout_ms: plan.stop.timeout.as_millis() as u64,
        },
        plan: plan.clone(),
    }
}

/// What the monitor knows while the container starts.
struct Monitor<'a> {
    store: &'a Store,
    /// The monitor's handle on the container's lock, until the container runs.
    lock: Option<NameLock>,
    record: Record,
    ready: Option<File>,
}

impl Monitor<'_> {
    fn tell(&mut self, message: &Ready) {
        if let Some(mut ready) = self.ready.take()
            && let Ok(mut line) = serde_json::to_vec(message)
        {
            line.push(b'\n');
            // The launcher may be gone (killed); the container runs on regardless.
            let _ = ready.write_all(&line);
        }
    }

    /// The container runs: record it, let go of the launcher's lock, tell the launcher.
    fn started(&mut self, pid: libc::pid_t) -> Result<(), String> {
        self.record.state = State::Running;
        self.record.pid = Some(pid);
        self.record.pid_start = procfs::stat(pid).map(|s| s.start);
        self.record.started_ms = Some(now_ms());
        // The first run holds the lock from `up`; a restart takes it anew.
        let lock = match self.lock.take() {
            Some(lock) => lock,
            None => self
                .store
                .lock_existing(&self.record.name)
                .map_err(|e| format!("{e} ({})", e.hint()))?
                .ok_or_else(|| "the container's record was removed".to_string())?,
        };
        self.store
            .write(&self.record, &lock)
            .map_err(|e| format!("{e} ({})", e.hint()))?;
        // From now on the monitor takes the lock anew when it writes, like any other command.
        drop(lock);
        self.tell(&Ready::Running { pid });
        Ok(())
    }
}

/// The monitor's life, in the forked process; returns its exit status.
fn monitor(plan: &Plan, store: &Store, lock: NameLock, mut record: Record, ready: OwnedFd) -> i32 {
    let me = sys::getpid();
    record.monitor_pid = me;
    record.monitor_start = procfs::stat(me).map_or(0, |s| s.start);
    record.id = format!("{}-{me}", record.created_ms);
    let written = store.write(&record, &lock);
    let mut state = Monitor {
        store,
        lock: Some(lock),
        record,
        ready: Some(File::from(ready)),
    };
    if let Err(error) = written {
        state.tell(&Ready::Failed {
            what: format!("{error} ({})", error.hint()),
        });
        return 125;
    }
    let mut logs = LogWriter::new(&store.paths(&plan.name));
    // One run of the command, and more as `[restart]` asks.
    loop {
        let finished = runtime::up_detached(
            plan,
            &mut |pid| state.started(pid),
            &mut |stream: Stream, bytes: &[u8]| logs.write(stream, bytes),
        );
        let mut record = state.record.clone();
        match finished {
            Ok(finished) => {
                let finished = not_an_exec_oom(store, &plan.name, finished);
                record.exit = Some(exit_status(finished.ended));
                record.error = match (finished.ended.explain(), finished.cleanup) {
                    (Some(why), Some(cleanup)) => Some(format!("{why}; {cleanup}")),
                    (why, cleanup) => why.or(cleanup.map(|c| c.to_string())),
                };
            }
            Err(failed) if state.ready.is_some() => {
                state.tell(&Ready::StepFailed {
                    step: failed.step,
                    errno: failed.errno as i32,
                    detail: failed.detail,
                    hint: failed.hint,
                });
                return 125;
            }
            Err(failed) => record.error = Some(failed.to_string()),
        }
        let code = record.exit.map_or(125, |e| e.code);
        let again = plan.stop.restart.next(code, record.restarts);
        // The end is recorded either way: `ps` shows it while the monitor waits.
        let wanted = record_end(store, record.clone());
        let Some(wait) = again.filter(|_| wanted) else {
            return 0;
        };
        std::thread::sleep(wait);
        if !restart_wanted(store, &record) {
            return 0;
        }
        record.restarts += 1;
        record.pid = None;
        record.pid_start = None;
        state.record = record;
        logs.marker(&format!(
            "launcher: restarted ({} of {}) at {}",
            state.record.restarts,
            plan.stop
                .restart
                .max
                .map_or("no limit".into(), |m| m.to_string()),
            super::list::rfc3339(now_ms())
        ));
    }
}

/// Writes how the container ended, unless the record was removed or replaced meanwhile.
/// Returns whether it may run again: the record is still this run's and no `stop` ended it.
fn record_end(store: &Store, mut ended: Record) -> bool {
    let Ok(Some(lock)) = store.lock_existing(&ended.name) else {
        return false;
    };
    let stop_requested = match store.read(&ended.name) {
        Ok(Some(current)) if current.id == ended.id => current.stop_requested,
        _ => return false,
    };
    ended.state = State::Stopped;
    ended.finished_ms = Some(now_ms());
    ended.stop_requested = stop_requested;
    // Nobody is left to report a failure to; the record keeps the old state.
    let _ = store.write(&ended, &lock);
    !stop_requested
}

/// After the back-off: the record is still this run's, stopped, and no `stop` came.
fn restart_wanted(store: &Store, ended: &Record) -> bool {
    matches!(
        store.read(&ended.name),
        Ok(Some(current)) if current.id == ended.id && !current.stop_requested
    )
}

/// The status `launcher up` would exit with, and the signal when one killed the container.
pub fn exit_status(ended: Ended) -> ExitStatus {
    let code = ended.exit_code() as i32;
    let exited = matches!(ended, Ended::Exited(_));
    ExitStatus {
        code,
        signal: (!exited).then_some(code - 128),
        core_dumped: matches!(
            ended,
            Ended::Signaled {
                core_dumped: true,
                ..
            }
        ),
    }
}
