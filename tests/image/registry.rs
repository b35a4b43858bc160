//! A real registry (Debian's docker-registry, distribution 2.8) for one test: its own network
//! namespace (so nothing touches the host's network), 127.0.0.1:5000 inside it, a temporary
//! storage folder, killed and removed when dropped, even when the test fails. Every client
//! (skopeo, the launcher) runs inside that namespace through `nsenter --net`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::fixtures::{Scratch, require_tool, run_ok};

pub const HOST: &str = "127.0.0.1:5000";

pub struct Registry {
    child: Option<Child>,
    dir: Scratch,
    /// `host:port` it listens on inside its namespace.
    pub host: String,
}

impl Registry {
    pub fn start() -> Registry {
        Registry::start_with(None)
    }

    /// A registry that asks for basic credentials (`user:bcrypt-hash`, htpasswd's form).
    pub fn start_with(htpasswd: Option<&str>) -> Registry {
        Registry::launch(htpasswd, false)
    }

    /// A registry on https://127.0.0.2:5443 (not a name that gets plain HTTP) with a
    /// certificate of its own CA; returns it and the CA's file (for SSL_CERT_FILE).
    pub fn start_tls() -> (Registry, PathBuf) {
        let registry = Registry::launch(None, true);
        let ca = registry.dir.join("ca.pem");
        (registry, ca)
    }

    fn launch(htpasswd: Option<&str>, tls: bool) -> Registry {
        crate::util::require_root();
        require_tool("docker-registry", "docker-registry");
        require_tool("skopeo", "skopeo");
        require_tool("ip", "iproute2");
        require_tool("nsenter", "util-linux");
        let dir = Scratch::new();
        let storage = dir.join("storage");
        std::fs::create_dir_all(&storage).unwrap();
        let config = dir.join("config.yml");
        let host = if tls { "127.0.0.2:5443" } else { HOST };
        let mut text = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n",
            storage.display()
        );
        if tls {
            require_tool("openssl", "openssl");
            let (cert, key) = certificates(&dir);
            text.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            ));
        }
        if let Some(line) = htpasswd {
            let file = dir.join("htpasswd");
            std::fs::write(&file, format!("{line}\n")).unwrap();
            text.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                file.display()
            ));
        }
        std::fs::write(&config, text).unwrap();
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();
        // unshare execs sh, which execs the registry: the child's pid is the registry's, and
        // its network namespace lives as long as it does.
        let child = Command::new("unshare")
            .args([
                "--net",
                "--",
                "sh",
                "-c",
                "ip link set lo up && exec docker-registry serve \"$0\"",
            ])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("cannot start docker-registry");
        let registry = Registry {
            child: Some(child),
            dir,
            host: host.to_string(),
        };
        registry.wait_ready();
        registry
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (ip, port) = self.host.split_once(':').unwrap_or((&self.host, "5000"));
            let probe = self
                .cmd("bash")
                .args(["-c", &format!("exec 3<>/dev/tcp/{ip}/{port}")])
                .stderr(Stdio::null())
                .status();
            if probe.is_ok_and(|s| s.success()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the registry did not start listening in 20 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `program` inside the registry's network namespace.
    pub fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("nsenter");
        command
            .arg(format!("--net=/proc/{}/ns/net", self.pid()))
            .arg("--")
            .arg(program);
        command
    }

    /// The launcher binary inside the namespace, with a store of its own.
    pub fn launcher(&self, store: &Path) -> Command {
        let mut command = self.launcher_as(&[]);
        command.arg("--store").arg(store).env("NO_COLOR", "1");
        command
    }

    /// The launcher binary inside the namespace, run through `wrapper` (such as setpriv and
    /// its arguments), with the tests' own state folder and cache (`util::launcher_through`).
    pub fn launcher_as(&self, wrapper: &[&str]) -> Command {
        let net = format!("--net=/proc/{}/ns/net", self.pid());
        let mut through = vec!["nsenter", net.as_str(), "--"];
        through.extend_from_slice(wrapper);
        crate::util::launcher_through(&through)
    }

    /// `skopeo copy SOURCE docker://127.0.0.1:5000/DEST` with `extra` options.
    pub fn push(&self, source: &str, dest: &str, extra: &[&str]) {
        run_ok(
            self.cmd("skopeo")
                .args(["copy", "-q", "--dest-tls-verify=false"])
                .args(extra)
                .arg(source)
                .arg(format!("docker://{}/{dest}", self.host)),
        );
    }

    pub fn storage(&self) -> PathBuf {
        self.dir.join("storage")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default()
    }

    /// How many times the blob `digest` was fetched (GET, from the access log).
    pub fn blob_gets(&self, digest: &str) -> usize {
        let needle = "\"GET /v2/";
        self.log()
            .lines()
            .filter(|l| l.contains(needle) && l.contains(&format!("/blobs/{digest} ")))
            .count()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A CA of our own (`ca.pem`) and a server certificate for 127.0.0.2 that it signed; returns
/// the server's certificate and key files.
fn certificates(dir: &Scratch) -> (PathBuf, PathBuf) {
    let (ca, ca_key) = (dir.join("ca.pem"), dir.join("ca.key"));
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let (csr, ext) = (dir.join("server.csr"), dir.join("ext.cnf"));
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let openssl = || Command::new("openssl");
    run_ok(
        openssl()
            .args([
                "req",
                "-x509",
                "-days",
                "1",
                "-subj",
                "/CN=launcher-test-ca",
            ])
            .args(ec)
            .arg("-keyout")
            .arg(&ca_key)
            .arg("-out")
            .arg(&ca),
    );
    run_ok(
        openssl()
            .args(["req", "-subj", "/CN=127.0.0.2"])
            .args(ec)
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&csr),
    );
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.2\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run_ok(
        openssl()
            .args(["x509", "-req", "-days", "1", "-set_serial", "1", "-in"])
            .arg(&csr)
            .args([
                std::ffi::OsStr::new("-CA"),
                ca.as_os_str(),
                "-CAkey".as_ref(),
                ca_key.as_os_str(),
            ])
            .args([
                std::ffi::OsStr::new("-extfile"),
                ext.as_os_str(),
                "-out".as_ref(),
                cert.as_os_str(),
            ]),
    );
    (cert, key)
}
