//! The `launcher` binary: parses arguments, calls the library, renders errors and chooses the
//! exit code. Nothing else prints errors.

#![no_main]

mod cli;
mod manage;
mod manage_network;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::Parser;
use launcher::config::{self, LoadError};
use launcher::diagnostic::{self, Problem, Problems, SourceFile, Style};
use launcher::plan::{Origin, Plan};
use launcher::preflight;
use launcher::runtime::{self, RunError, StepFailed};

use cli::{Cli, Command, Format};

/// Exit statuses of check and plan.
const EXIT_INVALID: u8 = 1;
const EXIT_USAGE: u8 = 2;

/// The process entry point, without Rust's runtime start-up: every container start execs the
/// launcher, and that start-up (about 0.2 ms here) reads /proc/self/maps to guard the main
/// thread's stack and installs signal handlers, which a short-lived launcher does not need.
/// Arguments still come from glibc through `std::env::args`; `process::exit` flushes stdout.
/// As for any Unix tool, a write to a closed pipe ends it with SIGPIPE.
#[unsafe(no_mangle)]
extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    std::process::exit(i32::from(run().0))
}

/// An exit status (std's `ExitCode` has no stable way to read its value back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitCode(u8);

impl ExitCode {
    pub const SUCCESS: ExitCode = ExitCode(0);
}

impl From<u8> for ExitCode {
    fn from(code: u8) -> Self {
        ExitCode(code)
    }
}

fn run() -> ExitCode {
    let cli = Cli::parse();
    let store = || manage::store(cli.root.clone());
    match cli.command {
        Command::Check {
            file,
            format,
            strict,
        } => check(&file, format, strict),
        Command::Plan { file, format } => plan(&file, format),
        Command::Up {
            file,
            dry_run: true,
            ..
        } => plan(&file, Format::Text),
        Command::Up {
            file,
            args,
            detach: true,
            ..
        } => manage::up_detached(&file, args, &store()),
        Command::Up { file, args, .. } => up(&file, args, &store()),
        Command::Ps { all, format } => manage::ps(&store(), all, format),
        Command::Stop { timeout, names } => manage::stop(&store(), &names, timeout),
        Command::Kill { name, signal } => manage::kill(&store(), &name, &signal),
        Command::Rm { force, names } => manage::rm(&store(), &names, force),
        Command::Logs { follow, name } => manage::logs(&store(), &name, follow),
        Command::Inspect { name } => manage::inspect(&store(), &name),
        Command::Exec { tty, name, command } => manage::exec(&store(), &name, &command, tty),
        Command::Wait { name } => manage::wait(&store(), &name),
        Command::Network { command } => manage_network::run(&store(), command),
        Command::Schema => {
            print!("{}", launcher::schema::container_schema_text());
            ExitCode::SUCCESS
        }
    }
}

fn style() -> Style {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let width = terminal_width().unwrap_or(100);
    Style { color, width }
}

fn terminal_width() -> Option<usize> {
    std::env::var("COLUMNS").ok()?.parse().ok()
}

/// Why a file could not become a checked plan.
enum Failure {
    /// The file could not be read: a usage problem (wrong path).
    Read(String),
    /// The file, or the host facts it relies on, have problems.
    Invalid(Problems),
}

/// load → plan → preflight, the pipeline shared by check, plan and up.
fn checked_plan(file: &Path, args: Vec<String>) -> Result<(Plan, config::Loaded), Failure> {
    let loaded = config::load(file).map_err(|error| match error {
        LoadError::Read { path, source } => Failure::Read(format!(
            "error: cannot read {}: {source}\n  help: pass the path of a Container.toml, e.g. `launcher check examples/hello/Container.toml`",
            path.display()
        )),
        LoadError::Invalid(problems) => Failure::Invalid(problems),
    })?;
    let base_dir = base_dir(file);
    let mut plan = config::plan(&loaded, &base_dir).map_err(Failure::Invalid)?;
    if !args.is_empty()
        && let Some(exec) = plan.exec_mut()
    {
        exec.args = args;
    }
    preflight::check(&mut plan, &loaded.source, preflight::Caller::current())
        .map_err(Failure::Invalid)?;
    Ok((plan, loaded))
}

/// The absolute folder of the file: relative paths in it start there.
fn base_dir(file: &Path) -> PathBuf {
    let parent = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let absolute = std::path::absolute(parent).unwrap_or_else(|_| parent.to_path_buf());
    // Drop `.` parts so the default name is the folder's own.
    absolute.components().collect()
}

fn report_failure(failure: &Failure, format: Format) -> u8 {
    match failure {
        Failure::Read(message) => {
            eprintln!("{message}");
            EXIT_USAGE
        }
        Failure::Invalid(problems) => {
            match format {
                Format::Json => println!("{:#}", problems.to_json()),
                Format::Text => eprint!("{}", diagnostic::render_problems(problems, style())),
            }
            EXIT_INVALID
        }
    }
}

