#!/usr/bin/env bash
# Packaging checks that run without a Docker engine (.ci/run):
#  - the Dockerfile's build step (packaging/build.sh, the exact script the Dockerfile runs)
#    produces a static binary that reports its stamped version;
#  - the Dockerfile keeps its promises: multi-stage, non-root USER, /data VOLUME, a
#    HEALTHCHECK through the binary itself;
#  - the image's HEALTHCHECK command works: serve on a temporary data directory with the
#    image's environment (HELLOMDM_DATA, HELLOMDM_ADDR on a wildcard host), then
#    `hellomdm healthcheck` with that environment exits 0, and 1 once the server is stopped;
#  - packaging/hellomdm.service passes `systemd-analyze verify` (skipped when systemd is
#    not installed);
#  - LICENSE is the Apache License 2.0 and CHANGELOG.md exists.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "packaging: $*" >&2; exit 1; }

echo "-- Dockerfile build step: packaging/build.sh"
grep -q '^RUN packaging/build.sh /out/hellomdm' Dockerfile || fail "the Dockerfile no longer builds through packaging/build.sh"
packaging/build.sh "$tmp/hellomdm" v0.0.0-ci 0123abc 2026-01-01T00:00:00Z
if readelf -l "$tmp/hellomdm" | grep -q 'INTERP'; then fail "the binary is dynamically linked (has a program interpreter)"; fi
if readelf -d "$tmp/hellomdm" 2>/dev/null | grep -q 'NEEDED'; then fail "the binary needs shared libraries"; fi
go version -m "$tmp/hellomdm" | grep -q 'CGO_ENABLED=0' || fail "the binary was not built with CGO_ENABLED=0"
"$tmp/hellomdm" version | grep -q '^hellomdm v0.0.0-ci (commit 0123abc, built 2026-01-01T00:00:00Z, go1\.' || fail "version stamp: $("$tmp/hellomdm" version)"
echo "static binary, $(du -k "$tmp/hellomdm" | cut -f1) KiB: $("$tmp/hellomdm" version)"

echo "-- Dockerfile promises"
[ "$(grep -c '^FROM ' Dockerfile)" -ge 2 ] || fail "the Dockerfile is not multi-stage"
grep -q '^USER 65532:65532' Dockerfile || fail "no non-root USER"
grep -q '^VOLUME \["/data"\]' Dockerfile || fail "no /data VOLUME"
grep -q 'CMD \["/usr/local/bin/hellomdm", "healthcheck"\]' Dockerfile || fail "HEALTHCHECK does not use the binary"
grep -q 'HELLOMDM_DATA=/data' Dockerfile || fail "HELLOMDM_DATA is not /data"

echo "-- HEALTHCHECK command against a running server"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
export HELLOMDM_DATA="$tmp/data" HELLOMDM_ADDR="0.0.0.0:$port"
"$tmp/hellomdm" healthcheck >/dev/null 2>&1 && fail "healthcheck passed with no server running"
"$tmp/hellomdm" serve --addr "127.0.0.1:$port" >"$tmp/serve.out" 2>"$tmp/serve.err" &
server_pid=$!
for _ in $(seq 1 100); do
  if "$tmp/hellomdm" healthcheck >/dev/null 2>&1; then break; fi
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/serve.err" >&2; fail "serve exited"; }
  sleep 0.2
done
"$tmp/hellomdm" healthcheck || { cat "$tmp/serve.err" >&2; fail "healthcheck failed against a running server"; }
"$tmp/hellomdm" healthcheck --path /readyz >/dev/null || fail "healthcheck --path /readyz failed against a running server"
kill "$server_pid"; wait "$server_pid" || fail "serve did not stop cleanly on SIGTERM"
server_pid=""
"$tmp/hellomdm" healthcheck >/dev/null 2>&1 && fail "healthcheck passed after the server stopped"
unset HELLOMDM_DATA HELLOMDM_ADDR

echo "-- systemd unit"
if command -v systemd-analyze >/dev/null 2>&1; then
  # verify checks that ExecStart's binary exists: point it at the one just built.
  mkdir -p "$tmp/unit"
  sed "s#/usr/local/bin/hellomdm#$tmp/hellomdm#" packaging/hellomdm.service >"$tmp/unit/hellomdm.service"
  systemd-analyze verify "$tmp/unit/hellomdm.service"
  echo "systemd-analyze verify: ok"
else
  echo "systemd-analyze not installed: skipping the unit check"
fi

echo "-- LICENSE and CHANGELOG"
head -5 LICENSE | grep -q 'Apache License' && grep -q 'Version 2.0, January 2004' LICENSE || fail "LICENSE is not the Apache License 2.0"
grep -q '^## ' CHANGELOG.md || fail "CHANGELOG.md has no release section"
echo "packaging: ok"
