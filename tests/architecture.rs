//! The boundaries ARCHITECTURE.md draws between modules, checked on the source: a module that
//! imports what it must not, or `unsafe` outside the OS layer, fails here.

use std::path::{Path, PathBuf};

use crate::util::repo;

/// Every `.rs` file under `src/<dir>`.
fn sources(dir: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("cannot read a source folder") {
            let path = entry.expect("cannot read a source folder").path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&repo().join("src").join(dir), &mut found);
    assert!(!found.is_empty(), "no sources under src/{dir}");
    found
}

/// The lines of `file` outside `#[cfg(test)]` modules (tests may reach across).
fn code_lines(file: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(file).expect("cannot read a source file");
    let end = text.find("#[cfg(test)]").unwrap_or(text.len());
    text[..end]
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.to_string()))
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .collect()
}

fn assert_none(dir: &str, forbidden: &[&str], why: &str) {
    let mut found = Vec::new();
    for file in sources(dir) {
        for (number, line) in code_lines(&file) {
            if forbidden.iter().any(|f| line.contains(f)) {
                found.push(format!("{}:{number}: {}", file.display(), line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "{why}:\n{}", found.join("\n"));
}

#[test]
fn the_plan_knows_no_front_end() {
    assert_none(
        "plan",
        &[
            "crate::config",
            "crate::preflight",
            "crate::runtime",
            "crate::sys",
            "std::fs",
        ],
        "plan/ is pure data and knows no front end",
    );
}

#[test]
fn the_runtime_and_preflight_know_no_front_end() {
    for dir in ["runtime", "preflight", "state", "lifecycle"] {
        assert_none(
            dir,
            &["crate::config::file", "config::validate", "toml::"],
            "only config/ reads Container.toml",
        );
    }
}

#[test]
fn nothing_below_the_front_ends_knows_the_oci_one() {
    for dir in [
        "runtime",
        "plan",
        "preflight",
        "state",
        "lifecycle",
        "config",
    ] {
        assert_none(
            dir,
            &["crate::oci"],
            "the runtime must not know which front end made its plan",
        );
    }
}

#[test]
fn config_makes_no_system_call() {
    assert_none(
        "config",
        &["crate::sys", "crate::runtime", "libc::"],
        "config/ makes no system calls",
    );
}

#[test]
fn unsafe_lives_in_the_os_layer_only() {
    for dir in [
        "config",
        "plan",
        "preflight",
        "runtime",
        "state",
        "lifecycle",
    ] {
        assert_none(dir, &["unsafe "], "unsafe code belongs in src/sys/");
    }
}

#[test]
fn the_library_prints_nothing() {
    for dir in [
        "config",
        "plan",
        "preflight",
        "runtime",
        "state",
        "lifecycle",
    ] {
        assert_none(
            dir,
            &["println!", "eprintln!", "print!(", "eprint!("],
            "only the binary prints",
        );
    }
}

#[test]
fn every_unsafe_block_in_the_os_layer_gives_its_reason() {
    let mut missing = Vec::new();
    for file in sources("sys") {
        let lines = code_lines(&file);
        let text = std::fs::read_to_string(&file).unwrap();
        let all: Vec<&str> = text.lines().collect();
        for (number, line) in lines {
            if line.contains("unsafe {") {
                let before = &all[number.saturating_sub(6)..number - 1];
                if !before.iter().any(|l| l.contains("SAFETY:")) && !line.contains("SAFETY:") {
                    missing.push(format!("{}:{number}", file.display()));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "unsafe blocks without a SAFETY comment:\n{}",
        missing.join("\n")
    );
}

/// Issue 15, item 6: tests wrote into the host's real /run/launcher/cache. Every test starts
/// the launcher through `tests/util.rs`, which gives it the tests' own state folder, seccomp
/// cache and image store; no other test file names the binary.
#[test]
fn tests_never_start_the_launcher_with_the_hosts_cache() {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("cannot read tests/") {
            let path = entry.expect("cannot read tests/").path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&repo().join("tests"), &mut files);
    let binary = concat!("CARGO_BIN_EXE_", "launcher");
    let cargo_bin = concat!("cargo_bin", "(");
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("cannot read a test file");
        let uses = text.matches(binary).count() + text.matches(cargo_bin).count();
        let allowed = usize::from(file.ends_with("tests/util.rs"));
        if uses > allowed {
            found.push(format!("{}: {uses}", file.display()));
        }
    }
    assert!(
        found.is_empty(),
        "these test files start the launcher themselves (use util::launcher_through or \
         util::shell_with_launcher, which set LAUNCHER_CACHE_DIR):\n{}",
        found.join("\n")
    );
    let util = std::fs::read_to_string(repo().join("tests/util.rs")).unwrap();
    assert!(
        util.contains("\"LAUNCHER_CACHE_DIR\""),
        "tests/util.rs sets no cache folder"
    );
}
