//! Rootless networking: pasta (Debian's passt package) joins the container's user and network
//! namespaces (by the container's pid), gives it a tap interface with the host's addresses
//! and routes, forwards the published ports from the host, and answers DNS at a forwarder
//! address. [`Pasta::release`] ends it.

use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use rustix::event::{PollFd, PollFlags, poll};
use rustix::process::{Pid, PidfdFlags, Signal, pidfd_open, pidfd_send_signal};

use super::NetworkError;
use super::lease::{Networks, PastaRecord, process_start};
use super::netns::Netns;
use super::ports::{PortSpec, Protocol};
use super::preflight;

/// The address in the container at which pasta forwards DNS queries to the host's resolver
/// (podman's choice too); resolv.conf names it.
pub const DNS_FORWARDER: Ipv4Addr = Ipv4Addr::new(169, 254, 1, 1);

/// How pasta is started.
#[derive(Debug, Clone, Default)]
pub struct PastaRequest {
    pub ports: Vec<PortSpec>,
    /// Run pasta as this uid and gid (a root launcher serving a rootless user's container);
    /// `None`: as the launcher.
    pub run_as: Option<(u32, u32)>,
    /// Record the pasta in `STATE/.networks/.pasta/CONTAINER.json` (state root, container
    /// name), so that whoever finds the container dead ends it ([`super::prune`],
    /// [`super::release_container`]); `None`: no record.
    pub record: Option<(PathBuf, String)>,
}

/// A running pasta, held by a pidfd (it daemonizes, so it is not the launcher's child).
#[derive(Debug)]
#[must_use = "pasta runs until released"]
pub struct Pasta {
    pid: i32,
    pidfd: OwnedFd,
    record: Option<(PathBuf, String)>,
}

/// pasta's arguments for `ports` (besides the target): each protocol's list, or `none`.
pub fn port_arguments(ports: &[PortSpec]) -> Vec<String> {
    let mut args = Vec::new();
    for (protocol, flag) in [(Protocol::Tcp, "-t"), (Protocol::Udp, "-u")] {
        let specs: Vec<String> = ports
            .iter()
            .filter(|p| p.protocol == protocol)
            .map(PortSpec::pasta_spec)
            .collect();
        if specs.is_empty() {
            args.extend([flag.to_string(), "none".to_string()]);
        }
        for spec in specs {
            args.extend([flag.to_string(), spec]);
        }
    }
    // Nothing from the container to the host's own loopback ports.
    args.extend(["-T", "none", "-U", "none"].map(String::from));
    args
}

/// Starts pasta for the namespace of `netns`'s process; returns once pasta has set the
/// namespace up and forwards the ports. Call it between clone and the go-ahead (after the
/// user namespace's id maps are written). Needs no root.
pub fn start(netns: &Netns, request: &PastaRequest) -> Result<Pasta, NetworkError> {
    let program = preflight::require_pasta()?;
    let pid = netns.pid().ok_or_else(|| NetworkError::Pasta {
        action: "start pasta",
        detail: "pasta needs the container's pid (Netns::of_pid), not only a namespace descriptor"
            .to_string(),
    })?;
    for spec in &request.ports {
        preflight::port_free(spec)?;
    }
    let uid = request
        .run_as
        .map(|(uid, _)| uid)
        .unwrap_or_else(|| nix::unistd::geteuid().as_raw());
    preflight::tun_usable(uid)?;
    let failed = |detail: String| NetworkError::Pasta {
        action: "start pasta",
        detail,
    };
    let dir = tempfile::Builder::new()
        .prefix("launcher-pasta-")
        .tempdir()
        .map_err(|e| failed(format!("cannot make a folder for its pid file: {e}")))?;
    let pid_file = dir.path().join("pid");
    let mut command = Command::new(&program);
    command
        .args(["--config-net", "--quiet", "--no-map-gw"])
        .args(["--dns-forward", &DNS_FORWARDER.to_string()])
        .arg("--pid")
        .arg(&pid_file)
        .args(port_arguments(&request.ports))
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // pasta writes its pid file as the user it runs as: run_as, or "nobody" (65534), to
    // which it drops when started as root.
    let writer = match request.run_as {
        Some(ids) => Some(ids),
        None if nix::unistd::geteuid().is_root() => Some((65534, 65534)),
        None => None,
    };
    if let Some((uid, gid)) = writer {
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
            .map_err(|e| failed(format!("cannot hand its pid folder to uid {uid}: {e}")))?;
    }
    if let Some((uid, gid)) = request.run_as {
        use std::os::unix::process::CommandExt;
        command.uid(uid).gid(gid);
    }
    // pasta forks once the namespace is ready; the first process exits then.
    let output = command
        .output()
        .map_err(|e| failed(format!("cannot run {}: {e}", program.display())))?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        let said: Vec<&str> = said
            .lines()
            .filter(|l| !l.starts_with("Failed to send") && !l.trim().is_empty())
            .collect();
        return Err(failed(format!(
            "pasta {} for pid {pid}: {}",
            output.status,
            said.join("; ")
        )));
    }
    let text = std::fs::read_to_string(&pid_file).map_err(|e| {
        failed(format!(
            "cannot read its pid file {}: {e}",
            pid_file.display()
        ))
    })?;
    let pasta_pid: i32 = text
        .trim()
        .parse()
        .map_err(|_| failed(format!("its pid file says {text:?}")))?;
    // The pid file was in a folder another user could write: check that it names a pasta.
    let comm = std::fs::read_to_string(format!("/proc/{pasta_pid}/comm")).unwrap_or_default();
    if !matches!(comm.trim(), "pasta" | "passt" | "pasta.avx2" | "passt.avx2") {
        return Err(failed(format!(
            "its pid file names pid {pasta_pid}, which is {:?}, not pasta",
            comm.trim()
        )));
    }
    let pidfd = Pid::from_raw(pasta_pid)
        .ok_or_else(|| failed(format!("its pid file says {pasta_pid}")))
        .and_then(|p| {
            pidfd_open(p, PidfdFlags::empty())
                .map_err(|e| failed(format!("pasta (pid {pasta_pid}) is gone already: {e}")))
        })?;
    let pasta = Pasta {
        pid: pasta_pid,
        pidfd,
        record: request.record.clone(),
    };
    if let Some((state_root, container)) = &request.record {
        let record = PastaRecord {
            container: container.clone(),
            pasta_pid,
            pasta_start: process_start(pasta_pid),
            pid,
            pid_start: process_start(pid),
        };
        let saved = Networks::lock(state_root).and_then(|n| n.save_pasta(&record));
        if let Err(error) = saved {
            let _ = pasta.release();
            return Err(error);
        }
    }
    Ok(pasta)
}

