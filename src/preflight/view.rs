//! A read-only view of the container's files from the host, before the container exists:
//! the root filesystem (or the host's /) with the bind mounts of the plan laid over it.
//! Symlinks are followed as the container will see them: an absolute link restarts at the
//! container's root, never at the host's.

use std::fs::Metadata;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::image::WhiteoutForm;
use crate::image::lookup::LayerStack;
use crate::plan::{MountKind, Root, Spec};

pub struct ContainerView {
    root: PathBuf,
    host: bool,
    /// An image's layers, looked through as the overlay will show them (no mount).
    layers: Option<std::sync::Arc<LayerStack>>,
    /// (container target, host source), longest target first.
    binds: std::sync::Arc<Vec<(String, PathBuf)>>,
    /// Targets of mounts that start empty (tmpfs, /dev, /proc, ...).
    fresh: std::sync::Arc<std::collections::BTreeSet<String>>,
    /// A mount target to ignore: the view as it is before that mount.
    excluded: Option<String>,
}

pub struct Resolved {
    pub host: PathBuf,
    pub meta: Metadata,
}

/// The program that runs a file: its ELF interpreter or its `#!` line.
pub struct Interpreter {
    pub kind: &'static str,
    pub path: String,
}

const MAX_LINKS: usize = 40;

impl ContainerView {
    /// The container of `spec`: its root, with its mounts and the default ones (/proc, /dev;
    /// /tmp and /run on the host's /) laid over it.
    pub fn from_spec(spec: &Spec) -> Self {
        let mut fresh = std::collections::BTreeSet::new();
        let mut binds = Vec::new();
        let (root, host, layers) = match &spec.root.value {
            Root::Folder(path) => (path.clone(), false, None),
            Root::Host => (PathBuf::from("/"), true, None),
            Root::Layers(image) => {
                let form = match image.userxattr {
                    true => WhiteoutForm::UserXattr,
                    false => WhiteoutForm::Classic,
                };
                let stack = LayerStack::new(image.layers.clone(), form);
                (PathBuf::new(), false, Some(std::sync::Arc::new(stack)))
            }
            // Not resolved: preflight refuses it; the view has nothing to show.
            Root::Image(_) => (PathBuf::from("/nonexistent"), false, None),
        };
        let mut view = ContainerView {
            root,
            host,
            layers,
            binds: Default::default(),
            fresh: Default::default(),
            excluded: None,
        };
        let defaults: &[&str] = if host {
            &["/proc", "/dev", "/tmp", "/run"]
        } else {
            &["/proc", "/dev"]
        };
        for target in defaults {
            fresh.insert(target.to_string());
        }
        for mount in &spec.mounts {
            let mount = &mount.value;
            match &mount.kind {
                MountKind::Bind { source } => {
                    // A bind of the file's own replaces the default mount at its target.
                    fresh.remove(&mount.target);
                    binds.push((mount.target.clone(), source.clone()));
                }
                _ => {
                    fresh.insert(mount.target.clone());
                }
            }
        }
        binds.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
        view.binds = std::sync::Arc::new(binds);
        view.fresh = std::sync::Arc::new(fresh);
        view
    }

    /// The view without the mount at `target`: what is there before it is mounted. Cheap:
    /// the mount lists are shared, not copied (a file may have a thousand mounts).
    pub fn without(&self, target: &str) -> ContainerView {
        ContainerView {
            root: self.root.clone(),
            host: self.host,
            layers: self.layers.clone(),
            binds: self.binds.clone(),
            fresh: self.fresh.clone(),
            excluded: Some(target.to_string()),
        }
    }

    pub fn is_host(&self) -> bool {
        self.host
    }

    /// Whether `path` is on or under a mount that starts empty (tmpfs, /dev, /proc).
    pub fn is_fresh(&self, path: &str) -> bool {
        // Each folder on the way down, "/" first: a lookup each, not a scan of every mount.
        let mut prefix = String::from("/");
        let fresh = |p: &str| self.fresh.contains(p) && self.excluded.as_deref() != Some(p);
        if fresh(&prefix) {
            return true;
        }
        for part in path.split('/').filter(|p| !p.is_empty()) {
            if prefix.len() > 1 {
                prefix.push('/');
            }
            prefix.push_str(part);
            if fresh(&prefix) {
                return true;
            }
        }
        false
    }

