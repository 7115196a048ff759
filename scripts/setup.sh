#!/usr/bin/env bash
# Create .venv/ at the repo root and install the project (with its test and bench extras) and the host-side tools (hosts/python) into it.
# Other tools rely on `.venv/bin/python -m sidecar`. Safe to run again: it only
# reinstalls when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! command -v "$PYTHON" >/dev/null; then
    echo "setup: $PYTHON not found; install Python 3.11 or newer" >&2
    exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup: $("$PYTHON" --version) is too old; the sidecar needs Python >= 3.11" >&2
    exit 1
fi

if [ ! -x .venv/bin/python ]; then
    if ! "$PYTHON" -m venv .venv 2>/tmp/sidecar-venv.err; then
        rm -rf .venv
        # Debian splits venv/ensurepip into python3-venv.
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            echo "setup: installing python3-venv with apt-get" >&2
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
            "$PYTHON" -m venv .venv
        else
            cat /tmp/sidecar-venv.err >&2
            echo "setup: '$PYTHON -m venv' failed; install python3-venv (Debian/Ubuntu) and run again" >&2
            exit 1
        fi
    fi
fi

stamp=.venv/.sidecar-installed
want=$(cat pyproject.toml hosts/python/pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log=$(mktemp)
    if ! { .venv/bin/python -m pip install --disable-pip-version-check --upgrade pip \
           && .venv/bin/python -m pip install --disable-pip-version-check -e ".[test,bench]" -e hosts/python; } >"$log" 2>&1; then
        cat "$log" >&2
        echo "setup: pip install failed (output above)" >&2
        exit 1
    fi
    rm -f "$log"
    echo "$want" > "$stamp"
fi
echo "setup: .venv ready ($(.venv/bin/python --version))" >&2
