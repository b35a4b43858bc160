//! runc's commands against their specified behaviour: state transitions, what is refused
//! and what is tolerated.

use super::{Bundle, text};
use crate::util::require_root;

fn sleeper() -> Bundle {
    Bundle::new(|c| c["process"]["args"] = serde_json::json!(["sleep", "30"]))
}

#[test]
fn create_start_kill_delete_walk_the_states() {
    require_root();
    let b = sleeper();
    let pid_file = b.dir.path().join("pid");
    let out = b.oci(&["create", "--pid-file", pid_file.to_str().unwrap(), "walk1"]);
    assert!(out.status.success(), "create failed: {}", text(&out.stderr));
    assert_eq!(b.status("walk1"), "created");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let state: serde_json::Value =
        serde_json::from_slice(&b.oci(&["state", "walk1"]).stdout).unwrap();
    assert_eq!(state["pid"], pid, "the pid file and the state agree");
    assert_eq!(state["id"], "walk1");
    assert_eq!(state["ociVersion"], "1.1.0");
    let out = b.oci(&["create", "walk1"]);
    assert!(
        !out.status.success(),
        "a second create of one id is refused"
    );
    assert!(
        text(&out.stderr).contains("already exists"),
        "{}",
        text(&out.stderr)
    );

    assert!(b.oci(&["start", "walk1"]).status.success());
    assert_eq!(b.status("walk1"), "running");
    let out = b.oci(&["start", "walk1"]);
    assert!(
        !out.status.success(),
        "start of a running container is refused"
    );

    let out = b.oci(&["delete", "walk1"]);
    assert!(
        !out.status.success(),
        "delete of a running container without --force is refused"
    );
    assert!(
        text(&out.stderr).contains("--force"),
        "the error says how: {}",
        text(&out.stderr)
    );

    assert!(b.oci(&["kill", "walk1", "KILL"]).status.success());
    b.wait_status("walk1", "stopped");
    let out = b.oci(&["kill", "walk1", "TERM"]);
    assert!(
        !out.status.success(),
        "kill of a stopped container is an error"
    );
    assert!(
        text(&out.stderr).contains("not running"),
        "{}",
        text(&out.stderr)
    );

    assert!(
        b.oci(&["delete", "walk1"]).status.success(),
        "delete of a stopped container"
    );
    let out = b.oci(&["delete", "walk1"]);
    assert!(
        !out.status.success(),
        "a second delete without --force names the missing id"
    );
    assert!(text(&out.stderr).contains("does not exist"));
    assert!(
        b.oci(&["delete", "--force", "walk1"]).status.success(),
        "a second delete --force is tolerated"
    );
}

