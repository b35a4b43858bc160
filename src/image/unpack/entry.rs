//! One tar entry into the layer folder: files, folders, symlinks, hard links, device nodes
//! and whiteouts, each made relative to its parent folder's descriptor, never through a
//! symlink, with owner, mode, xattrs and mtime applied in the order that keeps them (chown
//! clears setuid bits and file capabilities, so mode and xattrs come after it).

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{
    AtFlags, FileType, Mode, OFlags, Timestamps, XattrFlags, chownat, fchmod, fchown, fsetxattr,
    futimens, linkat, lsetxattr, makedev, mkdirat, openat, statat, symlinkat, unlinkat, utimensat,
};
use rustix::fs::{Gid, Uid};

use super::beneath::{self, Beneath, EntryPath, ParentError};
use super::meta::Meta;
use super::notes::Notes;
use crate::image::digest::Digest;
use crate::image::error::{ErrorKind, is_disk_full};
use crate::image::store::WhiteoutForm;

/// What stays fixed while one layer is unpacked.
pub struct Ctx {
    pub layer: Digest,
    /// The temporary layer folder (for a disk-full error).
    pub dest: PathBuf,
    pub whiteouts: WhiteoutForm,
    /// Not root: no chown, no device nodes, only `user.` xattrs.
    pub rootless: bool,
}

impl Ctx {
    pub(super) fn bad(&self, entry: &str, why: impl Into<String>) -> ErrorKind {
        ErrorKind::BadEntry {
            layer: self.layer.clone(),
            entry: entry.to_string(),
            why: why.into(),
        }
    }

    pub(super) fn fail(
        &self,
        entry: &str,
        action: &'static str,
        error: impl Into<io::Error>,
    ) -> ErrorKind {
        let source = error.into();
        if is_disk_full(&source) {
            return ErrorKind::DiskFull {
                action: format!("unpacking {entry:?} of layer {} into", self.layer),
                path: self.dest.clone(),
            };
        }
        ErrorKind::Unpack {
            layer: self.layer.clone(),
            entry: entry.to_string(),
            action,
            source,
        }
    }

    pub(super) fn parent_error(&self, entry: &str, error: ParentError) -> ErrorKind {
        match error {
            ParentError::NotAFolder(why) => self.bad(entry, why),
            ParentError::Io(e) => self.fail(entry, "opening its parent folder", e),
        }
    }
}

/// A folder whose mode and mtime are set at the end: its entries would change its mtime, and
/// a read-only mode would keep a rootless unpacker from filling it.
struct Deferred {
    path: PathBuf,
    mode: u32,
    mtime: i64,
}

pub struct Unpacker {
    pub ctx: Ctx,
    pub(super) beneath: Beneath,
    deferred: Vec<Deferred>,
    /// Folders marked opaque (`y`), and folders marked as holding xattr whiteouts (`x`).
    pub(super) opaque: BTreeSet<PathBuf>,
    pub(super) xwhiteouts: BTreeSet<PathBuf>,
    pub notes: Notes,
    buf: Vec<u8>,
}

pub(super) fn times(mtime: i64) -> Timestamps {
    let at = rustix::fs::Timespec {
        tv_sec: mtime,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: at,
        last_modification: at,
    }
}

impl Unpacker {
    pub fn new(ctx: Ctx, beneath: Beneath) -> Self {
        Unpacker {
            ctx,
            beneath,
            deferred: Vec::new(),
            opaque: BTreeSet::new(),
            xwhiteouts: BTreeSet::new(),
            notes: Notes::default(),
            buf: vec![0; 256 * 1024],
        }
    }