/// Ends the pasta of `record` if it is still that process, and removes the record.
pub(crate) fn end_recorded(networks: &Networks, record: &PastaRecord) -> Result<(), NetworkError> {
    if record.pasta_alive() {
        let comm =
            std::fs::read_to_string(format!("/proc/{}/comm", record.pasta_pid)).unwrap_or_default();
        if comm.trim().starts_with("pasta") || comm.trim().starts_with("passt") {
            let ended = Pid::from_raw(record.pasta_pid)
                .and_then(|p| pidfd_open(p, PidfdFlags::empty()).ok())
                .map(|pidfd| Pasta {
                    pid: record.pasta_pid,
                    pidfd,
                    record: None,
                });
            if let Some(pasta) = ended {
                pasta.release()?;
            }
        }
    }
    networks.remove_pasta(&record.container)
}

impl Pasta {
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The nameserver for the container's resolv.conf.
    pub fn dns_forwarder(&self) -> Ipv4Addr {
        DNS_FORWARDER
    }

    /// Ends pasta (SIGTERM, then SIGKILL after a second), waits until it is gone, and removes
    /// its record.
    pub fn release(self) -> Result<(), NetworkError> {
        let record = self.record.clone();
        self.end()?;
        if let Some((state_root, container)) = record {
            Networks::lock(&state_root)?.remove_pasta(&container)?;
        }
        Ok(())
    }

    fn end(self) -> Result<(), NetworkError> {
        let failed = |detail: String| NetworkError::Pasta {
            action: "end pasta",
            detail,
        };
        for (signal, wait_ms) in [(Signal::TERM, 1000), (Signal::KILL, 5000)] {
            match pidfd_send_signal(&self.pidfd, signal) {
                Ok(()) => {}
                Err(rustix::io::Errno::SRCH) => return Ok(()),
                Err(e) => return Err(failed(format!("cannot signal pid {}: {e}", self.pid))),
            }
            let timeout = rustix::time::Timespec {
                tv_sec: wait_ms / 1000,
                tv_nsec: (wait_ms % 1000) * 1_000_000,
            };
            let mut fds = [PollFd::new(&self.pidfd, PollFlags::IN)];
            if poll(&mut fds, Some(&timeout))
                .map_err(|e| failed(format!("cannot wait for pid {}: {e}", self.pid)))?
                > 0
            {
                return Ok(());
            }
        }
        Err(failed(format!(
            "pid {} did not end after SIGKILL",
            self.pid
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_become_pasta_arguments() {
        let ports = super::super::ports::parse_all(&["8080:80", "127.0.0.1:5353:53/udp"]).unwrap();
        assert_eq!(
            port_arguments(&ports).join(" "),
            "-t 8080:80 -u 127.0.0.1/5353:53 -T none -U none"
        );
        assert_eq!(
            port_arguments(&[]).join(" "),
            "-t none -u none -T none -U none"
        );
    }
}