#[test]
fn delete_force_ends_a_running_container_and_its_cgroup() {
    require_root();
    let b = sleeper();
    assert!(b.oci(&["run", "--detach", "force1"]).status.success());
    assert_eq!(b.status("force1"), "running");
    let cgroup = std::path::Path::new("/sys/fs/cgroup/pids/launcher/force1");
    let present = cgroup.exists() || !std::path::Path::new("/sys/fs/cgroup/pids").exists();
    assert!(
        present,
        "the container has its cgroup at its cgroupsPath default"
    );
    let out = b.oci(&["delete", "--force", "force1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!cgroup.exists(), "delete removed the cgroup");
    assert!(!b.root.join("force1").exists(), "delete removed the state");
}

#[test]
fn unknown_ids_are_errors() {
    require_root();
    let b = sleeper();
    for args in [
        &["state", "nope"][..],
        &["start", "nope"],
        &["kill", "nope", "TERM"],
        &["delete", "nope"],
    ] {
        let out = b.oci(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            text(&out.stderr).contains("\"nope\" does not exist"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn run_exits_with_the_commands_status_and_errors_go_to_the_json_log() {
    require_root();
    let b =
        Bundle::new(|c| c["process"]["args"] = serde_json::json!(["sh", "-c", "echo out; exit 7"]));
    let out = b.oci(&["run", "run1"]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "out\n");
    assert!(
        !b.root.join("run1").exists(),
        "run deletes the container after"
    );

    let log = b.dir.path().join("log.json");
    let bad = Bundle::new(|c| c["process"]["args"] = serde_json::json!(["/no/such"]));
    let out = bad.oci(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "create",
        "run2",
    ]);
    assert_eq!(out.status.code(), Some(127), "{}", text(&out.stderr));
    let line: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(line["level"], "error");
    assert!(
        line["msg"].as_str().unwrap().contains("process.args"),
        "{line}"
    );
}

#[test]
fn a_field_that_cannot_be_honoured_is_named_with_its_line() {
    require_root();
    let b = Bundle::new(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "time"}));
        c["linux"]["intelRdt"] = serde_json::json!({"closID": "x"});
    });
    let out = b.oci(&["create", "u1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("linux.namespaces[5].type"), "{err}");
    assert!(err.contains("\"time\""), "{err}");
    assert!(err.contains("linux.intelRdt: not supported"), "{err}");
    assert!(err.contains("line "), "{err}");
    let b = Bundle::new(|c| c["process"]["bogus"] = true.into());
    let err = text(&b.oci(&["create", "u2"]).stderr);
    assert!(
        err.contains("process") && err.contains("bogus"),
        "unknown fields are errors: {err}"
    );
}

#[test]
fn exec_runs_a_process_document_in_the_running_container() {
    require_root();
    let b = sleeper();
    assert!(b.oci(&["run", "-d", "exec1"]).status.success());
    let process = b.dir.path().join("process.json");
    let doc = serde_json::json!({
        "args": ["sh", "-c", "echo $FOO; hostname; exit 4"],
        "env": ["PATH=/bin", "FOO=bar"],
        "cwd": "/",
        "user": {"uid": 0, "gid": 0},
        "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]},
        "noNewPrivileges": true
    });
    std::fs::write(&process, doc.to_string()).unwrap();
    let out = b.oci(&["exec", "--process", process.to_str().unwrap(), "exec1"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "bar\nlauncher\n");
    let pid_file = b.dir.path().join("exec.pid");
    let out = b.oci(&[
        "exec",
        "-p",
        process.to_str().unwrap(),
        "--detach",
        "--pid-file",
        pid_file.to_str().unwrap(),
        "exec1",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse::<i32>()
            .is_ok()
    );
}

#[test]
fn pause_and_resume_freeze_the_container() {
    require_root();
    let b = sleeper();
    assert!(b.oci(&["run", "-d", "pause1"]).status.success());
    assert!(b.oci(&["pause", "pause1"]).status.success());
    assert_eq!(b.status("pause1"), "paused");
    assert!(
        !b.oci(&["pause", "pause1"]).status.success(),
        "pause of a paused container is refused"
    );
    assert!(b.oci(&["resume", "pause1"]).status.success());
    assert_eq!(b.status("pause1"), "running");
    let ps = b.oci(&["ps", "--format", "json", "pause1"]);
    let pids: Vec<i32> = serde_json::from_slice(&ps.stdout).unwrap();
    assert_eq!(pids.len(), 1, "one process: {pids:?}");
    let resources = b.dir.path().join("r.json");
    std::fs::write(&resources, r#"{"pids": {"limit": 33}}"#).unwrap();
    let out = b.oci(&[
        "update",
        "--resources",
        resources.to_str().unwrap(),
        "pause1",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let max = std::fs::read_to_string("/sys/fs/cgroup/pids/launcher/pause1/pids.max").unwrap();
    assert_eq!(max.trim(), "33");
}

#[test]
fn features_and_version_answer() {
    let b = Bundle::new(|_| {});
    let out = b.oci(&["features"]);
    let features: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(features["linux"]["cgroup"]["systemd"], false);
    let out = b.oci(&["--version"]);
    assert!(text(&out.stdout).contains("spec: 1.1.0"));
    let out = b.oci(&["--systemd-cgroup", "state", "x"]);
    assert!(text(&out.stderr).contains("--systemd-cgroup is not supported"));
}

/// A sysctl of the host's, read now.
fn host_sysctl(key: &str) -> String {
    std::fs::read_to_string(std::path::Path::new("/proc/sys").join(key.replace('.', "/")))
        .unwrap_or_else(|e| panic!("read the host's {key}: {e}"))
}

#[test]
fn sysctls_are_set_in_the_containers_namespaces_only() {
    require_root();
    let keys = [
        ("kernel.shmmax", "123456789"),
        ("kernel.msgmax", "4096"),
        ("fs.mqueue.msg_max", "17"),
        ("net.ipv4.ip_unprivileged_port_start", "100"),
    ];
    let before: Vec<String> = keys.iter().map(|(k, _)| host_sysctl(k)).collect();
    assert!(
        keys.iter().zip(&before).all(|((_, v), b)| b.trim() != *v),
        "the host's values differ from the test's: {before:?}"
    );
    let b = Bundle::new(|c| {
        let files: Vec<String> = keys
            .iter()
            .map(|(k, _)| format!("/proc/sys/{}", k.replace('.', "/")))
            .collect();
        c["process"]["args"] = serde_json::json!(
            ["cat"]
                .into_iter()
                .chain(files.iter().map(String::as_str))
                .collect::<Vec<_>>()
        );
        c["linux"]["sysctl"] = keys
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
            .collect::<serde_json::Map<_, _>>()
            .into();
    });
    let out = b.oci(&["run", "sysctl1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let expected: String = keys.iter().map(|(_, v)| format!("{v}\n")).collect();
    assert_eq!(
        text(&out.stdout),
        expected,
        "the container sees the values set"
    );
    let after: Vec<String> = keys.iter().map(|(k, _)| host_sysctl(k)).collect();
    assert_eq!(before, after, "the host's values are unchanged");
}

#[test]
fn a_sysctl_that_would_reach_the_host_or_is_not_namespaced_is_refused_by_name() {
    require_root();
    let shmmax = host_sysctl("kernel.shmmax");
    let b = Bundle::new(|c| {
        c["process"]["args"] = serde_json::json!(["true"]);
        // No network or IPC namespace: the container shares the host's.
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "network" && n["type"] != "ipc");
        c["linux"]["sysctl"] = serde_json::json!({
            "net.ipv4.ip_forward": "1",
            "kernel.shmmax": "123456789",
            "vm.swappiness": "10"
        });
    });
    let err = b.refused(&["create", "sysctl2"]);
    assert!(
        err.contains("linux.sysctl.net.ipv4.ip_forward: a net.* sysctl needs a network namespace"),
        "{err}"
    );
    assert!(
        err.contains("linux.sysctl.kernel.shmmax: an IPC sysctl")
            && err.contains("needs an IPC namespace"),
        "{err}"
    );
    assert!(
        err.contains("linux.sysctl.vm.swappiness: not namespaced"),
        "{err}"
    );
    assert!(!b.root.join("sysctl2").exists(), "no state is left");
    assert_eq!(
        host_sysctl("kernel.shmmax"),
        shmmax,
        "the host's value is unchanged"
    );
}

/// Host ids for the id-mapping test: ranges no other test (or the host) uses.
const MAPPED_UID: u32 = 200_000;
const MAPPED_GID: u32 = 300_000;

#[test]
fn id_mappings_give_the_container_a_user_namespace_that_owns_its_files() {
    require_root();
    let b = Bundle::new(|c| {
        c["process"]["args"] = serde_json::json!([
            "sh",
            "-c",
            "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; stat -c %u:%g /bin/busybox; touch /made-inside"
        ]);
        c["root"] = serde_json::json!({"path": "rootfs-mapped", "readonly": false});
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "user"}));
        c["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": MAPPED_UID, "size": 65536}]);
        c["linux"]["gidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": MAPPED_GID, "size": 65536}]);
    });
    // The launcher chowns nothing (as runc): the engine gives a root filesystem owned by the
    // mapped root, here a copy of busybox's in the bundle.
    let rootfs = b.dir.path().join("rootfs-mapped");
    crate::util::fill_busybox(&rootfs);
    crate::util::chown_tree(&rootfs, MAPPED_UID, MAPPED_GID);
    let out = b.oci(&["run", "userns1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines = words(&stdout);
    assert_eq!(
        lines,
        [
            vec!["0", "200000", "65536"],
            vec!["0", "300000", "65536"],
            vec!["0"],
            vec!["0"],
            vec!["0:0"],
        ],
        "the maps given, root inside, and the files the mapped root's: {stdout}"
    );
    use std::os::unix::fs::MetadataExt;
    let made = std::fs::metadata(rootfs.join("made-inside")).unwrap();
    assert_eq!(
        (made.uid(), made.gid()),
        (MAPPED_UID, MAPPED_GID),
        "what container root makes is the mapped ids' on the host"
    );

    // A process exec'd into it joins its user namespace.
    b.edit(|c| c["process"]["args"] = serde_json::json!(["sleep", "30"]));
    let out = b.oci(&["run", "-d", "userns2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let process = b.dir.path().join("process.json");
    let doc = serde_json::json!({
        "args": ["sh", "-c", "cat /proc/self/uid_map; id -u; touch /made-by-exec"],
        "env": ["PATH=/bin"],
        "cwd": "/",
        "user": {"uid": 0, "gid": 0},
        "noNewPrivileges": true
    });
    std::fs::write(&process, doc.to_string()).unwrap();
    let out = b.oci(&["exec", "--process", process.to_str().unwrap(), "userns2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines = words(&stdout);
    assert_eq!(lines, [vec!["0", "200000", "65536"], vec!["0"]], "{stdout}");
    let made = std::fs::metadata(rootfs.join("made-by-exec")).unwrap();
    assert_eq!((made.uid(), made.gid()), (MAPPED_UID, MAPPED_GID));
}

/// Each line's words.
fn words(text: &str) -> Vec<Vec<&str>> {
    text.lines()
        .map(|l| l.split_whitespace().collect())
        .collect()
}
