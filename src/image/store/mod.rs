//! The image store: blobs by digest, layers unpacked once each (keyed by diff_id and shared by
//! every image that has them), one record per image, and the refs that name images.
//!
//! ```text
//! ROOT/store.json                 {"version": 1, "whiteouts": "classic" | "user-xattr"}
//! ROOT/store.lock                 pulls share it; rmi and prune hold it alone
//! ROOT/refs.json                  {"REF": "sha256:MANIFEST", ...}   (refs.lock guards it)
//! ROOT/blobs/sha256/HEX           manifests, configs and layer blobs, each verified
//! ROOT/images/sha256/HEX.json     one record per manifest digest (ImageRecord)
//! ROOT/layers/sha256/HEX/         a layer unpacked, keyed by its diff_id: whole or absent
//! ROOT/locks/                     one lock file per blob and per layer
//! ROOT/tmp/                       partial downloads and unpacks, by digest; a pull that holds
//!                                 the digest's lock removes a leftover before it starts
//! ```
//!
//! Everything becomes visible by a rename of a complete, synced file or folder, so a pull
//! killed at any point leaves nothing half-visible, and the next pull finishes the job.

mod lock;
mod prune;
mod records;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use lock::Held;
pub use prune::{Pruned, Removed, remove_tree};
pub use records::{ImageRecord, LayerRecord, Refs};

use super::digest::Digest;
use super::error::{ErrorKind, io_kind};

/// How whiteouts (deleted files) and opaque folders are written into layer folders: the form
/// the overlay mount of those layers must read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WhiteoutForm {
    /// A 0:0 character device and `trusted.overlay.opaque=y`: the kernel's own form, for an
    /// overlay mounted by root (needs CAP_MKNOD and CAP_SYS_ADMIN to write).
    Classic,
    /// A zero-size file with `user.overlay.whiteout` in a folder with `user.overlay.opaque=x`,
    /// and `user.overlay.opaque=y`: for an overlay mounted with `userxattr` in a user
    /// namespace (Linux 6.7 or newer reads these whiteouts).
    UserXattr,
}

impl WhiteoutForm {
    /// The xattr prefix of the overlay attributes: `trusted.overlay.` or `user.overlay.`.
    pub fn prefix(self) -> &'static str {
        match self {
            WhiteoutForm::Classic => "trusted.overlay.",
            WhiteoutForm::UserXattr => "user.overlay.",
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct StoreFile {
    version: u32,
    whiteouts: WhiteoutForm,
}

/// An image store at a root folder.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    pub fn new(root: PathBuf) -> Store {
        Store { root }
    }

    /// `/var/lib/launcher/images` as root; the user's data folder (`~/.local/share/launcher/
    /// images`) otherwise.
    pub fn default_root() -> PathBuf {
        if rustix::process::geteuid().is_root() {
            return PathBuf::from("/var/lib/launcher/images");
        }
        match directories::BaseDirs::new() {
            Some(dirs) => dirs.data_dir().join("launcher/images"),
            None => PathBuf::from(format!(
                "/tmp/launcher-images-{}",
                rustix::process::geteuid().as_raw()
            )),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    /// The folder of the layer whose uncompressed digest is `diff_id` (it may not exist yet).
    pub fn layer_path(&self, diff_id: &Digest) -> PathBuf {
        self.root.join("layers/sha256").join(diff_id.hex())
    }

    pub fn has_layer(&self, diff_id: &Digest) -> bool {
        self.layer_path(diff_id).is_dir()
    }

    pub fn image_path(&self, manifest: &Digest) -> PathBuf {
        self.root
            .join("images/sha256")
            .join(format!("{}.json", manifest.hex()))
    }

    pub(crate) fn tmp_path(&self, name: &str) -> PathBuf {
        self.root.join("tmp").join(name)
    }

    pub(crate) fn lock_path(&self, name: &str) -> PathBuf {
        self.root.join("locks").join(name)
    }

    /// Makes the store's folders and its store.json when missing; returns the whiteout form of
    /// its layers (fixed when the store is made: by root the classic form, else user xattrs).
    pub fn ensure(&self) -> Result<WhiteoutForm, ErrorKind> {
        for sub in [
            "blobs/sha256",
            "images/sha256",
            "layers/sha256",
            "locks",
            "tmp",
        ] {
            let path = self.root.join(sub);
            std::fs::create_dir_all(&path)
                .map_err(|e| io_kind("creating the store folder", &path, e))?;
        }
        let path = self.root.join("store.json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice::<StoreFile>(&bytes)
                .map(|file| file.whiteouts)
                .map_err(|e| ErrorKind::BadDocument {
                    what: path.display().to_string(),
                    why: e.to_string(),
                }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let whiteouts = match rustix::process::geteuid().is_root() {
                    true => WhiteoutForm::Classic,
                    false => WhiteoutForm::UserXattr,
                };
                let file = StoreFile {
                    version: 1,
                    whiteouts,
                };
                let text = serde_json::to_vec_pretty(&file).unwrap_or_default();
                // Two first pulls at once: both write the same bytes; the rename is atomic.
                write_atomic(&path, &text)?;
                Ok(whiteouts)
            }
            Err(e) => Err(io_kind("reading", &path, e)),
        }
    }

    /// The whiteout form of an existing store, without creating anything.
    pub fn whiteout_form(&self) -> Result<WhiteoutForm, ErrorKind> {
        let path = self.root.join("store.json");
        let bytes = std::fs::read(&path).map_err(|e| io_kind("reading", &path, e))?;
        serde_json::from_slice::<StoreFile>(&bytes)
            .map(|file| file.whiteouts)
            .map_err(|e| ErrorKind::BadDocument {
                what: path.display().to_string(),
                why: e.to_string(),
            })
    }

    /// The store-wide lock: shared for pulls, exclusive for rmi and prune.
    pub(crate) fn lock_store(&self, shared: bool) -> Result<Held, ErrorKind> {
        let path = self.root.join("store.lock");
        lock::take(&path, shared).map_err(|e| io_kind("locking", &path, e))
    }

    /// The lock of one blob or layer (`blob-HEX`, `layer-HEX`).
    pub(crate) fn lock_item(&self, name: &str) -> Result<Held, ErrorKind> {
        let path = self.lock_path(name);
        lock::take(&path, false).map_err(|e| io_kind("locking", &path, e))
    }
}

/// Writes `bytes` to `path` through a synced temp file in the same folder and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ErrorKind> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|e| io_kind("creating a temporary file in", dir, e))?;
    file.write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .map_err(|e| io_kind("writing", file.path(), e))?;
    file.persist(path)
        .map_err(|e| io_kind("renaming into place", path, e.error))?;
    sync_dir(dir)
}

/// fsync of a folder, so a rename in it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), ErrorKind> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_kind("syncing", dir, e))
}
