//! The container's cgroup, made by the parent: folders created under `launcher/`, the limit
//! files written (the plan lists them), the first process moved in before it runs a step, the
//! out-of-memory counter read at the end, and the folders removed when the container is gone.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::sys::Errno;
use crate::plan::CgroupPlan;

/// A failed cgroup operation: errno and what was done to which file.
pub type Failure = (Errno, String);

fn io_failure(what: String) -> impl FnOnce(std::io::Error) -> Failure {
    move |error| {
        (
            Errno::from_raw(error.raw_os_error().unwrap_or(libc::EIO)),
            what,
        )
    }
}

/// The container's cgroup folders; removed when dropped.
#[derive(Debug)]
pub struct Cgroup {
    paths: Vec<PathBuf>,
    version: String,
}

impl Cgroup {
    /// Creates the folders and writes the limits.
    pub fn create(plan: &CgroupPlan) -> Result<Cgroup, Failure> {
        let mut cgroup = Cgroup {
            paths: Vec::new(),
            version: plan.version.clone().unwrap_or_default(),
        };
        for path in &plan.paths {
            let path = PathBuf::from(path);
            make_folder(&path)?;
            cgroup.paths.push(path);
        }
        for write in &plan.writes {
            std::fs::write(&write.file, &write.value).map_err(io_failure(format!(
                "write {} to {}",
                write.value, write.file
            )))?;
        }
        Ok(cgroup)
    }

    /// Moves `pid` into every folder of the cgroup.
    pub fn join(&self, pid: libc::pid_t) -> Result<(), Failure> {
        for path in &self.paths {
            let procs = path.join("cgroup.procs");
            std::fs::write(&procs, pid.to_string()).map_err(io_failure(format!(
                "move pid {pid} into {}",
                procs.display()
            )))?;
        }
        Ok(())
    }

    /// How many processes the kernel killed for lack of memory in this cgroup.
    pub fn oom_kills(&self) -> u64 {
        let (file, key) = if self.version == "v2" {
            ("memory.events", "oom_kill")
        } else {
            ("memory.oom_control", "oom_kill")
        };
        self.paths
            .iter()
            .filter_map(|p| std::fs::read_to_string(p.join(file)).ok())
            .flat_map(|text| {
                text.lines()
                    .filter_map(|l| {
                        l.strip_prefix(key)
                            .and_then(|v| v.trim().parse::<u64>().ok())
                    })
                    .collect::<Vec<_>>()
            })
            .sum()
    }
}

/// Creates `launcher/NAME`, and `launcher/` when missing. Another container's end may remove
/// an empty `launcher/` between the two mkdirs; then try again.
fn make_folder(path: &Path) -> Result<(), Failure> {
    let mut tries = 0;
    loop {
        if let Some(parent) = path.parent() {
            match std::fs::create_dir(parent) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(io_failure(format!(
                        "create the cgroup folder {}",
                        parent.display()
                    ))(e));
                }
            }
        }
        match std::fs::create_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && tries < 3 => tries += 1,
            // Left by a container that died with its launcher: reuse it if it is empty.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if procs(path).is_empty() {
                    return Ok(());
                }
                return Err((
                    Errno::EBUSY,
                    format!(
                        "create the cgroup {}: it exists and has processes (is a container of this name running?)",
                        path.display()
                    ),
                ));
            }
            Err(e) => {
                return Err(io_failure(format!(
                    "create the cgroup folder {}",
                    path.display()
                ))(e));
            }
        }
    }
}

/// Removes cgroup folders a container left when its monitor was killed before it could
/// (`launcher rm`). Folders that still hold processes stay: rmdir refuses them.
pub fn remove_leftovers(paths: &[String]) {
    drop(Cgroup {
        paths: paths
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.exists())
            .collect(),
        version: String::new(),
    });
}

fn end_processes(path: &Path) {
    let listed = procs(path);
    if listed.is_empty() {
        return;
    }
    if std::fs::write(path.join("cgroup.kill"), "1").is_ok() {
        return;
    }
    for pid in listed
        .lines()
        .filter_map(|l| l.trim().parse::<libc::pid_t>().ok())
    {
        let _ = super::sys::kill(pid, libc::SIGKILL);
    }
}

fn procs(path: &Path) -> String {
    std::fs::read_to_string(path.join("cgroup.procs"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // The last processes of a PID namespace may take a moment to leave after its init
        // was reaped; rmdir fails with EBUSY until then.
        let deadline = Instant::now() + Duration::from_secs(2);
        for path in self.paths.iter().rev() {
            // Without a PID namespace, a process the command left behind (a daemon) outlives
            // it: every process still in the container's cgroup is the container's, and ends
            // with it (cgroup.kill on v2, SIGKILL to each listed pid on v1).
            end_processes(path);
            while let Err(error) = std::fs::remove_dir(path) {
                if error.kind() == std::io::ErrorKind::NotFound || Instant::now() > deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            // `launcher/` itself, when no other container uses it (rmdir refuses otherwise).
            if let Some(parent) = path.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::CgroupWrite;

    /// A cgroup v2 tree in a temporary folder: the launcher writes the files the plan lists
    /// and removes its folders afterwards.
    #[test]
    fn creates_writes_joins_and_removes_in_a_fake_v2_tree() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("launcher/web");
        let plan = CgroupPlan {
            memory: Some(1 << 20),
            memory_swap: None,
            cpu_quota: None,
            cpu_weight: None,
            pids: Some(5),
            version: Some("v2".into()),
            paths: vec![dir.display().to_string()],
            writes: vec![
                CgroupWrite {
                    file: root
                        .path()
                        .join("cgroup.subtree_control")
                        .display()
                        .to_string(),
                    value: "+memory +pids".into(),
                },
                CgroupWrite {
                    file: dir.join("memory.max").display().to_string(),
                    value: "1048576".into(),
                },
                CgroupWrite {
                    file: dir.join("pids.max").display().to_string(),
                    value: "5".into(),
                },
            ],
        };
        let cgroup = Cgroup::create(&plan).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("memory.max")).unwrap(),
            "1048576"
        );
        assert_eq!(
            std::fs::read_to_string(root.path().join("cgroup.subtree_control")).unwrap(),
            "+memory +pids"
        );
        cgroup.join(4242).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("cgroup.procs")).unwrap(),
            "4242"
        );
        std::fs::write(
            dir.join("memory.events"),
            "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
        )
        .unwrap();
        assert_eq!(cgroup.oom_kills(), 1);
        // A real cgroupfs folder has only kernel files and rmdir takes it; here, empty it.
        for file in ["memory.max", "pids.max", "cgroup.procs", "memory.events"] {
            std::fs::remove_file(dir.join(file)).unwrap();
        }
        drop(cgroup);
        assert!(!dir.exists(), "the cgroup folder was left behind");
        assert!(
            !root.path().join("launcher").exists(),
            "the empty launcher/ folder was left behind"
        );
    }

    #[test]
    fn a_busy_cgroup_of_the_same_name_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("launcher/web");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cgroup.procs"), "77\n").unwrap();
        let plan = CgroupPlan {
            memory: Some(1 << 20),
            memory_swap: None,
            cpu_quota: None,
            cpu_weight: None,
            pids: None,
            version: Some("v2".into()),
            paths: vec![dir.display().to_string()],
            writes: Vec::new(),
        };
        let (errno, what) = Cgroup::create(&plan).unwrap_err();
        assert_eq!(errno, Errno::EBUSY);
        assert!(what.contains("has processes"), "{what}");
    }
}
