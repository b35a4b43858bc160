//! `launcher ps` and `launcher inspect`: records joined with what their processes show.
//! A damaged record is reported on its own and never stops the others from listing.

use std::fmt::Write;
use std::time::Duration;

use serde_json::{Value, json};

use super::{LifecycleError, Observed, now_ms, observe};
use crate::plan::{Signal, human_duration};
use crate::state::{Record, State, StateError, Store};

/// One line of `ps`.
#[derive(Debug, Clone)]
pub struct Row {
    pub record: Record,
    pub observed: Observed,
}

/// Every container (`all`), or those not stopped; and the records that could not be read.
pub fn list(store: &Store, all: bool) -> Result<(Vec<Row>, Vec<StateError>), LifecycleError> {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for name in store.names()? {
        match store.read(&name) {
            // A foreground container whose launcher was killed: gone, and what it left too.
            Ok(Some(record)) if record.foreground && observe(&record).state == State::Stopped => {
                super::control::forget_foreground(store, &record)?;
            }
            Ok(Some(record)) => {
                let observed = observe(&record);
                if all || observed.state != State::Stopped {
                    rows.push(Row { record, observed });
                }
            }
            // A folder without a record: an `up -d` still taking the lock, or one that failed.
            Ok(None) => {}
            Err(error) => errors.push(error),
        }
    }
    Ok((rows, errors))
}

/// "up 3m", "exited 0, 2m ago", "killed by SIGKILL (137), 5s ago".
fn status(row: &Row, now: u64) -> String {
    let base = run_status(row, now);
    match row.record.restarts {
        0 => base,
        1 => format!("{base} (restarted 1 time)"),
        n => format!("{base} (restarted {n} times)"),
    }
}

/// The status of the latest run.
fn run_status(row: &Row, now: u64) -> String {
    let record = &row.record;
    let ago = |ms: Option<u64>| {
        ms.map(|t| format!(", {} ago", human_age(now.saturating_sub(t))))
            .unwrap_or_default()
    };
    match (row.observed.state, record.exit) {
        (State::Running, _) => {
            let up = record
                .started_ms
                .map(|t| format!("up {}", human_age(now.saturating_sub(t))))
                .unwrap_or_else(|| "up".into());
            if row.observed.lost {
                format!("{up} (monitor gone: its exit will not be recorded)")
            } else {
                up
            }
        }
        (State::Stopped, Some(exit)) => match exit.signal {
            // "killed: out of memory, limit 32 MiB", recorded by the monitor.
            Some(_)
                if record
                    .error
                    .as_deref()
                    .is_some_and(|e| e.contains("out of memory")) =>
            {
                format!(
                    "{} ({}){}",
                    record.error.as_deref().unwrap_or_default(),
                    exit.code,
                    ago(record.finished_ms)
                )
            }
            Some(signal) => {
                let name = Signal::from_number(signal).map_or(signal.to_string(), |s| s.name());
                let core = if exit.core_dumped {
                    ", core dumped"
                } else {
                    ""
                };
                format!(
                    "killed by {name} ({}{core}){}",
                    exit.code,
                    ago(record.finished_ms)
                )
            }
            None => format!("exited {}{}", exit.code, ago(record.finished_ms)),
        },
        (State::Stopped, None) if row.observed.lost => {
            "ended, exit status unknown (its monitor was killed)".into()
        }
        (State::Stopped, None) => "ended".into(),
        (state, _) => state.name().into(),
    }
}

/// 12s, 3m, 2h, 4d.
fn human_age(ms: u64) -> String {
    let secs = ms / 1000;
    let whole = match secs {
        0..60 => secs,
        60..3600 => secs / 60 * 60,
        3600..86400 => secs / 3600 * 3600,
        _ => return format!("{}d", secs / 86400),
    };
    human_duration(Duration::from_secs(whole))
}

