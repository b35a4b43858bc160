//! Containers from images, for real: pulled from the test registry and run by `launcher up`
//! with the image's config merged in (and its origins in the plan), whiteouts honoured, writes
//! kept in a layer of the container's own that goes with it, containers of one image isolated
//! from each other, Container.lock written and followed, and all of it rootless too.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::fixtures::{Scratch, build_image, build_single_layer, run_ok};
use super::registry::{HOST, Registry};
use super::{failed, ok};
use crate::util::{chown_tree, text};

/// A Container.toml in `dir` with `body`, and the launcher to run on it inside the registry's
/// network namespace, with the test's own store, state folder and seccomp cache.
struct Case<'a> {
    registry: &'a Registry,
    dir: PathBuf,
    store: PathBuf,
    /// Run the launcher as uid 65534 (who then owns `dir`).
    rootless: bool,
}

impl<'a> Case<'a> {
    fn new(registry: &'a Registry, scratch: &Scratch, name: &str, body: &str) -> Case<'a> {
        let dir = scratch.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("Container.toml"),
            format!("name = \"{name}\"\n{body}"),
        )
        .unwrap();
        Case {
            registry,
            store: dir.join("store"),
            dir,
            rootless: false,
        }
    }

    fn rootless(mut self) -> Self {
        std::fs::create_dir_all(&self.store).unwrap();
        chown_tree(&self.dir, 65534, 65534);
        self.rootless = true;
        self
    }

    fn file(&self) -> String {
        self.dir.join("Container.toml").display().to_string()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = match self.rootless {
            false => self.registry.launcher_as(&[]),
            true => self.registry.launcher_as(&[
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
            ]),
        };
        command
            .arg("--store")
            .arg(&self.store)
            .arg("--root")
            .arg(self.dir.join("state"))
            .args(args)
            .env("LAUNCHER_CACHE_DIR", self.dir.join("cache"))
            .env("HOME", &self.dir)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .output()
            .expect("cannot run the launcher")
    }

    fn up(&self, extra: &[&str]) -> Output {
        let file = self.file();
        let mut args = vec!["up", file.as_str()];
        args.extend_from_slice(extra);
        self.run(&args)
    }
}

impl Drop for Case<'_> {
    fn drop(&mut self) {
        // Whatever a failed test left running: `rm -f` of every container of its state folder.
        let state = self.dir.join("state");
        if let Ok(entries) = std::fs::read_dir(&state) {
            for entry in entries.filter_map(Result::ok) {
                let name = entry.file_name().to_string_lossy().into_owned();
                let _ = self.run(&["rm", "-f", &name]);
            }
        }
    }
}

/// The test image with a config to merge, pushed as test/app:TAG.
fn configured_image(registry: &Registry, scratch: &Scratch, tag: &str) -> String {
    let image = build_image(scratch, tag);
    configure(&format!("{}:{tag}", image.layout.display()));
    registry.push(&image.oci_ref(), &format!("test/app:{tag}"), &[]);
    format!("{HOST}/test/app:{tag}")
}

/// Gives the umoci image `name` a config to merge: Entrypoint, Cmd, Env, WorkingDir, User.
fn configure(name: &str) {
    run_ok(Command::new("umoci").args([
        "config",
        "--image",
        name,
        "--config.entrypoint",
        "/bin/sh",
        "--config.entrypoint",
        "-c",
        "--config.cmd",
        "echo cmd of the image",
        "--config.env",
        "FROM_IMAGE=image",
        "--config.env",
        "BOTH=image",
        "--config.workingdir",
        "/srv",
        "--config.user",
        "0:0",
    ]));
}

fn plan_json(case: &Case) -> serde_json::Value {
    let file = case.file();
    let out = ok(&case.run(&["plan", &file, "--format", "json"]));
    serde_json::from_str(&out).expect("plan --format json is not JSON")
}

fn step<'v>(plan: &'v serde_json::Value, kind: &str) -> &'v serde_json::Value {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == kind)
        .unwrap_or_else(|| panic!("no {kind} step in {plan:#}"))
}

