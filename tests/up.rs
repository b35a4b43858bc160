//! `launcher up` for real: namespaces, root filesystem, mounts, exit codes, signals, init,
//! terminal, failures, cleanup and rootless runs. These need root, as CI has.

use std::io::Read;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::{TempContainer, busybox, launcher_up, require_root, state_envs, text, up};

fn code(output: &Output) -> i32 {
    output
        .status
        .code()
        .unwrap_or_else(|| panic!("launcher killed: {:?}", output.status))
}

/// Runs `sh -c script` in a default busybox container and returns (exit code, stdout).
fn sh(script: &str) -> (i32, String, String) {
    let container = busybox("command = [\"/bin/sh\"]\n");
    let output = up(&container, &["/bin/sh", "-c", script]);
    (code(&output), text(&output.stdout), text(&output.stderr))
}

#[test]
fn the_container_has_its_own_hostname_and_the_host_keeps_its_own() {
    let host_before = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let container = busybox("hostname = \"inside-box\"\ncommand = [\"hostname\"]\n");
    let output = up(&container, &[]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout).trim(), "inside-box");
    let host_after = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(host_before, host_after);
    assert_ne!(host_after.trim(), "inside-box");
}

#[test]
fn the_command_is_pid_2_under_init_and_proc_lists_only_the_container() {
    let (status, out, err) = sh("echo $$; ls -d /proc/[0-9]* | wc -l");
    assert_eq!(status, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "2", "the command should be PID 2 under init");
    // init, sh, ls and wc (pipelines may fork): a handful, never the host's hundreds.
    let count: usize = lines[1].trim().parse().unwrap();
    assert!(count <= 5, "the container's /proc lists {count} processes");
}

#[test]
fn without_init_the_command_is_pid_1() {
    let container = busybox("init = false\ncommand = [\"/bin/sh\", \"-c\", \"echo $$\"]\n");
    let output = up(&container, &[]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout).trim(), "1");
}

#[test]
fn host_files_outside_the_root_filesystem_are_invisible() {
    let container = busybox("command = [\"/bin/sh\"]\n");
    std::fs::write(container.path("secret-next-to-rootfs"), "secret").unwrap();
    let secret = container.path("secret-next-to-rootfs");
    let script = format!(
        "test -e {} && echo visible; test -e /work && echo work; ls /; cat /proc/1/mountinfo | wc -l",
        secret.display()
    );
    let output = up(&container, &["/bin/sh", "-c", &script]);
    let out = text(&output.stdout);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    assert!(!out.contains("visible"), "a host file is visible: {out}");
    assert!(!out.contains("work"), "/work of the host is visible: {out}");
    assert!(out.contains("bin"), "{out}");
}

#[test]
fn a_readonly_bind_refuses_writes_and_a_writable_one_accepts_them() {
    let container = busybox(
        "command = [\"/bin/sh\"]\n\
         [[mount]]\ntype = \"bind\"\nsource = \"ro\"\ntarget = \"/ro\"\nreadonly = true\n\
         [[mount]]\ntype = \"bind\"\nsource = \"rw\"\ntarget = \"/rw\"\n",
    );
    std::fs::create_dir(container.path("ro")).unwrap();
    std::fs::create_dir(container.path("rw")).unwrap();
    std::fs::write(container.path("ro/file"), "original").unwrap();
    let output = up(
        &container,
        &[
            "/bin/sh",
            "-c",
            "cat /ro/file; echo changed > /ro/file && echo WROTE-RO; echo new > /rw/file && echo wrote-rw",
        ],
    );
    let out = text(&output.stdout);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    assert!(out.contains("original"), "{out}");
    assert!(
        !out.contains("WROTE-RO"),
        "a read-only bind accepted a write: {out}"
    );
    assert!(
        text(&output.stderr).contains("Read-only file system"),
        "{}",
        text(&output.stderr)
    );
    assert!(out.contains("wrote-rw"), "{out}");
    assert_eq!(
        std::fs::read_to_string(container.path("ro/file")).unwrap(),
        "original"
    );
    assert_eq!(
        std::fs::read_to_string(container.path("rw/file")).unwrap(),
        "new\n"
    );
}

