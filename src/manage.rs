//! The binary's lifecycle commands (`up -d`, `ps`, `stop`, `kill`, `rm`, `logs`, `inspect`,
//! `exec`, `wait`): each calls the library, prints what it returns, and picks the exit code.
//! Part of main.rs, in a file of its own for length.

use std::path::{Path, PathBuf};

use launcher::diagnostic::{Problem, Problems};
use launcher::lifecycle::{self, LifecycleError, StopOutcome};
use launcher::plan::{Origin, Signal};
use launcher::state::Store;

use super::cli::Format;
use super::{Context, Error, ExitCode, checked_plan, fail, finish, step_printer};

/// Exit status of a lifecycle command that failed (Docker's `docker stop` and friends give 1).
const EXIT_FAILED: u8 = 1;

/// `--root`, else `$LAUNCHER_STATE_DIR`, else the default state folder.
pub fn store(root: Option<PathBuf>) -> Store {
    let root = root
        .or_else(|| std::env::var_os("LAUNCHER_STATE_DIR").map(PathBuf::from))
        .filter(|root| !root.as_os_str().is_empty());
    Store::new(root.unwrap_or_else(Store::default_root))
}

fn report(error: LifecycleError) -> ExitCode {
    fail(Error::Lifecycle(error), Context::CHECK)
}

/// Names on the command line become folder names: only valid container names.
fn valid(names: &[String]) -> Result<(), ExitCode> {
    for name in names {
        if let Err(why) = launcher::config::check_name(name) {
            let error = Error::Usage {
                message: format!("\"{name}\" is not a container name: {why}"),
                hint: "`launcher ps -a` lists the containers".into(),
            };
            return Err(fail(error, Context::CHECK));
        }
    }
    Ok(())
}

