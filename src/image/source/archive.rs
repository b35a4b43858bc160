//! A docker archive: the tarball `docker save`, `podman save` and `skopeo copy ...
//! docker-archive:` write (`manifest.json`, a config file and one tar per layer). It has no
//! manifest of the registry kind, so one is made from its parts (Docker schema 2, layers as
//! they are stored); its digest is then the image's id in the store, the same for the same
//! archive every time.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Deserialize;

use super::{Fetched, Source};
use crate::image::config::ConfigFile;
use crate::image::digest::{Digest, HashingReader};
use crate::image::error::{ErrorKind, io_kind};
use crate::image::manifest::{DOCKER_CONFIG, DOCKER_MANIFEST, Descriptor, Manifest};
use crate::image::platform::Platform;
use crate::image::unpack::Compression;

/// A member of the tarball: where its bytes are.
#[derive(Debug, Clone, Copy)]
struct Member {
    offset: u64,
    size: u64,
}

pub struct DockerArchive {
    path: PathBuf,
    members: BTreeMap<String, Member>,
    /// Blob digest → member, filled by `manifest`.
    blobs: Mutex<BTreeMap<Digest, Member>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ArchiveImage {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

impl DockerArchive {
    /// Reads the tarball's table of contents (one pass over its headers).
    pub fn open(path: &Path) -> Result<DockerArchive, ErrorKind> {
        let damaged = |why: String| ErrorKind::Source {
            path: path.to_path_buf(),
            why,
        };
        let mut file =
            File::open(path).map_err(|e| io_kind("opening the docker archive", path, e))?;
        let mut head = [0u8; 4];
        let read = file
            .read(&mut head)
            .map_err(|e| io_kind("reading", path, e))?;
        if Compression::sniff(&head[..read]) != Compression::None {
            return Err(damaged(
                "a compressed tarball; decompress it first (gunzip / unzstd)".into(),
            ));
        }
        file.seek(SeekFrom::Start(0))
            .map_err(|e| io_kind("reading", path, e))?;
        let mut members = BTreeMap::new();
        let mut links = Vec::new();
        let mut archive = tar::Archive::new(BufReader::new(file));
        let entries = archive
            .entries()
            .map_err(|e| damaged(format!("not a tarball: {e}")))?;
        for entry in entries {
            let entry = entry.map_err(|e| damaged(format!("not a tarball: {e}")))?;
            let name = clean(&String::from_utf8_lossy(&entry.path_bytes()));
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let member = Member {
                        offset: entry.raw_file_position(),
                        size: entry.size(),
                    };
                    members.insert(name, member);
                }
                // `docker save` links a layer that two images share.
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    if let Some(target) = entry.link_name_bytes() {
                        let target = String::from_utf8_lossy(&target).into_owned();
                        let base = Path::new(&name).parent().unwrap_or(Path::new(""));
                        let resolved = match entry.header().entry_type() {
                            tar::EntryType::Symlink => clean(&base.join(&target).to_string_lossy()),
                            _ => clean(&target),
                        };
                        links.push((name, resolved));
                    }
                }
                _ => {}
            }
        }
        for (name, target) in links {
            if let Some(member) = members.get(&target).copied() {
                members.insert(name, member);
            }
        }
        Ok(DockerArchive {
            path: path.to_path_buf(),
            members,
            blobs: Mutex::new(BTreeMap::new()),
        })
    }

    fn member(&self, name: &str) -> Result<Member, ErrorKind> {
        self.members
            .get(&clean(name))
            .copied()
            .ok_or_else(|| ErrorKind::Source {
                path: self.path.clone(),
                why: format!("manifest.json names {name:?}, which the archive does not hold"),
            })
    }

    fn reader(&self, member: Member) -> Result<std::io::Take<BufReader<File>>, ErrorKind> {
        let mut file = File::open(&self.path)
            .map_err(|e| io_kind("opening the docker archive", &self.path, e))?;
        file.seek(SeekFrom::Start(member.offset))
            .map_err(|e| io_kind("reading", &self.path, e))?;
        Ok(BufReader::with_capacity(256 * 1024, file).take(member.size))
    }

    fn read_member(&self, name: &str) -> Result<Vec<u8>, ErrorKind> {
        let member = self.member(name)?;
        super::read_limited(
            self.reader(member)?,
            &format!("{} in {}", name, self.path.display()),
        )
    }
}

