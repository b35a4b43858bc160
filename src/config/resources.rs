//! `[resources]` and `[rlimits]` into plan steps: the container's cgroup limits and its
//! rlimits. Part of the `validate` builder.

use toml::Spanned;

use super::file::{ContainerFile, LimitValue, Rlimit, Size};
use super::validate::Builder;
use crate::diagnostic::Problem;
use crate::plan::{At, Limits, RlimitKind, RlimitSpec};

/// The CPU period, in microseconds: the kernel's default, and Docker's.
pub const CPU_PERIOD_US: u64 = 100_000;

impl Builder<'_> {
    /// `[resources]` → the cgroup's limits; `None` when no limit is set (then no cgroup is
    /// made).
    pub(super) fn resources(&mut self, file: &ContainerFile) -> Option<At<Limits>> {
        let r = &file.resources;
        let memory = r
            .memory
            .as_ref()
            .and_then(|m| self.size("resources.memory", m));
        let memory_swap = r
            .memory_swap
            .as_ref()
            .and_then(|m| self.size("resources.memory_swap", m));
        if let Some(swap) = &r.memory_swap {
            match (memory, memory_swap) {
                (None, _) if r.memory.is_none() => self.error(
                    Problem::error(
                        "plan::swap-without-memory",
                        "resources.memory_swap",
                        swap.span(),
                    )
                    .message("`memory_swap` needs `memory`")
                    .label("memory plus swap, but no memory limit")
                    .help("add `memory = \"...\"`, or remove `memory_swap`"),
                ),
                (Some(memory), Some(total)) if total < memory => self.error(
                    Problem::error(
                        "plan::swap-below-memory",
                        "resources.memory_swap",
                        swap.span(),
                    )
                    .message("`memory_swap` is memory plus swap, so it cannot be below `memory`")
                    .label(format!("{total} bytes, below memory's {memory}"))
                    .help("set it to `memory` for no swap, or higher to allow swap"),
                ),
                _ => {}
            }
        }
        let cpu_quota = r.cpus.as_ref().and_then(|cpus| {
            let value = *cpus.get_ref();
            if !(0.01..=1024.0).contains(&value) || !value.is_finite() {
                self.error(
                    Problem::error("plan::invalid-cpus", "resources.cpus", cpus.span())
                        .message(format!("`cpus` cannot be {value}"))
                        .label("between 0.01 and 1024")
                        .help("a number of CPUs, e.g. cpus = 0.5 or cpus = 2"),
                );
                return None;
            }
            Some(((value * CPU_PERIOD_US as f64).round() as u64, CPU_PERIOD_US))
        });
        let cpu_weight = r.cpu_weight.as_ref().and_then(|w| {
            let value = *w.get_ref();
            if !(1..=10_000).contains(&value) {
                self.error(
                    Problem::error("plan::invalid-cpu-weight", "resources.cpu_weight", w.span())
                        .message(format!("`cpu_weight` cannot be {value}"))
                        .label("between 1 and 10000")
                        .help("100 is the default weight; 200 gets twice the CPU under contention"),
                );
                return None;
            }
            Some(value)
        });
        let pids = r.pids.as_ref().and_then(|p| {
            let value = *p.get_ref();
            if value == 0 {
                self.error(
                    Problem::error("plan::invalid-pids", "resources.pids", p.span())
                        .message("`pids` cannot be 0: the command itself is a process")
                        .label("at least 1")
                        .help("e.g. pids = 128"),
                );
                return None;
            }
            Some(value)
        });
        if memory.is_none()
            && memory_swap.is_none()
            && cpu_quota.is_none()
            && cpu_weight.is_none()
            && pids.is_none()
        {
            return None;
        }
        let limits = Limits {
            memory,
            memory_swap,
            cpu_quota,
            cpu_weight,
            pids,
        };
        Some(At::new(limits, self.section_origin("resources")))
    }

    fn size(&mut self, key: &str, value: &Spanned<Size>) -> Option<u64> {
        value
            .get_ref()
            .bytes()
            .map_err(|why| {
                self.error(
                    Problem::error("plan::invalid-size", key, value.span())
                        .message(format!("invalid size for `{key}`"))
                        .label(why)
                        .help("bytes, or a size such as \"256MiB\" or \"1G\""),
                )
            })
            .ok()
    }

    /// `[rlimits]` → the rlimits step; `None` when the table is empty.
    pub(super) fn rlimits(&mut self, file: &ContainerFile) -> Option<At<Vec<RlimitSpec>>> {
        let mut limits = Vec::new();
        for kind in RlimitKind::ALL {
            let Some(value) = file.rlimits.get(kind) else {
                continue;
            };
            let name = kind.name();
            let number = |v: &LimitValue| match v {
                LimitValue::Number(n) => Some(*n),
                LimitValue::Word(_) => None,
            };
            let (soft, hard) = match value.get_ref() {
                Rlimit::Both(v) => (number(v), number(v)),
                Rlimit::Pair { soft, hard } => (number(soft), number(hard)),
            };
            // None is unlimited, above every number.
            let above = match (soft, hard) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(soft), Some(hard)) => soft > hard,
            };
            if above {
                self.error(
                    Problem::error("plan::rlimit-soft-above-hard", format!("rlimits.{name}"), value.span())
                        .message(format!("the soft limit of `{name}` is above its hard limit"))
                        .label(format!("soft {} > hard {}", show(soft), show(hard)))
                        .help("the hard limit is the ceiling of the soft one: lower `soft` or raise `hard`"),
                );
                continue;
            }
            limits.push(RlimitSpec {
                name: kind,
                soft,
                hard,
            });
        }
        if limits.is_empty() {
            return None;
        }
        Some(At::new(limits, self.section_origin("rlimits")))
    }
}

fn show(value: Option<u64>) -> String {
    value.map_or_else(|| "unlimited".into(), |v| v.to_string())
}
