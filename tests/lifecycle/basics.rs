//! `up -d`, `ps`, `exec`, `logs`, `stop`, `rm`, `wait`, `kill`: the life of one container.

use std::io::Read;
use std::time::{Duration, Instant};

use super::{Lab, Mode, assert_gone, eventually, start_time, text};

/// Prints "started", ends with status 3 on SIGTERM.
const POLITE: &str = "command = [\"/bin/sh\", \"-c\", \"trap 'echo got-term; exit 3' TERM; echo started; echo to-stderr >&2; while :; do sleep 0.1; done\"]\n";

fn a_container_runs_detached_and_leaves_nothing_behind(mode: Mode) {
    let lab = Lab::new(mode);
    let name = lab.name("life");
    let file = lab.container(&name, POLITE);
    let rootfs = file.parent().unwrap().join("rootfs");

    let started = Instant::now();
    let up = lab.up_d(&file);
    let took = started.elapsed();
    assert_eq!(text(&up.stdout).trim(), name, "up -d prints the name");
    eprintln!("up -d ({mode:?}) took {took:?}");

    // ps: running, with the pid of a live process.
    let ps = lab.run(&["ps"]);
    let listing = text(&ps.stdout);
    assert_eq!(ps.status.code(), Some(0), "{}", text(&ps.stderr));
    let line = listing
        .lines()
        .find(|l| l.starts_with(&name))
        .unwrap_or_else(|| panic!("ps does not list {name}: {listing}"));
    assert!(line.contains("running"), "{line}");
    let info = lab.inspect(&name);
    let pid = info["pid"].as_i64().expect("a running container has a pid") as i32;
    let monitor = info["monitor_pid"].as_i64().unwrap() as i32;
    assert!(
        line.contains(&pid.to_string()),
        "ps shows pid {pid}: {line}"
    );
    let processes = vec![
        (pid, start_time(pid).expect("the container's pid is alive")),
        (monitor, start_time(monitor).expect("the monitor is alive")),
    ];

    // exec: in the container's UTS namespace, as its user.
    let exec = lab.run(&["exec", &name, "--", "hostname"]);
    assert_eq!(exec.status.code(), Some(0), "{}", text(&exec.stderr));
    assert_eq!(text(&exec.stdout).trim(), "box");
    let id = lab.run(&["exec", &name, "--", "id", "-u"]);
    assert_eq!(text(&id.stdout).trim(), "0", "{}", text(&id.stderr));

    // logs: what it printed, each stream to its own.
    eventually(Duration::from_secs(5), "logs show the output", || {
        text(&lab.run(&["logs", &name]).stdout).contains("started")
    });
    let logs = lab.run(&["logs", &name]);
    assert!(
        text(&logs.stderr).contains("to-stderr"),
        "{}",
        text(&logs.stderr)
    );

    // stop: the command handles SIGTERM, well within the timeout.
    let stopping = Instant::now();
    let stop = lab.run(&["stop", &name]);
    assert_eq!(stop.status.code(), Some(0), "{}", text(&stop.stderr));
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "stop took {:?}",
        stopping.elapsed()
    );
    assert_gone(&processes, Duration::from_secs(5), "after stop");
    assert!(text(&lab.run(&["logs", &name]).stdout).contains("got-term"));

    // ps hides it; ps -a shows the exit status.
    assert!(!text(&lab.run(&["ps"]).stdout).contains(&name));
    let entry = lab
        .ps_entry(&name)
        .expect("ps -a lists the stopped container");
    assert_eq!(entry["state"], "stopped", "{entry}");
    assert_eq!(entry["exit_code"], 3, "{entry}");
    let ps_a = text(&lab.run(&["ps", "-a"]).stdout);
    assert!(ps_a.contains("exited 3"), "{ps_a}");

    // rm: the record and logs go; nothing of it remains.
    let rm = lab.run(&["rm", &name]);
    assert_eq!(rm.status.code(), Some(0), "{}", text(&rm.stderr));
    assert!(!lab.root().join(&name).exists(), "the state folder remains");
    assert!(lab.ps_entry(&name).is_none());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&rootfs.display().to_string()),
        "a mount of the container is left on the host: {mounts}"
    );
    let gone = lab.run(&["inspect", &name]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(
        text(&gone.stderr).contains("no container named"),
        "{}",
        text(&gone.stderr)
    );
}