pub fn up_detached(
    file: &Path,
    overrides: super::Overrides,
    store: &Store,
    pipeline: &super::Pipeline,
) -> ExitCode {
    let (plan, loaded) = match checked_plan(file, overrides, pipeline) {
        Ok(checked) => checked,
        Err(error) => return fail(error, Context::RUN),
    };
    if let Some(origin) = lifecycle::terminal_refused(&plan) {
        let message = "a detached container has no terminal";
        let help = "set `terminal = \"auto\"` or `false` to run it with `up -d`; `launcher exec -t NAME -- /bin/sh` gives a terminal inside it";
        let error = match origin {
            Origin::File { key, span, .. } => {
                let mut problems = Problems::new(loaded.source);
                problems.list.push(
                    Problem::error("plan::terminal-detached", key, span)
                        .message(message)
                        .label("`up -d` cannot give a terminal")
                        .help(help),
                );
                Error::Invalid(problems)
            }
            Origin::Default | Origin::CommandLine { .. } | Origin::Image { .. } => Error::Usage {
                message: message.into(),
                hint: help.into(),
            },
        };
        return fail(error, Context::RUN);
    }
    match lifecycle::up_detached(&plan, store) {
        Ok(started) => {
            println!("{}", started.name);
            ExitCode::SUCCESS
        }
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

pub fn ps(store: &Store, all: bool, format: Format, no_trunc: bool) -> ExitCode {
    let (rows, errors) = match lifecycle::list(store, all) {
        Ok(listed) => listed,
        Err(error) => return report(error),
    };
    match format {
        Format::Text => print!("{}", lifecycle::render_rows(&rows, no_trunc)),
        Format::Json => println!("{:#}", lifecycle::rows_json(&rows)),
    }
    let failed = !errors.is_empty();
    for error in errors {
        report(error.into());
    }
    match failed {
        false => ExitCode::SUCCESS,
        true => ExitCode::from(EXIT_FAILED),
    }
}

/// Runs `each` for every name; a failure does not stop the others.
fn for_each(
    names: &[String],
    mut each: impl FnMut(&str) -> Result<(), LifecycleError>,
) -> ExitCode {
    if let Err(code) = valid(names) {
        return code;
    }
    let mut code = ExitCode::SUCCESS;
    for name in names {
        if let Err(error) = each(name) {
            code = report(error);
        }
    }
    code
}

pub fn stop(store: &Store, names: &[String], timeout: Option<std::time::Duration>) -> ExitCode {
    for_each(names, |name| {
        match lifecycle::stop(store, name, timeout)? {
            StopOutcome::AlreadyStopped => {
                eprintln!("launcher: container \"{name}\" was not running")
            }
            StopOutcome::Stopped { killed: true, .. } => {
                eprintln!("launcher: container \"{name}\" did not stop in time: killed (SIGKILL)")
            }
            StopOutcome::Stopped { .. } => {}
        }
        println!("{name}");
        Ok(())
    })
}

/// `start` (`restart: None`), or `restart` with its stop timeout: stops a running container
/// first, then starts it again.
pub fn start(
    store: &Store,
    names: &[String],
    restart: Option<Option<std::time::Duration>>,
) -> ExitCode {
    for_each(names, |name| {
        if let Some(timeout) = restart {
            lifecycle::stop(store, name, timeout)?;
        }
        let started = lifecycle::start_again(store, name)?;
        println!("{}", started.name);
        Ok(())
    })
}

pub fn kill(store: &Store, name: &str, signal: &str) -> ExitCode {
    let signal = match Signal::parse(signal) {
        Ok(signal) => signal,
        Err(why) => {
            let error = Error::Usage {
                message: why,
                hint: "`kill -l` lists the signals".into(),
            };
            return fail(error, Context::CHECK);
        }
    };
    for_each(&[name.to_string()], |name| {
        lifecycle::kill(store, name, signal)?;
        println!("{name}");
        Ok(())
    })
}

pub fn rm(store: &Store, names: &[String], force: bool) -> ExitCode {
    for_each(names, |name| {
        lifecycle::remove(store, name, force)?;
        println!("{name}");
        Ok(())
    })
}

pub fn logs(
    store: &Store,
    name: &str,
    follow: bool,
    tail: Option<usize>,
    (since, timestamps): (Option<String>, bool),
) -> ExitCode {
    if since.is_some() || timestamps {
        let since_ms = match since.as_deref().map(launcher::plan::parse_duration) {
            None => 0,
            Some(Ok(ago)) => lifecycle::now_ms().saturating_sub(ago.as_millis() as u64),
            Some(Err(why)) => {
                let error = Error::Usage {
                    message: format!("--since: {why}"),
                    hint: "e.g. --since 10m, 1h30m or 90s".into(),
                };
                return fail(error, Context::CHECK);
            }
        };
        return for_each(&[name.to_string()], |name| {
            let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
            lifecycle::logs_timed(
                store,
                name,
                (since_ms, tail, timestamps),
                &mut out,
                &mut err,
            )
        });
    }
    for_each(&[name.to_string()], |name| {
        let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
        lifecycle::logs(store, name, follow, tail, &mut out, &mut err)
    })
}

pub fn inspect(store: &Store, name: &str) -> ExitCode {
    for_each(&[name.to_string()], |name| {
        println!("{:#}", lifecycle::inspect(store, name)?);
        Ok(())
    })
}

pub fn exec(
    store: &Store,
    name: &str,
    command: &[String],
    changes: &lifecycle::ExecChanges,
    tty: bool,
    debug: bool,
) -> ExitCode {
    if let Err(code) = valid(&[name.to_string()]) {
        return code;
    }
    let job = match lifecycle::exec(store, name, command, changes, tty) {
        Ok(job) => job,
        Err(error) => return fail(Error::Lifecycle(error), Context::RUN),
    };
    match job.run(store, &mut step_printer(&job.plan, debug)) {
        Ok(finished) => finish(&job.plan, None, finished),
        Err(error) => fail(Error::Lifecycle(error), Context::RUN),
    }
}

pub fn wait(store: &Store, name: &str) -> ExitCode {
    for_each(&[name.to_string()], |name| {
        let exit = lifecycle::wait(store, name)?;
        println!("{}", exit.code);
        Ok(())
    })
}
