//! The state folder without containers: records, damage, locks and removal.

use std::time::{Duration, Instant};

use super::*;
use crate::plan::{Plan, StopPolicy};

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path().join("state"));
    (dir, store)
}

fn record(name: &str) -> Record {
    Record {
        format_version: RECORD_FORMAT_VERSION,
        id: "1-2".into(),
        name: name.into(),
        state: State::Running,
        file: "/srv/web/Container.toml".into(),
        command: vec!["/bin/httpd".into()],
        created_ms: 1,
        started_ms: Some(2),
        finished_ms: None,
        pid: Some(42),
        pid_start: Some(7),
        monitor_pid: 41,
        monitor_start: 6,
        boot_id: "boot".into(),
        pid_namespace: true,
        foreground: false,
        exit: None,
        restarts: 0,
        stop_requested: false,
        error: None,
        stop: StopSettings {
            signal: 15,
            timeout_ms: 10_000,
        },
        plan: Plan {
            name: name.into(),
            file: "/srv/web/Container.toml".into(),
            steps: Vec::new(),
            stop: StopPolicy::standard(),
        },
    }
}

#[test]
fn a_record_survives_a_write_and_a_read() {
    let (_dir, store) = store();
    let lock = store.lock_or_create("web").unwrap();
    store.write(&record("web"), &lock).unwrap();
    let read = store.read("web").unwrap().unwrap();
    assert_eq!(read.pid, Some(42));
    assert_eq!(read.state, State::Running);
    assert_eq!(store.names().unwrap(), ["web"]);
    assert!(store.read("other").unwrap().is_none());
    // No temporary file is left beside it.
    let files: Vec<_> = std::fs::read_dir(store.paths("web").dir).unwrap().collect();
    assert_eq!(files.len(), 2, "lock and state.json only");
}

#[test]
fn a_damaged_record_names_its_file() {
    let (_dir, store) = store();
    let lock = store.lock_or_create("web").unwrap();
    store.write(&record("web"), &lock).unwrap();
    let path = store.paths("web").record;
    let whole = std::fs::read(&path).unwrap();
    std::fs::write(&path, &whole[..whole.len() / 2]).unwrap();
    let error = store.read("web").unwrap_err().to_string();
    assert!(error.contains(&path.display().to_string()), "{error}");
    assert!(error.contains("damaged"), "{error}");
    std::fs::write(&path, "").unwrap();
    assert!(store.read("web").unwrap_err().to_string().contains("empty"));
    // A record copied into another container's folder is not that container's.
    let _db = store.lock_or_create("db").unwrap();
    std::fs::write(
        &store.paths("db").record,
        serde_json::to_vec(&record("web")).unwrap(),
    )
    .unwrap();
    assert!(
        store
            .read("db")
            .unwrap_err()
            .to_string()
            .contains("names container")
    );
}

#[test]
fn a_command_waiting_for_the_lock_finds_the_container_removed() {
    let (_dir, store) = store();
    let lock = store.lock_or_create("web").unwrap();
    store.write(&record("web"), &lock).unwrap();
    let waiter = {
        let store = store.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            let got = store.lock_existing("web").unwrap();
            (got.is_some(), started.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    store.remove("web", lock).unwrap();
    let (got, waited) = waiter.join().unwrap();
    assert!(!got, "the waiter locked a removed container");
    assert!(
        waited >= Duration::from_millis(90),
        "it did not wait: {waited:?}"
    );
    assert!(!store.paths("web").dir.exists());
    assert!(store.names().unwrap().is_empty());
}

#[test]
fn the_state_root_must_be_ours_alone() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, _) = store();
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let error = Store::new(open).ensure_root().unwrap_err().to_string();
    assert!(error.contains("written by others"), "{error}");
}
