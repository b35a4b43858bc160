//! How `launcher stop` ends a container: a signal first, then SIGKILL to every process of it
//! once a timeout has passed. Pure data, like the rest of the plan; `[stop]` in Container.toml
//! sets it.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Origin;

/// The `[stop]` settings, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopPolicy {
    /// Sent first, to the container's first process (init forwards it to the command).
    pub signal: Signal,
    /// How long to wait for the container to end before SIGKILL.
    pub timeout: Duration,
    /// The `[stop]` table, or "default".
    pub origin: Origin,
    /// What the monitor does once the container has ended (`[restart]`).
    pub restart: super::RestartPolicy,
}

impl StopPolicy {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// SIGTERM, then SIGKILL after 10 seconds, as Docker does.
    pub fn standard() -> Self {
        StopPolicy {
            signal: Signal::TERM,
            timeout: Self::DEFAULT_TIMEOUT,
            origin: Origin::Default,
            restart: super::RestartPolicy::default(),
        }
    }
}

impl Default for StopPolicy {
    fn default() -> Self {
        Self::standard()
    }
}

impl Serialize for StopPolicy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serde_json::json!({
            "signal": self.signal.name(),
            "signal_number": self.signal.number(),
            "timeout_seconds": self.timeout.as_secs_f64(),
            "origin": self.origin,
            "restart": self.restart,
        })
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for StopPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Form {
            signal_number: i32,
            timeout_seconds: f64,
            origin: Origin,
            #[serde(default)]
            restart: super::RestartPolicy,
        }
        let form = Form::deserialize(d)?;
        let signal = Signal::from_number(form.signal_number).map_err(serde::de::Error::custom)?;
        let timeout = Duration::try_from_secs_f64(form.timeout_seconds)
            .map_err(|_| serde::de::Error::custom("a stop timeout in seconds, 0 or more"))?;
        Ok(StopPolicy {
            signal,
            timeout,
            origin: form.origin,
            restart: form.restart,
        })
    }
}

impl fmt::Display for StopPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "on stop: {}, then SIGKILL after {}",
            self.signal,
            human_duration(self.timeout)
        )
    }
}

/// A signal number, 1 to 64, with the name Linux gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signal(i32);

/// Names of the standard signals, without `SIG`, by number (Linux on x86_64 and arm64).
const NAMES: [(&str, i32); 31] = [
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// The kernel's real-time range (glibc keeps 32 and 33 for itself, but they can be sent).
const RT_MIN: i32 = 34;
const RT_MAX: i32 = 64;

impl Signal {
    pub const TERM: Signal = Signal(libc::SIGTERM);
    pub const KILL: Signal = Signal(libc::SIGKILL);

    /// `"SIGTERM"`, `"TERM"`, `"term"`, `"15"`, `"SIGRTMIN+3"`, `"RTMAX"`.
    pub fn parse(text: &str) -> Result<Signal, String> {
        let text = text.trim();
        if let Ok(number) = text.parse::<i32>() {
            return Signal::from_number(number);
        }
        let upper = text.to_ascii_uppercase();
        let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
        if let Some(&(_, number)) = NAMES.iter().find(|(name, _)| *name == bare) {
            return Ok(Signal(number));
        }
        let realtime = |rest: &str, base: i32, sign: i32| -> Option<Signal> {
            let offset = if rest.is_empty() {
                0
            } else {
                rest.parse::<i32>().ok()?
            };
            let number = base + sign * offset;
            (RT_MIN..=RT_MAX)
                .contains(&number)
                .then_some(Signal(number))
        };
        let found = if let Some(rest) = bare.strip_prefix("RTMIN") {
            realtime(rest.trim_start_matches('+'), RT_MIN, 1)
        } else if let Some(rest) = bare.strip_prefix("RTMAX") {
            realtime(rest.trim_start_matches('-'), RT_MAX, -1)
        } else {
            None
        };
        found.ok_or_else(|| {
            format!(
                "\"{text}\" is not a signal; use a name such as SIGTERM, TERM, SIGINT, SIGRTMIN+3, or a number from 1 to 64"
            )
        })
    }

    pub fn from_number(number: i32) -> Result<Signal, String> {
        if (1..=RT_MAX).contains(&number) {
            Ok(Signal(number))
        } else {
            Err(format!(
                "{number} is not a signal number; they go from 1 to 64"
            ))
        }
    }

    pub fn number(self) -> i32 {
        self.0
    }

    /// `"SIGTERM"`, `"SIGRTMIN+2"`, or `"signal 32"` for the two glibc keeps.
    pub fn name(self) -> String {
        if let Some((name, _)) = NAMES.iter().find(|(_, n)| *n == self.0) {
            return format!("SIG{name}");
        }
        match self.0 {
            RT_MIN => "SIGRTMIN".into(),
            RT_MAX => "SIGRTMAX".into(),
            n if n > RT_MIN && n < RT_MAX => format!("SIGRTMIN+{}", n - RT_MIN),
            n => format!("signal {n}"),
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// `"10s"`, `"500ms"`, `"1m30s"`, `"2h"` → a duration. A bare number is refused (which unit?).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || {
        format!(
            "\"{text}\" is not a duration; write a number with a unit: \"10s\", \"500ms\", \"1m30s\""
        )
    };
    if text.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let number: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += number * seconds;
        rest = &rest[unit_len..];
    }
    if !total.is_finite() || total > 365.0 * 24.0 * 3600.0 {
        return Err(format!("\"{text}\" is longer than a year"));
    }
    Ok(Duration::from_secs_f64(total))
}

/// `10s`, `1.5s`, `2m`, `1m30s`, `500ms`.
pub fn human_duration(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms > 0 && ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = duration.as_secs_f64();
    if secs < 60.0 {
        if secs.fract() == 0.0 {
            return format!("{secs}s");
        }
        return format!("{secs:.1}s");
    }
    let whole = duration.as_secs();
    match (whole / 3600, whole % 3600 / 60, whole % 60) {
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_by_name_and_number() {
        assert_eq!(Signal::parse("SIGTERM"), Ok(Signal::TERM));
        assert_eq!(Signal::parse("term"), Ok(Signal::TERM));
        assert_eq!(Signal::parse("15"), Ok(Signal::TERM));
        assert_eq!(Signal::parse("KILL"), Ok(Signal::KILL));
        assert_eq!(Signal::parse("SIGRTMIN+2").map(Signal::number), Ok(36));
        assert_eq!(Signal::parse("RTMAX").map(Signal::number), Ok(64));
        assert!(Signal::parse("SIGFOO").is_err());
        assert!(Signal::parse("0").is_err());
        assert!(Signal::parse("65").is_err());
        assert!(Signal::parse("RTMIN+40").is_err());
    }

    #[test]
    fn signal_names_round_trip() {
        for number in 1..=64 {
            let signal = Signal::from_number(number).unwrap();
            if number != 32 && number != 33 {
                assert_eq!(Signal::parse(&signal.name()), Ok(signal), "{signal}");
            }
        }
        assert_eq!(Signal::TERM.name(), "SIGTERM");
        assert_eq!(Signal(36).name(), "SIGRTMIN+2");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(Duration::from_secs(10)), "10s");
        assert_eq!(human_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(human_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(human_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(human_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(human_duration(Duration::ZERO), "0s");
    }
}
