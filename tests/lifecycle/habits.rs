//! Regressions of issue 15 (real workloads tried as a new user would): wrong facts about how
//! a container ended, and the habits users bring from docker and podman.

use std::time::Duration;

use super::{Lab, Mode, eventually, text};

/// `ps -a --format json` of `name` once it has stopped.
fn stopped_entry(lab: &Lab, name: &str) -> serde_json::Value {
    let mut entry = serde_json::Value::Null;
    eventually(Duration::from_secs(10), "the container stops", || {
        entry = lab.ps_entry(name).unwrap_or_default();
        entry["state"] == "stopped" && !entry["exit_code"].is_null()
    });
    entry
}

/// Item 2: `kill NAME TERM` showed "exited 143" and SIGSEGV "exited 139", with
/// `exit_signal: null`: the signal was lost on its way through init.
#[test]
fn death_by_a_signal_is_recorded_as_that_signal_through_init() {
    let lab = Lab::new(Mode::Root);
    let name = lab.name("term");
    let file = lab.container(&name, "command = [\"/bin/sleep\", \"1000\"]\n");
    lab.up_d(&file);
    let killed = lab.run(&["kill", &name, "TERM"]);
    assert_eq!(killed.status.code(), Some(0), "{}", text(&killed.stderr));
    let entry = stopped_entry(&lab, &name);
    assert_eq!(entry["exit_code"], 143, "{entry}");
    assert_eq!(entry["exit_signal"], 15, "{entry}");
    assert!(
        entry["status"]
            .as_str()
            .unwrap()
            .starts_with("killed by SIGTERM"),
        "{entry}"
    );

    let name = lab.name("segv");
    let file = lab.container(
        &name,
        "command = [\"/bin/sh\", \"-c\", \"kill -SEGV $$\"]\n",
    );
    lab.up_d(&file);
    let entry = stopped_entry(&lab, &name);
    assert_eq!(entry["exit_code"], 139, "{entry}");
    assert_eq!(entry["exit_signal"], 11, "{entry}");
    assert!(
        entry["status"]
            .as_str()
            .unwrap()
            .starts_with("killed by SIGSEGV"),
        "{entry}"
    );
    assert!(entry["core_dumped"].is_boolean(), "{entry}");

    // A command that exits 143 on its own was not killed.
    let name = lab.name("code");
    let file = lab.container(&name, "command = [\"/bin/sh\", \"-c\", \"exit 143\"]\n");
    lab.up_d(&file);
    let entry = stopped_entry(&lab, &name);
    assert_eq!(entry["exit_code"], 143, "{entry}");
    assert!(entry["exit_signal"].is_null(), "{entry}");
}

/// A shell that ignores SIGTERM and, once /tmp/go exists, kills itself with SIGKILL.
const WAITS_THEN_KILLS_ITSELF: &str = "command = [\"/bin/sh\", \"-c\", \"trap '' TERM; echo ready; while [ ! -e /tmp/go ]; do sleep 0.1; done; kill -9 $$\"]\n[resources]\nmemory = \"32MiB\"\n";

/// `exec NAME -- dd bs=100M`, which the 32 MiB limit kills: the exec says so.
fn exec_killed_for_lack_of_memory(lab: &Lab, name: &str) {
    eventually(Duration::from_secs(5), "the shell is ready", || {
        text(&lab.run(&["logs", name]).stdout).contains("ready")
    });
    let exec = lab.run(&[
        "exec",
        name,
        "--",
        "/bin/dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=100M",
        "count=1",
    ]);
    let stderr = text(&exec.stderr);
    assert_eq!(exec.status.code(), Some(137), "{stderr}");
    assert!(
        stderr.contains("killed: out of memory"),
        "exec said nothing:\n{stderr}"
    );
}

