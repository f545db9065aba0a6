# Sourced by the whole-process benchmarks (bench-forward-auth.sh,
# bench-approval.sh); $work is their scratch directory and pids the
# processes their trap kills.

# start_servers starts gatehouse serve on $work/data with
# $work/gatehouse.yaml at 127.0.0.1:18080 and the bare server at
# 127.0.0.1:18081, both pinned to core 0, and waits until both answer.
start_servers() {
  GATEHOUSE_SEED_KEY=$(head -c32 /dev/urandom | base64) GOMEMLIMIT=off taskset -c 0 "$work/gatehouse" serve --data "$work/data" --config "$work/gatehouse.yaml" --addr 127.0.0.1:18080 >"$work/serve.log" 2>&1 &
  ghpid=$!
  pids+=($ghpid)
  taskset -c 0 "$work/noop" -addr 127.0.0.1:18081 &
  pids+=($!)
  local up= i
  for i in $(seq 300); do
    if curl -fsS -o /dev/null http://127.0.0.1:18080/healthz 2>/dev/null && curl -fsS -o /dev/null http://127.0.0.1:18081/ 2>/dev/null; then up=1; break; fi
    sleep 0.1
  done
  [ -n "$up" ] || { echo "bench: the servers did not come up" >&2; cat "$work/serve.log" >&2; exit 1; }
}
