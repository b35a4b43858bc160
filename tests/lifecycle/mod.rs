//! Detached containers and their lifecycle, for real, as root and rootless (uid 65534 through
//! `setpriv`). Every test has a state folder of its own (`--root`) and unique names, and a
//! [`Lab`] that removes its containers (`rm -f`), kills what it saw running, by pid, and
//! deletes the state folder, even when the test fails.

mod basics;
mod exec;
mod foreground;
mod habits;
mod records;
mod stopping;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

pub use crate::util::text;
use crate::util::{TempContainer, chown_tree, fill_busybox, require_root};

/// The unprivileged user rootless tests run the launcher as.
const NOBODY: u32 = 65534;

/// Who runs the launcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Root,
    Rootless,
}

/// A state folder, the containers made in it, and their cleanup.
pub struct Lab {
    pub mode: Mode,
    root: tempfile::TempDir,
    /// The seccomp cache of this test's launcher runs (not the host's /run/launcher/cache).
    cache: tempfile::TempDir,
    folders: RefCell<Vec<TempContainer>>,
    pub names: RefCell<Vec<String>>,
    /// (pid, start time) of every container and monitor process seen: killed at the end if
    /// `rm -f` left any.
    seen: RefCell<Vec<(i32, u64)>>,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Lab {
    pub fn new(mode: Mode) -> Lab {
        require_root();
        let root = tempfile::Builder::new()
            .prefix("launcher-state-")
            .tempdir()
            .expect("cannot create a state folder");
        let cache = tempfile::Builder::new()
            .prefix("launcher-cache-")
            .tempdir()
            .expect("cannot create a cache folder");
        if mode == Mode::Rootless {
            chown_tree(root.path(), NOBODY, NOBODY);
            chown_tree(cache.path(), NOBODY, NOBODY);
        }
        Lab {
            mode,
            root,
            cache,
            folders: RefCell::new(Vec::new()),
            names: RefCell::new(Vec::new()),
            seen: RefCell::new(Vec::new()),
        }
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// A name no other test uses: `PREFIX-PID-N`.
    pub fn name(&self, prefix: &str) -> String {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("{prefix}-{}-{n}", std::process::id());
        self.names.borrow_mut().push(name.clone());
        name
    }

    /// A folder with a busybox root filesystem and a Container.toml naming `name`, with
    /// `body` (which must not set `name` or `rootfs`). Returns its Container.toml.
    pub fn container(&self, name: &str, body: &str) -> PathBuf {
        let folder = TempContainer::new(&format!(
            "name = \"{name}\"\nhostname = \"box\"\nrootfs = \"rootfs\"\n{body}"
        ));
        fill_busybox(&folder.path("rootfs"));
        if self.mode == Mode::Rootless {
            chown_tree(folder.dir.path(), NOBODY, NOBODY);
        }
        let file = folder.file();
        self.folders.borrow_mut().push(folder);
        file
    }

    /// The launcher with `--root`, as root or as the unprivileged user.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = match self.mode {
            Mode::Root => crate::util::launcher_through(&[]),
            Mode::Rootless => crate::util::launcher_through(&[
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
            ]),
        };
        cmd.arg("--root")
            .arg(self.root())
            .env("LAUNCHER_CACHE_DIR", self.cache.path())
            .args(args)
            .env("NO_COLOR", "1")
            .env("COLUMNS", "100")
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .output()
            .expect("cannot run the launcher")
    }

    /// `up -d FILE`, which must succeed; notes the processes for the cleanup.
    pub fn up_d(&self, file: &Path) -> Output {
        let output = self.run(&["up", "-d", &file.display().to_string()]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "up -d failed: {}{}",
            text(&output.stdout),
            text(&output.stderr)
        );
        let name = text(&output.stdout).trim().to_string();
        self.note_processes(&name);
        output
    }

    /// Remembers the container's and monitor's processes, to kill them if `rm -f` fails.
    pub fn note_processes(&self, name: &str) {
        let info = self.inspect(name);
        for key in ["recorded_pid", "monitor_pid"] {
            if let Some(pid) = info[key].as_i64()
                && let Some(start) = start_time(pid as i32)
            {
                self.seen.borrow_mut().push((pid as i32, start));
            }
        }
    }

    pub fn inspect(&self, name: &str) -> Value {
        let output = self.run(&["inspect", name]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "inspect {name}: {}",
            text(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("inspect prints JSON")
    }

    /// `ps -a --format json`, as a list.
    pub fn ps_all(&self) -> Vec<Value> {
        let output = self.run(&["ps", "-a", "--format", "json"]);
        let listed: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
            panic!(
                "ps --format json is not JSON: {}{}",
                text(&output.stdout),
                text(&output.stderr)
            )
        });
        listed.as_array().cloned().unwrap_or_default()
    }

    /// The `ps -a` entry of `name`.
    pub fn ps_entry(&self, name: &str) -> Option<Value> {
        self.ps_all().into_iter().find(|row| row["name"] == name)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for name in self.names.borrow().iter() {
            let _ = self.command(&["rm", "-f", name]).output();
        }
        // Whatever `rm -f` could not end (a bug, a damaged record): the processes this test
        // saw, each checked by its start time so a recycled pid is left alone, and every
        // monitor started with this test's own state folder (its containers die with it).
        let mut seen = self.seen.borrow().clone();
        seen.extend(monitors_of(self.root()));
        for &(pid, start) in &seen {
            if start_time(pid) == Some(start) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::SIGKILL,
                );
            }
        }
    }
}

/// The launcher processes whose command line names the state folder `root`.
fn monitors_of(root: &Path) -> Vec<(i32, u64)> {
    let needle = root.display().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            cmdline
                .split(|&b| b == 0)
                .any(|arg| arg == needle.as_bytes())
        })
        .filter_map(|pid| Some((pid, start_time(pid)?)))
        .collect()
}

/// The start time of a live (not zombie) process, from /proc/PID/stat.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    if matches!(fields.first(), Some(&"Z") | Some(&"X")) {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// Every live process below `pid`, with its start time, and `pid` itself.
pub fn process_tree(pid: i32) -> Vec<(i32, u64)> {
    let mut tree: Vec<(i32, u64)> = start_time(pid).map(|s| (pid, s)).into_iter().collect();
    let mut grew = true;
    while grew {
        grew = false;
        for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
            let Ok(child) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if tree.iter().any(|(p, _)| *p == child) {
                continue;
            }
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<i32>().ok());
            if let Some(ppid) = ppid
                && tree.iter().any(|(p, _)| *p == ppid)
                && let Some(start) = start_time(child)
            {
                tree.push((child, start));
                grew = true;
            }
        }
    }
    tree
}

/// Waits until none of `processes` is alive; fails after `timeout`.
pub fn assert_gone(processes: &[(i32, u64)], timeout: Duration, what: &str) {
    let deadline = Instant::now() + timeout;
    loop {
        let alive: Vec<i32> = processes
            .iter()
            .filter(|(pid, start)| start_time(*pid) == Some(*start))
            .map(|(pid, _)| *pid)
            .collect();
        if alive.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: processes {alive:?} are still running"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `check` until it holds; fails with `what` after `timeout`.
pub fn eventually(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
