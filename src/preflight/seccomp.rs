//! Seccomp profiles (Docker's and the OCI's JSON format) compiled to BPF for this machine with
//! libseccomp. Compiled in preflight, so a broken profile is a diagnostic before anything
//! starts, and the child only loads the finished program.

use std::io::{Read, Seek};

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use serde::Deserialize;

/// Bumped whenever the way programs are compiled changes, so no cached program outlives it.
const COMPILER_REVISION: u32 = 2;

/// The default profile: an allow-list at least as strict as Docker's.
pub const DEFAULT_PROFILE: &str = include_str!("seccomp-default.json");

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: String,
    default_errno_ret: Option<u32>,
    #[serde(default)]
    architectures: Vec<String>,
    #[serde(default)]
    arch_map: Vec<ArchMap>,
    #[serde(default)]
    syscalls: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMap {
    architecture: String,
    #[serde(default)]
    sub_architectures: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    #[serde(default)]
    names: Vec<String>,
    /// The older single-name form.
    name: Option<String>,
    action: String,
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Vec<Arg>,
    #[serde(default)]
    includes: Filter,
    #[serde(default)]
    excludes: Filter,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Arg {
    index: u32,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    #[serde(default)]
    caps: Vec<String>,
    #[serde(default)]
    arches: Vec<String>,
    min_kernel: Option<String>,
}

/// A compiled profile.
pub struct Compiled {
    pub bpf: Vec<u8>,
    pub unknown_names: Vec<String>,
}

/// [`compile`], through a cache of compiled programs: libseccomp takes milliseconds, the most
/// expensive part of starting a container. The key is a SHA-256 of everything the program
/// depends on (profile, capabilities, architecture, kernel, launcher version); the cache lives
/// in the state folder (root's /run/launcher is root-only; a user's runtime dir is private) and
/// is written atomically. Any cache failure falls back to compiling.
pub fn compile_cached(
    text: &str,
    capabilities: &[String],
    cache: Option<&std::path::Path>,
) -> Result<Compiled, String> {
    let Some(cache) = cache else {
        return compile(text, capabilities);
    };
    let key = cache_key(text, capabilities);
    let file = cache.join(format!("{key}.bpf"));
    if private_folder(cache)
        && let Some(bytes) = read_private(&file)
        && let Some(compiled) = decode(&bytes)
    {
        return Ok(compiled);
    }
    let compiled = compile(text, capabilities)?;
    let _ = store(cache, &file, &compiled);
    Ok(compiled)
}

/// What the program depends on: profile, capabilities, architecture, kernel, launcher
/// version. The built-in profile is the binary's own, so its key needs no hash of its text (and
/// no SHA-256, whose CPU probing traps to the hypervisor in a VM, on every start); any other
/// profile is keyed by a SHA-256 of it, which nobody can collide with another.
fn cache_key(text: &str, capabilities: &[String]) -> String {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let context = format!(
        "{}.{COMPILER_REVISION}|{:?}|{}|{}",
        env!("CARGO_PKG_VERSION"),
        ScmpArch::native(),
        kernel.trim(),
        capabilities.join(",")
    );
    if text == DEFAULT_PROFILE {
        // The capabilities as one bitmask keep the name short (a name is at most 255 bytes).
        let mask = capabilities
            .iter()
            .filter_map(|c| c.parse::<caps::Capability>().ok())
            .fold(0u64, |mask, c| mask | c.bitmask());
        let plain = format!(
            "default-{}.{COMPILER_REVISION}-{:?}-{}-{mask:016x}",
            env!("CARGO_PKG_VERSION"),
            ScmpArch::native(),
            kernel.trim()
        );
        return plain
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
    }
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in [context.as_str(), text] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The cache is trusted only in a folder of our own that nobody else can write to: a planted
/// program would lift the filter.
fn private_folder(folder: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(folder).is_ok_and(|m| {
        m.is_dir() && m.uid() == nix::unistd::geteuid().as_raw() && m.mode() & 0o022 == 0
    })
}

/// An entry, if it is a regular file of ours (not a symlink), writable by nobody else.
fn read_private(file: &std::path::Path) -> Option<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let mut opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(file)
        .ok()?;
    let meta = opened.metadata().ok()?;
    if !meta.is_file() || meta.uid() != nix::unistd::geteuid().as_raw() || meta.mode() & 0o022 != 0
    {
        return None;
    }
    let mut bytes = Vec::new();
    opened.read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

/// Cache entry: u32 length of the unknown names (newline-separated), the names, the program.
fn decode(bytes: &[u8]) -> Option<Compiled> {
    let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let names = std::str::from_utf8(bytes.get(4..4 + len)?).ok()?;
    let bpf = bytes.get(4 + len..)?.to_vec();
    if bpf.is_empty() || bpf.len() % 8 != 0 {
        return None;
    }
    let unknown_names = names
        .lines()
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    Some(Compiled { bpf, unknown_names })
}

fn store(
    cache: &std::path::Path,
    file: &std::path::Path,
    compiled: &Compiled,
) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(cache)?;
    let names = compiled.unknown_names.join("\n");
    let mut temp = tempfile::NamedTempFile::new_in(cache)?;
    temp.write_all(&(names.len() as u32).to_le_bytes())?;
    temp.write_all(names.as_bytes())?;
    temp.write_all(&compiled.bpf)?;
    temp.persist(file).map(drop).map_err(|e| e.error)
}

/// Compiles `text` for the native architecture (and its compat ones), for a container with
/// `capabilities`. The error is a sentence for a diagnostic.
pub fn compile(text: &str, capabilities: &[String]) -> Result<Compiled, String> {
    let profile: Profile = serde_json::from_str(text).map_err(|e| {
        format!(
            "not a seccomp profile (line {}, column {}): {e}",
            e.line(),
            e.column()
        )
    })?;
    let default_errno = profile.default_errno_ret.unwrap_or(libc::EPERM as u32);
    let default = action(&profile.default_action, default_errno)?;
    let mut ctx = ScmpFilterContext::new(default)
        .map_err(|e| format!("libseccomp refused the default action: {e}"))?;
    // A binary tree of system call numbers instead of a list: each call of the container
    // then costs a few comparisons instead of up to a few hundred (libseccomp 2.5).
    ctx.set_ctl_optimize(2)
        .map_err(|e| format!("libseccomp refused the binary-tree optimisation: {e}"))?;
    let native = ScmpArch::native();
    for arch in extra_arches(&profile, native) {
        // Compat architectures the kernel lacks are not an error: nothing can call them.
        let _ = ctx.add_arch(arch);
    }
    let machine = machine_names(native);
    let kernel = kernel_version();
    let mut unknown = Vec::new();
    for rule in &profile.syscalls {
        if !applies(rule, capabilities, &machine, kernel) {
            continue;
        }
        let rule_action = action(&rule.action, rule.errno_ret.unwrap_or(libc::EPERM as u32))?;
        if rule_action == default {
            continue;
        }
        let comparisons = rule
            .args
            .iter()
            .map(comparison)
            .collect::<Result<Vec<_>, _>>()?;
        let names = rule.names.iter().chain(rule.name.iter());
        for name in names {
            let Ok(syscall) = ScmpSyscall::from_name(name) else {
                if !unknown.contains(name) {
                    unknown.push(name.clone());
                }
                continue;
            };
            let added = if comparisons.is_empty() {
                ctx.add_rule(rule_action, syscall)
            } else {
                ctx.add_rule_conditional(rule_action, syscall, &comparisons)
            };
            added.map_err(|e| format!("libseccomp refused the rule for {name}: {e}"))?;
        }
    }
    let mut file = tempfile::tempfile()
        .map_err(|e| format!("cannot make a temporary file for the BPF program: {e}"))?;
    ctx.export_bpf(&file)
        .map_err(|e| format!("libseccomp could not export the program: {e}"))?;
    let mut bpf = Vec::new();
    file.rewind()
        .and_then(|_| file.read_to_end(&mut bpf))
        .map_err(|e| format!("cannot read the BPF program back: {e}"))?;
    Ok(Compiled {
        bpf,
        unknown_names: unknown,
    })
}

fn action(name: &str, errno: u32) -> Result<ScmpAction, String> {
    Ok(match name {
        "SCMP_ACT_ALLOW" => ScmpAction::Allow,
        "SCMP_ACT_ERRNO" => ScmpAction::Errno(errno as i32),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => ScmpAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => ScmpAction::KillProcess,
        "SCMP_ACT_TRAP" => ScmpAction::Trap,
        "SCMP_ACT_LOG" => ScmpAction::Log,
        "SCMP_ACT_TRACE" => ScmpAction::Trace(errno as u16),
        other => return Err(format!("unknown action \"{other}\"")),
    })
}

fn comparison(arg: &Arg) -> Result<ScmpArgCompare, String> {
    let op = match arg.op.as_str() {
        "SCMP_CMP_NE" => ScmpCompareOp::NotEqual,
        "SCMP_CMP_LT" => ScmpCompareOp::Less,
        "SCMP_CMP_LE" => ScmpCompareOp::LessOrEqual,
        "SCMP_CMP_EQ" => ScmpCompareOp::Equal,
        "SCMP_CMP_GE" => ScmpCompareOp::GreaterEqual,
        "SCMP_CMP_GT" => ScmpCompareOp::Greater,
        // Docker's form: `value` is the mask, `valueTwo` what the masked argument must equal.
        "SCMP_CMP_MASKED_EQ" => {
            return Ok(ScmpArgCompare::new(
                arg.index,
                ScmpCompareOp::MaskedEqual(arg.value),
                arg.value_two,
            ));
        }
        other => return Err(format!("unknown argument comparison \"{other}\"")),
    };
    Ok(ScmpArgCompare::new(arg.index, op, arg.value))
}

/// The sub-architectures of the native one in the profile's archMap (x86 and x32 on x86_64),
/// so 32-bit system calls are filtered too instead of refused by a bad-arch kill.
fn extra_arches(profile: &Profile, native: ScmpArch) -> Vec<ScmpArch> {
    let mut found: Vec<ScmpArch> = Vec::new();
    for entry in &profile.arch_map {
        if entry.architecture.parse::<ScmpArch>().ok() == Some(native) {
            for sub in entry.sub_architectures.iter().flatten() {
                if let Ok(arch) = sub.parse::<ScmpArch>() {
                    found.push(arch);
                }
            }
        }
    }
    for name in &profile.architectures {
        if let Ok(arch) = name.parse::<ScmpArch>()
            && arch != native
        {
            found.push(arch);
        }
    }
    found
}

/// Go's names for this machine, as profiles use them in `includes.arches`.
fn machine_names(native: ScmpArch) -> Vec<&'static str> {
    match native {
        ScmpArch::X8664 => vec!["amd64", "x86_64"],
        ScmpArch::Aarch64 => vec!["arm64", "aarch64"],
        ScmpArch::Riscv64 => vec!["riscv64"],
        ScmpArch::S390X => vec!["s390x"],
        ScmpArch::Ppc64Le => vec!["ppc64le"],
        _ => Vec::new(),
    }
}