#[test]
fn a_container_runs_detached_and_leaves_nothing_behind_as_root() {
    a_container_runs_detached_and_leaves_nothing_behind(Mode::Root);
}

#[test]
fn a_container_runs_detached_and_leaves_nothing_behind_rootless() {
    a_container_runs_detached_and_leaves_nothing_behind(Mode::Rootless);
}

#[test]
fn exec_gives_the_command_status_127_when_missing_and_refuses_a_stopped_container() {
    let lab = Lab::new(Mode::Root);
    let name = lab.name("exec");
    let file = lab.container(
        &name,
        "command = [\"sleep\", \"60\"]\nworkdir = \"/tmp\"\nenv = { GREETING = \"hi\" }\n",
    );
    lab.up_d(&file);
    let status = lab.run(&["exec", &name, "--", "sh", "-c", "exit 7"]);
    assert_eq!(status.status.code(), Some(7));
    let missing = lab.run(&["exec", &name, "--", "no-such-program"]);
    assert_eq!(
        missing.status.code(),
        Some(127),
        "{}",
        text(&missing.stderr)
    );
    assert!(
        text(&missing.stderr).contains("no-such-program"),
        "{}",
        text(&missing.stderr)
    );
    // The container's folder, environment and PID namespace.
    let inside = lab.run(&[
        "exec",
        &name,
        "--",
        "sh",
        "-c",
        "pwd; echo $GREETING; ls /proc | grep -c '^[0-9]'",
    ]);
    let out = text(&inside.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], ["/tmp", "hi"], "{out}");
    let count: usize = lines[2].parse().unwrap();
    assert!(count < 10, "exec sees the host's processes: {count}");
    // With -t, a terminal from the container's devpts.
    let tty = lab.run(&["exec", "-t", &name, "--", "tty"]);
    assert!(
        text(&tty.stdout).contains("/dev/pts/"),
        "{}{}",
        text(&tty.stdout),
        text(&tty.stderr)
    );

    lab.run(&["stop", "-t", "0", &name]);
    let refused = lab.run(&["exec", &name, "--", "true"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("is not running"),
        "{}",
        text(&refused.stderr)
    );
}

