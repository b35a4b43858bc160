//! The layered lookup against the kernel: the same layers mounted as a real overlay (in a
//! private mount namespace) must show the same names, types, modes, owners, sizes and link
//! targets as the lookup's merged view.

use super::fixtures::{Scratch, build_image};
use super::{layer_paths, merged_tree, mounted_tree, ok, stored};
use crate::util::{launcher, require_root};

#[test]
fn the_layered_lookup_agrees_with_a_real_overlay_mount() {
    require_root();
    let scratch = Scratch::new();
    let image = build_image(&scratch, "v1");
    let store = scratch.join("store");
    ok(&launcher(&[
        "--store",
        &store.to_string_lossy(),
        "pull",
        &image.oci_ref(),
    ])
    .output()
    .unwrap());
    let (record, stack) = stored(&store, &image.oci_ref());
    let mountpoint = scratch.join("mnt");
    std::fs::create_dir(&mountpoint).unwrap();
    let layers = layer_paths(&store, &record);
    let mounted = mounted_tree(
        &["unshare", "--mount", "--propagation", "private"],
        &layers,
        "",
        &mountpoint,
        true,
    );
    let merged = merged_tree(&stack, true);
    assert!(
        mounted.len() > 250,
        "the mount showed too little: {}",
        mounted.len()
    );
    let only_mounted: Vec<_> = mounted.iter().filter(|l| !merged.contains(l)).collect();
    let only_merged: Vec<_> = merged.iter().filter(|l| !mounted.contains(l)).collect();
    assert!(
        only_mounted.is_empty() && only_merged.is_empty(),
        "the overlay and the lookup differ:\nonly in the mount: {only_mounted:#?}\nonly in the lookup: {only_merged:#?}"
    );
    assert!(!merged.iter().any(|l| l.starts_with("etc/remove-me")));
    assert!(merged.iter().any(|l| l.starts_with("data/new.txt\t")));
    assert!(!merged.iter().any(|l| l.starts_with("data/old")));
    assert!(
        std::fs::read_dir(&mountpoint).unwrap().next().is_none(),
        "the mount leaked out of its namespace"
    );
}
