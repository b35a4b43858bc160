//! The state records: one name, one container, however many start it at once; a damaged
//! record is named and never hides the others.

use std::time::Duration;

use serde_json::Value;

use super::{Lab, Mode, eventually, start_time, text};

fn twenty_concurrent_starts_of_one_name_make_one_container(mode: Mode) {
    let lab = Lab::new(mode);
    let name = lab.name("race");
    let file = lab.container(&name, "command = [\"sleep\", \"1000\"]\n");
    let file = file.display().to_string();
    let children: Vec<_> = (0..20)
        .map(|_| {
            lab.command(&["up", "-d", &file])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("cannot start the launcher")
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    lab.note_processes(&name);
    let won: Vec<_> = outputs.iter().filter(|o| o.status.success()).collect();
    assert_eq!(won.len(), 1, "{} of 20 started it", won.len());
    assert_eq!(text(&won[0].stdout).trim(), name);
    for lost in outputs.iter().filter(|o| !o.status.success()) {
        let err = text(&lost.stderr);
        assert_eq!(lost.status.code(), Some(125), "{err}");
        assert!(err.contains("is already running"), "{err}");
        assert!(err.contains(&format!("launcher stop {name}")), "{err}");
    }
    // One folder, one valid record, and it runs.
    let folders: Vec<_> = std::fs::read_dir(lab.root()).unwrap().collect();
    assert_eq!(folders.len(), 1);
    let files: Vec<String> = std::fs::read_dir(lab.root().join(&name))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') || n.ends_with(".json"))
        .collect();
    assert_eq!(files, ["state.json"], "temporary files are left over");
    let record: Value =
        serde_json::from_slice(&std::fs::read(lab.root().join(&name).join("state.json")).unwrap())
            .expect("the record is valid JSON");
    assert_eq!(record["state"], "running");
    assert_eq!(lab.ps_all().len(), 1);
}

#[test]
fn twenty_concurrent_starts_of_one_name_make_one_container_as_root() {
    twenty_concurrent_starts_of_one_name_make_one_container(Mode::Root);
}

#[test]
fn twenty_concurrent_starts_of_one_name_make_one_container_rootless() {
    twenty_concurrent_starts_of_one_name_make_one_container(Mode::Rootless);
}

fn a_damaged_record_is_named_and_the_others_still_list(mode: Mode) {
    let lab = Lab::new(mode);
    let good = lab.name("good");
    let bad = lab.name("bad");
    let empty = lab.name("empty");
    lab.up_d(&lab.container(&good, "command = [\"sleep\", \"1000\"]\n"));
    for name in [&bad, &empty] {
        lab.up_d(&lab.container(name, "command = [\"true\"]\n"));
        let monitor = lab.inspect(name)["monitor_pid"].as_i64().unwrap() as i32;
        // Its monitor writes the final record as it ends: damage the record only after that,
        // or the monitor's write would repair it.
        eventually(
            Duration::from_secs(5),
            "it ends and its monitor is gone",
            || {
                lab.ps_entry(name).is_some_and(|e| e["state"] == "stopped")
                    && start_time(monitor).is_none()
            },
        );
    }
    // A record cut short (a crash mid-write with no atomic rename would leave this), and an
    // empty one.
    let bad_record = lab.root().join(&bad).join("state.json");
    let whole = std::fs::read(&bad_record).unwrap();
    std::fs::write(&bad_record, &whole[..whole.len() / 2]).unwrap();
    std::fs::write(lab.root().join(&empty).join("state.json"), "").unwrap();

    let ps = lab.run(&["ps", "-a"]);
    let (out, err) = (text(&ps.stdout), text(&ps.stderr));
    assert_eq!(ps.status.code(), Some(1), "{out}{err}");
    assert!(
        out.contains(&good),
        "the good container is not listed: {out}"
    );
    assert!(
        err.contains(&bad_record.display().to_string()),
        "the file is not named: {err}"
    );
    assert!(err.contains("damaged") && err.contains("is empty"), "{err}");
    assert!(err.contains(&format!("launcher rm -f {bad}")), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let inspect = lab.run(&["inspect", &bad]);
    assert_eq!(inspect.status.code(), Some(1));
    assert!(text(&inspect.stderr).contains(&bad_record.display().to_string()));
    let rm = lab.run(&["rm", &bad]);
    assert_eq!(
        rm.status.code(),
        Some(1),
        "rm without -f removed a damaged record"
    );
    for name in [&bad, &empty] {
        let rm = lab.run(&["rm", "-f", name]);
        assert_eq!(rm.status.code(), Some(0), "{}", text(&rm.stderr));
    }
    let ps = lab.run(&["ps", "-a"]);
    assert_eq!(ps.status.code(), Some(0), "{}", text(&ps.stderr));
}

#[test]
fn a_damaged_record_is_named_and_the_others_still_list_as_root() {
    a_damaged_record_is_named_and_the_others_still_list(Mode::Root);
}

#[test]
fn a_damaged_record_is_named_and_the_others_still_list_rootless() {
    a_damaged_record_is_named_and_the_others_still_list(Mode::Rootless);
}
