#!/usr/bin/env bash
# The Node host's tests (scripts/test.sh at the repo root runs this as its "node" stage):
# compile (tsc), then node's own test runner over dist/tests/, against the real sidecar.
#
#   hosts/node/scripts/test.sh                       every test, the sidecar from source (.venv)
#   SIDECAR_BINARY=/path/sidecar-<triple> hosts/node/scripts/test.sh process
#                                                    the tests that run the sidecar, against that binary
#   hosts/node/scripts/test.sh dist/tests/stop.test.js   some files
#
# Installs node_modules (npm ci, from package-lock.json) when it is missing. Needs the
# repo's .venv (./scripts/setup.sh): the sidecar from source, and the Python host that the
# launch-lock tests check this host against.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x node_modules/.bin/tsc ] || npm ci --no-audit --no-fund --silent
node_modules/.bin/tsc -p tsconfig.json
# The files that start the sidecar under test (the rest use stand-ins or no process at all).
process_files=(sidecar stop supervisor host-exit readme electron-example)
files=()
if [ "${1:-}" = process ]; then
    for name in "${process_files[@]}"; do files+=("dist/tests/$name.test.js"); done
    shift
fi
[ "$#" -gt 0 ] && files+=("$@")
[ "${#files[@]}" -gt 0 ] || files=(dist/tests/)
# A generous per-test bound: a hung test fails with its name instead of stalling CI.
exec node --test --test-timeout=180000 "${files[@]}"
