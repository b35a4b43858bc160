//! The documents of the OCI image spec and Docker's schema 2 that a pull reads: image index
//! (manifest list), image manifest and descriptors, with the media types we accept.

use serde::{Deserialize, Serialize};

use super::digest::Digest;
use super::platform::Platform;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// The `Accept` header of a manifest request: every type we can read.
pub const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// Layer media types, and how their bytes are compressed.
const LAYER_TYPES: &[&str] = &[
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.diff.tar.zstd",
    // Docker's own tools write this for uncompressed layers of `docker save`.
    "application/vnd.docker.image.rootfs.diff.tar",
    // Non-distributable ("foreign") layers are the same bytes, served from elsewhere.
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
];

pub fn is_layer_type(media_type: &str) -> bool {
    LAYER_TYPES.contains(&media_type)
}

pub fn is_config_type(media_type: &str) -> bool {
    media_type == OCI_CONFIG || media_type == DOCKER_CONFIG
}

/// What a descriptor or a served document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Index,
    Manifest,
}

/// Index or manifest, from a media type (a `Content-Type`, or the document's `mediaType`).
pub fn kind_of(media_type: &str) -> Option<Kind> {
    match media_type {
        OCI_INDEX | DOCKER_LIST => Some(Kind::Index),
        OCI_MANIFEST | DOCKER_MANIFEST => Some(Kind::Manifest),
        _ => None,
    }
}

/// A reference to content: its type, digest and size.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<std::collections::BTreeMap<String, String>>,
}

/// An image index or a Docker manifest list.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    #[serde(default)]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
}

/// An image manifest (OCI or Docker schema 2).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// A document's own `mediaType`, when it has one, and whether it has `manifests` (an index)
/// or `layers` (a manifest): OCI documents may leave `mediaType` out.
pub fn sniff(bytes: &[u8]) -> Option<Kind> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
        manifests: Option<serde::de::IgnoredAny>,
        layers: Option<serde::de::IgnoredAny>,
    }
    let probe: Probe = serde_json::from_slice(bytes).ok()?;
    if let Some(kind) = probe.media_type.as_deref().and_then(kind_of) {
        return Some(kind);
    }
    match (probe.manifests.is_some(), probe.layers.is_some()) {
        (true, false) => Some(Kind::Index),
        (false, true) => Some(Kind::Manifest),
        _ => None,
    }
}

impl Index {
    /// The entry for `want`, or the list of platforms the index offers.
    pub fn select(&self, want: &Platform) -> Result<&Descriptor, Vec<String>> {
        self.manifests
            .iter()
            .find(|d| d.platform.as_ref().is_some_and(|p| want.matches(p)))
            .ok_or_else(|| {
                self.manifests
                    .iter()
                    .map(|d| match &d.platform {
                        Some(p) => p.to_string(),
                        None => format!("(no platform: {})", d.digest.short()),
                    })
                    .collect()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_tells_an_index_from_a_manifest_without_a_media_type() {
        assert_eq!(
            sniff(br#"{"schemaVersion":2,"manifests":[]}"#),
            Some(Kind::Index)
        );
        assert_eq!(
            sniff(br#"{"schemaVersion":2,"config":{},"layers":[]}"#),
            Some(Kind::Manifest)
        );
        assert_eq!(
            sniff(br#"{"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json"}"#),
            Some(Kind::Index)
        );
        assert_eq!(sniff(b"not json"), None);
    }

    #[test]
    fn select_lists_what_the_index_offers() {
        let d = |p: &str| Descriptor {
            media_type: OCI_MANIFEST.into(),
            digest: Digest::of(p.as_bytes()),
            size: 1,
            platform: Some(Platform::parse(p).unwrap()),
            annotations: None,
        };
        let index = Index {
            media_type: None,
            manifests: vec![d("linux/arm64/v8"), d("linux/s390x")],
        };
        let want = Platform::parse("linux/arm64").unwrap();
        assert_eq!(
            index.select(&want).unwrap().digest,
            Digest::of(b"linux/arm64/v8")
        );
        let offered = index
            .select(&Platform::parse("linux/riscv64").unwrap())
            .unwrap_err();
        assert_eq!(offered, vec!["linux/arm64/v8", "linux/s390x"]);
    }
}
