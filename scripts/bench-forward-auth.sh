#!/usr/bin/env bash
# Whole-process forward-auth benchmark (issue 17, docs/benchmarks.md):
# gatehouse (SQLite) against a bare net/http server that answers 200,
# measured the same way in the same run. Each server is pinned to core 0,
# wrk -t1 to core 1, on loopback. For each number of connections, with and
# without "Connection: close", it runs, RUNS times and interleaved:
#   noop      the bare server
#   apikey    forward-auth with an API key (Authorization: Bearer)
#   web       with a web session cookie
#   dpop      with a DPoP-bound desktop session (Authorization: DPoP and a
#             fresh proof per request; a batch of proofs is made before each
#             run, as the replay cache refuses a proof seen before)
# and prints requests/s, p50, p99 and the ratio to the no-op of the same
# round. Then it floods forward-auth with unauthenticated requests (made-up
# session cookies, a mistyped key) and checks that the server's resident
# memory stays flat between a first and a second flood.
#
#   scripts/bench-forward-auth.sh                  # RUNS=3 CONNS_LIST="1 32 128" DURATION=10s
#   QUICK=1 scripts/bench-forward-auth.sh          # one short round, to check the script works
#
# Installs wrk (Debian) when missing; needs 2 cores and a quiet machine for
# figures worth recording.
set -euo pipefail
if [ -n "${QUICK:-}" ]; then
  RUNS=${RUNS:-1} CONNS_LIST=${CONNS_LIST:-"1 32"} DURATION=${DURATION:-1s} FLOOD=${FLOOD:-2s}
fi
RUNS=${RUNS:-3} CONNS_LIST=${CONNS_LIST:-"1 32 128"} DURATION=${DURATION:-10s} FLOOD=${FLOOD:-15s}
# Proofs a DPoP run may need: more than it can send at the best rate seen.
PROOF_RATE=${PROOF_RATE:-30000}
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/bench-lib.sh"
command -v wrk >/dev/null 2>&1 || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
go build -o "$work/gatehouse" "$root/cmd/gatehouse"
go build -o "$work/noop" "$root/scripts/noop"
go build -o "$work/benchseed" "$root/scripts/benchseed"
gh() { "$work/gatehouse" "$@" --data "$work/data"; }
printf 'trusted_proxies: [127.0.0.1]\nlog:\n  level: warn\n' >"$work/gatehouse.yaml"
gh account add --id ACC-L --name bench --environment live >/dev/null
key=$("$work/gatehouse" key create --data "$work/data" --json --account ACC-L --name bench --environment live --scope orders:read | sed -n 's/.*"secret": *"\([^"]*\)".*/\1/p')
[ -n "$key" ] || { echo "bench: no key" >&2; exit 1; }
echo 'correct horse battery staple violet' | "$work/gatehouse" user add --data "$work/data" --username bench --email bench@example.com --password-stdin >/dev/null
gh member add --user bench --account ACC-L --role trader >/dev/null
{ read -r webtok; read -r desktok; } < <("$work/benchseed" -data "$work/data" -user bench sessions)
start_servers

