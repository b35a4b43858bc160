//! `create` and `start`, runc's process model: `create` runs the plan up to the command's
//! exec, where the container's process waits at its FIFO (`exec.fifo` in the state folder);
//! the pid file is written before `create` exits; `start` opens the FIFO, which lets the
//! process exec. The engine that called `create` (conmon, containerd's shim) is a subreaper:
//! the process becomes its child when `create` exits.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::config::{self, Config};
use super::spec::{Extras, Source, translate};
use super::state::{Record, StateDir, Status, now_rfc3339, write_atomic};
use super::{OciError, hooks};
use crate::plan::{CgroupSetup, CgroupVersion, CgroupWrite, Facts, Plan, Spec};
use crate::preflight::{self, Hierarchies};
use crate::runtime;
use crate::sys::{self, Errno};

/// The options of `create` (and `run`).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub preserve_fds: u32,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
}

/// A bundle read and translated: the checked plan, ready to run.
pub struct Prepared {
    pub plan: Plan,
    pub extras: Extras,
    pub config: Config,
    pub rootfs: PathBuf,
}

/// Reads `bundle/config.json` and makes the plan of container `id` (with its FIFO and
/// seccomp profile under `dir`). Nothing is created but what `dir` holds.
pub fn prepare(id: &str, bundle: &Path, dir: &Path) -> Result<Prepared, OciError> {
    let file = bundle.join("config.json");
    let text = std::fs::read_to_string(&file).map_err(|e| {
        OciError::new(format!("read {}: {e}", file.display())).hint(
            "--bundle names the folder that holds config.json (runc's default: the current folder)",
        )
    })?;
    let problems_text = |problems: Vec<config::JsonProblem>| {
        let lines: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        OciError::new(format!("{}: {}", file.display(), lines.join("; ")))
    };
    let config: Config = config::parse(&text).map_err(|p| problems_text(vec![p]))?;
    let seccomp_file = dir.join("seccomp.json");
    let source = Source {
        bundle,
        file: file.clone(),
        text: &text,
    };
    let (spec, extras) = translate(id, &config, &source, &seccomp_file).map_err(problems_text)?;
    if let Some(profile) = &extras.seccomp {
        let bytes = serde_json::to_vec(profile)
            .map_err(|e| OciError::new(format!("encode linux.seccomp: {e}")))?;
        write_atomic(&seccomp_file, &bytes)?;
    }
    let rootfs = match &spec.root.value {
        crate::plan::Root::Folder(path) => path.clone(),
        _ => bundle.join("rootfs"),
    };
    let facts = preflight::check(&spec, &preflight::Host::current())
        .map_err(|problems| preflight_error(&file, &text, problems))?;
    let facts = adjust_facts(facts, &spec, &extras)?;
    let plan = Plan::build_created(spec, facts, dir.join("exec.fifo"));
    Ok(Prepared {
        plan,
        extras,
        config,
        rootfs,
    })
}

/// Preflight's problems, each at the line of config.json that asked for it.
fn preflight_error(file: &Path, text: &str, problems: Vec<crate::diagnostic::Problem>) -> OciError {
    let source = crate::diagnostic::SourceFile::new(file, text.to_string());
    let lines: Vec<String> = problems
        .iter()
        .map(|p| {
            let (line, _) = source.line_column(p.span.start);
            let mut text = format!("line {line}: {}: {}", p.key, p.message);
            if !p.label.is_empty() {
                text.push_str(&format!(" ({})", p.label));
            }
            if let Some(help) = &p.help {
                text.push_str(&format!("; try: {help}"));
            }
            text
        })
        .collect();
    let code = if problems
        .iter()
        .any(|p| p.code == preflight::COMMAND_NOT_FOUND)
    {
        127
    } else if problems
        .iter()
        .any(|p| p.code == preflight::COMMAND_NOT_EXECUTABLE)
    {
        126
    } else {
        1
    };
    OciError::new(format!("{}: {}", file.display(), lines.join("; "))).exit(code)
}

/// What the OCI config gives that preflight would otherwise work out: the supplementary
/// groups as listed, the engine's id maps, and the cgroup at `cgroupsPath`.
fn adjust_facts(mut facts: Facts, spec: &Spec, extras: &Extras) -> Result<Facts, OciError> {
    facts.user.groups = extras.additional_gids.clone();
    if let Some(maps) = &extras.id_maps {
        facts.user_namespace = Some(maps.clone());
    }
    facts.cgroup = Some(cgroup_setup(facts.cgroup.take(), spec, extras)?);
    Ok(facts)
}

