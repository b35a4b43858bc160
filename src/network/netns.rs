//! The container's network namespace, as the launcher holds it between clone and go-ahead: a
//! descriptor of `/proc/PID/ns/net`. Work inside it runs on a short-lived thread that joins
//! it with setns(2); the rest of the launcher stays in the host's namespace.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::sched::{CloneFlags, setns};

use super::NetworkError;
use super::netlink::Netlink;

/// A network namespace to configure: a descriptor of it, and the pid it came from (pasta
/// needs the pid, to join the process's user namespace too).
#[derive(Debug)]
pub struct Netns {
    fd: OwnedFd,
    pid: Option<i32>,
    label: String,
}

impl Netns {
    /// The namespace of process `pid` (e.g. the container's first process, right after clone).
    pub fn of_pid(pid: i32) -> Result<Netns, NetworkError> {
        let path = format!("/proc/{pid}/ns/net");
        let file = File::open(&path).map_err(|source| NetworkError::Netns {
            action: "cannot open the network namespace",
            path: path.clone(),
            source,
        })?;
        Ok(Netns {
            fd: file.into(),
            pid: Some(pid),
            label: path,
        })
    }

    /// A namespace from a descriptor the caller opened (a `/proc/PID/ns/net` or a bind of one).
    pub fn from_fd(fd: OwnedFd) -> Netns {
        Netns {
            fd,
            pid: None,
            label: "the network namespace descriptor".to_string(),
        }
    }

    /// The namespace of the process behind a pidfd (setns(2) takes pidfds since Linux 5.8).
    pub fn of_pidfd(pidfd: BorrowedFd<'_>, pid: i32) -> Result<Netns, NetworkError> {
        let opened = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    setns(pidfd, CloneFlags::CLONE_NEWNET)
                        .map_err(std::io::Error::from)
                        .and_then(|()| File::open("/proc/thread-self/ns/net"))
                })
                .join()
        });
        let file = opened
            .unwrap_or_else(|_| Err(std::io::Error::other("the thread that joined it panicked")))
            .map_err(|source| NetworkError::Netns {
                action: "cannot join the network namespace of",
                path: format!("pid {pid} (pidfd)"),
                source,
            })?;
        Ok(Netns {
            fd: file.into(),
            pid: Some(pid),
            label: format!("/proc/{pid}/ns/net"),
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    pub fn pid(&self) -> Option<i32> {
        self.pid
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// Runs `work` on a thread inside this namespace and returns what it returns.
    pub fn run<T: Send>(&self, work: impl FnOnce() -> T + Send) -> Result<T, NetworkError> {
        let fd = self.fd.as_fd();
        let joined = std::thread::scope(|scope| {
            scope
                .spawn(move || setns(fd, CloneFlags::CLONE_NEWNET).map(|()| work()))
                .join()
        });
        match joined {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(errno)) => Err(NetworkError::Netns {
                action: "cannot join the network namespace",
                path: self.label.clone(),
                source: errno.into(),
            }),
            Err(_) => Err(NetworkError::Netns {
                action: "a thread in the network namespace panicked in",
                path: self.label.clone(),
                source: std::io::Error::other("panic"),
            }),
        }
    }

    /// A netlink socket that works inside this namespace (opened by a thread that joined it;
    /// the socket keeps its namespace after the thread ends).
    pub fn netlink(&self) -> Result<Netlink, NetworkError> {
        self.run(Netlink::open)?.map_err(|source| {
            NetworkError::netlink(
                "cannot open a netlink socket in",
                self.label.clone(),
                source,
            )
        })
    }
}
