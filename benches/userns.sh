#!/usr/bin/env bash
# Start-up cost of `namespaces.user = "remap"` (issue 13): `launcher up` of /bin/true from the
# busybox root filesystem, as root, with no user namespace, with the one-id map (`user = true`),
# and with remap (65,536 ids of the launcher's range, the root filesystem mounted idmapped), in
# one hyperfine run so the table compares them. Goal: remap under 1 ms more than no user
# namespace. As root, from a clean clone (it builds the release binary):
#
#     sudo bash benches/userns.sh                # 100 runs each
#     sudo RUNS=20 bash benches/userns.sh        # a quick run
#
# On a shared machine, under the team's lock: flock /tmp/launcher-root-tests.lock bash benches/userns.sh
#
# The launcher's range comes from LAUNCHER_REMAP_IDS (set here), so /etc/subuid is not
# touched. Every variant runs with terminal = false, init = false, cgroup namespace off, stdin
# and stdout /dev/null, a state folder of its own in the temp folder (removed at the end).
set -euo pipefail

RUNS=${RUNS:-100}
WARMUP=${WARMUP:-5}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() {
    printf 'userns.sh: %s\n' "$*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || die "run as root (remap is root's)"
command -v hyperfine >/dev/null || die "hyperfine is missing: apt-get install hyperfine"
command -v jq >/dev/null || die "jq is missing: apt-get install jq"
command -v busybox >/dev/null || [ -x /bin/busybox ] || die "busybox is missing: apt-get install busybox-static"

launcher=${LAUNCHER:-}
if [ -z "$launcher" ]; then
    (cd "$repo" && cargo build --release --quiet) || die "cargo build --release failed"
    launcher=$repo/target/release/launcher
fi

work=$(mktemp -d /tmp/launcher-userns-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
sh "$repo/rootfs/fill-busybox.sh" "$work/rootfs" >/dev/null

write() { # NAME USER-LINE
    mkdir -p "$work/$1"
    cat >"$work/$1/Container.toml" <<EOF
name = "bench-$1"
rootfs = "../rootfs"
command = ["/bin/true"]
terminal = false
init = false
[namespaces]
cgroup = false
$2
EOF
}
write none 'user = false'
write one-id 'user = true'
write remap 'user = "remap"'

export LAUNCHER_STATE_DIR=$work/state LAUNCHER_CACHE_DIR=$work/cache
export LAUNCHER_REMAP_IDS=1500000000:196608
for v in none one-id remap; do
    "$launcher" up "$work/$v/Container.toml" </dev/null >/dev/null || die "launcher up of $v failed"
done
hyperfine --runs "$RUNS" --warmup "$WARMUP" -N --output null \
    --export-json "$work/results.json" \
    -n "no user namespace" "$launcher up $work/none/Container.toml" \
    -n "user = true (one id)" "$launcher up $work/one-id/Container.toml" \
    -n "user = \"remap\"" "$launcher up $work/remap/Container.toml" </dev/null
[ -z "${BENCH_JSON:-}" ] || cp "$work/results.json" "$BENCH_JSON"
# Medians, and remap's cost over no user namespace (the goal: under 1 ms).
jq -r '.results | map({(.command): (.median * 1000)}) | add |
    "medians: no user namespace \(.["no user namespace"] | . * 100 | round / 100) ms, " +
    "one id \(.["user = true (one id)"] | . * 100 | round / 100) ms, " +
    "remap \(.["user = \"remap\""] | . * 100 | round / 100) ms; remap - none = " +
    "\(.["user = \"remap\""] - .["no user namespace"] | . * 100 | round / 100) ms (goal < 1 ms)"' \
    "$work/results.json"
