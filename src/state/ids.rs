//! The launcher's own range of ids, for containers of root with `namespaces.user = "remap"`:
//! each holds 65,536 uids and gids of it while its folder exists. The range is the
//! /etc/subuid and /etc/subgid entries of a user named `launcher` (as podman's
//! `--userns=auto` uses `containers`), or `LAUNCHER_REMAP_IDS=START:COUNT`. A container's
//! share is the file `ids` in its folder, written under the lock `.ids.lock` of the state
//! folder; removing the folder (`rm`, the end of a foreground run) frees it.

use std::fs::OpenOptions;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::{StateError, Store};
use crate::plan::IdRange;
use crate::sys;

/// The entry name of the launcher's range in /etc/subuid and /etc/subgid.
pub const OWNER: &str = "launcher";

/// The launcher's range: where its uids and gids start, and how many 65,536-id shares fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    pub uid: u32,
    pub gid: u32,
    pub shares: u32,
}

impl Pool {
    /// This host's: `LAUNCHER_REMAP_IDS`, else the `launcher` entries of /etc/subuid and
    /// /etc/subgid. The error says what is missing and how to add it.
    pub fn host() -> Result<Pool, String> {
        let configured = std::env::var("LAUNCHER_REMAP_IDS").ok();
        let subuid = std::fs::read_to_string("/etc/subuid").unwrap_or_default();
        let subgid = std::fs::read_to_string("/etc/subgid").unwrap_or_default();
        Pool::from(configured.as_deref(), &subuid, &subgid)
    }

    /// From the setting (`START:COUNT`) or the files' text.
    pub fn from(configured: Option<&str>, subuid: &str, subgid: &str) -> Result<Pool, String> {
        let fix = "as root: `usermod --add-subuids 1000000000-1065535999 --add-subgids 1000000000-1065535999 launcher` after `useradd --system --no-create-home launcher`, or `LAUNCHER_REMAP_IDS=START:COUNT` (a range no user of /etc/subuid has)";
        let (uid, gid) = match configured {
            Some(text) => {
                let range = parse_range(text).ok_or_else(|| {
                    format!("LAUNCHER_REMAP_IDS=\"{text}\" is not START:COUNT (two numbers)")
                })?;
                for (file, text) in [("/etc/subuid", subuid), ("/etc/subgid", subgid)] {
                    if let Some(other) = overlapping(text, range) {
                        return Err(format!(
                            "LAUNCHER_REMAP_IDS={text} overlaps the entry {other} of {file}: containers would share ids with that user's"
                        ));
                    }
                }
                (range, range)
            }
            None => {
                let find = |text: &str, file: &str| {
                    text.lines()
                        .filter_map(|l| l.trim().strip_prefix("launcher:"))
                        .find_map(parse_range)
                        .ok_or_else(|| {
                            format!("{file} has no entry for the user `{OWNER}`, the launcher's own range; {fix}")
                        })
                };
                (find(subuid, "/etc/subuid")?, find(subgid, "/etc/subgid")?)
            }
        };
        let shares = uid.1.min(gid.1) / IdRange::SIZE;
        if shares == 0 {
            return Err(format!(
                "the launcher's range holds fewer than {} ids (uids {}, gids {}); {fix}",
                IdRange::SIZE,
                uid.1,
                gid.1
            ));
        }
        Ok(Pool {
            uid: uid.0,
            gid: gid.0,
            shares,
        })
    }

    fn share(&self, index: u32) -> IdRange {
        IdRange {
            uid: self.uid + index * IdRange::SIZE,
            gid: self.gid + index * IdRange::SIZE,
        }
    }
}

fn parse_range(text: &str) -> Option<(u32, u32)> {
    let (start, count) = text.trim().split_once(':')?;
    let (start, count): (u32, u32) = (start.parse().ok()?, count.parse().ok()?);
    (u64::from(start) + u64::from(count) <= 1 << 32).then_some((start, count))
}

/// An entry of another owner that shares ids with `range`.
fn overlapping(text: &str, range: (u32, u32)) -> Option<String> {
    text.lines().find_map(|line| {
        let (owner, rest) = line.trim().split_once(':')?;
        let (start, count) = parse_range(rest)?;
        let (a, b) = (u64::from(range.0), u64::from(range.0) + u64::from(range.1));
        let (c, d) = (u64::from(start), u64::from(start) + u64::from(count));
        (owner != OWNER && a < d && c < b).then(|| line.trim().to_string())
    })
}

