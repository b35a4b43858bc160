#!/usr/bin/env bash
# Network benchmark (issue 11). From a clean clone, as root:
#
#     sudo bash benches/network.sh               # 200 attach/release cycles, 5 s per iperf3 run
#     sudo RUNS=50 SECONDS_PER_RUN=2 bash benches/network.sh
#
# On a shared machine, under the team's lock: flock /tmp/launcher-root-tests.lock bash ...
#
# Everything runs in network namespaces the script makes (never the machine's own network):
# H plays the host, O the outside world (a veth pair, H 192.0.2.1 - O 192.0.2.2), and each
# container is a process in a namespace of its own (`unshare -n sleep`; the rootless ones
# `unshare -U --map-root-user -n` as uid 65534).
#
#  1. Start-up cost: attach + release of a container on a bridged network (no ports), in one
#     process through the library (benches/network.rs `cycles`), against the same veth pair,
#     address, link up and default route set up by hand with `ip` and torn down again.
#  2. TCP throughput container -> host with iperf3 (one stream, 64 KiB writes): over the
#     launcher's bridge to the gateway address, against a bare veth pair.
#  3. Rootless: container -> the outside server through pasta (as the library starts it)
#     against slirp4netns (--configure --mtu=65520, as podman runs it).
#  4. `launcher up` of /bin/true with `[network] mode = "bridge"` against mode none and
#     against `podman run --rm --network bridge` (netavark), hyperfine, in H.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-200}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}

need=()
for tool in ip:iproute2 nft:nftables pasta:passt slirp4netns:slirp4netns iperf3:iperf3 jq:jq nsenter:util-linux setpriv:util-linux hyperfine:hyperfine podman:podman crun:crun capsh:libcap2-bin; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" >/dev/null
fi

echo "building the bench program (cargo bench --no-run --bench network)" >&2
BIN=$(cargo bench --locked --no-run --bench network --message-format=json 2>/dev/null \
    | jq -r 'select(.reason == "compiler-artifact" and .target.name == "network" and .executable != null) | .executable' | tail -n 1)
[ -x "$BIN" ] || { echo "cannot find the bench program" >&2; exit 1; }

STATE=$(mktemp -d /tmp/launcher-net-bench.XXXXXX)
PIDS=()
cleanup() {
    exec 3>&- 4>&- 2>/dev/null || true
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$STATE"
}
trap cleanup EXIT

# spawn VAR COMMAND...: runs COMMAND (which unshares) in the background, waits until it has
# its own network namespace and has exec'd sleep, and sets VAR to its pid.
spawn() {
    local var=$1; shift
    "$@" </dev/null >/dev/null &
    local pid=$!
    PIDS+=("$pid")
    local mine; mine=$(stat -L -c %i /proc/self/ns/net)
    for _ in $(seq 500); do
        if [ "$(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null)" != "$mine" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sleep ]; then
            printf -v "$var" %s "$pid"; return
        fi
        sleep 0.01
    done
    echo "a namespace did not come up: $*" >&2; exit 1
}
in_ns() { local pid=$1; shift; nsenter -t "$pid" -n "$@"; }
container() { spawn "$1" unshare -n sleep 100000; }
rootless() { spawn "$1" setpriv --reuid=65534 --regid=65534 --clear-groups unshare -U --map-root-user -n sleep 100000; }

spawn H unshare -n sleep 100000
spawn O unshare -n sleep 100000
in_ns "$H" sh -c "ip link set lo up && ip link add uplink type veth peer name eth0 netns $O && ip addr add 192.0.2.1/24 dev uplink && ip link set uplink up && ip route add default via 192.0.2.2"
in_ns "$O" sh -c "ip link set lo up && ip addr add 192.0.2.2/24 dev eth0 && ip link set eth0 up"

