//! The `launcher` binary: parses arguments, calls the library, renders errors and chooses the
//! exit code. Nothing else prints errors.

#![no_main]

mod cli;
mod manage;
mod manage_images;
mod manage_network;
mod manage_oci;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::Parser;
use launcher::config::{self, LoadError};
use launcher::diagnostic::{self, Problem, Problems, SourceFile, Style};
use launcher::image::resolve::LockUse;
use launcher::lifecycle::LifecycleError;
use launcher::plan::{Origin, Plan};
use launcher::preflight;
use launcher::runtime::{self, StepFailed};

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
    // As `launcher-oci` (or `launcher oci`): runc's command line.
    if let Some(code) = manage_oci::dispatch() {
        return code;
    }
    let cli = Cli::parse();
    let store = || manage::store(cli.root.clone());
    let images = manage_images::store(cli.store.clone());
    match cli.command {
        Command::Check {
            file,
            format,
            strict,
            locked,
        } => {
            let lock = if locked {
                LockUse::Require
            } else {
                LockUse::Read
            };
            check(
                &file,
                format,
                strict,
                &Pipeline::new(&images, lock, store()),
            )
        }
        Command::Plan { file, format } => plan(
            &file,
            format,
            &Pipeline::new(&images, LockUse::Read, store()),
        ),
        Command::Lock { file, update } => {
            let lock = if update {
                LockUse::Update
            } else {
                LockUse::Write
            };
            manage_images::lock(&file, &Pipeline::new(&images, lock, store()))
        }
        Command::Up {
            file,
            dry_run: true,
            ..
        } => plan(
            &file,
            Format::Text,
            &Pipeline::new(&images, LockUse::Read, store()),
        ),
        Command::Up {
            file,
            args,
            detach: true,
            name,
            env,
            ..
        } => manage::up_detached(
            &file,
            Overrides { args, name, env },
            &store(),
            &Pipeline::new(&images, LockUse::Write, store()),
        ),
        Command::Up {
            file,
            args,
            debug,
            name,
            env,
            ..
        } => {
            let pipeline = Pipeline::new(&images, LockUse::Write, store());
            up(
                &file,
                Overrides { args, name, env },
                debug,
                &store(),
                &pipeline,
            )
        }
        Command::Ps {
            all,
            format,
            no_trunc,
        } => manage::ps(&store(), all, format, no_trunc),
        Command::Stop { timeout, names } => manage::stop(&store(), &names, timeout),
        Command::Start { names } => manage::start(&store(), &names, None),
        Command::Restart { timeout, names } => manage::start(&store(), &names, Some(timeout)),
        Command::Kill { name, signal } => manage::kill(&store(), &name, &signal),
        Command::Rm { force, names } => manage::rm(&store(), &names, force),
        Command::Logs {
            follow,
            tail,
            since,
            timestamps,
            name,
        } => manage::logs(&store(), &name, follow, tail, (since, timestamps)),
        Command::Inspect { name } => manage::inspect(&store(), &name),
        Command::Exec {
            tty,
            debug,
            name,
            command,
            user,
            env,
            workdir,
        } => {
            let changes = launcher::lifecycle::ExecChanges {
                user,
                env: match parse_env(&env) {
                    Ok(env) => env,
                    Err(error) => return fail(error, Context::RUN),
                },
                workdir,
            };
            manage::exec(&store(), &name, &command, &changes, tty, debug)
        }
        Command::Wait { name } => manage::wait(&store(), &name),
        Command::Pull {
            reference,
            platform,
            insecure_registries,
        } => manage_images::pull(
            &images,
            &reference,
            platform.as_deref(),
            insecure_registries,
        ),
        Command::Images { format } => manage_images::images(&images, format),
        Command::Rmi { references } => manage_images::rmi(&images, &references),
        Command::Prune => manage_images::prune(&images, &store()),
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

/// Everything a command can fail with. [`fail`] renders each of them, the one place that
/// prints errors and picks their exit status.
enum Error {
    /// The file could not be read: a usage problem (wrong path).
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file, or the host facts it relies on, have problems.
    Invalid(Problems),
    /// A step of a plan failed at run time; shown at the line of the file that asked for it.
    Step {
        plan: Box<Plan>,
        source: Option<SourceFile>,
        failed: Box<StepFailed>,
    },
    /// A lifecycle command failed.
    Lifecycle(LifecycleError),
    /// An image command failed.
    Image(launcher::image::ImageError),
    /// A wrong argument on the command line.
    Usage { message: String, hint: String },
}

/// Exit statuses of `up` for its own failures (Docker's).
const EXIT_LAUNCHER_FAILED: u8 = 125;
const EXIT_CANNOT_RUN: u8 = 126;
const EXIT_NOT_FOUND: u8 = 127;

/// Which command failed: `up` and `exec` exit as Docker does (125, 126, 127), `check` and
/// `plan` with 1 for an invalid file; `--format json` prints problems as JSON.
#[derive(Clone, Copy)]
struct Context {
    format: Format,
    runs: bool,
}

impl Context {
    const CHECK: Context = Context {
        format: Format::Text,
        runs: false,
    };
    const RUN: Context = Context {
        format: Format::Text,
        runs: true,
    };
}

/// Prints `error` and returns the exit status it calls for.
fn fail(error: Error, context: Context) -> ExitCode {
    let code = match &error {
        Error::Read { .. } | Error::Usage { .. } if context.runs => EXIT_LAUNCHER_FAILED,
        Error::Read { .. } | Error::Usage { .. } => EXIT_USAGE,
        Error::Invalid(problems) if context.runs => {
            let has = |code| problems.list.iter().any(|p| p.code == code);
            if has(preflight::COMMAND_NOT_FOUND) {
                EXIT_NOT_FOUND
            } else if has(preflight::COMMAND_NOT_EXECUTABLE) {
                EXIT_CANNOT_RUN
            } else {
                EXIT_LAUNCHER_FAILED
            }
        }
        Error::Invalid(_) => EXIT_INVALID,
        Error::Step { plan, failed, .. } => failed.exit_code(plan),
        Error::Lifecycle(error) => error.exit_code(),
        Error::Image(_) => EXIT_INVALID,
    };
    let plain =
        |message: &dyn std::fmt::Display, hint: &str| eprintln!("error: {message}\n  help: {hint}");
    match error {
        Error::Read { path, source } => plain(
            &format_args!("cannot read {}: {source}", path.display()),
            "pass the path of a Container.toml, e.g. `launcher check examples/hello/Container.toml`",
        ),
        Error::Invalid(problems) => match context.format {
            Format::Json => println!("{:#}", problems.to_json()),
            Format::Text => eprint!("{}", diagnostic::render_problems(&problems, style())),
        },
        Error::Step {
            plan,
            source,
            failed,
        } => eprint!(
            "{}",
            render_step_failure(&plan, source.as_ref(), &failed, "")
        ),
        Error::Lifecycle(LifecycleError::Exec { name, plan, failed }) => {
            let context = format!("exec in container \"{name}\": ");
            eprint!("{}", render_step_failure(&plan, None, &failed, &context))
        }
        Error::Lifecycle(error) => plain(&error, &error.hint()),
        Error::Image(error) => plain(&error, &error.hint()),
        Error::Usage { message, hint } => plain(&message, &hint),
    }
    ExitCode::from(code)
}

/// A failed step, shown at the line of its file that asked for it (when there is one).
fn render_step_failure(
    plan: &Plan,
    source: Option<&SourceFile>,
    failed: &StepFailed,
    context: &str,
) -> String {
    let step = plan.steps.get(failed.step);
    let summary = step.map(|s| s.action.to_string()).unwrap_or_default();
    let message = format!(
        "{context}step {} ({summary}) failed: {}: {}",
        failed.step + 1,
        failed.detail,
        runtime::errno_text(failed.errno)
    );
    match (step.map(|s| &s.origin), source) {
        (Some(Origin::File { key, span, .. }), Some(source)) => {
            let mut problems = Problems::new(source.clone());
            problems.list.push(
                Problem::error("runtime::step-failed", key.clone(), span.clone())
                    .message(message)
                    .label(format!("step {} asked for here", failed.step + 1))
                    .help(failed.hint(plan)),
            );
            diagnostic::render_problems(&problems, style())
        }
        (origin, _) => {
            let whence = match origin {
                Some(Origin::CommandLine { what }) => format!("given on the command line ({what})"),
                Some(Origin::File { key, line, .. }) => format!("line {line} of the file: {key}"),
                _ => "a default step, not from a line of the file".into(),
            };
            format!(
                "error[runtime::step-failed]: {}: {message}\n  ({whence})\n  help: {}\n",
                plan.file.display(),
                failed.hint(plan)
            )
        }
    }
}

/// What the pipeline needs besides the file: the image store, and how to use Container.lock.
pub struct Pipeline<'a> {
    images: &'a launcher::image::Store,
    lock: LockUse,
    /// The state folder: where `remap` containers hold their share of the launcher's range,
    /// and preflight reads the networks' leases.
    state: launcher::state::Store,
}

