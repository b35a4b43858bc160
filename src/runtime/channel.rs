//! The report a container process sends its parent when a step fails: the step index, the
//! errno and a short text naming what was done to which path. One write of at most PIPE_BUF
//! bytes, so it arrives whole; end of file without a report means exec succeeded.

use std::os::fd::RawFd;

use super::StepFailed;
use super::sys::{self, Errno};

const MAX_DETAIL: usize = 1024;

/// Writes the report to `fd`. Called in the child right before it exits.
pub fn send(fd: RawFd, step: usize, errno: Errno, detail: &str) {
    let detail = &detail.as_bytes()[..detail.len().min(MAX_DETAIL)];
    let mut record = [0u8; 10 + MAX_DETAIL];
    record[..4].copy_from_slice(&(step as u32).to_le_bytes());
    record[4..8].copy_from_slice(&(errno as i32).to_le_bytes());
    record[8..10].copy_from_slice(&(detail.len() as u16).to_le_bytes());
    record[10..10 + detail.len()].copy_from_slice(detail);
    // Nothing more can be done if the parent is gone.
    let _ = sys::write_all(fd, &record[..10 + detail.len()]);
}

/// Reads a report from `fd` until end of file; `None` when the child exec'd without one.
pub fn receive(fd: RawFd) -> Result<Option<StepFailed>, Errno> {
    let mut buf = [0u8; 10 + MAX_DETAIL];
    let mut len = 0;
    loop {
        let n = sys::read(fd, &mut buf[len..])?;
        if n == 0 {
            break;
        }
        len += n;
        if len == buf.len() {
            break;
        }
    }
    if len < 10 {
        return Ok(None);
    }
    let step = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    let errno = Errno::from_raw(i32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]));
    let detail_len = (u16::from_le_bytes([buf[8], buf[9]]) as usize).min(len - 10);
    let detail = String::from_utf8_lossy(&buf[10..10 + detail_len]).into_owned();
    Ok(Some(StepFailed {
        step,
        errno,
        detail,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_report_crosses_a_pipe_whole() {
        let (read_end, write_end) = sys::pipe().unwrap();
        send(
            write_end.as_raw_fd(),
            7,
            Errno::ENOENT,
            "attach bind /data on /srv",
        );
        drop(write_end);
        let got = receive(read_end.as_raw_fd()).unwrap().unwrap();
        assert_eq!(got.step, 7);
        assert_eq!(got.errno, Errno::ENOENT);
        assert_eq!(got.detail, "attach bind /data on /srv");
    }

    #[test]
    fn end_of_file_without_a_report_is_success() {
        let (read_end, write_end) = sys::pipe().unwrap();
        drop(write_end);
        assert_eq!(receive(read_end.as_raw_fd()).unwrap(), None);
    }
}
