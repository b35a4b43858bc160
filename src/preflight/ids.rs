//! The ids a rootless user namespace can map: the caller's own, and its subordinate ranges of
//! /etc/subuid and /etc/subgid, which only the setuid helpers newuidmap and newgidmap (Debian's
//! uidmap package) may write. Each fact is checked on its own, so a problem says exactly what
//! is missing and the command that fixes it.

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::plan::{IdMap, MapHelpers};

/// Where the facts are read; passed in so tests can vary them.
#[derive(Debug, Clone)]
pub struct IdSources {
    pub subuid: PathBuf,
    pub subgid: PathBuf,
    /// Searched for newuidmap and newgidmap, as `PATH` is.
    pub path: OsString,
}

impl IdSources {
    pub fn current() -> Self {
        IdSources {
            subuid: "/etc/subuid".into(),
            subgid: "/etc/subgid".into(),
            path: std::env::var_os("PATH")
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| {
                    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()
                }),
        }
    }
}

/// One line of /etc/subuid or /etc/subgid: `owner:start:count`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubidEntry {
    pub owner: String,
    pub start: u32,
    pub count: u32,
}

impl SubidEntry {
    fn end(&self) -> u64 {
        u64::from(self.start) + u64::from(self.count)
    }

    fn shown(&self) -> String {
        format!("{}-{}", self.start, self.end().saturating_sub(1))
    }
}

/// The entries of a subordinate id file; lines that are not `owner:start:count` are skipped,
/// as shadow's tools skip them.
pub fn parse(text: &str) -> Vec<SubidEntry> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.trim().split(':');
            let owner = fields.next()?;
            let start = fields.next()?.parse().ok()?;
            let count = fields.next()?.parse().ok()?;
            (!owner.is_empty() && !owner.starts_with('#') && fields.next().is_none()).then(|| {
                SubidEntry {
                    owner: owner.to_string(),
                    start,
                    count,
                }
            })
        })
        .collect()
}

/// Whose ranges: the caller's id and name (an entry may name either).
#[derive(Debug, Clone)]
pub struct Owner {
    pub id: u32,
    pub name: Option<String>,
}

impl Owner {
    fn matches(&self, entry: &SubidEntry) -> bool {
        entry.owner == self.id.to_string() || self.name.as_deref() == Some(&entry.owner)
    }

    fn shown(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => self.id.to_string(),
        }
    }
}

/// The caller's ranges, ready for the helpers: container 0 is the caller, 1.. its
/// subordinate ids, in the order of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranges {
    pub uid: Vec<IdMap>,
    pub gid: Vec<IdMap>,
    pub helpers: MapHelpers,
}

impl Ranges {
    /// The highest uid and gid the container has (0 is the caller).
    pub fn highest(&self) -> (u32, u32) {
        let top = |maps: &[IdMap]| {
            maps.iter()
                .map(|m| m.inside.saturating_add(m.count).saturating_sub(1))
                .max()
                .unwrap_or(0)
        };
        (top(&self.uid), top(&self.gid))
    }
}

/// One missing fact: what, and the command that fixes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub message: String,
    pub label: String,
    pub help: String,
}

/// The caller's ranges. `Ok(None)`: it has no entry in either file and `required` is false
/// (the one-id map stays). Every missing fact is returned at once.
pub fn caller_ranges(
    uid: Owner,
    gid: u32,
    sources: &IdSources,
    required: bool,
) -> Result<Option<Ranges>, Vec<Missing>> {
    let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
    let (uid_entries, gid_entries) = (parse(&read(&sources.subuid)), parse(&read(&sources.subgid)));
    let own = |entries: &[SubidEntry], owner: &Owner| -> Vec<SubidEntry> {
        entries
            .iter()
            .filter(|e| owner.matches(e))
            .cloned()
            .collect()
    };
    let (own_uids, own_gids) = (own(&uid_entries, &uid), own(&gid_entries, &uid));
    if own_uids.is_empty() && own_gids.is_empty() && !required {
        return Ok(None);
    }
    let mut missing = Vec::new();
    let user = uid.shown();
    let fix = |entries: &[SubidEntry]| {
        let start = free_start(entries);
        format!("{start}-{}", u64::from(start) + 65535)
    };
    for (own, all, file, flag, own_id) in [
        (
            &own_uids,
            &uid_entries,
            &sources.subuid,
            "--add-subuids",
            uid.id,
        ),
        (
            &own_gids,
            &gid_entries,
            &sources.subgid,
            "--add-subgids",
            gid,
        ),
    ] {
        if own.is_empty() {
            missing.push(Missing {
                message: format!("{} has no entry for {user}", file.display()),
                label: format!("no subordinate ids for {user} in {}", file.display()),
                help: format!(
                    "as root: `usermod {flag} {} {user}` (a range no other entry uses)",
                    fix(all)
                ),
            });
        }
        missing.extend(overlaps(own, all, &uid, own_id, file));
    }
    let helpers = [("newuidmap", "uid"), ("newgidmap", "gid")].map(|(name, kind)| {
        find_helper(name, &sources.path).map_err(|why| Missing {
            message: format!("{name} cannot map the subordinate {kind}s"),
            label: why.label,
            help: why.help,
        })
    });
    let [newuidmap, newgidmap] = helpers;
    let (newuidmap, newgidmap) = match (newuidmap, newgidmap) {
        (Ok(u), Ok(g)) => (u, g),
        (u, g) => {
            missing.extend(u.err());
            missing.extend(g.err());
            (PathBuf::new(), PathBuf::new())
        }
    };
    if !missing.is_empty() {
        return Err(missing);
    }
    Ok(Some(Ranges {
        uid: maps(uid.id, &own_uids),
        gid: maps(gid, &own_gids),
        helpers: MapHelpers {
            newuidmap,
            newgidmap,
        },
    }))
}

