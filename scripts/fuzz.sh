#!/usr/bin/env bash
# Runs every Go fuzz target for the given time (default 30s) each.
set -euo pipefail
t="${1:-30s}"
for pkg in $(go list ./internal/...); do
  for f in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "== $pkg $f"
    go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" "$pkg"
  done
done
