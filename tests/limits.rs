//! Resource limits and security boundaries, for real: cgroups, rlimits, capabilities,
//! no_new_privs, seccomp, masked and read-only paths, and the security lint. As root.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::util::{TempContainer, busybox, require_root, text, up};

/// tests/fixtures/probe.c, built static once per test run.
fn probe_binary() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        // In cargo's own scratch folder under target/, not /tmp: nothing is left on the host.
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(&dir).expect("cannot create a folder for the probe");
        let out = dir.join(format!("probe.{}", std::process::id()));
        let status = Command::new("gcc")
            .args(["-static", "-O2", "-o"])
            .arg(&out)
            .arg(crate::util::repo().join("tests/fixtures/probe.c"))
            .status()
            .expect("cannot run gcc: install gcc and libc6-dev (static libc) to build tests/fixtures/probe.c");
        assert!(status.success(), "gcc -static failed on tests/fixtures/probe.c: install libc6-dev");
        // One name for every test run: the last build wins, atomically.
        let probe = dir.join("probe");
        std::fs::rename(&out, &probe).expect("cannot move the probe into place");
        probe
    })
}

/// A busybox container with the probe at /probe; `body` must not set `rootfs`.
fn container(body: &str) -> TempContainer {
    let container = busybox(body);
    std::fs::copy(probe_binary(), container.path("rootfs/probe")).expect("cannot copy the probe");
    container
}

/// Runs `script` with sh in a container of `body`; returns stdout, failing on a bad exit.
fn sh_in(body: &str, script: &str) -> String {
    let container = container(body);
    let output = up(&container, &["/bin/sh", "-c", script]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

fn status_field(status: &str, field: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status:\n{status}"))
        .trim()
        .to_string()
}

/// The cgroup folders a plan writes to, from `launcher plan --format json`.
fn planned_cgroup(container: &TempContainer) -> (Vec<String>, Vec<(String, String)>) {
    let output = crate::util::launcher_bin()
        .args(["plan", "--format", "json"])
        .arg(container.file())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let step = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "cgroup")
        .expect("no cgroup step in the plan")
        .clone();
    let paths = step["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    let writes = step["writes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["file"].as_str().unwrap().to_string(),
                w["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (paths, writes)
}

#[test]
fn a_container_over_its_memory_limit_is_killed_and_reported_as_out_of_memory() {
    let container = container(
        "command = [\"/bin/dd\", \"if=/dev/zero\", \"of=/dev/null\", \"bs=100M\", \"count=1\"]\n[resources]\nmemory = \"32MiB\"\n",
    );
    let (paths, _) = planned_cgroup(&container);
    let output = up(&container, &[]);
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(137), "{err}");
    assert!(err.contains("killed: out of memory, limit 32 MiB"), "{err}");
    for path in paths {
        assert!(
            !Path::new(&path).exists(),
            "the cgroup {path} is still there"
        );
    }
}

#[test]
fn a_pids_limit_of_20_refuses_the_21st_process() {
    // init and the probe are two of the twenty.
    let out = sh_in(
        "command = [\"/bin/true\"]\ninit = true\n[resources]\npids = 20\n",
        "exec /probe forks",
    );
    assert!(out.starts_with("forks: 18 "), "{out}");
    assert!(out.contains("Resource temporarily unavailable"), "{out}");
}

#[test]
fn cpus_become_the_cgroup_quota_and_the_cgroup_is_gone_afterwards() {
    let container = container("command = [\"sleep\", \"30\"]\n[resources]\ncpus = 0.5\n");
    let (paths, writes) = planned_cgroup(&container);
    let quota = writes
        .iter()
        .find(|(file, _)| file.ends_with("cpu.cfs_quota_us") || file.ends_with("cpu.max"))
        .expect("no CPU quota written")
        .clone();
    assert!(quota.1 == "50000" || quota.1 == "50000 100000", "{quota:?}");
    let mut child = crate::util::launcher_bin()
        .arg("up")
        .arg(container.file())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let procs = Path::new(&paths[0]).join("cgroup.procs");
    while std::fs::read_to_string(&procs)
        .unwrap_or_default()
        .trim()
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "the container never joined {}",
            procs.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let written = std::fs::read_to_string(&quota.0).unwrap();
    assert!(written.starts_with("50000"), "{} holds {written}", quota.0);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(143));
    for path in paths {
        assert!(
            !Path::new(&path).exists(),
            "the cgroup {path} is still there"
        );
    }
}

#[test]
fn an_rlimit_shows_in_proc_self_limits() {
    let out = sh_in(
        "command = [\"/bin/true\"]\n[rlimits]\nnofile = { soft = 100, hard = 200 }\ncore = 0\n",
        "grep -E 'Max (open files|core file size)' /proc/self/limits",
    );
    let files = out
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect(&out);
    assert_eq!(
        files.split_whitespace().skip(3).take(2).collect::<Vec<_>>(),
        ["100", "200"],
        "{out}"
    );
    let core = out
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .expect(&out);
    assert_eq!(
        core.split_whitespace().skip(4).take(2).collect::<Vec<_>>(),
        ["0", "0"],
        "{out}"
    );
}

#[test]
fn an_rlimit_above_the_hosts_hard_limit_is_a_clear_error() {
    // In a user namespace a hard limit can never be raised, whatever the caller's capabilities.
    let hard = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .unwrap()
        .1;
    let container = container(&format!(
        "command = [\"/bin/true\"]\n[rlimits]\nnofile = {}\n",
        hard + 1
    ));
    crate::util::chown_tree(container.dir.path(), 65534, 65534);
    let output = crate::util::launcher_through(&[
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ])
    .arg("check")
    .arg(container.file())
    .envs(crate::util::state_envs(&container))
    .env("NO_COLOR", "1")
    .env("COLUMNS", "300")
    .output()
    .unwrap();
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("rlimits.nofile"), "{err}");
    assert!(err.contains("above the launcher's own"), "{err}");
    assert!(err.contains(&format!("> the host's {hard}")), "{err}");
}

