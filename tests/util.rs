//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The launcher binary, with the tests' own state folder and seccomp cache (in cargo's
/// scratch folder), so that no test writes into the host's /run/launcher.
pub fn launcher_bin() -> std::process::Command {
    launcher_through(&[])
}

/// The launcher binary run through `wrapper` (a program and its arguments, such as
/// `["setpriv", "--reuid=65534", ...]`; empty: the binary itself), with the tests' own state
/// folder, seccomp cache and image store. The only place that names the binary: no test may
/// start it with the host's /run/launcher (tests/architecture.rs checks). Later `.env`s or
/// `--root`/`--store` point it elsewhere.
pub fn launcher_through(wrapper: &[&str]) -> std::process::Command {
    let mut cmd = match wrapper.split_first() {
        None => std::process::Command::new(LAUNCHER),
        Some((program, args)) => {
            let mut cmd = std::process::Command::new(program);
            cmd.args(args).arg(LAUNCHER);
            cmd
        }
    };
    cmd.envs(scratch_envs());
    cmd
}

/// `program ARGS` (a shell, or unshare running one) with `$LAUNCHER` set to the launcher
/// binary and the tests' own state folder, seccomp cache and image store in its environment.
pub fn shell_with_launcher(program: &str, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(program);
    cmd.args(args)
        .env("LAUNCHER", LAUNCHER)
        .envs(scratch_envs());
    cmd
}

const LAUNCHER: &str = env!("CARGO_BIN_EXE_launcher");

/// An OCI runtime binary for engines (podman, containerd) to call: a script named
/// `launcher-oci` in cargo's scratch folder that runs `launcher oci` with the tests' own
/// state folder, seccomp cache and image store, whatever environment the engine passes on.
pub fn oci_runtime() -> PathBuf {
    // Once per test run: its tests are threads of one process, and the script is the same.
    static WRITTEN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    WRITTEN.get_or_init(write_oci_runtime).clone()
}

fn write_oci_runtime() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oci-bin");
    std::fs::create_dir_all(&dir).expect("cannot create the oci-bin folder");
    let exports: Vec<String> = scratch_envs()
        .iter()
        .map(|(key, value)| format!("export {key}='{}'\n", value.display()))
        .collect();
    let script = format!(
        "#!/bin/sh\n{}exec '{LAUNCHER}' oci \"$@\"\n",
        exports.concat()
    );
    let path = dir.join("launcher-oci");
    // Written aside and renamed: a test run at the same time (another process) sees a whole
    // script.
    let temp = dir.join(format!("launcher-oci.{}", std::process::id()));
    std::fs::write(&temp, script).expect("cannot write the launcher-oci script");
    std::fs::set_permissions(&temp, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("cannot make the launcher-oci script executable");
    std::fs::rename(&temp, &path).expect("cannot put the launcher-oci script in place");
    path
}

