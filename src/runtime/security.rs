//! Security steps in the container's first process: rlimits, capabilities, no_new_privs and
//! the seccomp filter. The conversions run in the parent (before the clone); the `apply_*`
//! functions run in the child.

use std::str::FromStr;

use caps::{CapSet, Capability, CapsHashSet};

use super::rootfs::Failure;
use super::sys::{self, Errno};
use crate::plan::RlimitSpec;

/// `[rlimits]` keys and their kernel numbers.
pub const RLIMITS: [(&str, libc::__rlimit_resource_t); 16] = [
    ("as", libc::RLIMIT_AS),
    ("core", libc::RLIMIT_CORE),
    ("cpu", libc::RLIMIT_CPU),
    ("data", libc::RLIMIT_DATA),
    ("fsize", libc::RLIMIT_FSIZE),
    ("locks", libc::RLIMIT_LOCKS),
    ("memlock", libc::RLIMIT_MEMLOCK),
    ("msgqueue", libc::RLIMIT_MSGQUEUE),
    ("nice", libc::RLIMIT_NICE),
    ("nofile", libc::RLIMIT_NOFILE),
    ("nproc", libc::RLIMIT_NPROC),
    ("rss", libc::RLIMIT_RSS),
    ("rtprio", libc::RLIMIT_RTPRIO),
    ("rttime", libc::RLIMIT_RTTIME),
    ("sigpending", libc::RLIMIT_SIGPENDING),
    ("stack", libc::RLIMIT_STACK),
];

pub fn rlimit_resource(name: &str) -> Option<libc::__rlimit_resource_t> {
    RLIMITS.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

pub fn rlimits(limits: &[RlimitSpec]) -> Vec<(libc::__rlimit_resource_t, libc::rlimit)> {
    let value = |v: Option<u64>| v.unwrap_or(libc::RLIM_INFINITY);
    limits
        .iter()
        .filter_map(|l| {
            let resource = rlimit_resource(&l.name)?;
            Some((
                resource,
                libc::rlimit {
                    rlim_cur: value(l.soft),
                    rlim_max: value(l.hard),
                },
            ))
        })
        .collect()
}

/// Canonical names ("CAP_CHOWN") to the set; the plan holds only names it validated.
pub fn capability_set(names: &[String]) -> CapsHashSet {
    names
        .iter()
        .filter_map(|n| Capability::from_str(n).ok())
        .collect()
}

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
        sys::setrlimit(*resource, limit).map_err(|e| {
            let name = RLIMITS
                .iter()
                .find(|(_, r)| r == resource)
                .map_or("?", |(n, _)| n);
            (
                e,
                format!(
                    "set rlimit {name} to {}/{} (soft/hard)",
                    limit.rlim_cur, limit.rlim_max
                ),
            )
        })?;
    }
    Ok(())
}

fn caps_failure(what: &str) -> impl FnOnce(caps::errors::CapsError) -> Failure + '_ {
    move |error| (Errno::last(), format!("{what}: {error}"))
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
                    return Err((e, format!("drop capability {index} from the bounding set")));
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
    sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1).map_err(|e| (e, "set no_new_privs".into()))
}

pub fn apply_seccomp(program: &[libc::sock_filter]) -> Result<(), Failure> {
    if program.is_empty() {
        return Ok(());
    }
    sys::seccomp_load(program).map_err(|e| {
        (
            e,
            format!("load the seccomp filter ({} instructions)", program.len()),
        )
    })
}
