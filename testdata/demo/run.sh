#!/usr/bin/env bash
# The demo: three nodes in temporary homes on 127.0.0.1 form a mesh with
# `init`, `keys add` and `join TOKEN`, then show who is enrolled.
set -euo pipefail
cd "$(dirname "$0")/../.."
dm="$PWD/bin/distmesh"
work=$(mktemp -d "${TMPDIR:-/tmp}/distmesh-demo.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
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
	for _ in $(seq 300); do
		[ -s "$home/node.json" ] && return 0
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
