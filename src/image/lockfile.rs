//! `Container.lock`, next to a Container.toml: each image ref as the file writes it → the
//! manifest digest it resolved to, and the platform. With it in version control, a file always
//! runs the same bytes (like Cargo.lock).
//!
//! ```toml
//! # Container.lock: the images the refs of Container.toml resolved to. Written by launcher.
//! version = 1
//!
//! [[image]]
//! ref = "alpine:3.20"
//! digest = "sha256:..."
//! platform = "linux/amd64"
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::digest::Digest;
use super::platform::Platform;

pub const FILE_NAME: &str = "Container.lock";
const VERSION: u32 = 1;
const HEADER: &str = "# Container.lock: the images the refs of Container.toml resolved to.\n# Written by launcher (the first `up`, `launcher lock [--update]`); commit it.\n";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a Container.lock: {why}", .path.display())]
    Invalid { path: PathBuf, why: String },
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl LockError {
    pub fn hint(&self) -> &'static str {
        match self {
            LockError::Read { .. } | LockError::Write { .. } => {
                "check the permissions of the folder that holds Container.toml"
            }
            LockError::Invalid { .. } => {
                "remove it and run `launcher lock --update` to write it anew"
            }
        }
    }
}

/// The lock file's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockFile {
    version: u32,
    #[serde(default, rename = "image")]
    pub images: Vec<LockedImage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedImage {
    /// The ref as Container.toml writes it (`alpine:3.20`, `oci:layout:v1`).
    #[serde(rename = "ref")]
    pub reference: String,
    /// The manifest it resolved to.
    pub digest: Digest,
    /// `os/arch[/variant]`.
    pub platform: String,
}

/// How a ref of the file stands against the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockStatus {
    /// Locked to this digest.
    Locked(Digest),
    /// The lock has no entry for the ref.
    Missing,
    /// The entry no longer fits the ref (another platform).
    Stale { why: String },
}

impl LockFile {
    pub fn new() -> LockFile {
        LockFile {
            version: VERSION,
            images: Vec::new(),
        }
    }

    /// `Container.lock` beside `container_toml`.
    pub fn path_for(container_toml: &Path) -> PathBuf {
        container_toml.with_file_name(FILE_NAME)
    }

    /// The lock at `path`; `Ok(None)` when there is none.
    pub fn read(path: &Path) -> Result<Option<LockFile>, LockError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(LockError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let invalid = |why: String| LockError::Invalid {
            path: path.to_path_buf(),
            why,
        };
        let lock: LockFile = toml::from_str(&text).map_err(|e| invalid(e.message().to_string()))?;
        if lock.version != VERSION {
            return Err(invalid(format!(
                "version {} (this launcher writes {VERSION})",
                lock.version
            )));
        }
        for image in &lock.images {
            Platform::parse(&image.platform).map_err(&invalid)?;
        }
        Ok(Some(lock))
    }

    /// Writes the lock atomically (temp file + rename), entries sorted by ref.
    pub fn write(&self, path: &Path) -> Result<(), LockError> {
        let mut sorted = self.clone();
        sorted.version = VERSION;
        sorted.images.sort_by(|a, b| a.reference.cmp(&b.reference));
        let body = toml::to_string(&sorted).map_err(|e| LockError::Write {
            path: path.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let failed = |source| LockError::Write {
            path: path.to_path_buf(),
            source,
        };
        let mut file = tempfile::Builder::new()
            .prefix(".Container.lock.")
            .tempfile_in(dir)
            .map_err(failed)?;
        use std::io::Write;
        file.write_all(format!("{HEADER}{body}").as_bytes())
            .map_err(failed)?;
        file.as_file().sync_all().map_err(failed)?;
        file.persist(path).map_err(|e| failed(e.error))?;
        Ok(())
    }

    pub fn get(&self, reference: &str) -> Option<&LockedImage> {
        self.images.iter().find(|i| i.reference == reference)
    }

    /// Locks `reference` (as written) to `digest` on `platform`, replacing its entry.
    pub fn set(&mut self, reference: &str, digest: Digest, platform: &Platform) {
        self.images.retain(|i| i.reference != reference);
        self.images.push(LockedImage {
            reference: reference.to_string(),
            digest,
            platform: platform.to_string(),
        });
    }

    /// Drops the entries of refs the file no longer has.
    pub fn retain(&mut self, references: &[&str]) {
        self.images
            .retain(|i| references.contains(&i.reference.as_str()));
    }

    /// How `reference`, to run on `platform`, stands against the lock.
    pub fn status(&self, reference: &str, platform: &Platform) -> LockStatus {
        let Some(entry) = self.get(reference) else {
            return LockStatus::Missing;
        };
        match Platform::parse(&entry.platform) {
            Ok(locked)
                if locked == *platform || platform.matches(&locked) && locked.variant.is_none() =>
            {
                LockStatus::Locked(entry.digest.clone())
            }
            Ok(locked) => LockStatus::Stale {
                why: format!("locked for {locked}, wanted for {platform}"),
            },
            Err(why) => LockStatus::Stale { why },
        }
    }

    /// Entries for refs the file does not have (`check --locked` reports them as stale).
    pub fn extra<'a>(&'a self, references: &[&str]) -> Vec<&'a LockedImage> {
        self.images
            .iter()
            .filter(|i| !references.contains(&i.reference.as_str()))
            .collect()
    }
}
