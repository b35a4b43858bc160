//! Detached containers (`launcher up -d`): the monitor is a fork of the launcher, in a session
//! of its own, with no terminal. It runs the container with stdin on /dev/null and stdout and
//! stderr on pipes, hands every byte of output to a sink (the log files), forwards signals it
//! gets to the container, and returns how the container ended.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use super::process::{self, FORWARDED, Watcher};
use super::sys::{self, Errno};
use super::{Ended, RunError, prepare};
use crate::plan::Plan;

/// Which output of the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

fn monitor(what: &str) -> impl FnOnce(Errno) -> RunError + '_ {
    move |errno| RunError::Monitor {
        what: what.to_string(),
        errno,
    }
}

/// Forks the monitor. The child leaves the caller's session, terminal and folder, puts stdin, stdout
/// and stderr on /dev/null (so that whoever reads the launcher's output is not kept waiting
/// by the monitor), runs `body` with the write end of a pipe to the caller, and exits with
/// what it returns. The caller gets the monitor's pid and the read end of that pipe.
pub fn fork_monitor(body: impl FnOnce(OwnedFd) -> i32) -> Result<(libc::pid_t, OwnedFd), RunError> {
    let (ready_read, ready_write) = sys::pipe().map_err(monitor("create the start-up pipe"))?;
    let null = sys::open(c"/dev/null", libc::O_RDWR).map_err(monitor("open /dev/null"))?;
    match sys::fork().map_err(monitor("fork the monitor"))? {
        0 => {
            drop(ready_read);
            // Out of the caller's folder too, so that it does not keep a mount busy.
            let detached = sys::setsid().is_ok()
                && sys::chdir(c"/").is_ok()
                && (0..3).all(|fd| sys::dup2(null.as_raw_fd(), fd).is_ok());
            drop(null);
            let code = if detached { body(ready_write) } else { 125 };
            sys::exit_now(code)
        }
        pid => Ok((pid, ready_read)),
    }
}

/// Waits for a monitor that ended before the container ran, so it leaves no zombie.
pub fn reap(pid: libc::pid_t) {
    let _ = sys::waitpid(pid, false);
}

/// In the monitor: runs the container to its end. `started` is called once the command runs,
/// with its pid (to record it); `sink` gets the container's output as it comes.
pub fn run(
    plan: &Plan,
    started: &mut dyn FnMut(libc::pid_t) -> Result<(), String>,
    sink: &mut dyn FnMut(Stream, &[u8]),
) -> Result<Ended, RunError> {
    let prepared = prepare::prepare(plan)?;
    let (stdout_read, stdout_write) = sys::pipe().map_err(monitor("create the stdout pipe"))?;
    let (stderr_read, stderr_write) = sys::pipe().map_err(monitor("create the stderr pipe"))?;
    // The container inherits 1 and 2; the monitor puts /dev/null back once it runs.
    sys::dup2(stdout_write.as_raw_fd(), 1).map_err(monitor("redirect stdout to a pipe"))?;
    sys::dup2(stderr_write.as_raw_fd(), 2).map_err(monitor("redirect stderr to a pipe"))?;
    drop((stdout_write, stderr_write));
    let mut watcher = Detached {
        started,
        sink,
        stdout: Some(stdout_read),
        stderr: Some(stderr_read),
    };
    let ended = process::run(plan, &prepared, &mut watcher);
    // On a failure before `started`, the monitor still holds the pipes' write ends.
    release_stdio();
    ended
}

/// Puts /dev/null on stdout and stderr, closing the monitor's ends of the output pipes.
fn release_stdio() {
    if let Ok(null) = sys::open(c"/dev/null", libc::O_RDWR) {
        let _ = sys::dup2(null.as_raw_fd(), 1);
        let _ = sys::dup2(null.as_raw_fd(), 2);
    }
}

struct Detached<'a> {
    started: &'a mut dyn FnMut(libc::pid_t) -> Result<(), String>,
    sink: &'a mut dyn FnMut(Stream, &[u8]),
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
}

impl Watcher for Detached<'_> {
    fn started(&mut self, pid: libc::pid_t) -> Result<(), RunError> {
        release_stdio();
        (self.started)(pid).map_err(|what| RunError::Monitor {
            what,
            errno: Errno::EIO,
        })
    }

    fn watch(
        &mut self,
        pid: libc::pid_t,
        signal_fd: OwnedFd,
        _master: Option<OwnedFd>,
    ) -> Result<libc::c_int, RunError> {
        loop {
            let mut fds = [
                poll_fd(signal_fd.as_raw_fd()),
                poll_fd(raw(&self.stdout)),
                poll_fd(raw(&self.stderr)),
            ];
            match sys::poll(&mut fds, -1) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(errno) => return Err(monitor("wait for the container")(errno)),
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
            match sys::read_signal(signal_fd.as_raw_fd()).map_err(monitor("read a signal"))? {
                libc::SIGCHLD => {
                    if let Some((_, status)) =
                        sys::waitpid(pid, true).map_err(monitor("wait for the container"))?
                    {
                        self.drain();
                        return Ok(status);
                    }
                }
                // The launcher's forwarded signals, but SIGWINCH: a detached container has no
                // terminal whose size could change.
                signal if signal != libc::SIGWINCH && FORWARDED.contains(&signal) => {
                    let _ = sys::kill(pid, signal);
                }
                _ => {}
            }
        }
    }
}

impl Detached<'_> {
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

fn poll_fd(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}
