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
    Command::new("/usr/bin/setpriv")
        .args([
            &format!("--reuid={UID}"),
            &format!("--regid={UID}"),
            "--clear-groups",
            env!("CARGO_BIN_EXE_launcher"),
            "up",
        ])
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