/// 0 → the caller, then each range in turn from 1 on.
fn maps(caller: u32, entries: &[SubidEntry]) -> Vec<IdMap> {
    let mut maps = vec![IdMap {
        inside: 0,
        outside: caller,
        count: 1,
    }];
    let mut next: u32 = 1;
    for entry in entries {
        let count = entry.count.min(u32::MAX - next);
        if count == 0 {
            continue;
        }
        maps.push(IdMap {
            inside: next,
            outside: entry.start,
            count,
        });
        next += count;
    }
    maps
}

/// The caller's ranges that overlap another owner's, or hold the caller's own id.
fn overlaps(
    own: &[SubidEntry],
    all: &[SubidEntry],
    caller: &Owner,
    own_id: u32,
    file: &Path,
) -> Vec<Missing> {
    let mut found = Vec::new();
    for mine in own {
        if u64::from(own_id) >= u64::from(mine.start) && u64::from(own_id) < mine.end() {
            found.push(Missing {
                message: format!(
                    "the range {} of {} in {} holds its own id {}",
                    mine.shown(),
                    caller.shown(),
                    file.display(),
                    own_id
                ),
                label: format!("{} overlaps {own_id}", mine.shown()),
                help: format!(
                    "edit {} so that the range starts above every user's id (100000 and up, as useradd gives)",
                    file.display()
                ),
            });
        }
        for other in all.iter().filter(|e| !caller.matches(e)) {
            if u64::from(mine.start) < other.end() && u64::from(other.start) < mine.end() {
                found.push(Missing {
                    message: format!(
                        "the range {} of {} in {} overlaps {}'s {}",
                        mine.shown(),
                        caller.shown(),
                        file.display(),
                        other.owner,
                        other.shown()
                    ),
                    label: format!("{} overlaps {}", mine.shown(), other.shown()),
                    help: format!(
                        "edit {} so that no two owners share ids: the files of one would belong to the other",
                        file.display()
                    ),
                });
            }
        }
    }
    found
}

/// The first start, from 100000 on and on a 65,536 boundary, above every entry.
pub fn free_start(entries: &[SubidEntry]) -> u32 {
    let top = entries.iter().map(SubidEntry::end).max().unwrap_or(0);
    if top <= 100_000 {
        return 100_000;
    }
    u32::try_from(top.div_ceil(65536) * 65536).unwrap_or(u32::MAX - 65536)
}

/// newuidmap or newgidmap: found, owned by root and setuid (or with file capabilities, as
/// some distributions install them).
fn find_helper(name: &str, path: &OsString) -> Result<PathBuf, Missing> {
    let found = std::env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file());
    let Some(found) = found else {
        return Err(Missing {
            message: String::new(),
            label: format!("{name} is not installed (not found on PATH)"),
            help: "as root: `apt-get install uidmap` (the setuid newuidmap and newgidmap)".into(),
        });
    };
    let meta = std::fs::metadata(&found).map_err(|e| Missing {
        message: String::new(),
        label: format!("{} cannot be read: {e}", found.display()),
        help: "as root: `apt-get install --reinstall uidmap`".into(),
    })?;
    let setuid_root = meta.uid() == 0 && meta.mode() & 0o4000 != 0;
    let file_caps = xattr_present(&found, c"security.capability");
    if !setuid_root && !file_caps {
        return Err(Missing {
            message: String::new(),
            label: format!(
                "{} is not setuid root (mode {:o}, owner {})",
                found.display(),
                meta.mode() & 0o7777,
                meta.uid()
            ),
            help: format!(
                "as root: `chown root {0} && chmod u+s {0}` (or `apt-get install --reinstall uidmap`)",
                found.display()
            ),
        });
    }
    Ok(found)
}

/// Whether the filesystem holding `path` supports idmapped mounts (`FS_ALLOW_IDMAP`): the
/// error names it.
/// Whether a kernel release (`6.18.4-amd64`) is `at_least` (major, minor).
pub fn kernel_at_least(release: &str, at_least: (u32, u32)) -> bool {
    let mut parts = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) >= at_least
}

