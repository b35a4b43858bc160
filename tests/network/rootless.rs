//! Rootless: pasta, run as uid 65534, for a container in a user and network namespace of
//! that user, with a published port.

use launcher::network::{self, Netns, PastaRequest, etc};

use super::harness::{HOST_ADDRESS, OUTSIDE_ADDRESS, Process, World, require, tcp_get, tcp_server};

#[test]
fn pasta_as_nobody_publishes_a_port_and_carries_outbound_traffic() {
    require("pasta", "passt");
    require("setpriv", "util-linux");
    let world = World::new();
    // The container: uid 65534's own user namespace (root inside) and network namespace.
    let web = Process::spawn(
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "unshare",
            "-U",
            "--map-root-user",
            "-n",
            "sleep",
            "100000",
        ],
        "sleep",
    );
    let netns = Netns::of_pid(web.pid()).expect("netns");
    let ports = network::ports::parse_all(&["8080:80"]).unwrap();
    let state = tempfile::tempdir().unwrap();
    // Whatever happens below, the recorded pasta is ended.
    let _guard = PastaGuard(state.path().to_path_buf());
    let request = PastaRequest {
        ports,
        run_as: Some((65534, 65534)),
        record: Some((state.path().to_path_buf(), "web".into())),
    };
    let pasta = world
        .host
        .run(|| network::pasta::start(&netns, &request))
        .unwrap_or_else(|e| panic!("pasta: {e}\n  hint: {}", e.hint()));
    let pasta_pid = pasta.pid();
    let record = state.path().join(".networks/.pasta/web.json");
    assert!(record.exists(), "pasta was not recorded");
    let owner = std::fs::read_to_string(format!("/proc/{pasta_pid}/status")).unwrap();
    assert!(
        owner
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("65534")),
        "pasta does not run as 65534:\n{owner}"
    );
    // The published port, from the host's 127.0.0.1. (Left out: from the outside world at
    // the host's address. With Debian 12's pasta (2023-03) such connections were accepted by
    // pasta but never reached a listener of this test in the container, though busybox nc
    // got them in a shell run; not understood yet. The host cannot reach the container at
    // its own non-loopback address: pasta gives the container the host's address.)
    let server = tcp_server(&web, 80, "web");
    let said = tcp_get(&world.host, "127.0.0.1:8080").expect("127.0.0.1:8080 through pasta");
    assert!(said.starts_with("web "), "{said}");
    server.join().unwrap();
    // Outbound: pasta opens the connection from the host's side.
    let outside = tcp_server(&world.outside, 7000, "outside");
    let said = tcp_get(&web, &format!("{OUTSIDE_ADDRESS}:7000")).expect("outbound through pasta");
    assert_eq!(said, format!("outside {HOST_ADDRESS}"));
    outside.join().unwrap();
    // resolv.conf points at pasta's DNS forwarder.
    let dir = tempfile::tempdir().unwrap();
    let resolv = etc::pasta_resolvers(pasta.dns_forwarder(), &etc::HostDns::default());
    let files = etc::write_standalone(dir.path(), "web", "web", &[], &resolv).unwrap();
    let text = std::fs::read_to_string(&files.resolv_conf).unwrap();
    assert!(text.contains("nameserver 169.254.1.1\n"), "{text}");
    assert!(
        std::fs::read_to_string(&files.hosts)
            .unwrap()
            .contains("127.0.1.1\tweb\n")
    );
    // Release ends pasta, and its port is free again.
    pasta.release().expect("release pasta");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::fs::metadata(format!("/proc/{pasta_pid}")).is_ok() {
        let state = std::fs::read_to_string(format!("/proc/{pasta_pid}/stat")).unwrap_or_default();
        // Reparented to init once it forked: a zombie until init reaps it is gone enough.
        if state.contains(") Z ") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "pasta (pid {pasta_pid}) still runs"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(tcp_get(&world.host, "127.0.0.1:8080").is_err());
    assert!(!record.exists(), "release left pasta's record");
    world.assert_clean();
}

/// Ends the pasta recorded under a state root, by its record.
struct PastaGuard(std::path::PathBuf);

impl Drop for PastaGuard {
    fn drop(&mut self) {
        let _ = network::release_container(&self.0, "web");
    }
}

#[test]
fn a_recorded_pasta_is_ended_once_its_container_is_gone() {
    require("pasta", "passt");
    let world = World::new();
    let web = Process::spawn(
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "unshare",
            "-U",
            "--map-root-user",
            "-n",
            "sleep",
            "100000",
        ],
        "sleep",
    );
    let netns = Netns::of_pid(web.pid()).expect("netns");
    let state = tempfile::tempdir().unwrap();
    let _guard = PastaGuard(state.path().to_path_buf());
    let request = PastaRequest {
        ports: Vec::new(),
        run_as: Some((65534, 65534)),
        record: Some((state.path().to_path_buf(), "web".into())),
    };
    let pasta = world
        .host
        .run(|| network::pasta::start(&netns, &request))
        .unwrap_or_else(|e| panic!("pasta: {e}\n  hint: {}", e.hint()));
    let pasta_pid = pasta.pid();
    // The launcher that held it is gone (forgotten, as a kill -9 would), so is the container.
    std::mem::forget(pasta);
    drop(netns);
    drop(web);
    let report = network::prune(state.path(), |lease| lease.owner_alive()).expect("prune");
    assert_eq!(report.pastas, vec!["web".to_string()]);
    let state_of = std::fs::read_to_string(format!("/proc/{pasta_pid}/stat")).unwrap_or_default();
    assert!(
        state_of.is_empty() || state_of.contains(") Z "),
        "pasta {pasta_pid} still runs: {state_of}"
    );
    assert!(!state.path().join(".networks/.pasta/web.json").exists());
    world.assert_clean();
}
