#!/usr/bin/env bash
# Pull benchmark (issue 10): `launcher pull` of a 5-layer image from a local registry against
# `podman pull` (a private storage root, vfs driver) and `skopeo copy` + `umoci unpack`. From a
# clean clone, as root:
#
#     sudo bash benches/image.sh               # 10 runs per contender
#     sudo RUNS=3 bash benches/image.sh        # a quick run
#
# Environment: RUNS (default 10), WARMUP (default 1), LAUNCHER (a launcher binary to time
# instead of building this checkout's), BENCH_JSON (a path: hyperfine's JSON export).
# On a shared machine, run it under the team's lock so it does not overlap container tests:
# flock /tmp/launcher-root-tests.lock bash benches/image.sh
#
# What it does:
#  1. installs what is missing with apt (docker-registry skopeo umoci podman hyperfine
#     busybox-static iproute2 util-linux) and builds the launcher (cargo build --release);
#  2. builds the image with umoci in a temp folder: layer 1 the busybox root filesystem
#     (rootfs/fill-busybox.sh), layers 2-4 copies of host folders (/usr/lib/python3.11,
#     /usr/share/perl, /usr/lib/python3: about 130 MB and 11,000 files, the shape of a
#     language runtime image), layer 5 a config file and a deleted file (a whiteout); gzip, as
#     umoci writes them;
#  3. starts docker-registry on 127.0.0.1:5000 inside a network namespace of its own (nothing
#     reaches the host's network) and pushes the image there with skopeo;
#  4. runs ONE hyperfine invocation, inside that namespace, over the three contenders, each
#     from an empty store (hyperfine --prepare removes it before every run):
#       - launcher pull            (its store in the temp folder)
#       - podman pull              (--root/--runroot in the temp folder, --storage-driver vfs,
#                                   no events; podman keeps the layers unpacked, as we do)
#       - skopeo copy + umoci unpack (to an OCI layout, then unpacked into a bundle)
#  5. runs a SECOND hyperfine invocation, the start of a container that runs /bin/true:
#       - launcher up, from a folder  (the busybox root filesystem, unpacked)
#       - launcher up, from the image (pulled once before; Container.lock written by a warm-up)
#       - podman run --rm of the same image (--network none, overlay storage, crun; pulled
#                                   once before, into a private root of its own)
#     On hybrid cgroups crun 1.8 refuses to start: then this invocation runs, all contenders
#     alike, in one private mount namespace where /sys/fs/cgroup/unified is unmounted;
#  6. runs the two launcher starts again with UP_GAP seconds of rest before each run, so that
#     no run pays for the cleanup the one before it left to a process of its own;
#  7. prints the tables, and removes the registry, the namespace and the temp folder on exit.
#
# Environment for the second part: UP_RUNS (default 50), UP_WARMUP (default 3), UP_GAP
# (default 0.05).
set -euo pipefail

RUNS=${RUNS:-10}
WARMUP=${WARMUP:-1}
UP_RUNS=${UP_RUNS:-50}
UP_WARMUP=${UP_WARMUP:-3}
UP_GAP=${UP_GAP:-0.05}
BENCH_JSON=${BENCH_JSON:-}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

say() { printf '%s\n' "$*" >&2; }
die() {
    say "image.sh: $*"
    exit 1
}

[ "$(id -u)" = 0 ] || die "run as root (it starts a registry in a network namespace and podman as root)"

packages=(docker-registry skopeo umoci podman crun hyperfine busybox-static iproute2 util-linux)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi

if [ -z "${LAUNCHER:-}" ]; then
    command -v cargo >/dev/null 2>&1 || export PATH="$HOME/.cargo/bin:$PATH"
    (cd "$repo" && cargo build --release --locked -q)
    LAUNCHER=$repo/target/release/launcher
fi