/// The table `launcher ps` prints.
pub fn render_rows(rows: &[Row], whole: bool) -> String {
    let now = now_ms();
    let table: Vec<[String; 6]> = rows
        .iter()
        .map(|row| {
            [
                row.record.name.clone(),
                row.observed.state.name().into(),
                match row.observed.state {
                    State::Stopped => "-".into(),
                    _ => row.record.pid.map_or("-".into(), |p| p.to_string()),
                },
                status(row, now),
                match whole {
                    true => row.record.command.join(" "),
                    false => shortened(&row.record.command.join(" ")),
                },
                row.record.file.display().to_string(),
            ]
        })
        .collect();
    let header = ["NAME", "STATE", "PID", "STATUS", "COMMAND", "FILE"];
    let mut widths = header.map(str::len);
    for line in &table {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in std::iter::once(header.map(String::from)).chain(table) {
        let mut text = String::new();
        for (i, (cell, width)) in line.iter().zip(widths).enumerate() {
            if i + 1 == line.len() {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell:width$}  ");
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

/// A long command, cut to fit a table (`inspect` and `--format json` have it whole).
fn shortened(command: &str) -> String {
    const WIDTH: usize = 32;
    if command.chars().count() <= WIDTH {
        return command.to_string();
    }
    let cut: String = command.chars().take(WIDTH - 3).collect();
    format!("{cut}...")
}

/// `ps --format json`: one object per container.
pub fn rows_json(rows: &[Row]) -> Value {
    let now = now_ms();
    Value::Array(
        rows.iter()
            .map(|row| {
                let record = &row.record;
                let running = row.observed.state == State::Running;
                json!({
                    "name": record.name,
                    "state": row.observed.state.name(),
                    "pid": if running { record.pid } else { None },
                    "monitor_lost": row.observed.lost,
                    "status": status(row, now),
                    "uptime_seconds": record.started_ms.filter(|_| running).map(|t| now.saturating_sub(t) / 1000),
                    "exit_code": record.exit.map(|e| e.code),
                    "exit_signal": record.exit.and_then(|e| e.signal),
                    "core_dumped": record.exit.map(|e| e.core_dumped),
                    "restarts": record.restarts,
                    "created": rfc3339(record.created_ms),
                    "started": record.started_ms.map(rfc3339),
                    "finished": record.finished_ms.map(rfc3339),
                    "command": record.command,
                    "file": record.file,
                })
            })
            .collect(),
    )
}

/// `launcher inspect`: the record, the state its processes show, and its files.
pub fn inspect(store: &Store, name: &str) -> Result<Value, LifecycleError> {
    let Some(record) = store.read(name)? else {
        return Err(LifecycleError::NoSuchContainer {
            name: name.to_string(),
            root: store.root().to_path_buf(),
        });
    };
    let observed = observe(&record);
    let paths = store.paths(name);
    let running = observed.state == State::Running;
    let signal = Signal::from_number(record.stop.signal).unwrap_or(Signal::TERM);
    Ok(json!({
        "name": record.name,
        "id": record.id,
        "state": observed.state.name(),
        "recorded_state": record.state.name(),
        "monitor_lost": observed.lost,
        "pid": if running { record.pid } else { None },
        "recorded_pid": record.pid,
        "monitor_pid": record.monitor_pid,
        "pid_namespace": record.pid_namespace,
        "created": rfc3339(record.created_ms),
        "started": record.started_ms.map(rfc3339),
        "finished": record.finished_ms.map(rfc3339),
        "exit": record.exit.map(|e| json!({"code": e.code, "signal": e.signal, "core_dumped": e.core_dumped})),
        "error": record.error,
        "file": record.file,
        "command": record.command,
        "stop": {
            "signal": signal.name(),
            "timeout_seconds": record.stop.timeout_ms as f64 / 1000.0,
        },
        "exec": record.plan.exec_plan().to_json(),
        "paths": {
            "folder": paths.dir,
            "record": paths.record,
            "stdout_log": paths.stdout_log,
            "stderr_log": paths.stderr_log,
        },
        "plan": record.plan.to_json(),
    }))
}

/// `2025-01-31T12:34:56.789Z` from Unix milliseconds.
pub fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rest) = ((secs / 86400) as i64, secs % 86400);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339(1_735_689_599_000), "2024-12-31T23:59:59.000Z");
    }

    #[test]
    fn ages_are_short() {
        assert_eq!(human_age(12_400), "12s");
        assert_eq!(human_age(190_000), "3m");
        assert_eq!(human_age(7_300_000), "2h");
        assert_eq!(human_age(90_000_000), "1d");
    }
}