impl<'a> Pipeline<'a> {
    fn new(
        images: &'a launcher::image::Store,
        lock: LockUse,
        state: launcher::state::Store,
    ) -> Self {
        Pipeline {
            images,
            lock,
            state,
        }
    }
}

/// What the command line of `up` changes in the file's container.
#[derive(Debug, Default)]
pub struct Overrides {
    /// Replace the file's command (`up FILE -- ARGS`; with an image, its Cmd).
    pub args: Vec<String>,
    /// `--name`: replaces the file's `name`.
    pub name: Option<String>,
    /// `-e K=V`, over the file's `env`.
    pub env: Vec<String>,
}

/// `-e K=V` (or `-e K`, with K's value here) as pairs.
fn parse_env(given: &[String]) -> Result<Vec<(String, String)>, Error> {
    given
        .iter()
        .map(|item| {
            let (key, value) = match item.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (item.clone(), std::env::var(item).unwrap_or_default()),
            };
            if key.is_empty() || key.contains('\0') || value.contains('\0') {
                return Err(Error::Usage {
                    message: format!("-e {item:?}: not a variable"),
                    hint: "write -e NAME=VALUE (a name without '=' or NUL)".into(),
                });
            }
            Ok((key, value))
        })
        .collect()
}

/// load → spec → image → preflight → plan, the pipeline shared by check, plan and up, with
/// the command line's `overrides`.
fn checked_plan(
    file: &Path,
    overrides: Overrides,
    pipeline: &Pipeline,
) -> Result<(Plan, config::Loaded), Error> {
    let Overrides { args, name, env } = overrides;
    let env = parse_env(&env)?;
    let loaded = config::load(file).map_err(|error| match error {
        LoadError::Read { path, source } => Error::Read { path, source },
        LoadError::Invalid(problems) => Error::Invalid(problems),
    })?;
    let mut spec = config::spec(&loaded, &config::base_dir(file)).map_err(Error::Invalid)?;
    if let Some(name) = name {
        config::check_name(&name).map_err(|why| Error::Usage {
            message: format!("--name \"{name}\" is not a container name: {why}"),
            hint: "letters, digits, '.', '_' and '-', starting with a letter or digit".into(),
        })?;
        spec.name = name;
    }
    for (key, value) in env {
        spec.process.env.retain(|(k, _)| *k != key);
        spec.process.env.push((key.clone(), value));
        spec.process.env_set.push(key);
    }
    spec.process.env.sort();
    if !args.is_empty() {
        spec.process.command = launcher::plan::At::new(
            args,
            Origin::CommandLine {
                what: "launcher up FILE -- COMMAND".into(),
            },
        );
    }
    let stage = launcher::image::resolve::Stage {
        store: pipeline.images,
        file,
        lock: pipeline.lock,
        progress: std::io::stderr().is_terminal(),
    };
    let notes = launcher::image::resolve::resolve(&mut spec, &stage)
        .map_err(|found| Error::Invalid(config::host_problems(&loaded.source, found)))?;
    for note in notes {
        eprintln!("launcher: {note}");
    }
    let mut host = preflight::Host {
        state_root: pipeline.state.root().to_path_buf(),
        ..preflight::Host::current()
    };
    if spec.namespaces.value.user == launcher::plan::UserNamespace::Remap && host.caller.uid == 0 {
        // The share the container holds, or the first free one; `up` takes it once it has
        // claimed the name.
        host.remap = Some(
            launcher::state::ids::Pool::host()
                .and_then(|pool| pipeline.state.peek_ids(&spec.name, &pool)),
        );
    }
    let facts = preflight::check(&spec, &host)
        .map_err(|found| Error::Invalid(config::host_problems(&loaded.source, found)))?;
    Ok((Plan::build(spec, facts), loaded))
}

