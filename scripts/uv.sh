#!/usr/bin/env bash
# Run the project's pinned uv:  ./scripts/uv.sh ARGS...   (e.g. lock, lock --upgrade-package X, tree)
#
# uv comes from PyPI at the version pyproject.toml pins ([tool.uv] required-version
# = "==X.Y.Z"; uv itself refuses to work on this project at any other version). It
# lives in its own venv, .venv-tools/ at the repo root, made with `python3 -m venv`
# and `pip install uv==X.Y.Z`: no curl script, no ~/.local (Debian's python3 refuses
# `pip install --user`, PEP 668), nothing shared with .venv/ (which uv itself rebuilds).
# Installed once, reinstalled when the pin changes. Python: $PYTHON, default python3.
# It never downloads a Python (UV_PYTHON_DOWNLOADS=never unless set): environments
# are made from an interpreter on this machine.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools="$repo/.venv-tools"
uv="$tools/bin/uv"

fail() { echo "uv.sh: $*" >&2; exit 1; }

want=$(sed -n 's/^required-version *= *"==\([0-9][0-9.]*\)".*/\1/p' "$repo/pyproject.toml")
[ -n "$want" ] || fail "pyproject.toml has no [tool.uv] required-version = \"==X.Y.Z\""

have=""
[ -x "$uv" ] && have=$("$uv" --version 2>/dev/null | awk '{print $2}') || true
if [ "$have" != "$want" ]; then
    PYTHON=${PYTHON:-python3}
    command -v "$PYTHON" >/dev/null || fail "$PYTHON not found; install Python 3.11 or newer"
    log=$(mktemp)
    if [ ! -x "$tools/bin/python" ] || ! "$tools/bin/python" -m pip --version >/dev/null 2>&1; then
        rm -rf "$tools"
        if ! "$PYTHON" -m venv "$tools" >"$log" 2>&1; then
            rm -rf "$tools"
            # Debian splits venv/ensurepip into python3-venv.
            if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
                echo "uv.sh: installing python3-venv with apt-get" >&2
                { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; } >/dev/null \
                    || fail "apt-get install python3-venv failed"
                "$PYTHON" -m venv "$tools" >"$log" 2>&1 || { cat "$log" >&2; fail "'$PYTHON -m venv $tools' failed (output above)"; }
            else
                cat "$log" >&2
                fail "'$PYTHON -m venv' failed; install python3-venv (Debian/Ubuntu) and run again"
            fi
        fi
    fi
    echo "uv.sh: installing uv==$want into .venv-tools/ (from PyPI)" >&2
    if ! "$tools/bin/python" -m pip install --disable-pip-version-check -q "uv==$want" >"$log" 2>&1; then
        cat "$log" >&2
        fail "pip install uv==$want failed (output above; is PyPI reachable?)"
    fi
    rm -f "$log"
    have=$("$uv" --version 2>/dev/null | awk '{print $2}') || true
    [ "$have" = "$want" ] || fail "installed uv reports version '$have', not $want"
fi

export UV_PYTHON_DOWNLOADS=${UV_PYTHON_DOWNLOADS:-never}
exec "$uv" "$@"
