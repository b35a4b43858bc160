//! The merged view of an image's layers, read without mounting anything: what the overlay
//! mount of the same layers would show. Preflight uses it to find the command and its ELF or
//! `#!` interpreter in an image as it does in a folder.
//!
//! The rules are overlayfs's: the top layer that has a name wins; a whiteout hides the name in
//! the layers below it; a folder merges with the folders of that name below it until a
//! layer has an opaque folder there (itself included) or a non-folder (excluded). Symlinks are
//! followed as the container would follow them: a relative target from the link's folder, an
//! absolute one from the container's root, `..` never above the root, at most 40 links.

use std::collections::{BTreeMap, VecDeque};
use std::ffi::{OsStr, OsString};
use std::fs::Metadata;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use super::store::WhiteoutForm;

/// Links followed at most on one walk (the kernel's limit).
const MAX_LINKS: usize = 40;

/// Layer folders, lowest first, and the whiteout form they were unpacked with.
#[derive(Debug, Clone)]
pub struct LayerStack {
    layers: Vec<PathBuf>,
    form: WhiteoutForm,
}

/// A name in the merged view.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The file on the host that the name shows (in the topmost layer that has it).
    pub host_path: PathBuf,
    /// Its layer, 0 the lowest.
    pub layer: usize,
    /// Its own metadata (not following a symlink), as the overlay shows it.
    pub metadata: Metadata,
    /// For a folder: the layers whose folder of that name merges into it, top first.
    merged: Vec<usize>,
    /// Where it is in the container.
    pub container_path: PathBuf,
}

impl LayerStack {
    /// `layers` lowest first (as [`super::Store::layer_paths`] gives them).
    pub fn new(layers: Vec<PathBuf>, form: WhiteoutForm) -> LayerStack {
        LayerStack { layers, form }
    }

    /// The entry `path` names, not following its last component (lstat); folders and symlinks
    /// on the way are followed. `Ok(None)` when the merged view has no such name.
    pub fn lookup(&self, path: impl AsRef<Path>) -> io::Result<Option<Entry>> {
        self.walk(path.as_ref(), false)
    }

    /// The entry `path` names after following every symlink, the last one too (stat).
    pub fn resolve(&self, path: impl AsRef<Path>) -> io::Result<Option<Entry>> {
        self.walk(path.as_ref(), true)
    }

    /// The target of the symlink at `path`.
    pub fn read_link(&self, path: impl AsRef<Path>) -> io::Result<PathBuf> {
        let entry = self
            .lookup(path.as_ref())?
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
        std::fs::read_link(&entry.host_path)
    }

    /// The names in the folder at `path` (following symlinks), sorted, as the overlay lists
    /// them: whiteouts and hidden names left out.
    pub fn read_dir(&self, path: impl AsRef<Path>) -> io::Result<Vec<(OsString, Entry)>> {
        let dir = self
            .resolve(path.as_ref())?
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
        if !dir.metadata.is_dir() {
            return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
        }
        let mut names = BTreeMap::new();
        for &layer in &dir.merged {
            let host = self.host(layer, &dir.container_path);
            for item in std::fs::read_dir(&host)? {
                let name = item?.file_name();
                if names.contains_key(&name) {
                    continue;
                }
                let child = self.child(&dir, &name)?;
                names.insert(name, child);
            }
        }
        Ok(names
            .into_iter()
            .filter_map(|(name, entry)| Some((name, entry?)))
            .collect())
    }

    fn host(&self, layer: usize, container_path: &Path) -> PathBuf {
        let relative = container_path.strip_prefix("/").unwrap_or(container_path);
        self.layers[layer].join(relative)
    }