impl Store {
    /// The share `name` holds, else the first free one (nothing is written: `plan`, `check`,
    /// and `up` before it claims the name).
    pub fn peek_ids(&self, name: &str, pool: &Pool) -> Result<IdRange, String> {
        if let Some(held) = self.held_ids(name) {
            return Ok(held);
        }
        let taken = self.taken_ids(name);
        (0..pool.shares)
            .map(|i| pool.share(i))
            .find(|share| !taken.contains(share))
            .ok_or_else(|| {
                format!(
                    "every share of the launcher's range is taken ({} containers hold one): remove one (`launcher rm NAME`) or give the `launcher` entries of /etc/subuid and /etc/subgid more ids",
                    pool.shares
                )
            })
    }

    /// Records that `name` (whose lock the caller holds) holds `range`, unless another
    /// container took it since the plan was made.
    pub fn take_ids(
        &self,
        name: &str,
        range: IdRange,
        _lock: &super::NameLock,
    ) -> Result<(), StateError> {
        let lock_path = self.root().join(".ids.lock");
        let failed = |source: io::Error| StateError::Lock {
            path: lock_path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(failed)?;
        sys::flock(file.as_fd(), libc::LOCK_EX)
            .map_err(|e| failed(io::Error::from_raw_os_error(e as i32)))?;
        if self.held_ids(name) == Some(range) {
            return Ok(());
        }
        if let Some(other) = self
            .names()?
            .into_iter()
            .find(|other| other != name && self.held_ids(other) == Some(range))
        {
            return Err(StateError::IdsTaken {
                name: name.to_string(),
                other,
                uid: range.uid,
            });
        }
        let path = self.paths(name).dir.join("ids");
        let text = format!("{} {}\n", range.uid, range.gid);
        write_atomically(&path, &text).map_err(|source| StateError::Remove { path, source })
    }

    /// The share `name`'s folder records.
    pub fn held_ids(&self, name: &str) -> Option<IdRange> {
        let text = std::fs::read_to_string(self.paths(name).dir.join("ids")).ok()?;
        let mut numbers = text.split_whitespace().map(str::parse::<u32>);
        match (numbers.next(), numbers.next()) {
            (Some(Ok(uid)), Some(Ok(gid))) => Some(IdRange { uid, gid }),
            _ => None,
        }
    }

    fn taken_ids(&self, except: &str) -> Vec<IdRange> {
        self.names()
            .unwrap_or_default()
            .iter()
            .filter(|n| n.as_str() != except)
            .filter_map(|n| self.held_ids(n))
            .collect()
    }
}

fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, text)?;
    std::fs::rename(&temp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_is_the_launcher_entries_or_the_setting() {
        let pool = Pool::from(
            None,
            "ann:100000:65536\nlauncher:1000000:200000\n",
            "launcher:2000000:131072\n",
        )
        .unwrap();
        assert_eq!(
            pool,
            Pool {
                uid: 1000000,
                gid: 2000000,
                shares: 2
            }
        );
        let err = Pool::from(None, "ann:100000:65536\n", "").unwrap_err();
        assert!(
            err.contains("/etc/subuid has no entry for the user `launcher`"),
            "{err}"
        );
        assert!(err.contains("usermod --add-subuids"), "{err}");
        let err = Pool::from(Some("100000:65536"), "ann:150000:65536\n", "").unwrap_err();
        assert!(err.contains("overlaps the entry ann:150000:65536"), "{err}");
        assert_eq!(Pool::from(Some("3000000:65536"), "", "").unwrap().shares, 1);
    }

    #[test]
    fn shares_are_disjoint_and_freed_with_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        let pool = Pool::from(Some("1000000:196608"), "", "").unwrap();
        let a_lock = store.lock_or_create("a").unwrap();
        let a = store.peek_ids("a", &pool).unwrap();
        store.take_ids("a", a, &a_lock).unwrap();
        let b_lock = store.lock_or_create("b").unwrap();
        let b = store.peek_ids("b", &pool).unwrap();
        assert_ne!(a, b);
        assert_eq!(b.uid, a.uid + IdRange::SIZE);
        // Taken since its plan was made: refused.
        let err = store.take_ids("b", a, &b_lock).unwrap_err();
        assert!(err.to_string().contains("\"a\""), "{err}");
        store.take_ids("b", b, &b_lock).unwrap();
        assert_eq!(store.peek_ids("a", &pool).unwrap(), a, "a keeps its share");
        store.remove("a", a_lock).unwrap();
        let c_lock = store.lock_or_create("c").unwrap();
        assert_eq!(
            store.peek_ids("c", &pool).unwrap(),
            a,
            "a's share is free again"
        );
        drop(c_lock);
    }
}
