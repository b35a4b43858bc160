//! Preflight of limits and security: the cgroup controllers exist (and which files to write),
//! rlimits fit under what the launcher may set, and the seccomp profile compiles for this
//! machine. A limit the host cannot enforce is an error naming the key, never a warning.

use caps::{CapSet, Capability};

use super::cgroups::{self, Hierarchies};
use super::seccomp;
use crate::diagnostic::Problem;
use crate::plan::{Action, Origin, Plan};
use crate::runtime::sys;

/// A problem about `key`, at the step's origin (made precise later by the key's own span).
fn at(origin: &Origin, code: &'static str, key: &str) -> Problem {
    let span = match origin {
        Origin::File { span, .. } => span.clone(),
        Origin::Default => 0..0,
    };
    Problem::error(code, key, span)
}

pub fn check(
    plan: &mut Plan,
    rootless: bool,
    in_user_namespace: bool,
    problems: &mut Vec<Problem>,
) {
    let name = plan.name.clone();
    let capabilities: Vec<String> = plan
        .find(|a| match a {
            Action::Capabilities { set } => Some(set),
            _ => None,
        })
        .cloned()
        .unwrap_or_default();
    let mut hierarchies: Option<Hierarchies> = None;
    for step in &mut plan.steps {
        let origin = step.origin.clone();
        match &mut step.action {
            Action::Cgroup(cgroup) => {
                let hosts = hierarchies.get_or_insert_with(Hierarchies::current);
                if let Err((key, why)) = cgroups::resolve(cgroup, &name, hosts, rootless) {
                    problems.push(
                        at(&origin, "preflight::limit-not-enforceable", key)
                            .message(format!("`{key}` cannot be enforced on this host"))
                            .label(why)
                            .help("run as root on a host with the controller (cgroup v2, or v1 mounted), or remove the limit"),
                    );
                }
            }
            Action::Rlimits { limits } => {
                let may_raise = !in_user_namespace
                    && caps::has_cap(None, CapSet::Effective, Capability::CAP_SYS_RESOURCE)
                        .unwrap_or(false);
                for limit in limits.iter() {
                    let Some(resource) = crate::runtime::rlimit_resource(&limit.name) else {
                        continue;
                    };
                    let Ok(current) = sys::getrlimit(resource) else {
                        continue;
                    };
                    let wanted = limit.hard.unwrap_or(libc::RLIM_INFINITY);
                    if wanted > current.rlim_max && !may_raise {
                        let key = format!("rlimits.{}", limit.name);
                        let shown = |v: u64| {
                            if v == libc::RLIM_INFINITY {
                                "unlimited".to_string()
                            } else {
                                v.to_string()
                            }
                        };
                        problems.push(
                            at(&origin, "preflight::rlimit-above-hard-limit", &key)
                                .message(format!("the hard limit of `{}` is above the launcher's own", limit.name))
                                .label(format!("hard {} > the host's {}", shown(wanted), shown(current.rlim_max)))
                                .help("raising a hard limit needs CAP_SYS_RESOURCE outside a user namespace; ask for at most the host's hard limit (`ulimit -H`)"),
                        );
                    }
                }
            }
            Action::Seccomp(profile) if profile.profile != "unconfined" => {
                let text = if profile.profile == "default" {
                    Ok(seccomp::DEFAULT_PROFILE.to_string())
                } else {
                    std::fs::read_to_string(&profile.profile)
                        .map_err(|e| format!("cannot read {}: {e}", profile.profile))
                };
                let cache = cache_dir();
                match text.and_then(|t| seccomp::compile_cached(&t, &capabilities, cache.as_deref())) {
                    Ok(compiled) => {
                        profile.size = Some(compiled.bpf.len());
                        profile.bpf = compiled.bpf;
                        profile.unknown_names = compiled.unknown_names;
                    }
                    Err(why) => problems.push(
                        at(&origin, "preflight::seccomp-profile", "security.seccomp")
                            .message("the seccomp profile cannot be used")
                            .label(why)
                            .help("give \"default\", \"unconfined\", or a Docker/OCI JSON profile (see `docker info` or moby's profiles/seccomp/default.json)"),
                    ),
                }
            }
            _ => {}
        }
    }
}

/// Where compiled seccomp programs are kept: /run/launcher/cache as root, the user's runtime
/// dir otherwise; `None` (no cache) when neither is usable.
fn cache_dir() -> Option<std::path::PathBuf> {
    if let Some(dir) = std::env::var_os("LAUNCHER_CACHE_DIR") {
        return Some(dir.into());
    }
    if nix::unistd::geteuid().is_root() {
        return Some("/run/launcher/cache".into());
    }
    directories::BaseDirs::new()?
        .runtime_dir()
        .map(|d| d.join("launcher/cache"))
}
