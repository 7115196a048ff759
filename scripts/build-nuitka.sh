#!/usr/bin/env bash
# Build the sidecar as ONE self-extracting binary with Nuitka (the primary packager).
#
#   scripts/build-nuitka.sh [--no-copy] [--copy-to DIR] [--app PATH [--app-name NAME]] [--python PATH] [--jobs N]
#                           [--bootstrap launcher|nuitka]
#
# Output:   dist/nuitka/sidecar-<target-triple>[.exe]  (Tauri externalBin naming)
#           dist/nuitka/manifest.json                    (command, versions, uv.lock sha256, build env, size, sha256, time, commit, app)
#           dist/nuitka/build.log                        (full Nuitka output)
#           dist/nuitka/compilation-report.xml           (every module that went in, and why)
# Copies:   tauri-shell/src-tauri/binaries/sidecar-<target-triple>[.exe]  (unless --no-copy);
#           --copy-to DIR copies into DIR instead (a Tauri app's src-tauri/binaries)
# Work dir: build/out/nuitka/ (git-ignored; safe to delete)
#
# --app PATH: build an app's sidecar: the app package at PATH (its pyproject.toml with a
#           [project.entry-points."sidecar.apps"] entry and [tool.sidecar] app-name, binary-name)
#           and its runtime dependencies are installed into a build env of its own
#           (the plain build's dist/build-env/nuitka/, re-synced from the lock by every build), compiled in, and baked into the build info
#           (no entry-point scan at run time). Output: dist/apps/<app>/nuitka/<binary-name>-<triple>,
#           where <app> is the app's first entry-point name (plus -<app name> with --app-name);
#           copied only with --copy-to.
# --app-name NAME: the app name (data folder, keychain service, extraction folder) instead of
#           the app's [tool.sidecar] app-name (default without --app: PlutoDuck).
# Build env: dist/build-env/nuitka/ (git-ignored; safe to delete), made from uv.lock by
#           scripts/build-env.sh: the sidecar's runtime dependencies plus pyproject.toml's
#           build-nuitka group (nuitka, zstandard), nothing else. The sidecar package
#           itself is compiled from this work tree (PYTHONPATH).
#
# --bootstrap launcher|nuitka: what the one file starts with (default: launcher on Linux and macOS
#           when cargo is there, else nuitka with a warning; nuitka elsewhere). launcher: Nuitka builds --mode=standalone and build/launcher (a small
#           Rust program, built with cargo) carries the dist folder as a zstd tar; it unpacks it once
#           and then execs the program directly, so the host's pid is the Python process and a warm
#           launch reads nothing (docs/packaging.md, "The exec launcher"). nuitka: Nuitka's own
#           --mode=onefile bootstrap, which CRC-checks the whole cache folder and forks a child on
#           every launch (Windows: the launcher has no exec there).
# --python PATH (or PYTHON=PATH): the interpreter the build env is made from (a venv's
# base interpreter is used); default .venv/bin/python's, else python3.
#
# Prerequisites (checked, installed where possible): a C compiler, patchelf and
# ccache (apt), Python headers (apt python3-dev for Debian's Python), uv at the
# version pyproject.toml pins (scripts/uv.sh, from PyPI). Inputs live in build/:
# entry.py, include-*.txt, exclude-modules.txt, nuitka-bytecode.txt; the version
# comes from sidecar/_version.py.
#
# Prerequisites of the launcher: cargo (rustup; ~/.cargo/bin is searched too).
# The binary unpacks itself ONCE into a cache folder keyed by version and build id:
#   {CACHE_DIR}/<app name>/sidecar/<version>-<build-id>   (Linux: ${XDG_CACHE_HOME:-~/.cache}/...)
# and later launches reuse it (see docs/packaging.md: cold vs warm start, cleanup).
set -euo pipefail

# Nuitka and zstandard versions: pyproject.toml's build-nuitka group, as locked in uv.lock.
# How long the onefile bootstrap lets the child finish after forwarding a
# SIGTERM/SIGINT (as SIGINT) before it SIGKILLs it. The sidecar needs well
# under a second for SHUTDOWN + DuckDB close; 5 s (Nuitka's default, written
# out so it is visible) leaves room for a slow checkpoint.
CHILD_GRACE_MS="5000"

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-}"
COPY=1
COPY_TO=""
APP_PATH=""
APP_NAME_OVERRIDE=""
JOBS=""
PACKAGER=nuitka
BOOTSTRAP=""

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "build-nuitka: error: $*" >&2; exit 1; }
say() { echo "build-nuitka: $*" >&2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-copy) COPY=0 ;;
    --copy-to) COPY_TO="${2:?--copy-to needs a folder}"; shift ;;
    --app) APP_PATH="${2:?--app needs the app package folder}"; shift ;;
    --app-name) APP_NAME_OVERRIDE="${2:?--app-name needs a name}"; shift ;;
    --python) PYTHON="${2:?--python needs a path}"; shift ;;
    --jobs) JOBS="${2:?--jobs needs a number}"; shift ;;
    --bootstrap) BOOTSTRAP="${2:?--bootstrap needs launcher or nuitka}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
  shift
