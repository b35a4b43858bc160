//! A container run in the foreground keeps a record too: one `up` of a name wins, `ps` lists
//! it, `exec`, `stop` and `kill` reach it, and nothing of it is left when it ends, even after
//! a SIGKILL of its launcher.

use std::process::{Child, Stdio};
use std::time::Duration;

use super::{Lab, Mode, eventually, text};

/// `launcher up FILE` in the background of the test, as `mode` runs it.
fn up(lab: &Lab, file: &std::path::Path) -> Child {
    lab.command(&["up", &file.display().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start the launcher")
}

/// Waits until `ps` lists `name` as running; returns its entry.
fn running(lab: &Lab, name: &str) -> serde_json::Value {
    eventually(Duration::from_secs(10), "ps lists it running", || {
        lab.ps_entry(name).is_some_and(|e| e["state"] == "running")
    });
    lab.ps_entry(name).unwrap()
}

fn foreground_runs_with_a_record(mode: Mode) {
    let lab = Lab::new(mode);
    let name = lab.name("fg");
    let file = lab.container(
        &name,
        "command = [\"sleep\", \"60\"]\n[stop]\ntimeout = \"2s\"\n",
    );
    let first = up(&lab, &file);
    let entry = running(&lab, &name);
    lab.note_processes(&name);
    assert!(entry["pid"].as_i64().is_some(), "{entry}");
    // A second foreground `up` of the name is refused, saying how to stop the first.
    let second = lab
        .command(&["up", &file.display().to_string()])
        .output()
        .unwrap();
    let err = text(&second.stderr);
    assert_eq!(second.status.code(), Some(125), "{err}");
    assert!(err.contains("is already running"), "{err}");
    assert!(err.contains(&format!("launcher stop {name}")), "{err}");
    // exec reaches it; logs says where its output goes.
    let exec = lab.run(&["exec", &name, "--", "hostname"]);
    assert_eq!(text(&exec.stdout).trim(), "box", "{}", text(&exec.stderr));
    let logs = lab.run(&["logs", &name]);
    assert!(
        text(&logs.stderr).contains("runs in the foreground"),
        "{}",
        text(&logs.stderr)
    );
    // stop ends it: the foreground launcher exits with the command's status (SIGTERM).
    let stop = lab.run(&["stop", &name]);
    assert_eq!(stop.status.code(), Some(0), "{}", text(&stop.stderr));
    let ended = first.wait_with_output().unwrap();
    assert_eq!(ended.status.code(), Some(143), "{}", text(&ended.stderr));
    // Nothing is left: no record, no folder.
    assert!(lab.ps_entry(&name).is_none(), "ps -a still lists it");
    assert!(!lab.root().join(&name).exists(), "its state folder is left");
}

#[test]
fn a_foreground_container_has_a_record_as_root() {
    foreground_runs_with_a_record(Mode::Root);
}

#[test]
fn a_foreground_container_has_a_record_rootless() {
    foreground_runs_with_a_record(Mode::Rootless);
}

#[test]
fn nothing_is_left_after_a_sigkill_of_the_foreground_launcher() {
    let lab = Lab::new(Mode::Root);
    let name = lab.name("fg-killed");
    let file = lab.container(
        &name,
        "command = [\"sleep\", \"60\"]\n[resources]\npids = 20\n",
    );
    let mut launcher = up(&lab, &file);
    let entry = running(&lab, &name);
    lab.note_processes(&name);
    let pid = entry["pid"].as_i64().unwrap() as i32;
    let cgroups: Vec<String> = lab.inspect(&name)["plan"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "cgroup")
        .expect("no cgroup step")["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    // The test started this launcher: it may end it, by pid.
    launcher.kill().unwrap();
    launcher.wait().unwrap();
    // The container dies with its launcher.
    eventually(Duration::from_secs(5), "the container is gone", || {
        super::start_time(pid).is_none()
    });
    // The next command that looks finds it dead, and removes its record and its cgroup.
    assert!(
        lab.ps_entry(&name).is_none(),
        "ps -a lists a dead foreground container"
    );
    assert!(!lab.root().join(&name).exists(), "its state folder is left");
    for cgroup in &cgroups {
        assert!(!std::path::Path::new(cgroup).exists(), "{cgroup} is left");
    }
}