# 1. attach + release.
container C1
attach_line=$(in_ns "$H" "$BIN" cycles "$STATE" "$C1" "$RUNS")
# KEY=VALUE words: the value of one key, matched whole (median_us is not attach_median_us).
field() { tr ' ' '\n' <<<"$attach_line" | sed -n "s/^$1=//p"; }
attach_median=$(field median_us)
attach_p90=$(field p90_us)
attach_only=$(field attach_median_us)
container C2
start=$(date +%s%N)
for _ in $(seq "$RUNS"); do
    in_ns "$H" sh -c "ip link add vb0 type veth peer name eth0 netns $C2 && ip link set vb0 up"
    in_ns "$C2" sh -c "ip addr add 10.99.0.2/24 dev eth0 && ip link set eth0 up && ip route add default via 10.99.0.1"
    in_ns "$H" ip link del vb0
done
bare_us=$(( ($(date +%s%N) - start) / RUNS / 1000 ))

# 2. throughput over the bridge and over a bare veth pair, container -> host.
iperf_gbps() { # SERVER_NS CLIENT_NS ADDRESS
    in_ns "$1" iperf3 -s -1 -B "$3" >/dev/null 2>&1 &
    local server=$!
    sleep 0.3
    in_ns "$2" iperf3 -c "$3" -t "$SECONDS_PER_RUN" -J | jq '.end.sum_received.bits_per_second / 1e9 * 100 | round / 100'
    wait "$server" || true
}
coproc ATTACH { in_ns "$H" "$BIN" attach "$STATE" "$C1" bench; }
read -r _address gateway <&"${ATTACH[0]}"
PIDS+=("$ATTACH_PID")
in_ns "$H" sh -c "ip link add vb0 type veth peer name eth0 netns $C2 && ip addr add 10.99.0.1/24 dev vb0 && ip link set vb0 up"
in_ns "$C2" sh -c "ip addr add 10.99.0.2/24 dev eth0 && ip link set eth0 up"
# Three runs of each, interleaved, so a burst of other work on the machine hits both; the
# median of each.
bridge_runs=(); veth_runs=()
for _ in 1 2 3; do
    bridge_runs+=("$(iperf_gbps "$H" "$C1" "$gateway")")
    veth_runs+=("$(iperf_gbps "$H" "$C2" 10.99.0.1)")
done
median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
bridge_gbps=$(median3 "${bridge_runs[@]}")
veth_gbps=$(median3 "${veth_runs[@]}")
eval "exec ${ATTACH[1]}>&-"; wait "$ATTACH_PID" || true
in_ns "$H" ip link del vb0

# 3. rootless, container -> the outside server: pasta against slirp4netns.
rootless C3
coproc PASTA { in_ns "$H" "$BIN" pasta "$C3"; }
read -r _ready <&"${PASTA[0]}"
PIDS+=("$PASTA_PID")
pasta_gbps=$(iperf_gbps "$O" "$C3" 192.0.2.2)
eval "exec ${PASTA[1]}>&-"; wait "$PASTA_PID" || true
rootless C4
# nsenter execs slirp4netns, so $! is its pid (a function run with & would be a subshell).
nsenter -t "$H" -n slirp4netns --configure --mtu=65520 --disable-host-loopback "$C4" tap0 >/dev/null 2>&1 &
SLIRP=$!; PIDS+=("$SLIRP")
for _ in $(seq 100); do in_ns "$C4" ip -o addr show tap0 2>/dev/null | grep -q inet && break; sleep 0.05; done
slirp_gbps=$(iperf_gbps "$O" "$C4" 192.0.2.2)
kill "$SLIRP"

# The bridge and its rules go with H; prune them anyway, as a user would.
in_ns "$H" "$BIN" prune "$STATE" >/dev/null