# The request forward-auth is asked about, Traefik style.
method=GET host=live.localhost uri=/api/orders
target=(-H "X-Forwarded-Method: $method" -H "X-Forwarded-Uri: $uri" -H "X-Forwarded-Host: $host")
htu="http://$host$uri"
declare -A cred=(
  [apikey]="Authorization: Bearer $key"
  [web]="Cookie: gatehouse_session=$webtok"
  [dpop]="Authorization: DPoP $desktok"
)
# wrk sends each request the next proof of the file named after --.
cat >"$work/proofs.lua" <<'LUA'
local proofs, i = {}, 0
function init(args) for line in io.lines(args[1]) do proofs[#proofs + 1] = line end end
function request()
  i = i + 1
  wrk.headers["DPoP"] = proofs[i] or proofs[#proofs] -- past the end: replays, refused, counted as non-2xx
  return wrk.format()
end
LUA
secs=${DURATION%s}
newproofs() { "$work/benchseed" -data "$work/data" proofs "$1" "$method" "$htu" "$desktok" >"$work/proofs.txt"; }
newproofs 1
code=$(curl -s -o /dev/null -w '%{http_code}' "${target[@]}" -H "${cred[dpop]}" -H "DPoP: $(cat "$work/proofs.txt")" http://127.0.0.1:18080/v1/authz)
[ "$code" = 200 ] || { echo "bench: forward-auth answered $code to the DPoP session, want 200" >&2; cat "$work/serve.log" >&2; exit 1; }
for k in apikey web; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "${target[@]}" -H "${cred[$k]}" http://127.0.0.1:18080/v1/authz)
  [ "$code" = 200 ] || { echo "bench: forward-auth answered $code to $k, want 200" >&2; cat "$work/serve.log" >&2; exit 1; }
done

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
kinds=(noop apikey web dpop)
for conns in $CONNS_LIST; do
  for close in no yes; do
    extra=()
    [ $close = yes ] && extra=(-H "Connection: close")
    for r in $(seq "$RUNS"); do
      noop_rps=
      # Interleaved, the order rotating with the run.
      for j in 0 1 2 3; do
        k=${kinds[$(( (j + r) % 4 ))]}
        lua=()
        case $k in
          noop) url=http://127.0.0.1:18081/; h=("${target[@]}" -H "${cred[apikey]}") ;;
          dpop) url=http://127.0.0.1:18080/v1/authz; h=("${target[@]}" -H "${cred[dpop]}")
                newproofs $(( PROOF_RATE * ${secs%.*} + 1000 )); lua=(-s "$work/proofs.lua") ;;
          *) url=http://127.0.0.1:18080/v1/authz; h=("${target[@]}" -H "${cred[$k]}") ;;
        esac
        out=$(taskset -c 1 wrk -t1 -c"$conns" -d"$DURATION" --latency "${lua[@]}" "${h[@]}" "${extra[@]}" "$url" ${lua:+-- "$work/proofs.txt"})
        rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
        p50=$(awk '$1=="50%" {print $2}' <<<"$out"); p99=$(awk '$1=="99%" {print $2}' <<<"$out")
        non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
        eval "rps_$k=$rps"
        echo "c=$conns close=$close run $r $k: ${rps} req/s  p50 ${p50}  p99 ${p99}${non2xx:+  non-2xx $non2xx}"
      done
      echo "c=$conns close=$close run $r ratios to noop: apikey $(awk "BEGIN{printf \"%.2f\", $rps_apikey/$rps_noop}")  web $(awk "BEGIN{printf \"%.2f\", $rps_web/$rps_noop}")  dpop $(awk "BEGIN{printf \"%.2f\", $rps_dpop/$rps_noop}")"
    done
  done
done

# Memory under an unauthenticated flood, at 128 connections: made-up
# session cookies (each a cache miss and a store look-up) and mistyped
# keys (refused by their checksum), in turn.
# Flat means the second flood leaves the resident memory within 10 % (or
# 8 MiB) of where the first one left it.
cat >"$work/flood.lua" <<'LUA'
local n = 0
function request()
  n = n + 1
  if n % 2 == 0 then
    wrk.headers["Authorization"] = "Bearer gatehouse_live_mistyped" .. n
    wrk.headers["Cookie"] = nil
  else
    wrk.headers["Authorization"] = nil
    wrk.headers["Cookie"] = "gatehouse_session=flood" .. n .. string.format("%x", math.random(0, 0x7fffffff))
  end
  return wrk.format()
end
LUA
rss() { awk '/VmRSS/ {print $2}' "/proc/$ghpid/status"; }
flood() { taskset -c 1 wrk -t1 -c128 -d"$FLOOD" -s "$work/flood.lua" "${target[@]}" http://127.0.0.1:18080/v1/authz | awk '/Requests\/sec/ {print $2}'; }
rss0=$(rss)
f1=$(flood); rss1=$(rss)
f2=$(flood); rss2=$(rss)
echo "flood: RSS $((rss0/1024)) MiB before, $((rss1/1024)) MiB after a first flood ($f1 req/s), $((rss2/1024)) MiB after a second ($f2 req/s)"
allowed=$(( rss1 / 10 > 8192 ? rss1 / 10 : 8192 ))
if [ $((rss2 - rss1)) -gt "$allowed" ]; then
  echo "bench: memory grew by $(((rss2 - rss1)/1024)) MiB under the second unauthenticated flood (allowed $((allowed/1024)) MiB)" >&2
  exit 1
fi
echo "flood: memory flat"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
