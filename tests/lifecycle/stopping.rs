//! `stop` and its timeout, `[stop]` keys, and a monitor killed under its container.

use std::time::{Duration, Instant};

use super::{Lab, Mode, assert_gone, eventually, process_tree, start_time, text};

/// A shell that ignores SIGTERM, with two children that inherit that.
const STUBBORN: &str = "command = [\"/bin/sh\", \"-c\", \"trap '' TERM; sleep 1000 & sleep 1000 & echo ready; wait\"]\n";

fn a_container_that_ignores_sigterm_is_killed_after_the_timeout(mode: Mode, body: &str) {
    let lab = Lab::new(mode);
    let name = lab.name("stubborn");
    let file = lab.container(&name, &format!("{STUBBORN}{body}"));
    lab.up_d(&file);
    eventually(Duration::from_secs(5), "the shell is ready", || {
        text(&lab.run(&["logs", &name]).stdout).contains("ready")
    });
    let pid = lab.inspect(&name)["pid"].as_i64().unwrap() as i32;
    let processes = process_tree(pid);
    assert!(
        processes.len() >= 3,
        "init, sh and two sleeps: {processes:?}"
    );

    let stopping = Instant::now();
    let stop = lab.run(&["stop", "-t", "1", &name]);
    let took = stopping.elapsed();
    assert_eq!(stop.status.code(), Some(0), "{}", text(&stop.stderr));
    assert!(
        text(&stop.stderr).contains("killed"),
        "{}",
        text(&stop.stderr)
    );
    assert!(
        took >= Duration::from_secs(1),
        "SIGKILL before the timeout: {took:?}"
    );
    assert!(took < Duration::from_secs(6), "stop took {took:?}");
    assert_gone(&processes, Duration::from_secs(2), "after stop -t 1");
    let entry = lab.ps_entry(&name).unwrap();
    assert_eq!(entry["state"], "stopped");
    assert_eq!(entry["exit_code"], 137, "{entry}");
}

#[test]
fn a_container_that_ignores_sigterm_is_killed_after_the_timeout_as_root() {
    a_container_that_ignores_sigterm_is_killed_after_the_timeout(Mode::Root, "");
}

#[test]
fn a_container_that_ignores_sigterm_is_killed_after_the_timeout_rootless() {
    a_container_that_ignores_sigterm_is_killed_after_the_timeout(Mode::Rootless, "");
}

#[test]
fn without_a_pid_namespace_stop_kills_every_process_of_the_container() {
    a_container_that_ignores_sigterm_is_killed_after_the_timeout(
        Mode::Root,
        "[namespaces]\npid = false\n",
    );
}

#[test]
fn the_stop_keys_choose_the_signal_and_the_timeout() {
    let lab = Lab::new(Mode::Root);
    let name = lab.name("quit");
    let file = lab.container(
        &name,
        "command = [\"/bin/sh\", \"-c\", \"trap 'exit 9' QUIT; trap '' TERM; while :; do sleep 0.1; done\"]\n[stop]\nsignal = \"SIGQUIT\"\ntimeout = \"30s\"\n",
    );
    lab.up_d(&file);
    let info = lab.inspect(&name);
    assert_eq!(info["stop"]["signal"], "SIGQUIT");
    assert_eq!(info["stop"]["timeout_seconds"], 30.0);
    let stopping = Instant::now();
    let stop = lab.run(&["stop", &name]);
    assert_eq!(stop.status.code(), Some(0), "{}", text(&stop.stderr));
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "SIGQUIT was not sent"
    );
    assert_eq!(lab.ps_entry(&name).unwrap()["exit_code"], 9);
}

