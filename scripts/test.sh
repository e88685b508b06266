#!/usr/bin/env bash
# The whole test suite with real services: installs what is missing
# (PostgreSQL, Redis, nginx, faketime from Debian; s3rver comes from npm), starts them
# on free loopback ports, runs `bun test`, stops them, and ends with the line
# CI reads: "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
BUN=node_modules/.bin/bun

missing=()
ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v nginx >/dev/null || missing+=(nginx)
# The clock-jump fault test runs a node under libfaketime; without it that test only records "not run".
ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1 || missing+=(faketime)
if [ ${#missing[@]} -gt 0 ]; then
  echo "[test] installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ! -x "$BUN" ] || [ ! -f node_modules/s3rver/bin/s3rver.js ]; then
  echo "[test] node_modules incomplete: run npm install first" >&2
  exit 1
fi

# Positional arguments to bun test are filters; "./" marks them as paths.
[ $# -gt 0 ] || set -- ./test/ ./src/ ./plugins/ ./bench/
log=$(mktemp)
# Tests that start servers or child processes need more than the 5 s default on a 2-core CI box.
"$BUN" scripts/with-services.ts -- "$BUN" test --timeout 30000 "$@" 2>&1 | tee "$log"
code=${PIPESTATUS[0]}

count() { grep -E "^ *[0-9]+ $1\$" "$log" | tail -1 | awk '{print $1}'; }
pass=$(count pass); fail=$(count fail); skip=$(count skip); errors=$(count error)
pass=${pass:-0}; fail=$(( ${fail:-0} + ${errors:-0} )); skip=${skip:-0}
# A non-zero exit with no counted failure (a crash, no tests found) still fails.
if [ "$code" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
rm -f "$log"
echo "$pass passed, $fail failed, $skip skipped"
[ "$code" -eq 0 ] && [ "$fail" -eq 0 ]
