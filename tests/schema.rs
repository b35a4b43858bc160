//! The committed schema is the one the serde types generate.

use crate::util::{repo, run, stdout};

#[test]
fn committed_schema_matches_the_serde_types() {
    let generated = launcher::schema::container_schema_text();
    let committed = std::fs::read_to_string(repo().join("schemas/container.schema.json"))
        .expect("schemas/container.schema.json is missing");
    assert!(
        committed == generated,
        "schemas/container.schema.json is out of date: run `cargo run -q -- schema > schemas/container.schema.json`"
    );
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let output = run(&["schema"]);
    assert!(output.status.success());
    let committed = std::fs::read_to_string(repo().join("schemas/container.schema.json")).unwrap();
    assert_eq!(stdout(&output), committed);
    let parsed: serde_json::Value = serde_json::from_str(&committed).expect("schema is not JSON");
    assert_eq!(parsed["$schema"], "http://json-schema.org/draft-07/schema#");
    assert!(parsed["properties"]["rootfs"]["description"].is_string());
}

#[test]
fn every_example_points_at_the_schema() {
    for example in crate::util::examples() {
        let text = std::fs::read_to_string(example.join("Container.toml")).unwrap();
        assert_eq!(
            text.lines().next(),
            Some("#:schema ../../schemas/container.schema.json"),
            "{} does not start with the #:schema line",
            example.display()
        );
    }
}
