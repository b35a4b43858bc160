//! The container's output: written by the monitor to `stdout.log` and `stderr.log`, each
//! capped at [`LOG_CAP`] bytes. A full file is renamed to `NAME.log.1` (replacing the older
//! one) and a new one begun, so the newest output is kept, between one and two caps of it.
//! `launcher logs` prints both parts in order and, with `-f`, follows the files until the
//! container stops.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{LifecycleError, observe};
use crate::runtime::Stream;
use crate::state::{ContainerPaths, State, StateError, Store};

/// Bytes per log file before it rotates: 10 MiB.
pub const LOG_CAP: u64 = 10 << 20;

/// The monitor's side: appends output, rotating at the cap. A write that fails (a full disk)
/// loses that output; the container is never held up by its logs.
pub struct LogWriter {
    stdout: Log,
    stderr: Log,
}

struct Log {
    path: PathBuf,
    file: Option<File>,
    size: u64,
}

impl LogWriter {
    pub fn new(paths: &ContainerPaths) -> Self {
        LogWriter {
            stdout: Log::new(&paths.stdout_log),
            stderr: Log::new(&paths.stderr_log),
        }
    }

    /// A line in both logs between one run and the next (`start`, `restart`).
    pub fn marker(&mut self, text: &str) {
        let line = format!("--- {text} ---\n");
        self.stdout.write(line.as_bytes());
        self.stderr.write(line.as_bytes());
    }

    pub fn write(&mut self, stream: Stream, bytes: &[u8]) {
        let log = match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        log.write(bytes);
    }
}

impl Log {
    fn new(path: &Path) -> Self {
        Log {
            path: path.to_path_buf(),
            file: None,
            size: 0,
        }
    }

    fn open(&mut self) -> Option<&mut File> {
        if self.file.is_none() {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
                .open(&self.path)
                .ok()?;
            self.size = file.metadata().map_or(0, |m| m.len());
            self.file = Some(file);
        }
        self.file.as_mut()
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.size > 0 && self.size + bytes.len() as u64 > LOG_CAP {
            self.file = None;
            let rotated = ContainerPaths::rotated(&self.path);
            let _ = std::fs::rename(&self.path, &rotated);
            let _ = std::fs::rename(
                ContainerPaths::times(&self.path),
                ContainerPaths::times(&rotated),
            );
            self.size = 0;
        }
        if self.open().is_none() {
            return;
        }
        let offset = self.size;
        let Some(file) = self.file.as_mut() else {
            return;
        };
        if file.write_all(bytes).is_ok() {
            self.size += bytes.len() as u64;
            // When this output came: `logs --timestamps` and `--since` read it.
            let _ = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
                .open(ContainerPaths::times(&self.path))
                .and_then(|mut times| {
                    times.write_all(format!("{offset} {}\n", super::now_ms()).as_bytes())
                });
        }
    }
}

/// The lines of a log (its rotated part first), each with the time its output came, as
/// `logs --timestamps` and `--since` show them.
fn timed_lines(log: &Path) -> io::Result<Vec<(u64, Vec<u8>)>> {
    let mut lines = Vec::new();
    for part in [ContainerPaths::rotated(log), log.to_path_buf()] {
        let text = match std::fs::read(&part) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let times: Vec<(u64, u64)> = std::fs::read_to_string(ContainerPaths::times(&part))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let (offset, ms) = l.split_once(' ')?;
                Some((offset.parse().ok()?, ms.parse().ok()?))
            })
            .collect();
        let mut start = 0usize;
        for line in text.split_inclusive(|b| *b == b'\n') {
            let at = times
                .iter()
                .take_while(|(offset, _)| *offset <= start as u64)
                .last()
                .map_or(0, |(_, ms)| *ms);
            lines.push((at, line.to_vec()));
            start += line.len();
        }
    }
    Ok(lines)
}

/// `logs --timestamps` / `--since`: the lines of each stream from `since_ms` on (the last
/// `tail` of them), each after its time when `timestamps`.
pub fn logs_timed(
    store: &Store,
    name: &str,
    (since_ms, tail, timestamps): (u64, Option<usize>, bool),
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), LifecycleError> {
    match store.read(name)? {
        None => {
            return Err(LifecycleError::NoSuchContainer {
                name: name.to_string(),
                root: store.root().to_path_buf(),
            });
        }
        Some(record) if record.foreground => {
            return Err(LifecycleError::NotLogged {
                name: name.to_string(),
                pid: record.monitor_pid,
            });
        }
        Some(_) => {}
    }
    let paths = store.paths(name);
    print_timed(&paths.stdout_log, (since_ms, tail, timestamps), out)?;
    print_timed(&paths.stderr_log, (since_ms, tail, timestamps), err)
}

