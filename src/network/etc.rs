//! `/etc/resolv.conf`, `/etc/hosts` and `/etc/hostname` of a container, written into a folder
//! the caller names (the container's state folder, bound over the container's /etc files):
//! never into a root filesystem or an image.

use std::fs::OpenOptions;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use super::NetworkError;

/// Where the host's resolver settings are read: /etc/resolv.conf, and systemd-resolved's list
/// of upstream servers for when the first names only its local stub (127.0.0.53).
#[derive(Debug, Clone)]
pub struct HostDns {
    pub resolv_conf: PathBuf,
    pub upstream: PathBuf,
}

impl Default for HostDns {
    fn default() -> Self {
        HostDns {
            resolv_conf: PathBuf::from("/etc/resolv.conf"),
            upstream: PathBuf::from("/run/systemd/resolve/resolv.conf"),
        }
    }
}

/// The parts of a resolv.conf the container gets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolv {
    pub servers: Vec<IpAddr>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

fn parse_resolv(text: &str) -> Resolv {
    let mut resolv = Resolv::default();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                // A scoped IPv6 address (fe80::1%eth0) names a host link: useless inside.
                if let Some(Ok(address)) = words.next().map(str::parse::<IpAddr>) {
                    resolv.servers.push(address);
                }
            }
            Some("search") | Some("domain") => {
                resolv.search = words.map(str::to_string).collect();
            }
            Some("options") => resolv.options.extend(words.map(str::to_string)),
            _ => {}
        }
    }
    resolv
}

impl HostDns {
    /// The host's resolvers as a container on a bridge can reach them: loopback servers (a
    /// local stub) are replaced by the stub's upstream servers, as podman does.
    pub fn resolvers(&self) -> Result<Resolv, NetworkError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|e| {
                NetworkError::state("cannot read the host's resolver settings", path, e)
            })
        };
        let mut resolv = parse_resolv(&read(&self.resolv_conf)?);
        if resolv.servers.iter().any(IpAddr::is_loopback) {
            resolv.servers.retain(|s| !s.is_loopback());
            if resolv.servers.is_empty()
                && let Ok(text) = std::fs::read_to_string(&self.upstream)
            {
                let upstream = parse_resolv(&text);
                resolv.servers = upstream.servers;
                if resolv.search.is_empty() {
                    resolv.search = upstream.search;
                }
            }
            if resolv.servers.is_empty() {
                return Err(NetworkError::invalid(
                    format!("the host's resolvers in {}", self.resolv_conf.display()),
                    format!(
                        "only loopback servers (a local stub), which a container cannot reach, and {} lists no upstream server; name the servers with `dns = [...]`",
                        self.upstream.display()
                    ),
                ));
            }
        }
        // The stub's own options (edns0, trust-ad) make sense for glibc anywhere.
        Ok(resolv)
    }
}

/// The resolvers of a container behind pasta: pasta's DNS forwarder, the host's search list.
pub fn pasta_resolvers(forwarder: Ipv4Addr, host: &HostDns) -> Resolv {
    let search = std::fs::read_to_string(&host.resolv_conf)
        .map(|text| parse_resolv(&text).search)
        .unwrap_or_default();
    Resolv {
        servers: vec![IpAddr::V4(forwarder)],
        search,
        options: Vec::new(),
    }
}

/// Writes the three files of a container that has no lease (pasta, or `mode = "none"`)
/// into `dir`: its names at 127.0.1.1, the user's entries, `resolv`.
pub fn write_standalone(
    dir: &Path,
    name: &str,
    hostname: &str,
    extra: &[HostEntry],
    resolv: &Resolv,
) -> Result<EtcFiles, NetworkError> {
    let files = EtcFiles::in_folder(dir);
    files.write(
        &resolv_conf(resolv),
        &hosts(name, hostname, None, extra, &[]),
        hostname,
    )?;
    Ok(files)
}

/// A resolv.conf's text.
pub fn resolv_conf(resolv: &Resolv) -> String {
    let mut text = String::from("# Written by launcher for this container.\n");
    for server in &resolv.servers {
        text.push_str(&format!("nameserver {server}\n"));
    }
    if !resolv.search.is_empty() {
        text.push_str(&format!("search {}\n", resolv.search.join(" ")));
    }
    if !resolv.options.is_empty() {
        text.push_str(&format!("options {}\n", resolv.options.join(" ")));
    }
    text
}

