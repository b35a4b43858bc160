//! Which cgroup hierarchy holds each controller the container's limits need, and the files
//! the limits become: cgroup v2 where the unified hierarchy has the controllers, else the v1
//! hierarchies (as on hybrid hosts). Read from /proc/self/mountinfo.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::plan::{
    CgroupLink, CgroupSetup, CgroupVersion, CgroupView, CgroupWrite, Limits, V1Hierarchy,
};

/// The cgroup hierarchies mounted on this host.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Hierarchies {
    /// Mount point of cgroup2 and the controllers its root offers.
    pub unified: Option<(PathBuf, Vec<String>)>,
    /// v1 controller → mount point.
    pub v1: BTreeMap<String, PathBuf>,
    /// The launcher's own cgroup v2, as /proc/self/cgroup's `0::` line names it (`/user.slice/
    /// user-1000.slice/user@1000.service/app.slice/...`): where a rootless caller's delegated
    /// subtree is looked for.
    pub own: Option<PathBuf>,
    /// Every v1 hierarchy mounted: its mount point and the options that name it (controllers,
    /// `name=...`), as a `cgroup` mount remounts them.
    pub v1_mounts: Vec<(PathBuf, Vec<String>)>,
    /// Symbolic links in /sys/fs/cgroup (`cpu` → `cpu,cpuacct`).
    pub links: Vec<(String, String)>,
}