const DOCKER_DEFAULT_CAPS: &str = "00000000a80425fb";

#[test]
fn a_default_container_has_dockers_capabilities_no_new_privs_and_a_seccomp_filter() {
    // The test's own pid is a host pid: the container must not be able to trace it (nor its
    // own init, pid 1).
    let host_pid = std::process::id();
    let out = sh_in(
        "command = [\"/bin/true\"]\n",
        &format!(
            "cat /proc/self/status; for s in mount umount unshare keyctl reboot init_module; do /probe $s; done; \
             /probe ptrace 1; /probe ptrace {host_pid}; echo kcore=$(cat /proc/kcore 2>/dev/null | wc -c); \
             echo x > /proc/sys/kernel/domainname && echo SYS-WRITABLE; true"
        ),
    );
    assert_eq!(status_field(&out, "CapEff"), DOCKER_DEFAULT_CAPS, "{out}");
    assert_eq!(status_field(&out, "CapBnd"), DOCKER_DEFAULT_CAPS, "{out}");
    assert_eq!(status_field(&out, "CapAmb"), "0000000000000000", "{out}");
    assert_eq!(status_field(&out, "NoNewPrivs"), "1");
    assert_eq!(status_field(&out, "Seccomp"), "2");
    for call in [
        "mount",
        "umount",
        "unshare",
        "keyctl",
        "reboot",
        "init_module",
        "ptrace",
    ] {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{call}:")))
            .unwrap_or_else(|| panic!("{call} not probed: {out}"));
        assert!(line.contains("refused"), "{line}");
    }
    assert!(!out.lines().any(|l| l.ends_with(": allowed")), "{out}");
    assert!(out.contains("kcore=0"), "{out}");
    assert!(
        !out.contains("SYS-WRITABLE"),
        "/proc/sys is writable: {out}"
    );
}

#[test]
fn adding_sys_admin_allows_mount_and_unshare() {
    let out = sh_in(
        "command = [\"/bin/true\"]\n[security]\ncapabilities = { add = [\"SYS_ADMIN\"] }\n",
        "grep CapEff /proc/self/status; /probe mount; /probe unshare; true",
    );
    let eff = u64::from_str_radix(&status_field(&out, "CapEff"), 16).unwrap();
    assert_eq!(eff, 0xa80425fb | (1 << 21), "{out}");
    assert!(out.contains("mount: allowed"), "{out}");
    assert!(out.contains("unshare: allowed"), "{out}");
}

#[test]
fn seccomp_unconfined_lifts_the_filter_but_not_the_capabilities() {
    let out = sh_in(
        "command = [\"/bin/true\"]\n[security]\nseccomp = \"unconfined\"\n",
        "grep Seccomp: /proc/self/status; /probe keyctl; /probe mount; true",
    );
    assert_eq!(status_field(&out, "Seccomp"), "0");
    assert!(out.contains("keyctl: allowed"), "{out}");
    assert!(
        out.contains("mount: refused"),
        "without CAP_SYS_ADMIN mount stays refused: {out}"
    );
}

