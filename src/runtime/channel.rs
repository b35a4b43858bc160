//! What the container's process tells the launcher over a close-on-exec pipe: the steps it
//! ran (index and time), sent once, right before it execs (or becomes init); and, when a step
//! fails, that step, the errno and what was done to which path. End of file after the steps
//! means the exec succeeded.

use std::os::fd::RawFd;

use super::StepFailed;
use crate::sys::{self, Errno};

const MAX_DETAIL: usize = 1024;
const TRACE: u8 = b'T';
const FAILED: u8 = b'F';

/// The steps a process ran: (index into the plan, CLOCK_MONOTONIC nanoseconds when it ended).
/// Made with room for every step before the clone, so the container's process never
/// allocates to record one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    pub done: Vec<(usize, u64)>,
}

impl Trace {
    pub fn with_capacity(steps: usize) -> Self {
        Trace {
            done: Vec::with_capacity(steps),
        }
    }

    /// Records that step `index` has just ended.
    pub fn record(&mut self, index: usize) {
        if self.done.len() < self.done.capacity() {
            self.done.push((index, sys::monotonic_ns()));
        }
    }
}

/// Sends the steps run so far. Called in the container's process, before exec.
pub fn send_trace(fd: RawFd, trace: &Trace) {
    let mut record = Vec::with_capacity(5 + 12 * trace.done.len());
    record.push(TRACE);
    record.extend_from_slice(&(trace.done.len() as u32).to_le_bytes());
    for (step, at) in &trace.done {
        record.extend_from_slice(&(*step as u32).to_le_bytes());
        record.extend_from_slice(&at.to_le_bytes());
    }
    // Nothing more can be done if the parent is gone.
    let _ = sys::write_all(fd, &record);
}

/// Sends a failure. Called in the container's process right before it exits. One write of at
/// most PIPE_BUF bytes, so it arrives whole.
pub fn send_failure(fd: RawFd, step: usize, errno: Errno, detail: &str) {
    let detail = &detail.as_bytes()[..detail.len().min(MAX_DETAIL)];
    let mut record = [0u8; 11 + MAX_DETAIL];
    record[0] = FAILED;
    record[1..5].copy_from_slice(&(step as u32).to_le_bytes());
    record[5..9].copy_from_slice(&(errno as i32).to_le_bytes());
    record[9..11].copy_from_slice(&(detail.len() as u16).to_le_bytes());
    record[11..11 + detail.len()].copy_from_slice(detail);
    let _ = sys::write_all(fd, &record[..11 + detail.len()]);
}

/// Everything the process sent, read until end of file.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub trace: Trace,
    pub failed: Option<StepFailed>,
}

/// Reads the reports from `fd` until end of file.
pub fn receive(fd: RawFd) -> Result<Report, Errno> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = sys::read(fd, &mut buf)?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&buf[..n]);
    }
    Ok(parse(&bytes))
}

fn parse(mut bytes: &[u8]) -> Report {
    let mut report = Report::default();
    let u32_at = |b: &[u8], at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
    };
    while let Some((&kind, rest)) = bytes.split_first() {
        match kind {
            TRACE => {
                let Some(count) = u32_at(rest, 0) else { break };
                let len = 4 + 12 * count as usize;
                let Some(entries) = rest.get(4..len) else {
                    break;
                };
                for entry in entries.chunks_exact(12) {
                    let step = u32_at(entry, 0).unwrap_or(0) as usize;
                    let at = u64::from_le_bytes(entry[4..12].try_into().unwrap_or_default());
                    report.trace.done.push((step, at));
                }
                bytes = &rest[len..];
            }
            FAILED => {
                let (Some(step), Some(errno)) = (u32_at(rest, 0), u32_at(rest, 4)) else {
                    break;
                };
                let Some(len) = rest.get(8..10) else { break };
                let len = u16::from_le_bytes([len[0], len[1]]) as usize;
                let detail = rest.get(10..10 + len).unwrap_or(&rest[10..]);
                report.failed = Some(StepFailed {
                    step: step as usize,
                    errno: Errno::from_raw(errno as i32),
                    detail: String::from_utf8_lossy(detail).into_owned(),
                    hint: None,
                });
                break;
            }
            _ => break,
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_trace_then_a_failure_cross_a_pipe_whole() {
        let (read_end, write_end) = sys::pipe().unwrap();
        let mut trace = Trace::with_capacity(4);
        trace.record(5);
        trace.record(6);
        send_trace(write_end.as_raw_fd(), &trace);
        send_failure(
            write_end.as_raw_fd(),
            7,
            Errno::ENOENT,
            "attach bind /data on /srv",
        );
        drop(write_end);
        let got = receive(read_end.as_raw_fd()).unwrap();
        let steps: Vec<usize> = got.trace.done.iter().map(|(s, _)| *s).collect();
        assert_eq!(steps, [5, 6]);
        let failed = got.failed.unwrap();
        assert_eq!(failed.step, 7);
        assert_eq!(failed.errno, Errno::ENOENT);
        assert_eq!(failed.detail, "attach bind /data on /srv");
    }

    #[test]
    fn end_of_file_after_a_trace_is_success() {
        let (read_end, write_end) = sys::pipe().unwrap();
        let mut trace = Trace::with_capacity(1);
        trace.record(3);
        send_trace(write_end.as_raw_fd(), &trace);
        drop(write_end);
        let got = receive(read_end.as_raw_fd()).unwrap();
        assert_eq!(got.failed, None);
        assert_eq!(got.trace.done.len(), 1);
    }

    #[test]
    fn a_trace_records_no_more_than_its_room() {
        let mut trace = Trace::with_capacity(1);
        trace.record(1);
        trace.record(2);
        assert_eq!(trace.done.len(), 1);
    }
}
