#!/usr/bin/env bash
# Build the app's release executable for bench/app_roundtrip.py, with the bench-only CSP
# overlay (src-tauri/tauri.bench.conf.json: connect-src also allows http://127.0.0.1:*, for
# the FastAPI reference the bench fetches from the page). The shipped tauri.conf.json is not
# touched; `tauri build --config` merges the overlay into it for this build only.
#
#   tauri-shell/scripts/build-bench-app.sh        (about 8 min cold, 1-2 min warm on 2 vCPUs)
#
# The sidecar it bundles is the Nuitka onefile prepare-sidecar.sh places (SIDECAR_PREPARE=nuitka:
# build it first with scripts/build-nuitka.sh --app examples/wordfreq-app --app-name PlutoDuck).
# Output: dist/app-bench/sidecar-shell and, next to it, the sidecar as Tauri's externalBin
# resolution finds it (`sidecar`); copied out of cargo's release dir so that a plain
# `tauri build` with the shipped CSP cannot be mistaken for the bench build.
# CARGO_TARGET_DIR defaults to /var/tmp/sidecar-cargo-target (shared with e2e.sh and ci.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
repo=$(cd "$here/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/sidecar-cargo-target}
export PATH="$HOME/.cargo/bin:$PATH"

cd "$here"
[ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund
SIDECAR_PREPARE=${SIDECAR_PREPARE:-nuitka} "$here/scripts/prepare-sidecar.sh"
start=$(date +%s)
nice -n 10 npx tauri build --no-bundle --config src-tauri/tauri.bench.conf.json
out="$repo/dist/app-bench"
rm -rf "$out" && mkdir -p "$out"
cp "$CARGO_TARGET_DIR/release/sidecar-shell" "$CARGO_TARGET_DIR/release/sidecar" "$out/"
echo "build-bench-app: $out/sidecar-shell (release, bench CSP) built in $(( $(date +%s) - start )) s" >&2
