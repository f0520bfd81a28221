#!/usr/bin/env bash
# hellomdm walkthrough: start a server, create a tenant and a user, enroll one simulated
# Windows 11 device, push the two PIN recovery settings, sync, and show the device's
# dsregcmd-style status. Run from the repository root: bash examples/walkthrough.sh
set -euo pipefail

work=$(mktemp -d)
bin="$work/hellomdm"
data="$work/server"
state="$work/device"
port=${HELLOMDM_PORT:-18443}
server="https://localhost:$port"
tenant=6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01
export HELLOMDM_ADMIN_TOKEN="hmdm_walkthrough-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"

echo "== building"
go build -o "$bin" ./cmd/hellomdm

echo "== starting the server (data in $data)"
"$bin" serve --data "$data" --addr "127.0.0.1:$port" --hostname localhost >"$work/server.log" 2>&1 &
server_pid=$!
cleanup() {
	kill "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 50); do
	[ -f "$data/ca.pem" ] && curl -fsS --cacert "$data/ca.pem" "$server/healthz" >/dev/null 2>&1 && break
	sleep 0.2
done

admin() { "$bin" admin --server "$server" --ca-file "$data/ca.pem" "$@"; }

echo "== creating tenant Contoso and user alice@contoso.com"
admin tenant create --id "$tenant" --name Contoso --domain contoso.com --auth-policy OnPremise
admin user create --tenant "$tenant" --upn alice@contoso.com --password 'Correct horse battery 1'

echo "== enrolling a Windows 11 Pro device (Windows-shaped CSR)"
"$bin" device enroll --state "$state" --server "$server" --email alice@contoso.com \
	--password 'Correct horse battery 1' --ca-file "$data/ca.pem" --csr windows \
	--os-version 10.0.22631.2428 --edition 48
device_id=$("$bin" device nodes --state "$state" | awk '$1 == "./DevInfo/DevId" { gsub(/"/, "", $3); print $3 }')

echo "== queueing the PIN recovery settings for $device_id"
admin command queue --tenant "$tenant" --device "$device_id" --verb Replace \
	--uri "./Device/Vendor/MSFT/PassportForWork/$tenant/Policies/EnablePinRecovery" --format bool --data true
admin command queue --tenant "$tenant" --device "$device_id" --verb Replace \
	--uri ./Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls --format chr \
	--data 'signin.contoso.com;portal.contoso.com'

echo "== syncing"
"$bin" device sync --state "$state"

echo "== what the server recorded"
admin command list --tenant "$tenant" --device "$device_id"

echo "== device status"
"$bin" device status --state "$state"
