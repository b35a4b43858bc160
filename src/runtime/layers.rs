//! The container's writable layer, on top of an image's layers: `upper` (what the container
//! writes) and `work` (the overlay's scratch folder), made empty for each run and removed with
//! the container.

use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::error::Failure;
use crate::sys;

/// Makes `path/upper` and `path/work`, empty: what a run of the same name left goes first, and
/// so do layers discarded earlier whose removal did not finish.
pub fn create_writable(path: &Path, owner: Option<(u32, u32)>) -> Result<(), Failure> {
    remove_writable(path)?;
    sweep_discarded(path);
    for folder in [path.join("upper"), path.join("work")] {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&folder)
            .map_err(Failure::io(format!(
                "create the writable layer's folder {}",
                folder.display()
            )))?;
    }
    // The container's root is the overlay's: its root folder takes upper's mode, and what the
    // container makes there must be reachable by its users.
    let upper = path.join("upper");
    std::fs::set_permissions(&upper, std::fs::Permissions::from_mode(0o755))
        .map_err(Failure::io(format!("make {}/upper 0755", path.display())))?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(&upper, Some(uid), Some(gid)).map_err(Failure::io(format!(
            "give {} to the container's root ({uid}:{gid})",
            upper.display()
        )))?;
    }
    Ok(())
}

/// Removes the writable layer and everything in it, now (the overlay leaves folders of mode
/// 000 in `work`: `sys::remove_tree` opens such folders up).
pub fn remove_writable(path: &Path) -> Result<(), Failure> {
    sys::remove_tree(path).map_err(Failure::io(format!(
        "remove the writable layer {}",
        path.display()
    )))
}

/// Removes the writable layer of a container that ended, off the launcher's way out: the
/// folder is renamed at once (it is gone from its place, and a new run of the name starts
/// clean), and a short-lived process of its own removes the renamed tree (each rmdir is a
/// journal update of the filesystem under it: about a millisecond for a fresh layer). A
/// removal that does not finish is swept by the next run of the name.
pub fn discard_writable(path: &Path) -> Result<(), Failure> {
    if !path.exists() {
        return Ok(());
    }
    let discarded = discarded_name(path);
    std::fs::rename(path, &discarded).map_err(Failure::io(format!(
        "move the writable layer {} away",
        path.display()
    )))?;
    let null = sys::open(c"/dev/null", libc::O_RDWR).map_err(Failure::of("open /dev/null"))?;
    match sys::fork() {
        // The removal runs on its own: its own session, no terminal, and not holding the
        // pipes whoever started the launcher waits on.
        Ok(0) => {
            let _ = sys::setsid();
            for fd in 0..3 {
                let _ = sys::dup2(null.as_raw_fd(), fd);
            }
            // Nor the launcher's locks: a record's lock held on would read as a live container.
            let _ = sys::close_fds_except(&[0, 1, 2]);
            let _ = sys::remove_tree(&discarded);
            sys::exit_now(0)
        }
        Ok(_) => Ok(()),
        // No process for it: remove it here.
        Err(_) => remove_writable(&discarded),
    }
}

/// `containers/.discarded-NAME-PID`, beside the layer.
fn discarded_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".discarded-{name}-{}", std::process::id()))
}

/// Removes what earlier discards of this layer left (a removal killed half-way).
fn sweep_discarded(path: &Path) {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let prefix = format!(".discarded-{}-", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = sys::remove_tree(&entry.path());
        }
    }
}
