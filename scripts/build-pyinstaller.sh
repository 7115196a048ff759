#!/usr/bin/env bash
# Build the sidecar as ONE self-extracting binary with PyInstaller (the fallback packager).
#
#   scripts/build-pyinstaller.sh [--no-copy] [--copy-to DIR] [--app PATH [--app-name NAME]] [--clean] [--python PATH]
#
# Output:   dist/pyinstaller/sidecar-<target-triple>[.exe]  (Tauri externalBin naming)
#           dist/pyinstaller/manifest.json                    (command, versions, uv.lock sha256, build env, size, sha256, time, commit, app)
#           dist/pyinstaller/build.log                        (full PyInstaller output)
# Copies:   tauri-shell/src-tauri/binaries/sidecar-<target-triple>[.exe]  (unless --no-copy);
#           --copy-to DIR copies into DIR instead
# --app PATH, --app-name NAME: an app's sidecar, as in scripts/build-nuitka.sh (output
#           dist/apps/<app>/pyinstaller/, the same build env, re-synced by every build).
# Work dir: build/out/pyinstaller/ (git-ignored; safe to delete). --clean also
#           empties PyInstaller's own cache first (a fully cold build).
#
# Build env: dist/build-env/pyinstaller/ (git-ignored; safe to delete), made from
#           uv.lock by scripts/build-env.sh: the sidecar's runtime dependencies plus
#           pyproject.toml's build-pyinstaller group (pyinstaller and its hooks),
#           nothing else. The sidecar package itself is frozen from this work tree
#           (PYTHONPATH, and the spec's pathex).
#
# --python PATH (or PYTHON=PATH): the interpreter the build env is made from (a venv's
# base interpreter is used; it needs a shared libpython); default .venv/bin/python's,
# else python3.
#
# Prerequisites (checked, installed where possible): objdump and ldd (apt:
# binutils, libc-bin), uv at the version pyproject.toml pins (scripts/uv.sh, from
# PyPI). Inputs: build/sidecar.spec, which reads build/entry.py and the same
# include/exclude lists as the Nuitka build.
#
# Note: a PyInstaller onefile binary unpacks its whole payload into a fresh
# $TMPDIR/_MEIxxxxxx folder on EVERY launch (there is no cached mode), so it
# starts slower than the Nuitka binary; see docs/packaging.md.
set -euo pipefail

# The PyInstaller version: pyproject.toml's build-pyinstaller group, as locked in uv.lock.

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-}"
COPY=1
COPY_TO=""
APP_PATH=""
APP_NAME_OVERRIDE=""
CLEAN=0
PACKAGER=pyinstaller

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "build-pyinstaller: error: $*" >&2; exit 1; }
say() { echo "build-pyinstaller: $*" >&2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-copy) COPY=0 ;;
    --copy-to) COPY_TO="${2:?--copy-to needs a folder}"; shift ;;
    --app) APP_PATH="${2:?--app needs the app package folder}"; shift ;;
    --app-name) APP_NAME_OVERRIDE="${2:?--app-name needs a name}"; shift ;;
    --clean) CLEAN=1 ;;
    --python) PYTHON="${2:?--python needs a path}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
  shift
done

# shellcheck source=build-app.sh
source "$REPO/scripts/build-app.sh"
app_identity

# ---------------------------------------------------------------- prerequisites
can_apt() { command -v apt-get >/dev/null 2>&1 && { [[ $(id -u) -eq 0 ]] || sudo -n true 2>/dev/null; }; }
apt_install() {
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo -n"
  say "installing with apt-get: $*"
  if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null; then
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
  fi
}

