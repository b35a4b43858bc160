//! Which mount targets the mounts will make in a root folder: the folders (and, for a bind of
//! a file, the empty file) missing there, so that the plan removes them once the container
//! has ended and leaves nothing behind in the user's folder.

use std::path::Path;

use crate::plan::{MadeTarget, MountKind, Spec};

/// Each target of the spec's mounts that is missing in `folder` (the root folder), with its
/// topmost missing component. A target inside an earlier mount (or the default /proc and
/// /dev) is made there, not in the folder; one whose way down holds a symlink or a file is
/// left alone (the mount resolves it inside the root, which this cannot foresee).
pub fn made_targets(spec: &Spec, folder: &Path) -> Vec<MadeTarget> {
    let mut earlier: Vec<&str> = vec!["/proc", "/dev"];
    let mut made = Vec::new();
    for mount in &spec.mounts {
        let target = mount.value.target.as_str();
        let inside = |outer: &str| {
            target == outer
                || target
                    .strip_prefix(outer)
                    .is_some_and(|rest| rest.starts_with('/'))
        };
        let under_earlier = earlier.iter().any(|outer| inside(outer));
        earlier.push(target);
        if under_earlier {
            continue;
        }
        let parts: Vec<&str> = target.split('/').filter(|p| !p.is_empty()).collect();
        let mut host = folder.to_path_buf();
        for (i, part) in parts.iter().enumerate() {
            host.push(part);
            match std::fs::symlink_metadata(&host) {
                Ok(meta) if meta.is_dir() => continue,
                Ok(_) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let file = match &mount.value.kind {
                        MountKind::Bind { source } => {
                            std::fs::metadata(source).is_ok_and(|m| !m.is_dir())
                        }
                        _ => false,
                    };
                    made.push(MadeTarget {
                        made: format!("/{}", parts[..=i].join("/")),
                        target: target.to_string(),
                        file,
                    });
                    break;
                }
                Err(_) => break,
            }
        }
    }
    made
}
