//! Every example checks and plans; the plan JSON names every step with its origin.

use crate::util::{examples, relative, run, stderr, stdout};

#[test]
fn every_example_checks_and_plans() {
    crate::util::ensure_image_layout();
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
            // The file's line, a default, or the image's config (examples/image-layout).
            assert!(
                origin == "default"
                    || origin["line"].as_u64().is_some_and(|l| l > 0)
                    || origin["image_config"].is_string(),
                "step {} has no origin: {step}",
                i + 1
            );
        }
    }
}

/// The cgroup hierarchies of the hybrid host the snapshots assume (this one's kind: v1
/// controllers, an empty cgroup2), so the cgroup steps read the same on any machine.
const HYBRID: &str = "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n\
    32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
    35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
    39 31 0:36 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n\
    41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";

/// The plan of each example, as `launcher plan` prints it and as JSON, for root on a hybrid
/// cgroup host: a change of what `up` does shows in review. The checkout's path and the
/// size of the compiled seccomp program (it depends on libseccomp's version) are masked.
///
/// After a deliberate change: `INSTA_UPDATE=always cargo test --test integration examples`,
/// then read every changed snapshot.
#[test]
fn the_plan_of_every_example_is_snapshotted() {
    use launcher::image::resolve::{LockUse, Stage};
    use launcher::plan::{Action, Plan, SeccompFilter};
    use launcher::preflight::{Caller, Hierarchies, Host};
    crate::util::ensure_image_layout();
    let store_root = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("snapshot-images");
    let store = launcher::image::Store::new(store_root.clone());
    let state_root = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("snapshot-state");
    let host = Host {
        caller: Caller { uid: 0, gid: 0 },
        hierarchies: Some(Hierarchies::from_mountinfo(HYBRID, |_| Some(String::new()))),
        seccomp_cache: None,
        state_root: state_root.clone(),
        ids: launcher::preflight::ids::IdSources::current(),
        remap: None,
    };
    for example in examples() {
        let name = example.file_name().unwrap().to_string_lossy().into_owned();
        let loaded = launcher::config::load(&example.join("Container.toml"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut spec = launcher::config::spec(&loaded, &example)
            .unwrap_or_else(|e| panic!("{name}: {} problem(s)", e.list.len()));
        let stage = Stage {
            store: &store,
            file: &example.join("Container.toml"),
            lock: LockUse::Read,
            progress: false,
        };
        launcher::image::resolve::resolve(&mut spec, &stage)
            .unwrap_or_else(|found| panic!("{name}: {found:?}"));
        let facts = launcher::preflight::check(&spec, &host)
            .unwrap_or_else(|found| panic!("{name}: {found:?}"));
        let plan = Plan::build(spec, facts);
        let size = plan.find(|a| match a {
            Action::Seccomp(SeccompFilter::Compiled { size, .. }) => Some(size),
            _ => None,
        });
        let stable = |text: String| {
            let text = text
                .replace(&store_root.display().to_string(), "[STORE]")
                .replace(&state_root.display().to_string(), "[STATE]");
            let mut text =
                mask_digests(&text.replace(&crate::util::repo().display().to_string(), "[REPO]"));
            if let Some(size) = size {
                text = text
                    .replace(&format!("({size} bytes of BPF)"), "([SIZE] bytes of BPF)")
                    .replace(&format!("\"size\": {size}"), "\"size\": \"[SIZE]\"");
            }
            text
        };
        insta::assert_snapshot!(format!("plan-{name}"), repad(&stable(plan.to_string())));
        insta::assert_snapshot!(
            format!("plan-{name}-json"),
            stable(format!("{:#}", plan.to_json()))
        );
    }
}

/// The step lines of a printed plan padded again after masking, as `Plan`'s `Display` pads
/// them: a masked path or size is shorter or longer than the real one, and the real one
/// depends on where the clone lies.
fn repad(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let number = line.trim_start().split_once(". ").map(|(n, _)| n);
        let step = number.is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        match (step, line.rfind(" [")) {
            (true, Some(at)) if at >= 8 => {
                let (head, origin) = line.split_at(at);
                let (rest, side) = head.split_at(head.len() - 6);
                let (number, text) = rest.trim_end().split_once(". ").unwrap_or(("", rest));
                let pad = 64usize.saturating_sub(text.chars().count());
                out.push_str(&format!("{number}. {text}{:pad$}  {side}{origin}\n", ""));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// `sha256:` or `sha256/` and 64 hex digits become `sha256:[DIGEST]`: layer digests depend on
/// the file times of the layout make-layout.sh builds.
fn mask_digests(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("sha256") {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        let hex = after.get(7..71).unwrap_or("");
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            out.push_str(&after[..7]);
            out.push_str("[DIGEST]");
            rest = &after[71..];
        } else {
            out.push_str("sha256");
            rest = &after[6..];
        }
    }
    out.push_str(rest);
    out
}
