//! User namespaces with id ranges (issue 13), for real. Rootless: a throwaway user (uid
//! 64123, not 65534: the other rootless tests run as nobody in parallel and expect its one-id
//! map) gets ranges in /etc/subuid and /etc/subgid, and the files are put back when the test
//! ends, even when it fails. Its root filesystem is the busybox one with several owners (the
//! caller's uid is root inside, the range holds the others), with util-linux's setpriv copied
//! in for the privilege drop apt-get does.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};

use crate::util::{TempContainer, busybox, state_envs};

/// The throwaway user of the rootless tests.
const USER: &str = "launcher-t13";
const UID: u32 = 64123;
/// Its ranges (uids and gids): 400000.. on the host.
const START: u32 = 400000;

/// One test at a time edits the id files.
static ID_FILES: Mutex<()> = Mutex::new(());

/// /etc/passwd, /etc/subuid and /etc/subgid as they were before a test added its lines, put
/// back when dropped (a failed assertion included).
pub struct IdFiles {
    saved: Vec<(PathBuf, Option<Vec<u8>>)>,
    _one_at_a_time: MutexGuard<'static, ()>,
}

impl IdFiles {
    /// Adds `lines` (file, line) to the host's files.
    pub fn add(lines: &[(&str, String)]) -> Self {
        let guard = ID_FILES.lock().unwrap_or_else(|p| p.into_inner());
        let files = ["/etc/passwd", "/etc/subuid", "/etc/subgid"];
        let saved = files
            .iter()
            .map(|f| (PathBuf::from(f), std::fs::read(f).ok()))
            .collect();
        let files = IdFiles {
            saved,
            _one_at_a_time: guard,
        };
        for (file, line) in lines {
            let mut text = std::fs::read_to_string(file).unwrap_or_default();
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(line);
            text.push('\n');
            write_replacing(Path::new(file), text.as_bytes());
        }
        files
    }

    /// The throwaway user, with ranges of `count` ids in both files.
    fn user_with_ranges(count: u32) -> Self {
        IdFiles::add(&[
            ("/etc/passwd", passwd_line()),
            ("/etc/subuid", format!("{USER}:{START}:{count}")),
            ("/etc/subgid", format!("{USER}:{START}:{count}")),
        ])
    }
}

impl Drop for IdFiles {
    fn drop(&mut self) {
        for (path, content) in &self.saved {
            match content {
                Some(bytes) => write_replacing(path, bytes),
                None => {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
    }
}

fn passwd_line() -> String {
    format!("{USER}:x:{UID}:{UID}::/nonexistent:/usr/sbin/nologin")
}

/// Writes a file of /etc whole, by rename, keeping its mode.
fn write_replacing(path: &Path, bytes: &[u8]) {
    let temp = path.with_extension("launcher-test");
    std::fs::write(&temp, bytes).expect("cannot write a file in /etc");
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&temp, meta.permissions());
    }
    std::fs::rename(&temp, path).expect("cannot replace a file in /etc");
}

/// `launcher up` as the throwaway user, with `PATH` for the launcher (the helpers are looked
/// up on it).
fn up_as_user(container: &TempContainer, path: &str) -> Output {
    let reuid = format!("--reuid={UID}");
    let regid = format!("--regid={UID}");
    crate::util::launcher_through(&["/usr/bin/setpriv", &reuid, &regid, "--clear-groups"])
        .arg("up")
        .arg(container.file())
        .envs(state_envs(container))
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "200")
        .stdin(Stdio::null())
        .output()
        .expect("cannot run setpriv (util-linux)")
}

const PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Copies the host's setpriv (util-linux) and the libraries it loads into `rootfs`.
fn copy_setpriv(rootfs: &Path) {
    let ldd = Command::new("ldd")
        .arg("/usr/bin/setpriv")
        .output()
        .expect("cannot run ldd (libc-bin)");
    let mut files = vec![PathBuf::from("/usr/bin/setpriv")];
    for line in text(&ldd.stdout).lines() {
        let path = line
            .split_whitespace()
            .find(|w| w.starts_with('/'))
            .map(PathBuf::from);
        files.extend(path);
    }
    for file in files {
        let target = rootfs.join(file.strip_prefix("/").unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&file, &target)
            .unwrap_or_else(|e| panic!("cannot copy {} into the rootfs: {e}", file.display()));
    }
}

fn lchown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
}

/// A busybox root filesystem the throwaway user owns (root inside), with a user `app`
/// (uid 100, in group `staff` too) whose home belongs to it: files of several owners.
fn rootfs_of_several_owners(body: &str) -> TempContainer {
    let container = busybox(body);
    let rootfs = container.path("rootfs");
    copy_setpriv(&rootfs);
    let append = |file: &str, line: &str| {
        let path = rootfs.join(file);
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str(line);
        std::fs::write(&path, text).unwrap();
    };
    append("etc/passwd", "app:x:100:100:app:/home/app:/bin/sh\n");
    append("etc/group", "app:x:100:\nstaff:x:50:app\n");
    std::fs::create_dir_all(rootfs.join("home/app")).unwrap();
    std::fs::create_dir_all(container.path("data")).unwrap();
    crate::util::chown_tree(container.dir.path(), UID, UID);
    // Container id N (N >= 1) is host id START + N - 1.
    lchown(&rootfs.join("home/app"), START + 99, START + 99);
    lchown(&rootfs.join("etc/group"), UID, START + 49);
    container
}

#[test]
fn rootless_ranges_let_a_second_uid_run_and_own_its_files() {
    let _files = IdFiles::user_with_ranges(65536);
    let container = rootfs_of_several_owners(
        r#"command = ["/bin/sh", "-c", "id; cat /proc/self/uid_map /proc/self/gid_map; ls -ln /home /etc/group; chown 100:100 /data; /usr/bin/setpriv --reuid=100 --regid=100 --init-groups sh -c 'echo dropped: $(id); touch /data/by-app /home/app/note'"]
[[mount]]
type = "bind"
source = "data"
target = "/data"
"#,
    );
    let output = up_as_user(&container, PATH);
    let (out, err) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("uid=0(root) gid=0(root)"), "{out}");
    let maps: Vec<Vec<&str>> = lines[1..5]
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let (uid, start) = (UID.to_string(), START.to_string());
    let expected = [
        vec!["0", uid.as_str(), "1"],
        vec!["1", start.as_str(), "65536"],
    ];
    assert_eq!(maps[..2], expected[..], "uid_map: {out}");
    assert_eq!(maps[2..], expected[..], "gid_map: {out}");
    // Several owners, as the root filesystem holds them, seen inside.
    assert!(
        out.lines()
            .any(|l| l.contains(" 100 ") && l.contains(" 100 ") && l.ends_with("app")),
        "/home/app belongs to 100 inside: {out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains(" 0 ") && l.contains(" 50 ") && l.ends_with("/etc/group")),
        "/etc/group's group is 50 inside: {out}"
    );
    assert!(
        out.contains("dropped: uid=100(app) gid=100(app) groups=50(staff),100(app)")
            || out.contains("dropped: uid=100(app) gid=100(app) groups=100(app),50(staff)"),
        "setpriv drops to app with its groups: {out}"
    );
    // On the host, the files app made belong to what the map says.
    for made in ["data/by-app", "rootfs/home/app/note"] {
        let meta = std::fs::metadata(container.path(made)).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid()),
            (START + 99, START + 99),
            "{made} on the host"
        );
    }
}

#[test]
fn rootless_a_uid_beyond_the_ranges_is_an_error_at_its_line() {
    let _files = IdFiles::user_with_ranges(1000);
    let container = rootfs_of_several_owners("command = [\"/bin/true\"]\nuser = \"5000:100\"\n");
    let output = up_as_user(&container, PATH);
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(125), "{err}");
    assert!(
        err.contains("uid 5000 is outside the ids this user can map (0 to 1000)"),
        "{err}"
    );
    assert!(
        err.contains("user = \"5000:100\""),
        "points at the line: {err}"
    );
    assert!(err.contains("usermod --add-subuids"), "{err}");
}

