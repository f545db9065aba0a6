#!/usr/bin/env bash
# Prints the PostgreSQL test URL when the server answers, nothing otherwise.
# Under CI a silent server is a failure, not a skip: the store tests then fail loudly.
url="$1"
if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432 -t 5; then
  echo "$url"
elif [ "${CI:-}" = "true" ]; then
  echo "pg-url: PostgreSQL at 127.0.0.1:5432 does not answer" >&2
  echo "$url"
fi
