//! The metadata of a tar entry that the unpacker keeps: mode (with setuid, setgid, sticky),
//! owner, mtime and xattrs (PAX `SCHILY.xattr.NAME` records, file capabilities included).

use std::ffi::OsString;
use std::io::{self, Read};
use std::os::unix::ffi::OsStringExt;

/// What an entry says about itself.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    /// Permission bits with setuid, setgid and sticky (no file type).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub xattrs: Vec<(OsString, Vec<u8>)>,
}

impl Meta {
    /// Reads the header and the entry's PAX records (which win: they carry ids and times too
    /// large for the header).
    pub fn read<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Meta> {
        let header = entry.header();
        let mut meta = Meta {
            mode: header.mode().unwrap_or(0o644) & 0o7777,
            uid: header.uid().unwrap_or(0) as u32,
            gid: header.gid().unwrap_or(0) as u32,
            mtime: header.mtime().unwrap_or(0) as i64,
            xattrs: Vec::new(),
        };
        if let Some(extensions) = entry.pax_extensions()? {
            for extension in extensions {
                let extension = extension?;
                let key = extension.key_bytes();
                let value = extension.value_bytes();
                let number = || {
                    std::str::from_utf8(value)
                        .ok()?
                        .split('.')
                        .next()?
                        .parse()
                        .ok()
                };
                match key {
                    b"uid" => meta.uid = number().unwrap_or(meta.uid as i64) as u32,
                    b"gid" => meta.gid = number().unwrap_or(meta.gid as i64) as u32,
                    b"mtime" => meta.mtime = number().unwrap_or(meta.mtime),
                    _ => {
                        if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                            meta.xattrs
                                .push((OsString::from_vec(name.to_vec()), value.to_vec()));
                        }
                    }
                }
            }
        }
        Ok(meta)
    }
}