/// One /etc/hosts line: an address and its names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HostEntry {
    pub address: IpAddr,
    pub names: Vec<String>,
}

/// A container's /etc/hosts: localhost, its own name and hostname at its address (127.0.1.1
/// when it has none of its own, as with pasta), the user's entries, then its peers.
pub fn hosts(
    name: &str,
    hostname: &str,
    address: Option<Ipv4Addr>,
    extra: &[HostEntry],
    peers: &[HostEntry],
) -> String {
    let mut text = String::from(
        "# Written by launcher for this container.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    );
    let own = address.unwrap_or(Ipv4Addr::new(127, 0, 1, 1));
    let mut names = vec![hostname.to_string()];
    if name != hostname {
        names.push(name.to_string());
    }
    text.push_str(&format!("{own}\t{}\n", names.join(" ")));
    for entry in extra.iter().chain(peers) {
        text.push_str(&format!("{}\t{}\n", entry.address, entry.names.join(" ")));
    }
    text
}

/// The three files of a container, as written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EtcFiles {
    pub resolv_conf: PathBuf,
    pub hosts: PathBuf,
    pub hostname: PathBuf,
}

impl EtcFiles {
    pub fn in_folder(dir: &Path) -> EtcFiles {
        EtcFiles {
            resolv_conf: dir.join("resolv.conf"),
            hosts: dir.join("hosts"),
            hostname: dir.join("hostname"),
        }
    }

    /// Writes the three files (each in place, so a bind of it into a running container
    /// sees the new text).
    pub fn write(&self, resolv: &str, hosts: &str, hostname: &str) -> Result<(), NetworkError> {
        write_in_place(&self.resolv_conf, resolv)?;
        write_in_place(&self.hosts, hosts)?;
        write_in_place(&self.hostname, &format!("{hostname}\n"))
    }
}

/// Truncates and writes `path`, keeping its inode.
pub fn write_in_place(path: &Path, text: &str) -> Result<(), NetworkError> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .map_err(|e| NetworkError::state("cannot write", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_dns(resolv: &str, upstream: Option<&str>) -> (tempfile::TempDir, HostDns) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("resolv.conf"), resolv).unwrap();
        if let Some(upstream) = upstream {
            std::fs::write(dir.path().join("upstream"), upstream).unwrap();
        }
        let dns = HostDns {
            resolv_conf: dir.path().join("resolv.conf"),
            upstream: dir.path().join("upstream"),
        };
        (dir, dns)
    }

    #[test]
    fn a_plain_host_gives_its_own_servers() {
        let (_dir, dns) = host_dns(
            "nameserver 192.0.2.53\nsearch example.org\noptions ndots:2\n",
            None,
        );
        let text = resolv_conf(&dns.resolvers().unwrap());
        assert_eq!(
            text,
            "# Written by launcher for this container.\nnameserver 192.0.2.53\nsearch example.org\noptions ndots:2\n"
        );
    }

    #[test]
    fn a_local_stub_gives_its_upstream_servers() {
        let (_dir, dns) = host_dns(
            "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n",
            Some("nameserver 192.0.2.1\nnameserver 2001:db8::1\nsearch lan\n"),
        );
        let resolv = dns.resolvers().unwrap();
        assert_eq!(resolv.servers.len(), 2);
        assert!(!resolv.servers.iter().any(IpAddr::is_loopback));
        assert_eq!(resolv.search, vec!["lan"]);
    }

    #[test]
    fn a_stub_without_upstream_list_is_an_error() {
        let (_dir, dns) = host_dns("nameserver 127.0.0.53\n", None);
        let error = dns.resolvers().unwrap_err().to_string();
        assert!(error.contains("dns = ["), "{error}");
    }

    #[test]
    fn hosts_names_the_container_its_entries_and_peers() {
        let extra = [HostEntry {
            address: "192.0.2.9".parse().unwrap(),
            names: vec!["db.example".into()],
        }];
        let peers = [HostEntry {
            address: "10.90.0.3".parse().unwrap(),
            names: vec!["worker".into()],
        }];
        let text = hosts(
            "web",
            "box",
            Some(Ipv4Addr::new(10, 90, 0, 2)),
            &extra,
            &peers,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "127.0.0.1\tlocalhost");
        assert_eq!(lines[3], "10.90.0.2\tbox web");
        assert_eq!(lines[4], "192.0.2.9\tdb.example");
        assert_eq!(lines[5], "10.90.0.3\tworker");
    }
}
