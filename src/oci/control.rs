//! The commands on a created container: state, list, kill, delete, pause, resume, ps, update.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::config::{self, Resources};
use super::state::{Record, State, StateDir, Status};
use super::{OciError, hooks};
use crate::plan::{CgroupVersion, Signal};
use crate::runtime::{self, procfs};
use crate::sys::{self, Errno};

pub fn state(dirs: &StateDir, id: &str) -> Result<State, OciError> {
    let record = dirs.load(id)?;
    Ok(dirs.state(&record))
}

pub fn list(dirs: &StateDir) -> Result<Vec<State>, OciError> {
    let mut states = Vec::new();
    for id in dirs.ids()? {
        // One unreadable record does not hide the others.
        if let Ok(record) = dirs.load(&id) {
            states.push(dirs.state(&record));
        }
    }
    Ok(states)
}

/// `kill ID SIGNAL`: to the container's process, or with `all` to every process of its
/// cgroup. A stopped container is an error, as for runc.
pub fn kill(dirs: &StateDir, id: &str, signal: &str, all: bool) -> Result<(), OciError> {
    let record = dirs.load(id)?;
    let signal =
        Signal::parse(signal).map_err(|why| OciError::new(format!("signal {signal:?}: {why}")))?;
    let status = dirs.status(&record);
    if status == Status::Stopped {
        return Err(OciError::new(format!(
            "container \"{id}\" is not running (stopped)"
        )));
    }
    if all {
        for pid in cgroup_pids(&record) {
            let _ = sys::kill(pid, signal.number());
        }
        return Ok(());
    }
    signal_process(&record, signal.number())
}

/// Signals the container's first process through a pidfd, after checking it is still the
/// one the record names (a pid can be reused).
fn signal_process(record: &Record, signal: i32) -> Result<(), OciError> {
    let fd = match sys::pidfd_open(record.pid) {
        Ok(fd) => fd,
        Err(Errno::ESRCH) => {
            return Err(OciError::new(format!(
                "container \"{}\" is not running",
                record.id
            )));
        }
        Err(e) => {
            return Err(OciError::new(format!(
                "open pid {} of container \"{}\": {}",
                record.pid,
                record.id,
                runtime::errno_text(e)
            )));
        }
    };
    if !procfs::is_alive(record.pid, record.start) {
        return Err(OciError::new(format!(
            "container \"{}\" is not running",
            record.id
        )));
    }
    use std::os::fd::AsFd;
    sys::pidfd_send_signal(fd.as_fd(), signal).map_err(|e| {
        OciError::new(format!(
            "send signal {signal} to pid {} of container \"{}\": {}",
            record.pid,
            record.id,
            runtime::errno_text(e)
        ))
    })
}

/// The processes in the container's cgroup (its first hierarchy lists them all).
pub fn cgroup_pids(record: &Record) -> Vec<libc::pid_t> {
    let mut pids: Vec<libc::pid_t> = record
        .cgroup_paths
        .iter()
        .filter_map(|p| std::fs::read_to_string(p.join("cgroup.procs")).ok())
        .flat_map(|text| {
            text.lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect::<Vec<_>>()
        })
        .collect();
    pids.sort();
    pids.dedup();
    pids
}

