#!/bin/sh
# Fetches Debian's busybox source into DIR once, for the client-CPU
# benchmark. Needs root on a Debian machine (it enables deb-src for
# bookworm while it downloads). Prints why when it cannot.
set -eu
dir=$1
ls "$dir"/busybox_*.orig.tar.* >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
	echo "busybox benchmark skipped: fetching Debian's busybox source needs root and apt-get" >&2
	exit 1
fi
mkdir -p "$dir"
list=/etc/apt/sources.list.d/distmesh-bench-src.sources
trap 'rm -f "$list"; apt-get update -qq >/dev/null 2>&1 || true' EXIT
cat > "$list" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
apt-get update -qq
cd "$dir" && apt-get source -qq --download-only busybox
