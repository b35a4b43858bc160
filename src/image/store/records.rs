//! Image records (`images/sha256/HEX.json`) and refs (`refs.json`): what the store holds and
//! the names that point at it.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Store, WhiteoutForm, write_atomic};
use crate::image::config::ConfigFile;
use crate::image::digest::Digest;
use crate::image::error::{ErrorKind, io_kind};
use crate::image::platform::Platform;

/// One image: its manifest, config and layers (lowest first), written once all its layers
/// are in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    pub manifest: Digest,
    pub media_type: String,
    pub config: Digest,
    pub platform: Platform,
    /// Lowest first, as in the manifest.
    pub layers: Vec<LayerRecord>,
    /// The config's `created`, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Seconds since the epoch when it was stored.
    pub stored: u64,
    pub whiteouts: WhiteoutForm,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRecord {
    /// The blob as served (compressed).
    pub digest: Digest,
    /// The uncompressed tar's digest: the layer folder's key.
    pub diff_id: Digest,
    pub size: u64,
    pub media_type: String,
}

impl ImageRecord {
    /// Bytes of the blobs: the layers as served, plus nothing for manifest and config.
    pub fn size(&self) -> u64 {
        self.layers.iter().map(|l| l.size).sum()
    }
}

/// refs.json: each ref (its store key, e.g. `docker.io/library/alpine:latest`) → manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refs {
    pub refs: BTreeMap<String, Digest>,
}

impl Store {
    fn refs_path(&self) -> PathBuf {
        self.root.join("refs.json")
    }

    /// The refs (empty for a store that has none yet).
    pub fn refs(&self) -> Result<Refs, ErrorKind> {
        let path = self.refs_path();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| ErrorKind::BadDocument {
                what: path.display().to_string(),
                why: e.to_string(),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Refs::default()),
            Err(e) => Err(io_kind("reading", &path, e)),
        }
    }

    /// Changes the refs under their lock (read, change, write atomically).
    pub(crate) fn update_refs<T>(
        &self,
        change: impl FnOnce(&mut Refs) -> T,
    ) -> Result<T, ErrorKind> {
        let _held = self.lock_item("refs")?;
        let mut refs = self.refs()?;
        let result = change(&mut refs);
        let text = serde_json::to_vec_pretty(&refs).unwrap_or_default();
        write_atomic(&self.refs_path(), &text)?;
        Ok(result)
    }

    /// The record of the image with manifest `digest`, if stored.
    pub fn record(&self, digest: &Digest) -> Result<Option<ImageRecord>, ErrorKind> {
        let path = self.image_path(digest);
        match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| ErrorKind::BadDocument {
                        what: path.display().to_string(),
                        why: e.to_string(),
                    })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_kind("reading", &path, e)),
        }
    }

    pub(crate) fn write_record(&self, record: &ImageRecord) -> Result<(), ErrorKind> {
        let text = serde_json::to_vec_pretty(record).unwrap_or_default();
        write_atomic(&self.image_path(&record.manifest), &text)
    }

    /// Every stored image, with the refs that name it (sorted by ref).
    pub fn images(&self) -> Result<Vec<(ImageRecord, Vec<String>)>, ErrorKind> {
        let refs = self.refs()?;
        let dir = self.root.join("images/sha256");
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_kind("listing", &dir, e)),
        };
        let mut images = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_kind("listing", &dir, e))?;
            let name = entry.file_name();
            let Some(hex) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            let Ok(digest) = Digest::parse(&format!("sha256:{hex}")) else {
                continue;
            };
            if let Some(record) = self.record(&digest)? {
                let names: Vec<String> = refs
                    .refs
                    .iter()
                    .filter(|(_, d)| **d == digest)
                    .map(|(name, _)| name.clone())
                    .collect();
                images.push((record, names));
            }
        }
        images.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.manifest.cmp(&b.0.manifest)));
        Ok(images)
    }

    /// The image a ref key names, if stored and whole (every layer folder present).
    pub fn lookup(&self, key: &str) -> Result<Option<ImageRecord>, ErrorKind> {
        let Some(digest) = self.refs()?.refs.get(key).cloned() else {
            return Ok(None);
        };
        let Some(record) = self.record(&digest)? else {
            return Ok(None);
        };
        Ok(self.is_whole(&record).then_some(record))
    }

    /// Whether every layer of `record` is unpacked.
    pub fn is_whole(&self, record: &ImageRecord) -> bool {
        record.layers.iter().all(|l| self.has_layer(&l.diff_id))
    }

    /// The image's layer folders, lowest first: the overlay's lower folders (reversed for
    /// `lowerdir=`, which lists the top first).
    pub fn layer_paths(&self, record: &ImageRecord) -> Vec<PathBuf> {
        record
            .layers
            .iter()
            .map(|l| self.layer_path(&l.diff_id))
            .collect()
    }

    /// The image's config, read from its verified blob.
    pub fn config(&self, record: &ImageRecord) -> Result<ConfigFile, ErrorKind> {
        let path = self.blob_path(&record.config);
        let bytes = std::fs::read(&path).map_err(|e| io_kind("reading", &path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| ErrorKind::BadDocument {
            what: format!("image config {}", record.config),
            why: e.to_string(),
        })
    }
}
