//! A synchronous client of the OCI distribution API (ureq, rustls with the system's CA
//! roots): manifests by tag or digest, blobs streamed, and the bearer-token flow. The HTTP
//! agent (and with it TLS) is made on the first request, never before: a source that is only
//! opened, as for an image already in the store, costs nothing.

pub mod auth;

use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use auth::{Credentials, Lookup};

use super::digest::Digest;
use super::error::ErrorKind;
use super::manifest::{ACCEPT_MANIFESTS, Descriptor};
use super::platform::Platform;
use super::reference::RegistryRef;
use super::source::{Fetched, Source, pick, read_limited, verify};

/// How many HTTP agents this process has made (tests check that a stored image needs none).
static AGENTS_BUILT: AtomicUsize = AtomicUsize::new(0);

pub fn agents_built() -> usize {
    AGENTS_BUILT.load(Ordering::Relaxed)
}

/// Plain HTTP is used only for a registry on the loopback (`localhost`, `127.0.0.1`, `::1`)
/// or one the caller lists as insecure (by `host` or `host:port`).
pub fn plain_http_allowed(reference: &RegistryRef, insecure: &[String]) -> bool {
    let host = reference.host_name();
    matches!(host, "localhost" | "127.0.0.1" | "::1")
        || insecure
            .iter()
            .any(|i| *i == reference.registry || *i == host)
}

pub struct Registry {
    reference: RegistryRef,
    base: String,
    agent: OnceLock<ureq::Agent>,
    /// The `Authorization` value that worked (a bearer token, or basic credentials).
    authorization: Mutex<Option<String>>,
    auth_files: Vec<PathBuf>,
    lookup: OnceLock<Lookup>,
}

impl Registry {
    pub fn new(reference: RegistryRef, insecure: &[String]) -> Registry {
        let scheme = match plain_http_allowed(&reference, insecure) {
            true => "http",
            false => "https",
        };
        let base = format!("{scheme}://{}", reference.api_host());
        Registry {
            reference,
            base,
            agent: OnceLock::new(),
            authorization: Mutex::new(None),
            auth_files: auth::auth_files(),
            lookup: OnceLock::new(),
        }
    }

    fn agent(&self) -> &ureq::Agent {
        self.agent.get_or_init(|| {
            AGENTS_BUILT.fetch_add(1, Ordering::Relaxed);
            let tls = ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::PlatformVerifier)
                .build();
            let config = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .user_agent(concat!("launcher/", env!("CARGO_PKG_VERSION")))
                .timeout_connect(Some(Duration::from_secs(30)))
                .timeout_per_read(Some(Duration::from_secs(120)))
                .tls_config(tls)
                .build();
            ureq::Agent::new_with_config(config)
        })
    }

    fn credentials(&self) -> &Lookup {
        self.lookup.get_or_init(|| {
            auth::lookup(
                &self.auth_files,
                &self.reference.registry,
                &self.reference.repository,
            )
        })
    }

    fn unreachable(&self, error: ureq::Error) -> ErrorKind {
        let tls = match &error {
            ureq::Error::Rustls(e) => Some(e.to_string()),
            ureq::Error::Tls(e) => Some(e.to_string()),
            ureq::Error::Io(e) if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) => {
                Some(e.to_string())
            }
            _ => None,
        };
        if let Some(why) = tls {
            return ErrorKind::Tls {
                host: self.base.clone(),
                why,
            };
        }
        let source = match error {
            ureq::Error::Io(e) => e,
            ureq::Error::HostNotFound => {
                io::Error::new(io::ErrorKind::NotFound, "host name not found (DNS)")
            }
            ureq::Error::Timeout(t) => {
                io::Error::new(io::ErrorKind::TimedOut, format!("timed out ({t})"))
            }
            other => io::Error::other(other.to_string()),
        };
        ErrorKind::Unreachable {
            host: self.base.clone(),
            source,
        }
    }

    fn denied(&self, status: u16) -> ErrorKind {
        let lookup = self.credentials();
        ErrorKind::Denied {
            registry: self.reference.registry.clone(),
            status,
            sent_credentials: lookup.credentials.is_some(),
            auth_files: lookup.read.clone(),
        }
    }

    /// GET `url`; on a 401 authenticates as the challenge asks and tries once more.
    fn get(
        &self,
        url: &str,
        accept: Option<&str>,
        what: &str,
    ) -> Result<ureq::http::Response<ureq::Body>, ErrorKind> {
        for attempt in 0..2 {
            let mut request = self.agent().get(url);
            if let Some(accept) = accept {
                request = request.header("Accept", accept);
            }
            let authorization = self.authorization.lock().ok().and_then(|a| a.clone());
            if let Some(value) = &authorization {
                request = request.header("Authorization", value);
            }
            let response = request.call().map_err(|e| self.unreachable(e))?;
            let status = response.status().as_u16();
            match status {
                200..=299 => return Ok(response),
                401 if attempt == 0 => {
                    let challenge = response
                        .headers()
                        .get("www-authenticate")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    self.authenticate(challenge.as_deref(), status)?;
                }
                401 | 403 => return Err(self.denied(status)),
                404 => {
                    let code = error_code(response);
                    let what = match code.as_deref() {
                        Some("NAME_UNKNOWN") => {
                            format!("the repository {}", self.reference.repository)
                        }
                        Some("MANIFEST_UNKNOWN") => {
                            format!("{what} of {}", self.reference.repository)
                        }
                        _ => format!("{what} of {}", self.reference.repository),
                    };
                    return Err(ErrorKind::NotFound {
                        registry: self.reference.registry.clone(),
                        what,
                    });
                }
                _ => {
                    return Err(ErrorKind::Http {
                        url: url.to_string(),
                        status,
                        detail: error_code(response).unwrap_or_default(),
                    });
                }
            }
        }
        Err(self.denied(401))
    }

    fn authenticate(&self, challenge: Option<&str>, status: u16) -> Result<(), ErrorKind> {
        let credentials: Option<Credentials> = self.credentials().credentials.clone();
        let Some(challenge) = challenge.and_then(auth::parse_challenge) else {
            return Err(self.denied(status));
        };
        let value = match challenge.scheme.as_str() {
            "basic" => match &credentials {
                Some(credentials) => credentials.basic(),
                None => return Err(self.denied(status)),
            },
            "bearer" => {
                let Some(realm) = challenge.params.get("realm") else {
                    return Err(self.denied(status));
                };
                let scope =
                    challenge.params.get("scope").cloned().unwrap_or_else(|| {
                        format!("repository:{}:pull", self.reference.repository)
                    });
                let mut url = format!("{realm}?scope={}", encode(&scope));
                if let Some(service) = challenge.params.get("service") {
                    url.push_str(&format!("&service={}", encode(service)));
                }
                let mut request = self.agent().get(&url);
                if let Some(credentials) = &credentials {
                    request = request.header("Authorization", credentials.basic());
                }
                let response = request.call().map_err(|e| self.unreachable(e))?;
                let status = response.status().as_u16();
                if !(200..300).contains(&status) {
                    return Err(self.denied(status));
                }
                let body = read_limited(response.into_body().into_reader(), "the token answer")?;
                #[derive(serde::Deserialize)]
                struct Token {
                    token: Option<String>,
                    access_token: Option<String>,
                }
                let token: Token =
                    serde_json::from_slice(&body).map_err(|e| ErrorKind::BadDocument {
                        what: format!("the token answer of {realm}"),
                        why: e.to_string(),
                    })?;
                match token.token.or(token.access_token) {
                    Some(token) => format!("Bearer {token}"),
                    None => return Err(self.denied(status)),
                }
            }
            _ => return Err(self.denied(status)),
        };
        if let Ok(mut authorization) = self.authorization.lock() {
            *authorization = Some(value);
        }
        Ok(())
    }

    fn manifest_by(&self, reference: &str, what: &str) -> Result<Fetched, ErrorKind> {
        let url = format!(
            "{}/v2/{}/manifests/{reference}",
            self.base, self.reference.repository
        );
        let response = self.get(&url, Some(ACCEPT_MANIFESTS), what)?;
        let media_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string())
            .unwrap_or_default();
        let bytes = read_limited(response.into_body().into_reader(), &url)?;
        Ok(Fetched {
            digest: Digest::of(&bytes),
            bytes,
            media_type,
        })
    }
}

