//! The runtime spec's hooks (config.json `hooks`), as runc's commands run them: each hook
//! here is a shell that appends its name and the state JSON it read on stdin to a log in the
//! bundle's folder, so the tests see which ran, in which order, and with what state.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{Bundle, text};
use crate::util::require_root;

/// A hook that appends `NAME STATE-JSON` as one line to `log`.
fn logging_hook(log: &Path, name: &str) -> Value {
    let log = log.display();
    json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("printf '%s ' {name} >> '{log}'; cat >> '{log}'; echo >> '{log}'")],
        "env": ["PATH=/usr/bin:/bin"],
        "timeout": 10
    })
}

/// The log's lines: each hook's name and the state it was given.
fn logged(log: &Path) -> Vec<(String, Value)> {
    let Ok(content) = std::fs::read_to_string(log) else {
        return Vec::new();
    };
    content
        .lines()
        .map(|line| {
            let (name, state) = line
                .split_once(' ')
                .unwrap_or_else(|| panic!("a log line without a state: {line:?}"));
            let state: Value = serde_json::from_str(state)
                .unwrap_or_else(|e| panic!("the state a hook read is no JSON ({e}): {line:?}"));
            (name.to_string(), state)
        })
        .collect()
}

fn names(entries: &[(String, Value)]) -> Vec<&str> {
    entries.iter().map(|(name, _)| name.as_str()).collect()
}

/// A bundle whose process sleeps, with `hooks(LOG)` as its hooks (LOG in the bundle's folder).
fn sleeper_with_hooks(hooks: impl FnOnce(&Path) -> Value) -> (Bundle, PathBuf) {
    let b = Bundle::new(|c| c["process"]["args"] = json!(["sleep", "30"]));
    let log = b.dir.path().join("hooks.log");
    b.edit(|c| c["hooks"] = hooks(&log));
    (b, log)
}

/// `create ID` with a pid file, which must succeed: the container's pid.
fn create(b: &Bundle, id: &str) -> i64 {
    let pid_file = b.dir.path().join(format!("{id}.pid"));
    let out = b.oci(&["create", "--pid-file", pid_file.to_str().unwrap(), id]);
    assert!(out.status.success(), "create failed: {}", text(&out.stderr));
    std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Whether process `pid` is gone (or a zombie: it runs nothing more).
fn ended(pid: i64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
    }
}

/// The container's cgroup folders at the default cgroupsPath (`/launcher/ID`) that exist, in
/// every hierarchy (v1 controllers or the v2 root).
fn cgroup_folders(id: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let v2 = Path::new("/sys/fs/cgroup/launcher").join(id);
    if v2.exists() {
        found.push(v2);
    }
    for entry in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        let path = entry.path().join("launcher").join(id);
        if path.exists() {
            found.push(path);
        }
    }
    found
}

