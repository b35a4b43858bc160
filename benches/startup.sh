#!/usr/bin/env bash
# Start-up benchmark of `launcher up` against bubblewrap, crun, runc and an unshare + chroot
# floor (issue 6). From a clean clone, as root:
#
#     sudo bash benches/startup.sh                 # 100 runs per contender
#     sudo RUNS=10 bash benches/startup.sh         # a quick run
#     sudo BENCH_JSON=out.json bash benches/startup.sh   # also save every figure as JSON
#
# Environment: RUNS (default 100), WARMUP (default 5), BENCH_JSON (a path: all results),
# LAUNCHER (a launcher binary to time instead of building this checkout's: compare builds),
# BASELINE (another launcher binary, timed in the same hyperfine runs as rows "baseline" and
# "baseline-init": before/after in one run, as a ratio, on a noisy machine).
# On a shared machine, run it under the team's lock so it does not overlap other container
# tests: flock /tmp/launcher-root-tests.lock bash benches/startup.sh
#
# What it does:
#  1. installs what is missing with apt (crun runc bubblewrap busybox-static hyperfine
#     util-linux jq time) and builds the launcher (cargo build --release --locked);
#  2. builds a busybox root filesystem in a temp folder (rootfs/fill-busybox.sh), the
#     Container.toml files and the OCI bundles for crun and runc;
#  3. times, with one hyperfine invocation per scenario (so its table compares them), a
#     container that runs /bin/true in new UTS, PID, mount and IPC namespaces, with and without
#     a network namespace; then `up -d` + `stop` + `rm` against crun create + start + delete
#     (skipped while `launcher up -d` does not exist);
#  4. measures each contender's peak memory once (/usr/bin/time -f %M);
#  5. times `launcher plan --format json` of a Container.toml with 1,000 mounts;
#  6. prints medians, ratios to crun and the issue's goals.
#
# How each contender is configured (all run /bin/true from the same busybox rootfs, read-write,
# as root, no user namespace, no cgroup namespace, no terminal, stdin and stdout /dev/null):
#  - launcher up: rootfs = the busybox folder, command = ["/bin/true"], terminal = false,
#    [namespaces] cgroup = false, user = false (and net = "host" for "no network namespace").
#    It binds the rootfs, mounts /proc, /dev (tmpfs, nodes, pts, shm) and a read-only /sys
#    (no cgroup mount: no cgroup namespace), brings loopback up,
#    pivot_roots, sets the hostname. Two rows: init = false, where /bin/true is PID 1 as it is
#    under crun, runc and unshare (the like-for-like row, used for the goals), and init = true
#    (the default), where the launcher's tiny init is PID 1 and forks /bin/true, as bwrap's own
#    PID 1 forks its command.
#  - bwrap: --unshare-uts --unshare-pid --unshare-ipc [--unshare-net] --bind ROOTFS / --proc /proc
#    --dev /dev /bin/true (bwrap always makes a mount namespace; with --unshare-pid it keeps a
#    PID 1 of its own that forks the command; it cannot mount a sysfs, so it has no /sys).
#  - crun run / runc run: a bundle from `runc spec` edited with jq: args /bin/true, terminal
#    false, root = the rootfs read-write, hostname "bench", namespaces pid, ipc, uts, mount
#    [, network]; the mounts cut to what the launcher makes (/proc, /dev, /dev/pts, /dev/shm,
#    a read-only /sys: not /sys/fs/cgroup, /dev/mqueue), no linux.resources. Security as the launcher's
#    defaults: the spec's maskedPaths and readonlyPaths (the same lists), Docker's 14
#    capabilities in every set, noNewPrivileges, and the launcher's default seccomp profile
#    (src/preflight/seccomp-default.json) turned into OCI form for x86_64 with jq, so crun
#    and runc compile and load the same filter the launcher loads.
#    crun runs with --cgroup-manager=disabled (no cgroup, as every other contender): that is the
#    "crun" row and the reference of the ratios; "crun-cgroupfs" is crun's default (a cgroup per
#    container), for information. runc has no way to skip cgroups: it creates them every run.
#    Both keep their state in a private --root under the temp folder.
#  - unshare --mount --uts --ipc --pid [--net] --fork chroot ROOTFS /bin/true: the floor (no
#    /proc, no /dev, no pivot_root, no hostname; but two dynamically linked programs, unshare
#    and chroot, are exec'd before /bin/true). bwrap sets no hostname either.
#  - lifecycle (only when `launcher up --help` shows -d/--detach): `sleep 3600` under init,
#    `launcher up -d` + `stop` + `rm` (with `[stop] signal = "SIGKILL"` when the launcher
#    accepts that key), against crun create + start + `delete -f` (SIGKILL), cgroups disabled;
#    each side one `sh -c`, so both pay the same shell.
#
# crun and hybrid cgroups: crun 1.8 refuses to start a container when cgroup v1 controllers
# and a cgroup2 mount at /sys/fs/cgroup/unified coexist ("cgroups in hybrid mode not supported,
# drop all controllers from cgroupv2"), even with --cgroup-manager=disabled. So each hyperfine
# invocation (and each peak-memory run) runs inside ONE private mount namespace
# (unshare --mount --propagation private) in which /sys/fs/cgroup/unified is unmounted; every
# contender runs in it, none pays for it per run. Nothing is ever mounted or unmounted in the
# host's mount namespace: the wrapper checks that its namespace differs from the host's first.
#
# Peak memory: /usr/bin/time -f %M, the maximum resident set of the largest single process of
# the contender's tree (the getrusage of waited-for children), in KiB, from one run.
set -euo pipefail