fn check(file: &Path, format: Format, strict: bool) -> ExitCode {
    match checked_plan(file, Vec::new()) {
        Ok((plan, loaded)) => {
            // The security lint reads the file as written, next to the plan made from it.
            let mut warnings = Problems::new(loaded.source.clone());
            warnings.list = config::lint(&loaded, &plan);
            if strict {
                for problem in &mut warnings.list {
                    problem.level = diagnostic::Level::Error;
                }
            }
            match format {
                Format::Json => println!("{:#}", warnings.to_json()),
                Format::Text if warnings.list.is_empty() => {
                    println!("{}: valid, {} steps", file.display(), plan.steps.len())
                }
                Format::Text => eprint!("{}", diagnostic::render_problems(&warnings, style())),
            }
            if warnings.errors() > 0 {
                ExitCode::from(EXIT_INVALID)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(failure) => ExitCode::from(report_failure(&failure, format)),
    }
}

fn plan(file: &Path, format: Format) -> ExitCode {
    match checked_plan(file, Vec::new()) {
        Ok((plan, _)) => {
            // One buffer, written at once: stdout is line-buffered, and a plan of a thousand
            // mounts is tens of thousands of lines.
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let written = match format {
                Format::Json => writeln!(out, "{:#}", plan.to_json()),
                Format::Text => write!(out, "{plan}"),
            };
            if written.and_then(|()| out.flush()).is_err() {
                return ExitCode::from(EXIT_USAGE);
            }
            ExitCode::SUCCESS
        }
        Err(failure) => ExitCode::from(report_failure(&failure, format)),
    }
}

/// Exit statuses of `up` for its own failures (Docker's).
const EXIT_LAUNCHER_FAILED: u8 = 125;
const EXIT_CANNOT_RUN: u8 = 126;
const EXIT_NOT_FOUND: u8 = 127;

/// Reports why `up` could not get a checked plan; returns the exit status.
fn up_failure_code(failure: &Failure) -> u8 {
    report_failure(failure, Format::Text);
    match failure {
        Failure::Invalid(problems)
            if problems
                .list
                .iter()
                .any(|p| p.code == preflight::COMMAND_NOT_FOUND) =>
        {
            EXIT_NOT_FOUND
        }
        Failure::Invalid(problems)
            if problems
                .list
                .iter()
                .any(|p| p.code == preflight::COMMAND_NOT_EXECUTABLE) =>
        {
            EXIT_CANNOT_RUN
        }
        _ => EXIT_LAUNCHER_FAILED,
    }
}

fn up(file: &Path, args: Vec<String>, store: &launcher::state::Store) -> ExitCode {
    let (plan, loaded) = match checked_plan(file, args) {
        Ok(checked) => checked,
        Err(failure) => return ExitCode::from(up_failure_code(&failure)),
    };
    if let Err(error) = launcher::lifecycle::refuse_running_name(&plan.name, store) {
        eprintln!("error: {error}\n  help: {}", error.hint());
        return ExitCode::from(error.exit_code());
    }
    match runtime::up(&plan) {
        Ok(ended) => {
            if let Some(why) = ended.explain() {
                eprintln!("launcher: container \"{}\" {why}", plan.name);
            }
            ExitCode::from(ended.exit_code())
        }
        Err(RunError::Step(failed)) => {
            eprint!("{}", render_step_failure(&plan, &loaded.source, &failed));
            ExitCode::from(failed.exit_code(&plan))
        }
        Err(error @ RunError::Monitor { .. }) => {
            eprintln!(
                "error: {error}\n  help: this is the launcher's own failure, not the container's; please report it"
            );
            ExitCode::from(EXIT_LAUNCHER_FAILED)
        }
    }
}

/// A failed step, shown at the line of Container.toml that asked for it.
fn render_step_failure(plan: &Plan, source: &SourceFile, failed: &StepFailed) -> String {
    let step = plan.steps.get(failed.step);
    let summary = step.map(|s| s.action.to_string()).unwrap_or_default();
    let message = format!(
        "step {} ({summary}) failed: {}: {}",
        failed.step + 1,
        failed.detail,
        runtime::errno_text(failed.errno)
    );
    match step.map(|s| &s.origin) {
        Some(Origin::File { key, span, .. }) => {
            let mut problems = Problems::new(source.clone());
            problems.list.push(
                Problem::error("runtime::step-failed", key.clone(), span.clone())
                    .message(message)
                    .label(format!("step {} asked for here", failed.step + 1))
                    .help(failed.hint(plan)),
            );
            diagnostic::render_problems(&problems, style())
        }
        _ => format!(
            "error[runtime::step-failed]: {}: {message}\n  (a default step, not from a line of the file)\n  help: {}\n",
            source.path.display(),
            failed.hint(plan)
        ),
    }
}
