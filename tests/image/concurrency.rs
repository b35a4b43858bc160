//! Pulls at once and pulls killed: ten pulls of one image fetch and unpack each layer once; a
//! pull killed with SIGKILL at any point leaves nothing half-visible, and the next pull
//! finishes the job.

use std::process::Stdio;
use std::time::{Duration, Instant};

use launcher::image::{Digest, Store};

use super::fixtures::{Scratch, TarLayer, build_image, run_ok};
use super::registry::{HOST, Registry};
use super::{assert_no_leftovers, merged_tree, ok, stored};

#[test]
fn ten_parallel_pulls_of_one_image_fetch_and_unpack_each_layer_once() {
    let registry = Registry::start();
    let scratch = Scratch::new();
    let image = build_image(&scratch, "v1");
    registry.push(&image.oci_ref(), "test/app:v1", &[]);
    let store = scratch.join("store");
    let reference = format!("{HOST}/test/app:v1");
    let children: Vec<_> = (0..10)
        .map(|_| {
            registry
                .launcher(&store)
                .args(["pull", &reference])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        ok(&child.wait_with_output().unwrap());
    }
    let (record, stack) = stored(&store, &reference);
    for layer in &record.layers {
        assert_eq!(
            registry.blob_gets(&layer.digest.to_string()),
            1,
            "layer {} was fetched more than once",
            layer.digest
        );
    }
    assert_eq!(
        std::fs::read_dir(store.join("layers/sha256"))
            .unwrap()
            .count(),
        3
    );
    assert!(stack.resolve("/bin/sh").unwrap().is_some());
    assert_no_leftovers(&store);
}

/// A layer of 48 MiB that does not compress, so a pull takes long enough to be killed in
/// its download and in its unpacking.
fn big_layer() -> TarLayer {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let data: Vec<u8> = (0..48 * 1024 * 1024 / 8)
        .flat_map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()
        })
        .collect();
    TarLayer::new()
        .dir("big/", 0o755)
        .file("big/random", 0o644, &data)
}

/// Every blob in the store has the digest it is named by; every layer folder is whole (the
/// same tree as in a finished pull); the ref names a whole image or nothing.
fn assert_nothing_half_visible(
    store: &std::path::Path,
    complete: &std::path::Path,
    reference: &str,
) {
    use sha2::Digest as _;
    for blob in std::fs::read_dir(store.join("blobs/sha256"))
        .into_iter()
        .flatten()
    {
        let blob = blob.unwrap().path();
        let bytes = std::fs::read(&blob).unwrap();
        let hex: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            blob.file_name().unwrap().to_string_lossy(),
            "blob {} is not whole",
            blob.display()
        );
    }
    for layer in std::fs::read_dir(store.join("layers/sha256"))
        .into_iter()
        .flatten()
    {
        let name = layer.unwrap().file_name();
        let listing = |root: &std::path::Path| {
            run_ok(
                std::process::Command::new("find")
                    .arg(root.join("layers/sha256").join(&name))
                    .args(["-printf", "%P %y %s %m\n"]),
            )
        };
        let mut got: Vec<String> = listing(store).lines().map(str::to_string).collect();
        let mut want: Vec<String> = listing(complete).lines().map(str::to_string).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "layer {} is not whole", name.to_string_lossy());
    }
    let lib = Store::new(store.to_path_buf());
    if let Some(record) = lib.lookup(reference).unwrap() {
        assert!(lib.is_whole(&record));
    }
}

/// When to kill a running pull.
type KillPoint<'a> = Box<dyn Fn() -> bool + 'a>;

#[test]
fn a_pull_killed_with_sigkill_at_any_point_leaves_nothing_half_visible() {
    let registry = Registry::start();
    let scratch = Scratch::new();
    let image = build_image(&scratch, "v1");
    run_ok(
        std::process::Command::new("umoci")
            .args([
                "raw",
                "add-layer",
                "--image",
                &format!("{}:v1", image.layout.display()),
            ])
            .arg({
                let tar = scratch.join("big.tar");
                big_layer().write(&tar);
                tar
            }),
    );
    registry.push(&image.oci_ref(), "test/big:v1", &[]);
    let reference = format!("{HOST}/test/big:v1");
    let complete = scratch.join("complete");
    ok(&registry
        .launcher(&complete)
        .args(["pull", &reference])
        .output()
        .unwrap());
    let (record, want_stack) = stored(&complete, &reference);
    let want = merged_tree(&want_stack, true);
    let big = record.layers.last().unwrap();
    let hex = |d: &Digest| d.hex().to_string();

    let store = scratch.join("store");
    let downloading = store.join(format!("tmp/blob-{}", hex(&big.digest)));
    let unpacking = store.join(format!("tmp/layer-{}", hex(&big.diff_id)));
    // Kill when the big blob is being downloaded, when it is being unpacked, and at delays.
    let points: Vec<(&str, KillPoint)> = vec![
        ("downloading", Box::new(|| downloading.exists())),
        ("unpacking", Box::new(|| unpacking.exists())),
        (
            "after 5 ms",
            Box::new({
                let t = Instant::now();
                move || t.elapsed() > Duration::from_millis(5)
            }),
        ),
        (
            "after 40 ms",
            Box::new({
                let t = Instant::now();
                move || t.elapsed() > Duration::from_millis(40)
            }),
        ),
    ];
    for (name, reached) in points {
        // Start from what the previous kill left, minus the finished big layer, so that each
        // kill lands in work still to do.
        let _ = launcher::image::store::remove_tree(
            &store.join("layers/sha256").join(hex(&big.diff_id)),
        );
        let _ = std::fs::remove_file(store.join("blobs/sha256").join(hex(&big.digest)));
        let mut child = registry
            .launcher(&store)
            .args(["pull", &reference])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut hit = false;
        while Instant::now() < deadline {
            if reached() {
                hit = true;
                break;
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        child.kill().unwrap_or(());
        let status = child.wait().unwrap();
        if name == "downloading" || name == "unpacking" {
            assert!(hit, "the pull ended ({status}) before it was {name}");
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(
                status.signal(),
                Some(9),
                "the pull was not killed while {name}"
            );
        }
        assert_nothing_half_visible(&store, &complete, &reference);
    }
    // The next pull finishes the job, and removes what the killed ones left in tmp/.
    ok(&registry
        .launcher(&store)
        .args(["pull", &reference])
        .output()
        .unwrap());
    let (_, stack) = stored(&store, &reference);
    assert_eq!(merged_tree(&stack, true), want);
    assert_nothing_half_visible(&store, &complete, &reference);
    assert_no_leftovers(&store);
}