#[test]
fn a_tmpfs_has_the_size_and_mode_asked_for() {
    let container = busybox(
        "command = [\"/bin/sh\"]\n[[mount]]\ntype = \"tmpfs\"\ntarget = \"/scratch\"\nsize = \"8MiB\"\nmode = \"0700\"\n",
    );
    let output = up(
        &container,
        &[
            "/bin/sh",
            "-c",
            "grep ' /scratch ' /proc/mounts; stat -c %a /scratch",
        ],
    );
    let out = text(&output.stdout);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    assert!(out.contains("size=8192k"), "{out}");
    assert!(out.lines().any(|l| l == "700"), "{out}");
}

#[test]
fn exit_codes_pass_through() {
    for expected in [0, 3, 42] {
        let (status, _, err) = sh(&format!("exit {expected}"));
        assert_eq!(status, expected, "{err}");
    }
}

#[test]
fn a_command_killed_by_a_signal_gives_128_plus_the_signal() {
    let (status, _, _) = sh("kill -KILL $$");
    assert_eq!(status, 128 + 9);
    let (status, _, _) = sh("kill -TERM $$");
    assert_eq!(status, 128 + 15);
}

#[test]
fn a_missing_command_gives_127_and_a_non_executable_one_126() {
    let container = busybox("command = [\"/bin/sh\"]\n");
    let missing = up(&container, &["/no/such/program"]);
    assert_eq!(code(&missing), 127, "{}", text(&missing.stderr));
    assert!(
        text(&missing.stderr).contains("/no/such/program"),
        "{}",
        text(&missing.stderr)
    );
    std::fs::write(container.path("rootfs/not-executable"), "#!/bin/sh\n").unwrap();
    let not_executable = up(&container, &["/not-executable"]);
    assert_eq!(
        code(&not_executable),
        126,
        "{}",
        text(&not_executable.stderr)
    );
}

