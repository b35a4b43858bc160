//! Test images, built for real: a busybox root filesystem (rootfs/fill-busybox.sh) repacked
//! by `umoci` into layers, plus layers written as tar files here (whiteouts, an opaque
//! folder, xattrs, hostile paths) and added with `umoci raw add-layer`.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::fill_busybox;

/// Fails the test unless `tool` is on PATH, naming the Debian package that has it.
pub fn require_tool(tool: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
        .unwrap_or(false);
    assert!(found, "this test needs `{tool}`: apt-get install {package}");
}

/// Runs `command`, failing the test with its output when it fails; returns stdout.
pub fn run_ok(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A temporary folder that uid 65534 may enter (tempfile's are 0700), removed when dropped,
/// read-only folders included.
pub struct Scratch {
    dir: Option<tempfile::TempDir>,
}

impl Scratch {
    pub fn new() -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix("launcher-image-test-")
            .tempdir()
            .expect("cannot create a temporary folder");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("cannot chmod the temporary folder");
        Scratch { dir: Some(dir) }
    }

    pub fn path(&self) -> &Path {
        self.dir
            .as_ref()
            .map(|d| d.path())
            .unwrap_or(Path::new("/nonexistent"))
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            let path = dir.keep();
            let _ = launcher::image::store::remove_tree(&path);
        }
    }
}

/// One PAX record: `LEN key=value\n`, LEN counting itself.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = key.len() + value.len() + 3;
    let mut len = body + body.to_string().len();
    if len.to_string().len() != body.to_string().len() {
        len += 1;
    }
    let mut record = format!("{len} {key}=").into_bytes();
    record.extend_from_slice(value);
    record.push(b'\n');
    record
}

/// A tar layer written entry by entry; names are set raw, so hostile ones (`../x`, `/x`) can
/// be written too.
pub struct TarLayer {
    builder: tar::Builder<Vec<u8>>,
}

