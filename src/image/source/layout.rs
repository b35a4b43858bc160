//! An OCI image layout folder (`oci-layout`, `index.json`, `blobs/sha256/...`), as
//! `skopeo copy ... oci:DIR:TAG` or `umoci` write it. A tag picks the `index.json` entry whose
//! `org.opencontainers.image.ref.name` is that tag; without one the layout must hold one entry.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{Fetched, Source, pick, read_limited};
use crate::image::digest::Digest;
use crate::image::error::{ErrorKind, io_kind};
use crate::image::manifest::{Descriptor, Index};
use crate::image::platform::Platform;

const REF_NAME: &str = "org.opencontainers.image.ref.name";

pub struct OciLayout {
    path: PathBuf,
    tag: Option<String>,
}

impl OciLayout {
    pub fn open(path: &Path, tag: Option<&str>) -> Result<OciLayout, ErrorKind> {
        let marker = path.join("oci-layout");
        if !marker.is_file() {
            return Err(ErrorKind::Source {
                path: path.to_path_buf(),
                why: "not an OCI image layout folder (it has no oci-layout file)".into(),
            });
        }
        Ok(OciLayout {
            path: path.to_path_buf(),
            tag: tag.map(str::to_string),
        })
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.path.join("blobs/sha256").join(digest.hex())
    }

    fn read_blob(&self, descriptor: &Descriptor) -> Result<Fetched, ErrorKind> {
        let path = self.blob_path(&descriptor.digest);
        let file = File::open(&path).map_err(|e| io_kind("opening the blob", &path, e))?;
        let bytes = read_limited(file, &path.display().to_string())?;
        Ok(Fetched {
            bytes,
            digest: descriptor.digest.clone(),
            media_type: descriptor.media_type.clone(),
        })
    }
}

impl Source for OciLayout {
    fn manifest(&self, platform: &Platform) -> Result<Fetched, ErrorKind> {
        let index_path = self.path.join("index.json");
        let file = File::open(&index_path).map_err(|e| io_kind("opening", &index_path, e))?;
        let bytes = read_limited(file, &index_path.display().to_string())?;
        let index: Index = serde_json::from_slice(&bytes).map_err(|e| ErrorKind::BadDocument {
            what: index_path.display().to_string(),
            why: e.to_string(),
        })?;
        let name_of = |d: &Descriptor| {
            d.annotations
                .as_ref()
                .and_then(|a| a.get(REF_NAME))
                .cloned()
        };
        let tags: Vec<String> = index.manifests.iter().filter_map(name_of).collect();
        let entry = match &self.tag {
            Some(tag) => index
                .manifests
                .iter()
                .find(|d| name_of(d).as_deref() == Some(tag.as_str())),
            None if index.manifests.len() == 1 => index.manifests.first(),
            None => None,
        };
        let Some(entry) = entry else {
            let why = match &self.tag {
                Some(tag) => format!("no manifest tagged {tag:?}"),
                None => format!(
                    "{} manifests and no tag was given (write oci:PATH:TAG)",
                    index.manifests.len()
                ),
            };
            return Err(ErrorKind::Source {
                path: self.path.clone(),
                why: format!(
                    "{why}; its tags: {}",
                    if tags.is_empty() {
                        "none".into()
                    } else {
                        tags.join(", ")
                    }
                ),
            });
        };
        let fetched = self.read_blob(entry)?;
        super::verify(&fetched.bytes, &entry.digest, "manifest")?;
        pick(fetched, platform, &|d| self.read_blob(d))
    }

    fn open_blob(&self, descriptor: &Descriptor) -> Result<Box<dyn Read + Send + '_>, ErrorKind> {
        let path = self.blob_path(&descriptor.digest);
        let file = File::open(&path).map_err(|e| io_kind("opening the blob", &path, e))?;
        Ok(Box::new(file))
    }

    fn origin(&self) -> String {
        self.path.display().to_string()
    }
}
