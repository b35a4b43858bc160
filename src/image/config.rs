//! The image configuration: what the image says about the process it runs (Entrypoint, Cmd,
//! Env, WorkingDir, User, StopSignal, ExposedPorts, Labels) and the diff_ids of its layers.
//! The plan merges [`RunConfig`] under the Container.toml's own keys.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::digest::Digest;
use super::platform::Platform;

/// The config blob (`application/vnd.oci.image.config.v1+json`, Docker's is the same shape).
#[derive(Debug, Clone, Deserialize)]
pub struct ConfigFile {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
    #[serde(default)]
    pub config: Option<RunConfig>,
    pub rootfs: RootFs,
    #[serde(default)]
    pub created: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    pub diff_ids: Vec<Digest>,
}

/// How the image would run its process. Every field may be missing; an empty string or list
/// means "not set" as docker reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// `NAME=value`, in the image's order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// `uid`, `uid:gid`, `name` or `name:group`, as Container.toml's `user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `SIGTERM`, `15`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// `"80/tcp": {}`; only the keys mean anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

impl RunConfig {
    /// The environment as (name, value) pairs, in order; an entry without `=` is a name with
    /// an empty value (docker keeps it so).
    pub fn env_pairs(&self) -> Vec<(String, String)> {
        self.env
            .iter()
            .flatten()
            .map(|entry| match entry.split_once('=') {
                Some((name, value)) => (name.to_string(), value.to_string()),
                None => (entry.clone(), String::new()),
            })
            .collect()
    }

    /// Exposed ports, e.g. `["80/tcp"]`.
    pub fn ports(&self) -> Vec<String> {
        self.exposed_ports
            .iter()
            .flat_map(|ports| ports.keys().cloned())
            .collect()
    }

    /// A field only when it says something: `""` and `[]` are "not set".
    pub fn working_dir(&self) -> Option<&str> {
        self.working_dir.as_deref().filter(|s| !s.is_empty())
    }

    pub fn user(&self) -> Option<&str> {
        self.user.as_deref().filter(|s| !s.is_empty())
    }

    pub fn stop_signal(&self) -> Option<&str> {
        self.stop_signal.as_deref().filter(|s| !s.is_empty())
    }

    /// Docker's rule: the command is Entrypoint followed by Cmd.
    pub fn command(&self) -> Vec<String> {
        let mut command = self.entrypoint.clone().unwrap_or_default();
        command.extend(self.cmd.clone().unwrap_or_default());
        command
    }
}

impl ConfigFile {
    pub fn platform(&self) -> Platform {
        Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone().filter(|v| !v.is_empty()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_docker_config_reads_into_typed_fields() {
        let text = r#"{"architecture":"amd64","os":"linux",
            "config":{"User":"nobody","Env":["PATH=/bin","EMPTY"],"Entrypoint":["/bin/sh","-c"],
            "Cmd":["echo hi"],"WorkingDir":"/srv","StopSignal":"SIGQUIT",
            "ExposedPorts":{"80/tcp":{}},"Labels":{"a":"b"}},
            "rootfs":{"type":"layers","diff_ids":["sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]}}"#;
        let file: ConfigFile = serde_json::from_str(text).unwrap();
        let run = file.config.clone().unwrap();
        assert_eq!(run.command(), ["/bin/sh", "-c", "echo hi"]);
        assert_eq!(run.env_pairs()[1], ("EMPTY".to_string(), String::new()));
        assert_eq!(run.working_dir(), Some("/srv"));
        assert_eq!(run.user(), Some("nobody"));
        assert_eq!(run.stop_signal(), Some("SIGQUIT"));
        assert_eq!(run.ports(), ["80/tcp"]);
        assert_eq!(file.rootfs.diff_ids.len(), 1);
        assert_eq!(file.platform().to_string(), "linux/amd64");
    }

    #[test]
    fn null_and_empty_fields_are_not_set() {
        let run: RunConfig =
            serde_json::from_str(r#"{"Entrypoint":null,"Cmd":null,"WorkingDir":"","User":""}"#)
                .unwrap();
        assert!(run.command().is_empty());
        assert_eq!(run.working_dir(), None);
        assert_eq!(run.user(), None);
    }
}
