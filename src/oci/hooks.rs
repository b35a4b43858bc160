//! The runtime spec's hooks: programs the engine names, run with the container's state on
//! their stdin, from the runtime's namespaces (prestart and createRuntime once the container's
//! process waits at its FIFO, poststart after start, poststop at delete).

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::OciError;
use super::config::Hook;
use super::state::State;
use crate::sys;

pub fn run_all(hooks: &[Hook], state: &State, phase: &str) -> Result<(), OciError> {
    for (i, hook) in hooks.iter().enumerate() {
        run(hook, state).map_err(|why| OciError::new(failure(phase, i, hook, &why)))?;
    }
    Ok(())
}

/// Runs every hook of a phase whose failures the runtime spec makes warnings (poststart,
/// poststop: "the runtime MUST log a warning, but the remaining hooks and lifecycle continue
/// as if the hook had succeeded"), and returns a warning for each that failed.
pub fn run_each(hooks: &[Hook], state: &State, phase: &str) -> Vec<String> {
    hooks
        .iter()
        .enumerate()
        .filter_map(|(i, hook)| {
            run(hook, state)
                .err()
                .map(|why| failure(phase, i, hook, &why))
        })
        .collect()
}

fn failure(phase: &str, i: usize, hook: &Hook, why: &str) -> String {
    format!("hooks.{phase}[{i}] ({}): {why}", hook.path)
}

fn run(hook: &Hook, state: &State) -> Result<(), String> {
    let mut command = Command::new(&hook.path);
    if let Some((first, rest)) = hook.args.split_first() {
        command.arg0(first).args(rest);
    }
    command.env_clear();
    for entry in &hook.env {
        if let Some((k, v)) = entry.split_once('=') {
            command.env(k, v);
        }
    }
    let mut child = command
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run it: {e}"))?;
    let text = serde_json::to_vec(state).unwrap_or_default();
    if let Some(mut stdin) = child.stdin.take() {
        // A hook need not read its stdin: one that exits first closes the pipe, and the write
        // must fail with EPIPE, not end the runtime with SIGPIPE (its default here).
        let _ = sys::with_signal_ignored(libc::SIGPIPE, || stdin.write_all(&text));
    }
    let deadline = hook
        .timeout
        .map(|t| Instant::now() + Duration::from_secs(t));
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("it failed: {status}")),
            Ok(None) => {}
            Err(e) => return Err(format!("cannot wait for it: {e}")),
        }
        if deadline.is_some_and(|d| Instant::now() > d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "it ran past its timeout of {} s",
                hook.timeout.unwrap_or(0)
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
