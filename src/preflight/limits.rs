//! Preflight of limits and security: the cgroup controllers exist (and which files to write),
//! rlimits fit under what the launcher may set, and the seccomp profile compiles for this
//! machine. A limit the host cannot enforce is an error naming the key, never a warning.

use caps::{CapSet, Capability};

use super::cgroups::{self, Hierarchies};
use super::{Host, seccomp};
use crate::diagnostic::Problem;
use crate::plan::{
    Bpf, CgroupSetup, CgroupView, MountKind, Origin, SeccompFilter, SeccompProfile, Spec,
};
use crate::sys;

/// A problem about `key`, at an origin (made precise later by the key's own span).
fn at(origin: &Origin, code: &'static str, key: &str) -> Problem {
    match origin {
        Origin::File { span, .. } => Problem::error(code, key, span.clone()),
        Origin::CommandLine { what } => Problem::error(code, key, 0..0).given_by(what),
        Origin::Default | Origin::Image { .. } => Problem::error(code, key, 0..0),
    }
}

/// What the spec's `cgroup` mounts show on this host. A host that mounts no cgroup filesystem
/// is a problem at a mount the front end asked for; a default one is then left out.
pub fn cgroup_view(spec: &Spec, host: &Host, problems: &mut Vec<Problem>) -> Option<CgroupView> {
    let mounts: Vec<_> = spec
        .mounts
        .iter()
        .filter(|m| m.value.kind == MountKind::Cgroup)
        .collect();
    if mounts.is_empty() {
        return None;
    }
    let view = host.hierarchies.as_ref().and_then(Hierarchies::view);
    if view.is_none() {
        for mount in mounts.iter().filter(|m| m.origin != Origin::Default) {
            problems.push(
                super::at(&mount.origin, "preflight::no-cgroup-filesystem", "type")
                    .message("this host mounts no cgroup filesystem under /sys/fs/cgroup")
                    .label("nothing to show the container")
                    .help("mount cgroup2 (or the v1 hierarchies) on /sys/fs/cgroup on the host, or remove this mount"),
            );
        }
    }
    view
}

/// The cgroup for the spec's limits on this host; `None` when it has none (or a problem).
/// `host.hierarchies` is filled (by [`super::check`]) when the spec has limits.
pub fn cgroup(
    spec: &Spec,
    host: &Host,
    rootless: bool,
    problems: &mut Vec<Problem>,
) -> Option<CgroupSetup> {
    let limits = spec.limits.as_ref()?;
    let hierarchies = host.hierarchies.as_ref()?;
    let caller = rootless.then_some(host.caller.uid);
    match cgroups::resolve(&limits.value, &spec.name, hierarchies, caller) {
        Ok(setup) => Some(setup),
        Err((key, why)) => {
            problems.push(
                at(&limits.origin, "preflight::limit-not-enforceable", key)
                    .message(format!("`{key}` cannot be enforced on this host"))
                    .label(why)
                    .help(if rootless {
                        "rootless, limits go into the cgroup v2 subtree systemd delegates to the user (the reason above says what is missing), or remove the limit"
                    } else {
                        "run as root on a host with the controller (cgroup v2, or v1 mounted), or remove the limit"
                    }),
            );
            None
        }
    }
}

/// A hard limit above the launcher's own needs CAP_SYS_RESOURCE outside a user namespace.
pub fn check_rlimits(spec: &Spec, in_user_namespace: bool, problems: &mut Vec<Problem>) {
    let Some(rlimits) = &spec.rlimits else {
        return;
    };
    let may_raise = !in_user_namespace
        && caps::has_cap(None, CapSet::Effective, Capability::CAP_SYS_RESOURCE).unwrap_or(false);
    for limit in &rlimits.value {
        let Ok(current) = sys::getrlimit(limit.name.resource()) else {
            continue;
        };
        let wanted = limit.hard.unwrap_or(libc::RLIM_INFINITY);
        if wanted > current.rlim_max && !may_raise {
            let name = limit.name.name();
            let key = format!("rlimits.{name}");
            let shown = |v: u64| {
                if v == libc::RLIM_INFINITY {
                    "unlimited".to_string()
                } else {
                    v.to_string()
                }
            };
            problems.push(
                at(&rlimits.origin, "preflight::rlimit-above-hard-limit", &key)
                    .message(format!("the hard limit of `{name}` is above the launcher's own"))
                    .label(format!("hard {} > the host's {}", shown(wanted), shown(current.rlim_max)))
                    .help("raising a hard limit needs CAP_SYS_RESOURCE outside a user namespace; ask for at most the host's hard limit (`ulimit -H`)"),
            );
        }
    }
}

/// The seccomp filter, compiled for this machine (through the cache).
pub fn seccomp(
    spec: &Spec,
    cache: Option<&std::path::Path>,
    problems: &mut Vec<Problem>,
) -> Option<SeccompFilter> {
    let profile = &spec.security.seccomp;
    let text = match &profile.value {
        SeccompProfile::Unconfined => return Some(SeccompFilter::Unconfined),
        SeccompProfile::Default => Ok(seccomp::DEFAULT_PROFILE.to_string()),
        SeccompProfile::File(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display())),
    };
    let capabilities: Vec<String> = spec
        .security
        .capabilities
        .value
        .iter()
        .map(|c| c.name())
        .collect();
    let compiled = text
        .and_then(|t| seccomp::compile_cached(&t, &capabilities, cache))
        .and_then(|compiled| Ok((Bpf::new(compiled.bpf)?, compiled.unknown_names)));
    match compiled {
        Ok((bpf, unknown_names)) => Some(SeccompFilter::Compiled {
            profile: profile.value.clone(),
            size: bpf.bytes().len(),
            unknown_names,
            bpf,
        }),
        Err(why) => {
            problems.push(
                at(&profile.origin, "preflight::seccomp-profile", "security.seccomp")
                    .message("the seccomp profile cannot be used")
                    .label(why)
                    .help("give \"default\", \"unconfined\", or a Docker/OCI JSON profile (see `docker info` or moby's profiles/seccomp/default.json)"),
            );
            None
        }
    }
}
