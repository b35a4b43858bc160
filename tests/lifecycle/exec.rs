//! `launcher exec` runs the exec plan its container's record holds, through the same steps
//! as `up`: what it runs is that plan, and a record that lacks what `up` would refuse to run
//! without (a compiled seccomp filter, a resolved user) is refused, never filled in.

use super::{Lab, Mode, text};

/// The record of `name`, as JSON.
fn record(lab: &Lab, name: &str) -> serde_json::Value {
    let path = lab.root().join(name).join("state.json");
    serde_json::from_slice(&std::fs::read(&path).expect("no state.json")).expect("not JSON")
}

/// Rewrites the record of `name` with `change` applied to its plan's steps (the exec plan is
/// made from them).
fn damage(lab: &Lab, name: &str, change: impl Fn(&mut serde_json::Value)) {
    let mut record = record(lab, name);
    for step in record["plan"]["steps"].as_array_mut().unwrap() {
        change(step);
    }
    let path = lab.root().join(name).join("state.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&record).unwrap()).unwrap();
}

#[test]
fn exec_runs_exactly_the_steps_of_the_recorded_exec_plan() {
    let lab = Lab::new(Mode::Root);
    let name = lab.name("exec-steps");
    let file = lab.container(
        &name,
        "command = [\"sleep\", \"60\"]\n[resources]\npids = 40\n",
    );
    lab.up_d(&file);
    let exec_plan = lab.inspect(&name)["exec"].clone();
    let planned: Vec<usize> = (1..=exec_plan["steps"].as_array().unwrap().len()).collect();
    let output = lab.run(&["exec", "--debug", &name, "--", "true"]);
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{err}");
    let ran: Vec<usize> = err
        .lines()
        .filter_map(|l| l.strip_prefix("launcher: step "))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(ran, planned, "{err}");
    // The confinement steps are the container's own.
    for step in [
        "seccomp",
        "capabilities",
        "no_new_privileges",
        "user",
        "cgroup_join",
    ] {
        assert!(
            exec_plan["steps"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["step"] == step),
            "the exec plan has no {step} step: {exec_plan:#}"
        );
    }
}

#[test]
fn exec_refuses_a_record_whose_seccomp_filter_is_missing_instead_of_running_unconfined() {
    let lab = Lab::new(Mode::Root);
    let name = lab.name("exec-no-bpf");
    let file = lab.container(&name, "command = [\"sleep\", \"60\"]\n");
    lab.up_d(&file);
    damage(&lab, &name, |step| {
        if step["step"] == "seccomp" {
            step.as_object_mut().unwrap().remove("bpf");
        }
    });
    let output = lab.run(&["exec", &name, "--", "grep", "Seccomp", "/proc/self/status"]);
    let err = text(&output.stderr);
    assert_ne!(
        output.status.code(),
        Some(0),
        "ran without its filter: {}",
        text(&output.stdout)
    );
    assert!(err.contains("damaged") && err.contains("bpf"), "{err}");
    assert!(text(&output.stdout).is_empty(), "{}", text(&output.stdout));
}

#[test]
fn exec_refuses_a_record_whose_user_is_not_resolved_instead_of_running_as_root() {
    let lab = Lab::new(Mode::Root);
    let name = lab.name("exec-no-uid");
    let file = lab.container(
        &name,
        "command = [\"sleep\", \"60\"]\nuser = \"1000:1000\"\n",
    );
    lab.up_d(&file);
    damage(&lab, &name, |step| {
        if step["step"] == "user" {
            step.as_object_mut().unwrap().remove("uid");
        }
    });
    let output = lab.run(&["exec", &name, "--", "id", "-u"]);
    let err = text(&output.stderr);
    assert_ne!(
        output.status.code(),
        Some(0),
        "ran as {}",
        text(&output.stdout)
    );
    assert!(err.contains("damaged") && err.contains("uid"), "{err}");
    assert!(text(&output.stdout).is_empty(), "{}", text(&output.stdout));
}
