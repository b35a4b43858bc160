//! `[network]` through `launcher up`: the launcher binary runs inside the World's "host"
//! namespace (its state in the World's folder), its containers on bridged networks or behind
//! pasta; what each test made is removed by drop guards, and `assert_clean` checks that no
//! link, rule or lease is left.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::harness::{HOST_ADDRESS, OUTSIDE_ADDRESS, World, require, tcp_get, tcp_server, udp_ask};
use crate::util::{TempContainer, busybox, chown_tree, ensure_busybox_rootfs, repo, text};

/// Runs the launcher with `args` in the host namespace of `world`, with its state there.
fn launcher(world: &World, args: &[&str]) -> Output {
    launcher_as(world, None, world.state_root(), args)
}

/// As [`launcher`], as `uid` (through setpriv) with the state folder `state`.
fn launcher_as(world: &World, uid: Option<u32>, state: &Path, args: &[&str]) -> Output {
    let setpriv = uid.map(|uid| {
        [
            "setpriv".to_string(),
            format!("--reuid={uid}"),
            format!("--regid={uid}"),
            "--clear-groups".to_string(),
        ]
    });
    let wrapper: Vec<&str> = setpriv.iter().flatten().map(String::as_str).collect();
    // The tests' own environment, then this test's state folder over it.
    let mut command = crate::util::launcher_through(&wrapper);
    command
        .args(args)
        .env("LAUNCHER_STATE_DIR", state)
        .env("LAUNCHER_CACHE_DIR", state.join(".cache"))
        .env("LAUNCHER_STORE_DIR", state.join(".images"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    world
        .host
        .run(move || command.output().expect("cannot run the launcher"))
}

fn ok(output: &Output, what: &str) -> String {
    assert_eq!(
        output.status.code(),
        Some(0),
        "{what}: {}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// A detached container, stopped and removed when dropped, then the networks no container
/// uses: what a test leaves is what the launcher would leave.
struct Detached<'a> {
    world: &'a World,
    name: String,
    uid: Option<u32>,
    state: std::path::PathBuf,
}

impl<'a> Detached<'a> {
    fn up(world: &'a World, container: &TempContainer) -> Detached<'a> {
        Self::up_as(world, None, world.state_root(), container)
    }

    fn up_as(
        world: &'a World,
        uid: Option<u32>,
        state: &Path,
        container: &TempContainer,
    ) -> Detached<'a> {
        let output = launcher_as(world, uid, state, &["up", "-d", &container.file_str()]);
        let name = ok(&output, "up -d").trim().to_string();
        Detached {
            world,
            name,
            uid,
            state: state.to_path_buf(),
        }
    }

    fn inspect(&self) -> serde_json::Value {
        let output = launcher_as(self.world, self.uid, &self.state, &["inspect", &self.name]);
        serde_json::from_str(&ok(&output, "inspect")).expect("inspect prints JSON")
    }
}

impl Drop for Detached<'_> {
    fn drop(&mut self) {
        let _ = launcher_as(self.world, self.uid, &self.state, &["rm", "-f", &self.name]);
    }
}

/// Removes the networks the test's containers made (after the containers), so that
/// `assert_clean` sees what the launcher leaves.
fn remove_networks(world: &World) {
    let _ = launcher(world, &["network", "prune"]);
}

/// A Container.toml on the repository's busybox root filesystem.
fn on_busybox(body: &str) -> TempContainer {
    crate::util::require_root();
    ensure_busybox_rootfs();
    TempContainer::new(&format!(
        "rootfs = \"{}\"\n{body}",
        repo().join("rootfs").display()
    ))
}

/// A Container.toml on the host's own / (read-only), where python3 serves.
fn on_host(body: &str) -> TempContainer {
    crate::util::require_root();
    require("python3", "python3");
    TempContainer::new(&format!("{body}\n[rootfs]\nhost = true\n"))
}

/// A python3 server: TCP `tcp` answers each connection with `reply` and the peer's address,
/// UDP `udp` (when given) answers each datagram with `reply`.
fn python_server(tcp: u16, udp: Option<u16>, reply: &str) -> String {
    let udp = udp.map_or(String::new(), |port| {
        format!(
            "u=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nu.bind(('0.0.0.0',{port}))\ndef dgrams():\n    while True:\n        d,a=u.recvfrom(512)\n        u.sendto(b'{reply}',a)\nthreading.Thread(target=dgrams,daemon=True).start()\n"
        )
    });
    let script = format!(
        "import socket,threading\n{udp}t=socket.socket()\nt.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\nt.bind(('0.0.0.0',{tcp}))\nt.listen(16)\nwhile True:\n    c,a=t.accept()\n    c.sendall(('{reply} '+a[0]+'\\n').encode())\n    c.close()\n"
    );
    format!("command = [\"python3\", \"-c\", {script:?}]\n")
}

/// Polls until `probe` succeeds (the container's server is up) or 10 s pass.
fn eventually<T>(what: &str, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match probe() {
            Ok(value) => return value,
            Err(error) if Instant::now() > deadline => panic!("{what}: {error}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

#[test]
fn outbound_tcp_of_a_bridged_container_leaves_through_nat() {
    let world = World::new();
    let server = tcp_server(&world.outside, 9000, "outside-says");
    let container = on_busybox(&format!(
        "name = \"nat-out\"\ncommand = [\"nc\", \"{OUTSIDE_ADDRESS}\", \"9000\"]\n[network]\nmode = \"bridge\"\n"
    ));
    let out = ok(&launcher(&world, &["up", &container.file_str()]), "up");
    // The outside saw the host's address: the container's own was masqueraded.
    assert_eq!(out.trim(), format!("outside-says {HOST_ADDRESS}"), "{out}");
    assert_eq!(server.join().unwrap(), 1);
    remove_networks(&world);
    world.assert_clean();
}

#[test]
fn published_tcp_and_udp_ports_answer_on_the_hosts_address_localhost_and_from_outside() {
    let world = World::new();
    let container = on_host(&format!(
        "name = \"published\"\n{}[network]\nmode = \"bridge\"\nports = [\"8080:80\", \"5353:53/udp\"]\n",
        python_server(80, Some(53), "inside")
    ));
    let running = Detached::up(&world, &container);
    let from_host = eventually("TCP from the host's address", || {
        tcp_get(&world.host, &format!("{HOST_ADDRESS}:8080"))
    });
    assert!(from_host.starts_with("inside "), "{from_host}");
    let from_localhost = tcp_get(&world.host, "127.0.0.1:8080").expect("TCP from 127.0.0.1");
    assert!(from_localhost.starts_with("inside "), "{from_localhost}");
    // From another machine, the client's own address reaches the container.
    let from_outside =
        tcp_get(&world.outside, &format!("{HOST_ADDRESS}:8080")).expect("TCP from outside");
    assert_eq!(from_outside, format!("inside {OUTSIDE_ADDRESS}"));
    for address in [format!("{HOST_ADDRESS}:5353"), "127.0.0.1:5353".to_string()] {
        let answer = udp_ask(&world.host, &address).expect("UDP");
        assert_eq!(answer, "inside", "UDP {address}");
    }
    let answer = udp_ask(&world.outside, &format!("{HOST_ADDRESS}:5353")).expect("UDP outside");
    assert_eq!(answer, "inside");
    let ports = running.inspect().to_string();
    assert!(
        ports.contains("8080"),
        "inspect shows the plan's ports: {ports}"
    );
    drop(running);
    remove_networks(&world);
    world.assert_clean();
}

#[test]
fn containers_of_one_network_reach_each_other_by_name_and_other_networks_stay_apart() {
    let world = World::new();
    let server = on_host(&format!(
        "name = \"srv\"\n{}[network]\nmode = \"bridge\"\nnetwork = \"one\"\nsubnet = \"10.91.1.0/24\"\n",
        python_server(80, None, "srv-here")
    ));
    let running = Detached::up(&world, &server);
    let address = wait_for_address(&world, "one", "srv");
    let peer = on_busybox(
        "name = \"peer\"\ncommand = [\"sh\", \"-c\", \"for i in 1 2 3 4 5 6 7 8 9 10; do nc -w 2 srv 80 && exit 0; sleep 0.3; done; exit 1\"]\n[network]\nmode = \"bridge\"\nnetwork = \"one\"\n",
    );
    let out = ok(&launcher(&world, &["up", &peer.file_str()]), "up peer");
    assert!(
        out.starts_with("srv-here 10.91.1."),
        "by name on one network: {out}"
    );
    let stranger = on_busybox(&format!(
        "name = \"stranger\"\ncommand = [\"nc\", \"-w\", \"2\", \"{address}\", \"80\"]\n[network]\nmode = \"bridge\"\nnetwork = \"two\"\nsubnet = \"10.91.2.0/24\"\n"
    ));
    let output = launcher(&world, &["up", &stranger.file_str()]);
    assert_ne!(
        output.status.code(),
        Some(0),
        "another network reached {address}"
    );
    assert!(!text(&output.stdout).contains("srv-here"));
    drop(running);
    remove_networks(&world);
    world.assert_clean();
}

/// The address of `container`'s lease on `network`, once it has one.
fn wait_for_address(world: &World, network: &str, container: &str) -> String {
    eventually("the lease", || {
        let output = launcher(world, &["network", "inspect", network]);
        let json: serde_json::Value =
            serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())?;
        json["leases"]
            .as_array()
            .and_then(|leases| {
                leases
                    .iter()
                    .find(|l| l["container"] == container)
                    .and_then(|l| l["address"].as_str().map(str::to_string))
            })
            .ok_or_else(|| format!("no lease of {container}: {json}"))
    })
}

#[test]
fn the_etc_files_say_the_dns_hosts_and_hostname_and_the_rootfs_is_untouched() {
    let world = World::new();
    let container = busybox(
        "name = \"etc\"\nhostname = \"box\"\ncommand = [\"sh\", \"-c\", \"cat /etc/resolv.conf /etc/hosts /etc/hostname; echo x > /etc/hosts && echo WROTE\"]\n[network]\nmode = \"bridge\"\ndns = [\"192.0.2.53\"]\nhosts = { \"db.internal\" = \"10.1.2.3\" }\n",
    );
    let before: Vec<String> = ["resolv.conf", "hosts", "hostname"]
        .iter()
        .map(|f| std::fs::read_to_string(container.path(&format!("rootfs/etc/{f}"))).unwrap())
        .collect();
    let output = launcher(&world, &["up", &container.file_str()]);
    let out = text(&output.stdout);
    assert!(out.contains("nameserver 192.0.2.53"), "{out}");
    assert!(out.contains("10.1.2.3\tdb.internal"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("10.90.") && l.ends_with("\tbox etc")),
        "{out}"
    );
    assert!(out.lines().any(|l| l == "box"), "{out}");
    assert!(
        !out.contains("WROTE"),
        "the files are bound read-only: {out}"
    );
    let after: Vec<String> = ["resolv.conf", "hosts", "hostname"]
        .iter()
        .map(|f| std::fs::read_to_string(container.path(&format!("rootfs/etc/{f}"))).unwrap())
        .collect();
    assert_eq!(before, after, "the root filesystem's files are not written");
    remove_networks(&world);
    world.assert_clean();
}

#[test]
fn rootless_pasta_publishes_a_port_and_carries_outbound_traffic_as_nobody() {
    require("pasta", "passt");
    let world = World::new();
    let outside = tcp_server(&world.outside, 9001, "outside-says");
    let container = busybox(
        "name = \"pasta-up\"\ncommand = [\"nc\", \"-ll\", \"-p\", \"80\", \"-e\", \"/relay\"]\n[network]\nmode = \"pasta\"\nports = [\"8081:80\"]\n",
    );
    // Each connection to the published port makes one to the outside and relays its answer.
    let relay = container.path("rootfs/relay");
    std::fs::write(
        &relay,
        format!("#!/bin/sh\ntimeout 3 nc {OUTSIDE_ADDRESS} 9001\n"),
    )
    .unwrap();
    std::fs::set_permissions(&relay, std::fs::Permissions::from_mode(0o755)).unwrap();
    chown_tree(container.dir.path(), 65534, 65534);
    let state = container.path(".state");
    std::fs::create_dir(&state).unwrap();
    chown_tree(&state, 65534, 65534);
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    let running = Detached::up_as(&world, Some(65534), &state, &container);
    // In through the published port, out to the outside with the host's address.
    let answer = eventually("the published port", || {
        tcp_get(&world.host, "127.0.0.1:8081").and_then(|a| {
            if a.is_empty() {
                Err("empty".into())
            } else {
                Ok(a)
            }
        })
    });
    assert_eq!(answer, format!("outside-says {HOST_ADDRESS}"));
    let record = running.inspect();
    assert_eq!(record["state"], "running", "{record}");
    drop(running);
    assert!(outside.join().unwrap() >= 1);
    // The pasta is gone with its container, and so is its record.
    let records = std::fs::read_dir(state.join(".networks/.pasta"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
        .unwrap_or_default();
    assert!(records.is_empty(), "pasta records left: {records:?}");
    let pastas = Command::new("pgrep")
        .args(["-u", "65534", "pasta"])
        .output();
    if let Ok(pastas) = pastas {
        let ours: Vec<String> = text(&pastas.stdout)
            .lines()
            .filter(|pid| {
                std::fs::read_link(format!("/proc/{pid}/ns/net")).ok()
                    == std::fs::read_link(format!("/proc/{}/ns/net", world.host.pid())).ok()
            })
            .map(str::to_string)
            .collect();
        assert!(ours.is_empty(), "pasta left running: {ours:?}");
    }
    world.assert_clean();
}

#[test]
fn a_hundred_bridged_containers_start_and_stop_leaving_nothing() {
    let world = World::new();
    let container = on_busybox(
        "name = \"many\"\ncommand = [\"/bin/true\"]\n[network]\nmode = \"bridge\"\nports = [\"8090:80\", \"8091:81/udp\"]\n",
    );
    for run in 0..100 {
        let output = launcher(&world, &["up", &container.file_str()]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "run {run}: {}",
            text(&output.stderr)
        );
    }
    assert_eq!(
        world
            .state_files()
            .iter()
            .filter(|f| f.contains("lease"))
            .count(),
        0
    );
    assert!(
        !world.ruleset().contains("container many"),
        "{}",
        world.ruleset()
    );
    remove_networks(&world);
    world.assert_clean();
}

#[test]
fn after_kill_9_of_monitor_and_container_rm_next_up_and_prune_clean_up() {
    let world = World::new();
    let container = on_busybox(
        "name = \"killed\"\ncommand = [\"sleep\", \"1000\"]\n[network]\nmode = \"bridge\"\nports = [\"8092:80\"]\n",
    );
    let kill_all = |running: &Detached| {
        let record = running.inspect();
        for key in ["monitor_pid", "pid"] {
            let pid = record[key]
                .as_i64()
                .unwrap_or_else(|| panic!("no {key}: {record}"));
            // Processes this test started, by pid.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            world.state_files().iter().any(|f| f.contains("killed")),
            "the lease outlives a kill -9: {:?}",
            world.state_files()
        );
        assert!(world.ruleset().contains("killed"), "and so do its rules");
    };
    // `rm` of the dead container.
    let running = Detached::up(&world, &container);
    kill_all(&running);
    ok(&launcher(&world, &["rm", "killed"]), "rm");
    assert!(!world.state_files().iter().any(|f| f.contains("killed")));
    assert!(!world.ruleset().contains("killed"), "{}", world.ruleset());
    drop(running);
    // The next `up` of the name.
    let running = Detached::up(&world, &container);
    kill_all(&running);
    let again = Detached::up(&world, &container);
    let leases: Vec<String> = world
        .state_files()
        .into_iter()
        .filter(|f| f.contains("killed"))
        .collect();
    assert_eq!(leases.len(), 1, "one lease, the new run's: {leases:?}");
    kill_all(&again);
    // Not `rm` (each guard would): prune must find what the dead container left.
    std::mem::forget(running);
    std::mem::forget(again);
    // `network prune`, which finds the container gone.
    let report = ok(&launcher(&world, &["network", "prune"]), "prune");
    assert!(
        report.contains("lease"),
        "prune says what it removed: {report}"
    );
    let _ = launcher(&world, &["rm", "-f", "killed"]);
    world.assert_clean();
}

#[test]
fn a_taken_port_and_a_subnet_on_a_host_route_are_errors_at_their_lines_before_anything_is_made() {
    let world = World::new();
    // A program of the host listens on 8093.
    let listener = world
        .host
        .run(|| std::net::TcpListener::bind("0.0.0.0:8093").expect("cannot listen"));
    let container = on_busybox(
        "name = \"refused\"\ncommand = [\"/bin/true\"]\n[network]\nmode = \"bridge\"\nsubnet = \"192.0.2.0/24\"\nports = [\"8093:80\", \"8094:80\"]\n",
    );
    for command in ["check", "up"] {
        let output = launcher(&world, &[command, &container.file_str()]);
        let err = text(&output.stderr);
        assert_ne!(output.status.code(), Some(0), "{command}: {err}");
        assert!(
            err.contains("network.ports[1]"),
            "{command}: the port's line: {err}"
        );
        assert!(err.contains("listens on it"), "{command}: {err}");
        assert!(
            !err.contains("network.ports[2]"),
            "{command}: 8094 is free: {err}"
        );
        assert!(
            err.contains("network.subnet"),
            "{command}: the subnet's line: {err}"
        );
        assert!(
            err.contains("overlaps the host route 192.0.2.0/24"),
            "{command}: {err}"
        );
    }
    drop(listener);
    world.assert_clean();
}

#[test]
fn a_bridge_without_root_is_an_error_that_names_pasta() {
    let world = World::new();
    let container =
        busybox("name = \"no-root\"\ncommand = [\"/bin/true\"]\n[network]\nmode = \"bridge\"\n");
    chown_tree(container.dir.path(), 65534, 65534);
    let state = container.path(".state");
    let output = launcher_as(&world, Some(65534), &state, &["up", &container.file_str()]);
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(125), "{err}");
    assert!(err.contains("network.mode"), "{err}");
    assert!(err.contains("needs root"), "{err}");
    assert!(err.contains("mode = \"pasta\""), "{err}");
    world.assert_clean();
}

#[test]
fn the_web_example_answers_on_localhost_8080() {
    crate::util::require_root();
    ensure_busybox_rootfs();
    let world = World::new();
    let file = repo().join("examples/web/Container.toml");
    let output = launcher(&world, &["up", "-d", &file.display().to_string()]);
    let name = ok(&output, "up -d examples/web").trim().to_string();
    struct Stop<'a>(&'a World, String);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = launcher(self.0, &["rm", "-f", &self.1]);
        }
    }
    let _stop = Stop(&world, name);
    // What `curl localhost:8080` does.
    let page = eventually("GET / on 127.0.0.1:8080", || {
        world.host.run(|| {
            use std::io::{Read, Write};
            let mut stream =
                std::net::TcpStream::connect("127.0.0.1:8080").map_err(|e| e.to_string())?;
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .map_err(|e| e.to_string())?;
            stream
                .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
                .map_err(|e| e.to_string())?;
            let mut page = String::new();
            stream
                .read_to_string(&mut page)
                .map_err(|e| e.to_string())?;
            Ok(page)
        })
    });
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
    assert!(page.contains("Hello from a container"), "{page}");
    drop(_stop);
    remove_networks(&world);
    world.assert_clean();
}

#[test]
fn a_bridged_container_runs_exactly_the_steps_of_its_plan_in_order() {
    let world = World::new();
    let container = on_busybox(
        "name = \"steps\"\ncommand = [\"/bin/true\"]\n[network]\nmode = \"bridge\"\nports = [\"8095:80\"]\n",
    );
    let plan = ok(
        &launcher(&world, &["plan", "--format", "json", &container.file_str()]),
        "plan",
    );
    let plan: serde_json::Value = serde_json::from_str(&plan).expect("plan JSON");
    let steps: Vec<u64> = plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["index"].as_u64().expect("index"))
        .collect();
    let names: Vec<&str> = plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["step"].as_str())
        .collect();
    for kind in ["network", "network_release"] {
        assert!(names.contains(&kind), "no {kind} step: {names:?}");
    }
    assert!(
        !names.contains(&"loopback_up"),
        "the attach brings loopback up: {names:?}"
    );
    let output = launcher(&world, &["up", "--debug", &container.file_str()]);
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{err}");
    let ran: Vec<u64> = err
        .lines()
        .filter_map(|l| l.strip_prefix("launcher: step "))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(ran, steps, "ran:\n{err}");
    remove_networks(&world);
    world.assert_clean();
}
