//! The tiny init that runs as the container's PID 1 when `init = true`: it forwards every
//! catchable signal to the command, reaps every zombie, and exits with the command's status.
//! PID 1 ignores signals it has no handler for; the command, as PID 2, does not.

use crate::sys;

/// Waits for signals until the command ends; never returns.
pub fn run(command: libc::pid_t) -> ! {
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
                if let Some(code) = reap(command) {
                    sys::exit_now(code);
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

/// Reaps every exited child; returns the exit code once the command itself has ended.
fn reap(command: libc::pid_t) -> Option<i32> {
    let mut ended = None;
    loop {
        match sys::waitpid(-1, true) {
            Ok(Some((pid, status))) if pid == command => ended = Some(status_code(status)),
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
