//! Terminals: controlling terminal, process groups, window size, termios, pseudo-terminals.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::*;

/// Makes `fd` (a terminal) the controlling terminal of this session.
pub fn set_controlling_terminal(fd: RawFd) -> SysResult<()> {
    // SAFETY: TIOCSCTTY takes an int argument.
    check(unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) }).map(drop)
}

pub fn tcsetpgrp(fd: RawFd, pgrp: libc::pid_t) -> SysResult<()> {
    // SAFETY: plain integers.
    check(unsafe { libc::tcsetpgrp(fd, pgrp) }).map(drop)
}

pub fn isatty(fd: RawFd) -> bool {
    // SAFETY: plain integer.
    unsafe { libc::isatty(fd) == 1 }
}

pub fn get_winsize(fd: RawFd) -> SysResult<libc::winsize> {
    // SAFETY: winsize is plain data; TIOCGWINSZ fills it.
    unsafe {
        let mut size: libc::winsize = std::mem::zeroed();
        check(libc::ioctl(fd, libc::TIOCGWINSZ, &mut size)).map(|_| size)
    }
}

pub fn set_winsize(fd: RawFd, size: &libc::winsize) -> SysResult<()> {
    // SAFETY: TIOCSWINSZ reads a valid winsize.
    check(unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, size) }).map(drop)
}

pub fn tcgetattr(fd: RawFd) -> SysResult<libc::termios> {
    // SAFETY: termios is plain data; tcgetattr fills it.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        check(libc::tcgetattr(fd, &mut t)).map(|_| t)
    }
}

pub fn tcsetattr(fd: RawFd, t: &libc::termios) -> SysResult<()> {
    // SAFETY: t is a valid termios.
    check(unsafe { libc::tcsetattr(fd, libc::TCSADRAIN, t) }).map(drop)
}

pub fn make_raw(t: &mut libc::termios) {
    // SAFETY: t is a valid termios.
    unsafe { libc::cfmakeraw(t) };
}

/// Opens a new pseudo-terminal pair from the devpts at `ptmx`: (master, slave).
pub fn open_pty(ptmx: &CStr) -> SysResult<(OwnedFd, OwnedFd)> {
    let master = open(ptmx, libc::O_RDWR | libc::O_NOCTTY)?;
    // SAFETY: master is an open ptmx descriptor.
    check(unsafe { libc::unlockpt(master.as_raw_fd()) })?;
    // TIOCGPTPEER opens the peer through the master itself, without a path lookup.
    const TIOCGPTPEER: libc::c_ulong = 0x5441;
    // SAFETY: TIOCGPTPEER takes open flags and returns a new descriptor.
    let slave = check(unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: the ioctl returned a new descriptor that nothing else owns.
    Ok((master, unsafe { OwnedFd::from_raw_fd(slave) }))
}

/// The number N of the pseudo-terminal /dev/pts/N behind a master.
pub fn pty_number(master: RawFd) -> SysResult<u32> {
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes an unsigned int.
    check(unsafe { libc::ioctl(master, libc::TIOCGPTN, &mut n) }).map(|_| n)
}
