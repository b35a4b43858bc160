//! A bridged container: outbound NAT, published ports, reach and isolation between containers.

use std::net::Ipv4Addr;

use launcher::network::{self, AttachRequest, Attachment, Netns, NetworkSpec, PortSpec};

use super::harness::{
    HOST_ADDRESS, OUTSIDE_ADDRESS, Process, World, container, tcp_get, tcp_server, udp_ask,
    udp_server,
};

/// Attaches `container` to `network` from inside the host namespace.
pub fn attach(
    world: &World,
    container: &Process,
    name: &str,
    network: &str,
    ports: &[&str],
) -> Attachment {
    try_attach(world, container, name, NetworkSpec::named(network), ports)
        .unwrap_or_else(|e| panic!("attach {name} to {network}: {e}\n  hint: {}", e.hint()))
}

pub fn try_attach(
    world: &World,
    container: &Process,
    name: &str,
    network: NetworkSpec,
    ports: &[&str],
) -> Result<Attachment, network::NetworkError> {
    let ports: Vec<PortSpec> = network::ports::parse_all(ports).expect("test ports parse");
    let netns = Netns::of_pid(container.pid())?;
    world.host.run(|| {
        network::attach(AttachRequest {
            state_root: world.state_root(),
            network,
            container: name,
            hostname: name,
            netns: &netns,
            address: None,
            ports,
            etc: None,
        })
    })
}

/// Releases from inside the host namespace.
pub fn release(world: &World, attachment: Attachment) {
    world
        .host
        .run(|| attachment.release())
        .unwrap_or_else(|e| panic!("release: {e}"));
}

/// Removes every network (and the table) from inside the host namespace.
pub fn prune_all(world: &World) {
    world
        .host
        .run(|| network::prune(world.state_root(), |_| false))
        .expect("prune");
}

/// Connects from `ns` and checks that the server named `who` answered.
pub fn tcp_get_ok(ns: &Process, address: &str, who: &str) {
    let said = tcp_get(ns, address).unwrap_or_else(|e| panic!("{address}: {e}"));
    assert!(
        said.starts_with(&format!("{who} ")),
        "{address} said {said:?}"
    );
}

#[test]
fn outbound_tcp_leaves_through_nat_with_the_hosts_address() {
    let world = World::new();
    // The preflight facts hold here (as root): what follows needs them.
    world
        .host
        .run(network::preflight::kernel_support)
        .expect("kernel support");
    network::preflight::require_net_admin().expect("root");
    network::preflight::require_nft().expect("nft");
    let web = container(None);
    let attachment = attach(&world, &web, "web", "default", &[]);
    let gateway = attachment.gateway();
    let server = tcp_server(&world.outside, 7000, "outside");
    // The outside server sees the host's uplink address: the container's was masqueraded.
    let said = tcp_get(&web, &format!("{OUTSIDE_ADDRESS}:7000")).expect("outbound TCP");
    assert_eq!(said, format!("outside {HOST_ADDRESS}"));
    server.join().unwrap();
    // Inside: eth0 with the leased address, the default route via the gateway.
    let inside = web.sh_ok("ip -4 -o addr show dev eth0; ip route show default");
    assert!(
        inside.contains(&format!("{}/24", attachment.address())),
        "{inside}"
    );
    assert!(
        inside.contains(&format!("default via {gateway} dev eth0")),
        "{inside}"
    );
    release(&world, attachment);
    prune_all(&world);
    world.assert_clean();
}

#[test]
fn published_tcp_and_udp_ports_answer_on_the_hosts_addresses_and_localhost() {
    let world = World::new();
    let web = container(None);
    let attachment = attach(
        &world,
        &web,
        "web",
        "default",
        &["8080:80", "127.0.0.1:5353:53/udp"],
    );
    let tcp = tcp_server(&web, 80, "web");
    let udp = udp_server(&web, 53, "dns-answer", 1);
    // From the host itself, at its own address and at 127.0.0.1 (output-chain DNAT).
    let at_address = tcp_get(&world.host, &format!("{HOST_ADDRESS}:8080")).expect("host address");
    assert!(at_address.starts_with("web "), "{at_address}");
    let at_localhost = tcp_get(&world.host, "127.0.0.1:8080").expect("127.0.0.1");
    assert!(at_localhost.starts_with("web "), "{at_localhost}");
    // From the outside world, at the host's address (prerouting DNAT).
    let from_outside = tcp_get(&world.outside, &format!("{HOST_ADDRESS}:8080")).expect("outside");
    assert_eq!(from_outside, format!("web {OUTSIDE_ADDRESS}"));
    tcp.join().unwrap();
    assert_eq!(
        udp_ask(&world.host, "127.0.0.1:5353").expect("udp"),
        "dns-answer"
    );
    udp.join().unwrap();
    // The UDP port was published on 127.0.0.1 only.
    let ruleset = world.ruleset();
    assert!(
        ruleset.contains("ip daddr 127.0.0.1 udp dport 5353"),
        "{ruleset}"
    );
    release(&world, attachment);
    let after = world.ruleset();
    assert!(!after.contains("container web"), "rules left:\n{after}");
    assert!(tcp_get(&world.host, "127.0.0.1:8080").is_err());
    prune_all(&world);
    world.assert_clean();
}