#[test]
fn an_image_runs_with_its_config_merged_and_its_whiteouts_honoured() {
    let registry = Registry::start();
    let scratch = Scratch::new();
    let reference = configured_image(&registry, &scratch, "v1");
    let case = Case::new(
        &registry,
        &scratch,
        "merged",
        &format!("image = \"{reference}\"\nenv = {{ BOTH = \"file\" }}\n"),
    );
    // The plan says where each value came from.
    let plan = plan_json(&case);
    let exec = step(&plan, "exec");
    assert_eq!(exec["origin"]["image_config"], "Cmd", "{exec:#}");
    assert_eq!(
        exec["args"],
        serde_json::json!(["/bin/sh", "-c", "echo cmd of the image"])
    );
    assert_eq!(
        step(&plan, "workdir")["origin"]["image_config"],
        "WorkingDir"
    );
    assert_eq!(step(&plan, "user")["origin"]["image_config"], "User");
    let overlay = step(&plan, "overlay_rootfs");
    assert_eq!(overlay["layers"].as_array().unwrap().len(), 3);
    assert!(overlay["digest"].as_str().unwrap().starts_with("sha256:"));
    let env = exec["env"].as_array().unwrap();
    assert!(
        env.contains(&serde_json::json!(["FROM_IMAGE", "image"])),
        "{env:?}"
    );
    assert!(
        env.contains(&serde_json::json!(["BOTH", "file"])),
        "the file wins: {env:?}"
    );

    // It runs: the image's command, in its working folder, with the deleted file and the
    // opaque folder's old contents hidden.
    let out = ok(&case.up(&[]));
    assert_eq!(out, "cmd of the image\n");
    let check = ok(&case.up(&[
        "--",
        "pwd; echo $FROM_IMAGE $BOTH; ls /etc/remove-me 2>&1; ls /data; cat /srv/hard-b",
    ]));
    let lines: Vec<&str> = check.lines().collect();
    assert_eq!(lines[0], "/srv", "{check}");
    assert_eq!(lines[1], "image file", "{check}");
    assert!(
        lines[2].contains("No such file"),
        "a whiteout shows: {check}"
    );
    assert_eq!(
        lines[3], "new.txt",
        "an opaque folder shows what it hides: {check}"
    );
    assert_eq!(lines[4], "linked", "{check}");
}

#[test]
fn writes_stay_in_the_containers_own_layer_and_go_with_it() {
    let registry = Registry::start();
    let scratch = Scratch::new();
    let reference = configured_image(&registry, &scratch, "v1");
    let body = format!("image = \"{reference}\"\ncommand = [\"sleep 60\"]\n");
    let a = Case::new(&registry, &scratch, "writer-a", &body);
    let b = Case::new(&registry, &scratch, "writer-b", &body);
    // A foreground container's writes are gone when it ends; the image is unchanged.
    let layer_of = |case: &Case| case.store.join("containers").join("writer-a").join("upper");
    ok(&a.up(&["--", "echo hi > /written; rm /etc/passwd"]));
    assert!(
        !layer_of(&a).exists(),
        "the writable layer outlived its container"
    );
    ok(&a.up(&["--", "test ! -e /written && test -e /etc/passwd"]));

    // Two detached containers of one image: each sees only its own writes.
    ok(&a.up(&["-d"]));
    ok(&b.up(&["-d"]));
    ok(&a.run(&[
        "exec",
        "writer-a",
        "--",
        "sh",
        "-c",
        "echo mine > /srv/only-a",
    ]));
    let seen = b.run(&["exec", "writer-b", "--", "cat", "/srv/only-a"]);
    assert_ne!(
        seen.status.code(),
        Some(0),
        "b sees a's write: {}",
        text(&seen.stdout)
    );
    // A stopped container keeps what it wrote until `rm`.
    ok(&a.run(&["stop", "-t", "0", "writer-a"]));
    let upper = layer_of(&a).join("srv/only-a");
    assert_eq!(std::fs::read_to_string(&upper).unwrap(), "mine\n");
    ok(&a.run(&["rm", "writer-a"]));
    assert!(!layer_of(&a).exists(), "rm left the writable layer");
    ok(&b.run(&["rm", "-f", "writer-b"]));
    // The image's layers never changed.
    let stored = std::fs::read_dir(a.store.join("layers/sha256"))
        .unwrap()
        .count();
    assert_eq!(stored, 3);
    for layer in std::fs::read_dir(a.store.join("layers/sha256")).unwrap() {
        let layer = layer.unwrap().path();
        assert!(!layer.join("srv/only-a").exists() && !layer.join("written").exists());
    }
}

