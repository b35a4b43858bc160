//! The diagnostic corpus: every broken Container.toml under tests/corpus/ fails `check` with
//! exit status 1, and its rendered diagnostics are snapshotted (tests/snapshots/), so a worse
//! message or a label on the wrong span shows up in review. Each file's first line says what is
//! wrong with it.
//!
//! To update the snapshots after a deliberate change of a message:
//! `INSTA_UPDATE=always cargo test --test integration corpus`, then read every changed one.

use std::path::PathBuf;
use std::process::Output;

use crate::util::{TempContainer, repo, run, stderr, stdout};

/// The corpus files, by name (`01-unclosed-string`), in order.
fn corpus() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo().join("tests/corpus"))
        .expect("tests/corpus/ is missing")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_string()))
        .collect();
    names.sort();
    names
}

fn corpus_file(name: &str) -> String {
    format!("tests/corpus/{name}.toml")
}

/// Stderr with this clone's absolute path replaced by `[REPO]`, so snapshots hold anywhere.
fn rendered(output: &Output) -> String {
    stderr(output).replace(&repo().display().to_string(), "[REPO]")
}

/// Every diagnostic in `text` has a `file:line:column` header and a label under its span.
fn assert_located(file: &str, text: &str) {
    let diagnostics = text.lines().filter(|l| l.starts_with("  × ")).count();
    assert!(diagnostics > 0, "{file}: no diagnostic rendered:\n{text}");
    let headers: Vec<&str> = text.lines().filter(|l| l.contains("╭─[")).collect();
    assert_eq!(
        headers.len(),
        diagnostics,
        "{file}: a diagnostic without a source snippet:\n{text}"
    );
    for header in headers {
        let location = header
            .split_once(&format!("╭─[{file}:"))
            .and_then(|(_, rest)| rest.strip_suffix(']'))
            .unwrap_or_else(|| panic!("{file}: header without a location: {header}"));
        let (line, column) = location
            .split_once(':')
            .unwrap_or_else(|| panic!("{file}: no line:column in {header}"));
        assert!(
            line.parse::<usize>().is_ok_and(|l| l > 0)
                && column.parse::<usize>().is_ok_and(|c| c > 0),
            "{file}: bad line:column in {header}"
        );
    }
    let labels = text.lines().filter(|l| l.contains("╰── ")).count();
    assert_eq!(
        labels, diagnostics,
        "{file}: a diagnostic without a label:\n{text}"
    );
    assert_eq!(
        text.lines()
            .filter(|l| l.trim_start().starts_with("help: "))
            .count(),
        diagnostics,
        "{file}: a diagnostic without a help line:\n{text}"
    );
}

#[test]
fn every_corpus_file_fails_check_with_located_labelled_diagnostics() {
    let names = corpus();
    assert!(
        names.len() >= 30,
        "the corpus has {} files, expected at least 30",
        names.len()
    );
    for name in names {
        let file = corpus_file(&name);
        let source = std::fs::read_to_string(repo().join(&file)).unwrap();
        let what = source.lines().next().unwrap_or_default();
        assert!(
            what.starts_with("# "),
            "{file} does not start with a comment that says what is wrong"
        );
        let output = run(&["check", &file]);
        let text = rendered(&output);
        assert_eq!(
            output.status.code(),
            Some(1),
            "check {file} should exit 1:\n{text}{}",
            stdout(&output)
        );
        assert_located(&file, &text);
        insta::with_settings!({ description => what.trim_start_matches("# "), omit_expression => true }, {
            insta::assert_snapshot!(name, text);
        });
    }
}

#[test]
fn a_missing_bind_source_names_the_key_the_line_and_the_path() {
    let file = corpus_file("45-bind-source-missing");
    let output = run(&["check", &file]);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    let missing: PathBuf = repo().join("tests/corpus/no-such-data");
    assert!(text.contains("mount[1].source"), "{text}");
    // Line 10 is `source = "no-such-data"`.
    assert!(text.contains(&format!("{file}:10:10")), "{text}");
    assert!(text.contains(&missing.display().to_string()), "{text}");
}

