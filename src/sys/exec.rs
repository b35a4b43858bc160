//! Executing the command: argument vectors that own their strings, an execvp-like search, and
//! a vfork-like spawn for the container's init.

use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicI32, Ordering};

use super::*;

/// A null-terminated array of C string pointers, as execve takes it, with the strings it
/// points to (their heap buffers do not move when the `Argv` does).
pub struct Argv {
    strings: Vec<CString>,
    pointers: Vec<*const libc::c_char>,
}

impl Argv {
    pub fn new(strings: Vec<CString>) -> Argv {
        let pointers = strings
            .iter()
            .map(|s| s.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        Argv { strings, pointers }
    }

    pub fn strings(&self) -> &[CString] {
        &self.strings
    }
}

/// `execve(2)`; returns only on failure.
pub fn execve(path: &CStr, argv: &Argv, envp: &Argv) -> Errno {
    // SAFETY: argv and envp are null-terminated arrays of pointers to C strings they own,
    // alive for the call.
    unsafe {
        libc::execve(
            path.as_ptr(),
            argv.pointers.as_ptr(),
            envp.pointers.as_ptr(),
        )
    };
    Errno::last()
}

/// As execvp does: executes the first of `candidates` that exists; "cannot run" beats "not
/// found". Returns only on failure. Allocates nothing.
pub fn exec_first(candidates: &[CString], argv: &Argv, envp: &Argv) -> Errno {
    let mut error = Errno::ENOENT;
    for candidate in candidates {
        match execve(candidate, argv, envp) {
            Errno::ENOENT | Errno::ENOTDIR => {}
            Errno::EACCES => error = Errno::EACCES,
            other => return other,
        }
    }
    error
}

/// What [`spawn`] runs.
pub struct Spawn<'a> {
    pub candidates: &'a [CString],
    pub argv: &'a Argv,
    pub envp: &'a Argv,
    /// The signal mask the command starts with.
    pub mask: &'a libc::sigset_t,
    /// Put its process group in the foreground of the terminal on stdin.
    pub foreground: bool,
}

/// What the spawned process shares with its parent: the request, and the errno of an exec
/// that failed (0 until then).
struct Shared<'a> {
    spawn: &'a Spawn<'a>,
    failed: AtomicI32,
}

/// Starts the command in a new process that shares this one's memory until it execs
/// (`clone(2)` with CLONE_VM | CLONE_VFORK, as posix_spawn does): no page tables are copied,
/// which makes starting the command under init cheap. The new process makes its own process
/// group, restores the signal mask and execs the first candidate that exists. Returns its pid
/// once it has exec'd; if every exec failed, the errno, and the process has been reaped.
pub fn spawn(spawn: &Spawn) -> SysResult<libc::pid_t> {
    extern "C" fn child(arg: *mut libc::c_void) -> libc::c_int {
        // SAFETY: arg is the `Shared` below, alive: the parent is suspended until this process
        // execs or exits (CLONE_VFORK). Only system calls follow: no allocation, no lock.
        let shared = unsafe { &*(arg as *const Shared) };
        let spawn = shared.spawn;
        let _ = setpgid(0, 0);
        if spawn.foreground {
            let _ = tcsetpgrp(0, getpid());
        }
        let errno = match set_signal_mask(spawn.mask) {
            Ok(()) => exec_first(spawn.candidates, spawn.argv, spawn.envp),
            Err(errno) => errno,
        };
        shared.failed.store(errno as i32, Ordering::SeqCst);
        exit_now(127)
    }
    let shared = Shared {
        spawn,
        failed: AtomicI32::new(0),
    };
    let mut stack = vec![0u8; 64 * 1024];
    // The stack grows down: start at its 16-byte-aligned end.
    let top = (stack.as_mut_ptr() as usize + stack.len()) & !15;
    // SAFETY: `top` lies inside `stack`, and `shared` is alive: both outlive the new process's
    // use of them, as this one does not resume before it execs or exits. The new process runs
    // only `child` above, which makes system calls and ends in exec or _exit.
    let pid = check(unsafe {
        libc::clone(
            child,
            top as *mut libc::c_void,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            &shared as *const Shared as *mut libc::c_void,
        )
    })?;
    drop(stack);
    match shared.failed.load(Ordering::SeqCst) {
        0 => Ok(pid),
        errno => {
            let _ = waitpid(pid, false);
            Err(Errno::from_raw(errno))
        }
    }
}
