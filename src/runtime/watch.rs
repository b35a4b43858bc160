//! What the launcher does while the command runs (the monitor step): in the foreground it
//! forwards signals and copies the terminal; a detached monitor (`up -d`) runs the container
//! with stdin on /dev/null and stdout and stderr on pipes, hands every byte of output to a
//! sink (the log files) and forwards the signals it gets.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use super::error::Failure;
use super::tty::{self, RawMode};
use crate::plan::FORWARDED_SIGNALS;
use crate::sys::{self, Errno};

/// The monitor's side of a running container.
pub trait Watcher {
    /// Called once the command runs (its exec succeeded).
    fn started(&mut self, pid: libc::pid_t) -> Result<(), Failure>;
    /// Waits until the container's first process ends; returns its wait status.
    fn watch(
        &mut self,
        pid: libc::pid_t,
        signal_fd: OwnedFd,
        master: Option<OwnedFd>,
    ) -> Result<libc::c_int, Failure>;
}

/// `launcher up` and `launcher exec` in the foreground; `started` is called once the command
/// runs, with its pid (`up` records the container then).
pub struct Foreground<'a> {
    pub started: Option<&'a mut dyn FnMut(libc::pid_t) -> Result<(), String>>,
}

impl Watcher for Foreground<'_> {
    fn started(&mut self, pid: libc::pid_t) -> Result<(), Failure> {
        match &mut self.started {
            Some(started) => started(pid).map_err(|what| Failure::new(Errno::EIO, what)),
            None => Ok(()),
        }
    }

    /// Forwards signals, copies the terminal, returns the wait status.
    fn watch(
        &mut self,
        pid: libc::pid_t,
        signal_fd: OwnedFd,
        master: Option<OwnedFd>,
    ) -> Result<libc::c_int, Failure> {
        let stdin_is_tty = sys::isatty(0);
        let _raw = match &master {
            Some(_) if stdin_is_tty => {
                Some(RawMode::enter(0).map_err(Failure::of("put the terminal in raw mode"))?)
            }
            _ => None,
        };
        if let Some(master) = &master
            && stdin_is_tty
        {
            tty::sync_size(0, master);
        }
        let master_fd: RawFd = master.as_ref().map_or(-1, |m| m.as_raw_fd());
        let mut stdin_open = master.is_some();
        let mut master_open = master.is_some();
        loop {
            let mut fds = [
                poll_fd(signal_fd.as_raw_fd()),
                poll_fd(if master_open { master_fd } else { -1 }),
                poll_fd(if stdin_open { 0 } else { -1 }),
            ];
            match sys::poll(&mut fds, -1) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(errno) => return Err(Failure::new(errno, "wait for the container")),
            }
            if fds[1].revents != 0 && !tty::pump(master_fd, 1).unwrap_or(false) {
                master_open = false;
            }
            if fds[2].revents != 0 && !tty::pump(0, master_fd).unwrap_or(false) {
                stdin_open = false;
                // End of input: the terminal's end-of-file character, as a typed Ctrl-D would.
                let _ = sys::write_all(master_fd, b"\x04");
            }
            if fds[0].revents == 0 {
                continue;
            }
            let signal =
                sys::read_signal(signal_fd.as_raw_fd()).map_err(Failure::of("read a signal"))?;
            match signal {
                libc::SIGCHLD => {
                    if let Some((_, status)) =
                        sys::waitpid(pid, true).map_err(Failure::of("wait for the container"))?
                    {
                        if master_open {
                            drain_terminal(master_fd);
                        }
                        return Ok(status);
                    }
                }
                // With a terminal, the kernel signals the container's foreground job itself.
                libc::SIGWINCH if master_open => {
                    if let Some(master) = &master {
                        tty::sync_size(0, master);
                    }
                }
                other => {
                    let _ = sys::kill(pid, other);
                }
            }
        }
    }
}

fn poll_fd(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// Copies what the container wrote to the terminal before it ended.
fn drain_terminal(master: RawFd) {
    loop {
        let mut fds = [poll_fd(master)];
        if !matches!(sys::poll(&mut fds, 0), Ok(1)) || !tty::pump(master, 1).unwrap_or(false) {
            return;
        }
    }
}

/// Which output of the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// A detached monitor: the container's stdout and stderr go to a sink.
pub struct Logs<'a> {
    started: &'a mut dyn FnMut(libc::pid_t) -> Result<(), String>,
    sink: &'a mut dyn FnMut(Stream, &[u8]),
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
}

impl<'a> Logs<'a> {
    /// Puts pipes on this process's stdout and stderr, for the container to inherit. `started`
    /// is called once the command runs, with its pid (to record it); `sink` gets the output.
    pub fn new(
        started: &'a mut dyn FnMut(libc::pid_t) -> Result<(), String>,
        sink: &'a mut dyn FnMut(Stream, &[u8]),
    ) -> Result<Logs<'a>, Failure> {
        let (stdout_read, stdout_write) =
            sys::pipe().map_err(Failure::of("create the stdout pipe"))?;
        let (stderr_read, stderr_write) =
            sys::pipe().map_err(Failure::of("create the stderr pipe"))?;
        // The container inherits 1 and 2; the monitor puts /dev/null back once it runs.
        sys::dup2(stdout_write.as_raw_fd(), 1).map_err(Failure::of("redirect stdout to a pipe"))?;
        sys::dup2(stderr_write.as_raw_fd(), 2).map_err(Failure::of("redirect stderr to a pipe"))?;
        Ok(Logs {
            started,
            sink,
            stdout: Some(stdout_read),
            stderr: Some(stderr_read),
        })
    }
}

