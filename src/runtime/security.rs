//! The command's process settings and confinement: working folder, user, rlimits,
//! capabilities, no_new_privs and the seccomp filter. Conversions run before the clone (in
//! `ops`); the functions here run in the container's process, for `up` and `exec` alike.

use std::ffi::CStr;

use caps::{CapSet, CapsHashSet};

use super::error::Failure;
use crate::sys::{self, Errno};

/// The BPF program as the kernel takes it, from the bytes libseccomp exported.
pub fn bpf_program(bytes: &[u8]) -> Vec<libc::sock_filter> {
    bytes
        .chunks_exact(8)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect()
}

pub fn apply_rlimits(limits: &[(libc::__rlimit_resource_t, libc::rlimit)]) -> Result<(), Failure> {
    for (resource, limit) in limits {
        let name = crate::plan::RlimitKind::ALL
            .iter()
            .find(|k| k.resource() == *resource)
            .map_or("?", |k| k.name());
        sys::setrlimit(*resource, limit).map_err(Failure::of(format!(
            "set rlimit {name} to {}/{} (soft/hard)",
            limit.rlim_cur, limit.rlim_max
        )))?;
    }
    Ok(())
}

/// Changes to the working folder and checks it lies inside the root: a folder outside would
/// show as "(unreachable)/..." (CVE-2024-21626).
pub fn enter_workdir(dir: &CStr) -> Result<(), Failure> {
    let shown = dir.to_string_lossy();
    sys::chdir(dir).map_err(Failure::of(format!("change folder to {shown}")))?;
    match sys::cwd_is_reachable() {
        Ok(true) => Ok(()),
        Ok(false) => Err(Failure::new(
            Errno::EPERM,
            format!("the working folder {shown} lies outside the container"),
        )),
        Err(errno) => Err(Failure::new(
            errno,
            format!("check the working folder {shown}"),
        )),
    }
}

/// Switches to the command's groups, gid and uid, keeping the permitted capabilities across
/// the change (the capabilities step then reduces them to the container's set).
pub fn switch_user(
    uid: u32,
    gid: u32,
    groups: &[libc::gid_t],
    set_groups: bool,
    parent_death: bool,
) -> Result<(), Failure> {
    sys::prctl(libc::PR_SET_KEEPCAPS, 1)
        .map_err(Failure::of("keep capabilities across the uid change"))?;
    if set_groups {
        sys::setgroups(groups)
            .map_err(Failure::of(format!("set supplementary groups {groups:?}")))?;
    }
    sys::setresgid(gid).map_err(Failure::of(format!("switch to gid {gid}")))?;
    sys::setresuid(uid).map_err(Failure::of(format!("switch to uid {uid}")))?;
    // Changing credentials clears the parent-death signal; set it again (unless the process
    // has detached from the launcher).
    if !parent_death {
        return Ok(());
    }
    sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong)
        .map_err(Failure::of("set the parent-death signal"))
}

fn caps_failure(what: &str) -> impl FnOnce(caps::errors::CapsError) -> Failure + '_ {
    move |error| Failure::new(Errno::last(), format!("{what}: {error}"))
}

/// Reduces the capability sets to `keep`: bounding first (which needs CAP_SETPCAP, so the
/// effective set is refilled from the permitted one that PR_SET_KEEPCAPS kept across the uid
/// change), then permitted and effective. Inheritable and ambient are emptied: an inheritable
/// set would hand its capabilities to any program with inheritable file capabilities, even
/// run by a non-root user (CVE-2022-24769).
pub fn apply_capabilities(keep: &CapsHashSet, last: u8) -> Result<(), Failure> {
    let permitted = caps::read(None, CapSet::Permitted)
        .map_err(caps_failure("read the permitted capabilities"))?;
    caps::set(None, CapSet::Effective, &permitted)
        .map_err(caps_failure("raise the effective capabilities"))?;
    for index in 0..=last {
        let in_keep = keep.iter().any(|c| c.index() == index);
        if !in_keep {
            match sys::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(index)) {
                Ok(()) | Err(Errno::EINVAL) => {}
                Err(e) => {
                    return Err(Failure::new(
                        e,
                        format!("drop capability {index} from the bounding set"),
                    ));
                }
            }
        }
    }
    caps::clear(None, CapSet::Ambient).map_err(caps_failure("clear the ambient capabilities"))?;
    let keep_now: CapsHashSet = keep.intersection(&permitted).copied().collect();
    caps::clear(None, CapSet::Inheritable)
        .map_err(caps_failure("clear the inheritable capabilities"))?;
    caps::set(None, CapSet::Effective, &keep_now)
        .map_err(caps_failure("set the effective capabilities"))?;
    caps::set(None, CapSet::Permitted, &keep_now)
        .map_err(caps_failure("set the permitted capabilities"))
}

/// The highest capability number this kernel knows (read before the clone).
pub fn last_capability() -> u8 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(63)
}

pub fn apply_no_new_privileges() -> Result<(), Failure> {
    sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1).map_err(Failure::of("set no_new_privs"))
}

pub fn apply_seccomp(program: &[libc::sock_filter]) -> Result<(), Failure> {
    if program.is_empty() {
        return Ok(());
    }
    sys::seccomp_load(program).map_err(Failure::of(format!(
        "load the seccomp filter ({} instructions)",
        program.len()
    )))
}
