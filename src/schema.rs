//! The JSON schema of Container.toml, generated from the serde types in [`crate::config::file`].

use schemars::generate::SchemaSettings;

use crate::config::file::ContainerFile;

/// The schema as a JSON value (draft-07, the dialect editors such as Taplo handle best).
pub fn container_schema() -> serde_json::Value {
    let generator = SchemaSettings::draft07().into_generator();
    generator.into_root_schema_for::<ContainerFile>().to_value()
}

/// The schema as the pretty-printed text committed in `schemas/container.schema.json`.
pub fn container_schema_text() -> String {
    // Serialising a `serde_json::Value` cannot fail: its keys are strings.
    let mut text = serde_json::to_string_pretty(&container_schema()).unwrap_or_default();
    text.push('\n');
    text
}