RUNS=${RUNS:-100}
WARMUP=${WARMUP:-5}
BENCH_JSON=${BENCH_JSON:-}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

say() { printf '%s\n' "$*" >&2; }
die() {
    say "startup.sh: $*"
    exit 1
}

[ "$(id -u)" = 0 ] || die "run it as root: sudo bash benches/startup.sh"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$RUNS'"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "WARMUP must be a whole number, not '$WARMUP'"
[ "$(uname -s)" = Linux ] || die "needs Linux"

# ---- 1. peers and the launcher ---------------------------------------------------------------

packages=(crun runc bubblewrap busybox-static hyperfine util-linux jq time)
missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$package")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    command -v apt-get >/dev/null || die "missing ${missing[*]}, and no apt-get to install them"
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${packages[@]}"
fi

if [ -n "${BASELINE:-}" ]; then
    baseline=$(realpath "$BASELINE")
    [ -x "$baseline" ] || die "BASELINE=$BASELINE is not an executable file"
fi
if [ -n "${LAUNCHER:-}" ]; then
    launcher=$(realpath "$LAUNCHER")
    [ -x "$launcher" ] || die "LAUNCHER=$LAUNCHER is not an executable file"
    say "timing $launcher (LAUNCHER), not building"
else
    # Under sudo, build as the user who called it: their toolchain (~/.cargo/bin, ~/.rustup)
    # and no root-owned files in their target/.
    if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
        user_home=$(getent passwd "$SUDO_USER" | cut -d: -f6)
        sudo -u "$SUDO_USER" -H env "PATH=$user_home/.cargo/bin:$PATH" \
            cargo build --release --locked --manifest-path "$repo/Cargo.toml" ||
            die "cargo build failed (is Rust installed for $SUDO_USER? https://rustup.rs)"
    else
        PATH="$HOME/.cargo/bin:$PATH" cargo build --release --locked \
            --manifest-path "$repo/Cargo.toml" ||
            die "cargo build failed (is Rust installed? https://rustup.rs)"
    fi
    launcher=$repo/target/release/launcher
fi

# ---- 2. temp folder, rootfs, Container.toml files, bundles -----------------------------------

tmp=$(mktemp -d /tmp/launcher-bench.XXXXXX)
state=$tmp/state # crun's and runc's --root: every container they know of is ours
tag=bench$$
lifecycle_name=

