//! The tiny init that runs as the container's PID 1 when `init = true`: it forwards every
//! catchable signal to the command, reaps every zombie, and exits with the command's status.
//! PID 1 ignores signals it has no handler for; the command, as PID 2, does not.

use crate::sys;

/// Waits for signals until the command ends, tells the launcher its wait status over
/// `status`, and exits with the code a shell would give; never returns.
pub fn run(command: libc::pid_t, status: std::os::fd::OwnedFd) -> ! {
    // Nobody in the container may open /proc/1/exe, which is the launcher's binary on the
    // host (CVE-2019-5736): a non-dumpable process's /proc files belong to root of the
    // initial user namespace and deny ptrace-mode access.
    let _ = sys::prctl(libc::PR_SET_DUMPABLE, 0);
    // Without a PID namespace we are not PID 1; adopt orphans all the same.
    let _ = sys::prctl(libc::PR_SET_CHILD_SUBREAPER, 1);
    let all = sys::full_sigset();
    loop {
        let signal = match sys::wait_signal(&all) {
            Ok(signal) => signal,
            Err(_) => sys::exit_now(125),
        };
        match signal {
            libc::SIGCHLD => {
                if let Some(ended) = reap(command) {
                    // PID 1 cannot die of the command's signal (the kernel ignores signals
                    // to a namespace's init from inside it): the raw status says it.
                    let _ = sys::write_all(
                        std::os::fd::AsRawFd::as_raw_fd(&status),
                        &ended.to_ne_bytes(),
                    );
                    sys::exit_now(status_code(ended));
                }
            }
            // Job-control stops make no sense for init itself.
            libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU => {}
            other => {
                let _ = sys::kill(command, other);
            }
        }
    }
}

/// Reaps every exited child; returns the command's wait status once it has ended.
fn reap(command: libc::pid_t) -> Option<libc::c_int> {
    let mut ended = None;
    loop {
        match sys::waitpid(-1, true) {
            Ok(Some((pid, status))) if pid == command => ended = Some(status),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return ended,
        }
    }
}

/// The exit code a shell would report: the code, or 128 + the signal.
pub fn status_code(status: libc::c_int) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        125
    }
}