#[test]
fn rootless_remap_without_an_entry_names_the_files_and_the_fix() {
    let _files = IdFiles::add(&[("/etc/passwd", passwd_line())]);
    let container =
        rootfs_of_several_owners("command = [\"/bin/true\"]\n[namespaces]\nuser = \"remap\"\n");
    let output = up_as_user(&container, PATH);
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(125), "{err}");
    for said in [
        format!("/etc/subuid has no entry for {USER}"),
        format!("/etc/subgid has no entry for {USER}"),
        "usermod --add-subuids".to_string(),
        "usermod --add-subgids".to_string(),
        "user = \"remap\"".to_string(),
    ] {
        assert!(err.contains(&said), "{said}: {err}");
    }
}

#[test]
fn rootless_without_ranges_keeps_the_one_id_map() {
    let _files = IdFiles::add(&[("/etc/passwd", passwd_line())]);
    let container = rootfs_of_several_owners(
        "command = [\"/bin/sh\", \"-c\", \"cat /proc/self/uid_map\"]\nuser = \"100\"\n",
    );
    let output = up_as_user(&container, PATH);
    let out = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{out}{}",
        text(&output.stderr)
    );
    let uid = UID.to_string();
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["100", uid.as_str(), "1"]
    );
}

#[test]
fn rootless_a_missing_or_unprivileged_helper_is_named_with_its_fix() {
    let _files = IdFiles::user_with_ranges(65536);
    let container = rootfs_of_several_owners("command = [\"/bin/true\"]\n");
    // Nothing on PATH: both helpers are missing.
    let empty = container.path("empty-bin");
    std::fs::create_dir(&empty).unwrap();
    let output = up_as_user(&container, &empty.display().to_string());
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(125), "{err}");
    assert!(err.contains("newuidmap is not installed"), "{err}");
    assert!(err.contains("newgidmap is not installed"), "{err}");
    assert!(err.contains("apt-get install uidmap"), "{err}");
    assert!(err.contains("user = true"), "the one-id way out: {err}");
    // Copies that are not setuid.
    let copies = container.path("copies-bin");
    std::fs::create_dir(&copies).unwrap();
    for helper in ["newuidmap", "newgidmap"] {
        std::fs::copy(Path::new("/usr/bin").join(helper), copies.join(helper)).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(copies.join(helper), std::fs::Permissions::from_mode(0o755))
            .unwrap();
    }
    let output = up_as_user(&container, &copies.display().to_string());
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(125), "{err}");
    assert!(err.contains("newuidmap is not setuid root"), "{err}");
    assert!(err.contains("chmod u+s"), "{err}");
}

#[test]
fn rootless_overlapping_ranges_are_refused() {
    let _files = IdFiles::add(&[
        ("/etc/passwd", passwd_line()),
        ("/etc/subuid", format!("{USER}:{START}:65536")),
        (
            "/etc/subuid",
            format!("launcher-t13-other:{}:10", START + 100),
        ),
        ("/etc/subgid", format!("{USER}:{START}:65536")),
    ]);
    let container = rootfs_of_several_owners("command = [\"/bin/true\"]\n");
    let output = up_as_user(&container, PATH);
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(125), "{err}");
    assert!(
        err.contains(&format!(
            "overlaps launcher-t13-other's {}-{}",
            START + 100,
            START + 109
        )),
        "{err}"
    );
}

// As root, `remap`: each container holds 65,536 ids of the launcher's range (the `launcher`
// entries the test adds), its root filesystem mounted idmapped.

/// The launcher's range in the tests: three shares (below 2^31: procps shows larger uids as
/// negative numbers).
const POOL: u32 = 1_500_000_000;

