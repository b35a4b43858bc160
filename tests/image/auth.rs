//! Credentials: a registry that asks for them (htpasswd, a Basic challenge), refused without
//! them and with wrong ones (naming the auth files read), and pulled with the ones of an auth
//! file.

use base64::Engine as _;

use super::fixtures::{Scratch, build_image};
use super::registry::{HOST, Registry};
use super::{failed, ok, stored};

/// `tester:s3cret`, bcrypt with cost 4 (the registry checks it on every request).
const HTPASSWD: &str = "tester:$2b$04$rNxIG4f3LTDRMunQT/8dmumm813KU31U18gGvFrx26te2hObbSHvC";

fn auth_file(path: &std::path::Path, pair: &str) {
    let auth = base64::engine::general_purpose::STANDARD.encode(pair);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        path,
        format!(r#"{{"auths":{{"{HOST}":{{"auth":"{auth}"}}}}}}"#),
    )
    .unwrap();
}

#[test]
fn credentials_come_from_the_auth_files_and_a_denial_names_them() {
    let registry = Registry::start_with(Some(HTPASSWD));
    let scratch = Scratch::new();
    let image = build_image(&scratch, "v1");
    registry.push(
        &image.oci_ref(),
        "private/app:v1",
        &["--dest-creds", "tester:s3cret"],
    );
    let store = scratch.join("store");
    let home = scratch.join("home");
    std::fs::create_dir(&home).unwrap();
    let reference = format!("{HOST}/private/app:v1");
    let pull = |auth_file: Option<&std::path::Path>| {
        let mut command = registry.launcher(&store);
        command
            .env_remove("REGISTRY_AUTH_FILE")
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("DOCKER_CONFIG")
            .env("HOME", &home)
            .args(["pull", &reference]);
        if let Some(file) = auth_file {
            command.env("REGISTRY_AUTH_FILE", file);
        }
        command.output().unwrap()
    };
    let error = failed(&pull(None), 1);
    assert!(
        error.contains(&format!(
            "image {reference}: the registry {HOST} denied access (HTTP 401), without credentials"
        )),
        "{error}"
    );
    assert!(
        error.contains(&format!("podman login {HOST}")) && error.contains("(no auth file exists)"),
        "{error}"
    );

    let wrong = scratch.join("wrong.json");
    auth_file(&wrong, "tester:wrong");
    let error = failed(&pull(Some(&wrong)), 1);
    assert!(
        error.contains("denied access (HTTP 401), with the credentials of the auth file"),
        "{error}"
    );
    assert!(
        error.contains(&format!("(read: {})", wrong.display())),
        "{error}"
    );

    auth_file(&home.join(".docker/config.json"), "tester:s3cret");
    ok(&pull(None));
    let (_, stack) = stored(&store, &reference);
    assert!(stack.resolve("/bin/sh").unwrap().is_some());
}