fn kernel_version() -> (u32, u32) {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    parse_version(&release)
}

fn parse_version(text: &str) -> (u32, u32) {
    let mut parts = text
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse().ok());
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

fn applies(rule: &Rule, capabilities: &[String], machine: &[&str], kernel: (u32, u32)) -> bool {
    let has = |cap: &String| capabilities.iter().any(|c| c == cap);
    let on_machine = |arch: &String| machine.contains(&arch.as_str());
    let inc = &rule.includes;
    if !inc.caps.is_empty() && !inc.caps.iter().all(has) {
        return false;
    }
    if !inc.arches.is_empty() && !inc.arches.iter().any(on_machine) {
        return false;
    }
    if let Some(min) = &inc.min_kernel
        && kernel < parse_version(min)
    {
        return false;
    }
    let exc = &rule.excludes;
    if exc.caps.iter().any(has) || exc.arches.iter().any(on_machine) {
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_profile_compiles_and_sys_admin_changes_it() {
        let docker = ["CAP_CHOWN".to_string()];
        let plain =
            compile(DEFAULT_PROFILE, &docker).expect("the default profile does not compile");
        assert!(
            plain.bpf.len() > 800,
            "suspiciously small program: {} bytes",
            plain.bpf.len()
        );
        assert_eq!(plain.bpf.len() % 8, 0);
        let admin = compile(DEFAULT_PROFILE, &["CAP_SYS_ADMIN".to_string()]).unwrap();
        assert_ne!(
            plain.bpf, admin.bpf,
            "CAP_SYS_ADMIN must allow mount and friends"
        );
    }

    #[test]
    fn a_broken_profile_is_an_error_that_says_where() {
        let error = compile(
            "{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n \"syscalls\": [}",
            &[],
        )
        .err()
        .unwrap();
        assert!(error.contains("line 2"), "{error}");
        let error = compile("{\"defaultAction\": \"SCMP_ACT_NOPE\"}", &[])
            .err()
            .unwrap();
        assert!(error.contains("SCMP_ACT_NOPE"), "{error}");
    }

    #[test]
    fn the_cache_returns_what_was_compiled() {
        let cache = tempfile::tempdir().unwrap();
        let caps = ["CAP_CHOWN".to_string()];
        let first = compile_cached(DEFAULT_PROFILE, &caps, Some(cache.path())).unwrap();
        assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 1);
        let second = compile_cached(DEFAULT_PROFILE, &caps, Some(cache.path())).unwrap();
        assert_eq!(first.bpf, second.bpf);
        // Other capabilities, another program and another entry.
        let admin = compile_cached(
            DEFAULT_PROFILE,
            &["CAP_SYS_ADMIN".to_string()],
            Some(cache.path()),
        )
        .unwrap();
        assert_ne!(first.bpf, admin.bpf);
        assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 2);
        // A corrupt entry is compiled again, not trusted.
        for entry in std::fs::read_dir(cache.path()).unwrap() {
            std::fs::write(entry.unwrap().path(), b"junk").unwrap();
        }
        let again = compile_cached(DEFAULT_PROFILE, &caps, Some(cache.path())).unwrap();
        assert_eq!(first.bpf, again.bpf);
    }

    #[test]
    fn versions_compare_by_number() {
        assert_eq!(parse_version("6.18.44-fc-v669"), (6, 18));
        assert!(parse_version("4.8") <= (6, 1));
    }
}