/// The container's cgroup at `cgroupsPath`, in every v1 hierarchy (so `kill --all`, `ps`,
/// `pause` and `delete` find all its processes), with preflight's limit writes moved there and
/// the device rules written.
fn cgroup_setup(
    found: Option<CgroupSetup>,
    spec: &Spec,
    extras: &Extras,
) -> Result<CgroupSetup, OciError> {
    let hosts = Hierarchies::current();
    let limits = spec
        .limits
        .as_ref()
        .map(|l| l.value.clone())
        .unwrap_or_default();
    let relative = extras.cgroups_path.trim_start_matches('/');
    let mut writes: Vec<CgroupWrite> = Vec::new();
    if !hosts.v1.is_empty() {
        let mut paths: Vec<PathBuf> = Vec::new();
        for (controller, mount) in &hosts.v1 {
            // A cpuset folder starts with no CPUs; nothing is limited there.
            if controller == "cpuset" {
                continue;
            }
            let path = mount.join(relative);
            if !paths.contains(&path) {
                paths.push(path);
            }
        }
        if let Some(found) = found.filter(|f| f.version == CgroupVersion::V1) {
            for write in found.writes {
                writes.push(CgroupWrite {
                    file: moved(&write.file, &spec.name, relative),
                    value: write.value,
                });
            }
        }
        if !extras.device_rules.is_empty() {
            let Some(devices) = hosts.v1.get("devices") else {
                return Err(OciError::new(
                    "linux.resources.devices: the devices cgroup controller is not mounted",
                ));
            };
            let dir = devices.join(relative);
            // The devices every container has, as the runtime spec asks (and runc allows):
            // after the config's rules, which usually deny everything first.
            let defaults = [
                "c *:* m",
                "b *:* m",
                "c 1:3 rwm",
                "c 1:5 rwm",
                "c 1:7 rwm",
                "c 1:8 rwm",
                "c 1:9 rwm",
                "c 5:0 rwm",
                "c 5:1 rwm",
                "c 5:2 rwm",
                "c 136:* rwm",
            ];
            let defaults = defaults.iter().map(|rule| super::config::DeviceRule {
                allow: true,
                kind: Some(rule[..1].to_string()),
                major: rule[2..].split(':').next().and_then(|m| m.parse().ok()),
                minor: rule
                    .split(':')
                    .nth(1)
                    .and_then(|m| m.split(' ').next())
                    .and_then(|m| m.parse().ok()),
                access: rule.rsplit(' ').next().map(str::to_string),
            });
            let rules: Vec<_> = extras
                .device_rules
                .iter()
                .cloned()
                .chain(defaults)
                .collect();
            for rule in &rules {
                let kind = rule.kind.as_deref().unwrap_or("a");
                let number = |n: Option<i64>| n.map_or("*".to_string(), |n| n.to_string());
                let access = rule.access.as_deref().unwrap_or("rwm");
                let value = if kind == "a" {
                    "a".to_string()
                } else {
                    format!(
                        "{kind} {}:{} {access}",
                        number(rule.major),
                        number(rule.minor)
                    )
                };
                let file = if rule.allow {
                    "devices.allow"
                } else {
                    "devices.deny"
                };
                writes.push(CgroupWrite {
                    file: dir.join(file),
                    value,
                });
            }
        }
        return Ok(CgroupSetup {
            version: CgroupVersion::V1,
            limits,
            paths,
            writes,
        });
    }
    let Some((root, controllers)) = &hosts.unified else {
        return Err(OciError::new(
            "no cgroup hierarchy is mounted (neither v1 nor v2)",
        ));
    };
    if !extras.device_rules.is_empty() {
        return Err(OciError::new(
            "linux.resources.devices: device rules on cgroup v2 need an eBPF program, which the launcher does not load",
        ));
    }
    let dir = root.join(relative);
    let enable: Vec<String> = ["cpu", "memory", "pids"]
        .iter()
        .filter(|c| controllers.iter().any(|h| h == *c))
        .map(|c| format!("+{c}"))
        .collect();
    let mut level = root.clone();
    for part in Path::new(relative)
        .parent()
        .into_iter()
        .flat_map(|p| p.iter())
    {
        writes.push(CgroupWrite {
            file: level.join("cgroup.subtree_control"),
            value: enable.join(" "),
        });
        level = level.join(part);
    }
    writes.push(CgroupWrite {
        file: level.join("cgroup.subtree_control"),
        value: enable.join(" "),
    });
    if let Some(found) = found {
        for write in found.writes {
            if write.file.ends_with("cgroup.subtree_control") {
                continue;
            }
            writes.push(CgroupWrite {
                file: moved(&write.file, &spec.name, relative),
                value: write.value,
            });
        }
    }
    Ok(CgroupSetup {
        version: CgroupVersion::V2,
        limits,
        paths: vec![dir],
        writes,
    })
}