fn launcher_range() -> IdFiles {
    IdFiles::add(&[
        ("/etc/subuid", format!("launcher:{POOL}:196608")),
        ("/etc/subgid", format!("launcher:{POOL}:196608")),
    ])
}

fn ids_of(lab: &crate::lifecycle::Lab, name: &str) -> Option<String> {
    std::fs::read_to_string(lab.root().join(name).join("ids")).ok()
}

#[test]
fn remap_root_is_an_unprivileged_range_that_sees_its_idmapped_root_as_its_own() {
    let _files = launcher_range();
    let container = busybox(
        r#"command = ["/bin/sh", "-c", "cat /proc/self/uid_map; ls -ln /bin/busybox /host-file; echo changed >> /host-file || echo refused; touch /made-inside"]
[namespaces]
user = "remap"
[[mount]]
type = "bind"
source = "host-file"
target = "/host-file"
"#,
    );
    std::fs::write(container.path("host-file"), "the host's\n").unwrap();
    lchown(&container.path("host-file"), 0, 0);
    let state = tempfile::tempdir().unwrap();
    let output = crate::util::launcher_up(&container, &[])
        .env("LAUNCHER_STATE_DIR", state.path())
        .env_remove("LAUNCHER_REMAP_IDS")
        .output()
        .unwrap();
    let (out, err) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["0", &POOL.to_string(), "65536"],
        "uid_map: {out}"
    );
    // The idmapped root: root's files are the container root's own...
    assert!(
        lines[1].contains(" 0        0 ") && lines[1].ends_with("/bin/busybox"),
        "{out}"
    );
    // ...and a host file bound in keeps its owner: host root is nobody inside.
    assert!(
        lines[2].contains(" 65534    65534 ") && lines[2].ends_with("/host-file"),
        "{out}"
    );
    assert!(
        out.contains("Permission denied") || out.contains("refused"),
        "{out}{err}"
    );
    assert_eq!(
        std::fs::read_to_string(container.path("host-file")).unwrap(),
        "the host's\n",
        "container root wrote a root-owned host file"
    );
    // Nothing chowned on disk: the files stay root's, and so does what container root made.
    for file in ["rootfs/bin/busybox", "rootfs/made-inside"] {
        let meta = std::fs::symlink_metadata(container.path(file)).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (0, 0), "{file} on disk");
    }
    // A foreground run frees its share when it ends.
    assert!(
        std::fs::read_dir(state.path())
            .unwrap()
            .filter_map(Result::ok)
            .all(|e| !e.path().join("ids").exists()),
        "a share is still held"
    );
}

#[test]
fn remap_containers_hold_disjoint_ranges_shown_by_ps_and_freed_at_rm() {
    use crate::lifecycle::{Lab, Mode};
    let _files = launcher_range();
    let lab = Lab::new(Mode::Root);
    let body = "command = [\"/bin/sleep\", \"60\"]\n[namespaces]\nuser = \"remap\"\n";
    let (a, b) = (lab.name("remap-a"), lab.name("remap-b"));
    for name in [&a, &b] {
        lab.up_d(&lab.container(name, body));
    }
    let (ids_a, ids_b) = (ids_of(&lab, &a).unwrap(), ids_of(&lab, &b).unwrap());
    let first = |ids: &str| -> u32 { ids.split_whitespace().next().unwrap().parse().unwrap() };
    let (start_a, start_b) = (first(&ids_a), first(&ids_b));
    assert!(
        start_a.abs_diff(start_b) >= 65536,
        "disjoint shares: {ids_a} / {ids_b}"
    );
    for (name, start) in [(&a, start_a), (&b, start_b)] {
        let pid = lab.inspect(name)["recorded_pid"].as_i64().unwrap();
        let map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
        assert_eq!(
            map.split_whitespace().collect::<Vec<_>>(),
            ["0", &start.to_string(), "65536"]
        );
        // The host's view: container root is an unprivileged uid.
        let ps = Command::new("ps")
            .args(["-o", "uid=", "-p", &pid.to_string()])
            .output()
            .expect("cannot run ps (procps)");
        assert_eq!(
            text(&ps.stdout).trim(),
            start.to_string(),
            "ps -o uid of {name}"
        );
    }
    // rm frees the share: the next container gets it.
    let removed = lab.run(&["rm", "-f", &a]);
    assert_eq!(removed.status.code(), Some(0), "{}", text(&removed.stderr));
    let c = lab.name("remap-c");
    lab.up_d(&lab.container(&c, body));
    assert_eq!(ids_of(&lab, &c).unwrap(), ids_a, "c gets a's freed share");
}