fn print_timed(
    log: &Path,
    (since_ms, tail, timestamps): (u64, Option<usize>, bool),
    to: &mut dyn Write,
) -> Result<(), LifecycleError> {
    let lines = timed_lines(log).map_err(|source| {
        LifecycleError::State(StateError::List {
            path: log.to_path_buf(),
            source,
        })
    })?;
    let kept: Vec<&(u64, Vec<u8>)> = lines.iter().filter(|(at, _)| *at >= since_ms).collect();
    let skip = tail.map_or(0, |n| kept.len().saturating_sub(n));
    for (at, line) in &kept[skip..] {
        if timestamps {
            let _ = write!(to, "{} ", super::list::rfc3339(*at));
        }
        let _ = to.write_all(line);
    }
    let _ = to.flush();
    Ok(())
}

/// Prints the container's output: stdout to `out`, stderr to `err`, the rotated part of each
/// first. With `follow`, goes on printing what comes until the container stops.
pub fn logs(
    store: &Store,
    name: &str,
    follow: bool,
    tail: Option<usize>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), LifecycleError> {
    match store.read(name)? {
        None => {
            return Err(LifecycleError::NoSuchContainer {
                name: name.to_string(),
                root: store.root().to_path_buf(),
            });
        }
        Some(record) if record.foreground => {
            return Err(LifecycleError::NotLogged {
                name: name.to_string(),
                pid: record.monitor_pid,
            });
        }
        Some(_) => {}
    }
    let paths = store.paths(name);
    let mut stdout = Follower::new(&paths.stdout_log);
    let mut stderr = Follower::new(&paths.stderr_log);
    let result = (|| {
        match tail {
            None => {
                stdout.print_rotated(out)?;
                stderr.print_rotated(err)?;
            }
            // What is there now, read whole, then only its last lines printed.
            Some(lines) => {
                print_tail(&mut stdout, out, lines)?;
                print_tail(&mut stderr, err, lines)?;
            }
        }
        follow_logs(store, name, follow, (&mut stdout, out), (&mut stderr, err))
    })();
    match result {
        Ok(()) | Err(CopyError::Write) => Ok(()),
        Err(CopyError::Read(source)) => Err(LifecycleError::State(StateError::List {
            path: paths.dir,
            source,
        })),
    }
}

/// What a log holds now, read whole, of which only the last `lines` lines are printed.
fn print_tail(log: &mut Follower, to: &mut dyn Write, lines: usize) -> Result<(), CopyError> {
    let mut all = Vec::new();
    log.print_rotated(&mut all)?;
    log.print_new(&mut all)?;
    to.write_all(last_lines(&all, lines))
        .map_err(|_| CopyError::Write)
}

/// The last `count` lines of `text` (a last line without its newline counts).
fn last_lines(text: &[u8], count: usize) -> &[u8] {
    if count == 0 {
        return &[];
    }
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    let start = body
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, b)| **b == b'\n')
        .nth(count - 1)
        .map_or(0, |(i, _)| i + 1);
    &text[start..]
}

fn follow_logs(
    store: &Store,
    name: &str,
    follow: bool,
    (stdout, out): (&mut Follower, &mut dyn Write),
    (stderr, err): (&mut Follower, &mut dyn Write),
) -> Result<(), CopyError> {
    loop {
        // Whether it ran before this round: what it wrote before it stopped is printed.
        let running = follow
            && store
                .read(name)
                .ok()
                .flatten()
                .is_some_and(|record| observe(&record).state != State::Stopped);
        let mut new = stdout.print_new(out)?;
        new |= stderr.print_new(err)?;
        let _ = out.flush();
        let _ = err.flush();
        if !running {
            return Ok(());
        }
        if !new {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Reads one log file onwards from where it left off, across rotations.
struct Follower {
    path: PathBuf,
    file: Option<File>,
}

impl Follower {
    fn new(path: &Path) -> Self {
        Follower {
            path: path.to_path_buf(),
            file: None,
        }
    }

    fn print_rotated(&mut self, to: &mut dyn Write) -> Result<(), CopyError> {
        match File::open(ContainerPaths::rotated(&self.path)) {
            Ok(mut old) => copy(&mut old, to).map(drop),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Prints what was added since the last call; whether there was anything.
    fn print_new(&mut self, to: &mut dyn Write) -> Result<bool, CopyError> {
        let mut any = false;
        if let Some(file) = &mut self.file {
            any |= copy(file, to)? > 0;
            // Rotated: the rest of the old file is printed; go on with the new one.
            let current = std::fs::metadata(&self.path).map(|m| m.ino()).ok();
            if current != Some(file.metadata()?.ino()) {
                self.file = None;
            }
        }
        if self.file.is_none() {
            match File::open(&self.path) {
                Ok(mut file) => {
                    any |= copy(&mut file, to)? > 0;
                    self.file = Some(file);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(any)
    }
}

/// Reading a log failed, or writing it out did (the reader went away: `logs | head`).
enum CopyError {
    Read(io::Error),
    Write,
}

impl From<io::Error> for CopyError {
    fn from(error: io::Error) -> Self {
        CopyError::Read(error)
    }
}

fn copy(from: &mut File, to: &mut dyn Write) -> Result<u64, CopyError> {
    let mut buf = [0u8; 65536];
    let mut total = 0;
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        to.write_all(&buf[..n]).map_err(|_| CopyError::Write)?;
        total += n as u64;
    }
}
