//! podman with the launcher as its OCI runtime: an image imported from the busybox root
//! filesystem, private storage (vfs), cgroupfs, no network. Each podman call runs in a mount
//! namespace of its own (made rprivate first), so nothing podman mounts reaches the host.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

use super::{oci_binary, text};
use crate::util::{ensure_busybox_rootfs, repo, require_root};

/// podman's storage for these tests, made once (the image imported) per test run.
fn storage() -> &'static PathBuf {
    static STORAGE: OnceLock<PathBuf> = OnceLock::new();
    STORAGE.get_or_init(|| {
        ensure_busybox_rootfs();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("podman");
        let _ = std::fs::create_dir_all(&dir);
        let exists = podman_in(&dir, &["image", "exists", "bb"]);
        if !exists.status.success() {
            let script = format!(
                "tar -C {} -c . | {} import - bb",
                repo().join("rootfs").display(),
                podman_line(&dir)
            );
            let out = wrap()
                .arg("sh")
                .arg("-c")
                .arg(&script)
                .output()
                .expect("cannot run sh");
            assert!(
                out.status.success(),
                "podman import failed: {}",
                text(&out.stderr)
            );
        }
        dir
    })
}

/// `unshare -m` with / made rprivate, then the command.
fn wrap() -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args([
        "-m",
        "sh",
        "-c",
        "mount --make-rprivate / && exec \"$@\"",
        "sh",
    ]);
    cmd
}

fn podman_line(dir: &std::path::Path) -> String {
    format!(
        "podman --root {0}/root --runroot {0}/runroot --storage-driver vfs --cgroup-manager cgroupfs --events-backend none --runtime {1}",
        dir.display(),
        oci_binary().display()
    )
}

fn podman_in(dir: &std::path::Path, args: &[&str]) -> Output {
    let line = podman_line(dir);
    // Containers podman makes by itself (a pod's infra) get these rlimits too.
    let conf = dir.join("containers.conf");
    if !conf.exists() {
        std::fs::write(
            &conf,
            "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n",
        )
        .expect("cannot write containers.conf");
    }
    let mut cmd = wrap();
    cmd.env("CONTAINERS_CONF", &conf);
    cmd.args(line.split(' ')).args(args);
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run podman (apt-get install podman conmon): {e}"))
}

fn podman(args: &[&str]) -> Output {
    require_root();
    podman_in(storage(), args)
}

/// One podman test at a time: podman's attach to a container that ends at once raced with
/// another podman's start on the same storage (attach socket missing). When the test ends,
/// podman's own cgroup folders (`libpod_parent/conmon`) go too, if nothing uses them.
pub fn one_at_a_time() -> OneAtATime {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    OneAtATime(LOCK.lock().unwrap_or_else(|e| e.into_inner()))
}

pub struct OneAtATime(#[allow(dead_code)] std::sync::MutexGuard<'static, ()>);

impl Drop for OneAtATime {
    fn drop(&mut self) {
        let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
            return;
        };
        for hierarchy in hierarchies.flatten() {
            let parent = hierarchy.path().join("libpod_parent");
            // rmdir refuses a folder that holds a process or a child: another podman's.
            let _ = std::fs::remove_dir(parent.join("conmon"));
            let _ = std::fs::remove_dir(&parent);
        }
    }
}

/// `podman save` of the test image as an OCI archive (for containerd).
pub fn save(archive: &std::path::Path) -> Output {
    podman(&[
        "save",
        "--format",
        "oci-archive",
        "-o",
        archive.to_str().unwrap(),
        "bb",
    ])
}

/// The hard rlimits of this machine may be below podman's defaults (nofile 1048576), which
/// root without CAP_SYS_RESOURCE cannot raise: ask for less.
const LIMITS: [&str; 4] = [
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1024:1024",
];

fn run_rm(options: &[&str], command: &[&str]) -> Output {
    let mut args = vec!["run", "--rm"];
    if !options.contains(&"--network") {
        args.extend(["--network", "none"]);
    }
    args.extend(LIMITS);
    args.extend(options);
    args.push("bb");
    args.extend(command);
    podman(&args)
}

/// Removes a podman container whatever happened.
struct Gone(String);

impl Drop for Gone {
    fn drop(&mut self) {
        let _ = podman(&["rm", "-f", "-t", "0", &self.0]);
    }
}