/// The tests' own state folder, seccomp cache and image store, in cargo's scratch folder.
fn scratch_envs() -> [(&'static str, PathBuf); 3] {
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR"));
    [
        ("LAUNCHER_STATE_DIR", scratch.join("state")),
        ("LAUNCHER_CACHE_DIR", scratch.join("seccomp-cache")),
        ("LAUNCHER_STORE_DIR", scratch.join("images")),
    ]
}

/// A state folder and a seccomp cache inside `container`, for a launcher started some other
/// way than [`launcher_bin`] (through setpriv as another user, who owns `container`; or a
/// shell).
pub fn state_envs(container: &TempContainer) -> [(&'static str, PathBuf); 3] {
    [
        ("LAUNCHER_STATE_DIR", container.path(".state")),
        ("LAUNCHER_CACHE_DIR", container.path(".cache")),
        ("LAUNCHER_STORE_DIR", container.path(".images")),
    ]
}

/// `launcher` with `args`, run from the repository root, without colours.
pub fn launcher(args: &[&str]) -> Command {
    let mut cmd = Command::from_std(launcher_bin());
    cmd.current_dir(repo())
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .args(args);
    cmd
}

/// Runs `launcher` and returns its output, whatever the exit status.
pub fn run(args: &[&str]) -> Output {
    launcher(args)
        .output()
        .expect("could not run the launcher binary")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A folder that holds a Container.toml with `text`, removed when dropped.
pub struct TempContainer {
    pub dir: tempfile::TempDir,
}

impl TempContainer {
    pub fn new(text: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("launcher-test-")
            .tempdir()
            .expect("cannot create a temporary folder");
        std::fs::write(dir.path().join("Container.toml"), text)
            .expect("cannot write Container.toml");
        TempContainer { dir }
    }

    pub fn file(&self) -> PathBuf {
        self.dir.path().join("Container.toml")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn file_str(&self) -> String {
        self.file().display().to_string()
    }
}

/// Every example folder under examples/.
pub fn examples() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(repo().join("examples"))
        .expect("examples/ is missing")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("Container.toml").is_file())
        .collect();
    found.sort();
    found
}

pub fn relative(path: &Path) -> String {
    path.strip_prefix(repo())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Fails the test with a clear message unless it runs as root (CI does).
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test runs containers for real and needs root: run `cargo test` as root (CI does)"
    );
}

/// Fills `target` with a busybox root filesystem (rootfs/fill-busybox.sh, busybox-static).
pub fn fill_busybox(target: &Path) {
    let output = std::process::Command::new("sh")
        .arg(repo().join("rootfs/fill-busybox.sh"))
        .arg(target)
        .output()
        .expect("cannot run sh rootfs/fill-busybox.sh");
    assert!(
        output.status.success(),
        "rootfs/fill-busybox.sh failed (install busybox-static: apt-get install busybox-static): {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// chown -R, for rootless tests.
pub fn chown_tree(path: &Path, uid: u32, gid: u32) {
    let status = std::process::Command::new("chown")
        .args(["-R", "-h", &format!("{uid}:{gid}")])
        .arg(path)
        .status()
        .expect("cannot run chown");
    assert!(
        status.success(),
        "chown -R {uid}:{gid} {} failed",
        path.display()
    );
}

/// Text of a process's output.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A container folder with its own busybox root filesystem and a Container.toml of `body`
/// (which must not set `rootfs`). Needs root: the tests that use it run containers.
pub fn busybox(body: &str) -> TempContainer {
    require_root();
    let container = TempContainer::new(&format!("rootfs = \"rootfs\"\n{body}"));
    fill_busybox(&container.path("rootfs"));
    container
}

/// `launcher up FILE [-- ARGS]`, without colours, ready to run.
pub fn launcher_up(container: &TempContainer, args: &[&str]) -> std::process::Command {
    let mut cmd = launcher_bin();
    cmd.arg("up")
        .arg(container.file())
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100");
    if !args.is_empty() {
        cmd.arg("--").args(args);
    }
    cmd
}

/// Runs `launcher up` with no stdin and returns its output, whatever the exit status.
pub fn up(container: &TempContainer, args: &[&str]) -> Output {
    launcher_up(container, args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("cannot run the launcher")
}

/// rootfs/ filled from busybox-static (rootfs/fill-busybox.sh), for the examples that use it.
pub fn ensure_busybox_rootfs() {
    let rootfs = repo().join("rootfs");
    if rootfs.join("bin/busybox").exists() {
        return;
    }
    let status = std::process::Command::new("sh")
        .arg(rootfs.join("fill-busybox.sh"))
        .status()
        .expect("cannot run rootfs/fill-busybox.sh");
    assert!(
        status.success(),
        "rootfs/fill-busybox.sh failed: install busybox-static (apt-get install busybox-static)"
    );
}

/// examples/image-layout's OCI layout, built from rootfs/ with umoci when missing. Tests that
/// run at once may both build it: the layout is made in a temporary folder and renamed into
/// place, so each sees a whole one.
pub fn ensure_image_layout() {
    ensure_busybox_rootfs();
    let example = repo().join("examples/image-layout");
    if example.join("layout/index.json").exists() {
        return;
    }
    let output = std::process::Command::new("sh")
        .arg(example.join("make-layout.sh"))
        .output()
        .expect("cannot run examples/image-layout/make-layout.sh");
    assert!(
        output.status.success(),
        "make-layout.sh failed (it needs umoci: apt-get install umoci): {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
