//! The container's cgroup, made by the parent: folders created under `launcher/`, the limit
//! files written (the plan lists them), the first process moved in before it runs a step, the
//! out-of-memory counter read at the end, and the folders removed when the container is gone.
//! Dropping a `Cgroup` only closes its files; ending its processes and removing its folders
//! are explicit ([`Cgroup::remove`]).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::error::Failure;
use crate::plan::{CgroupSetup, CgroupVersion};
use crate::sys::{self, Errno};

/// The container's cgroup folders, with their `cgroup.procs` open for writing.
#[derive(Debug)]
pub struct Cgroup {
    paths: Vec<PathBuf>,
    version: CgroupVersion,
    procs: Vec<OwnedFd>,
    /// Each folder's out-of-memory counter file, opened with `cgroup.procs`: an `exec` reads
    /// it after entering the container's mount namespace, where these paths do not exist.
    events: Vec<Option<std::fs::File>>,
}

impl Cgroup {
    /// Creates the folders, writes the limits and opens the folders' `cgroup.procs`.
    pub fn create(setup: &CgroupSetup) -> Result<Cgroup, Failure> {
        for path in &setup.paths {
            make_folder(path)?;
        }
        let cgroup = Cgroup {
            paths: setup.paths.clone(),
            version: setup.version,
            procs: Vec::new(),
            events: Vec::new(),
        };
        let opened = (|| {
            for write in &setup.writes {
                std::fs::write(&write.file, &write.value).map_err(Failure::io(format!(
                    "write {} to {}",
                    write.value,
                    write.file.display()
                )))?;
            }
            Cgroup::open(&setup.paths, setup.version)
        })();
        // Folders made here go again when what follows fails: nothing else knows of them.
        opened.inspect_err(|_| {
            let _ = cgroup.remove();
        })
    }

    /// An existing cgroup (`exec`, `rm`): opens the folders' `cgroup.procs`.
    pub fn open(paths: &[PathBuf], version: CgroupVersion) -> Result<Cgroup, Failure> {
        let procs = paths
            .iter()
            .map(|path| {
                let file = path.join("cgroup.procs");
                sys::cstring(file.as_os_str().as_encoded_bytes())
                    .and_then(|c| sys::open(&c, libc::O_WRONLY))
                    .map_err(Failure::of(format!("open {}", file.display())))
            })
            .collect::<Result<_, _>>()?;
        let events = paths
            .iter()
            .map(|path| std::fs::File::open(path.join(oom_counter(version).0)).ok())
            .collect();
        Ok(Cgroup {
            paths: paths.to_vec(),
            version,
            procs,
            events,
        })
    }

    /// Moves `pid` (as this process's PID namespace numbers it) into every folder.
    pub fn join(&self, pid: libc::pid_t) -> Result<(), Failure> {
        let text = pid.to_string();
        for (path, procs) in self.paths.iter().zip(&self.procs) {
            sys::write_all(procs.as_raw_fd(), text.as_bytes()).map_err(Failure::of(format!(
                "move pid {pid} into {}",
                path.join("cgroup.procs").display()
            )))?;
        }
        Ok(())
    }

    /// How many processes the kernel killed for lack of memory in this cgroup.
    pub fn oom_kills(&self) -> u64 {
        let (file, key) = oom_counter(self.version);
        self.paths
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match self.events.get(i) {
                Some(Some(opened)) => read_counter(opened),
                _ => std::fs::read_to_string(p.join(file)).ok(),
            })
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

