#!/usr/bin/env bash
# The runtime-only build environment of one packager, made from uv.lock:
#
#   scripts/build-env.sh nuitka|pyinstaller [PYTHON]    prints the env's python on stdout
#
# dist/build-env/<packager>/ (git-ignored, safe to delete) holds exactly, as locked:
#   * the sidecar's runtime dependencies ([project.dependencies] and what they need),
#   * the packager's dependency group in pyproject.toml (build-nuitka: nuitka,
#     zstandard; build-pyinstaller: pyinstaller and its hooks),
# and nothing else: no dev group, no test/bench extras, no sidecar-host, and not the
# sidecar itself (the builds compile this work tree's sidecar/ through PYTHONPATH).
# It is
#   uv sync --locked --package sidecar --no-default-groups --group build-<packager> \
#           --no-install-workspace --python PYTHON
# with UV_PROJECT_ENVIRONMENT pointing at the folder, so it is exact: whatever the
# lock does not list is removed, and a different PYTHON recreates the env.
# PYTHON (default: .venv/bin/python if it exists, else python3) is the interpreter
# the env is made from; uv takes a venv's base interpreter.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

packager=${1:?usage: scripts/build-env.sh nuitka|pyinstaller [PYTHON]}
case "$packager" in
    nuitka|pyinstaller) ;;
    *) echo "build-env: unknown packager '$packager' (nuitka or pyinstaller)" >&2; exit 2 ;;
esac
python=${2:-}
if [ -z "$python" ]; then
    if [ -x "$repo/.venv/bin/python" ]; then python="$repo/.venv/bin/python"; else python=python3; fi
fi
command -v "$python" >/dev/null 2>&1 || { echo "build-env: no Python at $python" >&2; exit 1; }
python=$(command -v "$python")
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "build-env: $python is older than Python 3.11" >&2; exit 1; }
[ -f "$repo/uv.lock" ] || { echo "build-env: uv.lock is missing" >&2; exit 1; }

env_dir="$repo/dist/build-env/$packager"
mkdir -p "$repo/dist/build-env"
# An activated .venv must not be what uv syncs (it only warns about it, but say nothing).
unset VIRTUAL_ENV
if ! (cd "$repo" && UV_PROJECT_ENVIRONMENT="$env_dir" PYTHON="$python" ./scripts/uv.sh sync --locked \
        --package sidecar --no-default-groups --group "build-$packager" --no-install-workspace \
        --python "$python") >&2; then
    echo "build-env: could not make $env_dir from uv.lock (output above; if the lockfile" \
         "needs to be updated, run ./scripts/uv.sh lock and commit uv.lock)" >&2
    exit 1
fi
echo "$env_dir/bin/python"