fn a_killed_monitor_never_leaves_a_stale_running_record(mode: Mode) {
    let lab = Lab::new(mode);
    let name = lab.name("orphan");
    let file = lab.container(&name, "command = [\"sleep\", \"1000\"]\n");
    lab.up_d(&file);
    let info = lab.inspect(&name);
    let pid = info["pid"].as_i64().unwrap() as i32;
    let monitor = info["monitor_pid"].as_i64().unwrap() as i32;
    let processes = process_tree(pid);
    assert!(start_time(monitor).is_some());

    // The test started this monitor (through `up -d`): it may end it, by pid.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor),
        nix::sys::signal::SIGKILL,
    )
    .expect("cannot kill the monitor");
    eventually(Duration::from_secs(5), "ps shows it stopped", || {
        lab.ps_entry(&name).is_some_and(|e| e["state"] == "stopped")
    });
    // Its processes really are gone: the container dies with its monitor.
    assert_gone(
        &processes,
        Duration::from_secs(5),
        "after the monitor was killed",
    );
    let entry = lab.ps_entry(&name).unwrap();
    assert_eq!(entry["monitor_lost"], true, "{entry}");
    assert!(
        entry["status"].as_str().unwrap().contains("unknown"),
        "{entry}"
    );
    assert!(
        !text(&lab.run(&["ps"]).stdout).contains(&name),
        "ps lists it as running"
    );
    let wait = lab.run(&["wait", &name]);
    assert_eq!(wait.status.code(), Some(1), "{}", text(&wait.stdout));
    assert!(
        text(&wait.stderr).contains("unknown"),
        "{}",
        text(&wait.stderr)
    );

    let rm = lab.run(&["rm", &name]);
    assert_eq!(rm.status.code(), Some(0), "{}", text(&rm.stderr));
    assert!(!lab.root().join(&name).exists());
}

#[test]
fn a_killed_monitor_never_leaves_a_stale_running_record_as_root() {
    a_killed_monitor_never_leaves_a_stale_running_record(Mode::Root);
}

#[test]
fn a_killed_monitor_never_leaves_a_stale_running_record_rootless() {
    a_killed_monitor_never_leaves_a_stale_running_record(Mode::Rootless);
}

#[test]
fn rm_refuses_a_running_container_and_rm_f_stops_it() {
    let lab = Lab::new(Mode::Root);
    let name = lab.name("busy");
    let file = lab.container(&name, STUBBORN);
    lab.up_d(&file);
    let pid = lab.inspect(&name)["pid"].as_i64().unwrap() as i32;
    let processes = process_tree(pid);
    let refused = lab.run(&["rm", &name]);
    assert_eq!(refused.status.code(), Some(1));
    let err = text(&refused.stderr);
    assert!(
        err.contains("is running") && err.contains(&format!("launcher stop {name}")),
        "{err}"
    );
    let forced = lab.run(&["rm", "-f", &name]);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced.stderr));
    assert_gone(&processes, Duration::from_secs(5), "after rm -f");
    assert!(!lab.root().join(&name).exists());
}

#[test]
fn rm_removes_the_cgroup_a_killed_monitor_left() {
    let lab = Lab::new(Mode::Root);
    let name = lab.name("orphan-cgroup");
    let file = lab.container(
        &name,
        "command = [\"sleep\", \"1000\"]\n[resources]\npids = 30\n",
    );
    lab.up_d(&file);
    let info = lab.inspect(&name);
    let monitor = info["monitor_pid"].as_i64().unwrap() as i32;
    let cgroups: Vec<String> = info["plan"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "cgroup")
        .expect("no cgroup step in the recorded plan")["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    assert!(!cgroups.is_empty());
    assert!(std::path::Path::new(&cgroups[0]).exists());
    // The test started this monitor (through `up -d`): it may end it, by pid.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor),
        nix::sys::signal::SIGKILL,
    )
    .unwrap();
    eventually(Duration::from_secs(5), "ps shows it stopped", || {
        lab.ps_entry(&name).is_some_and(|e| e["state"] == "stopped")
    });
    let rm = lab.run(&["rm", &name]);
    assert_eq!(rm.status.code(), Some(0), "{}", text(&rm.stderr));
    eventually(Duration::from_secs(5), "the cgroup is gone", || {
        cgroups.iter().all(|c| !std::path::Path::new(c).exists())
    });
}