    /// Ends every process still in the cgroup and removes its folders (and `launcher/`, when
    /// no other container uses it). Without a PID namespace, a process the command left behind
    /// (a daemon) outlives it: every process still in the container's cgroup is the
    /// container's, and ends with it (cgroup.kill on v2, SIGKILL to each listed pid on v1).
    pub fn remove(&self) -> Result<(), Failure> {
        // The last processes of a PID namespace may take a moment to leave after its init was
        // reaped; rmdir fails with EBUSY until then.
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut failed = None;
        for path in self.paths.iter().rev() {
            end_processes(path);
            loop {
                match std::fs::remove_dir(path) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(e) if Instant::now() > deadline => {
                        failed = Some(Failure::io(format!(
                            "remove the cgroup {} (processes are still in it)",
                            path.display()
                        ))(e));
                        break;
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            // `launcher/` itself, when no other container uses it (rmdir refuses otherwise).
            if let Some(parent) = path.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        }
        failed.map_or(Ok(()), Err)
    }
}

/// Removes cgroup folders a container left when its monitor was killed before it could
/// (`launcher rm`), ending what still runs in them. The caller checks that each path is a
/// container folder of the launcher's (`preflight::is_container_folder`).
pub fn remove_leftovers(paths: &[PathBuf]) -> Result<(), Failure> {
    let existing: Vec<PathBuf> = paths.iter().filter(|p| p.exists()).cloned().collect();
    Cgroup {
        paths: existing,
        version: CgroupVersion::V1,
        procs: Vec::new(),
        events: Vec::new(),
    }
    .remove()
}

/// The file that counts a cgroup's out-of-memory kills, and its key.
fn oom_counter(version: CgroupVersion) -> (&'static str, &'static str) {
    match version {
        CgroupVersion::V2 => ("memory.events", "oom_kill"),
        CgroupVersion::V1 => ("memory.oom_control", "oom_kill"),
    }
}

/// The text of an open cgroup file, read from its start.
fn read_counter(file: &std::fs::File) -> Option<String> {
    use std::os::unix::fs::FileExt;
    let mut buf = [0u8; 512];
    let n = file.read_at(&mut buf, 0).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
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
                    return Err(Failure::io(format!(
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
                let running = procs(path);
                if running.is_empty() {
                    return Ok(());
                }
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let pids: Vec<&str> = running.split_whitespace().take(5).collect();
                return Err(Failure::new(
                    Errno::EBUSY,
                    format!(
                        "a container named \"{name}\" runs: its cgroup {} has processes ({})",
                        path.display(),
                        pids.join(", ")
                    ),
                ));
            }
            Err(e) => {
                return Err(Failure::io(format!(
                    "create the cgroup folder {}",
                    path.display()
                ))(e));
            }
        }
    }
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
        let _ = sys::kill(pid, libc::SIGKILL);
    }
}

fn procs(path: &Path) -> String {
    std::fs::read_to_string(path.join("cgroup.procs"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{CgroupWrite, Limits};

    fn setup(dir: &Path, writes: Vec<CgroupWrite>) -> CgroupSetup {
        CgroupSetup {
            version: CgroupVersion::V2,
            limits: Limits {
                memory: Some(1 << 20),
                pids: Some(5),
                ..Limits::default()
            },
            paths: vec![dir.to_path_buf()],
            writes,
        }
    }

    /// A cgroup v2 tree in a temporary folder: the launcher writes the files the plan lists,
    /// moves a pid in, and removes its folders when asked (dropping it removes nothing).
    #[test]
    fn creates_writes_joins_and_removes_in_a_fake_v2_tree() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("launcher/web");
        // A real cgroupfs folder comes with its cgroup.procs; a fake one needs it made.
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cgroup.procs"), "").unwrap();
        let write = |file: PathBuf, value: &str| CgroupWrite {
            file,
            value: value.into(),
        };
        let plan = setup(
            &dir,
            vec![
                write(root.path().join("cgroup.subtree_control"), "+memory +pids"),
                write(dir.join("memory.max"), "1048576"),
                write(dir.join("pids.max"), "5"),
            ],
        );
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
        assert!(dir.exists(), "dropping a cgroup removed it");
        remove_leftovers(std::slice::from_ref(&dir)).unwrap();
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
        let failure = Cgroup::create(&setup(&dir, Vec::new())).unwrap_err();
        assert_eq!(failure.errno, Errno::EBUSY);
        assert!(failure.what.contains("has processes"), "{}", failure.what);
    }
}
