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
