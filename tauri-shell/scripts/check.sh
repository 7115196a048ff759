#!/usr/bin/env bash
# The Tauri shell's static checks, nothing else:
#   cargo clippy --workspace --all-targets --all-features -- -D warnings
#                                  (the host crate and the app, its test-hooks feature included)
#   cargo clippy -p sidecar-host --all-targets --target x86_64-pc-windows-gnu -- -D warnings
#   cargo clippy -p sidecar-host --all-targets --target aarch64-apple-darwin -- -D warnings
#                                  (the host crate's Windows and macOS code paths, type-checked
#                                   and linted; no linker or SDK needed; running them needs those
#                                   systems. A target rustup cannot add is skipped, saying so)
#   cargo fmt --all --check
#   tsc -p tsconfig.json --noEmit                            (the frontend)
#   tsc -p tauri-plugin-sidecar/tsconfig.json                (the plugin's guest-js and its type
#                                  tests: each @ts-expect-error sample must fail to compile)
#   npm run gen-types -- --check                             (guest-js/generated.ts is what
#                                  rpc.discover of the sidecar from source, with the example app
#                                  this shell embeds, gives)
# Runs all of them, then exits 1 if any failed.
#
# Installs only what those checks need, and only when it is missing:
#   - the Debian packages the app's build links against (as root, with apt-get);
#   - node_modules (npm ci, also when package-lock.json is newer), for tsc and the frontend build;
#   - src-tauri/binaries/sidecar-<triple> (scripts/prepare-sidecar.sh) and dist-web/
#     (npm run build): tauri-build and generate_context! refuse to compile the app,
#     even for clippy, while the externalBin file or frontendDist is missing.
# cargo's target dir defaults to /var/tmp/sidecar-cargo-target, as in ci.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/sidecar-cargo-target}
export PATH="$HOME/.cargo/bin:$PATH"
cd "$here"

packages="build-essential pkg-config libssl-dev libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev"
missing=$(for p in $packages; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q ' installed$' || echo "$p"
done)
if [ -n "$missing" ]; then
    echo "check: installing $(echo $missing)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq $missing >/dev/null
fi
for tool in clippy fmt; do
    if ! cargo "$tool" --version >/dev/null 2>&1; then
        echo "check: cargo $tool is missing (rustup component add ${tool/fmt/rustfmt})" >&2
        exit 1
    fi
done

# npm ci when node_modules is missing or older than the lock (a pull that added a package)
[ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --silent
triple=$(rustc -vV | sed -n 's/^host: //p')
[ -e "src-tauri/binaries/sidecar-$triple" ] || ./scripts/prepare-sidecar.sh
if [ ! -d dist-web ]; then
    # A type error stops the build after dist-web/ exists; tsc --noEmit below reports it.
    npm run build --silent || echo "check: npm run build failed (see tsc below)" >&2
fi

failed=""
run() {
    echo "check: $*" >&2
    "$@" || failed="$failed
  $*"
}
run cargo clippy --workspace --all-targets --all-features -- -D warnings
for target in x86_64-pc-windows-gnu aarch64-apple-darwin; do
    if ! rustup target list --installed 2>/dev/null | grep -qx "$target" \
        && ! rustup target add "$target" >/dev/null 2>&1; then
        echo "check: SKIPPED the $target check: the target is not installed and 'rustup target add $target' failed" >&2
        continue
    fi
    run cargo clippy -p sidecar-host --all-targets --target "$target" -- -D warnings
done
run cargo fmt --all --check
run node_modules/.bin/tsc -p tsconfig.json --noEmit
run node_modules/.bin/tsc -p tauri-plugin-sidecar/tsconfig.json
run npm run --silent gen-types -- --check

if [ -n "$failed" ]; then
    echo "check: FAILED:$failed" >&2
    exit 1
fi
echo "check: clippy (Linux, Windows, macOS), rustfmt, tsc (frontend, guest-js and its type tests) and the generated guest types passed" >&2
