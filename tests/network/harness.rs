//! Namespaces for network tests: a "host" namespace (where the launcher's network code runs),
//! an "outside" one wired to it by a veth pair, and containers, each a process in its own
//! namespace. Nothing touches the machine's own network; everything ends in drop guards.

use std::fs::File;
use std::io::{BufRead, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sched::{CloneFlags, setns};

/// The host's uplink address, and the outside's.
pub const HOST_ADDRESS: &str = "192.0.2.1";
pub const OUTSIDE_ADDRESS: &str = "192.0.2.2";

/// Fails with what to install when a tool the tests need is missing.
pub fn require(program: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "the network tests need `{program}`: apt-get install {package}"
    );
}

fn own_netns_inode() -> u64 {
    std::fs::metadata("/proc/self/ns/net")
        .expect("no /proc/self/ns/net")
        .ino()
}

/// A process in namespaces of its own (started by `argv`, which unshares); ended when dropped.
pub struct Process {
    child: Child,
    ns: File,
}

impl Process {
    /// Runs `argv` and waits until its network namespace is not ours (the unshare is done)
    /// and it has exec'd its last program (`last`).
    pub fn spawn(argv: &[&str], last: &str) -> Process {
        let mut child = Command::new(argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"));
        let pid = child.id();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let inode = std::fs::metadata(format!("/proc/{pid}/ns/net")).map(|m| m.ino());
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if inode.is_ok_and(|i| i != own_netns_inode()) && comm.trim() == last {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{argv:?} ended ({status}) before it was ready");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{argv:?} did not get its own network namespace in 10 s");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let ns = File::open(format!("/proc/{pid}/ns/net")).expect("cannot open its namespace");
        Process { child, ns }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Runs `work` on a thread inside this process's network namespace.
    pub fn run<T: Send>(&self, work: impl FnOnce() -> T + Send) -> T {
        let fd = self.ns.as_fd();
        std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    setns(fd, CloneFlags::CLONE_NEWNET).expect("cannot join a test namespace");
                    work()
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// Starts `work` on a thread inside the namespace that outlives this call (a server).
    pub fn spawn_thread<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let ns = self
            .ns
            .try_clone()
            .expect("cannot duplicate a namespace descriptor");
        std::thread::spawn(move || {
            setns(ns.as_fd(), CloneFlags::CLONE_NEWNET).expect("cannot join a test namespace");
            work()
        })
    }

    /// Runs a shell command inside this process's network namespace (only).
    pub fn sh(&self, script: &str) -> Output {
        self.run(|| {
            Command::new("sh")
                .args(["-c", script])
                .output()
                .expect("cannot run sh")
        })
    }

    /// As `sh`, and fails the test when the command fails.
    pub fn sh_ok(&self, script: &str) -> String {
        let output = self.sh(script);
        assert!(
            output.status.success(),
            "`{script}` failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Ends the process (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A namespace that plays the host, wired to one that plays the outside world:
/// host `uplink` 192.0.2.1/24 ⟷ outside `eth0` 192.0.2.2/24, the host's default route via
/// the outside. Both have loopback up.
pub struct World {
    pub host: Process,
    pub outside: Process,
    pub state: tempfile::TempDir,
}

impl World {
    pub fn new() -> World {
        require("ip", "iproute2");
        require("nft", "nftables");
        let host = Process::spawn(&["unshare", "-n", "sleep", "100000"], "sleep");
        let outside = Process::spawn(&["unshare", "-n", "sleep", "100000"], "sleep");
        host.sh_ok(&format!(
            "ip link set lo up && ip link add uplink type veth peer name eth0 netns {outside} && \
             ip addr add {HOST_ADDRESS}/24 dev uplink && ip link set uplink up && \
             ip route add default via {OUTSIDE_ADDRESS}",
            outside = outside.pid()
        ));
        outside.sh_ok(&format!(
            "ip link set lo up && ip addr add {OUTSIDE_ADDRESS}/24 dev eth0 && ip link set eth0 up"
        ));
        let state = tempfile::Builder::new()
            .prefix("launcher-net-state-")
            .tempdir()
            .expect("cannot make a state folder");
        World {
            host,
            outside,
            state,
        }
    }

    pub fn state_root(&self) -> &Path {
        self.state.path()
    }

    /// The names of the host namespace's links.
    pub fn host_links(&self) -> Vec<String> {
        self.host
            .sh_ok("ip -o link show | cut -d: -f2 | cut -d@ -f1")
            .lines()
            .map(|l| l.trim().to_string())
            .collect()
    }

    /// The host namespace's nftables ruleset.
    pub fn ruleset(&self) -> String {
        self.host.sh_ok("nft list ruleset")
    }

    /// The files under STATE/.networks (besides the lock).
    pub fn state_files(&self) -> Vec<String> {
        let mut files = Vec::new();
        let root = self.state_root().join(".networks");
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.file_name().is_some_and(|n| n != ".lock") {
                    files.push(path.strip_prefix(&root).unwrap().display().to_string());
                }
            }
        }
        files
    }

    /// Checks that no veth end, bridge, rule or lease of the launcher is left in the host.
    pub fn assert_clean(&self) {
        // The veth pair of a container that ended goes with its namespace, which the kernel
        // cleans up in the background: give it a moment.
        let ours = |links: &[String]| {
            links
                .iter()
                .any(|l| l.starts_with("lv-") || l.starts_with("ln-"))
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        let mut links = self.host_links();
        while ours(&links) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
            links = self.host_links();
        }
        assert!(!ours(&links), "links left: {links:?}");
        let ruleset = self.ruleset();
        assert!(!ruleset.contains("launcher"), "rules left:\n{ruleset}");
        assert_eq!(self.state_files(), Vec::<String>::new(), "state left");
    }
}

/// A container: a process in a network namespace of its own (and, with `etc`, a mount
/// namespace, private, where the files of `etc` are bound over /etc/hosts and
/// /etc/resolv.conf). The files must exist before (attach rewrites them in place).
pub fn container(etc: Option<&Path>) -> Process {
    match etc {
        None => Process::spawn(&["unshare", "-n", "sleep", "100000"], "sleep"),
        Some(dir) => {
            for name in ["hosts", "resolv.conf", "hostname"] {
                File::create(dir.join(name)).expect("cannot make an /etc file");
            }
            let script = format!(
                "mount --bind {d}/hosts /etc/hosts && mount --bind {d}/resolv.conf /etc/resolv.conf && exec sleep 100000",
                d = dir.display()
            );
            Process::spawn(
                &[
                    "unshare",
                    "-n",
                    "-m",
                    "--propagation",
                    "private",
                    "sh",
                    "-c",
                    &script,
                ],
                "sleep",
            )
        }
    }
}

/// A server thread in a namespace; `join` stops it and waits for it.
pub struct Server {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<usize>>,
}

impl Server {
    /// Stops the server; returns how many connections it served.
    pub fn join(mut self) -> std::thread::Result<usize> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.handle.take().map_or(Ok(0), |h| h.join())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A TCP server on `port` (all addresses) that answers each connection with `reply` and
/// the peer's address, until stopped (or after 30 s).
pub fn tcp_server(ns: &Process, port: u16, reply: &'static str) -> Server {
    tcp_server_on(ns, "0.0.0.0", port, reply)
}

/// As `tcp_server`, on `address` (`"::"`: IPv6 and IPv4, dual-stack).
pub fn tcp_server_on(
    ns: &Process,
    address: &'static str,
    port: u16,
    reply: &'static str,
) -> Server {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop.clone();
    let handle = ns.spawn_thread(move || {
        let listener = TcpListener::bind((address, port)).expect("cannot listen");
        // Non-blocking, so that it notices the stop (and a failed test leaves no thread).
        listener.set_nonblocking(true).unwrap();
        ready_tx.send(()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut served = 0;
        while !stopped.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < deadline {
            match listener.accept() {
                Ok((mut stream, peer)) => {
                    let _ = stream.set_nonblocking(false);
                    let _ = stream.write_all(format!("{reply} {}\n", peer.ip()).as_bytes());
                    served += 1;
                }
                Err(_) => std::thread::sleep(Duration::from_millis(2)),
            }
        }
        served
    });
    ready_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the server did not start");
    Server {
        stop,
        handle: Some(handle),
    }
}

/// A UDP server on `port` that answers `count` datagrams with `reply`.
pub fn udp_server(
    ns: &Process,
    port: u16,
    reply: &'static str,
    count: usize,
) -> std::thread::JoinHandle<()> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let handle = ns.spawn_thread(move || {
        let socket = UdpSocket::bind(("0.0.0.0", port)).expect("cannot bind");
        socket
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        ready_tx.send(()).unwrap();
        let mut buffer = [0; 512];
        for _ in 0..count {
            let Ok((_, from)) = socket.recv_from(&mut buffer) else {
                return;
            };
            let _ = socket.send_to(reply.as_bytes(), from);
        }
    });
    ready_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the server did not start");
    handle
}

/// Connects to `address` from inside `ns` and returns the line the server said, or the error.
pub fn tcp_get(ns: &Process, address: &str) -> Result<String, String> {
    let address: SocketAddr = address.parse().expect("a socket address");
    ns.run(move || {
        let stream = TcpStream::connect_timeout(&address, Duration::from_secs(2))
            .map_err(|e| format!("connect {address}: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        // One line, not until EOF: a relay (pasta) may pass the server's close on late.
        let mut line = String::new();
        std::io::BufReader::new(stream)
            .read_line(&mut line)
            .map_err(|e| format!("read from {address}: {e}"))?;
        if line.is_empty() {
            return Err(format!("{address} closed without a word"));
        }
        Ok(line.trim().to_string())
    })
}

/// Sends a datagram to `address` from inside `ns` and returns the answer.
pub fn udp_ask(ns: &Process, address: &str) -> Result<String, String> {
    let address: SocketAddr = address.parse().expect("a socket address");
    ns.run(move || {
        let socket = UdpSocket::bind("0.0.0.0:0").map_err(|e| e.to_string())?;
        socket
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut buffer = [0; 512];
        socket
            .send_to(b"ping", address)
            .map_err(|e| format!("send to {address}: {e}"))?;
        let (length, _) = socket
            .recv_from(&mut buffer)
            .map_err(|e| format!("no answer from {address}: {e}"))?;
        Ok(String::from_utf8_lossy(&buffer[..length]).into_owned())
    })
}