    pub fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), ErrorKind> {
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let path = beneath::check(&raw).map_err(|why| self.ctx.bad(&shown, why))?;
        self.beneath.invalidate(&path.full());
        let kind = entry.header().entry_type();
        let meta =
            Meta::read(entry).map_err(|e| self.ctx.bad(&shown, format!("bad PAX records: {e}")))?;
        if let Some(target) = path.name.as_bytes().strip_prefix(b".wh.") {
            return self.whiteout(&path, target, &shown);
        }
        if path.name.is_empty() && !kind.is_dir() {
            return Err(self
                .ctx
                .bad(&shown, "the layer's root can only be a folder"));
        }
        use tar::EntryType as T;
        match kind {
            T::Regular | T::Continuous | T::GNUSparse => self.file(&path, entry, &meta, &shown),
            T::Directory => self.dir(&path, &meta, &shown),
            T::Symlink => {
                let target = entry.link_name_bytes().map(|t| t.into_owned());
                let target =
                    target.ok_or_else(|| self.ctx.bad(&shown, "a symlink without a target"))?;
                self.symlink(&path, &target, &meta, &shown)
            }
            T::Link => {
                let target = entry.link_name_bytes().map(|t| t.into_owned());
                let target =
                    target.ok_or_else(|| self.ctx.bad(&shown, "a hard link without a target"))?;
                self.hardlink(&path, &target, &shown)
            }
            T::Char | T::Block | T::Fifo => {
                let header = entry.header();
                let major = header.device_major().ok().flatten().unwrap_or(0);
                let minor = header.device_minor().ok().flatten().unwrap_or(0);
                self.node(&path, kind, makedev(major, minor), &meta, &shown)
            }
            T::XGlobalHeader => Ok(()),
            other => Err(self
                .ctx
                .bad(&shown, format!("unsupported tar entry type {other:?}"))),
        }
    }

    /// Applies the folders' modes and mtimes, deepest first.
    pub fn finish(&mut self) -> Result<(), ErrorKind> {
        for dir in self.deferred.drain(..).rev() {
            let shown = dir.path.display().to_string();
            let fd = beneath::open_dir(self.beneath.root(), &dir.path)
                .map_err(|e| self.ctx.fail(&shown, "opening the folder", e))?;
            fchmod(&fd, Mode::from_raw_mode(dir.mode))
                .map_err(|e| self.ctx.fail(&shown, "setting the mode", e))?;
            futimens(&fd, &times(dir.mtime))
                .map_err(|e| self.ctx.fail(&shown, "setting the mtime", e))?;
        }
        Ok(())
    }

    /// Removes what is at `name` so that an entry can take its place (a later entry of a tar
    /// replaces an earlier one).
    pub(super) fn clear(
        ctx: &Ctx,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        shown: &str,
    ) -> Result<(), ErrorKind> {
        let is_dir = statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)
            .map(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory)
            .unwrap_or(false);
        let flags = if is_dir {
            AtFlags::REMOVEDIR
        } else {
            AtFlags::empty()
        };
        match unlinkat(parent, name, flags) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(e) => Err(ctx.fail(shown, "replacing the earlier entry of that name", e)),
        }
    }

    /// Sets the owner of an open file or folder (rootless: notes an owner it cannot keep).
    fn own(&mut self, meta: &Meta, fd: BorrowedFd<'_>, shown: &str) -> Result<(), ErrorKind> {
        if self.ctx.rootless {
            self.notes.owner(meta.uid, meta.gid);
            return Ok(());
        }
        let (uid, gid) = (Some(Uid::from_raw(meta.uid)), Some(Gid::from_raw(meta.gid)));
        fchown(fd, uid, gid).map_err(|e| self.ctx.fail(shown, "setting the owner", e))
    }

    /// The xattrs this unpacker may set: never overlay's own (they would act as whiteouts),
    /// rootless only `user.` ones; the rest are noted.
    fn keep_xattrs<'m>(&mut self, meta: &'m Meta, shown: &str) -> Vec<&'m (OsString, Vec<u8>)> {
        let mut kept = Vec::new();
        for pair in &meta.xattrs {
            let name = pair.0.as_bytes();
            if name.starts_with(b"trusted.overlay.") || name.starts_with(b"user.overlay.") {
                self.notes
                    .skipped_xattr(shown, &pair.0, "overlay's own attributes");
            } else if self.ctx.rootless && !name.starts_with(b"user.") {
                self.notes
                    .skipped_xattr(shown, &pair.0, "only user. xattrs can be set rootless");
            } else {
                kept.push(pair);
            }
        }
        kept
    }

    fn file<R: Read>(
        &mut self,
        path: &EntryPath,
        entry: &mut tar::Entry<'_, R>,
        meta: &Meta,
        shown: &str,
    ) -> Result<(), ErrorKind> {
        let xattrs: Vec<(OsString, Vec<u8>)> =
            self.keep_xattrs(meta, shown).into_iter().cloned().collect();
        let parent = self
            .beneath
            .parent(&path.parent)
            .map_err(|e| self.ctx.parent_error(shown, e))?;
        let flags =
            OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = match openat(parent, &path.name, flags, Mode::from_raw_mode(0o600)) {
            Err(rustix::io::Errno::EXIST) => {
                Self::clear(&self.ctx, parent, &path.name, shown)?;
                openat(parent, &path.name, flags, Mode::from_raw_mode(0o600))
            }
            other => other,
        }
        .map_err(|e| self.ctx.fail(shown, "creating the file", e))?;
        let mut file = File::from(fd);
        loop {
            let read = match entry.read(&mut self.buf) {
                Ok(0) => break,
                Ok(read) => read,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.ctx.bad(shown, format!("cannot read its data: {e}"))),
            };
            file.write_all(&self.buf[..read])
                .map_err(|e| self.ctx.fail(shown, "writing the file", e))?;
            self.notes.bytes += read as u64;
        }
        self.own(meta, file.as_fd(), shown)?;
        fchmod(&file, Mode::from_raw_mode(meta.mode))
            .map_err(|e| self.ctx.fail(shown, "setting the mode", e))?;
        for (name, value) in &xattrs {
            fsetxattr(&file, name.as_os_str(), value, XattrFlags::empty())
                .map_err(|e| self.ctx.fail(shown, "setting an xattr", e))?;
        }
        futimens(&file, &times(meta.mtime))
            .map_err(|e| self.ctx.fail(shown, "setting the mtime", e))?;
        self.notes.files += 1;
        Ok(())
    }

    fn dir(&mut self, path: &EntryPath, meta: &Meta, shown: &str) -> Result<(), ErrorKind> {
        let xattrs: Vec<(OsString, Vec<u8>)> =
            self.keep_xattrs(meta, shown).into_iter().cloned().collect();
        let fd = if path.name.is_empty() {
            beneath::open_dir(self.beneath.root(), Path::new(""))
                .map_err(|e| self.ctx.fail(shown, "opening the layer folder", e))?
        } else {
            let parent = self
                .beneath
                .parent(&path.parent)
                .map_err(|e| self.ctx.parent_error(shown, e))?;
            match mkdirat(parent, &path.name, Mode::from_raw_mode(0o700)) {
                Ok(()) => {}
                Err(rustix::io::Errno::EXIST) => {
                    let is_dir = statat(parent, &path.name, AtFlags::SYMLINK_NOFOLLOW)
                        .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory);
                    if !is_dir {
                        Self::clear(&self.ctx, parent, &path.name, shown)?;
                        mkdirat(parent, &path.name, Mode::from_raw_mode(0o700))
                            .map_err(|e| self.ctx.fail(shown, "creating the folder", e))?;
                    }
                }
                Err(e) => return Err(self.ctx.fail(shown, "creating the folder", e)),
            }
            beneath::open_dir(parent, Path::new(&path.name))
                .map_err(|e| self.ctx.fail(shown, "opening the folder", e))?
        };
        self.own(meta, fd.as_fd(), shown)?;
        for (name, value) in &xattrs {
            fsetxattr(&fd, name.as_os_str(), value, XattrFlags::empty())
                .map_err(|e| self.ctx.fail(shown, "setting an xattr", e))?;
        }
        self.deferred.push(Deferred {
            path: path.full(),
            mode: meta.mode,
            mtime: meta.mtime,
        });
        Ok(())
    }

    fn symlink(
        &mut self,
        path: &EntryPath,
        target: &[u8],
        meta: &Meta,
        shown: &str,
    ) -> Result<(), ErrorKind> {
        let xattrs: Vec<(OsString, Vec<u8>)> =
            self.keep_xattrs(meta, shown).into_iter().cloned().collect();
        let target = OsStr::from_bytes(target);
        let parent = self
            .beneath
            .parent(&path.parent)
            .map_err(|e| self.ctx.parent_error(shown, e))?;
        match symlinkat(target, parent, &path.name) {
            Err(rustix::io::Errno::EXIST) => {
                Self::clear(&self.ctx, parent, &path.name, shown)?;
                symlinkat(target, parent, &path.name)
            }
            other => other,
        }
        .map_err(|e| self.ctx.fail(shown, "creating the symlink", e))?;
        let parent_raw = parent.as_raw_fd();
        if !self.ctx.rootless {
            let (uid, gid) = (Some(Uid::from_raw(meta.uid)), Some(Gid::from_raw(meta.gid)));
            chownat(parent, &path.name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| self.ctx.fail(shown, "setting the owner", e))?;
        }
        // A symlink cannot be opened for fsetxattr: its parent's descriptor is named through
        // /proc/self/fd and the last component is not followed (l*xattr).
        let mut at = PathBuf::from(format!("/proc/self/fd/{parent_raw}"));
        at.push(&path.name);
        for (name, value) in &xattrs {
            lsetxattr(&at, name.as_os_str(), value, XattrFlags::empty())
                .map_err(|e| self.ctx.fail(shown, "setting an xattr", e))?;
        }
        let parent = self
            .beneath
            .parent(&path.parent)
            .map_err(|e| self.ctx.parent_error(shown, e))?;
        utimensat(
            parent,
            &path.name,
            &times(meta.mtime),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| self.ctx.fail(shown, "setting the mtime", e))?;
        if self.ctx.rootless {
            self.notes.owner(meta.uid, meta.gid);
        }
        self.notes.files += 1;
        Ok(())
    }

    fn hardlink(&mut self, path: &EntryPath, target: &[u8], shown: &str) -> Result<(), ErrorKind> {
        let target_shown = String::from_utf8_lossy(target).into_owned();
        let target = beneath::check(target).map_err(|why| {
            self.ctx.bad(
                shown,
                format!("its hard link target {target_shown:?}: {why}"),
            )
        })?;
        if target.name.is_empty() {
            return Err(self.ctx.bad(shown, "a hard link to the layer's root"));
        }
        let target_parent = beneath::open_dir(self.beneath.root(), &target.parent).map_err(|e| {
            self.ctx.bad(shown, format!("its hard link target {target_shown:?} is not an earlier entry of this layer ({e})"))
        })?;
        let parent = self
            .beneath
            .parent(&path.parent)
            .map_err(|e| self.ctx.parent_error(shown, e))?;
        let link = |parent| {
            linkat(
                &target_parent,
                &target.name,
                parent,
                &path.name,
                AtFlags::empty(),
            )
        };
        match link(parent) {
            Err(rustix::io::Errno::EXIST) => {
                Self::clear(&self.ctx, parent, &path.name, shown)?;
                link(parent)
            }
            other => other,
        }
        .map_err(|e| match e {
            rustix::io::Errno::NOENT => self.ctx.bad(
                shown,
                format!(
                    "its hard link target {target_shown:?} is not an earlier entry of this layer"
                ),
            ),
            e => self.ctx.fail(shown, "making the hard link", e),
        })?;
        self.notes.files += 1;
        Ok(())
    }
}
