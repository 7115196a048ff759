#!/usr/bin/env bash
# The whole test suite, in stages:
#   checks    scripts/check.sh: ruff, mypy --strict, the import contracts, clippy/rustfmt/tsc
#   python    pytest from source: tests/unit, then tests/process and the example app's tests
#             (examples/wordfreq-app/tests) (inside a private Secret Service when gnome-keyring is installed)
#   binaries  build the Nuitka and PyInstaller sidecars (ccache), then run the core integration
#             suite against each, the engine suite against Nuitka, and the process-model tests;
#             then the example app's two Nuitka builds (mostly ccache hits after the plain one):
#             as WordFreq (its tests against it, and two app names side by side) and as
#             PlutoDuck, copied into tauri-shell/src-tauri/binaries for the tauri stage
#   node      the Node host (hosts/node/scripts/test.sh): every node --test suite against the sidecar
#             from source, then the ones that run the sidecar against the Nuitka build if there is one
#   harness   the launch-reliability harness over both binaries (20 launches + SIGKILL + SIGTERM
#             cycles each) and the Milestone 0 checklist
#   tauri     the Rust host crate's tests, the Tauri app build, the .deb and the UI suite
#             (tauri-shell/scripts/ci.sh; TAURI_CI=full|smoke|crate, default full)
#
#   ./scripts/test.sh                      every stage
#   SIDECAR_TEST_STAGES="python" ./scripts/test.sh
#   ./scripts/test.sh -k lifecycle -x      with arguments: pytest from source only, with them
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

py=.venv/bin/python
stages=${SIDECAR_TEST_STAGES:-checks python binaries node harness tauri}
if [ "$#" -gt 0 ]; then
    stages=python
fi
want() { case " $stages " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
stage() { printf '\n==== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)" >&2; }

# A private Secret Service for the keyring tests, when the machine has one to offer.
secrets=()
if command -v gnome-keyring-daemon >/dev/null && command -v dbus-run-session >/dev/null; then
    secrets=(./scripts/with-secret-service.sh)
fi

if want checks; then
    stage "static checks (scripts/check.sh)"
    ./scripts/check.sh
fi

if want python; then
    stage "pytest from source"
    if [ "$#" -gt 0 ]; then
        "${secrets[@]}" "$py" -m pytest "$@"
    else
        # Unit tests first: they need no process and fail in seconds.
        "$py" -m pytest -q tests/unit
        "${secrets[@]}" "$py" -m pytest tests/process tests/packaging tests/tauri examples/wordfreq-app/tests
    fi
fi

triple=$("$py" build/buildinfo.py triple)$("$py" build/buildinfo.py exe-suffix)
if want binaries; then
    stage "build the Nuitka sidecar"
    ./scripts/build-nuitka.sh
    stage "build the PyInstaller sidecar"
    ./scripts/build-pyinstaller.sh --no-copy
    # The core integration suite against both binaries; the engine suite against the
    # shipped one (Nuitka) only, to keep CI within its time budget.
    stage "core and engine suites against dist/nuitka/sidecar-$triple"
    SIDECAR_BINARY="$PWD/dist/nuitka/sidecar-$triple" "${secrets[@]}" "$py" -m pytest -q \
        tests/process/test_server_*.py tests/process/test_logging.py tests/process/test_engine_*.py
    stage "core suite against dist/pyinstaller/sidecar-$triple"
    SIDECAR_BINARY="$PWD/dist/pyinstaller/sidecar-$triple" "$py" -m pytest -q \
        tests/process/test_server_*.py tests/process/test_logging.py
    stage "process model of both binaries, concurrent first launches of Nuitka, its launcher on the real payload"
    "$py" -m pytest -q tests/packaging/test_packaging_process_model.py tests/packaging/test_concurrent_first_launches.py \
        tests/packaging/test_launcher_binary.py
    stage "the example app's Nuitka binary (WordFreq): its tests, two app names side by side"
    ./scripts/build-nuitka.sh --app examples/wordfreq-app
    SIDECAR_BINARY="$PWD/dist/apps/wordfreq/nuitka/sidecar-$triple" "${secrets[@]}" "$py" -m pytest -q \
        examples/wordfreq-app/tests
    "$py" -m pytest -q tests/packaging/test_app_identity.py
    stage "the example app built as PlutoDuck, for the Tauri app (tauri-shell/src-tauri/binaries)"
    ./scripts/build-nuitka.sh --app examples/wordfreq-app --app-name PlutoDuck --copy-to tauri-shell/src-tauri/binaries
fi

if want node; then
    stage "Node host: node --test from source"
    bash hosts/node/scripts/test.sh
    # Against the binary only when this run built it (an older dist/ may predate the sources).
    if want binaries && [ -x "dist/nuitka/sidecar-$triple" ]; then
        stage "Node host: the process tests against dist/nuitka/sidecar-$triple"
        SIDECAR_BINARY="$PWD/dist/nuitka/sidecar-$triple" bash hosts/node/scripts/test.sh process
    fi
fi

if want harness; then
    stage "launch-reliability harness"
    "$py" -m sidecar_harness --binary "dist/nuitka/sidecar-$triple" --binary "dist/pyinstaller/sidecar-$triple" \
        --launches 20 --kill --term --out dist/harness --quiet
fi

if want tauri; then
    stage "Tauri shell: host crate, app, .deb, UI"
    TAURI_CI=${TAURI_CI:-full} bash tauri-shell/scripts/ci.sh
fi

if want harness; then
    stage "Milestone 0 checklist"
    "$py" -m sidecar_harness checklist --binary "dist/nuitka/sidecar-$triple" --report dist/harness/report.json \
        --out dist/harness/milestone-0.md
fi
stage "all stages passed: $stages"