done

# The launcher is built with cargo; rustup installs it in ~/.cargo/bin, which a shell's PATH may lack.
export PATH="$PATH:$HOME/.cargo/bin"
if [[ -z "$BOOTSTRAP" ]]; then
  case "$(uname -s)" in Linux|Darwin) BOOTSTRAP=launcher ;; *) BOOTSTRAP=nuitka ;; esac
  if [[ "$BOOTSTRAP" == launcher ]] && ! command -v cargo >/dev/null 2>&1; then
    # Only the default falls back: a build must work on a machine with nothing but Python (the
    # README's first command); an explicit --bootstrap launcher without cargo is an error below.
    say "warning: no cargo (https://rustup.rs): building with Nuitka's own onefile bootstrap instead of the exec launcher (slower warm starts, two processes; docs/packaging.md)"
    BOOTSTRAP=nuitka
  fi
fi
case "$BOOTSTRAP" in
  launcher|nuitka) ;;
  *) die "--bootstrap must be launcher or nuitka, not '$BOOTSTRAP'" ;;
esac

# shellcheck source=build-app.sh
source "$REPO/scripts/build-app.sh"
app_identity

# ---------------------------------------------------------------- prerequisites
can_apt() { command -v apt-get >/dev/null 2>&1 && { [[ $(id -u) -eq 0 ]] || sudo -n true 2>/dev/null; }; }
apt_install() {
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo -n"
  say "installing with apt-get: $*"
  # apt-get update only when the package lists are missing or the install fails.
  if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null; then
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
  fi
}

missing_apt=()
case "$(uname -s)" in
  Linux)
    command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || missing_apt+=(gcc)
    command -v patchelf >/dev/null 2>&1 || missing_apt+=(patchelf)
    command -v ccache >/dev/null 2>&1 || missing_apt+=(ccache)
    ;;
  Darwin)
    command -v clang >/dev/null 2>&1 || die "no C compiler: run 'xcode-select --install'"
    command -v ccache >/dev/null 2>&1 || say "warning: ccache not found (brew install ccache): rebuilds will be slow"
    ;;
esac
if [[ "$BOOTSTRAP" == launcher ]]; then
  command -v cargo >/dev/null 2>&1 \
    || die "the launcher needs cargo (https://rustup.rs), or build with --bootstrap nuitka"