/// For a container whose state is gone (so the bundle's guard cannot delete it): when
/// dropped, ends what runs in its cgroup folders and removes them, should a failed create
/// have left them.
struct CgroupGuard(&'static str);

impl Drop for CgroupGuard {
    fn drop(&mut self) {
        let folders = cgroup_folders(self.0);
        for folder in &folders {
            let procs = std::fs::read_to_string(folder.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        for folder in &folders {
            for _ in 0..200 {
                if std::fs::remove_dir(folder).is_ok() || !folder.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            // `launcher/` too, when no other container uses it (as the launcher does).
            if let Some(parent) = folder.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        }
    }
}

#[test]
fn hooks_run_in_their_phases_with_the_containers_state() {
    require_root();
    let (b, log) = sleeper_with_hooks(|log| {
        json!({
            "prestart": [logging_hook(log, "prestart0"), logging_hook(log, "prestart1")],
            "createRuntime": [logging_hook(log, "createRuntime")],
            "poststart": [logging_hook(log, "poststart")],
            "poststop": [logging_hook(log, "poststop")]
        })
    });
    let pid = create(&b, "hooks1");
    let entries = logged(&log);
    assert_eq!(
        names(&entries),
        ["prestart0", "prestart1", "createRuntime"],
        "create runs the prestart hooks in order, then createRuntime's, and nothing else"
    );
    let bundle = b.dir.path().canonicalize().unwrap();
    for (name, state) in &entries {
        assert_eq!(state["id"], "hooks1", "{name}: {state}");
        assert_eq!(state["status"], "created", "{name}: {state}");
        assert_eq!(
            state["pid"], pid,
            "{name} gets the container's pid: {state}"
        );
        assert_eq!(state["ociVersion"], "1.1.0", "{name}: {state}");
        let their_bundle = Path::new(state["bundle"].as_str().unwrap());
        assert_eq!(
            their_bundle.canonicalize().unwrap(),
            bundle,
            "{name}: {state}"
        );
    }
    assert!(
        !ended(pid),
        "the container's process waits at its FIFO after the hooks"
    );

    let out = b.oci(&["start", "hooks1"]);
    assert!(out.status.success(), "start failed: {}", text(&out.stderr));
    let entries = logged(&log);
    assert_eq!(
        names(&entries),
        ["prestart0", "prestart1", "createRuntime", "poststart"],
        "start runs poststart"
    );
    let state = &entries[3].1;
    assert_eq!(state["id"], "hooks1", "{state}");
    assert_eq!(state["status"], "running", "{state}");
    assert_eq!(state["pid"], pid, "{state}");

    assert!(b.oci(&["kill", "hooks1", "KILL"]).status.success());
    b.wait_status("hooks1", "stopped");
    assert_eq!(
        logged(&log).len(),
        4,
        "no hook runs when the process ends: poststop is delete's"
    );
    let out = b.oci(&["delete", "hooks1"]);
    assert!(out.status.success(), "delete failed: {}", text(&out.stderr));
    let entries = logged(&log);
    assert_eq!(
        names(&entries),
        [
            "prestart0",
            "prestart1",
            "createRuntime",
            "poststart",
            "poststop"
        ],
        "delete runs poststop"
    );
    let state = &entries[4].1;
    assert_eq!(state["id"], "hooks1", "{state}");
    assert_eq!(state["status"], "stopped", "{state}");
    assert!(!b.root.join("hooks1").exists(), "delete removed the state");
}

#[test]
fn a_failing_prestart_hook_fails_create_and_leaves_nothing_behind() {
    require_root();
    let (b, log) = sleeper_with_hooks(|log| {
        let seen = log.with_file_name("prestart-state.json");
        json!({
            "prestart": [{
                "path": "/bin/sh",
                "args": ["sh", "-c", format!("cat > '{}'; exit 1", seen.display())],
                "env": ["PATH=/usr/bin:/bin"]
            }],
            "createRuntime": [logging_hook(log, "createRuntime")],
            "poststop": [logging_hook(log, "poststop")]
        })
    });
    let _leftovers = CgroupGuard("hookfail1");
    let err = b.refused(&["create", "hookfail1"]);
    assert!(
        err.contains("hooks.prestart[0]"),
        "the error names the hook: {err}"
    );
    let seen: Value =
        serde_json::from_slice(&std::fs::read(b.dir.path().join("prestart-state.json")).unwrap())
            .unwrap();
    assert_eq!(seen["id"], "hookfail1", "{seen}");
    let pid = seen["pid"]
        .as_i64()
        .filter(|p| *p > 0)
        .unwrap_or_else(|| panic!("the hook got no pid: {seen}"));

    assert_eq!(
        names(&logged(&log)),
        ["poststop"],
        "the hooks after the failing one do not run; poststop does (the runtime spec goes on at delete)"
    );
    assert!(
        !b.root.join("hookfail1").exists(),
        "no state folder is left"
    );
    let out = b.oci(&["state", "hookfail1"]);
    assert!(
        text(&out.stderr).contains("does not exist"),
        "{}",
        text(&out.stderr)
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !ended(pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(ended(pid), "the container's process {pid} was ended");
    assert_eq!(
        cgroup_folders("hookfail1"),
        Vec::<PathBuf>::new(),
        "no cgroup is left"
    );
}

#[test]
fn create_container_and_start_container_hooks_are_refused_before_anything_runs() {
    require_root();
    for field in ["createContainer", "startContainer"] {
        let (b, log) = sleeper_with_hooks(|log| {
            let mut hooks = json!({
                "prestart": [logging_hook(log, "prestart")],
                "poststop": [logging_hook(log, "poststop")]
            });
            hooks[field] = json!([logging_hook(log, field)]);
            hooks
        });
        let _leftovers = CgroupGuard("hookno1");
        let err = b.refused(&["create", "hookno1"]);
        assert!(
            err.contains(&format!("hooks.{field}: not supported")),
            "the error names {field}: {err}"
        );
        assert!(err.contains("line "), "with its line: {err}");
        assert_eq!(
            names(&logged(&log)),
            Vec::<&str>::new(),
            "{field}: no hook ran for a config that is refused"
        );
        assert!(
            !b.root.join("hookno1").exists(),
            "{field}: no state is left"
        );
        assert_eq!(cgroup_folders("hookno1"), Vec::<PathBuf>::new());
    }
}

/// A hook that fails (exit 3) after saying so on stderr.
fn failing_hook(name: &str) -> Value {
    json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("echo {name} broke >&2; exit 3")],
        "env": ["PATH=/usr/bin:/bin"]
    })
}

#[test]
fn a_failing_poststart_or_poststop_hook_is_a_warning_and_the_others_still_run() {
    require_root();
    let (b, log) = sleeper_with_hooks(|log| {
        json!({
            "poststart": [failing_hook("poststart0"), logging_hook(log, "poststart1")],
            "poststop": [failing_hook("poststop0"), logging_hook(log, "poststop1")]
        })
    });
    let engine_log = b.dir.path().join("engine.log");
    let engine_log_arg = engine_log.to_str().unwrap();
    let pid = create(&b, "hookwarn1");

    // `COMMAND hookwarn1` with the engine's --log: it succeeds, and stderr names the hook of
    // PHASE that failed.
    let with_warning = |command: &str, phase: &str| {
        let out = b.oci(&[
            "--log",
            engine_log_arg,
            "--log-format",
            "json",
            command,
            "hookwarn1",
        ]);
        let err = text(&out.stderr);
        assert!(
            out.status.success(),
            "a failed {phase} hook does not fail {command} (the runtime spec: warn, go on): {err}"
        );
        assert!(
            err.contains(&format!("warning: hooks.{phase}[0] (/bin/sh)")),
            "stderr names the {phase} hook that failed: {err}"
        );
    };
    with_warning("start", "poststart");
    assert_eq!(
        names(&logged(&log)),
        ["poststart1"],
        "the next poststart hook still runs"
    );
    assert_eq!(b.status("hookwarn1"), "running", "the container goes on");
    assert!(!ended(pid), "its process runs");

    assert!(b.oci(&["kill", "hookwarn1", "KILL"]).status.success());
    b.wait_status("hookwarn1", "stopped");
    with_warning("delete", "poststop");
    assert_eq!(
        names(&logged(&log)),
        ["poststart1", "poststop1"],
        "the next poststop hook still runs"
    );
    assert!(
        !b.root.join("hookwarn1").exists(),
        "delete removed the state"
    );

    let lines: Vec<Value> = std::fs::read_to_string(&engine_log)
        .unwrap_or_else(|e| panic!("no --log written at {}: {e}", engine_log.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let warnings: Vec<&str> = lines
        .iter()
        .filter(|l| l["level"] == "warning")
        .filter_map(|l| l["msg"].as_str())
        .collect();
    assert_eq!(
        warnings.len(),
        2,
        "one warning per failed hook in --log: {lines:?}"
    );
    assert!(
        warnings[0].starts_with("hooks.poststart[0]") && warnings[0].contains("3"),
        "the warning names the hook and its status: {warnings:?}"
    );
    assert!(warnings[1].starts_with("hooks.poststop[0]"), "{warnings:?}");
}
