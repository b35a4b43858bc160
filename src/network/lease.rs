//! The network state in the launcher's state folder, and its lock.
//!
//! ```text
//! STATE/.networks/.lock                  flock: held while leases, bridges or rules change
//! STATE/.networks/NETWORK/network.json   the network: subnet, gateway, bridge
//! STATE/.networks/NETWORK/NAME.lease     a container's lease: address, host link, ports, pid
//! STATE/.networks/.pasta/NAME.json       a container's pasta: its pid, the container's pid
//! ```
//!
//! `.networks` starts with a dot, so it is never a container's folder. A lease is written
//! before anything it names is made, so whatever a killed launcher left has a lease that
//! says what to remove.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::Ipv4Addr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::NetworkError;
use super::etc::HostEntry;
use super::ports::PortSpec;
use super::subnet::Subnet;

/// The folder under the state root that holds every network's state.
pub const FOLDER: &str = ".networks";

/// A named network as recorded: what its bridge is and which subnet it serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub name: String,
    pub subnet: Subnet,
    pub gateway: Ipv4Addr,
    pub bridge: String,
    /// The address given out last: the next container gets the next free one after it, so
    /// an address just let go (whose old neighbour entries the host may still hold) is not
    /// given out again at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_address: Option<Ipv4Addr>,
}

/// One container's lease on a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub container: String,
    pub network: String,
    pub hostname: String,
    pub address: Ipv4Addr,
    /// The host's end of the veth pair (the container's is `eth0` in its namespace).
    pub host_link: String,
    pub ports: Vec<PortSpec>,
    /// The container's first process and its start time (clock ticks after boot, from
    /// /proc/PID/stat), so a reused pid is not taken for it.
    pub pid: i32,
    pub pid_start: Option<u64>,
    /// The container's /etc/hosts in its state folder, rewritten in place when another
    /// container joins or leaves the network.
    pub hosts_file: Option<PathBuf>,
    /// The user's own entries of that hosts file.
    #[serde(default)]
    pub extra_hosts: Vec<HostEntry>,
}

impl Lease {
    /// Whether the process the lease was taken for still runs (same pid, same start time).
    /// A lease taken without a pid (a namespace given by descriptor only) counts as alive:
    /// only the caller's own liveness check may remove it.
    pub fn owner_alive(&self) -> bool {
        if self.pid <= 0 {
            return true;
        }
        match (process_start(self.pid), self.pid_start) {
            (Some(now), Some(then)) => now == then,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}

/// A pasta serving a container: pasta outlives a container it was not told to leave (it does
/// not notice the namespace go), so whoever finds the container dead ends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastaRecord {
    pub container: String,
    pub pasta_pid: i32,
    pub pasta_start: Option<u64>,
    /// The container's first process and its start time.
    pub pid: i32,
    pub pid_start: Option<u64>,
}

impl PastaRecord {
    /// Whether the container it serves still runs.
    pub fn owner_alive(&self) -> bool {
        alive(self.pid, self.pid_start)
    }

    /// Whether the pasta it names still runs (the same process: pid and start time).
    pub fn pasta_alive(&self) -> bool {
        alive(self.pasta_pid, self.pasta_start)
    }
}

fn alive(pid: i32, start: Option<u64>) -> bool {
    if pid <= 0 {
        return false;
    }
    match (process_start(pid), start) {
        (Some(now), Some(then)) => now == then,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// Field 22 of /proc/PID/stat: when the process started.
pub fn process_start(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // A zombie has ended: it waits only for a parent to reap it (one whose parent died
    // waits for pid 1, which need not reap at once, or at all in some containers).
    if matches!(fields.next(), Some("Z" | "X")) {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// The network state of one state root, locked.
pub struct Networks {
    root: PathBuf,
    _lock: Flock<File>,
}

impl Networks {
    /// Locks `STATE/.networks`, making it when missing. Every change happens under it.
    pub fn lock(state_root: &Path) -> Result<Networks, NetworkError> {
        let root = state_root.join(FOLDER);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&root)
            .map_err(|e| NetworkError::state("cannot create the folder", &root, e))?;
        let path = root.join(".lock");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| NetworkError::state("cannot open the lock", &path, e))?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| NetworkError::state("cannot lock", &path, errno.into()))?;
        Ok(Networks { root, _lock: lock })
    }

    /// Whether the state root has any network state (so that read-only commands need not
    /// create it).
    pub fn exists(state_root: &Path) -> bool {
        state_root.join(FOLDER).is_dir()
    }

    fn network_dir(&self, network: &str) -> PathBuf {
        self.root.join(network)
    }

    fn record_path(&self, network: &str) -> PathBuf {
        self.network_dir(network).join("network.json")
    }

    fn lease_path(&self, network: &str, container: &str) -> PathBuf {
        self.network_dir(network).join(format!("{container}.lease"))
    }

    /// Every network recorded.
    pub fn networks(&self) -> Result<Vec<NetworkRecord>, NetworkError> {
        let mut records = Vec::new();
        for entry in read_dir(&self.root)? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            if let Some(record) = self.network(&name)? {
                records.push(record);
            }
        }
        records.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(records)
    }

    pub fn network(&self, network: &str) -> Result<Option<NetworkRecord>, NetworkError> {
        read_json(&self.record_path(network))
    }

    pub fn save_network(&self, record: &NetworkRecord) -> Result<(), NetworkError> {
        let dir = self.network_dir(&record.name);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .or_else(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => Ok(()),
                _ => Err(e),
            })
            .map_err(|e| NetworkError::state("cannot create the folder", &dir, e))?;
        write_json(&self.record_path(&record.name), record)
    }

