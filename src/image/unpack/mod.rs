//! Unpacking a layer blob (gzip, zstd or plain tar) into a layer folder, with the diff_id
//! (the uncompressed digest) verified while the stream is read: the layer is refused when it
//! differs. The folder is a temporary one; the caller renames it into place once this
//! returns, so a layer folder in the store is always whole.

mod beneath;
mod entry;
mod meta;
mod notes;
mod special;

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

pub use notes::Notes;

use crate::image::digest::{Digest, HashingReader};
use crate::image::error::{ErrorKind, io_kind};
use crate::image::store::WhiteoutForm;

/// How a layer blob is compressed, read from its first bytes (media types lie more often
/// than magic numbers do: docker-archive layers say tar and are tar).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    None,
}

impl Compression {
    pub fn sniff(head: &[u8]) -> Compression {
        match head {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            _ => Compression::None,
        }
    }
}

/// How to unpack.
#[derive(Debug, Clone, Copy)]
pub struct UnpackOptions {
    pub whiteouts: WhiteoutForm,
    /// Not root: owners, device nodes and privileged xattrs are not kept (and noted).
    pub rootless: bool,
}

/// Unpacks the blob at `blob` (layer `layer`, expected uncompressed digest `diff_id`) into
/// the empty folder `dest`, then syncs its file system.
pub fn unpack_layer(
    blob: &Path,
    layer: &Digest,
    diff_id: &Digest,
    dest: &Path,
    options: UnpackOptions,
) -> Result<Notes, ErrorKind> {
    let file = File::open(blob).map_err(|e| io_kind("opening the layer blob", blob, e))?;
    let mut input = BufReader::with_capacity(256 * 1024, file);
    let head = input
        .fill_buf()
        .map_err(|e| io_kind("reading the layer blob", blob, e))?;
    let compression = Compression::sniff(head);
    let unreadable = |e: std::io::Error| ErrorKind::BadDocument {
        what: format!("layer {layer}"),
        why: format!("cannot read it as a {compression:?} tar stream: {e}"),
    };
    let decoded: Box<dyn Read> = match compression {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::with_buffer(input).map_err(unreadable)?)
        }
        Compression::None => Box::new(input),
    };
    let root = File::open(dest).map_err(|e| io_kind("opening the layer folder", dest, e))?;
    let ctx = entry::Ctx {
        layer: layer.clone(),
        dest: dest.to_path_buf(),
        whiteouts: options.whiteouts,
        rootless: options.rootless,
    };
    let mut unpacker = entry::Unpacker::new(
        ctx,
        beneath::Beneath::new(
            root.try_clone()
                .map_err(|e| io_kind("opening the layer folder", dest, e))?
                .into(),
        ),
    );
    let mut archive = tar::Archive::new(HashingReader::new(decoded));
    for item in archive.entries().map_err(unreadable)? {
        let mut item = item.map_err(unreadable)?;
        unpacker.entry(&mut item)?;
    }
    unpacker.finish()?;
    let (got, _) = archive.into_inner().finish().map_err(unreadable)?;
    if got != *diff_id {
        return Err(ErrorKind::DigestMismatch {
            what: "layer (uncompressed)",
            blob: layer.to_string(),
            expected: diff_id.clone(),
            got,
        });
    }
    // The folder is renamed into place next: its files must be on disk before its name is.
    rustix::fs::syncfs(&root).map_err(|e| io_kind("syncing the file system of", dest, e.into()))?;
    Ok(unpacker.notes)
}
