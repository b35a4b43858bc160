//! `exec --process FILE`: a process in a running container, from the container's own plan
//! (`Plan::exec_plan`) with the process document's command, environment, folder, user and
//! capabilities. With `--detach` it outlives the command (the engine waits for it).

use std::os::fd::AsRawFd;
use std::path::PathBuf;

use super::OciError;
use super::config::{self, Process};
use super::state::{StateDir, Status};
use crate::plan::{Action, Capability, CapabilitySet, Program, RlimitKind, RlimitSpec, UserIds};
use crate::runtime::{self, Target};

#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// The process document (`-`: stdin was read into `process_text`).
    pub process_text: String,
    pub tty: bool,
    pub console_socket: Option<PathBuf>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: u32,
}

/// Runs the process; returns its exit status (0 once started, with `detach`).
pub fn exec(dirs: &StateDir, id: &str, options: &ExecOptions) -> Result<u8, OciError> {
    let record = dirs.load(id)?;
    let status = dirs.status(&record);
    if !matches!(status, Status::Running | Status::Created) {
        return Err(OciError::new(format!(
            "cannot exec in container \"{id}\": it is {}",
            status.name()
        )));
    }
    if options.preserve_fds > 0 {
        return Err(OciError::new(
            "--preserve-fds: passing descriptors is not supported",
        ));
    }
    let process: Process = config::parse(&options.process_text)
        .map_err(|p| OciError::new(format!("--process: {p}")))?;
    let unsupported = [
        (
            "apparmorProfile",
            process
                .apparmor_profile
                .as_ref()
                .is_some_and(|a| !a.is_empty()),
        ),
        (
            "selinuxLabel",
            process
                .selinux_label
                .as_ref()
                .is_some_and(|a| !a.is_empty()),
        ),
        ("ioPriority", process.io_priority.is_some()),
        ("scheduler", process.scheduler.is_some()),
        ("execCPUAffinity", process.exec_cpu_affinity.is_some()),
    ];
    if let Some((field, _)) = unsupported.iter().find(|(_, set)| *set) {
        return Err(OciError::new(format!(
            "--process: {field} is not supported"
        )));
    }
    if process.args.is_empty() {
        return Err(OciError::new("--process: args is empty"));
    }
    let tty = options.tty || process.terminal;
    if tty && options.detach && options.console_socket.is_none() {
        return Err(OciError::new(
            "a terminal with --detach needs --console-socket",
        ));
    }
    let mut plan = record.plan.exec_plan();
    plan.set_command(&process.args, tty);
    let mut env: Vec<(String, String)> = Vec::new();
    for entry in &process.env {
        if let Some((k, v)) = entry.split_once('=') {
            env.retain(|(name, _)| name != k);
            env.push((k.into(), v.into()));
        }
    }
    env.sort();
    let path = env.iter().find(|(k, _)| k == "PATH").map_or(
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
        |(_, v)| v.clone(),
    );
    let mut set = CapabilitySet::new();
    if let Some(caps) = &process.capabilities {
        if caps.effective != caps.permitted
            || !caps.inheritable.is_empty()
            || !caps.ambient.is_empty()
        {
            return Err(OciError::new(
                "--process: capabilities: effective and permitted must match, inheritable and ambient be empty",
            ));
        }
        for name in &caps.effective {
            let cap = Capability::parse(name)
                .ok_or_else(|| OciError::new(format!("--process: unknown capability {name:?}")))?;
            set.insert(cap);
        }
    }
    let has_nnp = plan
        .steps
        .iter()
        .any(|s| matches!(s.action, Action::NoNewPrivileges));
    if has_nnp != process.no_new_privileges {
        return Err(OciError::new(
            "--process: noNewPrivileges differs from the container's, which the launcher cannot change for one process",
        ));
    }
    let mut rlimits = Vec::new();
    for r in &process.rlimits {
        let name = r.kind.trim_start_matches("RLIMIT_").to_ascii_lowercase();
        let kind = RlimitKind::ALL
            .iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| OciError::new(format!("--process: unknown rlimit {:?}", r.kind)))?;
        let value = |v: u64| (v != u64::MAX).then_some(v);
        rlimits.push(RlimitSpec {
            name: *kind,
            soft: value(r.soft),
            hard: value(r.hard),
        });
    }
    for step in &mut plan.steps {
        match &mut step.action {
            Action::Exec(exec) => {
                exec.env = env.clone();
                exec.program = Program::Search { path: path.clone() };
            }
            Action::Workdir { path } => *path = process.cwd.clone(),
            Action::User(ids) => {
                *ids = UserIds {
                    spec: format!("{}:{}", process.user.uid, process.user.gid),
                    uid: process.user.uid,
                    gid: process.user.gid,
                    groups: process.user.additional_gids.clone(),
                    set_groups: ids.set_groups,
                    // The process's env gives HOME and USER, as runc takes them.
                    name: None,
                    home: None,
                }
            }
            Action::Capabilities { set: caps } => *caps = set.clone(),
            Action::Rlimits { limits } if !rlimits.is_empty() => *limits = rlimits.clone(),
            _ => {}
        }
    }
    if let Some(mask) = process.user.umask {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    }
    let target = Target {
        pid: record.pid,
        start: record.start,
    };
    let failed = |failed: runtime::StepFailed, plan: &crate::plan::Plan| {
        OciError::new(format!(
            "exec in \"{id}\": {}: {}",
            failed.detail,
            runtime::errno_text(failed.errno)
        ))
        .hint(failed.hint(plan))
        .exit(failed.exit_code(plan))
    };
    if options.detach {
        // Opened before the launcher enters the container's namespaces, where host paths
        // name other files.
        let console = match &options.console_socket {
            Some(socket) => Some(std::os::unix::net::UnixStream::connect(socket).map_err(
                OciError::io(format!(
                    "connect to the console socket {}",
                    socket.display()
                )),
            )?),
            None => None,
        };
        let pid_dir = match &options.pid_file {
            Some(file) => {
                let dir = file
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(std::path::Path::new("."));
                let name = file
                    .file_name()
                    .map(|n| n.to_os_string())
                    .unwrap_or_default();
                let fd = std::fs::File::open(dir)
                    .map_err(OciError::io(format!("open {}", dir.display())))?;
                Some((fd, name, file.clone()))
            }
            None => None,
        };
        plan.detach_before_exec(None);
        let detached = runtime::run_detached(&plan, Some(target), &mut |_, _| {})
            .map_err(|f| failed(f, &plan))?;
        if let (Some(master), Some(stream)) = (&detached.master, &console) {
            crate::sys::send_fd(stream.as_raw_fd(), master.as_raw_fd()).map_err(|e| {
                OciError::new(format!("send the terminal: {}", runtime::errno_text(e)))
            })?;
        }
        if let Some((dir, name, shown)) = &pid_dir {
            write_pid_at(dir, name, detached.pid)
                .map_err(|e| OciError::new(format!("write {}: {e}", shown.display())))?;
        }
        return Ok(0);
    }
    let finished = runtime::exec(&plan, target, &mut |_, _| {}).map_err(|f| failed(f, &plan))?;
    Ok(finished.ended.exit_code())
}

/// Writes the pid file through its folder's descriptor (a temporary file renamed over it).
fn write_pid_at(
    dir: &std::fs::File,
    name: &std::ffi::OsStr,
    pid: libc::pid_t,
) -> std::io::Result<()> {
    use rustix::fs::{Mode, OFlags, openat, renameat};
    let mut tmp = name.to_os_string();
    tmp.push(".tmp");
    let fd = openat(
        dir,
        tmp.as_os_str(),
        OFlags::CREATE | OFlags::WRONLY | OFlags::TRUNC | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )?;
    rustix::io::write(&fd, pid.to_string().as_bytes())?;
    renameat(dir, tmp.as_os_str(), dir, name)?;
    Ok(())
}
