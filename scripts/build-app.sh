# Sourced by scripts/build-nuitka.sh and scripts/build-pyinstaller.sh: what an app build
# (--app PATH) adds to a plain one, and the copy to a Tauri app's binaries folder.
#
# The caller sets REPO, PACKAGER, APP_PATH (empty: the plain build), APP_NAME_OVERRIDE, and
# has die/say. After app_identity: APP_NAME, BINARY_NAME, APP_DIST, APP_VERSION, APP_SLUG,
# APP_PACKAGES, OUT (dist/<packager> or dist/apps/<slug>/<packager>) and WORK.
#
# An app build uses the plain build's env (dist/build-env/<packager>/) and work dir
# (build/out/<packager>/): the same paths make the same compiler command lines and the same
# generated C, so an app build right after the plain one is mostly ccache hits (with an env
# of its own, every file missed). Every build first re-syncs the env from uv.lock exactly,
# which removes an app a previous app build installed: a plain build never holds an app.
# One build at a time per work tree and packager.

app_identity() {
  APP_DIST="" APP_VERSION="" APP_SLUG="" APP_PACKAGES=""
  APP_NAME="PlutoDuck" BINARY_NAME="sidecar"
  if [[ -z "$APP_PATH" ]]; then
    [[ -n "$APP_NAME_OVERRIDE" ]] && APP_NAME="$APP_NAME_OVERRIDE"
    OUT="$REPO/dist/$PACKAGER"
    WORK="$REPO/build/out/$PACKAGER"
    return
  fi
  [[ -d "$APP_PATH" ]] || die "--app $APP_PATH: no such folder"
  APP_PATH="$(cd "$APP_PATH" && pwd)"
  local assignments
  # buildinfo.py needs only the standard library: any python3 reads the app's pyproject.
  assignments="$(python3 "$REPO/build/buildinfo.py" app-info "$APP_PATH" --app-name "$APP_NAME_OVERRIDE")" \
    || die "--app $APP_PATH: not a usable app package (see above)"
  eval "$assignments"
  OUT="$REPO/dist/apps/$APP_SLUG/$PACKAGER"
  WORK="$REPO/build/out/$PACKAGER"
}

# Install the app and its runtime dependencies into the build env ($1: its python). The env
# was just synced from uv.lock (exact), so this is the only thing besides the lock in it.
app_install() {
  [[ -n "$APP_PATH" ]] || return 0
  say "installing $APP_DIST $APP_VERSION from ${APP_PATH#"$REPO/"} into the build env"
  # --reinstall-package: the app's code may have changed without its version.
  "$REPO/scripts/uv.sh" pip install --quiet --python "$1" --reinstall-package "$APP_DIST" "$APP_PATH" >&2 \
    || die "could not install the app $APP_PATH into the build env (see above)"
  "$1" -c 'import importlib, sys; [importlib.import_module(p) for p in sys.argv[1:]]' $APP_PACKAGES \
    || die "the installed app's packages ($APP_PACKAGES) do not import in the build env"
}

# The sidecar_build_info module the binary is built with ($1: python, $2: the folder for it).
app_build_module() {
  "$1" "$REPO/build/buildinfo.py" gen-module --out "$2/sidecar_build_info.py" \
    --app-name "$APP_NAME" --binary-name "$BINARY_NAME" ${APP_DIST:+--app-dist "$APP_DIST"}
}

# Replace a file by rename, never by writing into it: a copy of the old binary may be
# running (Linux refuses to open a running executable for writing).
install_file() {
  local src="$1" dest="$2"
  cp -f "$src" "$dest.tmp.$$"
  chmod 755 "$dest.tmp.$$"
  mv -f "$dest.tmp.$$" "$dest"
}

# Copy the binary ($1: its path, named <binary-name>-<triple>[.exe], which is Tauri's
# externalBin rule) into $COPY_TO, else (a plain build without --no-copy) into this
# repository's tauri-shell/src-tauri/binaries/.
copy_binary() {
  local binary="$1" dest="${COPY_TO:-}"
  if [[ -z "$dest" ]]; then
    [[ -z "$APP_PATH" && "${COPY:-1}" -eq 1 ]] || return 0
    dest="$REPO/tauri-shell/src-tauri/binaries"
  fi
  mkdir -p "$dest"
  install_file "$binary" "$dest/$(basename "$binary")"
  say "copied to $dest/$(basename "$binary")"
}
