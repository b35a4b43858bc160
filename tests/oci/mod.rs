//! The OCI runtime mode: runc's commands as black boxes, and podman driving the launcher
//! as its runtime (`--runtime launcher-oci`).

mod containerd;
mod hooks;
mod podman;
mod runc;

use std::path::PathBuf;
use std::process::Output;

use crate::util::{ensure_busybox_rootfs, repo};

/// `launcher-oci` for the engines and the black-box tests: `launcher oci` with the tests'
/// own state folder, seccomp cache and image store (see `util::oci_runtime`).
pub fn oci_binary() -> PathBuf {
    crate::util::oci_runtime()
}

/// A bundle (config.json from `launcher-oci spec`, edited by `edit`, and the busybox root
/// filesystem) and a state folder of its own; every container left is deleted with --force
/// when dropped.
pub struct Bundle {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
}

impl Bundle {
    pub fn new(edit: impl FnOnce(&mut serde_json::Value)) -> Bundle {
        ensure_busybox_rootfs();
        let dir = tempfile::tempdir().expect("cannot make a temporary folder");
        std::os::unix::fs::symlink(repo().join("rootfs"), dir.path().join("rootfs"))
            .expect("cannot link the rootfs");
        let mut config = launcher::oci::features::default_spec(false);
        config["process"]["terminal"] = false.into();
        edit(&mut config);
        std::fs::write(
            dir.path().join("config.json"),
            serde_json::to_string_pretty(&config).unwrap(),
        )
        .unwrap();
        let root = dir.path().join("state");
        Bundle { dir, root }
    }

    /// Edits the bundle's config.json again: for what needs the bundle's folder (a path in it).
    pub fn edit(&self, edit: impl FnOnce(&mut serde_json::Value)) {
        let file = self.dir.path().join("config.json");
        let mut config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        edit(&mut config);
        std::fs::write(&file, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    }

    /// Runs `launcher-oci --root ROOT ARGS`, which must fail as runc's commands do (exit 1):
    /// its stderr.
    pub fn refused(&self, args: &[&str]) -> String {
        let out = self.oci(args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?} must fail: {err}");
        err
    }

    /// Runs `launcher-oci --root ROOT ARGS`. Its output goes through files, not pipes: a
    /// container it creates keeps its stdio (as with runc), and a pipe would not end.
    pub fn oci(&self, args: &[&str]) -> Output {
        let out = tempfile::tempfile().expect("cannot make a temporary file");
        let err = tempfile::tempfile().expect("cannot make a temporary file");
        let status = std::process::Command::new(oci_binary())
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .current_dir(self.dir.path())
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(err.try_clone().unwrap())
            .status()
            .expect("cannot run launcher-oci");
        let read = |mut f: std::fs::File| {
            use std::io::{Read, Seek};
            let mut bytes = Vec::new();
            f.seek(std::io::SeekFrom::Start(0)).unwrap();
            f.read_to_end(&mut bytes).unwrap();
            bytes
        };
        Output {
            status,
            stdout: read(out),
            stderr: read(err),
        }
    }

    pub fn status(&self, id: &str) -> String {
        let out = self.oci(&["state", id]);
        assert!(
            out.status.success(),
            "state {id} failed: {}",
            text(&out.stderr)
        );
        let state: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        state["status"].as_str().unwrap_or_default().to_string()
    }

    /// Waits (up to 5 s) for the container to reach `status`.
    pub fn wait_status(&self, id: &str, status: &str) {
        for _ in 0..500 {
            if self.status(id) == status {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!(
            "container {id} did not become {status}: it is {}",
            self.status(id)
        );
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        if let Ok(entries) = std::fs::read_dir(&self.root) {
            for entry in entries.flatten() {
                let id = entry.file_name().to_string_lossy().into_owned();
                let _ = self.oci(&["delete", "--force", &id]);
            }
        }
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
