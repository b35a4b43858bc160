//! Credentials and challenges: the auth files docker and podman write (first file with an
//! entry for the registry wins, most specific key first), and `WWW-Authenticate` challenges
//! (`Bearer realm=...,service=...,scope=...` or `Basic`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine as _;
use serde::Deserialize;

/// A user name and password (or token) for a registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
    /// The auth file it came from.
    pub file: PathBuf,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({} from {})", self.user, self.file.display())
    }
}

impl Credentials {
    /// The `Authorization: Basic ...` value.
    pub fn basic(&self) -> String {
        let pair = format!("{}:{}", self.user, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }
}

/// The auth files, in the order they are read: $REGISTRY_AUTH_FILE,
/// $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json, and
/// $DOCKER_CONFIG/config.json or ~/.docker/config.json.
pub fn auth_files() -> Vec<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let mut files = Vec::new();
    files.extend(var("REGISTRY_AUTH_FILE"));
    files.extend(var("XDG_RUNTIME_DIR").map(|d| d.join("containers/auth.json")));
    if let Some(home) = var("HOME") {
        files.push(home.join(".config/containers/auth.json"));
    }
    match (var("DOCKER_CONFIG"), var("HOME")) {
        (Some(dir), _) => files.push(dir.join("config.json")),
        (None, Some(home)) => files.push(home.join(".docker/config.json")),
        (None, None) => {}
    }
    files
}

#[derive(Deserialize)]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
}

#[derive(Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// The result of a lookup: the credentials found, and every file that was read.
#[derive(Debug, Default, Clone)]
pub struct Lookup {
    pub credentials: Option<Credentials>,
    pub read: Vec<PathBuf>,
}

/// Looks up credentials for `registry` (`docker.io`, `host:5000`) and `repository` in `files`.
pub fn lookup(files: &[PathBuf], registry: &str, repository: &str) -> Lookup {
    let mut keys = Vec::new();
    let mut path = format!("{registry}/{repository}");
    loop {
        keys.push(path.clone());
        match path.rsplit_once('/') {
            Some((parent, _)) => path = parent.to_string(),
            None => break,
        }
    }
    if registry == "docker.io" {
        keys.extend(["index.docker.io".into(), "registry-1.docker.io".into()]);
    }
    let mut found = Lookup::default();
    for file in files {
        let Ok(bytes) = std::fs::read(file) else {
            continue;
        };
        found.read.push(file.clone());
        let Ok(parsed) = serde_json::from_slice::<AuthFile>(&bytes) else {
            continue;
        };
        // Keys may carry a scheme and a path (`https://index.docker.io/v1/`).
        let normalised: BTreeMap<String, &AuthEntry> = parsed
            .auths
            .iter()
            .map(|(key, entry)| {
                let key = key
                    .trim_start_matches("https://")
                    .trim_start_matches("http://");
                let key = match key.split_once('/') {
                    Some((host, "v1/" | "v1" | "v2/" | "v2")) => host,
                    _ => key,
                };
                (key.trim_end_matches('/').to_string(), entry)
            })
            .collect();
        for key in &keys {
            if let Some(entry) = normalised.get(key)
                && let Some(credentials) = decode(entry, file)
            {
                found.credentials = Some(credentials);
                return found;
            }
        }
    }
    found
}

fn decode(entry: &AuthEntry, file: &std::path::Path) -> Option<Credentials> {
    if let (Some(user), Some(password)) = (&entry.username, &entry.password) {
        return Some(Credentials {
            user: user.clone(),
            password: password.clone(),
            file: file.to_path_buf(),
        });
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(entry.auth.as_ref()?.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, password) = text.split_once(':')?;
    Some(Credentials {
        user: user.to_string(),
        password: password.to_string(),
        file: file.to_path_buf(),
    })
}

/// A `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `bearer` or `basic`, lowercased.
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

/// Parses `Scheme key="value", key2=value2`; quoted values may hold commas.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = BTreeMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = chars.by_ref().take_while(|c| *c != ',').collect();
        }
        params.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    if scheme.is_empty() {
        return None;
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_challenge_with_a_comma_in_the_scope_parses() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.example/token");
        assert_eq!(c.params["scope"], "repository:a/b:pull,push");
        assert_eq!(
            parse_challenge(r#"Basic realm="x""#).unwrap().scheme,
            "basic"
        );
    }

    #[test]
    fn the_most_specific_key_of_the_first_file_wins() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("first.json");
        let second = dir.path().join("second.json");
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        std::fs::write(
            &first,
            format!(
                r#"{{"auths":{{"host:5000":{{"auth":"{}"}},"host:5000/team":{{"auth":"{}"}}}}}}"#,
                b64("any:one"),
                b64("team:two")
            ),
        )
        .unwrap();
        std::fs::write(
            &second,
            format!(
                r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{}"}}}}}}"#,
                b64("hub:three")
            ),
        )
        .unwrap();
        let files = [
            dir.path().join("missing.json"),
            first.clone(),
            second.clone(),
        ];
        let team = lookup(&files, "host:5000", "team/app");
        assert_eq!(team.credentials.as_ref().unwrap().user, "team");
        assert_eq!(
            lookup(&files, "host:5000", "other/app")
                .credentials
                .unwrap()
                .user,
            "any"
        );
        let hub = lookup(&files, "docker.io", "library/alpine");
        assert_eq!(hub.credentials.unwrap().password, "three");
        assert_eq!(hub.read, vec![first, second]);
        assert!(lookup(&files, "quay.io", "x/y").credentials.is_none());
    }
}
