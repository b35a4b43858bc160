//! The special entries of a layer: device nodes and FIFOs (skipped rootless, with a note),
//! and whiteouts, written in the form the store's overlay reads (see [`WhiteoutForm`]).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{
    AtFlags, FileType, Gid, Mode, OFlags, Uid, XattrFlags, chmodat, chownat, fsetxattr, makedev,
    mknodat, openat, utimensat,
};

use super::beneath::EntryPath;
use super::entry::{Unpacker, times};
use super::meta::Meta;
use crate::image::error::ErrorKind;
use crate::image::store::WhiteoutForm;

impl Unpacker {
    pub(super) fn node(
        &mut self,
        path: &EntryPath,
        kind: tar::EntryType,
        dev: rustix::fs::Dev,
        meta: &Meta,
        shown: &str,
    ) -> Result<(), ErrorKind> {
        let file_type = match kind {
            tar::EntryType::Char => FileType::CharacterDevice,
            tar::EntryType::Block => FileType::BlockDevice,
            _ => FileType::Fifo,
        };
        if self.ctx.rootless && file_type != FileType::Fifo {
            self.notes.skipped_device(shown);
            return Ok(());
        }
        let parent = self
            .beneath
            .parent(&path.parent)
            .map_err(|e| self.ctx.parent_error(shown, e))?;
        let mode = Mode::from_raw_mode(meta.mode);
        match mknodat(parent, &path.name, file_type, mode, dev) {
            Err(rustix::io::Errno::EXIST) => {
                Self::clear(&self.ctx, parent, &path.name, shown)?;
                mknodat(parent, &path.name, file_type, mode, dev)
            }
            other => other,
        }
        .map_err(|e| self.ctx.fail(shown, "making the node", e))?;
        let parent = self
            .beneath
            .parent(&path.parent)
            .map_err(|e| self.ctx.parent_error(shown, e))?;
        if !self.ctx.rootless {
            let (uid, gid) = (Some(Uid::from_raw(meta.uid)), Some(Gid::from_raw(meta.gid)));
            chownat(parent, &path.name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| self.ctx.fail(shown, "setting the owner", e))?;
        }
        // Just made by mknodat in a folder only this unpacker writes: not a symlink.
        chmodat(parent, &path.name, mode, AtFlags::empty())
            .map_err(|e| self.ctx.fail(shown, "setting the mode", e))?;
        utimensat(
            parent,
            &path.name,
            &times(meta.mtime),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| self.ctx.fail(shown, "setting the mtime", e))?;
        self.notes.files += 1;
        Ok(())
    }

    /// `.wh.NAME` hides NAME of the layers below; `.wh..wh..opq` hides the whole folder below.
    pub(super) fn whiteout(
        &mut self,
        path: &EntryPath,
        target: &[u8],
        shown: &str,
    ) -> Result<(), ErrorKind> {
        let prefix = self.ctx.whiteouts.prefix();
        let parent = self
            .beneath
            .parent(&path.parent)
            .map_err(|e| self.ctx.parent_error(shown, e))?;
        if target == b".wh..opq" {
            fsetxattr(parent, format!("{prefix}opaque"), b"y", XattrFlags::empty())
                .map_err(|e| self.ctx.fail(shown, "marking the folder opaque", e))?;
            self.opaque.insert(path.parent.clone());
            return Ok(());
        }
        if target.is_empty() || target == b"." || target == b".." || target.contains(&b'/') {
            return Err(self
                .ctx
                .bad(shown, "a whiteout without a valid name to hide"));
        }
        let name = OsStr::from_bytes(target);
        match self.ctx.whiteouts {
            WhiteoutForm::Classic => {
                let make = || {
                    mknodat(
                        parent,
                        name,
                        FileType::CharacterDevice,
                        Mode::empty(),
                        makedev(0, 0),
                    )
                };
                match make() {
                    Err(rustix::io::Errno::EXIST) => {
                        Self::clear(&self.ctx, parent, name, shown)?;
                        make()
                    }
                    other => other,
                }
                .map_err(|e| {
                    self.ctx
                        .fail(shown, "making the whiteout (a 0:0 character device)", e)
                })?;
            }
            WhiteoutForm::UserXattr => {
                let flags = OFlags::CREATE
                    | OFlags::EXCL
                    | OFlags::WRONLY
                    | OFlags::NOFOLLOW
                    | OFlags::CLOEXEC;
                // Writable by its owner: setting a user. xattr needs write permission.
                let mode = Mode::from_raw_mode(0o600);
                let fd = match openat(parent, name, flags, mode) {
                    Err(rustix::io::Errno::EXIST) => {
                        Self::clear(&self.ctx, parent, name, shown)?;
                        openat(parent, name, flags, mode)
                    }
                    other => other,
                }
                .map_err(|e| self.ctx.fail(shown, "making the whiteout file", e))?;
                fsetxattr(&fd, format!("{prefix}whiteout"), b"y", XattrFlags::empty())
                    .map_err(|e| self.ctx.fail(shown, "marking the whiteout file", e))?;
                // The kernel looks for xattr whiteouts only in folders marked `x`; an opaque
                // folder (`y`) hides everything below anyway.
                if !self.opaque.contains(&path.parent)
                    && self.xwhiteouts.insert(path.parent.clone())
                {
                    fsetxattr(parent, format!("{prefix}opaque"), b"x", XattrFlags::empty())
                        .map_err(|e| {
                            self.ctx
                                .fail(shown, "marking the folder as holding whiteouts", e)
                        })?;
                }
            }
        }
        self.notes.whiteouts += 1;
        Ok(())
    }
}
