#!/usr/bin/env bash
# Installs the real programs the tests drive, from Debian's packages, when
# they are missing. Needs root (CI and the development machines run as root).
set -euo pipefail
need=()
command -v oathtool >/dev/null 2>&1 || need+=(oathtool)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# The Caddy forward-auth test (internal/cli/caddy_test.go).
command -v caddy >/dev/null 2>&1 || need+=(caddy)
# The forward-auth integration test (internal/cli/nginx_test.go) needs nginx
# built with auth_request, as Debian's is.
check_nginx() {
  local bin
  bin=$(command -v nginx || echo /usr/sbin/nginx)
  if [ -x "$bin" ] && ! "$bin" -V 2>&1 | grep -q http_auth_request_module; then
    echo "test-deps: $bin lacks http_auth_request_module; install Debian's nginx package" >&2
    exit 1
  fi
}
# npm packages the tests use as independent peers, installed with the
# machine's Node.js into .deps/node (ignored by git; no lock file, exact versions).
npm_peers() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/.deps/node"
  if [ ! -d "$dir/node_modules/standardwebhooks" ]; then
    if ! command -v npm >/dev/null 2>&1; then
      echo "test-deps: npm is missing; install Node.js (Debian: nodejs npm)" >&2
      exit 1
    fi
    mkdir -p "$dir"
    npm install --silent --no-save --no-package-lock --no-audit --no-fund --prefix "$dir" standardwebhooks@1.1.1 >/dev/null
  fi
}
npm_peers
if [ ${#need[@]} -eq 0 ]; then check_nginx; exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "test-deps: missing ${need[*]}; install them (apt-get install ${need[*]}) or run as root" >&2
  exit 1
fi
echo "test-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
# Keep the packages' own services (nginx and caddy on port 80) from starting: the
# tests start what they need on loopback ports of their own.
had_policy=0
[ -e /usr/sbin/policy-rc.d ] && had_policy=1
if [ $had_policy = 0 ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; fi
trap '[ $had_policy = 0 ] && rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
check_nginx