impl TarLayer {
    pub fn new() -> TarLayer {
        TarLayer {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    fn header(name: &str, kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut header = tar::Header::new_ustar();
        let bytes = name.as_bytes();
        header.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(size);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(1_700_000_000);
        header.set_cksum();
        header
    }

    pub fn dir(mut self, name: &str, mode: u32) -> Self {
        let header = Self::header(name, tar::EntryType::Directory, mode, 0);
        self.builder.append(&header, &[][..]).expect("tar: dir");
        self
    }

    pub fn file(mut self, name: &str, mode: u32, data: &[u8]) -> Self {
        let header = Self::header(name, tar::EntryType::Regular, mode, data.len() as u64);
        self.builder.append(&header, data).expect("tar: file");
        self
    }

    /// A file preceded by a PAX header with `SCHILY.xattr.NAME` records.
    pub fn file_with_xattrs(
        mut self,
        name: &str,
        mode: u32,
        data: &[u8],
        xattrs: &[(&str, &[u8])],
    ) -> Self {
        let mut records = Vec::new();
        for (key, value) in xattrs {
            records.extend(pax_record(&format!("SCHILY.xattr.{key}"), value));
        }
        let pax = Self::header(
            "PaxHeaders/x",
            tar::EntryType::XHeader,
            0o644,
            records.len() as u64,
        );
        self.builder.append(&pax, &records[..]).expect("tar: pax");
        self.file(name, mode, data)
    }

    pub fn symlink(mut self, name: &str, target: &str) -> Self {
        let mut header = Self::header(name, tar::EntryType::Symlink, 0o777, 0);
        header.set_link_name(target).expect("tar: link name");
        header.set_cksum();
        self.builder.append(&header, &[][..]).expect("tar: symlink");
        self
    }

    pub fn hardlink(mut self, name: &str, target: &str) -> Self {
        let mut header = Self::header(name, tar::EntryType::Link, 0o644, 0);
        let bytes = target.as_bytes();
        header.as_old_mut().linkname[..bytes.len()].copy_from_slice(bytes);
        header.set_cksum();
        self.builder
            .append(&header, &[][..])
            .expect("tar: hard link");
        self
    }

    /// Writes the tar to `path`.
    pub fn write(self, path: &Path) {
        let bytes = self.builder.into_inner().expect("tar: finish");
        std::fs::File::create(path)
            .and_then(|mut f| f.write_all(&bytes))
            .expect("cannot write the layer tar");
    }
}

/// An OCI layout folder with the test image, built by umoci.
pub struct TestImage {
    pub layout: PathBuf,
    pub tag: String,
}

impl TestImage {
    /// `oci:LAYOUT:TAG`.
    pub fn oci_ref(&self) -> String {
        format!("oci:{}:{}", self.layout.display(), self.tag)
    }
}

fn umoci(args: &[&str]) -> String {
    run_ok(Command::new("umoci").args(args))
}

/// The base image: layer 1 is the busybox root filesystem with a few files for later layers
/// to change; layer 2 (umoci repack) deletes one of them and adds a hard link pair, a setuid
/// file, a symlink, a file owned by 1000:1000 and a device node; layer 3 (a tar of our own)
/// makes /data opaque and adds a file with a user xattr and a file capability.
pub fn build_image(scratch: &Scratch, tag: &str) -> TestImage {
    require_tool("umoci", "umoci");
    let layout = scratch.join("oci");
    let bundle = scratch.join("bundle");
    let image = format!("{}:{tag}", layout.display());
    if !layout.exists() {
        umoci(&["init", "--layout", &layout.to_string_lossy()]);
    }
    umoci(&["new", "--image", &image]);
    umoci(&["unpack", "--image", &image, &bundle.to_string_lossy()]);
    let rootfs = bundle.join("rootfs");
    fill_busybox(&rootfs);
    std::fs::write(rootfs.join("etc/remove-me"), "to be deleted\n").unwrap();
    std::fs::create_dir_all(rootfs.join("data/old")).unwrap();
    std::fs::write(rootfs.join("data/old/a.txt"), "old\n").unwrap();
    std::fs::write(
        rootfs.join("data/keep-me-not"),
        "hidden by the opaque folder\n",
    )
    .unwrap();
    umoci(&[
        "repack",
        "--refresh-bundle",
        "--image",
        &image,
        &bundle.to_string_lossy(),
    ]);

    std::fs::remove_file(rootfs.join("etc/remove-me")).unwrap();
    std::fs::create_dir_all(rootfs.join("srv")).unwrap();
    std::fs::write(rootfs.join("srv/hard-a"), "linked\n").unwrap();
    std::fs::hard_link(rootfs.join("srv/hard-a"), rootfs.join("srv/hard-b")).unwrap();
    std::fs::write(rootfs.join("srv/setuid"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(
        rootfs.join("srv/setuid"),
        std::fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    std::os::unix::fs::symlink("../bin/busybox", rootfs.join("srv/link")).unwrap();
    std::fs::write(rootfs.join("srv/owned"), "mine\n").unwrap();
    std::os::unix::fs::lchown(rootfs.join("srv/owned"), Some(1000), Some(1000)).unwrap();
    run_ok(
        Command::new("mknod")
            .arg(rootfs.join("srv/null"))
            .args(["c", "1", "3"]),
    );
    umoci(&[
        "repack",
        "--refresh-bundle",
        "--image",
        &image,
        &bundle.to_string_lossy(),
    ]);

    let capability: &[u8] = &[
        0x01, 0x00, 0x00, 0x02, // VFS_CAP_REVISION_2, effective
        0x00, 0x04, 0x00, 0x00, // permitted: CAP_NET_BIND_SERVICE (10)
        0x00, 0x00, 0x00, 0x00, // inheritable
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    let tar = scratch.join("layer3.tar");
    TarLayer::new()
        .dir("data/", 0o755)
        .file("data/.wh..wh..opq", 0o644, b"")
        .file("data/new.txt", 0o644, b"new\n")
        .file_with_xattrs(
            "srv/xattrs",
            0o755,
            b"x\n",
            &[("user.test", b"hello"), ("security.capability", capability)],
        )
        .write(&tar);
    umoci(&[
        "raw",
        "add-layer",
        "--image",
        &image,
        &tar.to_string_lossy(),
    ]);
    let _ = std::fs::remove_file(&tar);
    launcher::image::store::remove_tree(&bundle).expect("cannot remove the bundle");
    TestImage {
        layout,
        tag: tag.to_string(),
    }
}

/// An image of one layer: the busybox root filesystem.
pub fn build_single_layer(scratch: &Scratch, tag: &str) -> TestImage {
    require_tool("umoci", "umoci");
    let layout = scratch.join("oci");
    let bundle = scratch.join("bundle-one");
    let image = format!("{}:{tag}", layout.display());
    if !layout.exists() {
        umoci(&["init", "--layout", &layout.to_string_lossy()]);
    }
    umoci(&["new", "--image", &image]);
    umoci(&["unpack", "--image", &image, &bundle.to_string_lossy()]);
    fill_busybox(&bundle.join("rootfs"));
    umoci(&["repack", "--image", &image, &bundle.to_string_lossy()]);
    launcher::image::store::remove_tree(&bundle).expect("cannot remove the bundle");
    TestImage {
        layout,
        tag: tag.to_string(),
    }
}

/// An image of the base layer plus one layer of `layer` (a hostile one, for refusal tests).
pub fn build_with_layer(scratch: &Scratch, tag: &str, layer: TarLayer) -> TestImage {
    require_tool("umoci", "umoci");
    let layout = scratch.join("oci");
    let image = format!("{}:{tag}", layout.display());
    if !layout.exists() {
        umoci(&["init", "--layout", &layout.to_string_lossy()]);
    }
    umoci(&["new", "--image", &image]);
    let tar = scratch.join(&format!("{tag}.tar"));
    layer.write(&tar);
    umoci(&[
        "raw",
        "add-layer",
        "--image",
        &image,
        &tar.to_string_lossy(),
    ]);
    let _ = std::fs::remove_file(&tar);
    TestImage {
        layout,
        tag: tag.to_string(),
    }
}

/// Adds to the layout an image index of the manifests tagged `entries` (tag, platform) and
/// tags the index `tag`; returns its digest.
pub fn write_index(layout: &Path, entries: &[(&str, &str)], tag: &str) -> String {
    use sha2::Digest as _;
    let index_path = layout.join("index.json");
    let mut top: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
    let mut manifests = Vec::new();
    for (entry_tag, platform) in entries {
        let descriptor = top["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["annotations"]["org.opencontainers.image.ref.name"] == *entry_tag)
            .unwrap_or_else(|| panic!("no manifest tagged {entry_tag}"))
            .clone();
        let parts: Vec<&str> = platform.split('/').collect();
        let mut platform = serde_json::json!({"os": parts[0], "architecture": parts[1]});
        if let Some(variant) = parts.get(2) {
            platform["variant"] = serde_json::json!(variant);
        }
        manifests.push(serde_json::json!({
            "mediaType": descriptor["mediaType"],
            "digest": descriptor["digest"],
            "size": descriptor["size"],
            "platform": platform,
        }));
    }
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    }))
    .unwrap();
    let hex: String = sha2::Sha256::digest(&index)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::fs::write(layout.join("blobs/sha256").join(&hex), &index).unwrap();
    top["manifests"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": format!("sha256:{hex}"),
            "size": index.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }));
    std::fs::write(&index_path, serde_json::to_vec(&top).unwrap()).unwrap();
    format!("sha256:{hex}")
}