/// Issue 15, item 3: `up FILE -- nosuch` pointed at the file's `command` line (or its first
/// line) although the command came from the command line.
#[test]
fn a_missing_command_from_the_command_line_is_not_pointed_at_in_the_file() {
    let container = busybox("command = [\"/bin/sh\"]\n");
    let output = up(&container, &["nosuch"]);
    let stderr = text(&output.stderr);
    assert_eq!(code(&output), 127, "{stderr}");
    assert!(
        stderr.contains("the command \"nosuch\" (from the command line"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("Container.toml:1:1") && !stderr.contains("╭─["),
        "the file was pointed at for a command it does not hold:\n{stderr}"
    );
}

#[test]
fn sigterm_to_the_launcher_ends_the_command_and_gives_143() {
    let container = busybox("command = [\"sleep\", \"60\"]\n");
    let mut child = launcher_up(&container, &[])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_process_named("sleep", child.id());
    let started = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn other_signals_reach_the_command() {
    let container = busybox(
        "command = [\"/bin/sh\", \"-c\", \"trap 'echo got-usr1; exit 7' USR1; echo ready; while :; do sleep 0.1; done\"]\n",
    );
    let mut child = launcher_up(&container, &[])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = [0u8; 6];
    stdout.read_exact(&mut seen).unwrap();
    assert_eq!(&seen, b"ready\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::SIGUSR1,
    )
    .unwrap();
    let status = child.wait().unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(status.code(), Some(7), "{rest}");
    assert!(rest.contains("got-usr1"), "{rest}");
}

#[test]
fn orphans_are_reaped_and_leave_no_zombie() {
    // The grandchildren's parent exits at once: they are re-parented to init, which must reap
    // them when they end.
    let (status, out, err) = sh(
        "sh -c 'sleep 0.2 & sleep 0.3 &'; sleep 1; grep -l '^State:.*Z' /proc/[0-9]*/status | wc -l",
    );
    assert_eq!(status, 0, "{err}");
    assert_eq!(out.trim(), "0", "zombies left in the container");
}

#[test]
fn the_container_dies_with_the_launcher() {
    let container = busybox("command = [\"sleep\", \"61\"]\n");
    let mut child = launcher_up(&container, &[])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let sleeper = wait_for_process_named("sleep", child.id());
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Path::new(&format!("/proc/{sleeper}")).exists() {
        assert!(
            Instant::now() < deadline,
            "the container's command {sleeper} outlived the launcher"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn stdin_passes_through_without_a_terminal() {
    let container = busybox("command = [\"cat\"]\n");
    let mut child = launcher_up(&container, &[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"hi through a pipe\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(text(&output.stdout), "hi through a pipe\n");
}

#[test]
fn a_failing_step_names_the_step_and_shows_the_line_that_asked_for_it() {
    // The target runs through a file of the root filesystem: the folder cannot be created, a
    // failure only the kernel can report, at run time.
    let container = busybox(
        "command = [\"/bin/true\"]\n\n[[mount]]\ntype = \"tmpfs\"\ntarget = \"/bin/busybox/inside\"\n",
    );
    let output = up(&container, &[]);
    let err = text(&output.stderr);
    assert_eq!(code(&output), 125, "{err}");
    assert!(
        err.contains("mount tmpfs on /bin/busybox/inside"),
        "the step is not named: {err}"
    );
    assert!(err.contains("ENOTDIR"), "no errno: {err}");
    assert!(
        err.contains("Container.toml:4:1"),
        "no line of Container.toml: {err}"
    );
    assert!(err.contains("[[mount]]"), "the line is not shown: {err}");
    assert!(err.contains("help:"), "no hint: {err}");
}

#[test]
fn containers_leave_no_mount_in_a_shared_parent_namespace() {
    let container = busybox(
        "command = [\"/bin/sh\", \"-c\", \"echo ran\"]\n[[mount]]\ntype = \"tmpfs\"\ntarget = \"/scratch\"\n",
    );
    // A parent mount namespace whose mounts are all shared, as systemd makes them: any
    // mount the container leaked would show in its mountinfo.
    let script = format!(
        "before=$(cat /proc/self/mountinfo); \"$LAUNCHER\" up {} >/dev/null || exit 9; after=$(cat /proc/self/mountinfo); \
         [ \"$before\" = \"$after\" ] || {{ echo LEAKED; diff <(echo \"$before\") <(echo \"$after\"); }}; \
         grep -c shared: /proc/self/mountinfo",
        container.file().display()
    );
    let output = crate::util::shell_with_launcher(
        "unshare",
        &["--mount", "--propagation", "shared", "bash", "-c", &script],
    )
    .envs(state_envs(&container))
    .output()
    .expect("cannot run unshare (util-linux)");
    let out = text(&output.stdout);
    assert!(output.status.success(), "{out}{}", text(&output.stderr));
    assert!(!out.contains("LEAKED"), "{out}");
    let shared: usize = out.trim().lines().last().unwrap().parse().unwrap();
    assert!(shared > 0, "the parent namespace was not shared: {out}");
}

#[test]
fn host_mode_runs_the_hello_example_with_a_fresh_tmp() {
    require_root();
    let output = crate::util::launcher_bin()
        .args(["up", "examples/hello/Container.toml"])
        .current_dir(crate::util::repo())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "hello from hello, PID 2\n");
}

#[test]
fn host_mode_keeps_the_host_root_read_only() {
    let container = TempContainer::new(
        "command = [\"/bin/sh\", \"-c\", \"touch /etc/launcher-test-write && echo WROTE; touch /tmp/ok && echo tmp-ok\"]\n[rootfs]\nhost = true\n",
    );
    require_root();
    let output = up(&container, &[]);
    let out = text(&output.stdout);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    assert!(!out.contains("WROTE"), "{out}");
    assert!(out.contains("tmp-ok"), "{out}");
    assert!(!Path::new("/etc/launcher-test-write").exists());
}

#[test]
fn rootless_a_user_runs_a_container_from_a_root_filesystem_it_owns() {
    let container = busybox(
        "hostname = \"rootless\"\ncommand = [\"/bin/sh\", \"-c\", \"id -u; hostname; cat /proc/self/uid_map; touch /made-inside && echo wrote\"]\n",
    );
    crate::util::chown_tree(container.dir.path(), 65534, 65534);
    let output = crate::util::launcher_through(&[
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ])
    .arg("up")
    .arg(container.file())
    .envs(state_envs(&container))
    .stdin(Stdio::null())
    .output()
    .expect("cannot run setpriv (util-linux)");
    let out = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{out}{}",
        text(&output.stderr)
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0", "root inside: {out}");
    assert_eq!(lines[1], "rootless");
    assert_eq!(
        lines[2].split_whitespace().collect::<Vec<_>>(),
        ["0", "65534", "1"]
    );
    assert!(out.contains("wrote"));
    // Files made inside belong to the user outside.
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(container.path("rootfs/made-inside"))
            .unwrap()
            .uid(),
        65534
    );
}

/// Issue 15, item 8, rootless: /sys and the container's cgroups are there too. With the
/// host's network the kernel refuses a sysfs in a user namespace: /sys is the host's, bound
/// read-only (as runc does), and the cgroups are still the container's own.
#[test]
fn rootless_a_container_gets_a_read_only_sys_and_its_own_cgroups() {
    let script = "awk '$5 ~ /^\\/sys(\\/fs\\/cgroup)?$/ { split($0, a, \" - \"); split(a[2], b, \" \"); print $5, b[1], substr($6, 1, 2) }' /proc/self/mountinfo; \
                  touch /sys/x 2>/dev/null && echo WROTE; cat /proc/self/cgroup | head -1";
    for (network, sys) in [("none", "sysfs"), ("host", "sysfs")] {
        let container = busybox(&format!(
            "command = [\"/bin/sh\", \"-c\", {script:?}]\n[network]\nmode = \"{network}\"\n"
        ));
        crate::util::chown_tree(container.dir.path(), 65534, 65534);
        let output = crate::util::launcher_through(&[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ])
        .arg("up")
        .arg(container.file())
        .envs(state_envs(&container))
        .stdin(Stdio::null())
        .output()
        .expect("cannot run setpriv (util-linux)");
        let out = text(&output.stdout);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{network}: {out}{}",
            text(&output.stderr)
        );
        let lines: Vec<&str> = out.lines().collect();
        // The bind of the host's /sys shows as the host's sysfs: what tells it apart is the
        // plan, checked below.
        assert_eq!(lines[0], format!("/sys {sys} ro"), "{network}: {out}");
        assert!(
            lines[1].starts_with("/sys/fs/cgroup ") && lines[1].ends_with(" ro"),
            "{network}: {out}"
        );
        assert!(!out.contains("WROTE"), "{network}: {out}");
        assert!(lines.last().unwrap().ends_with(":/"), "{network}: {out}");
        let plan = crate::util::launcher_through(&[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ])
        .arg("plan")
        .arg(container.file())
        .envs(state_envs(&container))
        .output()
        .expect("cannot run setpriv (util-linux)");
        let plan = text(&plan.stdout);
        let bound = plan.contains("bind /sys on /sys (read-only)");
        assert_eq!(bound, network == "host", "{network}: {plan}");
    }
}

#[test]
fn rootless_without_a_user_namespace_is_an_error_naming_the_key() {
    let container = busybox("command = [\"/bin/true\"]\n[namespaces]\nuser = false\n");
    crate::util::chown_tree(container.dir.path(), 65534, 65534);
    let output = crate::util::launcher_through(&[
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ])
    .arg("up")
    .arg(container.file())
    .envs(state_envs(&container))
    .env("NO_COLOR", "1")
    .output()
    .unwrap();
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(125), "{err}");
    assert!(err.contains("namespaces.user"), "{err}");
    assert!(err.contains("needs root"), "{err}");
}

/// Waits until a process named `name` runs below `ancestor`; returns its pid.
fn wait_for_process_named(name: &str, ancestor: u32) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == name && descends_from(pid, ancestor) {
                return pid;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no process {name} appeared under {ancestor}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn descends_from(mut pid: u32, ancestor: u32) -> bool {
    for _ in 0..10 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let Some(after) = stat.rsplit_once(')') else {
            return false;
        };
        let Some(ppid) = after
            .1
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok())
        else {
            return false;
        };
        if ppid == ancestor {
            return true;
        }
        if ppid <= 1 {
            return false;
        }
        pid = ppid;
    }
    false
}

/// A pseudo-terminal for the launcher, driven from the test like a person at a keyboard.
struct Keyboard {
    master: std::os::fd::OwnedFd,
    slave: std::os::fd::OwnedFd,
}

impl Keyboard {
    fn new() -> Self {
        let pty = nix::pty::openpty(None, None).expect("cannot open a pseudo-terminal");
        Keyboard {
            master: pty.master,
            slave: pty.slave,
        }
    }

    fn type_text(&self, text: &str) {
        nix::unistd::write(&self.master, text.as_bytes()).expect("cannot type into the terminal");
    }

    /// Reads the screen until `token` appears; returns what was read.
    fn read_until(&self, token: &str, timeout: Duration) -> String {
        use std::os::fd::AsFd;
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            let mut fds = [nix::poll::PollFd::new(
                self.master.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u16)).unwrap_or(0) == 0 {
                continue;
            }
            let mut buf = [0u8; 4096];
            match nix::unistd::read(&self.master, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
            if String::from_utf8_lossy(&seen).contains(token) {
                break;
            }
        }
        String::from_utf8_lossy(&seen).into_owned()
    }

    fn settings(&self) -> nix::sys::termios::Termios {
        nix::sys::termios::tcgetattr(&self.slave).expect("cannot read the terminal's settings")
    }
}

#[test]
fn an_interactive_shell_in_a_terminal_runs_commands_and_ctrl_c_stops_only_the_foreground_job() {
    use std::os::unix::process::CommandExt;
    let container = busybox("command = [\"/bin/sh\"]\n");
    let keyboard = Keyboard::new();
    let before = keyboard.settings();
    let mut cmd = launcher_up(&container, &[]);
    cmd.stdin(keyboard.slave.try_clone().unwrap())
        .stdout(keyboard.slave.try_clone().unwrap())
        .stderr(keyboard.slave.try_clone().unwrap());
    // SAFETY: between fork and exec only async-signal-safe calls (setsid, ioctl) are made.
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::setsid()?;
            if libc::ioctl(0, libc::TIOCSCTTY, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .expect("cannot start the launcher on a terminal");
    let screen = keyboard.read_until("# ", Duration::from_secs(10));
    assert!(screen.contains("# "), "no shell prompt: {screen:?}");

    keyboard.type_text("echo $((6*7)); tty\r");
    let screen = keyboard.read_until("# ", Duration::from_secs(5));
    assert!(screen.contains("42"), "the command did not run: {screen:?}");
    assert!(
        screen.contains("/dev/pts/"),
        "stdin is not a terminal inside: {screen:?}"
    );

    keyboard.type_text("sleep 30\r");
    std::thread::sleep(Duration::from_millis(500));
    let interrupted = Instant::now();
    keyboard.type_text("\x03");
    let screen = keyboard.read_until("# ", Duration::from_secs(5));
    assert!(
        screen.contains("# "),
        "Ctrl-C did not give the prompt back: {screen:?}"
    );
    assert!(
        interrupted.elapsed() < Duration::from_secs(5),
        "Ctrl-C did not stop sleep"
    );

    keyboard.type_text("echo still-here; exit 5\r");
    let screen = keyboard.read_until("still-here\r\n", Duration::from_secs(5));
    assert!(
        screen.contains("still-here"),
        "the shell ended with Ctrl-C: {screen:?}"
    );
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(5));

    let after = keyboard.settings();
    assert_eq!(
        before.local_flags, after.local_flags,
        "terminal local flags not restored"
    );
    assert_eq!(
        before.input_flags, after.input_flags,
        "terminal input flags not restored"
    );
    assert_eq!(
        before.output_flags, after.output_flags,
        "terminal output flags not restored"
    );
}

#[test]
fn host_mode_gives_a_fresh_run_so_host_sockets_are_out_of_reach() {
    require_root();
    let container = TempContainer::new(
        "command = [\"/bin/sh\", \"-c\", \"ls -A /run | wc -l; grep ' /run ' /proc/self/mountinfo | grep -c tmpfs\"]\n[rootfs]\nhost = true\n",
    );
    let output = up(&container, &[]);
    let out = text(&output.stdout);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    assert_eq!(out.lines().collect::<Vec<_>>(), ["0", "1"], "{out}");
}

#[test]
fn a_file_is_bound_onto_a_file() {
    let container = busybox(
        "command = [\"/bin/sh\", \"-c\", \"test -f /etc/greeting && cat /etc/greeting\"]\n[[mount]]\ntype = \"bind\"\nsource = \"greeting.txt\"\ntarget = \"/etc/greeting\"\nreadonly = true\n",
    );
    std::fs::write(container.path("greeting.txt"), "hello, file\n").unwrap();
    let output = up(&container, &[]);
    assert_eq!(
        code(&output),
        0,
        "the target was not made a file: {}",
        text(&output.stderr)
    );
    assert_eq!(text(&output.stdout), "hello, file\n");
    // The empty file made as its target goes with the container (issue 15, item 5).
    assert!(!container.path("rootfs/etc/greeting").exists());
}

/// Issue 15, item 7: `HOME` was /root for every user, `USER` and `LOGNAME` were unset, and a
/// terminal got no `TERM` (programs took it for `dumb`).
#[test]
fn home_user_and_logname_come_from_passwd_and_a_terminal_gets_the_callers_term() {
    let script = "echo \"home=$HOME user=$USER logname=$LOGNAME term=${TERM:-none}\"";
    let container = busybox(&format!(
        "command = [\"/bin/sh\", \"-c\", {script:?}]\nuser = \"nobody\"\n[security]\nno_new_privileges = true\n"
    ));
    let output = up(&container, &[]);
    let out = text(&output.stdout);
    assert!(
        out.contains("home=/ user=nobody logname=nobody term=none"),
        "{out}{}",
        text(&output.stderr)
    );
    let container = busybox(&format!(
        "command = [\"/bin/sh\", \"-c\", {script:?}]\nterminal = true\n"
    ));
    let output = launcher_up(&container, &[])
        .env("TERM", "screen-256color")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = text(&output.stdout);
    assert!(
        out.contains("home=/root user=root logname=root term=screen-256color"),
        "{out}{}",
        text(&output.stderr)
    );
    let output = launcher_up(&container, &[])
        .env_remove("TERM")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = text(&output.stdout);
    assert!(out.contains("term=xterm"), "{out}{}", text(&output.stderr));
}

/// Issue 15, item 5: the folders and empty files the launcher made in the root folder as
/// mount targets stayed there after the container ended. What the container wrote stays.
#[test]
fn mount_targets_made_in_the_root_folder_are_removed_when_the_container_ends() {
    let container = busybox(
        "command = [\"/bin/sh\", \"-c\", \"echo kept > /made/kept; ls /scratch/deep /data /etc/extra.conf >/dev/null\"]\n\
         [[mount]]\ntype = \"tmpfs\"\ntarget = \"/scratch/deep\"\n\
         [[mount]]\ntype = \"bind\"\nsource = \"data\"\ntarget = \"/data\"\n\
         [[mount]]\ntype = \"bind\"\nsource = \"extra.conf\"\ntarget = \"/etc/extra.conf\"\n\
         [[mount]]\ntype = \"tmpfs\"\ntarget = \"/made/sub\"\n\
         [[mount]]\ntype = \"tmpfs\"\ntarget = \"/mnt\"\n",
    );
    std::fs::create_dir(container.path("data")).unwrap();
    std::fs::write(container.path("extra.conf"), "x=1\n").unwrap();
    std::fs::create_dir_all(container.path("rootfs/mnt")).unwrap();
    let output = up(&container, &[]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let rootfs = container.path("rootfs");
    for gone in ["scratch", "data", "etc/extra.conf", "made/sub"] {
        assert!(
            !rootfs.join(gone).exists(),
            "{gone} was left in the root folder"
        );
    }
    assert_eq!(
        std::fs::read_to_string(rootfs.join("made/kept")).unwrap(),
        "kept\n",
        "what the container wrote was removed"
    );
    assert!(
        rootfs.join("mnt").is_dir(),
        "a folder that was there was removed"
    );
}
