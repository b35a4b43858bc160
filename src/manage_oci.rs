//! The OCI runtime's command line, runc's shape: `launcher oci COMMAND`, or the binary called
//! `launcher-oci` (a symlink: podman and containerd take a path to a runtime binary). Errors go
//! to stderr and, with `--log`, to that file in `--log-format` (text or json), where engines
//! read them.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};
use launcher::oci::OciError;
use launcher::oci::control;
use launcher::oci::create::{self, CreateOptions};
use launcher::oci::exec::{self, ExecOptions};
use launcher::oci::state::{StateDir, now_rfc3339};

use crate::ExitCode;

/// The name that makes the binary the OCI runtime.
pub const OCI_NAME: &str = "launcher-oci";

#[derive(Parser, Debug)]
#[command(
    name = "launcher-oci",
    version = concat!(env!("CARGO_PKG_VERSION"), "\nspec: 1.1.0"),
    about = "launcher as an OCI runtime: runc's commands over OCI bundles",
    after_help = "Invoked as `launcher oci COMMAND` or as `launcher-oci COMMAND` (a symlink to launcher).\nExamples:\n  podman --runtime /usr/local/bin/launcher-oci run --rm alpine true\n  launcher-oci --root /run/my-oci create --bundle ./bundle c1 && launcher-oci start c1"
)]
pub struct OciCli {
    /// The state folder: one folder per container.
    #[arg(long, global = true, default_value = launcher::oci::state::DEFAULT_ROOT)]
    root: PathBuf,
    /// Also write errors (and, with --debug, progress) to this file.
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// The form of --log lines.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Log what is done, not only errors.
    #[arg(long, global = true)]
    debug: bool,
    /// Refused: the launcher manages cgroupfs folders only.
    #[arg(long, global = true)]
    systemd_cgroup: bool,
    /// runc's rootless mode (true, false, auto): accepted; the launcher needs root for cgroups.
    #[arg(long, global = true)]
    rootless: Option<String>,
    #[command(subcommand)]
    command: OciCommand,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum LogFormat {
    Text,
    Json,
}

#[derive(clap::Args, Debug, Clone)]
struct CreateArgs {
    /// The bundle folder (holds config.json).
    #[arg(long, short = 'b', default_value = ".")]
    bundle: PathBuf,
    /// Write the container's pid here before create exits.
    #[arg(long)]
    pid_file: Option<PathBuf>,
    /// A unix socket to send the terminal's master to (SCM_RIGHTS), when process.terminal.
    #[arg(long)]
    console_socket: Option<PathBuf>,
    /// Pass this many descriptors after stdio (refused when not 0).
    #[arg(long, default_value_t = 0)]
    preserve_fds: u32,
    /// Refused: the launcher always uses pivot_root.
    #[arg(long)]
    no_pivot: bool,
    /// Accepted: the launcher makes no session keyring.
    #[arg(long)]
    no_new_keyring: bool,
    id: String,
}

#[derive(Subcommand, Debug)]
enum OciCommand {
    /// Create a container: its process set up, waiting for start.
    Create(CreateArgs),
    /// Let a created container's process run its command.
    Start { id: String },
    /// Create and start; without --detach, wait for the command and delete the container.
    Run {
        #[command(flatten)]
        create: CreateArgs,
        #[arg(long, short = 'd')]
        detach: bool,
        /// Keep the container's state after it ends.
        #[arg(long)]
        keep: bool,
    },
    /// Print the state JSON of a container.
    State { id: String },
    /// Send a signal (default SIGTERM) to the container's process, or with --all to all of them.
    Kill {
        #[arg(long, short = 'a')]
        all: bool,
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Remove a stopped container (--force: end it first).
    Delete {
        #[arg(long, short = 'f')]
        force: bool,
        id: String,
    },
    /// Run a process in a running container.
    Exec {
        /// The process document (JSON, as config.json's process); `-` for stdin.
        #[arg(long, short = 'p')]
        process: Option<PathBuf>,
        #[arg(long, short = 't')]
        tty: bool,
        #[arg(long)]
        console_socket: Option<PathBuf>,
        #[arg(long, short = 'd')]
        detach: bool,
        #[arg(long)]
        pid_file: Option<PathBuf>,
        #[arg(long, default_value_t = 0)]
        preserve_fds: u32,
        /// The working folder (without --process).
        #[arg(long)]
        cwd: Option<String>,
        /// NAME=VALUE (without --process).
        #[arg(long, short = 'e')]
        env: Vec<String>,
        id: String,
        /// The command (without --process).
        command: Vec<String>,
    },
    /// The pids of a container's processes.
    Ps {
        #[arg(long, short = 'f', value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        id: String,
    },
    /// The containers under --root.
    List {
        #[arg(long, short = 'f', value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        #[arg(long, short = 'q')]
        quiet: bool,
    },
    /// Freeze a container's processes.
    Pause { id: String },
    /// Thaw them.
    Resume { id: String },
    /// Change a running container's limits (memory, cpu, pids).
    Update {
        /// linux.resources as JSON; `-` for stdin.
        #[arg(long, short = 'r')]
        resources: PathBuf,
        id: String,
    },
    /// What this runtime supports (the runtime spec's features document).
    Features,
    /// Write a starting config.json into the bundle folder.
    Spec {
        #[arg(long, short = 'b', default_value = ".")]
        bundle: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum ListFormat {
    Table,
    Json,
}

/// Runs the OCI command line when the binary was called as `launcher-oci` or `launcher oci`;
/// `None` otherwise.
pub fn dispatch() -> Option<ExitCode> {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let called = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .is_some_and(|n| n == OCI_NAME);
    if !called {
        if args.get(1).is_none_or(|a| a != "oci") {
            return None;
        }
        args.remove(1);
    }
    let cli = OciCli::parse_from(args);
    Some(run(cli))
}

fn run(cli: OciCli) -> ExitCode {
    let log = Log {
        file: cli.log.clone(),
        format: cli.log_format,
    };
    if cli.debug {
        log.write("debug", &format!("{:?}", cli.command));
    }
    let result = if cli.systemd_cgroup {
        Err(OciError::new(
            "--systemd-cgroup is not supported: the launcher manages cgroupfs folders",
        )
        .hint("configure the engine for cgroupfs (podman --cgroup-manager cgroupfs; containerd SystemdCgroup = false)"))
    } else {
        command(&cli, &log)
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            log.warn(&error.warnings);
            let text = error.to_string();
            let _ = writeln!(std::io::stderr(), "launcher-oci: {text}");
            log.write("error", &text);
            ExitCode::from(error.exit)
        }
    }
}

fn command(cli: &OciCli, log: &Log) -> Result<ExitCode, OciError> {
    let dirs = StateDir::new(Some(cli.root.clone()));
    let ok = Ok(ExitCode::SUCCESS);
    match &cli.command {
        OciCommand::Create(args) => {
            create::create(&dirs, &args.id, &create_options(args))?;
            ok
        }
        OciCommand::Start { id } => {
            log.warn(&create::start(&dirs, id)?);
            ok
        }
        OciCommand::Run {
            create: args,
            detach,
            keep,
        } => run_container(&dirs, args, *detach, *keep, log),
        OciCommand::State { id } => {
            print_json(&control::state(&dirs, id)?);
            ok
        }
        OciCommand::Kill { all, id, signal } => {
            control::kill(&dirs, id, signal, *all)?;
            ok
        }
        OciCommand::Delete { force, id } => {
            log.warn(&control::delete(&dirs, id, *force)?);
            ok
        }
        OciCommand::Exec {
            process,
            tty,
            console_socket,
            detach,
            pid_file,
            preserve_fds,
            cwd,
            env,
            id,
            command,
        } => {
            let process_text = match process {
                Some(path) => read_input(path)?,
                None => {
                    if command.is_empty() {
                        return Err(OciError::new("exec needs --process FILE or a command"));
                    }
                    let env = if env.is_empty() {
                        vec![
                            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
                                .to_string(),
                        ]
                    } else {
                        env.clone()
                    };
                    process_from_container(&dirs, id, command, &env, cwd.as_deref(), *tty)?
                }
            };
            let options = ExecOptions {
                process_text,
                tty: *tty,
                console_socket: console_socket.clone(),
                detach: *detach,
                pid_file: pid_file.clone(),
                preserve_fds: *preserve_fds,
            };
            Ok(ExitCode::from(exec::exec(&dirs, id, &options)?))
        }
        OciCommand::Ps { format, id } => {
            let pids = control::ps(&dirs, id)?;
            match format {
                ListFormat::Json => print_json(&pids),
                ListFormat::Table => {
                    println!("PID");
                    for pid in pids {
                        println!("{pid}");
                    }
                }
            }
            ok
        }
        OciCommand::List { format, quiet } => {
            let states = control::list(&dirs)?;
            match (format, quiet) {
                (_, true) => states.iter().for_each(|s| println!("{}", s.id)),
                (ListFormat::Json, _) => print_json(&states),
                (ListFormat::Table, _) => {
                    println!(
                        "{:<20} {:<8} {:<10} {:<40} {:<31} OWNER",
                        "ID", "PID", "STATUS", "BUNDLE", "CREATED"
                    );
                    for s in &states {
                        println!(
                            "{:<20} {:<8} {:<10} {:<40} {:<31} {}",
                            s.id, s.pid, s.status, s.bundle, s.created, s.owner
                        );
                    }
                }
            }
            ok
        }
        OciCommand::Pause { id } => {
            control::pause(&dirs, id)?;
            ok
        }
        OciCommand::Resume { id } => {
            control::resume(&dirs, id)?;
            ok
        }
        OciCommand::Update { resources, id } => {
            control::update(&dirs, id, &read_input(resources)?)?;
            ok
        }
        OciCommand::Features => {
            print_json(&launcher::oci::features::features());
            ok
        }
        OciCommand::Spec { bundle } => {
            let rootless = cli.rootless.as_deref().is_some_and(|v| v != "false");
            let file = bundle.join("config.json");
            if file.exists() {
                return Err(OciError::new(format!("{} exists already", file.display()))
                    .hint("remove it, or give another --bundle"));
            }
            let text =
                serde_json::to_string_pretty(&launcher::oci::features::default_spec(rootless))
                    .unwrap_or_default();
            std::fs::write(&file, text + "\n")
                .map_err(OciError::io(format!("write {}", file.display())))?;
            ok
        }
    }
}

fn create_options(args: &CreateArgs) -> CreateOptions {
    CreateOptions {
        bundle: args.bundle.clone(),
        pid_file: args.pid_file.clone(),
        console_socket: args.console_socket.clone(),
        preserve_fds: args.preserve_fds,
        no_pivot: args.no_pivot,
        no_new_keyring: args.no_new_keyring,
    }
}

/// `run`: create and start; in the foreground the container's process is this process's
/// child, waited for, and the container deleted after (unless --keep).
fn run_container(
    dirs: &StateDir,
    args: &CreateArgs,
    detach: bool,
    keep: bool,
    log: &Log,
) -> Result<ExitCode, OciError> {
    let record = create::create(dirs, &args.id, &create_options(args))?;
    match create::start(dirs, &args.id) {
        Ok(warnings) => log.warn(&warnings),
        Err(e) => {
            let warnings = control::delete(dirs, &args.id, true).unwrap_or_default();
            return Err(e.warnings(warnings));
        }
    }
    if detach {
        return Ok(ExitCode::SUCCESS);
    }
    let status = launcher::sys::waitpid(record.pid, false)
        .ok()
        .flatten()
        .map_or(255, |(_, status)| status);
    let code = if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        libc::WEXITSTATUS(status)
    };
    if !keep {
        log.warn(&control::delete(dirs, &args.id, true)?);
    }
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}

/// A process document for `exec ID COMMAND`: the container's user, with the command given.
fn process_from_container(
    dirs: &StateDir,
    id: &str,
    command: &[String],
    env: &[String],
    cwd: Option<&str>,
    tty: bool,
) -> Result<String, OciError> {
    let record = dirs.load(id)?;
    let config_text =
        std::fs::read_to_string(record.bundle.join("config.json")).map_err(OciError::io(
            format!("read {}", record.bundle.join("config.json").display()),
        ))?;
    let config: serde_json::Value = serde_json::from_str(&config_text)
        .map_err(|e| OciError::new(format!("read the container's config.json: {e}")))?;
    let mut process = config.get("process").cloned().unwrap_or_default();
    process["args"] = serde_json::json!(command);
    process["env"] = serde_json::json!(env);
    process["terminal"] = serde_json::json!(tty);
    if let Some(cwd) = cwd {
        process["cwd"] = serde_json::json!(cwd);
    }
    Ok(process.to_string())
}

fn read_input(path: &Path) -> Result<String, OciError> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(OciError::io("read stdin"))?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(OciError::io(format!("read {}", path.display())))
}

fn print_json<T: serde::Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

struct Log {
    file: Option<PathBuf>,
    format: LogFormat,
}

impl Log {
    /// Warnings (hooks whose failure the runtime spec makes one): on stderr, where a user of
    /// the command sees them, and in `--log` at level "warning", where an engine shows them.
    fn warn(&self, warnings: &[String]) {
        for warning in warnings {
            let _ = writeln!(std::io::stderr(), "launcher-oci: warning: {warning}");
            self.write("warning", warning);
        }
    }

    fn write(&self, level: &str, message: &str) {
        let Some(file) = &self.file else { return };
        let line = match self.format {
            LogFormat::Json => {
                serde_json::json!({"level": level, "msg": message, "time": now_rfc3339()})
                    .to_string()
            }
            LogFormat::Text => {
                format!("time=\"{}\" level={level} msg={:?}", now_rfc3339(), message)
            }
        };
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}