/// The `code` of a registry's JSON error body.
fn error_code(response: ureq::http::Response<ureq::Body>) -> Option<String> {
    let body = read_limited(response.into_body().into_reader(), "error").ok()?;
    let value: serde_json::Value = serde_json::from_slice(&body).ok()?;
    value["errors"][0]["code"].as_str().map(str::to_string)
}

/// Percent-encoding of a query value.
fn encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

impl Source for Registry {
    fn manifest(&self, platform: &Platform) -> Result<Fetched, ErrorKind> {
        let wanted = self.reference.manifest_reference();
        let what = match &self.reference.digest {
            Some(digest) => format!("the manifest {digest}"),
            None => format!("the tag {wanted}"),
        };
        let fetched = self.manifest_by(&wanted, &what)?;
        if let Some(digest) = &self.reference.digest {
            verify(&fetched.bytes, digest, "manifest")?;
        }
        pick(fetched, platform, &|d: &Descriptor| {
            self.manifest_by(&d.digest.to_string(), &format!("the manifest {}", d.digest))
        })
    }

    fn open_blob(&self, descriptor: &Descriptor) -> Result<Box<dyn Read + Send + '_>, ErrorKind> {
        let url = format!(
            "{}/v2/{}/blobs/{}",
            self.base, self.reference.repository, descriptor.digest
        );
        let response = self.get(&url, None, &format!("the blob {}", descriptor.digest))?;
        Ok(Box::new(
            response
                .into_body()
                .into_with_config()
                .limit(u64::MAX)
                .reader(),
        ))
    }

    fn origin(&self) -> String {
        format!("{}/v2/{}", self.base, self.reference.repository)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_for_loopback_or_listed_registries() {
        let r = |s: &str| RegistryRef::parse(s).unwrap();
        assert!(plain_http_allowed(&r("127.0.0.1:5000/x"), &[]));
        assert!(plain_http_allowed(&r("localhost/x"), &[]));
        assert!(plain_http_allowed(&r("[::1]:5000/x"), &[]));
        assert!(!plain_http_allowed(&r("registry.example:5000/x"), &[]));
        assert!(plain_http_allowed(
            &r("registry.example:5000/x"),
            &["registry.example:5000".into()]
        ));
        assert!(!plain_http_allowed(
            &r("quay.io/x/y"),
            &["registry.example".into()]
        ));
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode("repository:a/b:pull"), "repository%3Aa%2Fb%3Apull");
    }

    #[test]
    fn opening_a_registry_source_makes_no_agent() {
        let before = agents_built();
        let _registry = Registry::new(RegistryRef::parse("127.0.0.1:1/x").unwrap(), &[]);
        assert_eq!(agents_built(), before);
    }
}