# Runs "$@" in a new private mount namespace with /sys/fs/cgroup/unified unmounted (see the
# header). Refuses to unmount anything if the namespace turned out to be the host's.
in_private_ns() {
    # shellcheck disable=SC2016 # the script is expanded by the inner bash
    HOST_MNTNS=$(readlink /proc/self/ns/mnt) unshare --mount --propagation private -- bash -c '
        set -eu
        if [ "$(readlink /proc/self/ns/mnt)" = "$HOST_MNTNS" ]; then
            echo "startup.sh: not in a private mount namespace; not unmounting anything" >&2
            exit 1
        fi
        if mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified; fi
        exec "$@"' in-private-ns "$@"
}

cleanup() {
    local status=$?
    set +e
    if [ -n "$lifecycle_name" ]; then
        "$launcher" rm -f "$lifecycle_name" >/dev/null 2>&1 ||
            { "$launcher" stop "$lifecycle_name" && "$launcher" rm "$lifecycle_name"; } >/dev/null 2>&1
    fi
    # Every container under our private --root is one of ours; delete what a failed run left.
    local dir runtime
    for runtime in crun runc; do
        for dir in "$state/$runtime"/*/; do
            [ -d "$dir" ] || continue
            in_private_ns "$runtime" --root "$state/$runtime" delete -f "$(basename "$dir")" \
                >/dev/null 2>&1
        done
    done
    rm -rf "$tmp"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rootfs=$tmp/rootfs
sh "$repo/rootfs/fill-busybox.sh" "$rootfs" >&2
mkdir -p "$state/crun" "$state/runc"

# A Container.toml: $1 file name, $2 init (true|false), $3 net ("none"|"host"), $4 command
# (a TOML array), $5 extra TOML lines, $6 the container's name.
write_toml() {
    cat >"$tmp/$1" <<EOF
name = "${6:-bench}"
hostname = "bench"
rootfs = "rootfs"
command = $4
terminal = false
init = $2

[namespaces]
cgroup = false
user = false
net = "$3"
${5:-}
EOF
}
write_toml launcher-net.toml false none '["/bin/true"]'
write_toml launcher-init-net.toml true none '["/bin/true"]'
write_toml launcher-host.toml false host '["/bin/true"]'
write_toml launcher-init-host.toml true host '["/bin/true"]'

# Docker's default capabilities, which the launcher gives a container by default.
docker_caps='["CAP_AUDIT_WRITE","CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FOWNER","CAP_FSETID","CAP_KILL","CAP_MKNOD","CAP_NET_BIND_SERVICE","CAP_NET_RAW","CAP_SETFCAP","CAP_SETGID","CAP_SETPCAP","CAP_SETUID","CAP_SYS_CHROOT"]'
# The launcher's default seccomp profile (Docker's format) in OCI form for x86_64 and those
# capabilities: the rules whose includes/excludes apply, without them.
jq --argjson caps "$docker_caps" '
    def has($list): . as $c | $list | index($c) != null;
    {
        defaultAction, defaultErrnoRet,
        architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        syscalls: [
            .syscalls[]
            | select((.includes.caps // []) | all(has($caps)))
            | select((.includes.arches // []) | (length == 0 or index("amd64") != null))
            | select((.excludes.caps // []) | any(has($caps)) | not)
            | select((.excludes.arches // []) | index("amd64") == null)
            | {names, action} + (if .errnoRet then {errnoRet} else {} end) + (if .args then {args} else {} end)
        ]
    }' "$repo/src/preflight/seccomp-default.json" >"$tmp/seccomp-oci.json"

# An OCI bundle: $1 folder, $2 "net" or "host", $3 the command (a JSON array).
make_bundle() {
    mkdir -p "$1"
    runc spec --bundle "$1"
    local namespaces='["pid", "ipc", "uts", "mount"]'
    if [ "$2" = net ]; then namespaces='["pid", "network", "ipc", "uts", "mount"]'; fi
    jq --arg root "$rootfs" --argjson args "$3" --argjson namespaces "$namespaces" '
        .process.args = $args
        | .process.terminal = false
        | .root = {path: $root, readonly: false}
        | .hostname = "bench"
        | .mounts |= map(select(.destination | IN("/proc", "/dev", "/dev/pts", "/dev/shm", "/sys")))
        | .linux.namespaces = ($namespaces | map({type: .}))
        | .process.capabilities = {bounding: $caps, effective: $caps, permitted: $caps, inheritable: $caps}
        | .process.noNewPrivileges = true
        | .linux.seccomp = $seccomp
        | del(.linux.resources)' --argjson caps "$docker_caps" --slurpfile seccomp "$tmp/seccomp-oci.json" \
        "$1/config.json" | jq '.linux.seccomp = .linux.seccomp[0]' >"$1/config.json.new"
    mv "$1/config.json.new" "$1/config.json"
}
make_bundle "$tmp/bundle-net" net '["/bin/true"]'
make_bundle "$tmp/bundle-host" host '["/bin/true"]'

# ---- 3. scenarios ----------------------------------------------------------------------------

q() { printf '%q ' "$@"; }
crun_cmd() { # $1 name, $2 bundle, $3.. global options
    local name=$tag-$1 bundle=$2
    shift 2
    q crun --root "$state/crun" "$@" run --bundle "$bundle" "$name"
}
runc_cmd() { # $1 name, $2 bundle
    local name=$tag-$1
    q runc --root "$state/runc" run --bundle "$2" "$name"
}
bwrap_cmd() { # $@ extra unshare options
    q bwrap --unshare-uts --unshare-pid --unshare-ipc "$@" --bind "$rootfs" / --proc /proc \
        --dev /dev /bin/true
}

# Each scenario: ids, titles, then "name<TAB>command" lines (commands as hyperfine -N parses).
scenario_ids=()
declare -A scenario_title scenario_lines
add() { # $1 scenario, $2 name, $3 command
    scenario_lines[$1]+="$2"$'\t'"$3"$'\n'
}
new_scenario() {
    scenario_ids+=("$1")
    scenario_title[$1]=$2
    scenario_lines[$1]=
}

new_scenario net "own network namespace (UTS, PID, mount, IPC, net)"
add net launcher "$(q "$launcher" up "$tmp/launcher-net.toml")"
add net launcher-init "$(q "$launcher" up "$tmp/launcher-init-net.toml")"
if [ -n "${BASELINE:-}" ]; then
    add net baseline "$(q "$baseline" up "$tmp/launcher-net.toml")"
    add net baseline-init "$(q "$baseline" up "$tmp/launcher-init-net.toml")"
fi
add net bwrap "$(bwrap_cmd --unshare-net)"
add net crun "$(crun_cmd net "$tmp/bundle-net" --cgroup-manager=disabled)"
add net crun-cgroupfs "$(crun_cmd net-cg "$tmp/bundle-net")"
add net runc "$(runc_cmd net "$tmp/bundle-net")"
add net unshare-chroot "$(q unshare --mount --uts --ipc --pid --net --fork chroot "$rootfs" /bin/true)"

new_scenario host "host network (UTS, PID, mount, IPC)"
add host launcher "$(q "$launcher" up "$tmp/launcher-host.toml")"
add host launcher-init "$(q "$launcher" up "$tmp/launcher-init-host.toml")"
if [ -n "${BASELINE:-}" ]; then
    add host baseline "$(q "$baseline" up "$tmp/launcher-host.toml")"
    add host baseline-init "$(q "$baseline" up "$tmp/launcher-init-host.toml")"
fi
add host bwrap "$(bwrap_cmd)"
add host crun "$(crun_cmd host "$tmp/bundle-host" --cgroup-manager=disabled)"
add host crun-cgroupfs "$(crun_cmd host-cg "$tmp/bundle-host")"
add host runc "$(runc_cmd host "$tmp/bundle-host")"
add host unshare-chroot "$(q unshare --mount --uts --ipc --pid --fork chroot "$rootfs" /bin/true)"

# Lifecycle: a long-running command (sleep) started detached, stopped and removed. The
# launcher's side runs under init (init = true), so the stop signal ends sleep at once; crun's
# `delete -f` sends SIGKILL, and so does the launcher's stop when `[stop] signal` exists.
# Both sides are one `sh -c` each, so both pay the same shell.
# Read whole first: grep -q stops reading at the first match, and with pipefail the launcher's
# failed write (EPIPE) would fail the test.
up_help=$("$launcher" up --help 2>&1 || true)
if grep -qE '(^|[ ,])(-d|--detach)([ ,]|$)' <<<"$up_help"; then
    lifecycle_name=$tag-lifecycle
    write_toml launcher-lifecycle.toml true none '["/bin/sleep", "3600"]' \
        $'\n[stop]\nsignal = "SIGKILL"' "$lifecycle_name"
    if ! "$launcher" check "$tmp/launcher-lifecycle.toml" >/dev/null 2>&1; then
        write_toml launcher-lifecycle.toml true none '["/bin/sleep", "3600"]' '' "$lifecycle_name"
    fi
    make_bundle "$tmp/bundle-lifecycle" net '["/bin/sleep", "3600"]'
    crun_lc=$tag-crun-lifecycle
    crun_q=$(q crun --root "$state/crun" --cgroup-manager=disabled)
    launcher_q=$(q "$launcher")
    new_scenario lifecycle "up -d + stop + rm vs crun create + start + delete -f"
    add lifecycle launcher-lifecycle "sh -c $(q "$launcher_q up -d $(q "$tmp/launcher-lifecycle.toml") >/dev/null && $launcher_q stop $lifecycle_name >/dev/null && $launcher_q rm $lifecycle_name >/dev/null")"
    add lifecycle crun-lifecycle "sh -c $(q "$crun_q create --bundle $(q "$tmp/bundle-lifecycle") $crun_lc && $crun_q start $crun_lc && $crun_q delete -f $crun_lc")"
else
    echo "lifecycle scenario skipped: launcher up -d not available"
fi

# ---- 4. check every contender once, then time them -------------------------------------------

say
say "crun $(crun --version | head -n1 | cut -d' ' -f3), $(runc --version | head -n1), $(bwrap --version), $(hyperfine --version), $(unshare --version | sed 's/.*util-linux //')"
if out=$(crun --root "$state/crun" --cgroup-manager=disabled run --bundle "$tmp/bundle-host" \
    "$tag-probe" 2>&1 </dev/null); then
    say "crun runs in the host's mount namespace too (no hybrid cgroups here)"
else
    say "crun in the host's mount namespace fails: $out"
    say "so every contender runs in a private mount namespace without /sys/fs/cgroup/unified"
fi

words=()
for id in "${scenario_ids[@]}"; do
    while IFS=$'\t' read -r name cmd; do
        [ -n "$name" ] || continue
        eval "words=($cmd)"
        if ! out=$(in_private_ns "${words[@]}" 2>&1 </dev/null); then
            die "$id/$name fails, so it cannot be timed: $cmd"$'\n'"$out"
        fi
    done <<<"${scenario_lines[$id]}"
done

mkdir -p "$tmp/results"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
say "load average before timing: $load_before (other work on the machine skews the figures)"
for id in "${scenario_ids[@]}"; do
    say
    say "== $id: ${scenario_title[$id]}"
    args=(-N --warmup "$WARMUP" --runs "$RUNS" --export-json "$tmp/results/$id.hyperfine.json")
    while IFS=$'\t' read -r name cmd; do
        if [ -n "$name" ]; then args+=(-n "$name" "$cmd"); fi
    done <<<"${scenario_lines[$id]}"
    in_private_ns hyperfine "${args[@]}" </dev/null >&2

    # Peak memory: one run of each contender under /usr/bin/time.
    : >"$tmp/results/$id.rss"
    while IFS=$'\t' read -r name cmd; do
        [ -n "$name" ] || continue
        eval "words=($cmd)"
        in_private_ns /usr/bin/time -f %M -o "$tmp/rss" "${words[@]}" >/dev/null 2>&1 </dev/null ||
            die "$id/$name failed under /usr/bin/time"
        printf '%s\t%s\n' "$name" "$(tail -n1 "$tmp/rss")" >>"$tmp/results/$id.rss"
    done <<<"${scenario_lines[$id]}"
done

# ---- 5. load + plan of 1,000 mounts ----------------------------------------------------------

{
    printf 'name = "plan1000"\ncommand = ["/bin/true"]\n\n[rootfs]\nhost = true\n'
    for i in $(seq -w 1 1000); do
        printf '\n[[mount]]\ntype = "tmpfs"\ntarget = "/tmp/bench/m%s"\n' "$i"
    done
} >"$tmp/plan-1000.toml"
printf 'name = "plan0"\ncommand = ["/bin/true"]\n\n[rootfs]\nhost = true\n' >"$tmp/plan-0.toml"
say
say "== plan: launcher plan --format json, 1,000 tmpfs mounts (and none, for the process start)"
hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$tmp/results/plan.hyperfine.json" \
    -n plan-1000 "$(q "$launcher" plan "$tmp/plan-1000.toml" --format json)" \
    -n plan-0 "$(q "$launcher" plan "$tmp/plan-0.toml" --format json)" </dev/null >&2

load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- 6. results ------------------------------------------------------------------------------

# One JSON object per scenario: medians (from hyperfine's raw times) and peak memory.
summarise() { # $1 id, $2 title, $3 reference contender
    local rss='{}'
    [ -f "$tmp/results/$1.rss" ] &&
        rss=$(jq -R 'split("\t") | {(.[0]): (.[1] | tonumber)}' "$tmp/results/$1.rss" | jq -s 'add // {}')
    jq --arg id "$1" --arg title "$2" --arg ref "$3" --argjson rss "$rss" '
        def median: sort | length as $n
            | if $n % 2 == 1 then .[($n - 1) / 2] else (.[$n / 2 - 1] + .[$n / 2]) / 2 end;
        def ms: . * 1000000 | round / 1000;
        (.results | map({(.command): (.times | median)}) | add) as $medians
        | {id: $id, title: $title, reference: $ref,
           contenders: [.results[] | {
               name: .command,
               median_ms: (.times | median | ms),
               mean_ms: (.mean | ms), stddev_ms: (.stddev | ms),
               min_ms: (.min | ms), max_ms: (.max | ms), runs: (.times | length),
               ratio_to_reference: (if $medians[$ref] then
                   (.times | median) / $medians[$ref] * 1000 | round / 1000 else null end),
               peak_rss_kib: $rss[.command]}],
           hyperfine: .}' "$tmp/results/$1.hyperfine.json" >"$tmp/summaries/$1.json"
}
mkdir -p "$tmp/summaries"
for id in "${scenario_ids[@]}"; do
    ref=crun
    [ "$id" = lifecycle ] && ref=crun-lifecycle
    summarise "$id" "${scenario_title[$id]}" "$ref"
done
summarise plan "launcher plan --format json (process start included)" plan-0
summaries=()
for id in "${scenario_ids[@]}" plan; do summaries+=("$tmp/summaries/$id.json"); done

date_now=$(date -u '+%Y-%m-%d %H:%M UTC')
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
if [ -n "${LAUNCHER:-}" ]; then
    revision="LAUNCHER=$launcher"
else
    revision=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
    git -C "$repo" diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null ||
        revision="$revision with uncommitted changes"
fi
jq -s --arg date "$date_now" --arg kernel "$(uname -r)" --arg cpu "$cpu" \
    --argjson cpus "$(nproc)" --argjson runs "$RUNS" --argjson warmup "$WARMUP" \
    --arg revision "$revision" --arg launcher "$launcher" \
    --arg load_before "$load_before" --arg load_after "$load_after" \
    --arg crun "$(crun --version | head -n1)" --arg runc "$(runc --version | head -n1)" \
    --arg bwrap "$(bwrap --version)" --arg hyperfine "$(hyperfine --version)" '
    {date: $date, host: {kernel: $kernel, cpu: $cpu, cpus: $cpus,
           load_average_before: $load_before, load_average_after: $load_after},
     runs: $runs, warmup: $warmup,
     versions: {launcher: $revision, launcher_binary: $launcher, crun: $crun, runc: $runc,
                bwrap: $bwrap, hyperfine: $hyperfine},
     scenarios: map(select(.id != "plan")), plan: map(select(.id == "plan"))[0]}' \
    "${summaries[@]}" >"$tmp/all.json"

echo
echo "launcher start-up benchmark, $date_now: $(nproc) CPUs ($cpu), Linux $(uname -r)"
echo "launcher: $revision"
echo "median of $RUNS runs after $WARMUP warm-up runs (hyperfine); peak RSS: one run under /usr/bin/time"
echo "load average before timing: $load_before; after: $load_after"
# f2: a positive number with two decimals; pad: right-aligned in n columns.
# shellcheck disable=SC2016 # jq code, not shell
jq_defs='
    def f2: if . == null then "-" else (. * 100 | round) as $x
        | ($x / 100 | floor | tostring) + "." + ($x % 100 | tostring | if length < 2 then "0" + . else . end) end;
    def f3: if . == null then "-" else (. * 1000 | round) as $x
        | ($x / 1000 | floor | tostring) + "." + ($x % 1000 + 1000 | tostring | .[1:]) end;
    def pad(n): tostring | " " * (n - length) + .;
    def ratio(a; b): if a == null or b == null then null else a / b end;
    def verdict(ok): if ok then "met" else "NOT met" end;'
jq -r "$jq_defs"'
    .scenarios[] |
    "", "\(.id): \(.title)", "",
    "| contender          | median ms | vs \(.reference | . + " " * (15 - length)) | peak RSS KiB |",
    "|--------------------|----------:|-------------------:|-------------:|",
    (.contenders[] | "| \(.name | . + " " * (18 - length)) | \(.median_ms | f2 | pad(9)) |" +
        " \(.ratio_to_reference | f2 | pad(18)) | \(.peak_rss_kib // "-" | pad(12)) |")' "$tmp/all.json"
echo
echo "goals of issue 6 (launcher: init = false, /bin/true is PID 1 as under crun; launcher-init: init = true, the default)"
jq -r "$jq_defs"'
    (.scenarios[] | select(.id == "net" or .id == "host") |
        (.contenders | map({(.name): .}) | add) as $c |
        (["launcher", "launcher-init"][] as $l |
            ratio($c[$l].median_ms; $c.bwrap.median_ms) as $vb |
            ratio($c[$l].median_ms; $c["unshare-chroot"].median_ms) as $vf |
            "  \(.id): \($l) / bwrap = \($vb | f3) (goal < 1: \(verdict($vb < 1)));" +
            " \($l) / unshare+chroot = \($vf | f3) (goal <= 1.3: \(verdict($vf <= 1.3)))"),
        (ratio($c.launcher.peak_rss_kib; $c.crun.peak_rss_kib) as $m |
            "  \(.id): peak RSS launcher / crun = \($m | f3) (\($c.launcher.peak_rss_kib) / " +
            "\($c.crun.peak_rss_kib) KiB; goal < 1: \(verdict($m < 1)))")),
    (.plan.contenders | map({(.name): .median_ms}) | add |
        "  plan of 1,000 mounts: \(.["plan-1000"] | f2) ms median for the whole `launcher plan` process" +
        " (no mounts: \(.["plan-0"] | f2) ms; difference \(.["plan-1000"] - .["plan-0"] | f2) ms);" +
        " the goal, < 10 ms, is for load + plan in process, not measured here")' "$tmp/all.json"
grep -qw lifecycle <<<"${scenario_ids[*]}" ||
    echo "  lifecycle scenario skipped: launcher up -d not available"

if [ -n "$BENCH_JSON" ]; then
    cp "$tmp/all.json" "$BENCH_JSON"
    echo "all results: $BENCH_JSON"
fi