#[test]
fn a_docker_format_profile_loads_and_filters() {
    let container =
        container("command = [\"/probe\", \"mkdir\"]\n[security]\nseccomp = \"profile.json\"\n");
    std::fs::write(
        container.path("profile.json"),
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#,
    )
    .unwrap();
    let plan = crate::util::launcher_bin()
        .arg("plan")
        .arg(container.file())
        .output()
        .unwrap();
    assert!(
        text(&plan.stdout).contains("bytes of BPF"),
        "{}",
        text(&plan.stdout)
    );
    let output = up(&container, &[]);
    assert!(
        text(&output.stdout).contains("mkdir: refused (Permission denied)"),
        "{}",
        text(&output.stdout)
    );
}

#[test]
fn a_broken_profile_is_a_diagnostic_at_the_key() {
    let container =
        container("command = [\"/bin/true\"]\n\n[security]\nseccomp = \"broken.json\"\n");
    std::fs::write(
        container.path("broken.json"),
        "{\"defaultAction\": \"SCMP_ACT_ALLOW\",\n \"syscalls\": [ }",
    )
    .unwrap();
    let output = crate::util::launcher_bin()
        .arg("check")
        .arg(container.file())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("security.seccomp"), "{err}");
    assert!(
        err.contains("Container.toml:5:11"),
        "not at the key's line: {err}"
    );
    assert!(
        err.contains("line 2"),
        "the profile's own line is not named: {err}"
    );
}

#[test]
fn the_lint_warns_and_strict_makes_the_warnings_errors() {
    require_root();
    let container = TempContainer::new(
        "command = [\"/bin/true\"]\n[rootfs]\nhost = true\n[namespaces]\nnet = \"host\"\n[security]\nseccomp = \"unconfined\"\n\
         capabilities = { add = [\"SYS_ADMIN\"] }\n[[mount]]\ntype = \"bind\"\nsource = \"/etc\"\ntarget = \"/tmp/etc\"\n",
    );
    let run = |strict: bool| {
        let mut cmd = crate::util::launcher_bin();
        cmd.arg("check").arg(container.file()).env("NO_COLOR", "1");
        if strict {
            cmd.arg("--strict");
        }
        cmd.output().unwrap()
    };
    let lenient = run(false);
    let err = text(&lenient.stderr);
    assert_eq!(lenient.status.code(), Some(0), "{err}");
    for key in [
        "namespaces.net",
        "security.seccomp",
        "security.capabilities.add",
        "mount[1].source",
    ] {
        assert!(err.contains(key), "no warning about {key}: {err}");
    }
    assert!(err.contains("0 errors, 4 warnings"), "{err}");
    let strict = run(true);
    assert_eq!(strict.status.code(), Some(1));
    // Strictness adds one warning of its own: the container's root is the host's.
    assert!(
        text(&strict.stderr).contains("4 errors, 1 warning"),
        "{}",
        text(&strict.stderr)
    );
    assert!(text(&strict.stderr).contains("the container's root is the host's root"));
}

#[test]
fn a_command_that_needs_the_network_is_linted_when_the_container_has_none() {
    require_root();
    let check = |body: &str| {
        let container = TempContainer::new(&format!("{body}\n[rootfs]\nhost = true\n"));
        let output = crate::util::launcher_bin()
            .arg("check")
            .arg(container.file())
            .env("NO_COLOR", "1")
            .env("COLUMNS", "200")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        text(&output.stderr)
    };
    let err = check("command = [\"sh\", \"-c\", \"apt-get update && apt-get install -y curl\"]");
    assert!(err.contains("lint::no-network"), "{err}");
    assert!(
        err.contains("runs apt-get, which needs the network"),
        "{err}"
    );
    assert!(err.contains("mode = \"pasta\""), "{err}");
    let err = check("command = [\"/usr/bin/curl\", \"https://example.com\"]");
    assert!(err.contains("runs curl"), "{err}");
    // Not with a network of its own, nor for a command that fetches nothing.
    let err = check("command = [\"/bin/true\"]");
    assert!(!err.contains("lint::no-network"), "{err}");
    let err = check("command = [\"pip\", \"install\", \"x\"]\n[network]\nmode = \"host\"");
    assert!(!err.contains("lint::no-network"), "{err}");
    assert!(
        err.contains("network.mode"),
        "the host's network is linted too: {err}"
    );
}

#[test]
fn masked_and_readonly_paths_can_be_extended() {
    let container = container(
        "command = [\"/bin/true\"]\n[security]\nmasked_paths = [\"/etc/secret\"]\nreadonly_paths = [\"/etc\"]\n",
    );
    std::fs::write(container.path("rootfs/etc/secret"), "secret\n").unwrap();
    let output = up(
        &container,
        &[
            "/bin/sh",
            "-c",
            "wc -c < /etc/secret; touch /etc/new && echo ETC-WRITABLE; true",
        ],
    );
    let out = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(out.starts_with("0\n"), "the masked file still reads: {out}");
    assert!(!out.contains("ETC-WRITABLE"), "{out}");
}