/// `delete [--force] ID`: a stopped container's cgroup and state go (poststop hooks run);
/// one still running is refused without `force`, killed with it. Without a record, `force`
/// succeeds (a second delete is tolerated, as runc does). Returns the warnings of poststop
/// hooks that failed: the runtime spec has every one run and the delete go on.
pub fn delete(dirs: &StateDir, id: &str, force: bool) -> Result<Vec<String>, OciError> {
    let record = match dirs.load(id) {
        Ok(record) => record,
        Err(_) if force && !dirs.dir(id).join("record.json").exists() => {
            super::state::check_id(id)?;
            let _ = std::fs::remove_dir_all(dirs.dir(id));
            return Ok(Vec::new());
        }
        Err(e) => return Err(e),
    };
    let status = dirs.status(&record);
    if status != Status::Stopped {
        if !force {
            return Err(OciError::new(format!(
                "cannot delete container \"{id}\": it is {}",
                status.name()
            ))
            .hint("stop it first (kill ID SIGTERM), or delete --force"));
        }
        if status == Status::Paused {
            let _ = freeze(&record, false);
        }
        for pid in cgroup_pids(&record) {
            let _ = sys::kill(pid, libc::SIGKILL);
        }
        let _ = signal_process(&record, libc::SIGKILL);
        let deadline = Instant::now() + Duration::from_secs(5);
        while procfs::is_alive(record.pid, record.start) {
            if Instant::now() > deadline {
                return Err(OciError::new(format!(
                    "container \"{id}\" (pid {}) did not end within 5 s of SIGKILL",
                    record.pid
                )));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let state = dirs.state(&record);
    let cgroup = runtime::remove_leftover_cgroups(&record.cgroup_paths);
    let warnings = hooks::run_each(&record.hooks.poststop, &state, "poststop");
    let removed = std::fs::remove_dir_all(dirs.dir(id))
        .map_err(OciError::io(format!("remove {}", dirs.dir(id).display())))
        .and_then(|()| {
            cgroup.map_err(|f| OciError::new(format!("remove the cgroup of \"{id}\": {f}")))
        });
    match removed {
        Ok(()) => Ok(warnings),
        Err(error) => Err(error.warnings(warnings)),
    }
}

/// Freezes (`true`) or thaws the container's cgroup.
fn freeze(record: &Record, frozen: bool) -> Result<(), OciError> {
    let (file, value) = match record.cgroup_version {
        CgroupVersion::V1 => ("freezer.state", if frozen { "FROZEN" } else { "THAWED" }),
        CgroupVersion::V2 => ("cgroup.freeze", if frozen { "1" } else { "0" }),
    };
    let dir = record
        .cgroup_paths
        .iter()
        .find(|p| match record.cgroup_version {
            CgroupVersion::V1 => p.to_string_lossy().contains("/freezer/"),
            CgroupVersion::V2 => true,
        });
    let Some(dir) = dir else {
        return Err(OciError::new(format!(
            "container \"{}\" has no freezer cgroup (the freezer controller is not mounted)",
            record.id
        )));
    };
    let path = dir.join(file);
    std::fs::write(&path, value)
        .map_err(OciError::io(format!("write {value} to {}", path.display())))
}

pub fn pause(dirs: &StateDir, id: &str) -> Result<(), OciError> {
    let record = dirs.load(id)?;
    match dirs.status(&record) {
        Status::Running => freeze(&record, true),
        other => Err(OciError::new(format!(
            "cannot pause container \"{id}\": it is {}",
            other.name()
        ))),
    }
}

pub fn resume(dirs: &StateDir, id: &str) -> Result<(), OciError> {
    let record = dirs.load(id)?;
    match dirs.status(&record) {
        Status::Paused => freeze(&record, false),
        other => Err(OciError::new(format!(
            "cannot resume container \"{id}\": it is {}, not paused",
            other.name()
        ))),
    }
}

/// `ps`: the pids of the container's processes.
pub fn ps(dirs: &StateDir, id: &str) -> Result<Vec<libc::pid_t>, OciError> {
    let record = dirs.load(id)?;
    Ok(cgroup_pids(&record))
}

/// `update --resources FILE` (`-` for stdin): new memory, CPU and pids limits, written to the
/// container's cgroup.
pub fn update(dirs: &StateDir, id: &str, text: &str) -> Result<(), OciError> {
    let record = dirs.load(id)?;
    if dirs.status(&record) == Status::Stopped {
        return Err(OciError::new(format!(
            "cannot update container \"{id}\": it is stopped"
        )));
    }
    let resources: Resources =
        config::parse(text).map_err(|p| OciError::new(format!("--resources: {p}")))?;
    let unsupported = [
        ("devices", !resources.devices.is_empty()),
        ("blockIO", resources.block_io.is_some()),
        ("hugepageLimits", resources.hugepage_limits.is_some()),
        ("network", resources.network.is_some()),
        ("rdma", resources.rdma.is_some()),
        ("unified", resources.unified.is_some()),
    ];
    if let Some((field, _)) = unsupported.iter().find(|(_, set)| *set) {
        return Err(OciError::new(format!(
            "--resources: {field} cannot be updated by the launcher"
        )));
    }
    let find = |controller: &str| -> Option<PathBuf> {
        match record.cgroup_version {
            CgroupVersion::V2 => record.cgroup_paths.first().cloned(),
            CgroupVersion::V1 => record
                .cgroup_paths
                .iter()
                .find(|p| {
                    p.components().any(|c| {
                        c.as_os_str()
                            .to_string_lossy()
                            .split(',')
                            .any(|s| s == controller)
                    })
                })
                .cloned(),
        }
    };
    let v2 = record.cgroup_version == CgroupVersion::V2;
    let mut writes: Vec<(&str, &str, String)> = Vec::new();
    if let Some(memory) = &resources.memory {
        if let Some(limit) = memory.limit {
            let value = if limit < 0 {
                "max".to_string()
            } else {
                limit.to_string()
            };
            let value = if !v2 && limit < 0 {
                "-1".to_string()
            } else {
                value
            };
            writes.push((
                "memory",
                if v2 {
                    "memory.max"
                } else {
                    "memory.limit_in_bytes"
                },
                value,
            ));
        }
        if let Some(swap) = memory.swap {
            writes.push((
                "memory",
                if v2 {
                    "memory.swap.max"
                } else {
                    "memory.memsw.limit_in_bytes"
                },
                swap.to_string(),
            ));
        }
    }
    if let Some(cpu) = &resources.cpu {
        if v2 {
            if cpu.quota.is_some() || cpu.period.is_some() {
                let quota = cpu
                    .quota
                    .filter(|q| *q > 0)
                    .map_or("max".to_string(), |q| q.to_string());
                writes.push((
                    "cpu",
                    "cpu.max",
                    format!("{quota} {}", cpu.period.unwrap_or(100_000)),
                ));
            }
        } else {
            if let Some(period) = cpu.period {
                writes.push(("cpu", "cpu.cfs_period_us", period.to_string()));
            }
            if let Some(quota) = cpu.quota {
                writes.push(("cpu", "cpu.cfs_quota_us", quota.to_string()));
            }
            if let Some(shares) = cpu.shares {
                writes.push(("cpu", "cpu.shares", shares.to_string()));
            }
        }
    }
    if let Some(pids) = resources.pids {
        let value = if pids.limit > 0 {
            pids.limit.to_string()
        } else {
            "max".into()
        };
        writes.push(("pids", "pids.max", value));
    }
    for (controller, file, value) in writes {
        let Some(dir) = find(controller) else {
            return Err(OciError::new(format!(
                "container \"{id}\" has no {controller} cgroup"
            )));
        };
        write_file(&dir.join(file), &value)?;
    }
    Ok(())
}

fn write_file(path: &Path, value: &str) -> Result<(), OciError> {
    std::fs::write(path, value)
        .map_err(OciError::io(format!("write {value} to {}", path.display())))
}
