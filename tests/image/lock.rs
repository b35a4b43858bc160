//! Container.lock: written, read back, and checked against the refs of a file.

use launcher::image::lockfile::{LockError, LockFile, LockStatus};
use launcher::image::{Digest, Platform};

use super::fixtures::Scratch;

#[test]
fn a_lock_is_written_read_back_and_reports_missing_and_stale_refs() {
    let scratch = Scratch::new();
    let toml = scratch.join("Container.toml");
    let path = LockFile::path_for(&toml);
    assert_eq!(path, scratch.join("Container.lock"));
    assert!(LockFile::read(&path).unwrap().is_none(), "no lock yet");

    let amd64 = Platform::parse("linux/amd64").unwrap();
    let alpine = Digest::of(b"alpine manifest");
    let layout = Digest::of(b"layout manifest");
    let mut lock = LockFile::new();
    lock.set("alpine:3.20", alpine.clone(), &amd64);
    lock.set("oci:layout:v1", layout.clone(), &amd64);
    lock.set("alpine:3.20", alpine.clone(), &amd64);
    lock.write(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# Container.lock"), "{text}");
    assert!(
        text.contains(&format!(
            "[[image]]\nref = \"alpine:3.20\"\ndigest = \"{alpine}\"\nplatform = \"linux/amd64\""
        )),
        "{text}"
    );

    let read = LockFile::read(&path).unwrap().unwrap();
    assert_eq!(read, lock_sorted(lock));
    assert_eq!(
        read.status("alpine:3.20", &amd64),
        LockStatus::Locked(alpine)
    );
    assert_eq!(read.status("alpine:3.21", &amd64), LockStatus::Missing);
    let arm = Platform::parse("linux/arm64/v8").unwrap();
    assert_eq!(
        read.status("alpine:3.20", &arm),
        LockStatus::Stale {
            why: "locked for linux/amd64, wanted for linux/arm64/v8".into()
        }
    );
    let extra: Vec<_> = read
        .extra(&["alpine:3.20"])
        .into_iter()
        .map(|i| i.reference.clone())
        .collect();
    assert_eq!(extra, ["oci:layout:v1"]);

    std::fs::write(
        &path,
        "version = 1\n[[image]]\nref = \"x\"\ndigest = \"sha256:12\"\nplatform = \"linux/amd64\"\n",
    )
    .unwrap();
    match LockFile::read(&path) {
        Err(error @ LockError::Invalid { .. }) => {
            assert!(
                error
                    .to_string()
                    .contains("Container.lock: not a Container.lock")
                    && error.to_string().contains("64"),
                "{error}"
            );
        }
        other => panic!("a bad digest was accepted: {other:?}"),
    }
}

fn lock_sorted(mut lock: LockFile) -> LockFile {
    lock.images.sort_by(|a, b| a.reference.cmp(&b.reference));
    lock
}
