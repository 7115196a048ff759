#!/usr/bin/env bash
# The Node host's static checks (scripts/check.sh at the repo root runs this as its "node" check):
#   tsc --noEmit                                   the package, its tests and scripts, the quickstart
#   tsc -p examples/electron/tsconfig.json         the Electron example against the hand-written
#                                                  declarations in examples/electron/electron.d.ts
#   the same example against Electron's own electron.d.ts (electron@$ELECTRON_TYPES_VERSION, the
#   tarball fetched with `npm pack`, which runs no install script and so downloads no binary),
#   so the hand-written declarations cannot drift from the real API unnoticed
# Installs node_modules (npm ci, from package-lock.json) when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ELECTRON_TYPES_VERSION=45.5.0

[ -x node_modules/.bin/tsc ] || npm ci --no-audit --no-fund --silent
failed=""
run() {
    echo "check (node): $*" >&2
    "$@" || failed="$failed
  $*"
}
run node_modules/.bin/tsc -p tsconfig.json --noEmit
run node_modules/.bin/tsc -p examples/electron/tsconfig.json --noEmit

cache=node_modules/.cache/electron-types/$ELECTRON_TYPES_VERSION
if [ ! -s "$cache/package/electron.d.ts" ]; then
    mkdir -p "$cache"
    if (cd "$cache" && npm pack "electron@$ELECTRON_TYPES_VERSION" --silent >/dev/null && tar xzf "electron-$ELECTRON_TYPES_VERSION.tgz" package/electron.d.ts); then
        :
    else
        echo "check (node): could not fetch electron@$ELECTRON_TYPES_VERSION's types with npm pack" >&2
        failed="$failed
  npm pack electron@$ELECTRON_TYPES_VERSION"
    fi
fi
if [ -s "$cache/package/electron.d.ts" ]; then
    real=$(mktemp -d)
    trap 'rm -rf "$real"' EXIT
    here=$PWD
    cat >"$real/tsconfig.json" <<JSON
{
  "extends": "$here/examples/electron/tsconfig.json",
  "compilerOptions": {
    "rootDir": "/",
    "skipLibCheck": true,
    "typeRoots": ["$here/node_modules/@types"],
    "paths": { "sidecar-host": ["$here/src/index.ts"], "electron": ["$here/$cache/package/electron.d.ts"] }
  },
  "include": [],
  "files": ["$here/$cache/package/electron.d.ts", "$here/examples/electron/main.ts", "$here/examples/electron/preload.cts",
            "$here/examples/electron/renderer.ts", "$here/examples/electron/bridge.ts", "$here/examples/electron/api.ts"]
}
JSON
    run node_modules/.bin/tsc -p "$real/tsconfig.json" --noEmit
fi

if [ -n "$failed" ]; then
    echo "check (node): FAILED:$failed" >&2
    exit 1
fi
echo "check (node): tsc of the package, the Electron example (hand-written and real electron@$ELECTRON_TYPES_VERSION types) passed" >&2
