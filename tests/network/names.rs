//! /etc/hosts, /etc/resolv.conf and /etc/hostname: their text, and containers that find each
//! other by name through them.

use std::path::Path;

use launcher::network::{
    self, AttachRequest, Attachment, EtcRequest, HostDns, HostEntry, Netns, NetworkSpec,
};

use super::bridge::{prune_all, release};
use super::harness::{Process, World, container, tcp_get, tcp_server};

fn attach_with_files(
    world: &World,
    who: &Process,
    name: &str,
    dir: &Path,
    etc: EtcRequest,
) -> Attachment {
    let netns = Netns::of_pid(who.pid()).expect("netns");
    world
        .host
        .run(|| {
            network::attach(AttachRequest {
                state_root: world.state_root(),
                network: NetworkSpec::named("names"),
                container: name,
                hostname: &format!("{name}-host"),
                netns: &netns,
                address: None,
                ports: Vec::new(),
                etc: Some(EtcRequest {
                    dir: dir.to_path_buf(),
                    ..etc
                }),
            })
        })
        .unwrap_or_else(|e| panic!("attach {name}: {e}"))
}

/// The host's resolver settings as a systemd-resolved host has them: the stub, and the
/// upstream list.
fn stub_host_dns(dir: &Path) -> HostDns {
    std::fs::write(
        dir.join("host-resolv.conf"),
        "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch corp.example\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("upstream.conf"),
        "nameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch corp.example\n",
    )
    .unwrap();
    HostDns {
        resolv_conf: dir.join("host-resolv.conf"),
        upstream: dir.join("upstream.conf"),
    }
}

#[test]
fn containers_of_one_network_find_each_other_by_name_whichever_started_first() {
    let world = World::new();
    let scratch = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (scratch.path().join("a"), scratch.path().join("b"));
    std::fs::create_dir(&dir_a).unwrap();
    std::fs::create_dir(&dir_b).unwrap();
    let host_dns = stub_host_dns(scratch.path());
    let etc = EtcRequest {
        host_dns,
        ..EtcRequest::default()
    };
    let alice = container(Some(&dir_a));
    let on_a = attach_with_files(&world, &alice, "alice", &dir_a, etc.clone());
    // Bob joins later: alice's hosts file, bound into her running container, learns of him.
    let bob = container(Some(&dir_b));
    let on_b = attach_with_files(&world, &bob, "bob", &dir_b, etc);
    let resolve = |who: &Process, name: &str| -> String {
        let output = std::process::Command::new("nsenter")
            .args([
                "-t",
                &who.pid().to_string(),
                "-m",
                "-n",
                "getent",
                "-s",
                "files",
                "hosts",
                name,
            ])
            .output()
            .expect("nsenter");
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };
    let bob_seen_by_alice = resolve(&alice, "bob");
    assert!(
        bob_seen_by_alice.starts_with(&format!("{} ", on_b.address())),
        "{bob_seen_by_alice:?}"
    );
    let alice_seen_by_bob = resolve(&bob, "alice-host");
    assert!(
        alice_seen_by_bob.starts_with(&format!("{} ", on_a.address())),
        "{alice_seen_by_bob:?}"
    );
    // And the address a name gives is reachable.
    let address = bob_seen_by_alice
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let server = tcp_server(&bob, 80, "bob");
    assert_eq!(
        tcp_get(&alice, &format!("{address}:80")).expect("alice reaches bob by name"),
        format!("bob {}", on_a.address())
    );
    server.join().unwrap();
    // The container's resolv.conf names the stub's upstream servers, not the stub.
    let resolv = std::process::Command::new("nsenter")
        .args([
            "-t",
            &alice.pid().to_string(),
            "-m",
            "cat",
            "/etc/resolv.conf",
        ])
        .output()
        .expect("nsenter");
    let resolv = String::from_utf8_lossy(&resolv.stdout);
    assert!(
        resolv.contains("nameserver 192.0.2.53\nnameserver 192.0.2.54\n"),
        "{resolv}"
    );
    assert!(!resolv.contains("127.0.0.53"), "{resolv}");
    // When bob leaves, alice's hosts file forgets him.
    release(&world, on_b);
    assert_eq!(resolve(&alice, "bob"), "");
    release(&world, on_a);
    prune_all(&world);
    world.assert_clean();
}

#[test]
fn the_etc_files_say_what_the_container_was_given() {
    let world = World::new();
    let scratch = tempfile::tempdir().unwrap();
    let web = container(None);
    let etc = EtcRequest {
        hosts: vec![HostEntry {
            address: "192.0.2.80".parse().unwrap(),
            names: vec!["db.internal".into(), "db".into()],
        }],
        dns: vec!["192.0.2.99".parse().unwrap()],
        host_dns: stub_host_dns(scratch.path()),
        ..EtcRequest::default()
    };
    let attachment = attach_with_files(&world, &web, "web", scratch.path(), etc);
    let files = attachment
        .etc_files()
        .expect("files were asked for")
        .clone();
    let hosts = std::fs::read_to_string(&files.hosts).unwrap();
    assert_eq!(
        hosts,
        format!(
            "# Written by launcher for this container.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{}\tweb-host web\n192.0.2.80\tdb.internal db\n",
            attachment.address()
        )
    );
    let resolv = std::fs::read_to_string(&files.resolv_conf).unwrap();
    assert_eq!(
        resolv,
        "# Written by launcher for this container.\nnameserver 192.0.2.99\n"
    );
    assert_eq!(
        std::fs::read_to_string(&files.hostname).unwrap(),
        "web-host\n"
    );
    assert_eq!(files.hosts, scratch.path().join("hosts"));
    release(&world, attachment);
    prune_all(&world);
    world.assert_clean();
}
