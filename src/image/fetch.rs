//! Getting one blob or one layer into the store, once, whoever else is trying at the same
//! time: take its lock, look again, then write into tmp/ under a name of its digest (removing
//! what a killed pull left there), verify, sync, rename into place.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;

use super::digest::{Digest, Hasher, HashingWriter};
use super::error::{ErrorKind, io_kind};
use super::manifest::Descriptor;
use super::progress::Bar;
use super::source::Source;
use super::store::{Store, WhiteoutForm, remove_tree, sync_dir};
use super::unpack::{Notes, UnpackOptions, unpack_layer};

/// Stores `bytes` (already verified against `digest`) as a blob.
pub fn store_bytes(store: &Store, digest: &Digest, bytes: &[u8]) -> Result<(), ErrorKind> {
    let path = store.blob_path(digest);
    if path.exists() {
        return Ok(());
    }
    super::store::write_atomic(&path, bytes)
}

/// The blob of `descriptor` in the store, fetched from `source` if it is not there yet.
pub fn ensure_blob(
    store: &Store,
    source: &dyn Source,
    descriptor: &Descriptor,
    what: &'static str,
    bar: &Bar,
) -> Result<PathBuf, ErrorKind> {
    let path = store.blob_path(&descriptor.digest);
    if path.exists() {
        bar.advance(descriptor.size);
        return Ok(path);
    }
    let hex = descriptor.digest.hex();
    let _held = store.lock_item(&format!("blob-{hex}"))?;
    if path.exists() {
        bar.advance(descriptor.size);
        return Ok(path);
    }
    let tmp = store.tmp_path(&format!("blob-{hex}"));
    remove_tree(&tmp)?;
    let result = download(source, descriptor, &tmp, what, bar);
    if let Err(error) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(error);
    }
    std::fs::rename(&tmp, &path).map_err(|e| io_kind("renaming into place", &path, e))?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(path)
}

fn download(
    source: &dyn Source,
    descriptor: &Descriptor,
    tmp: &PathBuf,
    what: &'static str,
    bar: &Bar,
) -> Result<(), ErrorKind> {
    let file = File::create(tmp).map_err(|e| io_kind("creating", tmp, e))?;
    let mut out = HashingWriter {
        inner: BufWriter::with_capacity(256 * 1024, file),
        hasher: Hasher::default(),
    };
    let mut reader = source.open_blob(descriptor)?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let read = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(io_kind(
                    format!("downloading {what} {} from", descriptor.digest),
                    source.origin(),
                    e,
                ));
            }
        };
        out.write_all(&buf[..read])
            .map_err(|e| io_kind("writing", tmp, e))?;
        bar.advance(read as u64);
        // A source that sends more than the descriptor says is cut off here.
        if out.hasher.bytes() > descriptor.size {
            break;
        }
    }
    let HashingWriter { inner, hasher } = out;
    let file = inner
        .into_inner()
        .map_err(|e| io_kind("writing", tmp, e.into_error()))?;
    if hasher.bytes() != descriptor.size {
        return Err(ErrorKind::SizeMismatch {
            what,
            digest: descriptor.digest.clone(),
            expected: descriptor.size,
            got: hasher.bytes(),
        });
    }
    let got = hasher.finish();
    if got != descriptor.digest {
        return Err(ErrorKind::DigestMismatch {
            what,
            blob: descriptor.digest.to_string(),
            expected: descriptor.digest.clone(),
            got,
        });
    }
    file.sync_all().map_err(|e| io_kind("syncing", tmp, e))
}

/// Makes sure the layer `diff_id` is unpacked in the store; returns the unpack's notes when
/// this call unpacked it (`None`: it was there, or another pull did it meanwhile).
pub fn ensure_layer(
    store: &Store,
    source: &dyn Source,
    descriptor: &Descriptor,
    diff_id: &Digest,
    whiteouts: WhiteoutForm,
    bar: &Bar,
) -> Result<Option<Notes>, ErrorKind> {
    if store.has_layer(diff_id) {
        bar.done("already stored");
        return Ok(None);
    }
    let hex = diff_id.hex();
    let _held = store.lock_item(&format!("layer-{hex}"))?;
    if store.has_layer(diff_id) {
        bar.done("stored by another pull");
        return Ok(None);
    }
    let blob = ensure_blob(store, source, descriptor, "layer blob", bar)?;
    bar.message("unpacking");
    let tmp = store.tmp_path(&format!("layer-{hex}"));
    remove_tree(&tmp)?;
    std::fs::create_dir(&tmp).map_err(|e| io_kind("creating", &tmp, e))?;
    let options = UnpackOptions {
        whiteouts,
        rootless: !rustix::process::geteuid().is_root(),
    };
    let notes = match unpack_layer(&blob, &descriptor.digest, diff_id, &tmp, options) {
        Ok(notes) => notes,
        Err(error) => {
            // Nothing half-written stays: the temporary folder goes (if even that fails,
            // the next pull of this layer or `prune` removes it).
            let _ = remove_tree(&tmp);
            return Err(error);
        }
    };
    let target = store.layer_path(diff_id);
    std::fs::rename(&tmp, &target).map_err(|e| io_kind("renaming into place", &target, e))?;
    if let Some(dir) = target.parent() {
        sync_dir(dir)?;
    }
    bar.done("unpacked");
    Ok(Some(notes))
}
