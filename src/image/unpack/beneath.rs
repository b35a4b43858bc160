//! Paths of tar entries, checked and opened beneath a layer folder. An entry's path must be
//! relative and free of `..`; its parent folders are opened with openat2 and
//! RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, so no symlink of the layer itself (one an earlier
//! entry made) can lead a later entry outside, and every operation that follows is relative to
//! the parent's descriptor and does not follow the last component.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags, mkdirat, openat2};

/// An entry's path split into its parent folder and its last name, both relative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryPath {
    pub parent: PathBuf,
    /// Empty for the layer's root folder itself (`./`).
    pub name: OsString,
}

impl EntryPath {
    pub fn full(&self) -> PathBuf {
        self.parent.join(&self.name)
    }
}

/// Checks a path from a tar header: relative, no `..`; `.` parts and a trailing `/` dropped.
/// `/` alone is the layer's root folder, as `./` is (umoci writes it so); any other absolute
/// path is refused.
pub fn check(raw: &[u8]) -> Result<EntryPath, String> {
    let path = Path::new(OsStr::from_bytes(raw));
    let mut parts: Vec<&OsStr> = Vec::new();
    let mut absolute = false;
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err("a `..` component leads outside the layer".into()),
            Component::RootDir | Component::Prefix(_) => absolute = true,
        }
    }
    if absolute && !parts.is_empty() {
        return Err("an absolute path; layer entries are relative to the layer".into());
    }
    let name = parts.pop().map(OsStr::to_os_string).unwrap_or_default();
    Ok(EntryPath {
        parent: parts.iter().collect(),
        name,
    })
}

fn resolve_flags() -> ResolveFlags {
    ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS
}

/// Opens `path` (relative) beneath `root` as a folder, following no symlink.
pub fn open_dir(root: BorrowedFd<'_>, path: &Path) -> io::Result<OwnedFd> {
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    openat2(
        root,
        path,
        // RESOLVE_NO_SYMLINKS refuses a symlink at the last component too (ELOOP).
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        resolve_flags(),
    )
    .map_err(io::Error::from)
}

/// The layer folder and the last parent folder opened in it (entries of one folder come in a
/// row, so most entries reuse it).
pub struct Beneath {
    root: OwnedFd,
    cached: Option<(PathBuf, OwnedFd)>,
}

/// Why a parent folder could not be had.
pub enum ParentError {
    /// A component is a symlink (ELOOP under RESOLVE_NO_SYMLINKS) or not a folder.
    NotAFolder(String),
    Io(io::Error),
}

impl Beneath {
    pub fn new(root: OwnedFd) -> Self {
        Beneath { root, cached: None }
    }

    pub fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    /// Opens the folder `parent`, making missing folders (mode 0755; an entry of their own
    /// later sets their metadata).
    pub fn parent(&mut self, parent: &Path) -> Result<BorrowedFd<'_>, ParentError> {
        if parent.as_os_str().is_empty() {
            return Ok(self.root.as_fd());
        }
        if self.cached.as_ref().is_none_or(|(path, _)| path != parent) {
            let fd = match open_dir(self.root.as_fd(), parent) {
                Ok(fd) => fd,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => self.make_dirs(parent)?,
                Err(e) => return Err(classify(e, parent)),
            };
            self.cached = Some((parent.to_path_buf(), fd));
        }
        match &self.cached {
            Some((_, fd)) => Ok(fd.as_fd()),
            None => Err(ParentError::Io(io::Error::from(io::ErrorKind::NotFound))),
        }
    }

    /// Forgets the cached folder when `path` is it or one of its parents: an entry at `path`
    /// may replace it (a symlink where a folder was), and a stale descriptor would write into
    /// the removed folder instead of refusing the entry.
    pub fn invalidate(&mut self, path: &Path) {
        if self
            .cached
            .as_ref()
            .is_some_and(|(cached, _)| cached.starts_with(path))
        {
            self.cached = None;
        }
    }

    fn make_dirs(&self, parent: &Path) -> Result<OwnedFd, ParentError> {
        let mut current = open_dir(self.root.as_fd(), Path::new("")).map_err(ParentError::Io)?;
        let mut walked = PathBuf::new();
        for part in parent.iter() {
            walked.push(part);
            match mkdirat(&current, part, Mode::from_raw_mode(0o755)) {
                Ok(()) => {}
                Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(ParentError::Io(e.into())),
            }
            current =
                open_dir(current.as_fd(), Path::new(part)).map_err(|e| classify(e, &walked))?;
        }
        Ok(current)
    }
}

fn classify(error: io::Error, path: &Path) -> ParentError {
    match error.raw_os_error() {
        Some(libc::ELOOP) => ParentError::NotAFolder(format!(
            "its parent {} is a symlink (or passes through one): entries are never written through symlinks",
            path.display()
        )),
        Some(libc::ENOTDIR) => {
            ParentError::NotAFolder(format!("its parent {} is not a folder", path.display()))
        }
        Some(libc::EXDEV) => ParentError::NotAFolder(format!(
            "its parent {} leads outside the layer",
            path.display()
        )),
        _ => ParentError::Io(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_paths_are_relative_and_stay_inside() {
        let ok = check(b"./usr/bin/sh").unwrap();
        assert_eq!(ok.parent, PathBuf::from("usr/bin"));
        assert_eq!(ok.name, "sh");
        assert_eq!(check(b"etc/").unwrap().name, "etc");
        assert_eq!(check(b"./").unwrap().name, "");
        assert!(check(b"../etc/passwd").unwrap_err().contains(".."));
        assert!(check(b"a/../../b").unwrap_err().contains(".."));
        assert!(check(b"/etc/passwd").unwrap_err().contains("absolute"));
    }

    #[test]
    fn a_symlinked_parent_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("link")).unwrap();
        let root: OwnedFd = std::fs::File::open(dir.path()).unwrap().into();
        let mut beneath = Beneath::new(root);
        match beneath.parent(Path::new("link")) {
            Err(ParentError::NotAFolder(why)) => assert!(why.contains("symlink"), "{why}"),
            _ => panic!("a symlinked parent was opened"),
        }
        assert!(beneath.parent(Path::new("new/deep")).is_ok());
        assert!(dir.path().join("new/deep").is_dir());
    }
}
