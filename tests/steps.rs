//! The plan is what runs: `launcher up --debug` reports every step as it completes (the
//! launcher's own, and those the container's process reports over its channel), and that list
//! must be the plan's steps, all of them, in order. A step the executor ran without the plan
//! saying so, or one it skipped or ran out of order, fails here.

use std::process::{Command, Stdio};

use crate::util::{TempContainer, busybox, launcher_up, text};

/// The step numbers `launcher up --debug` reported, in the order it reported them.
fn executed(stderr: &str) -> Vec<usize> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("launcher: step "))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

/// The step numbers of `launcher plan --format json`, and the whole plan for messages.
fn planned(plan_command: &mut Command) -> (Vec<usize>, String) {
    let output = plan_command.output().expect("cannot run launcher plan");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let plan: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("plan --format json is not JSON");
    let steps = plan["steps"]
        .as_array()
        .expect("the plan has no steps")
        .iter()
        .map(|s| s["index"].as_u64().expect("a step without an index") as usize)
        .collect();
    (steps, format!("{plan:#}"))
}

fn plan_json(container: &TempContainer) -> Command {
    let mut cmd = crate::util::launcher_bin();
    cmd.args(["plan", "--format", "json"]).arg(container.file());
    cmd
}

/// Runs `up --debug` and checks the steps it ran are the plan's, in order.
fn assert_runs_its_plan(container: &TempContainer) {
    let (plan, shown) = planned(&mut plan_json(container));
    let output = launcher_up(container, &[])
        .arg("--debug")
        .stdin(Stdio::null())
        .output()
        .expect("cannot run the launcher");
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert_eq!(executed(&err), plan, "ran:\n{err}\nplanned:\n{shown}");
}

#[test]
fn up_runs_exactly_the_steps_of_its_plan_in_order() {
    for body in [
        // The defaults: init, every namespace, the default seccomp filter.
        "rootfs = \"rootfs\"\ncommand = [\"/bin/true\"]\n",
        // No init, the host's network, no cgroup namespace, no no_new_privs (seccomp before
        // the user changes), a user of its own.
        "rootfs = \"rootfs\"\ncommand = [\"/bin/true\"]\ninit = false\nuser = \"1000:1000\"\n[namespaces]\nnet = \"host\"\ncgroup = false\n[security]\nno_new_privileges = false\n",
        // A cgroup (created, joined, removed), rlimits, a read-only root, mounts, a user
        // namespace as root, no seccomp.
        "command = [\"/bin/true\"]\n[rootfs]\npath = \"rootfs\"\nreadonly = true\n[[mount]]\ntype = \"tmpfs\"\ntarget = \"/scratch\"\n[resources]\npids = 50\nmemory = \"64MiB\"\n[rlimits]\nnofile = 512\n[namespaces]\nuser = true\n[security]\nseccomp = \"unconfined\"\n",
    ] {
        crate::util::require_root();
        let container = TempContainer::new(body);
        crate::util::fill_busybox(&container.path("rootfs"));
        assert_runs_its_plan(&container);
    }
}

#[test]
fn the_hosts_own_root_runs_exactly_the_steps_of_its_plan() {
    crate::util::require_root();
    let container = TempContainer::new("command = [\"/bin/true\"]\n[rootfs]\nhost = true\n");
    assert_runs_its_plan(&container);
}

#[test]
fn rootless_up_runs_exactly_the_steps_of_its_plan_in_order() {
    let container = busybox("command = [\"/bin/true\"]\n");
    crate::util::chown_tree(container.dir.path(), 65534, 65534);
    let as_nobody = |args: &[&str]| {
        let mut cmd = crate::util::launcher_through(&[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ]);
        cmd.args(args)
            .arg(container.file())
            .envs(crate::util::state_envs(&container))
            .stdin(Stdio::null());
        cmd
    };
    let (plan, shown) = planned(&mut as_nobody(&["plan", "--format", "json"]));
    assert!(
        shown.contains("\"id_maps\""),
        "a rootless plan maps ids: {shown}"
    );
    let output = as_nobody(&["up", "--debug"]).output().unwrap();
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert_eq!(executed(&err), plan, "ran:\n{err}\nplanned:\n{shown}");
}

#[test]
fn a_failing_step_is_the_last_one_run_and_the_one_reported() {
    // The target runs through a file of the root filesystem: only the kernel can tell.
    let container = busybox(
        "command = [\"/bin/true\"]\n[resources]\npids = 20\n[[mount]]\ntype = \"tmpfs\"\ntarget = \"/bin/busybox/inside\"\n",
    );
    let (plan, shown) = planned(&mut plan_json(&container));
    let output = launcher_up(&container, &[])
        .arg("--debug")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(125), "{err}");
    let plan_json: serde_json::Value = serde_json::from_str(&shown).unwrap();
    let failing = plan_json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["target"] == "/bin/busybox/inside")
        .expect("no step mounts on /bin/busybox/inside")["index"]
        .as_u64()
        .unwrap() as usize;
    // Every step before it ran, in order; it did not; none after it did.
    assert_eq!(executed(&err), plan[..failing - 1], "ran:\n{err}");
    assert!(
        err.contains(&format!(
            "step {failing} (mount tmpfs on /bin/busybox/inside"
        )),
        "{err}"
    );
    // The cgroup made before the failure is gone again.
    let plan_cgroups: Vec<String> = plan_json["steps"]
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
    for path in plan_cgroups {
        assert!(!std::path::Path::new(&path).exists(), "{path} was left");
    }
}

#[test]
fn an_image_runs_exactly_the_steps_of_its_plan_in_order() {
    crate::util::require_root();
    crate::util::ensure_image_layout();
    let layout = crate::util::repo().join("examples/image-layout/layout");
    let container = TempContainer::new(&format!(
        "image = \"oci:{}:latest\"\ncommand = [\"true\"]\n",
        layout.display()
    ));
    assert_runs_its_plan(&container);
}