/// `remap` with an image: the layers are mounted idmapped (their root-owned files are the
/// container root's, nothing chowned in the store), and what the container writes lands in
/// its writable layer with the ids of its share.
#[test]
fn remap_an_image_runs_on_idmapped_layers_and_writes_with_the_ids_of_its_range() {
    use std::os::unix::fs::FileTypeExt;
    let _files = launcher_range();
    crate::util::ensure_image_layout();
    let layout = crate::util::repo().join("examples/image-layout/layout");
    let name = format!("remap-image-{}", std::process::id());
    let container = TempContainer::new(&format!(
        r#"name = "{name}"
image = "oci:{}:latest"
terminal = false
command = ["/bin/sh", "-c", "cat /proc/self/uid_map; ls -ln /bin/busybox; touch /made-inside && rm /etc/passwd && echo wrote; sleep 60"]
[namespaces]
user = "remap"
"#,
        layout.display()
    ));
    let state = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let launcher = |args: &[&str]| {
        crate::util::launcher_bin()
            .arg("--root")
            .arg(state.path())
            .args(args)
            .env("LAUNCHER_STORE_DIR", store.path())
            .env_remove("LAUNCHER_REMAP_IDS")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    // Removed even when an assertion fails.
    struct Remove<'a>(&'a dyn Fn(&[&str]) -> Output, &'a str);
    impl Drop for Remove<'_> {
        fn drop(&mut self) {
            (self.0)(&["rm", "-f", self.1]);
        }
    }
    let file = container.file().display().to_string();
    let started = launcher(&["up", "-d", &file]);
    let _remove = Remove(&launcher, &name);
    assert_eq!(started.status.code(), Some(0), "{}", text(&started.stderr));
    let upper = store.path().join("containers").join(&name).join("upper");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !upper.join("etc/passwd").exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let logs = text(&launcher(&["logs", &name]).stdout);
    let share: u32 = std::fs::read_to_string(state.path().join(&name).join("ids"))
        .expect("no share recorded")
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["0", &share.to_string(), "65536"],
        "uid_map: {logs}"
    );
    // The layer's root-owned files are the container root's...
    assert!(
        lines[1].contains(" 0        0 ") && lines[1].ends_with("/bin/busybox"),
        "{logs}"
    );
    assert!(logs.contains("wrote"), "{logs}");
    // ...what it made is its share's on disk, and a removal is a whiteout in its layer.
    let made = std::fs::symlink_metadata(upper.join("made-inside")).unwrap();
    assert_eq!(
        (made.uid(), made.gid()),
        (share, share),
        "made-inside on disk"
    );
    let whiteout = std::fs::symlink_metadata(upper.join("etc/passwd")).unwrap();
    assert!(
        whiteout.file_type().is_char_device(),
        "etc/passwd: {whiteout:?}"
    );
    // Nothing in the store was chowned.
    let layers = store.path().join("layers");
    let busybox = walk_find(&layers, "busybox").expect("no busybox in the store's layers");
    let meta = std::fs::symlink_metadata(&busybox).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid()),
        (0, 0),
        "{} on disk",
        busybox.display()
    );
    let removed = launcher(&["rm", "-f", &name]);
    assert_eq!(removed.status.code(), Some(0), "{}", text(&removed.stderr));
    assert!(!upper.exists(), "the writable layer outlived rm");
    assert!(
        !state.path().join(&name).join("ids").exists(),
        "the share outlived rm"
    );
}