#[test]
fn containers_of_one_network_reach_each_other_and_other_networks_do_not() {
    let world = World::new();
    let (a, b, c) = (container(None), container(None), container(None));
    let on_a = attach(&world, &a, "a", "blue", &[]);
    let on_b = attach(&world, &b, "b", "blue", &[]);
    let on_c = attach(&world, &c, "c", "green", &[]);
    assert_eq!(on_a.network().subnet, on_b.network().subnet);
    assert_ne!(on_a.network().subnet, on_c.network().subnet);
    let server_b = tcp_server(&b, 80, "b");
    let said = tcp_get(&a, &format!("{}:80", on_b.address())).expect("a reaches b");
    assert_eq!(said, format!("b {}", on_a.address()));
    server_b.join().unwrap();
    // c, on another network, reaches neither; nor do they reach c.
    let _server_c = tcp_server(&c, 80, "c");
    let _server_b = tcp_server(&b, 81, "b");
    assert!(tcp_get(&a, &format!("{}:80", on_c.address())).is_err());
    assert!(tcp_get(&c, &format!("{}:81", on_b.address())).is_err());
    // Both still reach the outside.
    let server = tcp_server(&world.outside, 7000, "outside");
    assert!(tcp_get(&c, &format!("{OUTSIDE_ADDRESS}:7000")).is_ok());
    server.join().unwrap();
    for attachment in [on_a, on_b, on_c] {
        release(&world, attachment);
    }
    prune_all(&world);
    world.assert_clean();
}

#[test]
fn a_subnet_that_overlaps_a_host_route_is_refused_naming_both() {
    let world = World::new();
    let web = container(None);
    let spec = NetworkSpec {
        name: "clash".to_string(),
        subnet: Some("192.0.2.128/25".parse().unwrap()),
    };
    let error = try_attach(&world, &web, "web", spec, &[])
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("192.0.2.128/25")
            && error.contains("192.0.2.0/24")
            && error.contains("uplink"),
        "{error}"
    );
    // Two networks may not share a subnet either.
    let first = NetworkSpec {
        name: "one".to_string(),
        subnet: Some("10.77.0.0/24".parse().unwrap()),
    };
    let attachment = try_attach(&world, &web, "web", first, &[]).expect("first network");
    let other = container(None);
    let second = NetworkSpec {
        name: "two".to_string(),
        subnet: Some("10.77.0.0/16".parse().unwrap()),
    };
    let error = try_attach(&world, &other, "other", second, &[])
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("\"one\"") && error.contains("10.77.0.0/16"),
        "{error}"
    );
    release(&world, attachment);
    prune_all(&world);
    world.assert_clean();
}

#[test]
fn a_host_port_in_use_is_refused_before_anything_is_made() {
    let world = World::new();
    let web = container(None);
    let listener = world
        .host
        .run(|| std::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, 8080)).unwrap());
    let error = try_attach(
        &world,
        &web,
        "web",
        NetworkSpec::named("default"),
        &["8080:80"],
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("0.0.0.0:8080/tcp") && error.contains("listens"),
        "{error}"
    );
    drop(listener);
    // A second container may not publish a host port the first one has.
    let first = attach(&world, &web, "web", "default", &["8080:80"]);
    let other = container(None);
    let error = try_attach(
        &world,
        &other,
        "other",
        NetworkSpec::named("default"),
        &["8080:81"],
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("container \"web\""), "{error}");
    assert_eq!(world.state_files().len(), 2, "{:?}", world.state_files());
    release(&world, first);
    prune_all(&world);
    world.assert_clean();
}

#[test]
fn two_checks_of_one_published_port_at_once_both_find_it_free() {
    let world = World::new();
    let spec = network::ports::parse_all(&["8080:80"]).unwrap().remove(0);
    // Two `check`s of one file at once: each probes the port many times, and neither may see
    // the other's probe as a program that listens there.
    let probes = 3000;
    let taken: Vec<String> = std::thread::scope(|scope| {
        let checks: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    world.host.run(|| {
                        (0..probes)
                            .filter_map(|_| network::preflight::port_free(&spec).err())
                            .map(|e| e.to_string())
                            .collect::<Vec<_>>()
                    })
                })
            })
            .collect();
        checks
            .into_iter()
            .flat_map(|c| c.join().expect("a check thread panicked"))
            .collect()
    });
    assert!(
        taken.is_empty(),
        "{} of {} probes found the port taken by the other check's probe: {}",
        taken.len(),
        2 * probes,
        taken[0]
    );
    // A program that listens there is still found.
    let listener = world
        .host
        .run(|| std::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, 8080)).unwrap());
    let error = world
        .host
        .run(|| network::preflight::port_free(&spec))
        .unwrap_err()
        .to_string();
    assert!(error.contains("listens"), "{error}");
    drop(listener);
    world.assert_clean();
}
