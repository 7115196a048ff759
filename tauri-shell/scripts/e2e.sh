#!/usr/bin/env bash
# Build the Tauri app (debug) and run its end-to-end tests under Xvfb through
# tauri-driver + WebKitWebDriver. Run from anywhere; needs the apt packages in
# docs/TAURI.md ("CI"). Extra arguments go to pytest (e.g. -k ready).
#
#   CARGO_TARGET_DIR   cargo's target dir (default /var/tmp/sidecar-cargo-target:
#                      outside the clone, so a repeat run reuses it)
#   SIDECAR_BINARY     auto | nuitka | launcher (see prepare-sidecar.sh)
#   SIDECAR_SHELL_ARTIFACTS  where screenshots go (default dist/e2e-screenshots)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
repo=$(cd "$here/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/sidecar-cargo-target}
export PATH="$HOME/.cargo/bin:$PATH"

cd "$here"
[ -x node_modules/.bin/tsc ] || npm ci --no-audit --no-fund
"$here/scripts/prepare-sidecar.sh"
# One debug build serves both suites: the real bundler (externalBin copied next to the
# executable as `sidecar`) writes the .deb, and the e2e tests drive the same executable.
npx tauri build --debug --bundles deb
if ! command -v tauri-driver >/dev/null; then
    cargo install tauri-driver --locked
fi

cd "$repo"
basetemp=$(mktemp -d /tmp/sidecar-shell-e2e.XXXXXX)
SIDECAR_SHELL_E2E=1 SIDECAR_SHELL_APP="$CARGO_TARGET_DIR/debug/sidecar-shell" \
    .venv/bin/python -m pytest tests/test_tauri_deb.py tests/test_tauri_e2e.py -v --basetemp "$basetemp" "$@"
