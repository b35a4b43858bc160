//! Every example checks and plans; the plan JSON names every step with its origin.

use crate::util::{examples, relative, run, stderr, stdout};

/// busybox needs rootfs/ filled; the test fills it from busybox-static when it is empty.
fn ensure_busybox_rootfs() {
    let rootfs = crate::util::repo().join("rootfs");
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

#[test]
fn every_example_checks_and_plans() {
    ensure_busybox_rootfs();
    let all = examples();
    assert!(
        all.len() >= 3,
        "expected at least hello, busybox and mounts"
    );
    for example in all {
        let file = relative(&example.join("Container.toml"));
        let check = run(&["check", &file]);
        assert!(
            check.status.success(),
            "check {file} failed:\n{}",
            stderr(&check)
        );
        let plan = run(&["plan", &file]);
        assert!(
            plan.status.success(),
            "plan {file} failed:\n{}",
            stderr(&plan)
        );
        let text = stdout(&plan);
        assert!(text.contains(" 1. create namespaces"), "{text}");
        assert!(text.lines().any(|l| l.contains(". exec")), "{text}");

        let json = run(&["plan", &file, "--format", "json"]);
        assert!(json.status.success());
        let value: serde_json::Value =
            serde_json::from_slice(&json.stdout).expect("plan --format json is not JSON");
        let steps = value["steps"].as_array().expect("no steps array");
        assert!(!steps.is_empty());
        for (i, step) in steps.iter().enumerate() {
            assert_eq!(step["index"], i + 1);
            assert!(step["step"].is_string(), "step without a name: {step}");
            let origin = &step["origin"];
            assert!(
                origin == "default" || origin["line"].as_u64().is_some_and(|l| l > 0),
                "step {} has no origin: {step}",
                i + 1
            );
        }
    }
}
