//! `[restart]`, resolved: whether the monitor of a detached container runs its command again
//! when it ends, how many times, and how long it waits first.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Origin, human_duration};

/// When the command runs again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartWhen {
    /// Never (the default).
    #[default]
    No,
    /// When it ended with a status other than 0 (or by a signal).
    OnFailure,
    /// Whenever it ends, unless `launcher stop` (or `rm`) ended it.
    Always,
}

/// The `[restart]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartPolicy {
    pub when: RestartWhen,
    /// At most this many restarts; `None`: no limit.
    pub max: Option<u32>,
    /// The wait before the first restart, doubled before each next one (at most a minute).
    pub backoff_ms: u64,
    pub origin: Origin,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            when: RestartWhen::No,
            max: None,
            backoff_ms: Self::DEFAULT_BACKOFF.as_millis() as u64,
            origin: Origin::Default,
        }
    }
}

impl RestartPolicy {
    pub const DEFAULT_BACKOFF: Duration = Duration::from_millis(100);
    const LONGEST_WAIT: Duration = Duration::from_secs(60);

    /// The wait before restart number `done + 1`, or `None` when the command stays ended:
    /// `code` is how it ended (0 a success).
    pub fn next(&self, code: i32, done: u32) -> Option<Duration> {
        let again = match self.when {
            RestartWhen::No => false,
            RestartWhen::OnFailure => code != 0,
            RestartWhen::Always => true,
        };
        if !again || self.max.is_some_and(|max| done >= max) {
            return None;
        }
        let factor = 1u64 << done.min(20);
        let wait = Duration::from_millis(self.backoff_ms.saturating_mul(factor));
        Some(wait.min(Self::LONGEST_WAIT))
    }
}

impl fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let when = match self.when {
            RestartWhen::No => return write!(f, "restart: no"),
            RestartWhen::OnFailure => "on failure",
            RestartWhen::Always => "always",
        };
        let max = self
            .max
            .map_or("no limit".to_string(), |m| format!("at most {m} times"));
        write!(
            f,
            "restart: {when}, {max}, waiting {} (doubled each time, at most 1m)",
            human_duration(Duration::from_millis(self.backoff_ms))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_and_the_maximum_holds() {
        let policy = RestartPolicy {
            when: RestartWhen::OnFailure,
            max: Some(3),
            backoff_ms: 100,
            origin: Origin::Default,
        };
        assert_eq!(policy.next(0, 0), None);
        assert_eq!(policy.next(1, 0), Some(Duration::from_millis(100)));
        assert_eq!(policy.next(1, 2), Some(Duration::from_millis(400)));
        assert_eq!(policy.next(1, 3), None);
        let always = RestartPolicy {
            when: RestartWhen::Always,
            max: None,
            ..policy
        };
        assert_eq!(always.next(0, 30), Some(Duration::from_secs(60)));
    }
}