#[test]
fn a_bind_source_is_resolved_against_the_files_folder() {
    let container = TempContainer::new(
        "command = [\"/bin/sh\"]\n\n[rootfs]\nhost = true\n\n[[mount]]\ntype = \"bind\"\nsource = \"data\"\ntarget = \"/tmp/data\"\n",
    );
    let file = container.file_str();
    let missing = run(&["check", &file]);
    assert_eq!(missing.status.code(), Some(1));
    let text = stderr(&missing);
    assert!(text.contains(&format!("{file}:8:10")), "{text}");
    assert!(
        text.contains(&container.path("data").display().to_string()),
        "{text}"
    );

    std::fs::create_dir(container.path("data")).unwrap();
    let present = run(&["check", &file]);
    assert!(present.status.success(), "{}", stderr(&present));
}

#[test]
fn a_file_with_three_problems_reports_all_three() {
    let file = corpus_file("52-three-problems");
    let output = run(&["check", &file]);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(text.contains("3 errors"), "{text}");
    for location in [":2:12", ":10:10", ":15:8"] {
        assert!(text.contains(&format!("╭─[{file}{location}]")), "{text}");
    }

    let json = run(&["check", &file, "--format", "json"]);
    assert_eq!(json.status.code(), Some(1));
    let value: serde_json::Value =
        serde_json::from_slice(&json.stdout).expect("check --format json is not JSON");
    assert_eq!(value["valid"], false);
    assert_eq!(value["errors"], 3);
    let diagnostics = value["diagnostics"]
        .as_array()
        .expect("no diagnostics array");
    let found: Vec<(&str, u64, u64)> = diagnostics
        .iter()
        .map(|d| {
            for field in ["message", "label", "help"] {
                assert!(
                    d[field].as_str().is_some_and(|s| !s.is_empty()),
                    "no {field}: {d}"
                );
            }
            (
                d["key"].as_str().expect("no key"),
                d["line"].as_u64().expect("no line"),
                d["column"].as_u64().expect("no column"),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("hostname", 2, 12),
            ("mount[1].target", 10, 10),
            ("mount[2].size", 15, 8),
        ]
    );
}

/// Shape problems do not hide the rules' problems: each of these files shows every mistake
/// it has, in one run, in text and in JSON (issue 14).
#[test]
fn shape_and_rule_problems_show_together_in_one_run() {
    let cases: [(&str, &[&str]); 4] = [
        (
            "56-typo-and-rule-errors",
            &["hostnme", "command", "mount[1].target"],
        ),
        (
            "57-wrong-type-and-rule-errors",
            &["hostname", "mount[1].size", "mount[2].target"],
        ),
        (
            "58-missing-key-and-rule-errors",
            &[
                "workdir",
                "mount[1].type",
                "security.capabilities.add[1]",
                "security.seccom",
            ],
        ),
        (
            "59-section-problems-and-rule-errors",
            &[
                "namespaces.network",
                "resources.cpus",
                "resources.pids",
                "stop.signal",
            ],
        ),
    ];
    for (name, keys) in cases {
        let file = corpus_file(name);
        let text = rendered(&run(&["check", &file]));
        assert!(
            text.contains(&format!("{} errors", keys.len())),
            "{file}: expected {} errors:\n{text}",
            keys.len()
        );
        let json = run(&["check", &file, "--format", "json"]);
        assert_eq!(json.status.code(), Some(1));
        let value: serde_json::Value =
            serde_json::from_slice(&json.stdout).expect("check --format json is not JSON");
        let found: Vec<&str> = value["diagnostics"]
            .as_array()
            .expect("no diagnostics array")
            .iter()
            .map(|d| d["key"].as_str().expect("a diagnostic without a key"))
            .collect();
        assert_eq!(found, keys, "{file}:\n{text}");
    }
}