#[test]
fn container_lock_is_written_by_the_first_up_followed_after_and_checked() {
    let registry = Registry::start();
    let scratch = Scratch::new();
    let first = configured_image(&registry, &scratch, "v1");
    let case = Case::new(
        &registry,
        &scratch,
        "locked",
        &format!(
            "image = \"{first}\"\ncommand = [\"cat /etc/hostname-of-the-image 2>/dev/null || echo first\"]\n"
        ),
    );
    let strict = |case: &Case| {
        let file = case.file();
        case.run(&["check", "--locked", &file])
    };
    let err = failed(&strict(&case), 1);
    assert!(err.contains("Container.lock"), "no lock yet: {err}");
    assert_eq!(ok(&case.up(&[])), "first\n");
    let lock = std::fs::read_to_string(case.dir.join("Container.lock")).unwrap();
    assert!(lock.contains(&format!("ref = \"{first}\"")), "{lock}");
    ok(&strict(&case));

    // The tag moves to another image; the locked digest keeps running the first.
    let scratch2 = Scratch::new();
    let image = build_image(&scratch2, "v1");
    let bundle = scratch2.join("bundle");
    let name = format!("{}:v1", image.layout.display());
    run_ok(
        Command::new("umoci")
            .args(["unpack", "--image", &name])
            .arg(&bundle),
    );
    std::fs::write(bundle.join("rootfs/etc/hostname-of-the-image"), "second\n").unwrap();
    run_ok(
        Command::new("umoci")
            .args(["repack", "--image", &name])
            .arg(&bundle),
    );
    configure(&name);
    registry.push(&image.oci_ref(), "test/app:v1", &[]);
    assert_eq!(ok(&case.up(&[])), "first\n", "the lock was not followed");
    // `lock --update` takes the moved tag.
    let file = case.file();
    ok(&case.run(&["lock", "--update", &file]));
    assert_eq!(ok(&case.up(&[])), "second\n");
    ok(&strict(&case));
    // A file that names another image than the lock pins: stale for `check --locked`.
    let toml = std::fs::read_to_string(case.dir.join("Container.toml")).unwrap();
    std::fs::write(
        case.dir.join("Container.toml"),
        toml.replace("test/app:v1", "test/app:v2"),
    )
    .unwrap();
    let err = failed(&strict(&case), 1);
    assert!(
        err.contains("does not pin") || err.contains("stale"),
        "{err}"
    );
}

#[test]
fn a_rootless_user_pulls_and_runs_an_image() {
    let registry = Registry::start();
    let scratch = Scratch::new();
    let reference = configured_image(&registry, &scratch, "v1");
    let case = Case::new(
        &registry,
        &scratch,
        "rootless-image",
        &format!(
            "image = \"{reference}\"\ncommand = [\"id -u; ls /etc/remove-me 2>&1; ls /data; echo x > /new && cat /new\"]\n"
        ),
    )
    .rootless();
    let output = case.up(&[]);
    let out = ok(&output);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0", "root in its user namespace: {out}");
    assert!(lines[1].contains("No such file"), "a whiteout shows: {out}");
    assert_eq!(lines[2], "new.txt", "{out}");
    assert_eq!(lines[3], "x", "{out}");
    assert!(
        !Path::new(&case.store.join("containers/rootless-image")).exists(),
        "the writable layer outlived its container"
    );
}

#[test]
fn a_read_only_root_runs_from_images_of_one_layer_and_of_several() {
    let registry = Registry::start();
    let scratch = Scratch::new();
    let one = build_single_layer(&scratch, "one");
    let several = configured_image(&registry, &scratch, "v1");
    let script = "cat /etc/passwd >/dev/null && echo read; echo x > /written 2>&1 || echo refused";
    for (name, reference, layers) in [("ro-one", one.oci_ref(), 1), ("ro-several", several, 3)] {
        let case = Case::new(
            &registry,
            &scratch,
            name,
            &format!(
                "image = \"{reference}\"\nentrypoint = [\"/bin/sh\", \"-c\"]\ncommand = [\"{script}\"]\n[rootfs]\nreadonly = true\n"
            ),
        );
        let plan = plan_json(&case);
        let overlay = step(&plan, "overlay_rootfs");
        assert!(
            overlay["upper"].is_null(),
            "a read-only root has no upper: {overlay:#}"
        );
        // One layer gets the store's empty layer under it: an overlay without upper needs two.
        let lowers = overlay["layers"].as_array().unwrap();
        assert_eq!(lowers.len(), layers.max(2), "{overlay:#}");
        let out = ok(&case.up(&[]));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.first(), Some(&"read"), "{name}: {out}");
        assert_eq!(lines.last(), Some(&"refused"), "{name}: {out}");
        assert!(
            !case.store.join("containers").join(name).exists(),
            "{name}: a read-only root made a writable layer"
        );
    }
}
