//! `[restart]`: whether a detached container's monitor runs the command again when it ends.
//! The serde type and its validation into a [`RestartPolicy`] of the plan.

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use super::stop::Timeout;
use crate::diagnostic::{Problem, SourceFile};
use crate::plan::{Origin, RestartPolicy, RestartWhen, parse_duration};

/// `[restart]`: run the command again when it ends (with `launcher up -d`).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestartTable {
    /// `"no"`: never; `"on-failure"`: when it ends with a status other than 0 or by a
    /// signal; `"always"`: whenever it ends, unless `launcher stop` or `rm` ended it.
    /// Default: `"no"`.
    #[schemars(with = "Option<String>")]
    pub policy: Option<Spanned<String>>,

    /// At most this many restarts (then it stays stopped). Default: no limit.
    #[schemars(with = "Option<u32>")]
    pub max: Option<Spanned<i64>>,

    /// The wait before the first restart, doubled before each next one, at most a minute:
    /// seconds, or a string with units (`"100ms"`, `"2s"`). Default: `"100ms"`.
    #[schemars(with = "Option<Timeout>")]
    pub backoff: Option<Spanned<Timeout>>,
}

/// The restart policy the file asks for; problems are added to `problems`.
pub fn policy(
    table: &RestartTable,
    source: &SourceFile,
    problems: &mut Vec<Problem>,
) -> RestartPolicy {
    let mut policy = RestartPolicy::default();
    if let Some(when) = &table.policy {
        policy.when = match when.get_ref().as_str() {
            "no" => RestartWhen::No,
            "on-failure" => RestartWhen::OnFailure,
            "always" => RestartWhen::Always,
            other => {
                problems.push(
                    Problem::error("plan::invalid-restart", "restart.policy", when.span())
                        .message(format!("unknown restart policy {other:?}"))
                        .label("not a policy")
                        .help("policy = \"no\", \"on-failure\" or \"always\""),
                );
                RestartWhen::No
            }
        };
        let (line, column) = source.line_column(when.span().start);
        policy.origin = Origin::File {
            key: "restart.policy".into(),
            span: when.span(),
            line,
            column,
        };
    }
    if let Some(max) = &table.max {
        match u32::try_from(*max.get_ref()) {
            Ok(max) => policy.max = Some(max),
            Err(_) => problems.push(
                Problem::error("plan::invalid-restart", "restart.max", max.span())
                    .message("the restart maximum is not a count")
                    .label("0 or more")
                    .help("e.g. max = 5"),
            ),
        }
    }
    if let Some(backoff) = &table.backoff {
        let parsed = match backoff.get_ref() {
            Timeout::Seconds(seconds) => Ok(std::time::Duration::from_secs(*seconds)),
            Timeout::Text(text) => parse_duration(text),
        };
        match parsed {
            Ok(wait) => policy.backoff_ms = wait.as_millis() as u64,
            Err(why) => problems.push(
                Problem::error("plan::invalid-restart", "restart.backoff", backoff.span())
                    .message("invalid restart back-off")
                    .label(why)
                    .help("e.g. backoff = \"100ms\" or \"2s\", or a number of seconds"),
            ),
        }
    }
    if policy.when == RestartWhen::No && (table.max.is_some() || table.backoff.is_some()) {
        let span = table
            .max
            .as_ref()
            .map(Spanned::span)
            .or(table.backoff.as_ref().map(Spanned::span))
            .unwrap_or(0..0);
        problems.push(
            Problem::error("plan::restart-without-policy", "restart", span)
                .message("`max` and `backoff` need a restart policy")
                .label("never used: the policy is \"no\"")
                .help("add policy = \"on-failure\" or \"always\", or remove these keys"),
        );
    }
    policy
}