/// `HIERARCHY/launcher/NAME/FILE` → `HIERARCHY/RELATIVE/FILE`.
fn moved(file: &Path, name: &str, relative: &str) -> PathBuf {
    let text = file.to_string_lossy();
    let from = format!("/launcher/{name}/");
    match text.find(&from) {
        Some(at) => PathBuf::from(format!(
            "{}/{relative}/{}",
            &text[..at],
            &text[at + from.len()..]
        )),
        None => file.to_path_buf(),
    }
}

/// `create`: the container's process set up and waiting at its FIFO; its pid in the pid file.
pub fn create(dirs: &StateDir, id: &str, options: &CreateOptions) -> Result<Record, OciError> {
    super::state::check_id(id)?;
    if options.preserve_fds > 0 {
        return Err(OciError::new(format!(
            "--preserve-fds {}: passing descriptors to the container is not supported",
            options.preserve_fds
        )));
    }
    if options.no_pivot {
        return Err(OciError::new(
            "--no-pivot is not supported: the launcher always uses pivot_root",
        ));
    }
    std::fs::create_dir_all(&dirs.root).map_err(OciError::io(format!(
        "create the state folder {}",
        dirs.root.display()
    )))?;
    let dir = dirs.dir(id);
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(OciError::new(format!("container \"{id}\" already exists"))
                .hint("delete it first, or pick another id"));
        }
        Err(e) => return Err(OciError::io(format!("create {}", dir.display()))(e)),
    }
    let made = create_in(dirs, id, options, &dir);
    if made.is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    made
}

fn create_in(
    dirs: &StateDir,
    id: &str,
    options: &CreateOptions,
    dir: &Path,
) -> Result<Record, OciError> {
    let bundle = std::path::absolute(&options.bundle).map_err(OciError::io(format!(
        "resolve {}",
        options.bundle.display()
    )))?;
    let prepared = prepare(id, &bundle, dir)?;
    let terminal = prepared.config.process.as_ref().is_some_and(|p| p.terminal);
    if terminal && options.console_socket.is_none() {
        return Err(OciError::new(
            "process.terminal is true, but no --console-socket was given to send the terminal to",
        ));
    }
    let fifo = dirs.fifo(id);
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .map_err(|e| OciError::new(format!("create the FIFO {}: {e}", fifo.display())))?;
    // The process opens it as the root of its user namespace (as runc, which chowns it too):
    // with maps that leave host root out, it is no longer host root by then.
    if let Some(maps) = &prepared.extras.id_maps {
        use crate::plan::host_id;
        if let (Some(uid), Some(gid)) = (host_id(&maps.uid, 0), host_id(&maps.gid, 0)) {
            std::os::unix::fs::chown(&fifo, Some(uid), Some(gid)).map_err(OciError::io(
                format!("chown {uid}:{gid} {}", fifo.display()),
            ))?;
        }
    }
    // Inherited by the container's process: the plan has no umask step.
    if let Some(mask) = prepared.extras.umask {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    }
    let cgroup = prepared.plan.cgroup().cloned();
    if let Some(setup) = &cgroup {
        // The engine's path may be deeper than the runtime makes by itself (one level).
        for path in &setup.paths {
            if let Some(grand) = path.parent().and_then(Path::parent) {
                let _ = std::fs::create_dir_all(grand);
            }
        }
    }
    let plan = &prepared.plan;
    let detached = runtime::run_detached(plan, None, &mut |_, _| {}).map_err(|failed| {
        let step = plan
            .steps
            .get(failed.step)
            .map(|s| s.action.to_string())
            .unwrap_or_default();
        let origin = match plan.steps.get(failed.step).map(|s| &s.origin) {
            Some(crate::plan::Origin::File { key, line, .. }) => {
                format!(" (config.json line {line}, {key})")
            }
            _ => String::new(),
        };
        OciError::new(format!(
            "step {} ({step}){origin}: {}: {}",
            failed.step + 1,
            failed.detail,
            runtime::errno_text(failed.errno)
        ))
        .hint(failed.hint(plan))
        .exit(failed.exit_code(plan))
    })?;
    let pid = detached.pid;
    let start = crate::runtime::procfs::stat(pid).map_or(0, |s| s.start);
    let record = Record {
        id: id.to_string(),
        bundle: bundle.clone(),
        rootfs: prepared.rootfs.clone(),
        pid,
        start,
        created: now_rfc3339(),
        owner: nix::unistd::geteuid().as_raw().to_string(),
        annotations: prepared.config.annotations.clone(),
        cgroup_version: cgroup.as_ref().map_or(CgroupVersion::V1, |c| c.version),
        cgroup_paths: cgroup.map(|c| c.paths).unwrap_or_default(),
        hooks: prepared.extras.hooks.clone(),
        plan: prepared.plan.clone(),
    };
    let finish = || -> Result<(), OciError> {
        if let Some(adj) = prepared.extras.oom_score_adj {
            let file = format!("/proc/{pid}/oom_score_adj");
            std::fs::write(&file, adj.to_string())
                .map_err(OciError::io(format!("write {adj} to {file}")))?;
        }
        if let (Some(master), Some(socket)) = (&detached.master, &options.console_socket) {
            if let Some((rows, cols)) = prepared.extras.console_size {
                let size = libc::winsize {
                    ws_row: rows,
                    ws_col: cols,
                    ws_xpixel: 0,
                    ws_ypixel: 0,
                };
                let _ = sys::set_winsize(master.as_raw_fd(), &size);
            }
            send_console(socket, master.as_raw_fd())?;
        }
        dirs.save(&record)?;
        if let Some(file) = &options.pid_file {
            write_atomic(file, pid.to_string().as_bytes())?;
        }
        let state = dirs.state(&record);
        hooks::run_all(&record.hooks.prestart, &state, "prestart")?;
        hooks::run_all(&record.hooks.create_runtime, &state, "createRuntime")
    };
    if let Err(error) = finish() {
        let _ = sys::kill(pid, libc::SIGKILL);
        let _ = runtime::remove_leftover_cgroups(&record.cgroup_paths);
        // The runtime spec goes on to delete after a failed prestart or createRuntime hook,
        // and so the poststop hooks run, to undo what the others did (runc's destroy runs
        // them after any failed create); their failures are only warnings.
        let warnings = hooks::run_each(&record.hooks.poststop, &dirs.state(&record), "poststop");
        return Err(error.warnings(warnings));
    }
    Ok(record)
}