    /// Removes a network's record and folder (its leases must be gone).
    pub fn remove_network(&self, network: &str) -> Result<(), NetworkError> {
        let path = self.record_path(network);
        remove_file(&path)?;
        let dir = self.network_dir(network);
        match std::fs::remove_dir(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(NetworkError::state("cannot remove the folder", &dir, e)),
        }
    }

    /// The leases of one network, by container name.
    pub fn leases(&self, network: &str) -> Result<Vec<Lease>, NetworkError> {
        let mut leases = Vec::new();
        for entry in read_dir(&self.network_dir(network))? {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "lease")
                && let Some(lease) = read_json::<Lease>(&path)?
            {
                leases.push(lease);
            }
        }
        leases.sort_by(|a, b| a.container.cmp(&b.container));
        Ok(leases)
    }

    /// Every lease of every network.
    pub fn all_leases(&self) -> Result<Vec<Lease>, NetworkError> {
        let mut all = Vec::new();
        for record in self.networks()? {
            all.extend(self.leases(&record.name)?);
        }
        Ok(all)
    }

    pub fn save_lease(&self, lease: &Lease) -> Result<(), NetworkError> {
        write_json(&self.lease_path(&lease.network, &lease.container), lease)
    }

    pub fn remove_lease(&self, lease: &Lease) -> Result<(), NetworkError> {
        remove_file(&self.lease_path(&lease.network, &lease.container))
    }

    fn pasta_path(&self, container: &str) -> PathBuf {
        self.root.join(".pasta").join(format!("{container}.json"))
    }

    pub fn save_pasta(&self, record: &PastaRecord) -> Result<(), NetworkError> {
        let dir = self.root.join(".pasta");
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| NetworkError::state("cannot create the folder", &dir, e))?;
        write_json(&self.pasta_path(&record.container), record)
    }

    pub fn remove_pasta(&self, container: &str) -> Result<(), NetworkError> {
        remove_file(&self.pasta_path(container))
    }

    /// Every pasta recorded.
    pub fn pastas(&self) -> Result<Vec<PastaRecord>, NetworkError> {
        let mut records = Vec::new();
        for entry in read_dir(&self.root.join(".pasta"))? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(container) = name.strip_suffix(".json")
                && let Some(record) = read_json::<PastaRecord>(&self.pasta_path(container))?
            {
                records.push(record);
            }
        }
        Ok(records)
    }

    /// Records `address` as the one given out last (see [`NetworkRecord::last_address`]).
    pub fn note_allocated(
        &self,
        mut record: NetworkRecord,
        address: Ipv4Addr,
    ) -> Result<NetworkRecord, NetworkError> {
        record.last_address = Some(address);
        self.save_network(&record)?;
        Ok(record)
    }

    /// The next free address of `record`'s subnet after the last one given out, or `wanted`
    /// if it is in the subnet and free.
    pub fn free_address(
        &self,
        record: &NetworkRecord,
        wanted: Option<Ipv4Addr>,
    ) -> Result<Ipv4Addr, NetworkError> {
        let taken: Vec<(Ipv4Addr, String)> = self
            .leases(&record.name)?
            .into_iter()
            .map(|l| (l.address, l.container))
            .collect();
        if let Some(address) = wanted {
            let what = format!("address {address}");
            if !record.subnet.hosts().any(|a| a == address) {
                return Err(NetworkError::invalid(
                    what,
                    format!(
                        "not a container address of network {:?} ({}, gateway {}): pick one from {} to {}",
                        record.name,
                        record.subnet,
                        record.gateway,
                        record.subnet.hosts().next().unwrap_or(record.gateway),
                        record.subnet.hosts().last().unwrap_or(record.gateway),
                    ),
                ));
            }
            if let Some((_, holder)) = taken.iter().find(|(a, _)| *a == address) {
                return Err(NetworkError::invalid(
                    what,
                    format!("container {holder:?} has it on network {:?}", record.name),
                ));
            }
            return Ok(address);
        }
        // After the last one given out, round the subnet.
        let hosts: Vec<Ipv4Addr> = record.subnet.hosts().collect();
        let start = record
            .last_address
            .and_then(|last| hosts.iter().position(|a| *a == last))
            .map_or(0, |i| i + 1);
        hosts[start..]
            .iter()
            .chain(&hosts[..start])
            .copied()
            .find(|a| !taken.iter().any(|(t, _)| t == a))
            .ok_or_else(|| NetworkError::NoFreeAddress {
                network: record.name.clone(),
                subnet: record.subnet.to_string(),
            })
    }
}

fn read_dir(dir: &Path) -> Result<Vec<std::fs::DirEntry>, NetworkError> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| NetworkError::state("cannot list", dir, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(NetworkError::state("cannot list", dir, e)),
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, NetworkError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(NetworkError::state("cannot read", path, e)),
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        NetworkError::state(
            "cannot parse (remove it, then run `launcher network prune`)",
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        )
    })
}

/// Writes a temporary file beside `path`, then renames it over `path`.
fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), NetworkError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| NetworkError::state("cannot encode", path, std::io::Error::other(e)))?;
    let temporary = path.with_extension("tmp");
    let written = File::create(&temporary)
        .and_then(|mut file| file.write_all(format!("{text}\n").as_bytes()))
        .and_then(|()| std::fs::rename(&temporary, path));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        NetworkError::state("cannot write", path, e)
    })
}

fn remove_file(path: &Path) -> Result<(), NetworkError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(NetworkError::state("cannot remove", path, e)),
    }
}
