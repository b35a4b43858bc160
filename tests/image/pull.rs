//! Pulls from a registry (gzip and zstd layers, a multi-platform index), an OCI layout and a
//! docker archive, and what they leave in the store.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

use super::fixtures::{Scratch, build_image, run_ok};
use super::registry::{HOST, Registry};
use super::{assert_no_leftovers, failed, layer_paths, ok, stored, xattr};
use launcher::image::WhiteoutForm;

#[test]
fn a_registry_pull_unpacks_whiteouts_opaque_folders_links_modes_owners_and_xattrs() {
    let registry = Registry::start();
    let scratch = Scratch::new();
    let image = build_image(&scratch, "v1");
    registry.push(&image.oci_ref(), "test/app:v1", &[]);
    let store = scratch.join("store");
    let output = registry
        .launcher(&store)
        .args(["pull", &format!("{HOST}/test/app:v1")])
        .output()
        .unwrap();
    let out = ok(&output);
    let key = format!("{HOST}/test/app:v1");
    assert!(out.starts_with(&format!("{key} sha256:")), "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        output.stderr.is_empty(),
        "no progress (or notes) without a terminal: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (record, stack) = stored(&store, &key);
    assert_eq!(record.layers.len(), 3);
    assert_eq!(record.whiteouts, WhiteoutForm::Classic);
    let layers = layer_paths(&store, &record);

    // Layer 2 deleted /etc/remove-me: a 0:0 character device there, and the merged view hides it.
    let whiteout = std::fs::symlink_metadata(layers[1].join("etc/remove-me")).unwrap();
    assert!(whiteout.file_type().is_char_device() && whiteout.rdev() == 0);
    assert!(stack.lookup("/etc/remove-me").unwrap().is_none());
    assert!(stack.lookup("/etc/passwd").unwrap().is_some());
    // Layer 3 made /data opaque: only its own new.txt shows.
    assert_eq!(
        xattr(&layers[2].join("data"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    let names: Vec<_> = stack
        .read_dir("/data")
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["new.txt"]);
    assert!(
        stack.lookup("/data/old/a.txt").is_err()
            || stack.lookup("/data/old/a.txt").unwrap().is_none()
    );
    // Hard links, setuid, symlinks, owners, device nodes, xattrs and file capabilities.
    let a = std::fs::metadata(layers[1].join("srv/hard-a")).unwrap();
    let b = std::fs::metadata(layers[1].join("srv/hard-b")).unwrap();
    assert_eq!(
        (a.ino(), a.nlink()),
        (b.ino(), 2),
        "srv/hard-b is a hard link of srv/hard-a"
    );
    let setuid = std::fs::metadata(layers[1].join("srv/setuid")).unwrap();
    assert_eq!(setuid.permissions().mode() & 0o7777, 0o4755);
    assert_eq!(
        stack.read_link("/srv/link").unwrap().to_str(),
        Some("../bin/busybox")
    );
    assert_eq!(
        stack.resolve("/srv/link").unwrap().unwrap().layer,
        0,
        "the link leads to layer 1's busybox"
    );
    let owned = std::fs::metadata(layers[1].join("srv/owned")).unwrap();
    assert_eq!((owned.uid(), owned.gid()), (1000, 1000));
    let null = std::fs::metadata(layers[1].join("srv/null")).unwrap();
    assert!(null.file_type().is_char_device() && null.rdev() == libc::makedev(1, 3));
    let xattrs = layers[2].join("srv/xattrs");
    assert_eq!(xattr(&xattrs, "user.test").as_deref(), Some(&b"hello"[..]));
    let capability =
        xattr(&xattrs, "security.capability").expect("the file capability was not set");
    assert_eq!(
        &capability[4..8],
        &[0x00, 0x04, 0x00, 0x00],
        "CAP_NET_BIND_SERVICE permitted"
    );
    // /bin/sh is a symlink to busybox: the lookup follows it as the container would.
    let sh = stack.resolve("/bin/sh").unwrap().unwrap();
    assert!(sh.metadata.is_file() && sh.host_path.ends_with("bin/busybox"));
    assert_no_leftovers(&store);

    // `images` shows it, as text and JSON.
    let listed = ok(&registry
        .launcher(&store)
        .args(["images", "--format", "json"])
        .output()
        .unwrap());
    let json: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(json[0]["refs"][0], key.as_str());
    assert_eq!(json[0]["manifest"], record.manifest.to_string());
    assert_eq!(json[0]["layers"].as_array().unwrap().len(), 3);
    let table = ok(&registry.launcher(&store).arg("images").output().unwrap());
    assert!(
        table.contains(&key) && table.contains(record.manifest.short()),
        "{table}"
    );
}

#[test]
fn zstd_layers_and_a_multi_platform_index_pull_the_right_manifest() {
    let registry = Registry::start();
    let scratch = Scratch::new();
    let image = build_image(&scratch, "v1");
    registry.push(
        &image.oci_ref(),
        "test/app:zstd",
        &["--dest-compress", "--dest-compress-format", "zstd"],
    );
    let store = scratch.join("store");
    ok(&registry
        .launcher(&store)
        .args(["pull", &format!("{HOST}/test/app:zstd")])
        .output()
        .unwrap());
    let (zstd, stack) = stored(&store, &format!("{HOST}/test/app:zstd"));
    assert!(
        zstd.layers.iter().all(|l| l.media_type.ends_with("zstd")),
        "skopeo did not push zstd layers: {:?}",
        zstd.layers
            .iter()
            .map(|l| &l.media_type)
            .collect::<Vec<_>>()
    );
    assert!(stack.lookup("/etc/remove-me").unwrap().is_none());

    // An index of two platforms: this machine's manifest, and an arm64 one.
    let layout = image.layout.display().to_string();
    run_ok(std::process::Command::new("umoci").args([
        "config",
        "--image",
        &format!("{layout}:v1"),
        "--tag",
        "arm",
        "--architecture",
        "arm64",
    ]));
    let index = super::fixtures::write_index(
        &image.layout,
        &[("v1", "linux/amd64"), ("arm", "linux/arm64/v8")],
        "multi",
    );
    assert!(index.contains("sha256:"));
    registry.push(&format!("oci:{layout}:multi"), "test/multi:v1", &["--all"]);
    let multi = format!("{HOST}/test/multi:v1");
    let out = ok(&registry
        .launcher(&store)
        .args(["pull", "--platform", "linux/amd64", &multi])
        .output()
        .unwrap());
    let (amd, _) = stored(&store, &multi);
    assert!(out.contains(&amd.manifest.to_string()));
    assert_eq!(amd.platform.architecture, "amd64");
    ok(&registry
        .launcher(&store)
        .args(["pull", "--platform", "linux/arm64", &multi])
        .output()
        .unwrap());
    let (arm, _) = stored(&store, &multi);
    assert_eq!(arm.platform.to_string(), "linux/arm64");
    assert_ne!(arm.manifest, amd.manifest);
    assert_eq!(arm.layers, amd.layers, "one set of layers, shared");
    let error = failed(
        &registry
            .launcher(&store)
            .args(["pull", "--platform", "linux/s390x", &multi])
            .output()
            .unwrap(),
        1,
    );
    assert!(
        error.contains(&format!("image {multi}"))
            && error.contains("no image for platform linux/s390x")
            && error.contains("linux/amd64, linux/arm64/v8"),
        "{error}"
    );
    assert!(
        error.contains("help: pick one of the offered platforms"),
        "{error}"
    );
}

#[test]
fn an_oci_layout_and_a_docker_archive_share_the_layers_a_registry_pull_unpacked() {
    let registry = Registry::start();
    let scratch = Scratch::new();
    let image = build_image(&scratch, "v1");
    registry.push(&image.oci_ref(), "test/app:v1", &[]);
    let archive = scratch.join("app.tar");
    run_ok(
        std::process::Command::new("skopeo")
            .args(["copy", "-q", &image.oci_ref()])
            .arg(format!("docker-archive:{}:test/app:v1", archive.display())),
    );
    let copy = scratch.join("copy");
    run_ok(
        std::process::Command::new("skopeo")
            .args(["copy", "-q", &image.oci_ref()])
            .arg(format!("oci:{}:copied", copy.display())),
    );
    let store = scratch.join("store");
    ok(&registry
        .launcher(&store)
        .args(["pull", &format!("{HOST}/test/app:v1")])
        .output()
        .unwrap());
    let (from_registry, _) = stored(&store, &format!("{HOST}/test/app:v1"));
    let layer_dirs = || {
        std::fs::read_dir(store.join("layers/sha256"))
            .unwrap()
            .count()
    };
    assert_eq!(layer_dirs(), 3);

    // A relative oci: path starts at the current folder.
    let out = ok(&registry
        .launcher(&store)
        .current_dir(scratch.path())
        .args(["pull", "oci:copy:copied"])
        .output()
        .unwrap());
    let oci_key = format!("oci:{}:copied", copy.display());
    assert!(out.starts_with(&oci_key), "{out}");
    let (from_layout, layout_stack) = stored(&store, &oci_key);
    ok(&registry
        .launcher(&store)
        .arg("pull")
        .arg(format!("docker-archive:{}", archive.display()))
        .output()
        .unwrap());
    let (from_archive, archive_stack) =
        stored(&store, &format!("docker-archive:{}", archive.display()));
    let diff_ids = |r: &launcher::image::ImageRecord| {
        r.layers
            .iter()
            .map(|l| l.diff_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(diff_ids(&from_layout), diff_ids(&from_registry));
    assert_eq!(diff_ids(&from_archive), diff_ids(&from_registry));
    assert_eq!(layer_dirs(), 3, "each layer is unpacked once and shared");
    for stack in [&layout_stack, &archive_stack] {
        assert!(stack.lookup("/etc/remove-me").unwrap().is_none());
        assert!(stack.resolve("/data/new.txt").unwrap().is_some());
    }
    assert_eq!(
        from_archive.config, from_registry.config,
        "the same config blob"
    );
    assert_no_leftovers(&store);
}

#[test]
fn rmi_removes_a_ref_and_prune_the_layers_no_image_uses() {
    let registry = Registry::start();
    let scratch = Scratch::new();
    let image = build_image(&scratch, "v1");
    let other = super::fixtures::build_with_layer(
        &scratch,
        "other",
        super::fixtures::TarLayer::new().file("only-here", 0o644, b"x"),
    );
    registry.push(&image.oci_ref(), "test/app:v1", &[]);
    registry.push(&image.oci_ref(), "test/app:v2", &[]);
    registry.push(&other.oci_ref(), "test/other:v1", &[]);
    let store = scratch.join("store");
    for tag in ["test/app:v1", "test/app:v2", "test/other:v1"] {
        ok(&registry
            .launcher(&store)
            .args(["pull", &format!("{HOST}/{tag}")])
            .output()
            .unwrap());
    }
    let (app, _) = stored(&store, &format!("{HOST}/test/app:v1"));
    let (only, _) = stored(&store, &format!("{HOST}/test/other:v1"));
    let out = ok(&registry
        .launcher(&store)
        .args(["rmi", &format!("{HOST}/test/app:v1")])
        .output()
        .unwrap());
    assert_eq!(
        out,
        format!("untagged: {HOST}/test/app:v1\n"),
        "v2 still names the image"
    );
    let out = ok(&registry
        .launcher(&store)
        .args(["rmi", &format!("{HOST}/test/other:v1")])
        .output()
        .unwrap());
    assert!(
        out.contains(&format!("deleted: {}", only.manifest)),
        "{out}"
    );
    let error = failed(
        &registry
            .launcher(&store)
            .args(["rmi", &format!("{HOST}/test/other:v1")])
            .output()
            .unwrap(),
        1,
    );
    assert!(error.contains("not in the store"), "{error}");

    // A leftover of a killed pull, and an in-use layer (a container's) that prune must keep.
    std::fs::create_dir_all(store.join("tmp/layer-leftover/usr")).unwrap();
    let lib = launcher::image::Store::new(store.clone());
    let in_use = only.layers[0].diff_id.clone();
    let pruned = lib.prune(std::slice::from_ref(&in_use)).unwrap();
    assert_eq!(
        (pruned.images.len(), pruned.layers, pruned.blobs),
        (0, 0, 3),
        "{pruned:?}"
    );
    assert!(lib.has_layer(&in_use));
    assert_no_leftovers(&store);
    let out = ok(&registry.launcher(&store).arg("prune").output().unwrap());
    assert!(
        out.starts_with("removed 0 images, 1 layers, 0 blobs"),
        "{out}"
    );
    assert!(!lib.has_layer(&in_use));
    for layer in &app.layers {
        assert!(
            lib.has_layer(&layer.diff_id),
            "a layer of test/app:v2 was pruned"
        );
    }
    let table = ok(&registry.launcher(&store).arg("images").output().unwrap());
    assert!(
        table.contains("test/app:v2") && !table.contains("test/other"),
        "{table}"
    );
}
