#!/usr/bin/env bash
# The resident memory of a gatehouse server after a flood of well-formed
# logins, with the derived soft memory limit and with none (GOMEMLIMIT=off).
# A measurement for docs/benchmarks.md, not a test: it prints figures and
# judges nothing. Everything stays on loopback; the servers are stopped.
#
#   scripts/login-flood-rss.sh [LOGINS] [PARALLEL]    (default 300 logins, 16 at once)
set -euo pipefail
cd "$(dirname "$0")/.."
logins=${1:-300}
parallel=${2:-16}
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/gatehouse" ./cmd/gatehouse

kib() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$pid/status"; }
mib() { echo "$(( $(kib "$1") / 1024 ))"; }

printf '%-8s %8s %8s %8s %8s %8s %8s\n' limit idle flood+0s flood+5s flood+15s flood+30s peak
for mode in derived off; do
	data="$work/data-$mode"
	if [ "$mode" = off ]; then
		GOMEMLIMIT=off "$work/gatehouse" serve --demo --data "$data" --addr 127.0.0.1:0 >"$work/out" 2>"$work/err" &
	else
		env -u GOMEMLIMIT "$work/gatehouse" serve --demo --data "$data" --addr 127.0.0.1:0 >"$work/out" 2>"$work/err" &
	fi
	pid=$!
	for _ in $(seq 100); do grep -q 'listening on' "$work/out" && break; sleep 0.1; done
	addr=$(sed -n 's/^gatehouse listening on //p' "$work/out")
	pw=$(sed -n 's/.*password \([0-9a-z]*\) (shown once.*/\1/p' "$work/out")
	sleep 2
	idle=$(mib VmRSS)
	body=$(printf '{"username":"demo","password":"%s","interface":"web"}' "$pw")
	seq "$logins" | xargs -P "$parallel" -I{} curl -s -o /dev/null -H 'Content-Type: application/json' -d "$body" "http://$addr/v1/login"
	r0=$(mib VmRSS); sleep 5
	r5=$(mib VmRSS); sleep 10
	r15=$(mib VmRSS); sleep 15
	r30=$(mib VmRSS)
	printf '%-8s %8s %8s %8s %8s %8s %8s   (MiB)\n' "$mode" "$idle" "$r0" "$r5" "$r15" "$r30" "$(mib VmHWM)"
	grep -o 'msg="memory limit".*' "$work/err" | sed 's/^/         /'
	kill -INT "$pid"; wait "$pid" || true; pid=
done
