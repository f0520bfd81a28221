#!/usr/bin/env bash
# Runs the README tour (examples/tour.sh) against a throw-away server: builds hellomdm (or
# uses HELLOMDM_BIN), starts `hellomdm serve` on 127.0.0.1:$HELLOMDM_PORT (default 18443)
# with a temporary data directory and a random admin token, runs the tour there, and stops
# the server and deletes everything on exit. Run from anywhere: bash examples/walkthrough.sh
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
port=${HELLOMDM_PORT:-18443}
server="https://localhost:$port"
server_pid=""
cleanup() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

bin=${HELLOMDM_BIN:-}
if [ -z "$bin" ]; then
	echo "== building hellomdm"
	(cd "$repo" && go build -o "$work/hellomdm" ./cmd/hellomdm)
	bin="$work/hellomdm"
fi
HELLOMDM_ADMIN_TOKEN="hmdm_tour-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export HELLOMDM_ADMIN_TOKEN

echo "== starting hellomdm serve on 127.0.0.1:$port (data in $work/hellomdm-data)"
"$bin" serve --data "$work/hellomdm-data" --addr "127.0.0.1:$port" --hostname localhost >"$work/server.log" 2>&1 &
server_pid=$!
ready=""
for _ in $(seq 1 100); do
	if [ -f "$work/hellomdm-data/ca.pem" ] &&
		"$bin" admin --server "$server" --ca-file "$work/hellomdm-data/ca.pem" tenant list >/dev/null 2>&1; then
		ready=yes
		break
	fi
	if ! kill -0 "$server_pid" 2>/dev/null; then
		break
	fi
	sleep 0.2
done
if [ -z "$ready" ]; then
	echo "hellomdm serve did not come up; its log:" >&2
	cat "$work/server.log" >&2
	exit 1
fi

# The tour works in the current directory: ./hellomdm-data, ./alice-pc, examples/policy.
ln -s "$repo/examples" "$work/examples"
cd "$work"
echo "== the tour"
HELLOMDM="$bin" HELLOMDM_SERVER="$server" bash -e "$repo/examples/tour.sh"
echo "== the tour completed"
