#!/bin/sh
# Builds ./layout, an OCI image layout with one image, busybox:latest, from the busybox root
# filesystem (rootfs/ at the top of the repository, filled from Debian's busybox-static when
# empty), with umoci (Debian's umoci package). Nothing is downloaded.
#
#     sh examples/image-layout/make-layout.sh
#     sudo launcher up examples/image-layout/Container.toml
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
command -v umoci >/dev/null || { echo "make-layout.sh: umoci is missing: apt-get install umoci" >&2; exit 1; }
[ -e "$repo/rootfs/bin/busybox" ] || sh "$repo/rootfs/fill-busybox.sh"
# Built in a temporary folder and renamed into place: whoever looks sees a whole layout or none.
final=$here/layout
bundle=$(mktemp -d "$here/.layout.XXXXXX")
trap 'rm -rf "$bundle"' EXIT
layout=$bundle/layout
umoci init --layout "$layout"
umoci new --image "$layout:latest"
umoci unpack --rootless --image "$layout:latest" "$bundle/b" >/dev/null
cp -a "$repo/rootfs/." "$bundle/b/rootfs/"
rm -f "$bundle/b/rootfs/README.md" "$bundle/b/rootfs/fill-busybox.sh"
umoci repack --image "$layout:latest" "$bundle/b" >/dev/null
umoci config --image "$layout:latest" \
    --config.cmd /bin/sh --config.cmd -c \
    --config.cmd 'echo "hello from an image, in $(pwd) as $(id -u)"' \
    --config.env GREETING=hello --config.workingdir /tmp
rm -rf "$final.old"
[ -e "$final" ] && mv "$final" "$final.old"
mv "$layout" "$final"
rm -rf "$final.old"
echo "$final:latest"