pub fn idmappable(path: &Path) -> Result<(), String> {
    let magic = crate::sys::statfs_type(path).map_err(|e| {
        format!(
            "cannot read the filesystem of {}: {}",
            path.display(),
            e.desc()
        )
    })?;
    // Those of Linux 6.x that set FS_ALLOW_IDMAP.
    let known: &[(i64, &str)] = &[
        (0xEF53, "ext4"),
        (0x5846_5342, "xfs"),
        (0x9123_683E, "btrfs"),
        (0x0102_1994, "tmpfs"),
        (0xF2F5_2010, "f2fs"),
        (0x4d44, "vfat"),
        (0xE0F5_E1E2, "erofs"),
        (0x7371_7368, "squashfs"),
    ];
    if known.iter().any(|(m, _)| *m == magic) {
        return Ok(());
    }
    Err(format!(
        "{} is on a filesystem (type 0x{magic:x}) that cannot be mounted idmapped",
        path.display()
    ))
}

fn xattr_present(path: &Path, name: &std::ffi::CStr) -> bool {
    crate::sys::xattr_size(path, name).is_ok_and(|size| size > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_releases_compare_by_major_then_minor() {
        assert!(kernel_at_least("6.18.44-fc-v1098\n", (6, 13)));
        assert!(kernel_at_least("7.0", (6, 13)));
        assert!(!kernel_at_least("6.1.0-28-amd64", (6, 13)));
        assert!(!kernel_at_least("", (6, 13)));
    }

    fn sources(dir: &Path, subuid: &str, subgid: &str, helpers: &Path) -> IdSources {
        std::fs::write(dir.join("subuid"), subuid).unwrap();
        std::fs::write(dir.join("subgid"), subgid).unwrap();
        IdSources {
            subuid: dir.join("subuid"),
            subgid: dir.join("subgid"),
            path: helpers.as_os_str().to_owned(),
        }
    }

    fn owner() -> Owner {
        Owner {
            id: 1000,
            name: Some("ann".into()),
        }
    }

    fn gid() -> u32 {
        1000
    }

    #[test]
    fn entries_are_read_as_shadow_writes_them() {
        let entries = parse("ann:100000:65536\n# note\nbad line\n1001:165536:10\n");
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].owner, "1001");
        assert_eq!(free_start(&entries), 196608);
        assert_eq!(free_start(&[]), 100000);
    }

    #[test]
    fn no_entry_and_not_required_keeps_the_one_id_map() {
        let dir = tempfile::tempdir().unwrap();
        let s = sources(dir.path(), "bob:100000:65536\n", "", Path::new("/usr/bin"));
        assert_eq!(caller_ranges(owner(), gid(), &s, false), Ok(None));
    }

    #[test]
    fn ranges_map_root_to_the_caller_and_the_rest_to_the_range() {
        let dir = tempfile::tempdir().unwrap();
        // Setuid helpers: this host's (Debian's uidmap), as CI installs them.
        let s = sources(
            dir.path(),
            "ann:100000:65536\n",
            "1000:200000:1000\n",
            Path::new("/usr/bin"),
        );
        let ranges = caller_ranges(owner(), gid(), &s, true)
            .unwrap_or_else(|m| panic!("{m:?} (is the uidmap package installed?)"))
            .unwrap();
        assert_eq!(
            ranges.uid,
            [
                IdMap {
                    inside: 0,
                    outside: 1000,
                    count: 1
                },
                IdMap {
                    inside: 1,
                    outside: 100000,
                    count: 65536
                }
            ]
        );
        assert_eq!(ranges.highest(), (65536, 1000));
    }

    #[test]
    fn each_missing_fact_is_named_with_its_fix() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        // A newuidmap that is not setuid, and no newgidmap.
        std::fs::write(bin.join("newuidmap"), "").unwrap();
        let s = sources(dir.path(), "ann:100000:65536\nbob:120000:65536\n", "", &bin);
        let missing = caller_ranges(owner(), gid(), &s, true).unwrap_err();
        let text = format!("{missing:#?}");
        assert!(text.contains("subgid has no entry for ann"), "{text}");
        assert!(
            text.contains("usermod --add-subgids 100000-165535 ann"),
            "{text}"
        );
        assert!(text.contains("overlaps bob's 120000-185535"), "{text}");
        assert!(text.contains("newuidmap is not setuid root"), "{text}");
        assert!(text.contains("newgidmap is not installed"), "{text}");
        assert!(text.contains("apt-get install uidmap"), "{text}");
    }

    #[test]
    fn a_range_holding_the_callers_own_id_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let s = sources(
            dir.path(),
            "ann:500:65536\n",
            "ann:100000:65536\n",
            Path::new("/usr/bin"),
        );
        let missing = caller_ranges(owner(), gid(), &s, true).unwrap_err();
        assert!(
            missing[0].message.contains("holds its own id 1000"),
            "{missing:?}"
        );
    }
}
