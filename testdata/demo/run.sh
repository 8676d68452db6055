#!/usr/bin/env bash
# The demo: three nodes in temporary homes on 127.0.0.1 form a mesh with
# `init`, `keys add` and `join TOKEN`; then gamma builds a small C project
# with -g through the mesh, and every object is compared with a local build.
set -euo pipefail
cd "$(dirname "$0")/../.."
dm="$PWD/bin/distmesh"
work=$(mktemp -d "${TMPDIR:-/tmp}/distmesh-demo.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

# start HOME [ARGS...]: run a node in the background, wait until it serves.
start() {
	local home=$1; shift
	"$dm" join --home "$home" --listen 127.0.0.1:0 "$@" >"$home.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 600); do
		[ -S "$home/agent.sock" ] && return 0
		kill -0 "${pids[-1]}" 2>/dev/null || { cat "$home.log"; exit 1; }
		sleep 0.05
	done
	echo "node in $home did not start"; cat "$home.log"; exit 1
}

step distmesh init --name alpha
"$dm" init --home "$work/alpha" --name alpha
start "$work/alpha"

for name in beta gamma; do
	step distmesh keys add --name $name
	token=$("$dm" keys add --home "$work/alpha" --name $name 2>/dev/null)
	echo "$token"
	step distmesh join TOKEN "  # on $name"
	mkdir -p "$work/$name"
	start "$work/$name" "$token"
	sed -n 's/^/  /;/enrolled/p' "$work/$name.log"
done

step distmesh keys list "  # on alpha, the issuer"
"$dm" keys list --home "$work/alpha"

# gamma waits until it has verified both peers.
for _ in $(seq 600); do
	[ "$("$dm" status --json --home "$work/gamma" | grep -c '"state": "up"')" -ge 2 ] && break
	sleep 0.05
done

cp -a testdata/demo/project "$work/wordstat"
step make -j8 CC='"distmesh gcc"' "  # on gamma, CFLAGS=-g -O2"
DISTMESH_HOME="$work/gamma" make -s -C "$work/wordstat" -j8 CC="$dm gcc" CFLAGS="-g -O2 -Wall"
mkdir -p "$work/remote" && cp "$work/wordstat"/build/*.o "$work/remote/"
echo "the quick brown fox jumps over the lazy dog; the dog sleeps" | "$work/wordstat/build/wordstat" 3

step distmesh status "  # on gamma"
"$dm" status --home "$work/gamma"

step 'make clean; make -j8 CC=gcc; cmp' "  # the same build, locally"
make -s -C "$work/wordstat" clean
make -s -C "$work/wordstat" -j8 CC=gcc CFLAGS="-g -O2 -Wall"
same=0
for o in "$work/remote"/*.o; do
	cmp "$o" "$work/wordstat/build/$(basename "$o")" && same=$((same + 1))
done
echo "$same of $(ls "$work/remote" | wc -l) objects built through the mesh are byte-identical to the local build"
