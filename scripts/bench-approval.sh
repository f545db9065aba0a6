#!/usr/bin/env bash
# Whole-process benchmark of forward-auth with an approval token (issue 12,
# docs/benchmarks.md): gatehouse serve (SQLite) under scripts/loadgen on
# loopback, the server pinned to core 0 and the generator to core 1, as
# bench-forward-auth.sh does. Each round the owner's web session asks
# forward-auth, N requests each, interleaved in an order that rotates:
#   noop   a bare net/http server answering 200, measured the same way
#   plain  POST live.localhost/api/transfers/direct: scope transfers:write,
#          no approval
#   with   POST live.localhost/api/transfers: the same rule but for
#          approval: required, each request with a token of its own
#   carry  the plain request carrying the same tokens, which its rule
#          does not look at: what the token's 700 bytes cost on the wire
#          and in the parser, apart from checking and recording it
# Before each round, untimed, benchseed stores N approved approvals in the
# running server's store and loadgen fetches their tokens from the server
# (GET /v1/approvals/{id}), which signs them: the tokens a client would
# present. It prints requests/s, p50 and p99 of each, and with ÷ plain
# and carry ÷ plain (for requests/s, plain's rate over the other's).
#
#   scripts/bench-approval.sh                 # RUNS=5 CONNS_LIST="1 32" N=9000
#   QUICK=1 scripts/bench-approval.sh         # one short round, to check the script works
#
# N stays under the 10,000 tokens an instance remembers (approved, not yet
# used); past them a token is checked by its MAC instead.
set -euo pipefail
if [ -n "${QUICK:-}" ]; then
  RUNS=${RUNS:-1} CONNS_LIST=${CONNS_LIST:-"1"} N=${N:-500}
fi
RUNS=${RUNS:-5} CONNS_LIST=${CONNS_LIST:-"1 32"} N=${N:-9000}
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/bench-lib.sh"
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
go build -o "$work/gatehouse" "$root/cmd/gatehouse"
for c in noop benchseed loadgen; do go build -o "$work/$c" "$root/scripts/$c"; done
gh() { "$work/gatehouse" "$@" --data "$work/data"; }
cat >"$work/gatehouse.yaml" <<'YAML'
trusted_proxies: [127.0.0.1]
log:
  level: warn
rules:
  - host: live.localhost
    methods: [POST]
    path: /api/transfers/direct
    scopes: [transfers:write]
  - host: live.localhost
    methods: [POST]
    path: /api/transfers
    scopes: [transfers:write]
    approval: required
    approval_kind: transfer
YAML
gh account add --id ACC-L --name bench --environment live >/dev/null
echo 'correct horse battery staple violet' | gh user add --username bench --email bench@example.com --password-stdin >/dev/null
gh member add --user bench --account ACC-L --role owner >/dev/null
{ read -r webtok; read -r _; } < <("$work/benchseed" -data "$work/data" -user bench sessions)
start_servers

# The requests, nginx style, from a loopback proxy.
common=(-H "X-Original-Method: POST" -H "Cookie: gatehouse_session=$webtok")
plain=("${common[@]}" -H "X-Original-Url: http://live.localhost/api/transfers/direct")
with=("${common[@]}" -H "X-Original-Url: http://live.localhost/api/transfers")
newtokens() {
  "$work/benchseed" -data "$work/data" -user bench approvals "$1" ACC-L >"$work/ids.txt"
  "$work/loadgen" tokens -addr 127.0.0.1:18080 -cookie "$webtok" <"$work/ids.txt" >"$work/tokens.txt"
}
# Check the set-up: the plain route is allowed, the approval route
# allowed with a token and refused without one, and a token good once.
newtokens 1
curlcode() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
tok=$(cat "$work/tokens.txt")
[ "$(curlcode "${plain[@]}" http://127.0.0.1:18080/v1/authz)" = 200 ] || { echo "bench: the plain route was refused" >&2; exit 1; }
[ "$(curlcode "${with[@]}" http://127.0.0.1:18080/v1/authz)" = 403 ] || { echo "bench: the approval route let a request without a token through" >&2; exit 1; }
[ "$(curlcode "${with[@]}" -H "Gatehouse-Approval: $tok" http://127.0.0.1:18080/v1/authz)" = 200 ] || { echo "bench: the approval route refused a fresh token" >&2; cat "$work/serve.log" >&2; exit 1; }
[ "$(curlcode "${with[@]}" -H "Gatehouse-Approval: $tok" http://127.0.0.1:18080/v1/authz)" = 403 ] || { echo "bench: a token passed twice" >&2; exit 1; }

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
ratio() { awk "BEGIN{printf \"%.2f\", $1/$2}"; }
kinds=(noop plain with carry)
for conns in $CONNS_LIST; do
  for r in $(seq "$RUNS"); do
    newtokens "$N"
    for j in 0 1 2 3; do
      k=${kinds[$(( (j + r) % 4 ))]}
      case $k in
        noop) out=$(taskset -c 1 "$work/loadgen" run -addr 127.0.0.1:18081 -c "$conns" -n "$N" "${plain[@]}" /) ;;
        plain) out=$(taskset -c 1 "$work/loadgen" run -addr 127.0.0.1:18080 -c "$conns" -n "$N" "${plain[@]}" /v1/authz) ;;
        carry) out=$(taskset -c 1 "$work/loadgen" run -addr 127.0.0.1:18080 -c "$conns" -n "$N" "${plain[@]}" -vary Gatehouse-Approval -values "$work/tokens.txt" /v1/authz) ;;
        with) out=$(taskset -c 1 "$work/loadgen" run -addr 127.0.0.1:18080 -c "$conns" -n "$N" "${with[@]}" -vary Gatehouse-Approval -values "$work/tokens.txt" /v1/authz) ;;
      esac
      read -r rps p50 p99 non2xx <<<"$out"
      [ "$non2xx" = 0 ] || { echo "bench: $k: $non2xx of $N requests refused" >&2; cat "$work/serve.log" >&2; exit 1; }
      eval "rps_$k=$rps p50_$k=$p50"
      echo "c=$conns run $r $k: $rps req/s  p50 ${p50}us  p99 ${p99}us"
    done
    echo "c=$conns run $r ratios: with/plain req/s $(ratio "$rps_plain" "$rps_with") p50 $(ratio "$p50_with" "$p50_plain")  carry/plain req/s $(ratio "$rps_plain" "$rps_carry") p50 $(ratio "$p50_carry" "$p50_plain")  plain/noop req/s $(ratio "$rps_plain" "$rps_noop")"
  done
done