/// Item 1: after an exec was OOM-killed, a later `stop` that ends in SIGKILL, and a command
/// that kills itself with SIGKILL, were both reported as "killed: out of memory".
#[test]
fn a_sigkill_after_an_exec_was_killed_for_lack_of_memory_is_not_out_of_memory() {
    let lab = Lab::new(Mode::Root);
    let name = lab.name("oomstop");
    let file = lab.container(&name, WAITS_THEN_KILLS_ITSELF);
    lab.up_d(&file);
    exec_killed_for_lack_of_memory(&lab, &name);
    let stop = lab.run(&["stop", "-t", "1", &name]);
    assert_eq!(stop.status.code(), Some(0), "{}", text(&stop.stderr));
    let entry = stopped_entry(&lab, &name);
    assert_eq!(entry["exit_signal"], 9, "{entry}");
    assert!(
        entry["status"]
            .as_str()
            .unwrap()
            .starts_with("killed by SIGKILL"),
        "{entry}"
    );

    let name = lab.name("oomself");
    let file = lab.container(&name, WAITS_THEN_KILLS_ITSELF);
    lab.up_d(&file);
    exec_killed_for_lack_of_memory(&lab, &name);
    let go = lab.run(&["exec", &name, "--", "/bin/touch", "/tmp/go"]);
    assert_eq!(go.status.code(), Some(0), "{}", text(&go.stderr));
    let entry = stopped_entry(&lab, &name);
    assert!(
        entry["status"]
            .as_str()
            .unwrap()
            .starts_with("killed by SIGKILL"),
        "{entry}"
    );
    let info = lab.inspect(&name);
    assert!(
        !info.to_string().contains("out of memory"),
        "the command killed itself:\n{info:#}"
    );
}

/// Item 4: a second foreground `up` of a name that runs (here from another state folder, where
/// its record cannot be seen) failed on the busy cgroup with a hint about mounts.
#[test]
fn a_second_up_of_a_running_name_with_resources_says_it_runs_and_how_to_stop_it() {
    let first = Lab::new(Mode::Root);
    let second = Lab::new(Mode::Root);
    let name = first.name("twice");
    second.names.borrow_mut().push(name.clone());
    let file = first.container(
        &name,
        "command = [\"/bin/sleep\", \"1000\"]\n[resources]\nmemory = \"64MiB\"\n",
    );
    let file = file.display().to_string();
    let mut running = first
        .command(&["up", &file])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    eventually(Duration::from_secs(5), "the first up runs", || {
        first
            .ps_entry(&name)
            .is_some_and(|e| e["state"] == "running")
    });
    let again = second.run(&["up", &file, "--", "/bin/true"]);
    let stderr = text(&again.stderr);
    let _ = running.kill();
    let _ = running.wait();
    assert_eq!(again.status.code(), Some(125), "{stderr}");
    assert!(
        stderr.contains(&format!("a container named \"{name}\" runs")),
        "{stderr}"
    );
    assert!(stderr.contains("launcher stop"), "{stderr}");
    assert!(
        !stderr.contains("mounted"),
        "a hint about mounts:\n{stderr}"
    );
}

/// The cgroup folders named `name` under `launcher/`, in every hierarchy.
fn cgroup_folders(name: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .filter_map(Result::ok)
    {
        let folder = hierarchy.path().join("launcher").join(name);
        if folder.exists() {
            found.push(folder);
        }
    }
    let unified = std::path::Path::new("/sys/fs/cgroup/launcher").join(name);
    if unified.exists() {
        found.push(unified);
    }
    found
}

