//! Image references as users write them: `alpine`, `host:5000/x/y:tag`, `name@sha256:...`,
//! `oci:PATH[:TAG]` and `docker-archive:PATH`. Registry names are normalised as docker and
//! podman do (`alpine` → `docker.io/library/alpine:latest`).

use std::fmt;
use std::path::{Path, PathBuf};

use super::digest::Digest;

/// The registry a name without a host part comes from.
pub const DOCKER_HUB: &str = "docker.io";

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Registry(RegistryRef),
    /// An OCI image layout folder; `tag` picks a manifest by its
    /// `org.opencontainers.image.ref.name` annotation.
    OciLayout {
        path: PathBuf,
        tag: Option<String>,
    },
    /// A `docker save` / `podman save` tarball.
    DockerArchive {
        path: PathBuf,
    },
}

/// A normalised registry reference: `registry/repository[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryRef {
    /// `docker.io`, `quay.io`, `127.0.0.1:5000`.
    pub registry: String,
    /// `library/alpine`.
    pub repository: String,
    /// `latest` when neither a tag nor a digest was written.
    pub tag: Option<String>,
    /// A pinned manifest (or index) digest.
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parses `text`; `oci:` and `docker-archive:` paths are resolved against `base_dir`
    /// (the folder of the Container.toml, or the current folder on the command line).
    pub fn parse(text: &str, base_dir: &Path) -> Result<Reference, String> {
        if let Some(rest) = text.strip_prefix("oci:") {
            let (path, tag) = split_layout_tag(rest);
            if path.is_empty() {
                return Err("`oci:` needs the path of an OCI image layout folder".into());
            }
            if let Some(tag) = tag {
                check_tag(tag)?;
            }
            return Ok(Reference::OciLayout {
                path: base_dir.join(path),
                tag: tag.map(str::to_string),
            });
        }
        if let Some(path) = text.strip_prefix("docker-archive:") {
            if path.is_empty() {
                return Err("`docker-archive:` needs the path of a tarball".into());
            }
            return Ok(Reference::DockerArchive {
                path: base_dir.join(path),
            });
        }
        RegistryRef::parse(text).map(Reference::Registry)
    }

    /// The key of this reference in the store's refs (absolute paths for local sources).
    pub fn key(&self) -> String {
        self.to_string()
    }
}

/// `PATH:TAG` → (PATH, TAG) when the part after the last `:` could be a tag (no `/`).
fn split_layout_tag(rest: &str) -> (&str, Option<&str>) {
    match rest.rsplit_once(':') {
        Some((path, tag)) if !tag.contains('/') && !path.is_empty() => (path, Some(tag)),
        _ => (rest, None),
    }
}

impl RegistryRef {
    pub fn parse(text: &str) -> Result<RegistryRef, String> {
        if text.is_empty() {
            return Err("the reference is empty".into());
        }
        if text.chars().any(char::is_whitespace) {
            return Err("a reference has no spaces".into());
        }
        let (name_tag, digest) = match text.split_once('@') {
            Some((name_tag, digest)) => (name_tag, Some(Digest::parse(digest)?)),
            None => (text, None),
        };
        // A tag is after the last `:` of the last path part (a `:` before a `/` is a port).
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => (
                &name_tag[..last_slash + i],
                Some(&name_tag[last_slash + i + 1..]),
            ),
            None => (name_tag, None),
        };
        if let Some(tag) = tag {
            check_tag(tag)?;
        }
        let (registry, repository) = split_registry(name);
        let registry = match registry {
            "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB,
            other => other,
        };
        if registry.is_empty() {
            return Err("the registry host is empty".into());
        }
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository.to_string()
        };
        check_repository(&repository)?;
        let tag = match (tag, &digest) {
            (Some(tag), _) => Some(tag.to_string()),
            (None, Some(_)) => None,
            (None, None) => Some("latest".to_string()),
        };
        Ok(RegistryRef {
            registry: registry.to_string(),
            repository,
            tag,
            digest,
        })
    }

    /// What the registry's manifest endpoint is asked for: the digest when pinned.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => digest.to_string(),
            (None, Some(tag)) => tag.clone(),
            (None, None) => "latest".to_string(),
        }
    }

    /// The host the API is served from (Docker Hub's differs from its name).
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }

    /// The host without its port: `localhost`, `127.0.0.1`, `::1`.
    pub fn host_name(&self) -> &str {
        host_name(&self.registry)
    }
}

/// `[::1]:5000` → `::1`; `localhost:5000` → `localhost`.
pub fn host_name(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    registry.split(':').next().unwrap_or(registry)
}

