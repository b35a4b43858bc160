//! The bearer-token flow, as Docker Hub and most registries run it: a 401 with
//! `WWW-Authenticate: Bearer realm=...,service=...,scope=...`, a token fetched from the realm
//! (with the auth file's credentials, or anonymously), and the request again with the token.
//! Distribution's own token auth needs a signing service, so a small registry of our own,
//! serving an OCI layout, runs here on 127.0.0.1:5001 in the test registry's network namespace.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;

use super::fixtures::{Scratch, build_image};
use super::registry::Registry;
use super::{ok, stored};

const TOKEN: &str = "token-for-test-app";

/// What the token endpoint was asked.
#[derive(Debug, Default, Clone)]
struct TokenRequest {
    query: String,
    authorization: Option<String>,
}

struct TokenRegistry {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    requests: Arc<Mutex<Vec<TokenRequest>>>,
}

impl TokenRegistry {
    /// Serves `layout` (an OCI layout, tag → manifest through index.json) as `test/app`, on
    /// 127.0.0.1:5001 inside `namespace`'s network namespace; the token endpoint wants
    /// `basic` (an `Authorization` value) when given.
    fn start(namespace: &Registry, layout: PathBuf, basic: Option<String>) -> TokenRegistry {
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let netns = format!("/proc/{}/ns/net", namespace.pid());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = {
            let (stop, requests) = (stop.clone(), requests.clone());
            std::thread::spawn(move || {
                // Only this thread enters the namespace (setns of a network namespace is per
                // thread); its listener lives there, never on the host's network.
                let ns =
                    std::fs::File::open(&netns).expect("open the registry's network namespace");
                nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)
                    .expect("setns into the registry's network namespace");
                let listener = TcpListener::bind("127.0.0.1:5001")
                    .expect("bind 127.0.0.1:5001 in the namespace");
                listener.set_nonblocking(true).unwrap();
                ready_tx.send(()).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => serve(stream, &layout, basic.as_deref(), &requests),
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the token registry did not start");
        TokenRegistry {
            stop,
            thread: Some(thread),
            requests,
        }
    }
}

impl Drop for TokenRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    stream: std::net::TcpStream,
    layout: &Path,
    basic: Option<&str>,
    requests: &Mutex<Vec<TokenRequest>>,
) {
    stream.set_nonblocking(false).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let authorization = headers.get("authorization").cloned();
    let (status, content_type, body, challenge) = if let Some(query) = path.strip_prefix("/token?")
    {
        requests.lock().unwrap().push(TokenRequest {
            query: query.to_string(),
            authorization: authorization.clone(),
        });
        match basic {
            Some(wanted) if authorization.as_deref() != Some(wanted) => {
                (401, "application/json", b"{}".to_vec(), false)
            }
            _ => (
                200,
                "application/json",
                format!(r#"{{"token":"{TOKEN}"}}"#).into_bytes(),
                false,
            ),
        }
    } else if authorization.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        (
            401,
            "application/json",
            br#"{"errors":[{"code":"UNAUTHORIZED"}]}"#.to_vec(),
            true,
        )
    } else if let Some(tag) = path.strip_prefix("/v2/test/app/manifests/") {
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
        let entry = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| {
                d["annotations"]["org.opencontainers.image.ref.name"] == tag || d["digest"] == tag
            })
            .cloned();
        match entry {
            Some(d) => {
                let hex = d["digest"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("sha256:")
                    .to_string();
                (
                    200,
                    "application/vnd.oci.image.manifest.v1+json",
                    std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap(),
                    false,
                )
            }
            None => (
                404,
                "application/json",
                br#"{"errors":[{"code":"MANIFEST_UNKNOWN"}]}"#.to_vec(),
                false,
            ),
        }
    } else if let Some(digest) = path.strip_prefix("/v2/test/app/blobs/sha256:") {
        match std::fs::read(layout.join("blobs/sha256").join(digest)) {
            Ok(bytes) => (200, "application/octet-stream", bytes, false),
            Err(_) => (
                404,
                "application/json",
                br#"{"errors":[{"code":"BLOB_UNKNOWN"}]}"#.to_vec(),
                false,
            ),
        }
    } else {
        (404, "application/json", b"{}".to_vec(), false)
    };
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if challenge {
        head.push_str("WWW-Authenticate: Bearer realm=\"http://127.0.0.1:5001/token\",service=\"test-registry\",scope=\"repository:test/app:pull\"\r\n");
    }
    head.push_str("\r\n");
    let mut stream = reader.into_inner();
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(&body));
}

#[test]
fn a_bearer_token_is_fetched_with_the_auth_file_credentials_or_anonymously() {
    let registry = Registry::start();
    let scratch = Scratch::new();
    let image = build_image(&scratch, "v1");
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("robot:t0ken")
    );
    let reference = "127.0.0.1:5001/test/app:v1";

    // With credentials: the token endpoint gets them, the registry gets the token.
    let server = TokenRegistry::start(&registry, image.layout.clone(), Some(basic.clone()));
    let auth = scratch.join("auth.json");
    let pair = base64::engine::general_purpose::STANDARD.encode("robot:t0ken");
    std::fs::write(
        &auth,
        format!(r#"{{"auths":{{"127.0.0.1:5001":{{"auth":"{pair}"}}}}}}"#),
    )
    .unwrap();
    let store = scratch.join("store");
    ok(&registry
        .launcher(&store)
        .env("REGISTRY_AUTH_FILE", &auth)
        .args(["pull", reference])
        .output()
        .unwrap());
    let (_, stack) = stored(&store, reference);
    assert!(stack.resolve("/bin/sh").unwrap().is_some());
    let asked = server.requests.lock().unwrap().clone();
    assert_eq!(asked.len(), 1, "one token for the whole pull: {asked:?}");
    assert_eq!(
        asked[0].query,
        "scope=repository%3Atest%2Fapp%3Apull&service=test-registry"
    );
    assert_eq!(asked[0].authorization.as_deref(), Some(basic.as_str()));
    drop(server);

    // Anonymous: a token all the same, asked for without credentials.
    let server = TokenRegistry::start(&registry, image.layout.clone(), None);
    let store = scratch.join("anonymous");
    let home = scratch.join("home");
    std::fs::create_dir(&home).unwrap();
    let output = registry
        .launcher(&store)
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("DOCKER_CONFIG")
        .env("HOME", &home)
        .args(["pull", reference])
        .output()
        .unwrap();
    ok(&output);
    let asked = server.requests.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].authorization, None);
}