/// Sends the pseudo-terminal's master to the engine's socket.
fn send_console(socket: &Path, master: std::os::fd::RawFd) -> Result<(), OciError> {
    let stream = std::os::unix::net::UnixStream::connect(socket).map_err(OciError::io(format!(
        "connect to the console socket {}",
        socket.display()
    )))?;
    sys::send_fd(stream.as_raw_fd(), master).map_err(|e| {
        OciError::new(format!(
            "send the terminal over {}: {}",
            socket.display(),
            runtime::errno_text(e)
        ))
    })
}

/// `start`: lets a created container's process exec its command. Returns the warnings of
/// poststart hooks that failed (the spec's lifecycle goes on after them).
pub fn start(dirs: &StateDir, id: &str) -> Result<Vec<String>, OciError> {
    let record = dirs.load(id)?;
    let status = dirs.status(&record);
    if status != Status::Created {
        return Err(OciError::new(format!(
            "cannot start container \"{id}\": it is {}, not created",
            status.name()
        )));
    }
    let fifo = dirs.fifo(id);
    let path = sys::cstring(fifo.as_os_str().as_encoded_bytes())
        .map_err(|_| OciError::new("a NUL byte in the state folder's path"))?;
    let fd = sys::open(&path, libc::O_RDONLY | libc::O_NONBLOCK).map_err(|e| {
        OciError::new(format!(
            "open the start FIFO {}: {}",
            fifo.display(),
            runtime::errno_text(e)
        ))
    })?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut byte = [0u8; 1];
        match sys::read(fd.as_raw_fd(), &mut byte) {
            Ok(1) => break,
            Ok(_) | Err(Errno::EAGAIN) | Err(Errno::EINTR) => {}
            Err(e) => {
                return Err(OciError::new(format!(
                    "read the start FIFO {}: {}",
                    fifo.display(),
                    runtime::errno_text(e)
                )));
            }
        }
        if !crate::runtime::procfs::is_alive(record.pid, record.start) {
            return Err(OciError::new(format!(
                "container \"{id}\" ended before it started (pid {})",
                record.pid
            )));
        }
        if Instant::now() > deadline {
            return Err(OciError::new(format!(
                "container \"{id}\" did not answer at its start FIFO within 10 s"
            )));
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let _ = std::fs::remove_file(&fifo);
    let state = dirs.state(&record);
    // The runtime spec: a failed poststart hook is a warning; the others still run, and the
    // container goes on.
    Ok(hooks::run_each(
        &record.hooks.poststart,
        &state,
        "poststart",
    ))
}
