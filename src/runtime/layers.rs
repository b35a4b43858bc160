//! The container's writable layer, on top of an image's layers: `upper` (what the container
//! writes) and `work` (the overlay's scratch folder), made empty for each run and removed with
//! the container.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use super::error::Failure;

/// Makes `path/upper` and `path/work`, empty: what a run of the same name left goes first.
pub fn create_writable(path: &Path) -> Result<(), Failure> {
    remove_writable(path)?;
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
    // The container's root is the overlay's: its root folder takes the top layer's mode, but
    // what the container makes in upper must be reachable by its users.
    std::fs::set_permissions(path.join("upper"), std::fs::Permissions::from_mode(0o755))
        .map_err(Failure::io(format!("make {}/upper 0755", path.display())))
}

/// Removes the writable layer and everything in it (the overlay leaves a folder of mode 000
/// in `work`: `sys::remove_tree` opens such folders up).
pub fn remove_writable(path: &Path) -> Result<(), Failure> {
    crate::sys::remove_tree(path).map_err(Failure::io(format!(
        "remove the writable layer {}",
        path.display()
    )))
}
