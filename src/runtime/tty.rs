//! The pseudo-terminal. The container opens it from its own devpts (so it has a name there and
//! /dev/console can point at it) and sends the master to the launcher, which copies bytes
//! between it and the host terminal, in raw mode, and keeps the window size in sync.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use super::error::Failure;
use crate::sys::{self, Errno};

/// In the container, after pivot_root: opens a pty, makes its slave the controlling terminal
/// and stdio, binds it on /dev/console (for the container's first process, not for `exec`), and
/// sends the master over `socket`.
pub fn attach_in_container(socket: OwnedFd, console: bool) -> Result<(), Failure> {
    let (master, slave) = sys::open_pty(c"/dev/pts/ptmx")
        .map_err(Failure::of("open a pseudo-terminal from /dev/pts/ptmx"))?;
    // Copy the host terminal's size while stdin is still the host's.
    if let Ok(size) = sys::get_winsize(0) {
        let _ = sys::set_winsize(master.as_raw_fd(), &size);
    }
    if console {
        let number = sys::pty_number(master.as_raw_fd())
            .map_err(Failure::of("read the pseudo-terminal's number"))?;
        bind_console(number)?;
    }
    sys::set_controlling_terminal(slave.as_raw_fd()).map_err(Failure::of(
        "make the pseudo-terminal the controlling terminal",
    ))?;
    for fd in 0..3 {
        sys::dup2(slave.as_raw_fd(), fd)
            .map_err(Failure::of(format!("make the pseudo-terminal fd {fd}")))?;
    }
    sys::send_fd(socket.as_raw_fd(), master.as_raw_fd())
        .map_err(Failure::of("send the pseudo-terminal to the launcher"))?;
    drop(socket);
    Ok(())
}

fn bind_console(number: u32) -> Result<(), Failure> {
    let path = sys::cstring(format!("/dev/pts/{number}")).map_err(Failure::of("console"))?;
    let tree = sys::clone_tree(&path, false).map_err(Failure::of(format!(
        "bind /dev/pts/{number} on /dev/console"
    )))?;
    let dev =
        sys::open(c"/dev", libc::O_PATH | libc::O_DIRECTORY).map_err(Failure::of("open /dev"))?;
    let console = sys::openat(
        dev.as_fd(),
        c"console",
        libc::O_CREAT | libc::O_WRONLY | libc::O_NOFOLLOW,
        0o600,
    )
    .map_err(Failure::of("create /dev/console"))?;
    sys::attach(tree.as_fd(), console.as_fd()).map_err(Failure::of(format!(
        "bind /dev/pts/{number} on /dev/console"
    )))
}

/// The host terminal in raw mode, restored when dropped.
pub struct RawMode {
    fd: RawFd,
    saved: libc::termios,
}

impl RawMode {
    /// Puts `fd` (a terminal) in raw mode: keys such as Ctrl-C go to the container as bytes.
    pub fn enter(fd: RawFd) -> Result<Self, Errno> {
        let saved = sys::tcgetattr(fd)?;
        let mut raw = saved;
        sys::make_raw(&mut raw);
        sys::tcsetattr(fd, &raw)?;
        Ok(RawMode { fd, saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = sys::tcsetattr(self.fd, &self.saved);
    }
}

/// Copies what is readable from `from` to `to`; `Ok(false)` at end of input.
pub fn pump(from: RawFd, to: RawFd) -> Result<bool, Errno> {
    let mut buf = [0u8; 8192];
    match sys::read(from, &mut buf) {
        Ok(0) => Ok(false),
        Ok(n) => sys::write_all(to, &buf[..n]).map(|_| true),
        // The slave side closed: the container's processes are gone.
        Err(Errno::EIO) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Copies the host terminal's window size to the container's.
pub fn sync_size(host: RawFd, master: &OwnedFd) {
    if let Ok(size) = sys::get_winsize(host) {
        let _ = sys::set_winsize(master.as_raw_fd(), &size);
    }
}
