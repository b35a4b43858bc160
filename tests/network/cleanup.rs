//! Nothing is left: 100 attach/release cycles, and a prune after the launcher was killed.

use super::bridge::{attach, prune_all, release, tcp_get_ok};
use super::harness::{HOST_ADDRESS, Process, World, container, tcp_server};

/// The pids of this test process's children that are not `expected`.
fn children(expected: &[i32]) -> Vec<i32> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        if rest.split_whitespace().nth(1) == Some(me.as_str()) && !expected.contains(&pid) {
            found.push(pid);
        }
    }
    found
}

#[test]
fn a_hundred_attach_release_cycles_leave_no_link_rule_lease_or_process() {
    let world = World::new();
    let web = container(None);
    let before = world.host_links();
    for round in 0..100 {
        let attachment = attach(&world, &web, "web", "default", &["8080:80"]);
        if round == 0 {
            // The first round proves the port works at all.
            let server = tcp_server(&web, 80, "web");
            tcp_get_ok(&world.host, "127.0.0.1:8080", "web");
            server.join().unwrap();
        }
        release(&world, attachment);
    }
    // The network stays (its bridge and NAT) until pruned; nothing of the container does.
    let links = world.host_links();
    assert!(
        !links.iter().any(|l| l.starts_with("lv-")),
        "veth ends left: {links:?}"
    );
    assert_eq!(
        links.len(),
        before.len() + 1,
        "{links:?} (before: {before:?})"
    );
    let ruleset = world.ruleset();
    assert!(!ruleset.contains("container web"), "{ruleset}");
    assert_eq!(
        world.state_files(),
        vec!["default/network.json".to_string()]
    );
    let inside = web.sh_ok("ip -o link show");
    assert!(!inside.contains("eth0"), "{inside}");
    // Other sessions' processes are not children of this one; other tests' are listed
    // in flight, so only nft/ip processes of ours would show here, and none may.
    let leftover: Vec<String> = children(&[])
        .into_iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).ok())
        .filter(|comm| comm.trim() == "nft")
        .collect();
    assert!(leftover.is_empty(), "nft processes left: {leftover:?}");
    prune_all(&world);
    world.assert_clean();
}

/// `launcher network ARGS` with the test's state folder, run inside the host namespace.
fn launcher_network(world: &World, args: &[&str]) -> (bool, String, String) {
    let output = world.host.run(|| {
        crate::util::launcher_bin()
            .arg("--root")
            .arg(world.state_root())
            .arg("network")
            .args(args)
            .env("NO_COLOR", "1")
            .output()
            .expect("cannot run launcher")
    });
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn prune_after_a_kill_removes_the_dead_containers_leftovers_and_spares_the_living() {
    let world = World::new();
    let mut dead: Process = container(None);
    let alive = container(None);
    let doomed = attach(&world, &dead, "doomed", "default", &["8081:80"]);
    let survivor = attach(&world, &alive, "survivor", "default", &["8082:80"]);
    // The launcher of `doomed` is killed: nothing releases its attachment, and its
    // container ends with it.
    std::mem::forget(doomed);
    dead.kill();
    let (ok, listed, _) = launcher_network(&world, &["ls"]);
    assert!(
        ok && listed.contains("default") && listed.contains("doomed,survivor"),
        "{listed}"
    );
    let (ok, json, _) = launcher_network(&world, &["inspect", "default"]);
    assert!(ok && json.contains("\"host_link\": \"lv-doomed-"), "{json}");
    // The rules of the dead are there still.
    assert!(world.ruleset().contains("container doomed"));
    let (ok, said, err) = launcher_network(&world, &["prune"]);
    assert!(ok, "prune failed: {err}");
    // (Its veth pair goes with its namespace; prune removes it if the kernel has not yet.)
    let said: Vec<&str> = said
        .lines()
        .filter(|l| !l.starts_with("removed link lv-doomed-"))
        .collect();
    assert_eq!(said, ["removed lease default/doomed"]);
    let ruleset = world.ruleset();
    assert!(!ruleset.contains("container doomed"), "{ruleset}");
    assert!(ruleset.contains("container survivor"), "{ruleset}");
    assert_eq!(world.state_files().len(), 2, "{:?}", world.state_files());
    // The living container's port still answers.
    let server = tcp_server(&alive, 80, "survivor");
    tcp_get_ok(&world.host, &format!("{HOST_ADDRESS}:8082"), "survivor");
    server.join().unwrap();
    // A network in use is not removed.
    let (ok, _, err) = launcher_network(&world, &["rm", "default"]);
    assert!(!ok && err.contains("survivor"), "{err}");
    release(&world, survivor);
    // With every container gone, prune removes the network: bridge, rules, table, state.
    let (ok, said, err) = launcher_network(&world, &["prune"]);
    assert!(ok, "prune failed: {err}");
    assert_eq!(said, "removed network default\n");
    world.assert_clean();
    drop(alive);
    prune_all(&world);
}