impl Drop for Logs<'_> {
    /// On a failure before `started`, the monitor still holds the pipes' write ends.
    fn drop(&mut self) {
        release_stdio();
    }
}

/// Puts /dev/null on stdout and stderr, closing the monitor's ends of the output pipes.
fn release_stdio() {
    if let Ok(null) = sys::open(c"/dev/null", libc::O_RDWR) {
        let _ = sys::dup2(null.as_raw_fd(), 1);
        let _ = sys::dup2(null.as_raw_fd(), 2);
    }
}

impl Watcher for Logs<'_> {
    fn started(&mut self, pid: libc::pid_t) -> Result<(), Failure> {
        release_stdio();
        (self.started)(pid).map_err(|what| Failure::new(Errno::EIO, what))
    }

    fn watch(
        &mut self,
        pid: libc::pid_t,
        signal_fd: OwnedFd,
        _master: Option<OwnedFd>,
    ) -> Result<libc::c_int, Failure> {
        loop {
            let mut fds = [
                poll_fd(signal_fd.as_raw_fd()),
                poll_fd(raw(&self.stdout)),
                poll_fd(raw(&self.stderr)),
            ];
            match sys::poll(&mut fds, -1) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(errno) => return Err(Failure::new(errno, "wait for the container")),
            }
            if fds[1].revents != 0 {
                self.pump(Stream::Stdout);
            }
            if fds[2].revents != 0 {
                self.pump(Stream::Stderr);
            }
            if fds[0].revents == 0 {
                continue;
            }
            match sys::read_signal(signal_fd.as_raw_fd()).map_err(Failure::of("read a signal"))? {
                libc::SIGCHLD => {
                    if let Some((_, status)) =
                        sys::waitpid(pid, true).map_err(Failure::of("wait for the container"))?
                    {
                        self.drain();
                        return Ok(status);
                    }
                }
                // The launcher's forwarded signals, but SIGWINCH: a detached container has no
                // terminal whose size could change.
                signal if signal != libc::SIGWINCH && FORWARDED_SIGNALS.contains(&signal) => {
                    let _ = sys::kill(pid, signal);
                }
                _ => {}
            }
        }
    }
}

impl Logs<'_> {
    /// Copies what is readable from one pipe to the sink; closes it at end of file.
    fn pump(&mut self, stream: Stream) -> bool {
        let pipe = match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        let Some(fd) = pipe.as_ref().map(AsRawFd::as_raw_fd) else {
            return false;
        };
        let mut buf = [0u8; 16384];
        match sys::read(fd, &mut buf) {
            Ok(0) | Err(_) => {
                *pipe = None;
                false
            }
            Ok(n) => {
                (self.sink)(stream, &buf[..n]);
                true
            }
        }
    }

    /// After the container's first process ended: what is left in the pipes. With a PID
    /// namespace every writer is gone and the pipes end; without one, a process that
    /// outlived it could keep them open, so only what is there now is taken.
    fn drain(&mut self) {
        for stream in [Stream::Stdout, Stream::Stderr] {
            loop {
                let fd = match stream {
                    Stream::Stdout => raw(&self.stdout),
                    Stream::Stderr => raw(&self.stderr),
                };
                let mut fds = [poll_fd(fd)];
                if fd < 0 || !matches!(sys::poll(&mut fds, 0), Ok(1)) || !self.pump(stream) {
                    break;
                }
            }
        }
    }
}

fn raw(fd: &Option<OwnedFd>) -> RawFd {
    fd.as_ref().map_or(-1, AsRawFd::as_raw_fd)
}

/// Forks a detached monitor. The child leaves the caller's session, terminal and folder, puts
/// stdin, stdout and stderr on /dev/null (so that whoever reads the launcher's output is not
/// kept waiting by the monitor), runs `body` with `held` and the write end of a pipe to the
/// caller, and exits with what it returns. The caller gets the monitor's pid, the read end of
/// that pipe, and `held` back.
///
/// `held` is forked with the process: each side owns its copy (for a lock, its descriptor:
/// the lock is released once both have let go of it).
pub fn fork_monitor<T>(
    held: T,
    body: impl FnOnce(T, OwnedFd) -> i32,
) -> Result<(libc::pid_t, OwnedFd, T), Failure> {
    let (ready_read, ready_write) = sys::pipe().map_err(Failure::of("create the start-up pipe"))?;
    let null = sys::open(c"/dev/null", libc::O_RDWR).map_err(Failure::of("open /dev/null"))?;
    match sys::fork().map_err(Failure::of("fork the monitor"))? {
        0 => {
            drop(ready_read);
            // Out of the caller's folder too, so that it does not keep a mount busy.
            let detached = sys::setsid().is_ok()
                && sys::chdir(c"/").is_ok()
                && (0..3).all(|fd| sys::dup2(null.as_raw_fd(), fd).is_ok());
            drop(null);
            let code = if detached {
                body(held, ready_write)
            } else {
                125
            };
            sys::exit_now(code)
        }
        pid => Ok((pid, ready_read, held)),
    }
}

/// Waits for a monitor that ended before the container ran, so it leaves no zombie.
pub fn reap(pid: libc::pid_t) {
    let _ = sys::waitpid(pid, false);
}