/// Splits off the registry: the first part is a host when it has a `.` or `:`, is
/// `localhost`, or has capitals (docker's rule); else the name is on Docker Hub.
fn split_registry(name: &str) -> (&str, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || first.starts_with('[')
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first, rest)
        }
        _ => (DOCKER_HUB, name),
    }
}

/// Tags: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn check_tag(tag: &str) -> Result<(), String> {
    let mut chars = tag.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    if !first_ok
        || tag.len() > 128
        || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(format!(
            "tag {tag:?} is not valid: letters, digits, `_`, `.` and `-`, at most 128, not starting with `.` or `-`"
        ));
    }
    Ok(())
}

/// Repository parts: lowercase letters and digits, separated by `.`, `_`, `__` or `-`s.
fn check_repository(repository: &str) -> Result<(), String> {
    for part in repository.split('/') {
        let bytes = part.as_bytes();
        let valid = !bytes.is_empty()
            && bytes[0].is_ascii_lowercase() | bytes[0].is_ascii_digit()
            && bytes[bytes.len() - 1].is_ascii_lowercase()
                | bytes[bytes.len() - 1].is_ascii_digit()
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(b))
            && !part.contains("..")
            && !part.contains("___");
        if !valid {
            return Err(format!(
                "repository name {repository:?} is not valid: each part between `/` is lowercase letters and digits, separated by `.`, `_`, `__` or `-`"
            ));
        }
    }
    Ok(())
}

impl fmt::Display for RegistryRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Registry(r) => r.fmt(f),
            Reference::OciLayout { path, tag: None } => write!(f, "oci:{}", path.display()),
            Reference::OciLayout {
                path,
                tag: Some(tag),
            } => write!(f, "oci:{}:{tag}", path.display()),
            Reference::DockerArchive { path } => write!(f, "docker-archive:{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(text: &str) -> String {
        Reference::parse(text, Path::new("/base"))
            .unwrap()
            .to_string()
    }

    #[test]
    fn names_are_normalised_as_docker_does() {
        assert_eq!(norm("alpine"), "docker.io/library/alpine:latest");
        assert_eq!(norm("alpine:3.20"), "docker.io/library/alpine:3.20");
        assert_eq!(norm("user/app"), "docker.io/user/app:latest");
        assert_eq!(norm("index.docker.io/x/y:1"), "docker.io/x/y:1");
        assert_eq!(norm("quay.io/a/b/c:v1"), "quay.io/a/b/c:v1");
        assert_eq!(norm("host:5000/x/y:tag"), "host:5000/x/y:tag");
        assert_eq!(norm("localhost/x"), "localhost/x:latest");
        assert_eq!(norm("127.0.0.1:5000/x"), "127.0.0.1:5000/x:latest");
    }

    #[test]
    fn a_digest_pins_and_a_tag_may_stay() {
        let hex = "a".repeat(64);
        assert_eq!(
            norm(&format!("alpine@sha256:{hex}")),
            format!("docker.io/library/alpine@sha256:{hex}")
        );
        let both = Reference::parse(&format!("alpine:3@sha256:{hex}"), Path::new("/")).unwrap();
        let Reference::Registry(r) = both else {
            panic!("not a registry ref")
        };
        assert_eq!(r.tag.as_deref(), Some("3"));
        assert_eq!(r.manifest_reference(), format!("sha256:{hex}"));
    }

    #[test]
    fn local_sources_resolve_against_the_base_folder() {
        assert_eq!(norm("oci:layout"), "oci:/base/layout");
        assert_eq!(norm("oci:layout:v1"), "oci:/base/layout:v1");
        assert_eq!(norm("oci:/abs/dir"), "oci:/abs/dir");
        assert_eq!(
            norm("docker-archive:img.tar"),
            "docker-archive:/base/img.tar"
        );
    }

    #[test]
    fn bad_references_say_what_is_wrong() {
        let bad = |text: &str| Reference::parse(text, Path::new("/")).unwrap_err();
        assert!(bad("Alpine").contains("lowercase"));
        assert!(bad("alpine:-x").contains("tag"));
        assert!(bad("alpine@sha256:12").contains("64"));
        assert!(bad("alpine@md5:12").contains("md5"));
        assert!(bad("").contains("empty"));
        assert!(bad("oci:").contains("OCI image layout"));
        assert!(bad("a b").contains("spaces"));
    }

    #[test]
    fn ipv6_hosts_lose_their_brackets() {
        assert_eq!(host_name("[::1]:5000"), "::1");
        assert_eq!(host_name("localhost:5000"), "localhost");
    }
}
