//! `rmi` (remove a ref, and the image when no other ref names it) and `prune` (remove the
//! images no ref names, then every blob and layer that no image, nor a container the caller
//! lists, uses). Both hold the store lock alone, so they never race a pull.

use std::collections::BTreeSet;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::Store;
use crate::image::digest::Digest;
use crate::image::error::{ErrorKind, io_kind};

/// What `prune` removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pruned {
    pub images: Vec<Digest>,
    pub blobs: usize,
    pub layers: usize,
    pub bytes: u64,
}

/// What `rmi` of one ref removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    pub key: String,
    /// The image, when no other ref named it.
    pub image: Option<Digest>,
}

impl Store {
    /// Removes the ref `key` (the store key of a reference) and its image when no other ref
    /// names it. Layers and blobs stay until `prune`.
    pub fn remove_ref(&self, key: &str) -> Result<Removed, ErrorKind> {
        let _held = self.lock_store(false)?;
        let removed = self.update_refs(|refs| {
            let digest = refs.refs.remove(key)?;
            let named = refs.refs.values().any(|d| *d == digest);
            Some((digest, named))
        })?;
        let Some((digest, still_named)) = removed else {
            return Err(ErrorKind::NotInStore {
                store: self.root.clone(),
            });
        };
        let image = match still_named {
            true => None,
            false => {
                self.remove_record(&digest)?;
                Some(digest)
            }
        };
        Ok(Removed {
            key: key.to_string(),
            image,
        })
    }

    /// Removes the image with manifest `digest` and every ref that names it.
    pub fn remove_image(&self, digest: &Digest) -> Result<Vec<String>, ErrorKind> {
        let _held = self.lock_store(false)?;
        if self.record(digest)?.is_none() {
            return Err(ErrorKind::NotInStore {
                store: self.root.clone(),
            });
        }
        let keys = self.update_refs(|refs| {
            let keys: Vec<String> = refs
                .refs
                .iter()
                .filter(|(_, d)| *d == digest)
                .map(|(k, _)| k.clone())
                .collect();
            refs.refs.retain(|_, d| d != digest);
            keys
        })?;
        self.remove_record(digest)?;
        Ok(keys)
    }

    fn remove_record(&self, digest: &Digest) -> Result<(), ErrorKind> {
        let path = self.image_path(digest);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_kind("removing", &path, e)),
        }
    }

    /// Removes images no ref names, then blobs and layers that no image uses and whose
    /// diff_id is not in `in_use` (the layers of containers that exist), and leftovers of
    /// killed pulls.
    pub fn prune(&self, in_use: &[Digest]) -> Result<Pruned, ErrorKind> {
        if !self.root.join("store.json").exists() {
            return Ok(Pruned::default());
        }
        let _held = self.lock_store(false)?;
        let mut pruned = Pruned::default();
        let named: BTreeSet<Digest> = self.refs()?.refs.into_values().collect();
        let mut used_blobs = BTreeSet::new();
        let mut used_layers: BTreeSet<Digest> = in_use.iter().cloned().collect();
        for (record, _) in self.images()? {
            if !named.contains(&record.manifest) {
                self.remove_record(&record.manifest)?;
                pruned.images.push(record.manifest);
                continue;
            }
            used_blobs.insert(record.manifest.clone());
            used_blobs.insert(record.config.clone());
            for layer in &record.layers {
                used_blobs.insert(layer.digest.clone());
                used_layers.insert(layer.diff_id.clone());
            }
        }
        for (dir, used, is_layer) in [
            ("blobs/sha256", &used_blobs, false),
            ("layers/sha256", &used_layers, true),
        ] {
            let dir = self.root.join(dir);
            for entry in list(&dir)? {
                let name = entry.file_name();
                let keep = name
                    .to_str()
                    .and_then(|hex| Digest::parse(&format!("sha256:{hex}")).ok())
                    .is_some_and(|d| used.contains(&d));
                if keep {
                    continue;
                }
                let path = entry.path();
                pruned.bytes += tree_size(&path);
                remove_tree(&path)?;
                match is_layer {
                    true => pruned.layers += 1,
                    false => pruned.blobs += 1,
                }
            }
        }
        // With the store lock held alone no pull runs: whatever is in tmp/ is a leftover, and
        // so are the temporary files of atomic writes a killed pull left (`.tmp-*`).
        let mut leftovers = list(&self.root.join("tmp"))?;
        for dir in [self.root.clone(), self.root.join("images/sha256")] {
            leftovers.extend(
                list(&dir)?
                    .into_iter()
                    .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-")),
            );
        }
        for entry in leftovers {
            pruned.bytes += tree_size(&entry.path());
            remove_tree(&entry.path())?;
        }
        Ok(pruned)
    }
}

fn list(dir: &Path) -> Result<Vec<std::fs::DirEntry>, ErrorKind> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| io_kind("listing", dir, e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_kind("listing", dir, e)),
    }
}

/// Bytes of the files under `path` (not following symlinks; a hard-linked file counts once
/// per link, which is close enough for a report).
fn tree_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.size();
    }
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| tree_size(&e.path()))
                .sum()
        })
        .unwrap_or(0)
}

/// Removes a file or a folder tree, without following symlinks (`sys::remove_tree`).
pub fn remove_tree(path: &Path) -> Result<(), ErrorKind> {
    crate::sys::remove_tree(path).map_err(|e| io_kind("removing", path, e))
}
