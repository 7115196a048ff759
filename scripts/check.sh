#!/usr/bin/env bash
# Every static check, the same locally and in CI (./scripts/test.sh runs it as its first stage):
#   ruff        lint and format check of the Python (sidecar, hosts/python, tests, bench, build)
#   mypy        strict type check of the shipped package (sidecar/) and of the example app
#   imports     the layer contracts of docs/ARCHITECTURE.md (import-linter, [tool.importlinter]), and the
#               example app's: it imports only sidecar.sdk (examples/wordfreq-app/.importlinter)
#   launcher    the exec launcher (build/launcher): cargo fmt --check, clippy -D warnings, its unit tests,
#               and mypy --strict of its packer
#   tauri       cargo clippy -D warnings, cargo fmt --check, tsc --noEmit (tauri-shell/scripts/check.sh)
#   node        tsc of the Node host, its tests and its Electron example (hosts/node/scripts/check.sh)
#
#   ./scripts/check.sh                   all of them
#   ./scripts/check.sh ruff mypy         some of them
#   ./scripts/check.sh --fix             ruff fixes and formats in place, then checks
set -uo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh || exit 1
bin=.venv/bin
paths=(sidecar hosts/python tests bench build examples)

fix=0
checks=()
for arg in "$@"; do
    case "$arg" in
        --fix) fix=1 ;;
        ruff | mypy | imports | launcher | tauri | node) checks+=("$arg") ;;
        *) echo "check: unknown check '$arg' (ruff, mypy, imports, launcher, tauri, node, --fix)" >&2; exit 2 ;;
    esac
done
[ "${#checks[@]}" -gt 0 ] || checks=(ruff mypy imports launcher tauri node)

failed=()
run() {
    local name=$1; shift
    printf '\n---- %s: %s\n' "$name" "$*" >&2
    "$@" || failed+=("$name")
}
for check in "${checks[@]}"; do
    case "$check" in
        ruff)
            if [ "$fix" = 1 ]; then
                "$bin/ruff" check --fix -q "${paths[@]}"
                "$bin/ruff" format -q "${paths[@]}"
            fi
            run "ruff lint" "$bin/ruff" check "${paths[@]}"
            run "ruff format" "$bin/ruff" format --check "${paths[@]}"
            ;;
        mypy)
            run "mypy --strict" "$bin/mypy"
            run "mypy --strict (example app)" env MYPYPATH=. "$bin/mypy" --strict examples/wordfreq-app/src
            ;;
        imports)
            run "import contracts" "$bin/lint-imports" --no-cache
            run "import contracts (example app)" env PYTHONPATH=examples/wordfreq-app/src \
                "$bin/lint-imports" --no-cache examples/wordfreq-app/.importlinter
            ;;
        launcher)
            launcher=(env "PATH=$PATH:$HOME/.cargo/bin" "CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/sidecar-cargo-target}")
            manifest=(--manifest-path build/launcher/Cargo.toml)
            run "launcher fmt" "${launcher[@]}" cargo fmt "${manifest[@]}" --check
            run "launcher clippy" "${launcher[@]}" cargo clippy --quiet --locked "${manifest[@]}" --all-targets -- -D warnings
            run "launcher unit tests" "${launcher[@]}" cargo test --quiet --locked "${manifest[@]}"
            run "mypy --strict (launcher packer)" "$bin/mypy" --strict build/launcher/pack.py
            ;;
        tauri) run "tauri-shell checks" bash tauri-shell/scripts/check.sh ;;
        node) run "node host checks" bash hosts/node/scripts/check.sh ;;
    esac
done
if [ "${#failed[@]}" -gt 0 ]; then
    printf '\ncheck: FAILED: %s\n' "${failed[*]}" >&2
    exit 1
fi
printf '\ncheck: all passed (%s)\n' "${checks[*]}" >&2
