//! What a pull refuses, and how it says so: a blob whose bytes differ from its digest, layer
//! entries that would land outside their folder, a missing repository or tag, a registry
//! that does not answer; and that an image in the store needs no client at all.

use launcher::image::pull::{PullOptions, PullPolicy, ensure};
use launcher::image::{Reference, Store, registry};

use super::fixtures::{Scratch, TarLayer, build_image, build_with_layer};
use super::registry::{HOST, Registry};
use super::{assert_no_leftovers, failed, ok, stored};
use crate::util::{launcher, require_root};

#[test]
fn a_corrupted_blob_in_the_registry_is_refused_and_nothing_of_it_is_kept() {
    let registry = Registry::start();
    let scratch = Scratch::new();
    let image = build_image(&scratch, "v1");
    registry.push(&image.oci_ref(), "test/app:v1", &[]);
    // The largest blob of the registry's storage is the busybox layer.
    let blobs = registry.storage().join("docker/registry/v2/blobs/sha256");
    let mut largest = (0, std::path::PathBuf::new());
    for prefix in std::fs::read_dir(&blobs).unwrap() {
        for blob in std::fs::read_dir(prefix.unwrap().path()).unwrap() {
            let data = blob.unwrap().path().join("data");
            let size = std::fs::metadata(&data).unwrap().len();
            if size > largest.0 {
                largest = (size, data);
            }
        }
    }
    let digest = format!(
        "sha256:{}",
        largest
            .1
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
    );
    let mut bytes = std::fs::read(&largest.1).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&largest.1, &bytes).unwrap();

    let store = scratch.join("store");
    let reference = format!("{HOST}/test/app:v1");
    let error = failed(
        &registry
            .launcher(&store)
            .args(["pull", &reference])
            .output()
            .unwrap(),
        1,
    );
    assert!(
        error.contains(&format!("image {reference}: layer blob {digest}: digest mismatch: expected {digest}, got sha256:")),
        "{error}"
    );
    assert!(
        error.contains("help: the source sent other bytes"),
        "{error}"
    );
    let lib = Store::new(store.clone());
    assert!(
        !lib.blob_path(&launcher::image::Digest::parse(&digest).unwrap())
            .exists()
    );
    assert!(lib.lookup(&reference).unwrap().is_none());
    assert_eq!(
        std::fs::read_dir(store.join("images/sha256"))
            .unwrap()
            .count(),
        0
    );
    assert_no_leftovers(&store);
}

/// Pulls an image whose second layer is `layer`; returns the error.
fn refused(layer: TarLayer) -> (Scratch, String) {
    require_root();
    let scratch = Scratch::new();
    let image = build_with_layer(&scratch, "bad", layer);
    let store = scratch.join("store");
    let output = launcher(&[
        "--store",
        &store.to_string_lossy(),
        "pull",
        &image.oci_ref(),
    ])
    .output()
    .unwrap();
    let error = failed(&output, 1);
    assert_no_leftovers(&store);
    assert!(
        Store::new(store)
            .lookup(&image.oci_ref())
            .unwrap()
            .is_none()
    );
    (scratch, error)
}

#[test]
fn an_entry_with_dotdot_is_refused_and_named() {
    let (scratch, error) = refused(TarLayer::new().file("ok.txt", 0o644, b"ok").file(
        "../escape.txt",
        0o644,
        b"bad",
    ));
    assert!(
        error.contains("entry \"../escape.txt\": a `..` component leads outside the layer"),
        "{error}"
    );
    assert!(
        error.contains("help: the layer tries to write outside its folder"),
        "{error}"
    );
    assert!(
        !scratch.join("store/tmp/escape.txt").exists()
            && !scratch.join("store/escape.txt").exists()
    );
}

#[test]
fn absolute_paths_symlinked_parents_and_outside_hard_links_are_refused() {
    let (_s, error) = refused(TarLayer::new().file("/abs.txt", 0o644, b"bad"));
    assert!(
        error.contains("entry \"/abs.txt\": an absolute path"),
        "{error}"
    );

    let outside = Scratch::new();
    let target = outside.path().display().to_string();
    let (_s, error) = refused(TarLayer::new().symlink("link", &target).file(
        "link/owned.txt",
        0o644,
        b"bad",
    ));
    assert!(
        error.contains("entry \"link/owned.txt\": its parent link is a symlink"),
        "{error}"
    );
    assert!(
        !outside.join("owned.txt").exists(),
        "an entry was written through a symlink"
    );

    let (_s, error) = refused(TarLayer::new().hardlink("passwd", "../../../../etc/passwd"));
    assert!(
        error.contains("entry \"passwd\": its hard link target \"../../../../etc/passwd\""),
        "{error}"
    );
    let (_s, error) = refused(
        TarLayer::new()
            .symlink("etc", "/etc")
            .hardlink("shadow", "etc/shadow"),
    );
    assert!(
        error.contains("entry \"shadow\": its hard link target \"etc/shadow\""),
        "{error}"
    );
}

