#!/bin/sh
# Fills this folder with a minimal root filesystem from Debian's busybox-static.
# Usage: sh rootfs/fill-busybox.sh [TARGET]   (TARGET defaults to this folder)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
target=${1:-$here}
busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || ! ldd "$busybox" 2>&1 | grep -qE 'not a dynamic|statically linked'; then
    echo "fill-busybox.sh: needs a static busybox: apt-get install busybox-static" >&2
    exit 1
fi
mkdir -p "$target/bin" "$target/etc" "$target/tmp" "$target/proc" "$target/dev" "$target/sys" "$target/root"
cp "$busybox" "$target/bin/busybox"
for applet in $("$target/bin/busybox" --list); do
    [ -e "$target/bin/$applet" ] || ln -s busybox "$target/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$target/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$target/etc/group"
# The files a distribution has, and a networked container gets bound over from its state.
printf '127.0.0.1\tlocalhost\n' > "$target/etc/hosts"
: > "$target/etc/resolv.conf"
echo busybox > "$target/etc/hostname"
chmod 1777 "$target/tmp"
echo "filled $target with busybox $("$target/bin/busybox" | head -n 1 | cut -d' ' -f2)"