#[test]
fn a_device_node_made_inside_opens_nothing() {
    // Root in the container keeps CAP_MKNOD (Docker's set), but the filesystems it can write
    // are nodev: no node it makes reaches a host device.
    let out = sh_in(
        "command = [\"/bin/true\"]\n",
        "for dir in /dev /tmp /; do mknod $dir/disk b 8 0 && { head -c 1 $dir/disk >/dev/null 2>&1 && echo OPENED-$dir || echo refused-$dir; }; done; \
         head -c 1 /dev/zero | wc -c; grep CapInh /proc/self/status",
    );
    assert!(
        !out.contains("OPENED"),
        "a device node made in the container opened: {out}"
    );
    assert!(out.contains("refused-/dev"), "{out}");
    assert!(
        out.contains("1\n"),
        "the container's own /dev/zero does not work: {out}"
    );
    assert_eq!(status_field(&out, "CapInh"), "0000000000000000", "{out}");
}

#[test]
fn the_cgroup_namespace_is_rooted_at_the_containers_cgroup() {
    let out = sh_in(
        "command = [\"/bin/true\"]\n[resources]\npids = 40\n",
        "cat /proc/self/cgroup",
    );
    let pids = out
        .lines()
        .find(|l| l.contains(":pids:") || l.starts_with("0::"))
        .unwrap_or_else(|| panic!("no pids or unified line: {out}"));
    assert!(
        pids.ends_with(":/"),
        "the container sees the host's cgroup layout: {out}"
    );
}

#[test]
fn without_no_new_privileges_a_non_root_user_still_gets_the_seccomp_filter() {
    let out = sh_in(
        "command = [\"/bin/true\"]\nuser = \"65534:65534\"\n[security]\nno_new_privileges = false\n",
        "grep -E '^(Uid|NoNewPrivs|Seccomp|CapEff):' /proc/self/status",
    );
    assert!(out.contains("65534"), "{out}");
    assert_eq!(status_field(&out, "NoNewPrivs"), "0");
    assert_eq!(status_field(&out, "Seccomp"), "2");
    assert_eq!(status_field(&out, "CapEff"), "0000000000000000");
}

#[test]
fn without_init_the_command_starts_with_default_signal_dispositions() {
    let container = container(
        "init = false\ncommand = [\"/bin/sh\", \"-c\", \"yes | head -n 1; grep SigIgn /proc/1/status\"]\n",
    );
    let output = up(&container, &[]);
    let (out, err) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{out}{err}");
    assert!(
        !err.contains("Broken pipe") && !err.contains("write error"),
        "SIGPIPE was ignored: {err}"
    );
    // The command (PID 1 here) did not inherit an ignored SIGPIPE (signal 13).
    let ignored = u64::from_str_radix(&status_field(&out, "SigIgn"), 16).unwrap();
    assert_eq!(
        ignored & (1 << 12),
        0,
        "SIGPIPE ignored in the command: {out}"
    );
}

#[test]
fn a_profile_naming_unknown_system_calls_is_a_warning() {
    let container = container("command = [\"/bin/true\"]\n[security]\nseccomp = \"deny.json\"\n");
    std::fs::write(
        container.path("deny.json"),
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "no_such_call"], "action": "SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let check = |strict: bool| {
        let mut cmd = crate::util::launcher_bin();
        cmd.arg("check")
            .arg(container.file())
            .env("NO_COLOR", "1")
            .env("COLUMNS", "300");
        if strict {
            cmd.arg("--strict");
        }
        cmd.output().unwrap()
    };
    let lenient = check(false);
    let err = text(&lenient.stderr);
    assert_eq!(lenient.status.code(), Some(0), "{err}");
    assert!(
        err.contains("no_such_call") && err.contains("security.seccomp"),
        "{err}"
    );
    assert_eq!(check(true).status.code(), Some(1));
}

