//! Images for real: a registry in a network namespace of its own, images built with umoci
//! from the busybox root filesystem and pushed with skopeo, pulled by the launcher binary, and
//! the store, the unpacked layers and the layered lookup checked against the kernel's own
//! overlay. Every test has its own registry, store and temporary folders, removed when it
//! ends (drop guards), even when it fails.

mod auth;
mod bearer;
mod concurrency;
mod errors;
mod fixtures;
mod lock;
mod overlay;
mod pull;
mod registry;
mod rootless;
mod run;
mod tls;

use std::path::{Path, PathBuf};
use std::process::Output;

use launcher::image::lookup::LayerStack;
use launcher::image::{ImageRecord, Store};

use crate::util::text;

/// Asserts that a launcher run succeeded; returns its stdout.
pub fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "the launcher failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// Asserts that a launcher run failed with `code`; returns its stderr.
pub fn failed(output: &Output, code: i32) -> String {
    assert_eq!(
        output.status.code(),
        Some(code),
        "expected exit status {code}:\nstdout: {}\nstderr: {}",
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stderr)
}

/// The one image in `store` named `key`, and its layer stack.
pub fn stored(store: &Path, key: &str) -> (ImageRecord, LayerStack) {
    let store = Store::new(store.to_path_buf());
    let record = store
        .lookup(key)
        .expect("cannot read the store")
        .unwrap_or_else(|| panic!("{key} is not in the store"));
    let stack = LayerStack::new(store.layer_paths(&record), record.whiteouts);
    (record, stack)
}

/// An xattr of `path` (not following a symlink), if set.
pub fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    let len = rustix::fs::lgetxattr(path, name, &mut buf[..]).ok()?;
    buf.truncate(len);
    Some(buf)
}

/// Nothing a pull leaves only while it runs: no temporary blob or layer in the store.
pub fn assert_no_leftovers(store: &Path) {
    let tmp = store.join("tmp");
    let left: Vec<PathBuf> = std::fs::read_dir(&tmp)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "leftovers in {}: {left:?}", tmp.display());
}

/// The layer folders of `record` in `store`, lowest first.
pub fn layer_paths(store: &Path, record: &ImageRecord) -> Vec<PathBuf> {
    Store::new(store.to_path_buf()).layer_paths(record)
}

/// One line per name of the merged view, as `find -printf` prints them in [`mounted_tree`]:
/// path, type, mode, owner (when `owners`), size of files, symlink target.
pub fn merged_tree(stack: &LayerStack, owners: bool) -> Vec<String> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut lines = Vec::new();
    let mut pending = vec![PathBuf::from("/")];
    while let Some(dir) = pending.pop() {
        for (name, entry) in stack.read_dir(&dir).expect("read_dir of the merged view") {
            let path = dir.join(&name);
            let meta = &entry.metadata;
            let t = meta.file_type();
            let kind = match () {
                _ if t.is_dir() => "d",
                _ if t.is_symlink() => "l",
                _ if t.is_char_device() => "c",
                _ if t.is_block_device() => "b",
                _ if t.is_fifo() => "p",
                _ if t.is_socket() => "s",
                _ => "f",
            };
            let size = if kind == "f" {
                meta.size().to_string()
            } else {
                "-".into()
            };
            let link = if kind == "l" {
                std::fs::read_link(&entry.host_path)
                    .unwrap()
                    .display()
                    .to_string()
            } else {
                String::new()
            };
            let owner = if owners {
                format!("{}:{}", meta.uid(), meta.gid())
            } else {
                "-".into()
            };
            let relative = path.strip_prefix("/").unwrap().display().to_string();
            lines.push(format!(
                "{relative}\t{kind}\t{:o}\t{owner}\t{size}\t{link}",
                meta.mode() & 0o7777
            ));
            if kind == "d" {
                pending.push(path);
            }
        }
    }
    lines.sort();
    lines
}

/// The same lines from a real read-only overlay mount of `layers` (lowest first) at
/// `mountpoint`, in a private mount namespace made by `prefix` (e.g. `unshare -m`, or
/// `setpriv ... unshare -U -r -m` rootless) with `/` made private before the mount.
pub fn mounted_tree(
    prefix: &[&str],
    layers: &[PathBuf],
    options: &str,
    mountpoint: &Path,
    owners: bool,
) -> Vec<String> {
    let lower: Vec<String> = layers
        .iter()
        .rev()
        .map(|p| p.display().to_string())
        .collect();
    let owner = if owners { "%U:%G" } else { "-" };
    let script = format!(
        "mount --make-rprivate / && mount -t overlay overlay -o ro,{options}lowerdir={} {} && cd {} && \
         find . -mindepth 1 ! -type f -printf '%P\\t%y\\t%m\\t{owner}\\t-\\t%l\\n' && \
         find . -mindepth 1 -type f -printf '%P\\t%y\\t%m\\t{owner}\\t%s\\t\\n'",
        lower.join(":"),
        mountpoint.display(),
        mountpoint.display()
    );
    let mut command = std::process::Command::new(prefix[0]);
    command.args(&prefix[1..]).args(["sh", "-c", &script]);
    let out = fixtures::run_ok(&mut command);
    let mut lines: Vec<String> = out.lines().map(str::to_string).collect();
    lines.sort();
    lines
}
