//! `[stop]`: how `launcher stop` ends the container. The serde type and its validation into a
//! [`StopPolicy`] of the plan.

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use crate::diagnostic::{Problem, SourceFile};
use crate::plan::{Origin, Signal, StopPolicy, parse_duration};

/// `[stop]`: the signal `launcher stop` sends, and how long it waits before SIGKILL.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StopTable {
    /// The signal `launcher stop` sends first, to the container's first process (init forwards
    /// it to the command): a name (`"SIGTERM"`, `"TERM"`, `"SIGQUIT"`, `"SIGRTMIN+3"`) or a
    /// number from 1 to 64. Default: `"SIGTERM"`.
    #[schemars(with = "Option<SignalValue>")]
    pub signal: Option<Spanned<SignalValue>>,

    /// How long `launcher stop` waits for the container to end after the signal, before it
    /// sends SIGKILL to every process of it: seconds, or a string with units (`"10s"`,
    /// `"500ms"`, `"1m30s"`). `launcher stop -t SECONDS` overrides it. Default: `"10s"`.
    #[schemars(with = "Option<Timeout>")]
    pub timeout: Option<Spanned<Timeout>>,
}

/// A signal: a name or a number.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SignalValue {
    /// A signal number, 1 to 64.
    Number(i64),
    /// A name, with or without `SIG`: `"SIGTERM"`, `"TERM"`, `"SIGRTMIN+3"`.
    Name(String),
}

/// A duration: seconds, or a string with units.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Timeout {
    /// Whole seconds.
    Seconds(u64),
    /// A number with a unit: ms, s, m or h, or several (`"1m30s"`).
    Text(String),
}

/// The stop policy the file asks for; problems are added to `problems`.
pub fn policy(table: &StopTable, source: &SourceFile, problems: &mut Vec<Problem>) -> StopPolicy {
    let mut policy = StopPolicy::standard();
    let origin = |key: &str, span: std::ops::Range<usize>| {
        let (line, column) = source.line_column(span.start);
        Origin::File {
            key: key.to_string(),
            span,
            line,
            column,
        }
    };
    if let Some(timeout) = &table.timeout {
        let parsed = match timeout.get_ref() {
            Timeout::Seconds(seconds) => Ok(std::time::Duration::from_secs(*seconds)),
            Timeout::Text(text) => parse_duration(text),
        };
        match parsed {
            Ok(duration) => policy.timeout = duration,
            Err(why) => problems.push(
                Problem::error("plan::invalid-timeout", "stop.timeout", timeout.span())
                    .message("invalid stop timeout")
                    .label(why)
                    .help("e.g. timeout = \"10s\", \"500ms\" or \"1m30s\", or a number of seconds"),
            ),
        }
        policy.origin = origin("stop.timeout", timeout.span());
    }
    if let Some(signal) = &table.signal {
        let parsed = match signal.get_ref() {
            SignalValue::Number(n) => i32::try_from(*n)
                .map_err(|_| format!("{n} is not a signal number; they go from 1 to 64"))
                .and_then(Signal::from_number),
            SignalValue::Name(name) => Signal::parse(name),
        };
        match parsed {
            Ok(parsed) => policy.signal = parsed,
            Err(why) => problems.push(
                Problem::error("plan::invalid-signal", "stop.signal", signal.span())
                    .message("invalid stop signal")
                    .label(why)
                    .help("e.g. signal = \"SIGTERM\", \"SIGQUIT\" or \"SIGINT\" (`kill -l` lists them)"),
            ),
        }
        policy.origin = origin("stop.signal", signal.span());
    }
    policy
}
