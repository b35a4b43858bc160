//! A private containerd (its own root, state, socket and config, in a mount namespace of its
//! own; stopped by a drop guard) with `ctr run --runc-binary launcher-oci`: containerd's
//! shim (containerd-shim-runc-v2, the path Kubernetes nodes use) drives the launcher.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::Duration;

use super::{oci_binary, text};
use crate::util::require_root;

struct Containerd {
    dir: tempfile::TempDir,
    daemon: Child,
    image: String,
    ids: Vec<String>,
}

impl Containerd {
    fn start() -> Containerd {
        require_root();
        let dir = tempfile::tempdir().expect("cannot make a temporary folder");
        let d = dir.path().display();
        let config = format!(
            "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n[grpc]\n  address = \"{d}/containerd.sock\"\n"
        );
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("containerd.log")).unwrap();
        let daemon = Command::new("unshare")
            .args([
                "-m",
                "sh",
                "-c",
                "mount --make-rprivate / && exec containerd --config \"$1\"",
                "sh",
            ])
            .arg(dir.path().join("config.toml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("cannot start containerd (apt-get install containerd)");
        let mut c = Containerd {
            dir,
            daemon,
            image: String::new(),
            ids: Vec::new(),
        };
        for _ in 0..200 {
            if c.ctr(&["version"]).status.success() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(c.dir.path().join("containerd.log")).unwrap_or_default();
        assert!(
            c.ctr(&["version"]).status.success(),
            "containerd did not start: {log}"
        );
        let archive = c.dir.path().join("bb.tar");
        let out = super::podman::save(&archive);
        assert!(out.status.success(), "podman save: {}", text(&out.stderr));
        let out = c.ctr(&[
            "image",
            "import",
            "--base-name",
            "bb",
            "--digests",
            archive.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "ctr image import: {}",
            text(&out.stderr)
        );
        let out = c.ctr(&["image", "ls", "-q"]);
        c.image = text(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        assert!(!c.image.is_empty(), "ctr imported no image");
        c
    }

    fn ctr(&self, args: &[&str]) -> Output {
        Command::new("ctr")
            .arg("--address")
            .arg(self.dir.path().join("containerd.sock"))
            .args(args)
            .output()
            .expect("cannot run ctr (apt-get install containerd)")
    }

    fn run(&mut self, id: &str, options: &[&str], command: &[&str]) -> Output {
        self.ids.push(id.to_string());
        let binary = oci_binary();
        let mut args = vec!["run", "--runc-binary", binary.to_str().unwrap()];
        args.extend(options);
        let image = self.image.clone();
        args.extend([image.as_str(), id]);
        args.extend(command);
        self.ctr(&args)
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        for id in self.ids.clone() {
            let _ = self.ctr(&["task", "kill", "-s", "SIGKILL", &id]);
            let _ = self.ctr(&["task", "delete", "--force", &id]);
            let _ = self.ctr(&["container", "delete", &id]);
        }
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.daemon.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.daemon.wait();
    }
}

fn state_root(c: &Containerd) -> PathBuf {
    c.dir.path().join("state")
}

#[test]
fn ctr_runs_execs_kills_and_deletes_through_containerds_shim() {
    let _one = super::podman::one_at_a_time();
    let mut c = Containerd::start();
    let out = c.run("ctr-run", &["--rm"], &["sh", "-c", "echo from-ctr; exit 5"]);
    assert_eq!(text(&out.stdout), "from-ctr\n", "{}", text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(5),
        "ctr run gives the task's status: {}",
        text(&out.stderr)
    );

    let out = c.run("ctr-detached", &["-d"], &["sleep", "30"]);
    assert!(out.status.success(), "ctr run -d: {}", text(&out.stderr));
    let out = c.ctr(&[
        "task",
        "exec",
        "--exec-id",
        "e1",
        "ctr-detached",
        "sh",
        "-c",
        "echo in-exec; exit 2",
    ]);
    assert_eq!(text(&out.stdout), "in-exec\n", "{}", text(&out.stderr));
    assert_eq!(out.status.code(), Some(2));
    let out = c.ctr(&["task", "kill", "-s", "SIGKILL", "ctr-detached"]);
    assert!(out.status.success(), "kill: {}", text(&out.stderr));
    let mut stopped = false;
    for _ in 0..100 {
        let list = text(&c.ctr(&["task", "ls"]).stdout);
        if list
            .lines()
            .any(|l| l.starts_with("ctr-detached") && l.contains("STOPPED"))
        {
            stopped = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(stopped, "the task stopped after SIGKILL");
    let out = c.ctr(&["task", "delete", "ctr-detached"]);
    assert!(out.status.success(), "task delete: {}", text(&out.stderr));
    let out = c.ctr(&["container", "delete", "ctr-detached"]);
    assert!(
        out.status.success(),
        "container delete: {}",
        text(&out.stderr)
    );
    let _ = state_root(&c);
    assert!(
        !Path::new("/sys/fs/cgroup/pids/default/ctr-detached").exists(),
        "the cgroup went with it"
    );
}