if [[ "$(uname -s)" == Linux ]]; then
  missing_apt=()
  command -v objdump >/dev/null 2>&1 || missing_apt+=(binutils)
  command -v ldd >/dev/null 2>&1 || missing_apt+=(libc-bin)
  if [[ ${#missing_apt[@]} -gt 0 ]]; then
    if can_apt; then
      apt_install "${missing_apt[@]}"
    else
      die "missing: ${missing_apt[*]}. Install them (Debian/Ubuntu: sudo apt-get install ${missing_apt[*]}) and run again."
    fi
  fi
fi

# The build env from the lock (runtime dependencies + pyinstaller, nothing else).
PYTHON="$("$REPO/scripts/build-env.sh" pyinstaller ${PYTHON:+"$PYTHON"})" \
  || die "could not make the build env dist/build-env/pyinstaller from uv.lock (see above)"
app_install "$PYTHON"

if [[ "$(uname -s)" == Linux ]]; then
  # PyInstaller bundles libpython: the interpreter must have been built with a shared library.
  "$PYTHON" -c 'import sysconfig, sys; sys.exit(not sysconfig.get_config_var("Py_ENABLE_SHARED"))' \
    || die "$PYTHON has no shared libpython (pyenv: PYTHON_CONFIGURE_OPTS=--enable-shared pyenv install 3.11)"
fi
"$PYTHON" -c 'import importlib.metadata as m; m.version("pyinstaller")' 2>/dev/null \
  || die "the build env has no pyinstaller (is it in pyproject.toml's build-pyinstaller group?)"

# The sidecar itself is taken from this work tree (PYTHONPATH), never from an installed copy.
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
found="$("$PYTHON" -c 'import sidecar.app.main, sidecar; print(sidecar.__file__)' 2>/dev/null)" \
  || die "'import sidecar.app.main' fails in this work tree: the sidecar package is not buildable yet"
[[ "$found" == "$REPO/sidecar/__init__.py" ]] || die "the build env imports sidecar from $found, not from $REPO/sidecar"

# ---------------------------------------------------------------- inputs
info() { "$PYTHON" "$REPO/build/buildinfo.py" "$@"; }
VERSION="$(info version)"
TRIPLE="$(info triple)"
EXE="$(info exe-suffix)"
NAME="$BINARY_NAME-$TRIPLE$EXE"
OUT_REL="${OUT#"$REPO/"}"
mkdir -p "$OUT" "$WORK"
# The build info the binary reads at run time (app name, binary name, the app list: no scan).
app_build_module "$PYTHON" "$WORK/gen"

# The spec reads the binary name and the work tree from the environment; the
# env prefix is part of the recorded command so the manifest shows it all.
PYI_CMD=(
  env "PYTHONPATH=$WORK/gen:$PYTHONPATH" "SIDECAR_BINARY_NAME=$NAME" "SIDECAR_REPO=$REPO"
  "SIDECAR_BUILD_GEN=$WORK/gen" "SIDECAR_APP_PACKAGES=$APP_PACKAGES"
  "$PYTHON" -m PyInstaller
  --noconfirm
  --log-level=WARN
  --distpath "$WORK/dist"
  --workpath "$WORK/work"
)
[[ $CLEAN -eq 1 ]] && PYI_CMD+=(--clean)
PYI_CMD+=("$REPO/build/sidecar.spec")

# ---------------------------------------------------------------- build
say "sidecar $VERSION${APP_DIST:+ with $APP_DIST $APP_VERSION} as $APP_NAME -> $OUT_REL/$NAME"
rm -f "$WORK/dist/$NAME"
start=$(date +%s.%N)
set +e
( cd "$REPO" && "${PYI_CMD[@]}" ) 2>&1 | tee "$OUT/build.log" >&2
status=${PIPESTATUS[0]}
set -e
end=$(date +%s.%N)
[[ $status -eq 0 ]] || die "PyInstaller failed (exit $status); see $OUT_REL/build.log"
[[ -f "$WORK/dist/$NAME" ]] || die "PyInstaller reported success but $WORK/dist/$NAME is missing"
# Nothing from outside the runtime dependencies may ship (issue-log 0019).
"$PYTHON" "$REPO/build/buildinfo.py" check-report "$WORK/work/sidecar" ${APP_DIST:+--app-dist "$APP_DIST"} \
  || die "the binary holds modules from outside the runtime dependencies (listed above); see $OUT_REL/build.log"
seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')

# Replace by rename (install_file, scripts/build-app.sh): a copy of the old binary may be running.
install_file "$WORK/dist/$NAME" "$OUT/$NAME"
[[ -f "$WORK/work/sidecar/warn-sidecar.txt" ]] && cp -f "$WORK/work/sidecar/warn-sidecar.txt" "$OUT/" || true

# ---------------------------------------------------------------- smoke test
if ! smoke="$("$OUT/$NAME" --version 2>&1)"; then
  die "the built binary failed '--version': $smoke"
fi
grep -q -- "$VERSION" <<<"$smoke" || die "the built binary's --version does not mention $VERSION: $smoke"

# ---------------------------------------------------------------- manifest
CMD_JSON="$WORK/command.json"
"$PYTHON" -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "${PYI_CMD[@]}" > "$CMD_JSON"
info manifest \
  --packager pyinstaller \
  --packager-version "$("$PYTHON" -m PyInstaller --version 2>/dev/null | head -n1)" \
  --binary "$OUT/$NAME" \
  --triple "$TRIPLE" \
  --seconds "$seconds" \
  --command-json "$CMD_JSON" \
  --extraction-dir "\${TMPDIR:-/tmp}/_MEIxxxxxx (fresh per launch)" \
  --build-env "$REPO/dist/build-env/pyinstaller" \
  --uv-version "$("$REPO/scripts/uv.sh" --version | awk '{print $2}')" \
  --app-name "$APP_NAME" \
  --binary-name "$BINARY_NAME" \
  ${APP_DIST:+--app-dist "$APP_DIST" --app-path "$APP_PATH"} \
  --out "$OUT/manifest.json"

copy_binary "$OUT/$NAME"
say "done in ${seconds}s: $OUT_REL/$NAME ($(du -h "$OUT/$NAME" | cut -f1)), manifest $OUT_REL/manifest.json"