    /// "the root filesystem /srv/rootfs", for messages.
    pub fn describe(&self) -> String {
        if self.host {
            "the host's /".into()
        } else if self.layers.is_some() {
            "the image's layers".into()
        } else {
            format!("the root filesystem {}", self.root.display())
        }
    }

    /// The host file a container path (absolute, no symlinks in it) shows, and its own
    /// metadata (not following a symlink).
    fn lookup(&self, path: &str) -> Result<(PathBuf, Metadata), std::io::Error> {
        for (target, source) in self.binds.iter() {
            if under(path, target) && self.excluded.as_deref() != Some(target.as_str()) {
                let rest = path[target.len()..].trim_start_matches('/');
                let host = if rest.is_empty() {
                    source.clone()
                } else {
                    source.join(rest)
                };
                let meta = std::fs::symlink_metadata(&host)?;
                return Ok((host, meta));
            }
        }
        if let Some(stack) = &self.layers {
            return match stack.lookup(path)? {
                Some(entry) => Ok((entry.host_path, entry.metadata)),
                None => Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
            };
        }
        let host = self.root.join(path.trim_start_matches('/'));
        let meta = std::fs::symlink_metadata(&host)?;
        Ok((host, meta))
    }

    /// Follows `path` inside the container, symlinks included, to a host file.
    pub fn resolve(&self, path: &str) -> Result<Resolved, std::io::Error> {
        let mut pending: Vec<String> = components(path).into_iter().rev().collect();
        let mut done: Vec<String> = Vec::new();
        let mut links = 0;
        while let Some(part) = pending.pop() {
            if part == ".." {
                done.pop();
                continue;
            }
            done.push(part);
            let current = format!("/{}", done.join("/"));
            let (host, meta) = self.lookup(&current)?;
            if meta.file_type().is_symlink() {
                links += 1;
                if links > MAX_LINKS {
                    return Err(std::io::Error::from_raw_os_error(libc::ELOOP));
                }
                let target = std::fs::read_link(&host)?;
                let target = target.to_string_lossy().into_owned();
                done.pop();
                if target.starts_with('/') {
                    done.clear();
                }
                for p in components(&target).into_iter().rev() {
                    pending.push(p);
                }
            }
        }
        let current = format!("/{}", done.join("/"));
        let (host, meta) = self.lookup(&current)?;
        Ok(Resolved { host, meta })
    }

    /// Reads a small text file of the container (/etc/passwd). The root filesystem is the
    /// container's to change: only a regular file is read, at most 1 MiB, without blocking (a
    /// FIFO or a device there must not hang or flood `check`).
    pub fn read_to_string(&self, path: &str) -> Option<String> {
        let resolved = self.resolve(path).ok()?;
        let mut text = String::new();
        open_regular(&resolved.host)?
            .take(1 << 20)
            .read_to_string(&mut text)
            .ok()?;
        Some(text)
    }
}

fn components(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .map(str::to_string)
        .collect()
}

/// `path` is `base` or inside it.
fn under(path: &str, base: &str) -> bool {
    base == "/"
        || path == base
        || (path.starts_with(base) && path.as_bytes().get(base.len()) == Some(&b'/'))
}

/// The ELF interpreter (PT_INTERP) or the `#!` interpreter of an executable file.
pub fn interpreter(file: &Path) -> Option<Interpreter> {
    // The program headers and PT_INTERP sit in the first page of nearly every ELF file; read
    // more only when they do not (this runs at every container start).
    let mut head = Vec::with_capacity(4096);
    let mut opened = open_regular(file)?;
    (&mut opened).take(4096).read_to_end(&mut head).ok()?;
    if head.starts_with(b"\x7fELF")
        && head.len() == 4096
        && elf_interpreter(&head).is_none()
        && !elf_headers_within(&head)
    {
        opened.take(60 * 1024).read_to_end(&mut head).ok()?;
    }
    if let Some(rest) = head.strip_prefix(b"#!") {
        let line = rest.split(|b| *b == b'\n').next()?;
        let line = String::from_utf8_lossy(line);
        let path = line.split_whitespace().next()?.to_string();
        return Some(Interpreter {
            kind: "#! interpreter",
            path,
        });
    }
    elf_interpreter(&head).map(|path| Interpreter {
        kind: "ELF interpreter",
        path,
    })
}

