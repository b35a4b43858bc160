//! A rootless pull (uid 65534, a store it owns): whiteouts and opaque folders in the
//! `user.overlay.*` form, what cannot be kept noted, and a real overlay mounted with
//! `userxattr` in a user namespace agreeing with the layered lookup.

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use launcher::image::WhiteoutForm;

use super::fixtures::{Scratch, build_image};
use super::registry::{HOST, Registry};
use super::{assert_no_leftovers, layer_paths, merged_tree, mounted_tree, ok, stored, xattr};
use crate::util::chown_tree;

const NOBODY: u32 = 65534;

#[test]
fn a_rootless_pull_writes_user_xattr_whiteouts_that_a_userxattr_overlay_honours() {
    let registry = Registry::start();
    let scratch = Scratch::new();
    let image = build_image(&scratch, "v1");
    registry.push(&image.oci_ref(), "test/app:v1", &[]);
    let store = scratch.join("store");
    std::fs::create_dir(&store).unwrap();
    chown_tree(&store, NOBODY, NOBODY);
    let reference = format!("{HOST}/test/app:v1");
    let output = registry
        .launcher_as(&[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ])
        .arg("--store")
        .arg(&store)
        .args(["pull", &reference])
        .env("HOME", scratch.path())
        .output()
        .unwrap();
    ok(&output);
    let notes = String::from_utf8_lossy(&output.stderr);
    assert!(
        notes.contains("device nodes skipped (rootless: no mknod), e.g. srv/null"),
        "{notes}"
    );
    assert!(
        notes.contains("entries owned by other ids than 0:0"),
        "{notes}"
    );
    assert!(
        notes.contains("security.capability on srv/xattrs (only user. xattrs can be set rootless)"),
        "{notes}"
    );

    let (record, stack) = stored(&store, &reference);
    assert_eq!(record.whiteouts, WhiteoutForm::UserXattr);
    let layers = layer_paths(&store, &record);
    let whiteout = layers[1].join("etc/remove-me");
    let meta = std::fs::symlink_metadata(&whiteout).unwrap();
    assert!(meta.is_file() && meta.len() == 0);
    assert_eq!(
        xattr(&whiteout, "user.overlay.whiteout").as_deref(),
        Some(&b"y"[..])
    );
    assert_eq!(
        xattr(&layers[1].join("etc"), "user.overlay.opaque").as_deref(),
        Some(&b"x"[..])
    );
    assert_eq!(
        xattr(&layers[2].join("data"), "user.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert_eq!(
        xattr(&layers[2].join("srv/xattrs"), "user.test").as_deref(),
        Some(&b"hello"[..])
    );
    let setuid = std::fs::metadata(layers[1].join("srv/setuid")).unwrap();
    assert_eq!(
        (setuid.permissions().mode() & 0o7777, setuid.uid()),
        (0o4755, NOBODY)
    );
    assert!(!layers[1].join("srv/null").exists());
    assert!(stack.lookup("/etc/remove-me").unwrap().is_none());
    assert_no_leftovers(&store);

    // The kernel agrees: an overlay of these layers, mounted by uid 65534 in a user namespace.
    let mountpoint = scratch.join("mnt");
    std::fs::create_dir(&mountpoint).unwrap();
    let prefix = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "unshare",
        "--user",
        "--map-root-user",
        "--mount",
    ];
    let mounted = mounted_tree(&prefix, &layers, "userxattr,", &mountpoint, false);
    let merged = merged_tree(&stack, false);
    let only_mounted: Vec<_> = mounted.iter().filter(|l| !merged.contains(l)).collect();
    let only_merged: Vec<_> = merged.iter().filter(|l| !mounted.contains(l)).collect();
    assert!(
        only_mounted.is_empty() && only_merged.is_empty(),
        "the rootless overlay and the lookup differ:\nonly in the mount: {only_mounted:#?}\nonly in the lookup: {only_merged:#?}"
    );
    assert!(
        !mounted.iter().any(|l| l.starts_with("etc/remove-me")),
        "the kernel did not honour the xattr whiteout"
    );
    assert!(
        !mounted.iter().any(|l| l.starts_with("data/old")),
        "the kernel did not honour the opaque folder"
    );
}