#[test]
fn without_a_pid_namespace_the_cgroup_ends_what_the_command_left_behind() {
    let container = container(
        "command = [\"/bin/sh\", \"-c\", \"setsid sleep 30 </dev/null >/dev/null 2>&1 & echo $!\"]\n[namespaces]\npid = false\n[resources]\npids = 20\n",
    );
    let output = up(&container, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    // Without a PID namespace, the pid printed inside is the host's.
    let pid: i32 = text(&output.stdout).trim().parse().expect("no pid printed");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z")
    {
        assert!(
            Instant::now() < deadline,
            "the container's daemon {pid} outlived it"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The memory limit file at the top of the container's /sys/fs/cgroup: cgroup2's `memory.max`
/// on a v2 host, the v1 memory hierarchy's `memory.limit_in_bytes` otherwise.
fn memory_limit_file() -> &'static str {
    let v2 = std::fs::read_to_string("/proc/self/mountinfo")
        .expect("cannot read /proc/self/mountinfo")
        .lines()
        .any(|l| l.contains(" /sys/fs/cgroup ") && l.contains(" - cgroup2 "));
    if v2 {
        "/sys/fs/cgroup/memory.max"
    } else {
        "/sys/fs/cgroup/memory/memory.limit_in_bytes"
    }
}

/// Issue 15, item 8: a container had no /sys and no cgroup filesystem, so programs that size
/// themselves from their cgroup (the JVM, Go, nginx's workers) saw no limit, or the host's.
#[test]
fn programs_see_their_own_memory_limit_at_the_top_of_sys_fs_cgroup() {
    let file = memory_limit_file();
    let script =
        format!("cat {file}; grep ' /sys/fs/cgroup' /proc/self/mountinfo; cat /proc/self/cgroup");
    let out = sh_in(
        "command = [\"/bin/true\"]\n[resources]\nmemory = \"48MiB\"\n",
        &script,
    );
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("50331648"), "{file}:\n{out}");
    // Every cgroup filesystem is read-only; each is rooted at the container's own cgroup.
    let mounts: Vec<&str> = out
        .lines()
        .filter(|l| l.contains(" /sys/fs/cgroup"))
        .collect();
    assert!(!mounts.is_empty(), "{out}");
    for mount in &mounts {
        assert!(
            mount.split_whitespace().nth(5).unwrap().starts_with("ro,"),
            "{mount}"
        );
    }
    for line in out.lines().filter(|l| l.contains(":/") && !l.contains(' ')) {
        assert!(
            line.ends_with(":/"),
            "not rooted at its own cgroup: {line}\n{out}"
        );
    }
}

/// Issue 15, item 8: /sys must be there and read-only (a writable sysfs reconfigures the
/// host), and the cgroup mount cannot be written through, not even by the container's root.
#[test]
fn sys_and_the_cgroup_mount_are_read_only_even_for_the_containers_root() {
    let file = memory_limit_file();
    let script = format!(
        "awk '$5 == \"/sys\"' /proc/self/mountinfo; ls /sys/kernel >/dev/null && echo listed; \
         echo 1 > /sys/kernel/profiling 2>/dev/null && echo WROTE-SYS; \
         echo 1000000000 > {file} 2>/dev/null && echo WROTE-CGROUP; cat {file}; \
         mkdir /sys/fs/cgroup/x 2>/dev/null && echo MADE; true"
    );
    let out = sh_in(
        "command = [\"/bin/true\"]\n[resources]\nmemory = \"48MiB\"\n",
        &script,
    );
    let sys = out.lines().next().unwrap_or_default();
    assert!(sys.contains(" - sysfs "), "{out}");
    assert!(
        sys.split_whitespace().nth(5).unwrap().starts_with("ro,"),
        "{sys}"
    );
    assert!(out.contains("listed"), "{out}");
    assert!(!out.contains("WROTE") && !out.contains("MADE"), "{out}");
    assert!(out.contains("50331648"), "{out}");
}

/// The file's own mount at /sys replaces the default (and hides the default cgroups); without
/// a cgroup namespace there is no default cgroup mount; `type = "cgroup"` gives it anywhere.
#[test]
fn a_mount_of_the_files_own_replaces_the_default_sys_and_cgroup_mounts() {
    let out = sh_in(
        "command = [\"/bin/true\"]\n[[mount]]\ntype = \"tmpfs\"\ntarget = \"/sys\"\n",
        "awk '$5 ~ /^\\/sys/ { split($0, a, \" - \"); split(a[2], b, \" \"); print $5, b[1] }' /proc/self/mountinfo",
    );
    assert_eq!(out.trim(), "/sys tmpfs", "{out}");

    let out = sh_in(
        "command = [\"/bin/true\"]\n[namespaces]\ncgroup = false\n[[mount]]\ntype = \"cgroup\"\ntarget = \"/cg\"\n",
        "awk '$5 ~ /cg/ { print $5 }' /proc/self/mountinfo",
    );
    // The file's cgroup mount is there, and no default one under /sys.
    assert!(out.lines().any(|l| l.starts_with("/cg")), "{out}");
    assert!(!out.contains("/sys/fs/cgroup"), "{out}");
}