impl Hierarchies {
    /// Reads the host's hierarchies; `controllers_of` reads a v2 root's `cgroup.controllers`.
    pub fn from_mountinfo(
        mountinfo: &str,
        controllers_of: impl Fn(&Path) -> Option<String>,
    ) -> Self {
        let mut found = Hierarchies::default();
        for line in mountinfo.lines() {
            let Some((before, after)) = line.split_once(" - ") else {
                continue;
            };
            let fields: Vec<&str> = before.split(' ').collect();
            let rest: Vec<&str> = after.split(' ').collect();
            let (Some(mount_point), Some(fstype)) = (fields.get(4), rest.first()) else {
                continue;
            };
            let mount_point = PathBuf::from(unescape(mount_point));
            match *fstype {
                "cgroup2" if found.unified.is_none() => {
                    let controllers = controllers_of(&mount_point)
                        .unwrap_or_default()
                        .split_whitespace()
                        .map(str::to_string)
                        .collect();
                    found.unified = Some((mount_point, controllers));
                }
                "cgroup" => {
                    let naming: Vec<String> = rest
                        .get(2)
                        .copied()
                        .unwrap_or("")
                        .split(',')
                        .filter(|o| naming_option(o))
                        .map(str::to_string)
                        .collect();
                    found.v1_mounts.push((mount_point.clone(), naming));
                    for option in rest.get(2).copied().unwrap_or("").split(',') {
                        if matches!(
                            option,
                            "memory"
                                | "cpu"
                                | "pids"
                                | "cpuacct"
                                | "cpuset"
                                | "blkio"
                                | "devices"
                                | "freezer"
                        ) {
                            found
                                .v1
                                .entry(option.to_string())
                                .or_insert_with(|| mount_point.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        found
    }

    /// This host's.
    pub fn current() -> Self {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut found = Self::from_mountinfo(&mountinfo, |root| {
            std::fs::read_to_string(root.join("cgroup.controllers")).ok()
        });
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        found.own = own
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .map(PathBuf::from);
        if let Ok(entries) = std::fs::read_dir(CGROUP_ROOT) {
            for entry in entries.flatten() {
                let (Ok(name), Ok(to)) = (
                    entry.file_name().into_string(),
                    std::fs::read_link(entry.path()),
                ) else {
                    continue;
                };
                if let Some(to) = to.to_str().filter(|t| !t.contains('/')) {
                    found.links.push((name, to.to_string()));
                }
            }
            found.links.sort();
        }
        found
    }

    /// What a `cgroup` mount shows on this host: cgroup2 when /sys/fs/cgroup is cgroup2,
    /// else the v1 hierarchies mounted in its folders (and a hybrid host's cgroup2); `None`
    /// when the host mounts no cgroup filesystem there.
    pub fn view(&self) -> Option<CgroupView> {
        let root = Path::new(CGROUP_ROOT);
        let child = |mount_point: &Path| {
            (mount_point.parent() == Some(root))
                .then(|| mount_point.file_name()?.to_str().map(str::to_string))
                .flatten()
        };
        let unified = self.unified.as_ref().map(|(path, _)| path.as_path());
        if unified == Some(root) {
            return Some(CgroupView::V2);
        }
        let hierarchies: Vec<V1Hierarchy> = self
            .v1_mounts
            .iter()
            .filter(|(_, options)| !options.is_empty())
            .filter_map(|(mount_point, options)| {
                Some(V1Hierarchy {
                    dir: child(mount_point)?,
                    options: options.clone(),
                })
            })
            .collect();
        let unified = unified.and_then(child);
        if hierarchies.is_empty() && unified.is_none() {
            return None;
        }
        let dirs: Vec<&str> = hierarchies.iter().map(|h| h.dir.as_str()).collect();
        let links = self
            .links
            .iter()
            .filter(|(name, to)| dirs.contains(&to.as_str()) && !dirs.contains(&name.as_str()))
            .map(|(name, to)| CgroupLink {
                name: name.clone(),
                target: to.clone(),
            })
            .collect();
        Some(CgroupView::V1 {
            hierarchies,
            links,
            unified,
        })
    }
}

/// Where the host's cgroup filesystems are mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Whether a v1 super option names the hierarchy (a controller or `name=`), as opposed to a
/// flag of the mount.
fn naming_option(option: &str) -> bool {
    !option.is_empty()
        && !matches!(
            option,
            "rw" | "ro"
                | "none"
                | "noprefix"
                | "clone_children"
                | "cpuset_v2_mode"
                | "xattr"
                | "favordynmods"
        )
        && !option.starts_with("release_agent=")
}

/// mountinfo escapes spaces and the like as \040.
fn unescape(field: &str) -> String {
    let mut out = String::new();
    let mut chars = field.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let code: String = chars.by_ref().take(3).collect();
            if let Ok(byte) = u8::from_str_radix(&code, 8) {
                out.push(byte as char);
                continue;
            }
            out.push('\\');
            out.push_str(&code);
        } else {
            out.push(c);
        }
    }
    out
}

/// Why the limits cannot be enforced here: (the key that needs it, the reason).
pub type Refusal = (&'static str, String);

/// The cgroup of container `name` on this host: its version, folders and the files its
/// limits are written to.
pub fn resolve(
    plan: &Limits,
    name: &str,
    hosts: &Hierarchies,
    rootless: Option<u32>,
) -> Result<CgroupSetup, Refusal> {
    let mut needed: Vec<(&'static str, &'static str)> = Vec::new();
    if plan.memory.is_some() {
        needed.push(("memory", "resources.memory"));
    }
    if plan.memory_swap.is_some() {
        needed.push(("memory", "resources.memory_swap"));
    }
    if plan.cpu_quota.is_some() {
        needed.push(("cpu", "resources.cpus"));
    }
    if plan.cpu_weight.is_some() {
        needed.push(("cpu", "resources.cpu_weight"));
    }
    if plan.pids.is_some() {
        needed.push(("pids", "resources.pids"));
    }
    if let Some(uid) = rootless {
        let key = needed.first().map_or("resources", |(_, key)| key);
        let root = delegated_root(hosts, uid).map_err(|why| (key, why))?;
        let offered = std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
        if let Some((controller, key)) = needed
            .iter()
            .find(|(c, _)| !offered.split_whitespace().any(|o| o == *c))
        {
            return Err((
                key,
                format!(
                    "the {controller} controller is not delegated to uid {uid} ({} offers: {}); as root, add `[Service] Delegate=cpu cpuset io memory pids` with `systemctl edit user@.service`, then log in again",
                    root.display(),
                    offered.trim()
                ),
            ));
        }
        return Ok(resolve_v2(plan, name, &root, &needed));
    }
    let in_v2 = |c: &str| {
        hosts
            .unified
            .as_ref()
            .is_some_and(|(_, have)| have.iter().any(|h| h == c))
    };
    let in_v1 = |c: &str| hosts.v1.contains_key(c);
    if let Some((controller, key)) = needed.iter().find(|(c, _)| !in_v2(c) && !in_v1(c)) {
        return Err((
            key,
            format!(
                "the {controller} controller is not available (neither in cgroup v2 nor mounted as v1)"
            ),
        ));
    }
    if let Some((root, _)) = &hosts.unified
        && needed.iter().all(|(c, _)| in_v2(c))
    {
        return Ok(resolve_v2(plan, name, root, &needed));
    }
    if let Some((controller, key)) = needed.iter().find(|(c, _)| !in_v1(c)) {
        return Err((
            key,
            format!(
                "the {controller} controller is in cgroup v2 while others are only in v1; the launcher does not split one container across both"
            ),
        ));
    }
    resolve_v1(plan, name, hosts, &needed)
}

/// The top of the cgroup v2 subtree delegated to `uid` that holds the launcher's own cgroup
/// (systemd's `user@UID.service`): the highest of its cgroup's ancestors, itself included,
/// whose folder, `cgroup.procs` and `cgroup.subtree_control` belong to `uid`. The launcher
/// must run inside it: moving a process needs write access to the cgroup.procs of the common
/// ancestor of where it is and where it goes.
fn delegated_root(hosts: &Hierarchies, uid: u32) -> Result<PathBuf, String> {
    use std::os::unix::fs::MetadataExt;
    let fix = "run the launcher in a systemd user session (`systemd-run --user --scope launcher up FILE`), on a host with cgroup v2";
    let Some((mount, _)) = &hosts.unified else {
        return Err(format!(
            "rootless limits need a cgroup v2 subtree delegated to the user, and this host has no cgroup v2 hierarchy; {fix}"
        ));
    };
    let Some(own) = &hosts.own else {
        return Err(format!(
            "the launcher's own cgroup v2 is unknown (no `0::` line in /proc/self/cgroup); {fix}"
        ));
    };
    let owned = |dir: &Path| {
        ["", "cgroup.procs", "cgroup.subtree_control"]
            .iter()
            .all(|f| std::fs::metadata(dir.join(f)).is_ok_and(|m| m.uid() == uid))
    };
    let relative = own.strip_prefix("/").unwrap_or(own);
    if relative
        .components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(format!(
            "the launcher's cgroup {} is not a plain path",
            own.display()
        ));
    }
    let mut dir = mount.join(relative);
    let mut top = None;
    while dir.starts_with(mount) && owned(&dir) {
        top = Some(dir.clone());
        if dir == *mount || !dir.pop() {
            break;
        }
    }
    top.ok_or_else(|| {
        format!(
            "the launcher's cgroup {} is not delegated to uid {uid} (it, its cgroup.procs and cgroup.subtree_control belong to another user); {fix}",
            own.display()
        )
    })
}

fn resolve_v2(plan: &Limits, name: &str, root: &Path, needed: &[(&str, &str)]) -> CgroupSetup {
    let mut controllers: Vec<&str> = needed.iter().map(|(c, _)| *c).collect();
    controllers.dedup();
    let enable = controllers
        .iter()
        .map(|c| format!("+{c}"))
        .collect::<Vec<_>>()
        .join(" ");
    let parent = root.join("launcher");
    let dir = parent.join(name);
    let mut writes = vec![
        write(&root.join("cgroup.subtree_control"), enable.clone()),
        write(&parent.join("cgroup.subtree_control"), enable),
    ];
    if let Some(memory) = plan.memory {
        writes.push(write(&dir.join("memory.max"), memory.to_string()));
    }
    if let Some(total) = plan.memory_swap {
        let swap = total.saturating_sub(plan.memory.unwrap_or(0));
        writes.push(write(&dir.join("memory.swap.max"), swap.to_string()));
    }
    if let Some((quota, period)) = plan.cpu_quota {
        writes.push(write(&dir.join("cpu.max"), format!("{quota} {period}")));
    }
    if let Some(weight) = plan.cpu_weight {
        writes.push(write(&dir.join("cpu.weight"), weight.to_string()));
    }
    if let Some(pids) = plan.pids {
        writes.push(write(&dir.join("pids.max"), pids.to_string()));
    }
    CgroupSetup {
        version: CgroupVersion::V2,
        limits: plan.clone(),
        paths: vec![dir],
        writes,
    }
}

fn resolve_v1(
    plan: &Limits,
    name: &str,
    hosts: &Hierarchies,
    needed: &[(&str, &str)],
) -> Result<CgroupSetup, Refusal> {
    let dir = |controller: &str| hosts.v1[controller].join("launcher").join(name);
    let mut paths: Vec<PathBuf> = Vec::new();
    for (controller, _) in needed {
        let path = dir(controller);
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    let mut writes = Vec::new();
    if let Some(memory) = plan.memory {
        writes.push(write(
            &dir("memory").join("memory.limit_in_bytes"),
            memory.to_string(),
        ));
    }
    if let Some(total) = plan.memory_swap {
        if !hosts.v1["memory"]
            .join("memory.memsw.limit_in_bytes")
            .exists()
        {
            return Err((
                "resources.memory_swap",
                "swap accounting is off on this host (boot with swapaccount=1)".into(),
            ));
        }
        writes.push(write(
            &dir("memory").join("memory.memsw.limit_in_bytes"),
            total.to_string(),
        ));
    }
    if let Some((quota, period)) = plan.cpu_quota {
        writes.push(write(
            &dir("cpu").join("cpu.cfs_period_us"),
            period.to_string(),
        ));
        writes.push(write(
            &dir("cpu").join("cpu.cfs_quota_us"),
            quota.to_string(),
        ));
    }
    if let Some(weight) = plan.cpu_weight {
        // The conversion runc and systemd use between v2 weight and v1 shares.
        let shares = 2 + (weight.saturating_sub(1)) * 262_142 / 9_999;
        writes.push(write(&dir("cpu").join("cpu.shares"), shares.to_string()));
    }
    if let Some(pids) = plan.pids {
        writes.push(write(&dir("pids").join("pids.max"), pids.to_string()));
    }
    Ok(CgroupSetup {
        version: CgroupVersion::V1,
        limits: plan.clone(),
        paths,
        writes,
    })
}

fn write(file: &Path, value: String) -> CgroupWrite {
    CgroupWrite {
        file: file.to_path_buf(),
        value,
    }
}

/// Whether `path` is a folder the launcher makes for container `name`: `launcher/NAME` right
/// under a mount point of one of the host's cgroup hierarchies. Paths read back from a state
/// record are checked with it before anything is removed.
pub fn is_container_folder(hosts: &Hierarchies, path: &Path, name: &str) -> bool {
    let mut roots: Vec<&Path> = hosts.v1.values().map(PathBuf::as_path).collect();
    if let Some((root, _)) = &hosts.unified {
        roots.push(root);
    }
    let plain = path.components().all(|c| {
        matches!(
            c,
            std::path::Component::Normal(_) | std::path::Component::RootDir
        )
    });
    // A rootless container's: `launcher/NAME` under its delegated subtree.
    let delegated = hosts.unified.as_ref().is_some_and(|(root, _)| {
        plain && path.starts_with(root) && path.ends_with(Path::new("launcher").join(name))
    });
    delegated
        || roots
            .iter()
            .any(|root| path == root.join("launcher").join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n\
        32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n\
        35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
        39 31 0:36 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n\
        41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";

    const UNIFIED: &str = "31 23 0:28 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";

    #[test]
    fn a_cgroup_mount_shows_cgroup2_on_a_v2_host_and_the_v1_hierarchies_on_a_hybrid_one() {
        let v2 = Hierarchies::from_mountinfo(UNIFIED, |_| None);
        assert_eq!(v2.view(), Some(CgroupView::V2));

        let comounted = "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n\
            32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw shared:9 - cgroup cgroup rw,cpu,cpuacct\n\
            33 31 0:30 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n\
            34 23 0:31 / /elsewhere rw - cgroup cgroup rw,memory\n";
        let mut hybrid = Hierarchies::from_mountinfo(&format!("{HYBRID}{comounted}"), |_| None);
        hybrid.links = vec![
            ("cpu".into(), "cpu,cpuacct".into()),
            ("cpuacct".into(), "cpu,cpuacct".into()),
            ("stray".into(), "nowhere".into()),
        ];
        let Some(CgroupView::V1 {
            hierarchies,
            links,
            unified,
        }) = hybrid.view()
        else {
            panic!("not a v1 view: {:?}", hybrid.view());
        };
        let shown: Vec<(String, String)> = hierarchies
            .iter()
            .map(|h| (h.dir.clone(), h.options.join(",")))
            .collect();
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        // Mounted outside /sys/fs/cgroup: not part of the view. Flags (xattr) are not names.
        assert_eq!(
            shown,
            [
                pair("cpu", "cpu"),
                pair("memory", "memory"),
                pair("pids", "pids"),
                pair("cpu,cpuacct", "cpu,cpuacct"),
                pair("systemd", "name=systemd"),
            ]
        );
        assert_eq!(unified.as_deref(), Some("unified"));
        // A link to a hierarchy, and not over one: `cpu` is a folder of its own here.
        let links: Vec<(String, String)> = links.into_iter().map(|l| (l.name, l.target)).collect();
        assert_eq!(links, [pair("cpuacct", "cpu,cpuacct")]);

        assert_eq!(Hierarchies::from_mountinfo("", |_| None).view(), None);
    }

    fn limits() -> Limits {
        Limits {
            memory: Some(32 << 20),
            memory_swap: None,
            cpu_quota: Some((50_000, 100_000)),
            cpu_weight: Some(100),
            pids: Some(20),
        }
    }

    fn files(plan: &CgroupSetup) -> Vec<(String, &str)> {
        plan.writes
            .iter()
            .map(|w| (w.file.display().to_string(), w.value.as_str()))
            .collect()
    }

    #[test]
    fn a_hybrid_host_uses_the_v1_controllers() {
        let hosts = Hierarchies::from_mountinfo(HYBRID, |_| Some(String::new()));
        assert_eq!(hosts.v1["memory"], PathBuf::from("/sys/fs/cgroup/memory"));
        let plan = resolve(&limits(), "web", &hosts, None).unwrap();
        assert_eq!(plan.version, CgroupVersion::V1);
        let files = files(&plan);
        let has = |file: &str, value: &str| files.contains(&(file.to_string(), value));
        assert!(has(
            "/sys/fs/cgroup/memory/launcher/web/memory.limit_in_bytes",
            "33554432"
        ));
        assert!(has(
            "/sys/fs/cgroup/cpu/launcher/web/cpu.cfs_quota_us",
            "50000"
        ));
        assert!(has("/sys/fs/cgroup/cpu/launcher/web/cpu.shares", "2597"));
        assert!(has("/sys/fs/cgroup/pids/launcher/web/pids.max", "20"));
        assert_eq!(plan.paths.len(), 3);
        for path in &plan.paths {
            assert!(
                is_container_folder(&hosts, path, "web"),
                "{}",
                path.display()
            );
        }
    }

    #[test]
    fn a_unified_host_with_the_controllers_uses_v2() {
        let hosts =
            Hierarchies::from_mountinfo(UNIFIED, |_| Some("cpuset cpu io memory pids".into()));
        let plan = resolve(&limits(), "web", &hosts, None).unwrap();
        assert_eq!(plan.version, CgroupVersion::V2);
        assert_eq!(plan.paths, [PathBuf::from("/sys/fs/cgroup/launcher/web")]);
        let files = files(&plan);
        let has = |file: &str, value: &str| files.contains(&(file.to_string(), value));
        assert_eq!(
            files[0],
            (
                "/sys/fs/cgroup/cgroup.subtree_control".to_string(),
                "+memory +cpu +pids"
            )
        );
        assert!(has("/sys/fs/cgroup/launcher/web/memory.max", "33554432"));
        assert!(has("/sys/fs/cgroup/launcher/web/cpu.max", "50000 100000"));
        assert!(has("/sys/fs/cgroup/launcher/web/cpu.weight", "100"));
        assert!(has("/sys/fs/cgroup/launcher/web/pids.max", "20"));
    }

    #[test]
    fn a_missing_controller_names_the_key() {
        let hosts = Hierarchies::from_mountinfo(UNIFIED, |_| Some("cpu memory".into()));
        let (key, why) = resolve(&limits(), "web", &hosts, None).unwrap_err();
        assert_eq!(key, "resources.pids");
        assert!(why.contains("pids"), "{why}");
    }

    #[test]
    fn only_launcher_folders_of_a_hierarchy_count_as_a_containers() {
        let hosts = Hierarchies::from_mountinfo(HYBRID, |_| Some(String::new()));
        let ok = |p: &str| is_container_folder(&hosts, Path::new(p), "web");
        assert!(ok("/sys/fs/cgroup/pids/launcher/web"));
        assert!(ok("/sys/fs/cgroup/unified/launcher/web"));
        assert!(!ok("/sys/fs/cgroup/pids/launcher/other"));
        assert!(!ok("/sys/fs/cgroup/pids/system.slice"));
        assert!(!ok("/sys/fs/cgroup/pids/launcher/web/../../system.slice"));
        assert!(!ok("/etc"));
    }

    #[test]
    fn rootless_limits_without_cgroup_v2_are_refused() {
        let mut hosts = Hierarchies::from_mountinfo(HYBRID, |_| Some(String::new()));
        hosts.unified = None;
        let (key, why) = resolve(&limits(), "web", &hosts, Some(1000)).unwrap_err();
        assert_eq!(key, "resources.memory");
        assert!(why.contains("no cgroup v2 hierarchy"), "{why}");
        assert!(why.contains("systemd-run --user --scope"), "{why}");
    }

    /// A cgroup v2 tree in a temp folder, as systemd delegates it: user@UID.service and
    /// below belong to the user, the slices above to root.
    fn fake_tree(owner: u32, controllers: &str) -> (tempfile::TempDir, Hierarchies) {
        let dir = tempfile::tempdir().unwrap();
        let service = dir
            .path()
            .join("user.slice/user-1000.slice/user@1000.service");
        let own = service.join("app.slice/term.scope");
        std::fs::create_dir_all(&own).unwrap();
        for folder in [
            dir.path().to_path_buf(),
            dir.path().join("user.slice"),
            dir.path().join("user.slice/user-1000.slice"),
            service.clone(),
            service.join("app.slice"),
            own.clone(),
        ] {
            for file in [
                "cgroup.procs",
                "cgroup.subtree_control",
                "cgroup.controllers",
            ] {
                std::fs::write(folder.join(file), controllers).unwrap();
            }
        }
        for folder in [service.clone(), service.join("app.slice"), own] {
            for file in ["", "cgroup.procs", "cgroup.subtree_control"] {
                std::os::unix::fs::lchown(folder.join(file), Some(owner), Some(owner)).unwrap();
            }
        }
        let hosts = Hierarchies {
            unified: Some((dir.path().to_path_buf(), Vec::new())),
            v1: BTreeMap::new(),
            own: Some("/user.slice/user-1000.slice/user@1000.service/app.slice/term.scope".into()),
            ..Default::default()
        };
        (dir, hosts)
    }

    #[test]
    fn rootless_limits_go_into_the_delegated_subtree() {
        // chown needs root (CI is root); the tree is a plain folder, no cgroup is made.
        let (dir, hosts) = fake_tree(1000, "cpu memory pids");
        let plan = resolve(&limits(), "web", &hosts, Some(1000)).unwrap();
        let service = dir
            .path()
            .join("user.slice/user-1000.slice/user@1000.service");
        assert_eq!(plan.version, CgroupVersion::V2);
        assert_eq!(plan.paths, [service.join("launcher/web")]);
        let files: Vec<String> = plan
            .writes
            .iter()
            .map(|w| w.file.display().to_string())
            .collect();
        assert_eq!(
            files[0],
            service.join("cgroup.subtree_control").display().to_string()
        );
        assert_eq!(
            files[1],
            service
                .join("launcher/cgroup.subtree_control")
                .display()
                .to_string()
        );
        assert!(
            files.contains(
                &service
                    .join("launcher/web/memory.max")
                    .display()
                    .to_string()
            )
        );
        assert!(is_container_folder(
            &hosts,
            &service.join("launcher/web"),
            "web"
        ));
        assert!(!is_container_folder(
            &hosts,
            &service.join("launcher/../x/launcher/web"),
            "web"
        ));
    }

    #[test]
    fn rootless_limits_name_what_the_delegation_lacks() {
        let (_dir, hosts) = fake_tree(1000, "pids");
        let (key, why) = resolve(&limits(), "web", &hosts, Some(1000)).unwrap_err();
        assert_eq!(key, "resources.memory");
        assert!(
            why.contains("the memory controller is not delegated to uid 1000"),
            "{why}"
        );
        assert!(why.contains("Delegate=cpu cpuset io memory pids"), "{why}");
        // Another user's subtree: not delegated to this one.
        let (_dir, hosts) = fake_tree(1001, "cpu memory pids");
        let (_, why) = resolve(&limits(), "web", &hosts, Some(1000)).unwrap_err();
        assert!(why.contains("is not delegated to uid 1000"), "{why}");
    }
}