#[test]
fn podman_run_rm_gives_the_commands_exit_status_and_output() {
    let _one = one_at_a_time();
    let out = run_rm(&[], &["sh", "-c", "echo hello; exit 7"]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello\n");
    let out = run_rm(&[], &["/no/such"]);
    assert_eq!(
        out.status.code(),
        Some(127),
        "a missing command: {}",
        text(&out.stderr)
    );
}

#[test]
fn podman_run_with_a_tty() {
    let _one = one_at_a_time();
    let out = run_rm(&["-t"], &["sh", "-c", "tty; test -t 0 && echo yes"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("/dev/pts/0") && stdout.contains("yes"),
        "{stdout}"
    );
}

#[test]
fn podman_cap_drop_read_only_and_user_are_honoured() {
    let _one = one_at_a_time();
    let out = run_rm(
        &["--cap-drop", "all"],
        &["grep", "CapEff", "/proc/self/status"],
    );
    assert!(
        text(&out.stdout).contains("0000000000000000"),
        "{} {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let out = run_rm(
        &["--read-only"],
        &[
            "sh",
            "-c",
            "touch /x 2>/dev/null && echo wrote; touch /tmp/x && echo tmp",
        ],
    );
    assert_eq!(text(&out.stdout), "tmp\n", "{}", text(&out.stderr));
    let out = run_rm(&["--user", "1000:1000"], &["id"]);
    assert!(
        text(&out.stdout).starts_with("uid=1000(1000) gid=1000(1000)"),
        "{} {}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn podman_detached_logs_exec_stop_rm_and_limits() {
    let _one = one_at_a_time();
    let name = "launcher-oci-detached";
    let _gone = Gone(name.into());
    let mut args = vec![
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "none",
        "--memory",
        "64m",
        "--pids-limit",
        "50",
    ];
    args.extend(LIMITS);
    args.extend([
        "bb",
        "sh",
        "-c",
        "echo started; trap 'exit 0' TERM; while true; do sleep 0.1; done",
    ]);
    let out = podman(&args);
    assert!(out.status.success(), "run -d: {}", text(&out.stderr));
    let id = text(&out.stdout).trim().to_string();
    let memory = format!("/sys/fs/cgroup/memory/libpod_parent/libpod-{id}/memory.limit_in_bytes");
    assert_eq!(
        std::fs::read_to_string(&memory).unwrap_or_default().trim(),
        "67108864",
        "{memory}"
    );
    let pids = format!("/sys/fs/cgroup/pids/libpod_parent/libpod-{id}/pids.max");
    assert_eq!(
        std::fs::read_to_string(&pids).unwrap_or_default().trim(),
        "50",
        "{pids}"
    );
    let out = podman(&["exec", name, "sh", "-c", "echo in-exec; exit 3"]);
    assert_eq!(out.status.code(), Some(3), "exec: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "in-exec\n");
    let out = podman(&["logs", name]);
    assert!(
        text(&out.stdout).contains("started"),
        "logs: {} {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let out = podman(&["stop", "-t", "5", name]);
    assert!(out.status.success(), "stop: {}", text(&out.stderr));
    let out = podman(&["rm", name]);
    assert!(out.status.success(), "rm: {}", text(&out.stderr));
    assert!(
        !std::path::Path::new(&memory).exists(),
        "the cgroup went with the container"
    );
}

#[test]
fn podman_containers_share_a_network_namespace() {
    let _one = one_at_a_time();
    let name = "launcher-oci-netns";
    let _gone = Gone(name.into());
    let mut args = vec!["run", "-d", "--name", name, "--network", "none"];
    args.extend(LIMITS);
    args.extend(["bb", "sleep", "30"]);
    let out = podman(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let net = format!("container:{name}");
    let first = podman(&["exec", name, "readlink", "/proc/self/ns/net"]);
    let out = run_rm(&["--network", &net], &["readlink", "/proc/self/ns/net"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        text(&first.stdout),
        "the second joined the first's namespace"
    );
}

#[test]
fn podman_pod_members_share_the_infra_containers_namespaces() {
    let _one = one_at_a_time();
    let pod = "launcher-oci-pod";
    struct PodGone(&'static str);
    impl Drop for PodGone {
        fn drop(&mut self) {
            let _ = podman(&["pod", "rm", "-f", "-t", "0", self.0]);
        }
    }
    let _gone = PodGone(pod);
    let out = podman(&["pod", "create", "--name", pod, "--network", "none"]);
    assert!(
        out.status.success(),
        "pod create (the infra image needs catatonit): {}",
        text(&out.stderr)
    );
    let out = podman(&[
        "run",
        "-d",
        "--pod",
        pod,
        "--name",
        "launcher-oci-pod-a",
        "bb",
        "sleep",
        "30",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let first = podman(&[
        "exec",
        "launcher-oci-pod-a",
        "sh",
        "-c",
        "for n in net uts ipc; do readlink /proc/self/ns/$n; done",
    ]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let second = podman(&[
        "run",
        "--rm",
        "--pod",
        pod,
        "bb",
        "sh",
        "-c",
        "for n in net uts ipc; do readlink /proc/self/ns/$n; done",
    ]);
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert_eq!(
        text(&second.stdout),
        text(&first.stdout),
        "both joined the pod's namespaces"
    );
    assert_eq!(text(&first.stdout).lines().count(), 3);
}