#[test]
fn wait_prints_the_exit_status_and_kill_delivers_a_named_signal() {
    let lab = Lab::new(Mode::Root);
    let name = lab.name("wait");
    let file = lab.container(
        &name,
        "command = [\"/bin/sh\", \"-c\", \"trap 'echo got-usr1; exit 5' USR1; while :; do sleep 0.1; done\"]\n",
    );
    lab.up_d(&file);
    let mut waiter = lab
        .command(&["wait", &name])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let kill = lab.run(&["kill", &name, "USR1"]);
    assert_eq!(kill.status.code(), Some(0), "{}", text(&kill.stderr));
    let mut printed = String::new();
    waiter
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut printed)
        .unwrap();
    assert!(waiter.wait().unwrap().success());
    assert_eq!(printed.trim(), "5");
    assert!(text(&lab.run(&["logs", &name]).stdout).contains("got-usr1"));
    let bad = lab.run(&["kill", &name, "SIGNOPE"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn up_of_a_stopped_name_replaces_its_record_and_logs() {
    let lab = Lab::new(Mode::Root);
    let name = lab.name("again");
    let file = lab.container(
        &name,
        "command = [\"/bin/sh\", \"-c\", \"echo run-$$-$RANDOM\"]\n",
    );
    lab.up_d(&file);
    eventually(Duration::from_secs(5), "the first run ends", || {
        lab.ps_entry(&name).is_some_and(|e| e["exit_code"] == 0)
    });
    let first = text(&lab.run(&["logs", &name]).stdout);
    let first_id = lab.inspect(&name)["id"].clone();
    lab.up_d(&file);
    eventually(Duration::from_secs(5), "the second run ends", || {
        lab.ps_entry(&name).is_some_and(|e| e["exit_code"] == 0)
    });
    assert_ne!(lab.inspect(&name)["id"], first_id);
    let second = text(&lab.run(&["logs", &name]).stdout);
    assert_eq!(second.lines().count(), 1, "old logs were kept: {second}");
    assert_ne!(first, second);
}

#[test]
fn a_detached_container_cannot_have_a_terminal() {
    let lab = Lab::new(Mode::Root);
    let name = lab.name("tty");
    let file = lab.container(&name, "command = [\"sleep\", \"60\"]\nterminal = true\n");
    let output = lab.run(&["up", "-d", &file.display().to_string()]);
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(125), "{err}");
    assert!(
        err.contains("terminal = true"),
        "the line is not shown: {err}"
    );
    assert!(err.contains("no terminal"), "{err}");
    assert!(!lab.root().join(&name).exists());
}

#[test]
fn logs_follow_the_output_until_the_container_stops() {
    let lab = Lab::new(Mode::Root);
    let name = lab.name("follow");
    let file = lab.container(
        &name,
        "command = [\"/bin/sh\", \"-c\", \"for i in 1 2 3 4 5; do echo line-$i; sleep 0.2; done\"]\n",
    );
    lab.up_d(&file);
    let started = Instant::now();
    let follow = lab.run(&["logs", "-f", &name]);
    assert_eq!(follow.status.code(), Some(0));
    let out = text(&follow.stdout);
    assert!(out.contains("line-1") && out.contains("line-5"), "{out}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn logs_keep_the_newest_output_within_the_cap() {
    let lab = Lab::new(Mode::Root);
    let name = lab.name("cap");
    // 25 MB of output, then a last line: more than two 10 MiB files.
    let file = lab.container(
        &name,
        "command = [\"/bin/sh\", \"-c\", \"yes 0123456789abcdef | head -c 25000000; echo THE-END\"]\n",
    );
    lab.up_d(&file);
    eventually(Duration::from_secs(30), "the writer ends", || {
        lab.ps_entry(&name)
            .is_some_and(|e| e["state"] == "stopped" && !e["exit_code"].is_null())
    });
    let folder = lab.root().join(&name);
    let size = |file: &str| std::fs::metadata(folder.join(file)).map_or(0, |m| m.len());
    let cap = 10 << 20;
    assert!(size("stdout.log") <= cap && size("stdout.log.1") <= cap);
    assert!(size("stdout.log.1") > 0, "the log never rotated");
    let logs = lab.run(&["logs", &name]);
    assert!(
        text(&logs.stdout).ends_with("THE-END\n"),
        "the newest output is lost"
    );
    assert!(logs.stdout.len() as u64 <= 2 * cap);
}

#[test]
fn the_service_example_runs_detached_as_the_readme_shows() {
    let lab = Lab::new(Mode::Root);
    let rootfs = crate::util::repo().join("rootfs");
    if !rootfs.join("bin/busybox").exists() {
        crate::util::fill_busybox(&rootfs);
    }
    let file = crate::util::repo().join("examples/service/Container.toml");
    // Its name is fixed, "service": unique within this test's own state folder.
    lab.names.borrow_mut().push("service".into());
    lab.up_d(&file);
    eventually(Duration::from_secs(5), "it ticks", || {
        text(&lab.run(&["logs", "service"]).stdout).contains("tick 1")
    });
    let exec = lab.run(&["exec", "service", "--", "hostname"]);
    assert_eq!(text(&exec.stdout).trim(), "service");
    let stopping = Instant::now();
    let stop = lab.run(&["stop", "service"]);
    assert_eq!(stop.status.code(), Some(0), "{}", text(&stop.stderr));
    assert!(
        stopping.elapsed() < Duration::from_secs(4),
        "SIGINT did not end it"
    );
    assert!(text(&lab.run(&["logs", "service"]).stdout).ends_with("bye\n"));
    assert_eq!(lab.ps_entry("service").unwrap()["exit_code"], 0);
}

#[test]
fn an_exec_process_gets_the_containers_cgroup_limits_and_security() {
    let lab = Lab::new(Mode::Root);
    let name = lab.name("confined");
    let file = lab.container(
        &name,
        "command = [\"sleep\", \"60\"]\n[resources]\npids = 50\n[rlimits]\nnofile = { soft = 123, hard = 456 }\n\
         [security]\ncapabilities = { drop = [\"NET_RAW\"] }\n",
    );
    lab.up_d(&file);
    let inside = lab.run(&[
        "exec",
        &name,
        "--",
        "sh",
        "-c",
        "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; grep 'open files' /proc/self/limits; cat /proc/self/cgroup",
    ]);
    let out = text(&inside.stdout);
    assert_eq!(
        inside.status.code(),
        Some(0),
        "{out}{}",
        text(&inside.stderr)
    );
    let field = |key: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}:")))
            .unwrap_or_else(|| panic!("no {key}: {out}"))
            .trim()
            .to_string()
    };
    // Docker's 14 without NET_RAW (bit 13).
    assert_eq!(
        field("CapEff"),
        format!("{:016x}", 0xa80425fbu64 & !(1 << 13)),
        "{out}"
    );
    assert_eq!(field("CapBnd"), field("CapEff"));
    assert_eq!(field("NoNewPrivs"), "1");
    assert_eq!(field("Seccomp"), "2");
    let files = out
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect(&out);
    assert_eq!(
        files.split_whitespace().skip(3).take(2).collect::<Vec<_>>(),
        ["123", "456"]
    );
    // The container's cgroup is the root of its cgroup namespace, which exec joins too: a
    // process outside that cgroup would show a path (`/..`), not `/`.
    assert!(
        out.lines()
            .any(|l| l.contains(":pids:") && l.ends_with(":/")),
        "the exec'd process is not in the container's cgroup: {out}"
    );
}

