//! Errors of the image library. Each names the image reference, what was being done, to which
//! registry, blob, layer entry or path, and why; [`ImageError::hint`] says what to try.

use std::io;
use std::path::PathBuf;

use super::digest::Digest;

/// An image operation that failed, for the reference `reference` (as the store keys it).
#[derive(Debug, thiserror::Error)]
#[error("image {reference}: {kind}")]
pub struct ImageError {
    pub reference: String,
    pub kind: ErrorKind,
}

#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    #[error("not a valid image reference: {why}")]
    BadReference { why: String },
    #[error("{what} is not in the registry {registry} (HTTP 404)")]
    NotFound { registry: String, what: String },
    #[error("the registry {registry} denied access (HTTP {status}){}", if *.sent_credentials { ", with the credentials of the auth file" } else { ", without credentials" })]
    Denied {
        registry: String,
        status: u16,
        sent_credentials: bool,
        /// The auth files that were read, in order.
        auth_files: Vec<PathBuf>,
    },
    #[error("cannot reach the registry at {host}: {source}")]
    Unreachable { host: String, source: io::Error },
    #[error("the TLS connection to {host} failed: {why}")]
    Tls { host: String, why: String },
    #[error("{url}: the registry answered HTTP {status}{}", if .detail.is_empty() { String::new() } else { format!(": {}", .detail) })]
    Http {
        url: String,
        status: u16,
        detail: String,
    },
    #[error("{what} {blob}: digest mismatch: expected {expected}, got {got}")]
    DigestMismatch {
        what: &'static str,
        blob: String,
        expected: Digest,
        got: Digest,
    },
    #[error("{what} {digest}: expected {expected} bytes, got {got}")]
    SizeMismatch {
        what: &'static str,
        digest: Digest,
        expected: u64,
        got: u64,
    },
    #[error("unsupported media type {media_type:?} for {what}")]
    UnsupportedMediaType {
        media_type: String,
        what: &'static str,
    },
    #[error("no image for platform {wanted}; the index offers: {}", .offered.join(", "))]
    NoPlatform {
        wanted: String,
        offered: Vec<String>,
    },
    #[error("{what}: {why}")]
    BadDocument { what: String, why: String },
    #[error("layer {layer}: entry {entry:?}: {why}")]
    BadEntry {
        layer: Digest,
        entry: String,
        why: String,
    },
    #[error("layer {layer}: entry {entry:?}: {action}: {source}")]
    Unpack {
        layer: Digest,
        entry: String,
        action: &'static str,
        source: io::Error,
    },
    #[error("disk full while {action} {}", .path.display())]
    DiskFull { action: String, path: PathBuf },
    #[error("{action} {}: {source}", .path.display())]
    Io {
        action: String,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{}: {why}", .path.display())]
    Source { path: PathBuf, why: String },
    #[error("not in the store {}", .store.display())]
    NotInStore { store: PathBuf },
}

impl ImageError {
    pub fn new(reference: impl ToString, kind: ErrorKind) -> Self {
        ImageError {
            reference: reference.to_string(),
            kind,
        }
    }

    /// What to try.
    pub fn hint(&self) -> String {
        match &self.kind {
            ErrorKind::BadReference { .. } => "write NAME[:TAG][@sha256:DIGEST] (e.g. `alpine:3.20`, `quay.io/org/app:v1`), `oci:PATH[:TAG]` or `docker-archive:PATH`".into(),
            ErrorKind::NotFound { .. } => "check the spelling of the repository and the tag; a private repository may also answer 404 without credentials".into(),
            ErrorKind::Denied { auth_files, registry, .. } => {
                let read = if auth_files.is_empty() {
                    "no auth file exists".to_string()
                } else {
                    format!("read: {}", auth_files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))
                };
                format!("log in to {registry} (`podman login {registry}` or `docker login {registry}`) or set REGISTRY_AUTH_FILE; credentials are looked up in $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json and ~/.docker/config.json ({read})")
            }
            ErrorKind::Unreachable { .. } => "check the host name and port, the network, and that the registry runs; a registry without TLS is used only on localhost or when listed with --insecure-registry".into(),
            ErrorKind::Tls { .. } => "the registry's certificate must be signed by a CA of the system's roots (/etc/ssl/certs: add yours and run update-ca-certificates, or point SSL_CERT_FILE at a bundle); a registry on another host without TLS needs --insecure-registry HOST".into(),
            ErrorKind::Http { .. } => "the registry refused the request; try again later, or check its logs".into(),
            ErrorKind::DigestMismatch { .. } | ErrorKind::SizeMismatch { .. } => "the source sent other bytes than its manifest names: a damaged or tampered blob; nothing of it was kept, pull again or repair the source".into(),
            ErrorKind::UnsupportedMediaType { .. } => "the launcher reads OCI and Docker schema 2 images with tar, gzip or zstd layers; convert others with `skopeo copy`".into(),
            ErrorKind::NoPlatform { .. } => "pick one of the offered platforms with --platform (the container must be able to run it)".into(),
            ErrorKind::BadDocument { .. } | ErrorKind::Source { .. } => "the image source is damaged or not an image; recreate it (e.g. with `skopeo copy`)".into(),
            ErrorKind::BadEntry { .. } => "the layer tries to write outside its folder or is malformed: the image was refused; rebuild it without that entry".into(),
            ErrorKind::Unpack { source, .. } | ErrorKind::Io { source, .. } => match source.raw_os_error() {
                Some(libc::EACCES) | Some(libc::EPERM) => "the store must be writable by you: pass --store DIR (or LAUNCHER_STORE_DIR) for a store of your own".into(),
                _ => "check the store folder (--store, LAUNCHER_STORE_DIR) and its file system".into(),
            },
            ErrorKind::DiskFull { .. } => "free space on the store's file system, or pass --store DIR on another one; `launcher prune` removes layers no image uses. Nothing half-written was kept".into(),
            ErrorKind::NotInStore { .. } => "`launcher images` lists the stored images; `launcher pull REF` fetches one".into(),
        }
    }
}

/// An I/O failure of `action` on `path`; ENOSPC and EDQUOT become [`ErrorKind::DiskFull`].
pub fn io_kind(
    action: impl Into<String>,
    path: impl Into<PathBuf>,
    source: io::Error,
) -> ErrorKind {
    match source.raw_os_error() {
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => ErrorKind::DiskFull {
            action: action.into(),
            path: path.into(),
        },
        _ => ErrorKind::Io {
            action: action.into(),
            path: path.into(),
            source,
        },
    }
}

/// Whether an error means the disk is full.
pub fn is_disk_full(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::ENOSPC) | Some(libc::EDQUOT)
    )
}