fi
if [[ ${#missing_apt[@]} -gt 0 ]]; then
  if can_apt; then
    apt_install "${missing_apt[@]}"
  else
    die "missing: ${missing_apt[*]}. Install them (Debian/Ubuntu: sudo apt-get install ${missing_apt[*]}) and run again."
  fi
fi
# The build env from the lock (runtime dependencies + nuitka + zstandard, nothing else),
# plus the app and its dependencies for an app build.
PYTHON="$("$REPO/scripts/build-env.sh" nuitka ${PYTHON:+"$PYTHON"})" \
  || die "could not make the build env dist/build-env/nuitka from uv.lock (see above)"
app_install "$PYTHON"

# Python headers: Nuitka compiles against them (Debian's system Python needs python3-dev).
has_python_h() {
  "$PYTHON" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'
}
if ! has_python_h; then
  py_base="$("$PYTHON" -c 'import sys; print(sys.base_prefix)')"
  if [[ "$py_base" == /usr && "$(uname -s)" == Linux ]] && can_apt; then
    apt_install python3-dev
  fi
  has_python_h || die "Python.h not found for $PYTHON (Debian/Ubuntu: apt-get install python3-dev)"
fi

dist_version() { "$PYTHON" -c 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' "$1" 2>/dev/null; }
NUITKA_VERSION="$(dist_version nuitka)" || die "the build env has no nuitka (is it in pyproject.toml's build-nuitka group?)"
ZSTANDARD_VERSION="$(dist_version zstandard)" || die "the build env has no zstandard: the payload would not be compressed (issue-log 0001)"

# The sidecar itself is taken from this work tree (PYTHONPATH), never from an installed copy.
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
found="$("$PYTHON" -c 'import sidecar.app.main, sidecar; print(sidecar.__file__)' 2>/dev/null)" \
  || die "'import sidecar.app.main' fails in this work tree: the sidecar package is not buildable yet"
[[ "$found" == "$REPO/sidecar/__init__.py" ]] || die "the build env imports sidecar from $found, not from $REPO/sidecar"

"$PYTHON" -m nuitka --help 2>/dev/null | grep -q -- '--onefile-as-archive' \
  || die "this Nuitka ($NUITKA_VERSION) has no --onefile-as-archive"

# ---------------------------------------------------------------- inputs
info() { "$PYTHON" "$REPO/build/buildinfo.py" "$@"; }
VERSION="$(info version)"
TRIPLE="$(info triple)"
EXE="$(info exe-suffix)"
NAME="$BINARY_NAME-$TRIPLE$EXE"
OUT_REL="${OUT#"$REPO/"}"
# The extraction folder is keyed by version AND build id (a hash of the sources,
# build inputs and installed packages): a rebuild never has to overwrite files a
# running older build is executing (issue-log/0013), and an upgrade gets a fresh
# folder; the sidecar removes the other folders (docs/packaging.md).
BUILD_ID="$(info build-id nuitka "$NUITKA_VERSION" "$ZSTANDARD_VERSION" "app=$APP_NAME" "binary=$BINARY_NAME" \
  "bootstrap=$BOOTSTRAP" \
  ${APP_PATH:+--tree "$APP_PATH"})"
CACHE_SPEC="{CACHE_DIR}/$APP_NAME/sidecar/$VERSION-$BUILD_ID"
mkdir -p "$OUT" "$WORK"
# The build info the binary reads at run time (app name, binary name, the app list: no scan).
app_build_module "$PYTHON" "$WORK/gen"
export PYTHONPATH="$WORK/gen:$PYTHONPATH"

join() { local IFS=,; echo "$*"; }
mapfile -t INCLUDE_PACKAGES < <(info list include-packages.txt)
mapfile -t INCLUDE_MODULES < <(info list include-modules.txt)
mapfile -t INCLUDE_METADATA < <(info list include-metadata.txt)
mapfile -t EXCLUDE_MODULES < <(info list exclude-modules.txt)
mapfile -t BYTECODE_PACKAGES < <(info list nuitka-bytecode.txt)

NUITKA_CMD=(
  env "PYTHONPATH=$PYTHONPATH"
  "$PYTHON" -m nuitka
  --assume-yes-for-downloads
  --output-dir="$WORK"
  --output-filename="$NAME"
)
if [[ "$BOOTSTRAP" == launcher ]]; then
  # The dist folder only: build/launcher makes the one file (below).
  NUITKA_CMD+=(--mode=standalone)
else
  NUITKA_CMD+=(
    --mode=onefile
    # Cached extraction: unpack once per version, later launches only check CRCs.
    --onefile-tempdir-spec="$CACHE_SPEC"
    --onefile-cache-mode=cached
    # Files compressed one by one, so a cached launch skips decompressing them.
    --onefile-as-archive
    --onefile-child-grace-time="$CHILD_GRACE_MS"
  )
fi
NUITKA_CMD+=(
  # Keep tests and build tools out even when a library mentions them.
  --noinclude-pytest-mode=nofollow
  --noinclude-setuptools-mode=nofollow
  --noinclude-unittest-mode=nofollow
  --noinclude-pydoc-mode=nofollow
  --noinclude-IPython-mode=nofollow
  --nofollow-import-to="$(join "${EXCLUDE_MODULES[@]}")"
  --report="$WORK/compilation-report.xml"
  --lto=no
  --include-module=sidecar_build_info
)
for p in $APP_PACKAGES; do NUITKA_CMD+=(--include-package="$p"); done
for p in "${INCLUDE_PACKAGES[@]}"; do NUITKA_CMD+=(--include-package="$p"); done
for m in "${INCLUDE_MODULES[@]}"; do NUITKA_CMD+=(--include-module="$m"); done
for d in "${INCLUDE_METADATA[@]}"; do NUITKA_CMD+=(--include-distribution-metadata="$d"); done
for b in "${BYTECODE_PACKAGES[@]}"; do NUITKA_CMD+=(--noinclude-custom-mode="$b:bytecode"); done
[[ -n "$JOBS" ]] && NUITKA_CMD+=(--jobs="$JOBS")
NUITKA_CMD+=("$REPO/build/entry.py")

# ---------------------------------------------------------------- build
if command -v ccache >/dev/null 2>&1; then
  export NUITKA_CCACHE_BINARY="${NUITKA_CCACHE_BINARY:-$(command -v ccache)}"
  CCACHE_NOTE="on ($NUITKA_CCACHE_BINARY)"
else
  CCACHE_NOTE="off (ccache not found)"
fi
say "sidecar $VERSION${APP_DIST:+ with $APP_DIST $APP_VERSION} as $APP_NAME -> $OUT_REL/$NAME (ccache $CCACHE_NOTE)"
say "extraction cache: $CACHE_SPEC (bootstrap: $BOOTSTRAP)"

rm -f "$WORK/$NAME"
rm -rf "$WORK/entry.dist"  # a standalone build's folder is what the launcher packs: never an old one
start=$(date +%s.%N)
set +e
( cd "$REPO" && "${NUITKA_CMD[@]}" ) 2>&1 | tee "$OUT/build.log" >&2
status=${PIPESTATUS[0]}
set -e
[[ $status -eq 0 ]] || die "Nuitka failed (exit $status); see $OUT_REL/build.log"
if [[ "$BOOTSTRAP" == launcher ]]; then
  [[ -x "$WORK/entry.dist/$NAME" ]] || die "Nuitka reported success but $WORK/entry.dist/$NAME is missing"
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/sidecar-cargo-target}"
  say "building the launcher (cargo, target dir $CARGO_TARGET_DIR)"
  cargo build --quiet --release --locked --manifest-path "$REPO/build/launcher/Cargo.toml" 2>&1 | tee -a "$OUT/build.log" >&2 \
    || die "the launcher did not build (cargo); see $OUT_REL/build.log"
  # Same tree, same bytes: the tar's times and owners are fixed (build/launcher/pack.py).
  SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-0}" "$PYTHON" "$REPO/build/launcher/pack.py" \
    --launcher "$CARGO_TARGET_DIR/release/sidecar-launcher" \
    --tree "$WORK/entry.dist" --exe "$NAME" \
    --app-name "$APP_NAME" --folder "$VERSION-$BUILD_ID" \
    --out "$WORK/$NAME" 2>&1 | tee -a "$OUT/build.log" >&2 \
    || die "packing the dist folder behind the launcher failed; see $OUT_REL/build.log"
fi
[[ -f "$WORK/$NAME" ]] || die "the build reported success but $WORK/$NAME is missing"
end=$(date +%s.%N)
# Nothing from outside the runtime dependencies may ship (issue-log 0019): checked
# before the binary replaces the previous one.
info check-report "$WORK/compilation-report.xml" ${APP_DIST:+--app-dist "$APP_DIST"} \
  || die "the binary holds modules from outside the runtime dependencies (listed above); see $OUT_REL/build.log"
seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')

# Replace the output by rename (install_file, scripts/build-app.sh): a copy of the old one may run.
install_file "$WORK/$NAME" "$OUT/$NAME"
cp -f "$WORK/compilation-report.xml" "$OUT/compilation-report.xml"

# ---------------------------------------------------------------- smoke test
# --version must work from the binary (this also fills the extraction cache).
if ! smoke="$("$OUT/$NAME" --version 2>&1)"; then
  die "the built binary failed '--version': $smoke"
fi
grep -q -- "$VERSION" <<<"$smoke" || die "the built binary's --version does not mention $VERSION: $smoke"

# ---------------------------------------------------------------- manifest
# Nuitka reports the program and the onefile bootstrap separately: add them up.
# (A cold build has no "cache hit" line at all: grep finding nothing is fine.)
count_log() { { grep -Eo "$1" "$OUT/build.log" || true; } | awk -v f="$2" '{ n += $f } END { print n + 0 }'; }
ccache_hits="$(count_log "Cached C files \(using ccache\) with result 'cache hit': [0-9]+" 10)"
ccache_total="$(count_log "Compiled [0-9]+ C files using ccache" 2)"
CMD_JSON="$WORK/command.json"
"$PYTHON" -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "${NUITKA_CMD[@]}" > "$CMD_JSON"
info manifest \
  --packager nuitka \
  --bootstrap "$BOOTSTRAP" \
  --packager-version "$("$PYTHON" -m nuitka --version 2>/dev/null | head -n1)" \
  --binary "$OUT/$NAME" \
  --triple "$TRIPLE" \
  --seconds "$seconds" \
  --command-json "$CMD_JSON" \
  --ccache "$CCACHE_NOTE; C files compiled: ${ccache_total:-?}, cache hits: ${ccache_hits:-0}" \
  --extraction-dir "$CACHE_SPEC" \
  --build-id "$BUILD_ID" \
  --build-env "$REPO/dist/build-env/nuitka" \
  --uv-version "$("$REPO/scripts/uv.sh" --version | awk '{print $2}')" \
  --app-name "$APP_NAME" \
  --binary-name "$BINARY_NAME" \
  ${APP_DIST:+--app-dist "$APP_DIST" --app-path "$APP_PATH"} \
  --out "$OUT/manifest.json"

copy_binary "$OUT/$NAME"
say "done in ${seconds}s: $OUT_REL/$NAME ($(du -h "$OUT/$NAME" | cut -f1)), manifest $OUT_REL/manifest.json"