#[test]
fn a_foreground_up_of_a_name_running_detached_is_refused() {
    let lab = Lab::new(Mode::Root);
    let name = lab.name("taken");
    let file = lab.container(&name, "command = [\"sleep\", \"60\"]\n");
    lab.up_d(&file);
    let second = lab.run(&["up", &file.display().to_string(), "--", "/bin/true"]);
    let err = text(&second.stderr);
    assert_eq!(second.status.code(), Some(125), "{err}");
    assert!(err.contains("is already running"), "{err}");
    assert!(err.contains(&format!("launcher stop {name}")), "{err}");
}

#[test]
fn an_out_of_memory_kill_shows_in_ps_and_inspect() {
    let lab = Lab::new(Mode::Root);
    let name = lab.name("oom");
    let file = lab.container(
        &name,
        "command = [\"/bin/dd\", \"if=/dev/zero\", \"of=/dev/null\", \"bs=100M\", \"count=1\"]\n[resources]\nmemory = \"32MiB\"\n",
    );
    lab.up_d(&file);
    // `wait` returns once the monitor has recorded the end.
    let wait = lab.run(&["wait", &name]);
    assert_eq!(text(&wait.stdout).trim(), "137", "{}", text(&wait.stderr));
    let info = lab.inspect(&name);
    assert_eq!(info["exit"]["code"], 137, "{info}");
    assert_eq!(
        info["error"], "killed: out of memory, limit 32 MiB",
        "{info}"
    );
    let ps = text(&lab.run(&["ps", "-a"]).stdout);
    assert!(ps.contains("out of memory"), "{ps}");
}
