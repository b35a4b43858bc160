#!/usr/bin/env bash
# OCI runtime benchmark (issue 12): the start of a container that runs /bin/true, driven by an
# engine, with the launcher (as launcher-oci), crun and runc as the OCI runtime. As root:
#
#     sudo bash benches/oci.sh              # 30 runs per contender
#     sudo RUNS=5 bash benches/oci.sh       # a quick run
#
# Environment: RUNS (default 30), WARMUP (default 3), LAUNCHER (a launcher binary instead of
# this checkout's release build), BENCH_JSON (hyperfine's JSON export).
# On a shared machine run it under the team's lock: flock /tmp/launcher-root-tests.lock ...
#
# What it does, in ONE private mount namespace (made rprivate first; on hybrid cgroups
# /sys/fs/cgroup/unified is unmounted there, which crun 1.8 needs):
#  1. imports the busybox root filesystem (rootfs/fill-busybox.sh) as image `bb` into a
#     private podman storage (vfs, cgroupfs manager, no events) in a temp folder;
#  2. starts a private containerd (its own root, state, socket and config in the temp
#     folder) and imports the same image into it (podman save --format oci-archive);
#  3. runs one hyperfine over six contenders:
#       podman run --rm --network none bb /bin/true   with --runtime launcher-oci | crun | runc
#       ctr run --rm --runc-binary launcher-oci | crun | runc  bb ID /bin/true
#     and, the runtimes alone, RUNTIME run of one bundle (runc spec's config, /bin/true);
#  4. stops containerd and removes the temp folder on exit.
set -euo pipefail

RUNS=${RUNS:-30}
WARMUP=${WARMUP:-3}
BENCH_JSON=${BENCH_JSON:-}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

say() { printf '%s\n' "$*" >&2; }
die() {
    say "oci.sh: $*"
    exit 1
}

[ "$(id -u)" = 0 ] || die "run as root (podman and containerd as root)"
for tool in podman conmon containerd ctr runc crun hyperfine unshare jq; do
    command -v "$tool" >/dev/null || die "$tool is missing: apt-get install podman conmon containerd runc crun hyperfine util-linux"
done

if [ -z "${LAUNCHER:-}" ]; then
    command -v cargo >/dev/null 2>&1 || export PATH="$HOME/.cargo/bin:$PATH"
    (cd "$repo" && cargo build --release --locked -q)
    LAUNCHER=$repo/target/release/launcher
fi
[ -x "$repo/rootfs/bin/busybox" ] || sh "$repo/rootfs/fill-busybox.sh" >/dev/null

# Everything below runs in a private mount namespace.
if [ -z "${OCI_BENCH_INNER:-}" ]; then
    export OCI_BENCH_INNER=1 LAUNCHER
    exec unshare -m bash "$0" "$@"
fi
mount --make-rprivate /
if mountpoint -q /sys/fs/cgroup/unified 2>/dev/null; then
    umount /sys/fs/cgroup/unified
fi

work=$(mktemp -d /tmp/launcher-oci-bench-XXXXXX)
containerd_pid=
cleanup() {
    if [ -n "$containerd_pid" ]; then
        kill "$containerd_pid" 2>/dev/null || true
        wait "$containerd_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
    # containerd's namespace folder (cgroupsPath /default/ID) and podman's, when empty: the
    # runtimes remove the containers' own folders, not their parents.
    for dir in /sys/fs/cgroup/*/default /sys/fs/cgroup/*/libpod_parent/conmon /sys/fs/cgroup/*/libpod_parent; do
        [ -d "$dir" ] && rmdir "$dir" 2>/dev/null || true
    done
}
trap cleanup EXIT

mkdir -p "$work/bin"
ln -s "$LAUNCHER" "$work/bin/launcher-oci"
oci=$work/bin/launcher-oci

P="podman --root $work/podman/root --runroot $work/podman/runroot --storage-driver vfs --cgroup-manager cgroupfs --events-backend none"
tar -C "$repo/rootfs" -c . | $P import - bb >/dev/null
$P save --format oci-archive -o "$work/bb.tar" bb >/dev/null

cat >"$work/containerd.toml" <<EOF
version = 2
root = "$work/containerd/root"
state = "$work/containerd/state"
[grpc]
  address = "$work/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  disable_cgroup = true
EOF
containerd --config "$work/containerd.toml" >"$work/containerd.log" 2>&1 &
containerd_pid=$!
C="ctr --address $work/containerd.sock"
for _ in $(seq 100); do $C version >/dev/null 2>&1 && break; sleep 0.1; done
$C version >/dev/null || die "containerd did not start: $(tail -5 "$work/containerd.log")"
$C image import --base-name bb --digests "$work/bb.tar" >&2
$C image ls >&2
image=$($C image ls -q | head -1)
[ -n "$image" ] || die "ctr image import stored no image"

# podman's default rlimits (nofile 1048576) may be above this machine's hard ones, which
# root without CAP_SYS_RESOURCE cannot raise: ask for less, for every runtime alike.
limits="--ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
prun() { echo "$P --runtime $1 run --rm --network none $limits bb /bin/true"; }
crun_() { echo "$C run --rm --runc-binary $1 $image bench-\$RANDOM\$RANDOM /bin/true"; }

# The runtimes alone: `RUNTIME run` of one bundle (the busybox root, runc's default config
# running /bin/true, no terminal), each with a state folder of its own.
mkdir -p "$work/bundle"
cp -a "$repo/rootfs" "$work/bundle/rootfs"   # runc refuses a symlinked root
(cd "$work/bundle" && runc spec && jq '.process.terminal = false | .process.args = ["/bin/true"] | del(.process.capabilities.ambient, .process.capabilities.inheritable)' config.json >c && mv c config.json)
brun() { echo "$1 --root $work/state-$2 run --bundle $work/bundle b-\$RANDOM\$RANDOM"; }

# Each once first: a contender that cannot run fails here, with its error.
for runtime in ${ONLY:-"$oci" crun runc}; do
    eval "$(prun "$runtime")" || die "podman with $runtime failed"
    eval "$(crun_ "$runtime")" || die "ctr with $runtime failed"
    eval "$(brun "$runtime" check)" || die "$runtime run failed"
done

export_args=()
[ -n "$BENCH_JSON" ] && export_args=(--export-json "$BENCH_JSON")
hyperfine --shell=bash --runs "$RUNS" --warmup "$WARMUP" "${export_args[@]}" \
    -n "podman + launcher" "$(prun "$oci")" \
    -n "podman + crun" "$(prun crun)" \
    -n "podman + runc" "$(prun runc)" \
    -n "ctr + launcher" "$(crun_ "$oci")" \
    -n "ctr + crun" "$(crun_ crun)" \
    -n "ctr + runc" "$(crun_ runc)" \
    -n "launcher-oci run" "$(brun "$oci" launcher)" \
    -n "crun run" "$(brun crun crun)" \
    -n "runc run" "$(brun runc runc)"
