//! HTTPS, the default for any registry but the loopback names: the certificate is checked
//! against the system's CA roots (which SSL_CERT_FILE replaces, as for every rustls-native-certs
//! client), and a certificate they do not vouch for is refused with the reason.

use super::fixtures::{Scratch, build_image};
use super::registry::Registry;
use super::{failed, ok, stored};

#[test]
fn https_is_used_and_the_certificate_is_checked_against_the_system_roots() {
    let (registry, ca) = Registry::start_tls();
    let scratch = Scratch::new();
    let image = build_image(&scratch, "v1");
    registry.push(&image.oci_ref(), "test/app:v1", &[]);
    let store = scratch.join("store");
    let reference = "127.0.0.2:5443/test/app:v1";
    let error = failed(
        &registry
            .launcher(&store)
            .env_remove("SSL_CERT_FILE")
            .env_remove("SSL_CERT_DIR")
            .args(["pull", reference])
            .output()
            .unwrap(),
        1,
    );
    assert!(
        error.contains(&format!(
            "image {reference}: the TLS connection to https://127.0.0.2:5443 failed: "
        )),
        "{error}"
    );
    assert!(
        error.contains("certificate")
            && error.contains("help: the registry's certificate must be signed"),
        "{error}"
    );
    ok(&registry
        .launcher(&store)
        .env("SSL_CERT_FILE", &ca)
        .args(["pull", reference])
        .output()
        .unwrap());
    let (_, stack) = stored(&store, reference);
    assert!(stack.resolve("/bin/sh").unwrap().is_some());
}