fn check(file: &Path, format: Format, strict: bool, pipeline: &Pipeline) -> ExitCode {
    let (plan, loaded) = match checked_plan(file, Overrides::default(), pipeline) {
        Ok(checked) => checked,
        Err(error) => {
            return fail(
                error,
                Context {
                    format,
                    runs: false,
                },
            );
        }
    };
    // The security lint reads the file as written, next to the plan made from it.
    let mut warnings = Problems::new(loaded.source.clone());
    warnings.list = config::lint(&loaded, &plan);
    if strict {
        for problem in &mut warnings.list {
            problem.level = diagnostic::Level::Error;
        }
        warnings.list.extend(config::lint_host_root(&loaded, &plan));
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

fn plan(file: &Path, format: Format, pipeline: &Pipeline) -> ExitCode {
    let (plan, _) = match checked_plan(file, Overrides::default(), pipeline) {
        Ok(checked) => checked,
        Err(error) => {
            return fail(
                error,
                Context {
                    format,
                    runs: false,
                },
            );
        }
    };
    // One buffer, written at once: stdout is line-buffered, and a plan of a thousand mounts
    // is tens of thousands of lines.
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

/// Prints each step as it completes (`--debug`), with the time since the one before.
fn step_printer(plan: &Plan, debug: bool) -> impl FnMut(usize, u64) + '_ {
    let mut last: Option<u64> = None;
    move |index, at| {
        if !debug {
            return;
        }
        let since = last.map_or(0.0, |l| at.saturating_sub(l) as f64 / 1e6);
        last = Some(at);
        if let Some(step) = plan.steps.get(index) {
            eprintln!(
                "launcher: step {} [{}] {} (+{since:.3} ms)",
                index + 1,
                step.side.name(),
                step.action
            );
        }
    }
}

fn up(
    file: &Path,
    overrides: Overrides,
    debug: bool,
    store: &launcher::state::Store,
    pipeline: &Pipeline,
) -> ExitCode {
    let (plan, loaded) = match checked_plan(file, overrides, pipeline) {
        Ok(checked) => checked,
        Err(error) => return fail(error, Context::RUN),
    };
    let ran = launcher::lifecycle::up_foreground(&plan, store, &mut step_printer(&plan, debug));
    match ran {
        Ok(finished) => finish(&plan, Some(&loaded.source), finished),
        Err(LifecycleError::Step(failed)) => fail(
            Error::Step {
                plan: Box::new(plan),
                source: Some(loaded.source),
                failed: Box::new(failed),
            },
            Context::RUN,
        ),
        Err(error) => fail(Error::Lifecycle(error), Context::RUN),
    }
}

/// How a container (or an exec'd process) that ran ended: the command's status, with a line
/// when that needs explaining, and a cleanup step that failed after it, shown but not
/// hiding the command's status.
fn finish(plan: &Plan, source: Option<&SourceFile>, finished: runtime::Finished) -> ExitCode {
    if let Some(why) = finished.ended.explain() {
        eprintln!("launcher: container \"{}\" {why}", plan.name);
    }
    if let Some(failed) = &finished.cleanup {
        eprint!("{}", render_step_failure(plan, source, failed, ""));
    }
    ExitCode::from(finished.ended.exit_code())
}
