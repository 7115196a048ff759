#!/usr/bin/env bash
# Create .venv/ at the repo root from the lock file (uv.lock): the development environment.
#
#   ./scripts/setup.sh            (PYTHON=/path/to/python3.11+ to choose the interpreter)
#   ./scripts/setup.sh --runtime [DIR]
#
# --runtime: for an app author adding methods (README, "Add your own methods"): DIR
# (default .venv-runtime/) gets the sidecar (editable, this work tree) and its runtime
# dependencies only, as locked: no test, bench or dev tools. It is synced --inexact, so
# the app packages installed into it (`./scripts/uv.sh pip install --python
# DIR/bin/python -e path/to/app`) stay; `DIR/bin/python -m sidecar` then loads them.
#
# What goes in, exactly as locked: the sidecar (root project) and sidecar-host
# (hosts/python) as editable installs, so `.venv/bin/python -m sidecar` runs this
# work tree; the sidecar's test and bench extras; the dev group (ruff, mypy,
# import-linter). The command is `uv sync --locked --all-packages` (the dev group,
# which pulls in the extras, is uv's default group), run with the uv pinned in
# pyproject.toml (scripts/uv.sh installs it from PyPI into .venv-tools/ the first time).
# --locked: a pyproject.toml changed without `./scripts/uv.sh lock` fails here
# instead of installing something other than the lock.
#
# Other tools rely on `.venv/bin/python`. Safe to run again: it only syncs when a
# pyproject.toml, uv.lock or the interpreter changed (and then removes whatever the
# lock does not list).
set -euo pipefail
cd "$(dirname "$0")/.."

runtime=""
if [ "${1:-}" = --runtime ]; then
    runtime=${2:-.venv-runtime}
elif [ "$#" -gt 0 ]; then
    echo "setup: unknown argument '$1' (--runtime [DIR])" >&2
    exit 2
fi

PYTHON=${PYTHON:-python3}
if ! command -v "$PYTHON" >/dev/null; then
    echo "setup: $PYTHON not found; install Python 3.11 or newer" >&2
    exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup: $("$PYTHON" --version) is too old; the sidecar needs Python >= 3.11" >&2
    exit 1
fi
# The real interpreter behind a shim (pyenv) or a bare name.
python=$("$PYTHON" -c 'import sys; print(sys.executable)')
[ -f uv.lock ] || { echo "setup: uv.lock is missing (create it with ./scripts/uv.sh lock)" >&2; exit 1; }

if [ -n "$runtime" ]; then
    PYTHON="$python" ./scripts/uv.sh --version >/dev/null
    unset VIRTUAL_ENV
    if ! UV_PROJECT_ENVIRONMENT="$runtime" ./scripts/uv.sh sync --locked --inexact --package sidecar \
            --no-default-groups --python "$python" >&2; then
        echo "setup: 'uv sync --locked' of the runtime env $runtime failed (output above)" >&2
        exit 1
    fi
    echo "setup: $runtime ready ($("$runtime/bin/python" --version): the sidecar and its runtime dependencies)" >&2
    exit 0
fi

stamp=.venv/.sidecar-installed
want=$({ cat pyproject.toml hosts/python/pyproject.toml uv.lock; echo "$python"; "$python" --version; } | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    # uv.sh bootstraps uv (python3 -m venv .venv-tools + pip install uv==<pin>) when needed.
    PYTHON="$python" ./scripts/uv.sh --version >/dev/null
    log=$(mktemp)
    if ! ./scripts/uv.sh sync --locked --all-packages --python "$python" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "setup: 'uv sync --locked' failed (output above). If it says the lockfile needs to be" \
             "updated, a pyproject.toml changed: run ./scripts/uv.sh lock and commit uv.lock." >&2
        exit 1
    fi
    rm -f "$log"
    echo "$want" > "$stamp"
fi
echo "setup: .venv ready ($(.venv/bin/python --version), from uv.lock)" >&2