    fn root(&self) -> io::Result<Entry> {
        let mut merged = Vec::new();
        let mut top: Option<(usize, Metadata)> = None;
        for layer in (0..self.layers.len()).rev() {
            let meta = std::fs::symlink_metadata(&self.layers[layer])?;
            if top.is_none() {
                top = Some((layer, meta));
            }
            merged.push(layer);
            if self.is_opaque(&self.layers[layer]) {
                break;
            }
        }
        let (layer, metadata) =
            top.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "an image without layers"))?;
        Ok(Entry {
            host_path: self.layers[layer].clone(),
            layer,
            metadata,
            merged,
            container_path: PathBuf::from("/"),
        })
    }

    /// `name` in the merged folder `dir`.
    fn child(&self, dir: &Entry, name: &OsStr) -> io::Result<Option<Entry>> {
        let container_path = dir.container_path.join(name);
        let mut found: Option<Entry> = None;
        for &layer in &dir.merged {
            let host = self.host(layer, &container_path);
            let meta = match std::fs::symlink_metadata(&host) {
                Ok(meta) => meta,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => continue,
                Err(e) => return Err(e),
            };
            if self.is_whiteout(&host, &meta) {
                break;
            }
            match &mut found {
                None => {
                    let is_dir = meta.is_dir();
                    found = Some(Entry {
                        host_path: host.clone(),
                        layer,
                        metadata: meta,
                        merged: if is_dir { vec![layer] } else { Vec::new() },
                        container_path: container_path.clone(),
                    });
                    if !is_dir || self.is_opaque(&host) {
                        break;
                    }
                }
                Some(top) => {
                    if !meta.is_dir() {
                        break;
                    }
                    top.merged.push(layer);
                    if self.is_opaque(&host) {
                        break;
                    }
                }
            }
        }
        Ok(found)
    }

    fn walk(&self, path: &Path, follow_last: bool) -> io::Result<Option<Entry>> {
        let mut pending: VecDeque<OsString> = components(path);
        let mut ancestry = vec![self.root()?];
        let mut links = 0;
        while let Some(name) = pending.pop_front() {
            if name == ".." {
                if ancestry.len() > 1 {
                    ancestry.pop();
                }
                continue;
            }
            let last = pending.is_empty();
            let Some(dir) = ancestry.last() else { break };
            let Some(child) = self.child(dir, &name)? else {
                return match last {
                    true => Ok(None),
                    false => Err(io::Error::from_raw_os_error(libc::ENOENT)),
                };
            };
            if child.metadata.file_type().is_symlink() && (!last || follow_last) {
                links += 1;
                if links > MAX_LINKS {
                    return Err(io::Error::from_raw_os_error(libc::ELOOP));
                }
                let target = std::fs::read_link(&child.host_path)?;
                if target.is_absolute() {
                    ancestry.truncate(1);
                }
                for part in components(&target).into_iter().rev() {
                    pending.push_front(part);
                }
                if pending.is_empty() {
                    // A link to `/` (or to `.`): the folder it names.
                    return Ok(ancestry.last().cloned());
                }
                continue;
            }
            if last {
                return Ok(Some(child));
            }
            if !child.metadata.is_dir() {
                return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
            }
            ancestry.push(child);
        }
        Ok(ancestry.last().cloned())
    }

    fn xattr(&self, path: &Path, name: &str) -> Option<Vec<u8>> {
        let mut buf = [0u8; 16];
        let name = format!("{}{name}", self.form.prefix());
        let len = rustix::fs::lgetxattr(path, name.as_str(), &mut buf[..]).ok()?;
        Some(buf[..len].to_vec())
    }

    fn is_opaque(&self, dir: &Path) -> bool {
        self.xattr(dir, "opaque").as_deref() == Some(b"y")
    }

    /// A 0:0 character device (either form), or a zero-size file with the whiteout xattr.
    fn is_whiteout(&self, path: &Path, meta: &Metadata) -> bool {
        if meta.file_type().is_char_device() && meta.rdev() == 0 {
            return true;
        }
        self.form == WhiteoutForm::UserXattr
            && meta.is_file()
            && meta.size() == 0
            && self.xattr(path, "whiteout").is_some()
    }
}

/// The names of a path, `..` kept, `.` and `/` dropped.
fn components(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// Three layers: a base, one that replaces a folder with a file, one with a symlink chain.
    fn stack() -> (tempfile::TempDir, LayerStack) {
        let dir = tempfile::tempdir().unwrap();
        let l: Vec<PathBuf> = (0..3).map(|i| dir.path().join(format!("l{i}"))).collect();
        for layer in &l {
            std::fs::create_dir_all(layer).unwrap();
        }
        std::fs::create_dir_all(l[0].join("usr/bin")).unwrap();
        std::fs::write(l[0].join("usr/bin/tool"), "base").unwrap();
        std::fs::write(l[0].join("usr/bin/old"), "old").unwrap();
        std::fs::create_dir_all(l[0].join("var/dir")).unwrap();
        std::fs::write(l[0].join("var/dir/x"), "x").unwrap();
        std::fs::create_dir_all(l[1].join("usr/bin")).unwrap();
        std::fs::write(l[1].join("usr/bin/tool"), "newer").unwrap();
        std::fs::write(l[1].join("var"), "a file now").unwrap();
        symlink("usr/bin", l[2].join("bin")).unwrap();
        symlink("/bin/tool", l[2].join("abs")).unwrap();
        symlink("../../../../bin/tool", l[2].join("up")).unwrap();
        symlink("loop", l[2].join("loop")).unwrap();
        let stack = LayerStack::new(l, WhiteoutForm::UserXattr);
        (dir, stack)
    }

    #[test]
    fn the_top_layer_wins_and_a_file_hides_a_folder_below() {
        let (_dir, stack) = stack();
        let tool = stack.resolve("/usr/bin/tool").unwrap().unwrap();
        assert_eq!(tool.layer, 1);
        assert_eq!(std::fs::read_to_string(&tool.host_path).unwrap(), "newer");
        assert_eq!(stack.resolve("/usr/bin/old").unwrap().unwrap().layer, 0);
        assert_eq!(stack.resolve("/var").unwrap().unwrap().layer, 1);
        assert!(
            stack.resolve("/var/dir/x").is_err(),
            "a path through a file is ENOTDIR"
        );
    }

    #[test]
    fn symlinks_are_followed_as_in_the_container() {
        let (_dir, stack) = stack();
        assert_eq!(stack.resolve("/bin/tool").unwrap().unwrap().layer, 1);
        assert_eq!(stack.resolve("/abs").unwrap().unwrap().layer, 1);
        assert_eq!(
            stack.resolve("/up").unwrap().unwrap().layer,
            1,
            "`..` stops at the root"
        );
        assert!(
            stack
                .lookup("/abs")
                .unwrap()
                .unwrap()
                .metadata
                .file_type()
                .is_symlink()
        );
        assert_eq!(stack.read_link("/abs").unwrap(), PathBuf::from("/bin/tool"));
        assert_eq!(
            stack.resolve("/loop").unwrap_err().raw_os_error(),
            Some(libc::ELOOP)
        );
        assert!(stack.resolve("/missing").unwrap().is_none());
    }

    #[test]
    fn read_dir_merges_the_folders() {
        let (_dir, stack) = stack();
        let names: Vec<_> = stack
            .read_dir("/usr/bin")
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["old", "tool"]);
    }
}
