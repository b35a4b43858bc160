//! Facts about processes, read from the host's /proc: state, parent, session and start time.
//! A pid alone can be recycled; a pid with its start time names one process for good.

/// The fields of /proc/PID/stat the launcher uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// `R`, `S`, `D`, `Z` (ended, not yet reaped), ...
    pub state: char,
    pub ppid: libc::pid_t,
    pub session: libc::pid_t,
    /// Clock ticks after boot.
    pub start: u64,
}

/// /proc/PID/stat, or `None` when there is no such process.
pub fn stat(pid: libc::pid_t) -> Option<ProcStat> {
    if pid <= 0 {
        return None;
    }
    parse_stat(&read_small(&format!("/proc/{pid}/stat"))?)
}

/// Parses the text of /proc/PID/stat. The command name (field 2) may hold spaces and
/// parentheses, so fields are counted from its last `)`.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let (_, after) = text.rsplit_once(')')?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: state (3), ppid (4), pgrp (5), session (6), ... starttime (22).
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        session: fields.get(3)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

/// A short /proc file in one read (std's read_to_string grows its buffer from 32 bytes, a
/// system call each time; these files are made whole at each read).
fn read_small(path: &str) -> Option<String> {
    use std::io::Read;
    let mut buf = [0u8; 1024];
    let n = std::fs::File::open(path).ok()?.read(&mut buf).ok()?;
    String::from_utf8(buf[..n].to_vec()).ok()
}

/// Whether `pid` is still the process that started at `start`, and has not ended.
pub fn is_alive(pid: libc::pid_t, start: u64) -> bool {
    stat(pid).is_some_and(|s| s.start == start && !matches!(s.state, 'Z' | 'X'))
}

/// This boot's id: records written before a reboot name processes that are long gone.
pub fn boot_id() -> String {
    read_small("/proc/sys/kernel/random/boot_id")
        .map(|id| id.trim().to_string())
        .unwrap_or_default()
}

/// Every live process of session `session` that started at or after `since`, with its start
/// time: the processes of a container without a PID namespace of its own.
pub fn session_members(session: libc::pid_t, since: u64) -> Vec<(libc::pid_t, u64)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter_map(|pid| {
            let s = stat(pid)?;
            (s.session == session && s.start >= since && !matches!(s.state, 'Z' | 'X'))
                .then_some((pid, s.start))
        })
        .collect()
}

/// The live children of `pid`, with their start times.
pub fn children(pid: libc::pid_t) -> Vec<(libc::pid_t, u64)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter_map(|child| {
            let s = stat(child)?;
            (s.ppid == pid && !matches!(s.state, 'Z' | 'X')).then_some((child, s.start))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_name() {
        let text =
            "4242 (a (weird) name) S 17 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 123456 0 0";
        let s = parse_stat(text).unwrap();
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 17);
        assert_eq!(s.session, 4242);
        assert_eq!(s.start, 123456);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_is_alive_and_a_wrong_start_time_is_not() {
        let me = std::process::id() as libc::pid_t;
        let s = stat(me).unwrap();
        assert!(is_alive(me, s.start));
        assert!(!is_alive(me, s.start + 1));
        assert!(!boot_id().is_empty());
    }
}
