//! Where images come from: a registry, an OCI image layout folder, or a docker archive. Each
//! source gives the manifest for a platform (picking it from an index when there is one) and
//! opens blobs by digest; the pull verifies every byte against the digests.

mod archive;
mod layout;

use std::io::Read;

pub use archive::DockerArchive;
pub use layout::OciLayout;

use super::digest::Digest;
use super::error::ErrorKind;
use super::manifest::{self, Descriptor, Index, Kind};
use super::platform::Platform;

/// A manifest as fetched: its bytes (what its digest is computed over), digest and type.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub digest: Digest,
    pub media_type: String,
}

/// A source of one image.
pub trait Source: Sync {
    /// The image manifest for `platform`, with an index resolved and its digest verified.
    fn manifest(&self, platform: &Platform) -> Result<Fetched, ErrorKind>;
    /// Opens the blob `descriptor` names, for streaming. The caller verifies the digest.
    fn open_blob(&self, descriptor: &Descriptor) -> Result<Box<dyn Read + Send + '_>, ErrorKind>;
    /// Where blobs come from, for error messages (`http://127.0.0.1:5000`, a path).
    fn origin(&self) -> String;
}

/// Largest manifest or index read into memory (registries cap them at 4 MiB).
pub const MANIFEST_LIMIT: u64 = 4 * 1024 * 1024;

/// Given the document `fetched` names (a manifest or an index), returns the manifest for
/// `platform`, fetching the chosen index entry with `by_digest` and verifying it.
pub fn pick(
    fetched: Fetched,
    platform: &Platform,
    by_digest: &dyn Fn(&Descriptor) -> Result<Fetched, ErrorKind>,
) -> Result<Fetched, ErrorKind> {
    let kind = manifest::kind_of(&fetched.media_type).or_else(|| manifest::sniff(&fetched.bytes));
    match kind {
        Some(Kind::Manifest) => Ok(fetched),
        Some(Kind::Index) => {
            let index: Index =
                serde_json::from_slice(&fetched.bytes).map_err(|e| ErrorKind::BadDocument {
                    what: format!("image index {}", fetched.digest),
                    why: e.to_string(),
                })?;
            let chosen = index
                .select(platform)
                .map_err(|offered| ErrorKind::NoPlatform {
                    wanted: platform.to_string(),
                    offered,
                })?;
            let inner = by_digest(chosen)?;
            verify(&inner.bytes, &chosen.digest, "manifest")?;
            match manifest::kind_of(&inner.media_type).or_else(|| manifest::sniff(&inner.bytes)) {
                Some(Kind::Manifest) => Ok(inner),
                Some(Kind::Index) => Err(ErrorKind::UnsupportedMediaType {
                    media_type: inner.media_type,
                    what: "an index entry (an index inside an index)",
                }),
                None => Err(ErrorKind::UnsupportedMediaType {
                    media_type: inner.media_type,
                    what: "the manifest",
                }),
            }
        }
        None => Err(ErrorKind::UnsupportedMediaType {
            media_type: fetched.media_type,
            what: "the manifest (expected an OCI or Docker schema 2 manifest or index)",
        }),
    }
}

/// Checks that `bytes` have `expected` as digest.
pub fn verify(bytes: &[u8], expected: &Digest, what: &'static str) -> Result<(), ErrorKind> {
    let got = Digest::of(bytes);
    if got != *expected {
        return Err(ErrorKind::DigestMismatch {
            what,
            blob: expected.to_string(),
            expected: expected.clone(),
            got,
        });
    }
    Ok(())
}

/// Reads at most [`MANIFEST_LIMIT`] bytes.
pub fn read_limited(reader: impl Read, what: &str) -> Result<Vec<u8>, ErrorKind> {
    let mut bytes = Vec::new();
    reader
        .take(MANIFEST_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ErrorKind::BadDocument {
            what: what.to_string(),
            why: format!("cannot read it: {e}"),
        })?;
    if bytes.len() as u64 > MANIFEST_LIMIT {
        return Err(ErrorKind::BadDocument {
            what: what.to_string(),
            why: format!("larger than {MANIFEST_LIMIT} bytes"),
        });
    }
    Ok(bytes)
}