# 4. Start-up of /bin/true through `launcher up`: no network, a bridged one, and podman run
#    --rm --network bridge (netavark) of the same busybox root filesystem, imported as an
#    image; in H, in one private mount namespace (crun 1.8 refuses hybrid cgroups: there the
#    unified hierarchy is unmounted).
UP_RUNS=${UP_RUNS:-100}
[ -e rootfs/bin/busybox ] || sh rootfs/fill-busybox.sh >/dev/null
cargo build --locked --release -q
LAUNCHER=$PWD/target/release/launcher
mkdir -p "$STATE/none" "$STATE/bridge"
printf 'name = "bench-none"\nrootfs = "%s"\ncommand = ["/bin/true"]\n' "$PWD/rootfs" > "$STATE/none/Container.toml"
printf 'name = "bench-bridge"\nrootfs = "%s"\ncommand = ["/bin/true"]\n[network]\nmode = "bridge"\n' "$PWD/rootfs" > "$STATE/bridge/Container.toml"
export LAUNCHER_STATE_DIR=$STATE/up LAUNCHER_CACHE_DIR=$STATE/cache
podman=(podman --root "$STATE/podman/root" --runroot "$STATE/podman/run" --storage-driver overlay
    --cgroup-manager cgroupfs --events-backend none --runtime crun)
podman_limits=()
# podman asks crun for rlimits above the hard ones as root; where root lacks CAP_SYS_RESOURCE
# crun then fails: ask for limits below them.
if ! capsh --has-p=cap_sys_resource 2>/dev/null; then
    podman_limits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
fi
wrap=(unshare --mount --propagation private --)
if mountpoint -q /sys/fs/cgroup/unified 2>/dev/null; then
    wrap=(unshare --mount --propagation private -- sh -c 'umount /sys/fs/cgroup/unified && exec "$@"' sh)
fi
tar -C rootfs -c . | in_ns "$H" "${wrap[@]}" "${podman[@]}" import -q - localhost/bench-busybox >/dev/null
in_ns "$H" "${wrap[@]}" hyperfine -N --runs "$UP_RUNS" --warmup 5 --style basic --export-json "$STATE/up.json" \
    --command-name "launcher up, mode none" "$LAUNCHER up $STATE/none/Container.toml" \
    --command-name "launcher up, mode bridge" "$LAUNCHER up $STATE/bridge/Container.toml" \
    --command-name "podman run --rm --network bridge" \
    "${podman[*]} run --rm --network bridge ${podman_limits[*]} localhost/bench-busybox /bin/true" >&2
up_ms() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .median * 1000 * 100 | round / 100' "$STATE/up.json"; }
none_ms=$(up_ms "launcher up, mode none")
bridge_ms=$(up_ms "launcher up, mode bridge")
podman_ms=$(up_ms "podman run --rm --network bridge")
in_ns "$H" "${wrap[@]}" "${podman[@]}" rmi -a -f >/dev/null 2>&1 || true
in_ns "$H" "${wrap[@]}" "${podman[@]}" system reset -f >/dev/null 2>&1 || true
in_ns "$H" "$LAUNCHER" network prune >/dev/null

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "-" }'; }
cat <<TABLE

| measure | launcher | baseline | launcher / baseline | goal |
|---|---|---|---|---|
| attach + release, median (p90); attach alone | ${attach_median} us (${attach_p90} us); ${attach_only} us | by hand with ip: ${bare_us} us | $(ratio "$attach_median" "$bare_us") | < 2000 us |
| TCP container -> host, iperf3 | bridge: ${bridge_gbps} Gbit/s | bare veth: ${veth_gbps} Gbit/s | $(ratio "$bridge_gbps" "$veth_gbps") | >= 90% |
| TCP rootless container -> outside | pasta: ${pasta_gbps} Gbit/s | slirp4netns: ${slirp_gbps} Gbit/s | $(ratio "$pasta_gbps" "$slirp_gbps") | |
| start of /bin/true, median | up, mode bridge: ${bridge_ms} ms | up, mode none: ${none_ms} ms; podman run --rm --network bridge: ${podman_ms} ms | +$(awk -v a="$bridge_ms" -v b="$none_ms" 'BEGIN { printf "%.2f ms", a - b }') over none; $(ratio "$bridge_ms" "$podman_ms") of podman's | < 2 ms over none |

(${RUNS} cycles; ${SECONDS_PER_RUN} s per iperf3 run, median of 3 (bridge ${bridge_runs[*]}, veth ${veth_runs[*]}); kernel $(uname -r); $(nproc) CPUs)
TABLE