/// Opens `path` only if it is a regular file, without blocking on a FIFO.
fn open_regular(path: &Path) -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .ok()?;
    file.metadata().ok()?.is_file().then_some(file)
}

/// Whether the program header table lies inside `head` (then no PT_INTERP means none).
fn elf_headers_within(head: &[u8]) -> bool {
    let wide = head.get(4) == Some(&2);
    let little = head.get(5) == Some(&1);
    let read = |at: usize, len: usize| -> Option<u64> {
        let bytes = head.get(at..at + len)?;
        Some(bytes.iter().enumerate().fold(0u64, |value, (i, _)| {
            let b = if little { bytes[len - 1 - i] } else { bytes[i] };
            (value << 8) | u64::from(b)
        }))
    };
    let table = if wide {
        (read(0x20, 8), read(0x36, 2), read(0x38, 2))
    } else {
        (read(0x1c, 4), read(0x2a, 2), read(0x2c, 2))
    };
    match table {
        (Some(offset), Some(size), Some(count)) => offset + size * count <= head.len() as u64,
        _ => false,
    }
}

/// Reads PT_INTERP from the program headers of a little- or big-endian, 32- or 64-bit ELF.
fn elf_interpreter(head: &[u8]) -> Option<String> {
    if head.get(..4)? != b"\x7fELF" {
        return None;
    }
    let wide = *head.get(4)? == 2;
    let little = *head.get(5)? == 1;
    let read = |at: usize, len: usize| -> Option<u64> {
        let bytes = head.get(at..at + len)?;
        let mut value = 0u64;
        for i in 0..len {
            let b = if little { bytes[len - 1 - i] } else { bytes[i] };
            value = (value << 8) | u64::from(b);
        }
        Some(value)
    };
    let (phoff, phentsize, phnum) = if wide {
        (read(0x20, 8)?, read(0x36, 2)?, read(0x38, 2)?)
    } else {
        (read(0x1c, 4)?, read(0x2a, 2)?, read(0x2c, 2)?)
    };
    for i in 0..phnum {
        let at = usize::try_from(phoff + i * phentsize).ok()?;
        const PT_INTERP: u64 = 3;
        if read(at, 4)? != PT_INTERP {
            continue;
        }
        let (offset, size) = if wide {
            (read(at + 8, 8)?, read(at + 32, 8)?)
        } else {
            (read(at + 4, 4)?, read(at + 16, 4)?)
        };
        let start = usize::try_from(offset).ok()?;
        let bytes = head.get(start..start + usize::try_from(size).ok()?)?;
        let text = bytes.split(|b| *b == 0).next()?;
        return Some(String::from_utf8_lossy(text).into_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_interpreter_of_a_dynamic_binary() {
        // /bin/sh on any Debian is dynamically linked.
        let found = interpreter(Path::new("/bin/sh")).expect("no interpreter read from /bin/sh");
        assert_eq!(found.kind, "ELF interpreter");
        assert!(found.path.starts_with("/lib"), "{}", found.path);
    }

    #[test]
    fn a_static_binary_has_no_interpreter() {
        // busybox-static, as the tests' root filesystems use.
        if let Some(found) = interpreter(Path::new("/bin/busybox")) {
            panic!("busybox-static has no interpreter, read {}", found.path);
        }
    }

    #[test]
    fn under_matches_whole_components() {
        assert!(under("/data/x", "/data"));
        assert!(under("/data", "/data"));
        assert!(!under("/database", "/data"));
        assert!(under("/anything", "/"));
    }
}
