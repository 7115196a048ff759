#!/usr/bin/env bash
# Every benchmark, one after another, on this machine: the run bench/RESULTS.md quotes.
#
#   ./bench/run-all.sh [OUT [SCRIPT...]]   (default OUT: dist/bench; default: every script)
#
# Builds the Nuitka and PyInstaller sidecars first when dist/ lacks them (the
# binary subjects are skipped otherwise). Run it on an otherwise idle machine:
# the scripts compare subjects side by side in one run, but a neighbour that
# comes and goes still adds noise. Takes ~15-25 minutes on 2 cores (the 1 GB
# ingest alone needs ~4 GB of free disk for a moment).
# app_roundtrip (the real Tauri app's calls timed from its page, ~2 minutes) needs the
# release app: tauri-shell/scripts/build-bench-app.sh builds it (~8 min cold, ~1-2 warm);
# it is not built here, and without it the script says so and is skipped (exit status 77).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist/bench}
./scripts/setup.sh
py=.venv/bin/python
triple=$("$py" build/buildinfo.py triple)$("$py" build/buildinfo.py exe-suffix)
[ -x "dist/nuitka/sidecar-$triple" ] || ./scripts/build-nuitka.sh --no-copy
[ -x "dist/pyinstaller/sidecar-$triple" ] || ./scripts/build-pyinstaller.sh --no-copy
scripts=("${@:2}")
[ "${#scripts[@]}" -gt 0 ] || scripts=(startup rpc transfer memory scaling app_roundtrip)
skipped=()
for script in "${scripts[@]}"; do
    printf '\n==== bench/%s.py (%s)\n' "$script" "$(date -u +%H:%M:%S)" >&2
    status=0
    "$py" "bench/$script.py" --out "$out" || status=$?
    if [ "$status" = 77 ]; then
        skipped+=("$script")
    elif [ "$status" != 0 ]; then
        exit "$status"
    fi
done
[ "${#skipped[@]}" = 0 ] || printf '\nskipped (reason above): %s\n' "${skipped[*]}" >&2
printf '\nall results in %s/\n' "$out" >&2