/// Item 5: SIGKILL of a foreground `up` with `[resources]` left its cgroup folders until a
/// command looked at that name again; the next `up` of any name reaps them.
#[test]
fn the_cgroup_of_a_killed_foreground_up_is_reaped_by_the_next_up() {
    let lab = Lab::new(Mode::Root);
    let name = lab.name("reaped");
    let file = lab.container(
        &name,
        "command = [\"/bin/sleep\", \"1000\"]\n[resources]\nmemory = \"64MiB\"\n",
    );
    let mut up = lab
        .command(&["up", &file.display().to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    eventually(Duration::from_secs(5), "the container runs", || {
        lab.ps_entry(&name).is_some_and(|e| e["state"] == "running")
    });
    assert!(!cgroup_folders(&name).is_empty(), "no cgroup was made");
    up.kill().unwrap();
    up.wait().unwrap();
    let other = lab.name("other");
    let other_file = lab.container(&other, "command = [\"/bin/true\"]\n");
    let ran = lab.run(&["up", &other_file.display().to_string()]);
    assert_eq!(ran.status.code(), Some(0), "{}", text(&ran.stderr));
    let left = cgroup_folders(&name);
    assert!(left.is_empty(), "left after the next up: {left:?}");
}

/// Item 11: one file could not run twice (no `up --name`), `exec` had no `-u`, `-e`, `-w`,
/// `ps` always cut commands, and `logs` printed everything.
#[test]
fn one_file_runs_twice_by_name_and_exec_ps_and_logs_take_the_usual_flags() {
    let lab = Lab::new(Mode::Root);
    let name = lab.name("base");
    let file = lab.container(
        &name,
        "command = [\"/bin/sh\", \"-c\", \"for i in 1 2 3 4 5; do echo line$i; done; echo \\\"x=$X\\\"; exec sleep 1000\"]\n",
    );
    let file = file.display().to_string();
    let first = lab.name("first");
    let second = lab.name("second");
    for (name, x) in [(&first, "1"), (&second, "2")] {
        let up = lab.run(&["up", "-d", "--name", name, "-e", &format!("X={x}"), &file]);
        assert_eq!(up.status.code(), Some(0), "{}", text(&up.stderr));
        assert_eq!(text(&up.stdout).trim(), name.as_str());
        lab.note_processes(name);
    }
    eventually(Duration::from_secs(5), "both wrote their logs", || {
        text(&lab.run(&["logs", &second]).stdout).contains("x=2")
    });
    let tail = lab.run(&["logs", "--tail", "2", &first]);
    assert_eq!(text(&tail.stdout), "line5\nx=1\n", "{}", text(&tail.stderr));

    let exec = lab.run(&[
        "exec",
        "-u",
        "nobody",
        "-e",
        "Y=why",
        "-w",
        "/tmp",
        &second,
        "--",
        "/bin/sh",
        "-c",
        "echo \"$(id -u) $Y $(pwd) $X $HOME\"",
    ]);
    assert_eq!(
        text(&exec.stdout),
        "65534 why /tmp 2 /\n",
        "{}",
        text(&exec.stderr)
    );

    let cut = text(&lab.run(&["ps"]).stdout);
    let whole = text(&lab.run(&["ps", "--no-trunc"]).stdout);
    assert!(cut.contains("..."), "{cut}");
    assert!(whole.contains("exec sleep 1000"), "{whole}");
}

/// Item 10: a stopped container could only be run again by `up`, which replaced its logs.
/// `start` runs it again and `restart` stops and starts it; the logs keep every run, each new
/// one after a marker.
#[test]
fn start_and_restart_run_a_container_again_and_keep_its_logs() {
    let lab = Lab::new(Mode::Root);
    let name = lab.name("again");
    let file = lab.container(
        &name,
        "command = [\"/bin/sh\", \"-c\", \"echo run; exec sleep 1000\"]\n",
    );
    lab.up_d(&file);
    let stop = lab.run(&["stop", &name]);
    assert_eq!(stop.status.code(), Some(0), "{}", text(&stop.stderr));

    let start = lab.run(&["start", &name]);
    assert_eq!(start.status.code(), Some(0), "{}", text(&start.stderr));
    lab.note_processes(&name);
    assert_eq!(lab.ps_entry(&name).unwrap()["state"], "running");
    let again = lab.run(&["start", &name]);
    assert_ne!(
        again.status.code(),
        Some(0),
        "a running container started twice"
    );
    assert!(
        text(&again.stderr).contains("already running"),
        "{}",
        text(&again.stderr)
    );

    let restart = lab.run(&["restart", "-t", "1", &name]);
    assert_eq!(restart.status.code(), Some(0), "{}", text(&restart.stderr));
    lab.note_processes(&name);
    let mut logs = String::new();
    eventually(Duration::from_secs(5), "three runs in the logs", || {
        logs = text(&lab.run(&["logs", &name]).stdout);
        logs.matches("run\n").count() == 3
    });
    assert_eq!(logs.matches("launcher: started again").count(), 2, "{logs}");
    assert_eq!(lab.ps_entry(&name).unwrap()["state"], "running");
}

/// Item 10: `[restart] policy` was unknown: a failing service stayed down.
#[test]
fn the_restart_policy_runs_a_failing_command_again_up_to_its_maximum_and_stop_stops_it() {
    let lab = Lab::new(Mode::Root);
    let name = lab.name("flaky");
    let file = lab.container(
        &name,
        "command = [\"/bin/sh\", \"-c\", \"echo try; exit 3\"]\n[restart]\npolicy = \"on-failure\"\nmax = 2\nbackoff = \"100ms\"\n",
    );
    lab.up_d(&file);
    let mut entry = serde_json::Value::Null;
    eventually(
        Duration::from_secs(10),
        "two restarts, then stopped",
        || {
            entry = lab.ps_entry(&name).unwrap_or_default();
            entry["state"] == "stopped" && entry["restarts"] == 2
        },
    );
    assert_eq!(entry["exit_code"], 3, "{entry}");
    let logs = text(&lab.run(&["logs", &name]).stdout);
    assert_eq!(logs.matches("try\n").count(), 3, "{logs}");
    assert_eq!(logs.matches("launcher: restarted").count(), 2, "{logs}");

    let name = lab.name("always");
    let file = lab.container(
        &name,
        "command = [\"/bin/sleep\", \"1000\"]\n[restart]\npolicy = \"always\"\nbackoff = \"100ms\"\n",
    );
    lab.up_d(&file);
    let killed = lab.run(&["kill", &name, "TERM"]);
    assert_eq!(killed.status.code(), Some(0), "{}", text(&killed.stderr));
    eventually(Duration::from_secs(10), "restarted after its end", || {
        lab.ps_entry(&name)
            .is_some_and(|e| e["state"] == "running" && e["restarts"] == 1)
    });
    lab.note_processes(&name);
    let stop = lab.run(&["stop", &name]);
    assert_eq!(stop.status.code(), Some(0), "{}", text(&stop.stderr));
    std::thread::sleep(Duration::from_millis(500));
    let entry = lab.ps_entry(&name).unwrap();
    assert_eq!(entry["state"], "stopped", "stop was undone: {entry}");
    let listed = text(&lab.run(&["ps", "-a"]).stdout);
    assert!(listed.contains("restarted 1 time"), "{listed}");
}

/// Item 11: `logs` had no `--timestamps` nor `--since`.
#[test]
fn logs_show_when_each_line_came_and_only_what_came_since() {
    let lab = Lab::new(Mode::Root);
    let name = lab.name("timed");
    let file = lab.container(
        &name,
        "command = [\"/bin/sh\", \"-c\", \"echo one; echo two; exec sleep 1000\"]\n",
    );
    lab.up_d(&file);
    eventually(Duration::from_secs(5), "the lines are logged", || {
        text(&lab.run(&["logs", &name]).stdout).contains("two")
    });
    let timed = lab.run(&["logs", "--timestamps", "--since", "1h", &name]);
    let out = text(&timed.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}{}", text(&timed.stderr));
    for (line, word) in lines.iter().zip(["one", "two"]) {
        let (time, rest) = line.split_once(' ').unwrap();
        assert!(time.starts_with("20") && time.ends_with('Z'), "{line}");
        assert_eq!(rest, word);
    }
    let none = lab.run(&["logs", "--since", "0s", &name]);
    assert_eq!(text(&none.stdout), "", "{}", text(&none.stderr));
    let tail = lab.run(&["logs", "-t", "--tail", "1", &name]);
    assert!(
        text(&tail.stdout).ends_with(" two\n"),
        "{}",
        text(&tail.stdout)
    );
}