/// `./a//b/` → `a/b`, `a/../b` → `b`.
fn clean(name: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    parts.join("/")
}

impl Source for DockerArchive {
    fn manifest(&self, _platform: &Platform) -> Result<Fetched, ErrorKind> {
        let damaged = |why: String| ErrorKind::Source {
            path: self.path.clone(),
            why,
        };
        let bytes = self.read_member("manifest.json")?;
        let images: Vec<ArchiveImage> =
            serde_json::from_slice(&bytes).map_err(|e| damaged(format!("manifest.json: {e}")))?;
        let image = match images.as_slice() {
            [one] => one,
            [] => return Err(damaged("manifest.json lists no image".into())),
            many => {
                let tags: Vec<String> = many
                    .iter()
                    .flat_map(|i| i.repo_tags.clone().unwrap_or_default())
                    .collect();
                return Err(damaged(format!(
                    "it holds {} images ({}); save one image per archive",
                    many.len(),
                    tags.join(", ")
                )));
            }
        };
        let config_bytes = self.read_member(&image.config)?;
        let config: ConfigFile = serde_json::from_slice(&config_bytes)
            .map_err(|e| damaged(format!("{}: {e}", image.config)))?;
        if config.rootfs.diff_ids.len() != image.layers.len() {
            return Err(damaged(format!(
                "its config lists {} layers and manifest.json {}",
                config.rootfs.diff_ids.len(),
                image.layers.len()
            )));
        }
        let config_digest = Digest::of(&config_bytes);
        let mut blobs = BTreeMap::new();
        blobs.insert(config_digest.clone(), self.member(&image.config)?);
        let mut layers = Vec::new();
        for (name, diff_id) in image.layers.iter().zip(&config.rootfs.diff_ids) {
            let member = self.member(name)?;
            let mut reader = self.reader(member)?;
            let compressed = Compression::sniff(
                reader
                    .fill_buf()
                    .map_err(|e| io_kind("reading", &self.path, e))?,
            );
            // An uncompressed layer's digest is its diff_id (checked again as it is copied);
            // a compressed one is hashed here.
            let (digest, media_type) = match compressed {
                Compression::None => (
                    diff_id.clone(),
                    "application/vnd.docker.image.rootfs.diff.tar",
                ),
                other => {
                    let (digest, _) = HashingReader::new(reader)
                        .finish()
                        .map_err(|e| io_kind("reading", &self.path, e))?;
                    let media_type = match other {
                        Compression::Zstd => "application/vnd.docker.image.rootfs.diff.tar.zstd",
                        _ => "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    };
                    (digest, media_type)
                }
            };
            blobs.insert(digest.clone(), member);
            layers.push(Descriptor {
                media_type: media_type.into(),
                digest,
                size: member.size,
                platform: None,
                annotations: None,
            });
        }
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(DOCKER_MANIFEST.into()),
            config: Descriptor {
                media_type: DOCKER_CONFIG.into(),
                digest: config_digest,
                size: config_bytes.len() as u64,
                platform: None,
                annotations: None,
            },
            layers,
        };
        let bytes = serde_json::to_vec(&manifest).map_err(|e| damaged(e.to_string()))?;
        if let Ok(mut known) = self.blobs.lock() {
            *known = blobs;
        }
        Ok(Fetched {
            digest: Digest::of(&bytes),
            bytes,
            media_type: DOCKER_MANIFEST.into(),
        })
    }

    fn open_blob(&self, descriptor: &Descriptor) -> Result<Box<dyn Read + Send + '_>, ErrorKind> {
        let member = self
            .blobs
            .lock()
            .ok()
            .and_then(|known| known.get(&descriptor.digest).copied())
            .ok_or_else(|| ErrorKind::Source {
                path: self.path.clone(),
                why: format!("no member with digest {}", descriptor.digest),
            })?;
        Ok(Box::new(self.reader(member)?))
    }

    fn origin(&self) -> String {
        self.path.display().to_string()
    }
}
