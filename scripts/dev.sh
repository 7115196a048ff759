#!/usr/bin/env bash
# Run the Tauri app in dev mode (`tauri dev`) with the sidecar from source:
# the externalBin slot gets a launcher that execs .venv/bin/python -m sidecar,
# so a Python change takes effect at the next sidecar start (the app's Restart
# button). Needs the Tauri Linux prerequisites (docs/TAURI.md) and a display.
#
#   SIDECAR_SHELL_DATA_DIR=DIR   use DIR as the sidecar's data dir (default: the app data dir)
#   SIDECAR_TEST_METHODS=1       also serve the test.* methods
# Extra arguments go to `tauri dev`.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
./scripts/setup.sh
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/sidecar-cargo-target}
cd tauri-shell
# The lock, exactly (issue-log 0011), when node_modules is missing or older than the lock.
[ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund
SIDECAR_PREPARE=launcher ./scripts/prepare-sidecar.sh
exec npx tauri dev "$@"