/// The first file called `name` under `dir`, depth first.
fn walk_find(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.filter_map(Result::ok) {
        let path = entry.path();
        let kind = entry.file_type().ok()?;
        if kind.is_dir() {
            if let Some(found) = walk_find(&path, name) {
                return Some(found);
            }
        } else if entry.file_name() == name {
            return Some(path);
        }
    }
    None
}

#[test]
fn remap_without_the_launchers_range_is_an_error_at_its_line() {
    let _files = IdFiles::add(&[]);
    let container = busybox("command = [\"/bin/true\"]\n[namespaces]\nuser = \"remap\"\n");
    let state = tempfile::tempdir().unwrap();
    let output = crate::util::launcher_up(&container, &[])
        .env("LAUNCHER_STATE_DIR", state.path())
        .env_remove("LAUNCHER_REMAP_IDS")
        .output()
        .unwrap();
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(125), "{err}");
    assert!(
        err.contains("/etc/subuid has no entry for the user `launcher`"),
        "{err}"
    );
    assert!(
        err.contains("user = \"remap\""),
        "points at the line: {err}"
    );
}

#[test]
fn remap_of_a_root_that_cannot_be_idmapped_is_an_error_at_the_rootfs_line() {
    let _files = launcher_range();
    // sysfs has no idmapped mounts.
    let container = TempContainer::new(
        "rootfs = \"/sys/kernel\"\ncommand = [\"/bin/true\"]\n[namespaces]\nuser = \"remap\"\n",
    );
    let state = tempfile::tempdir().unwrap();
    let output = crate::util::launcher_up(&container, &[])
        .env("LAUNCHER_STATE_DIR", state.path())
        .output()
        .unwrap();
    let err = text(&output.stderr);
    // (127 besides: /bin/true is not found in it either.)
    assert_ne!(output.status.code(), Some(0), "{err}");
    assert!(err.contains("cannot be mounted idmapped"), "{err}");
    assert!(err.contains("rootfs = \"/sys/kernel\""), "{err}");
}

#[test]
fn check_strict_warns_of_a_container_whose_root_is_the_hosts() {
    let _files = launcher_range();
    let plain = busybox("command = [\"/bin/true\"]\n");
    let output = crate::util::run(&["check", "--strict", &plain.file_str()]);
    let err = text(&output.stderr);
    assert!(
        err.contains("the container's root is the host's root"),
        "{err}"
    );
    assert!(
        err.contains("user = \\\"remap\\\"") || err.contains("user = \"remap\""),
        "{err}"
    );
    let remapped = busybox("command = [\"/bin/true\"]\n[namespaces]\nuser = \"remap\"\n");
    let output = crate::util::run(&["check", "--strict", &remapped.file_str()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(!text(&output.stderr).contains("host's root"));
}

#[test]
fn rootless_limits_without_a_delegated_cgroup_v2_say_what_is_missing() {
    // This host has no delegated cgroup v2 subtree (hybrid v1, or a session outside
    // user@UID.service): the limit is an error that says so and how to get one. The logic
    // with a delegated subtree is tested on a fake tree (preflight::cgroups).
    let container = busybox("command = [\"/bin/true\"]\n[resources]\nmemory = \"64MiB\"\n");
    crate::util::chown_tree(container.dir.path(), 65534, 65534);
    let output = crate::util::launcher_through(&[
        "/usr/bin/setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ])
    .arg("check")
    .arg(container.file())
    .envs(state_envs(&container))
    .env("NO_COLOR", "1")
    .env("COLUMNS", "300")
    .output()
    .unwrap();
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("resources.memory"), "{err}");
    assert!(
        err.contains("not delegated to uid 65534") || err.contains("no cgroup v2"),
        "{err}"
    );
    assert!(err.contains("systemd-run --user --scope"), "{err}");
}