work=$(mktemp -d /tmp/launcher-image-bench-XXXXXX)
registry_pid=
cleanup() {
    if [ -n "$registry_pid" ]; then
        kill "$registry_pid" 2>/dev/null || true
        wait "$registry_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

say "building the 5-layer image in $work"
layout=$work/oci
image=$layout:bench
bundle=$work/build
umoci init --layout "$layout"
umoci new --image "$image"
umoci unpack --image "$image" "$bundle" >/dev/null
sh "$repo/rootfs/fill-busybox.sh" "$bundle/rootfs" >/dev/null
# The same root filesystem as a folder, for `launcher up` from a folder.
mkdir -p "$work/folder"
sh "$repo/rootfs/fill-busybox.sh" "$work/folder" >/dev/null
umoci repack --refresh-bundle --image "$image" "$bundle"
for folder in /usr/lib/python3.11 /usr/share/perl /usr/lib/python3; do
    [ -d "$folder" ] || die "$folder is missing on this host (the image copies it)"
    mkdir -p "$bundle/rootfs$(dirname "$folder")"
    cp -a "$folder" "$bundle/rootfs$folder"
    umoci repack --refresh-bundle --image "$image" "$bundle"
done
printf 'mode = "bench"\n' > "$bundle/rootfs/etc/app.conf"
rm "$bundle/rootfs/etc/group"
umoci repack --refresh-bundle --image "$image" "$bundle"
rm -rf "$bundle"

say "starting docker-registry on 127.0.0.1:5000 in a network namespace of its own"
cat > "$work/registry.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:5000
YAML
unshare --net -- sh -c 'ip link set lo up && exec docker-registry serve "$0"' "$work/registry.yml" \
    >"$work/registry.log" 2>&1 &
registry_pid=$!
in_ns() { nsenter --net="/proc/$registry_pid/ns/net" -- "$@"; }
for _ in $(seq 100); do
    in_ns bash -c 'exec 3<>/dev/tcp/127.0.0.1/5000' 2>/dev/null && break
    sleep 0.1
done
in_ns bash -c 'exec 3<>/dev/tcp/127.0.0.1/5000' 2>/dev/null || die "the registry did not start: $(cat "$work/registry.log")"
ref=127.0.0.1:5000/bench/app:v1
in_ns skopeo copy -q --dest-tls-verify=false "oci:$image" "docker://$ref"
size=$(du -sh "$work/registry" | cut -f1)
say "pushed $ref ($size in the registry)"

store=$work/launcher-store
podman=(podman --root "$work/podman/root" --runroot "$work/podman/run" --storage-driver vfs
    --events-backend none --cgroup-manager cgroupfs)
export=()
[ -n "$BENCH_JSON" ] && export=(--export-json "$BENCH_JSON")

in_ns hyperfine --runs "$RUNS" --warmup "$WARMUP" --style basic --export-markdown "$work/table.md" "${export[@]}" \
    --command-name "launcher pull" \
    --prepare "rm -rf $store" \
    "$LAUNCHER --store $store pull $ref" \
    --command-name "podman pull (vfs)" \
    --prepare "${podman[*]} rmi -a -f >/dev/null 2>&1; rm -rf $work/podman" \
    "${podman[*]} pull -q --tls-verify=false $ref" \
    --command-name "skopeo copy + umoci unpack" \
    --prepare "rm -rf $work/copy $work/bundle" \
    "skopeo copy -q --src-tls-verify=false docker://$ref oci:$work/copy:v1 && umoci unpack --image $work/copy:v1 $work/bundle"

say ""
say "5 layers, $(find /usr/lib/python3.11 /usr/share/perl /usr/lib/python3 | wc -l) host files + busybox; registry holds $size"
cat "$work/table.md"
"${podman[@]}" rmi -a -f >/dev/null 2>&1 || true
rm -rf "$work/podman"

# The pulls above left some hundred megabytes of unpacked layers to write back: write them
# out first, so that no start is timed during that writeback.
sync
say ""
say "start of /bin/true: launcher up from a folder, from the image, podman run --rm"
state=$work/launcher-state
cat > "$work/folder.toml" <<TOML
name = "bench-folder"
rootfs = "$work/folder"
command = ["/bin/true"]
init = false
terminal = false
TOML
cat > "$work/image.toml" <<TOML
name = "bench-image"
image = "$ref"
command = ["/bin/true"]
init = false
terminal = false
TOML
run_podman=(podman --root "$work/podman-run/root" --runroot "$work/podman-run/run" --storage-driver overlay
    --events-backend none --cgroup-manager cgroupfs)
in_ns "$LAUNCHER" --store "$store" pull "$ref" >/dev/null
in_ns "${run_podman[@]}" pull -q --tls-verify=false "$ref" >/dev/null
sync
# podman asks crun for rlimits above the hard ones (nofile 1048576) as root; on a machine whose
# root lacks CAP_SYS_RESOURCE crun then fails with EPERM: ask for limits below them.
podman_limits=()
if ! capsh --has-p=cap_sys_resource 2>/dev/null; then
    podman_limits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
fi
# crun 1.8 refuses hybrid cgroups: then everything runs where the unified hierarchy is unmounted
# (a private mount namespace; the host's mounts are not touched).
up_folder="$LAUNCHER --root $state --store $store up $work/folder.toml"
up_image="$LAUNCHER --root $state --store $store up $work/image.toml"
wrap=()
if mountpoint -q /sys/fs/cgroup/unified 2>/dev/null; then
    wrap=(unshare --mount --propagation private -- sh -c 'umount /sys/fs/cgroup/unified && exec "$@"' sh)
fi
in_ns "${wrap[@]}" hyperfine -N --runs "$UP_RUNS" --warmup "$UP_WARMUP" --style basic --export-markdown "$work/up.md" \
    --command-name "launcher up (folder)" \
    "$up_folder" \
    --command-name "launcher up (image)" \
    "$up_image" \
    --command-name "podman run --rm (overlay, crun)" \
    "${run_podman[*]} run --rm --network none ${podman_limits[*]} $ref /bin/true"
cat "$work/up.md"
"${run_podman[@]}" rmi -a -f >/dev/null 2>&1 || true

# Back to back, each start from the image creates and removes the folders of its writable
# layer (and the overlay's own, at its mount) on the store's filesystem a few milliseconds
# after the one before: the same two with UP_GAP seconds of rest before each run.
say ""
say "the same, with ${UP_GAP}s of rest before each run (the previous run's cleanup done)"
in_ns "${wrap[@]}" hyperfine -N --runs "$UP_RUNS" --warmup "$UP_WARMUP" --prepare "sleep $UP_GAP" --style basic \
    --export-markdown "$work/up-rest.md" \
    --command-name "launcher up (folder), at rest" \
    "$up_folder" \
    --command-name "launcher up (image), at rest" \
    "$up_image"
cat "$work/up-rest.md"
