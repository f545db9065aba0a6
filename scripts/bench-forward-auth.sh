#!/usr/bin/env bash
# Whole-process forward-auth benchmark: gatehouse (SQLite, an API key)
# against a bare net/http server that answers 200, measured the same way
# in the same run. Each server is pinned to core 0, wrk -t1 -c$CONNS to
# core 1, on loopback. Prints wrk's figures for both, RUNS times,
# interleaved. Installs wrk (Debian) when missing; needs 2 cores.
#
#   scripts/bench-forward-auth.sh            # RUNS=3 CONNS=32 DURATION=10s
set -euo pipefail
RUNS=${RUNS:-3} CONNS=${CONNS:-32} DURATION=${DURATION:-10s}
root=$(cd "$(dirname "$0")/.." && pwd)
command -v wrk >/dev/null 2>&1 || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
go build -o "$work/gatehouse" "$root/cmd/gatehouse"
go build -o "$work/noop" "$root/scripts/noop"
gh() { "$work/gatehouse" "$@" --data "$work/data"; }
printf 'trusted_proxies: [127.0.0.1]\nlog:\n  level: warn\n' >"$work/gatehouse.yaml"
gh account add --id ACC-L --name bench --environment live >/dev/null
key=$("$work/gatehouse" key create --data "$work/data" --json --account ACC-L --name bench --environment live --scope orders:read | sed -n 's/.*"secret": *"\([^"]*\)".*/\1/p')
[ -n "$key" ] || { echo "bench: no key" >&2; exit 1; }
GATEHOUSE_SEED_KEY=$(head -c32 /dev/urandom | base64) GOMEMLIMIT=off taskset -c 0 "$work/gatehouse" serve --data "$work/data" --config "$work/gatehouse.yaml" --addr 127.0.0.1:18080 >"$work/serve.log" 2>&1 &
pids+=($!)
taskset -c 0 "$work/noop" -addr 127.0.0.1:18081 &
pids+=($!)
up=
for i in $(seq 300); do
  if curl -fsS -o /dev/null http://127.0.0.1:18080/healthz 2>/dev/null && curl -fsS -o /dev/null http://127.0.0.1:18081/ 2>/dev/null; then up=1; break; fi
  sleep 0.1
done
[ -n "$up" ] || { echo "bench: the servers did not come up" >&2; cat "$work/serve.log" >&2; exit 1; }
hdr=(-H "Authorization: Bearer $key" -H "X-Forwarded-Method: GET" -H "X-Forwarded-Uri: /api/orders" -H "X-Forwarded-Host: live.localhost")
code=$(curl -s -o /dev/null -w '%{http_code}' "${hdr[@]}" http://127.0.0.1:18080/v1/authz)
[ "$code" = 200 ] || { echo "bench: forward-auth answered $code, want 200" >&2; cat "$work/serve.log" >&2; exit 1; }
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$RUNS"); do
  for target in noop gatehouse; do
    if [ $target = noop ]; then url=http://127.0.0.1:18081/; h=(); else url=http://127.0.0.1:18080/v1/authz; h=("${hdr[@]}"); fi
    out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$DURATION" --latency "${h[@]}" "$url")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1=="50%" {print $2}' <<<"$out"); p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    echo "run $r $target: ${rps} req/s  p50 ${p50}  p99 ${p99}${non2xx:+  non-2xx $non2xx}"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