#[test]
fn missing_repositories_and_tags_and_an_unreachable_registry_name_the_ref() {
    let registry = Registry::start();
    let scratch = Scratch::new();
    let image = build_image(&scratch, "v1");
    registry.push(&image.oci_ref(), "test/app:v1", &[]);
    let store = scratch.join("store");
    let pull = |reference: &str| {
        registry
            .launcher(&store)
            .args(["pull", reference])
            .output()
            .unwrap()
    };
    let error = failed(&pull(&format!("{HOST}/test/nothing:v1")), 1);
    assert!(
        error.contains(&format!("image {HOST}/test/nothing:v1: ")) && error.contains("(HTTP 404)"),
        "{error}"
    );
    let error = failed(&pull(&format!("{HOST}/test/app:v9")), 1);
    assert!(
        error.contains(&format!(
            "the tag v9 of test/app is not in the registry {HOST} (HTTP 404)"
        )),
        "{error}"
    );
    let error = failed(&pull("127.0.0.1:5999/test/app:v1"), 1);
    assert!(
        error.contains("image 127.0.0.1:5999/test/app:v1: cannot reach the registry at http://127.0.0.1:5999: Connection refused (os error 111)"),
        "{error}"
    );
    let error = failed(&pull("Test/App"), 2);
    assert!(
        error.contains("is not an image reference") && error.contains("lowercase"),
        "{error}"
    );
    assert_no_leftovers(&store);
}

#[test]
fn an_image_in_the_store_is_used_without_a_client_and_never_pulls_nothing() {
    let registry = Registry::start();
    let scratch = Scratch::new();
    let image = build_image(&scratch, "v1");
    registry.push(&image.oci_ref(), "test/app:v1", &[]);
    let store = scratch.join("store");
    let reference = format!("{HOST}/test/app:v1");
    ok(&registry
        .launcher(&store)
        .args(["pull", &reference])
        .output()
        .unwrap());
    drop(registry);
    let (record, _) = stored(&store, &reference);
    let lib = Store::new(store.clone());
    let parsed = Reference::parse(&reference, scratch.path()).unwrap();
    let before = registry::agents_built();
    let found = ensure(&lib, &parsed, PullPolicy::Missing, &PullOptions::default()).unwrap();
    assert_eq!(found, record);
    assert_eq!(
        registry::agents_built(),
        before,
        "a stored image made an HTTP client"
    );
    // A digest from Container.lock finds the image whatever ref pulled it.
    let pinned = Reference::parse(
        &format!("{HOST}/test/app@{}", record.manifest),
        scratch.path(),
    )
    .unwrap();
    assert_eq!(
        ensure(&lib, &pinned, PullPolicy::Missing, &PullOptions::default()).unwrap(),
        record
    );
    assert_eq!(
        registry::agents_built(),
        before,
        "a pinned digest in the store made an HTTP client"
    );
    let missing = Reference::parse(&format!("{HOST}/test/other:v1"), scratch.path()).unwrap();
    let error = ensure(&lib, &missing, PullPolicy::Never, &PullOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "image {HOST}/test/other:v1: not in the store {}",
            store.display()
        )
    );
    assert_eq!(registry::agents_built(), before);
}

#[test]
fn a_full_disk_while_unpacking_is_named_and_leaves_nothing_half_written() {
    require_root();
    let scratch = Scratch::new();
    let image = build_image(&scratch, "v1");
    let store = scratch.join("store");
    std::fs::create_dir(&store).unwrap();
    // A 1.5 MiB tmpfs as the store, in a private mount namespace: the busybox layer's blob
    // fits, the unpacked layer does not. The store is listed before the namespace (and its
    // tmpfs) goes.
    let script = format!(
        "mount --make-rprivate / && mount -t tmpfs -o size=1536k tmpfs {store} && \
         \"$LAUNCHER\" --store {store} pull {reference}; echo \"exit=$?\"; find {store}/tmp {store}/images/sha256 -mindepth 1; echo layers:; ls {store}/layers/sha256",
        store = store.display(),
        reference = image.oci_ref(),
    );
    let output = crate::util::shell_with_launcher(
        "unshare",
        &["--mount", "--propagation", "private", "sh", "-c", &script],
    )
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let (before, layers) = stdout.split_once("layers:\n").unwrap_or((&stdout, ""));
    assert_eq!(
        before.trim(),
        "exit=1",
        "a pull on a full disk left files behind, or did not fail:\n{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "image {}: disk full while unpacking \"bin/busybox\"",
            image.oci_ref()
        )),
        "{stderr}"
    );
    // The layer that did not fit is not in the store (the smaller ones may be, whole).
    let failed_layer = stderr
        .split("tmp/layer-")
        .nth(1)
        .map(|rest| &rest[..64])
        .expect("the error names the layer folder");
    assert!(
        !layers.contains(failed_layer),
        "the layer that did not fit is in the store: {layers}"
    );
    assert!(
        stderr.contains("help: free space on the store's file system"),
        "{stderr}"
    );
    assert!(
        std::fs::read_dir(&store).unwrap().next().is_none(),
        "the tmpfs leaked out of its namespace"
    );
}
