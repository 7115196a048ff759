#!/usr/bin/env bash
# The Tauri shell's part of CI, for .ci/run to call (as root on Debian bookworm).
#   TAURI_CI=full  (default) host-crate tests, then the .deb + UI suite (15 tests)
#   TAURI_CI=smoke host-crate tests, then a UI subset: externalBin start, .deb layout,
#                  closing the app, the three failure paths
#   TAURI_CI=crate host-crate tests only (no Tauri build: about 2 minutes cold)
# cargo's target dir defaults to /var/tmp/sidecar-cargo-target (outside the clone, so a
# repeat run on the same machine reuses it; a fresh machine builds from scratch).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
mode=${TAURI_CI:-full}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/sidecar-cargo-target}
export PATH="$HOME/.cargo/bin:$PATH"

packages="build-essential pkg-config file libssl-dev"
if [ "$mode" != crate ]; then
    packages="$packages libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev xvfb xauth x11-utils webkit2gtk-driver"
fi
missing=$(dpkg-query -W -f='${Package} ${Status}\n' $packages 2>/dev/null | awk '$NF != "installed" {print $1}' || true)
missing="$missing $(for p in $packages; do dpkg-query -W "$p" >/dev/null 2>&1 || echo "$p"; done)"
if [ -n "$(echo $missing)" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq $packages >/dev/null
fi

cd "$repo"
./scripts/setup.sh
cd tauri-shell
# npm ci: the lock lists the Tauri CLI for every platform (issue-log 0011), so it installs exactly it
npm ci --no-audit --no-fund --silent
cargo test -p sidecar-host
case "$mode" in
    crate) ;;
    smoke) ./scripts/e2e.sh -k "externalbin or sidecar_sits or closing or failure_paths" ;;
    full) ./scripts/e2e.sh ;;
    *) echo "ci.sh: TAURI_CI must be full, smoke or crate (got $mode)" >&2; exit 2 ;;
esac
