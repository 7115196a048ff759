#!/usr/bin/env bash
# Build the Tauri app (debug) and run its end-to-end tests under Xvfb through
# tauri-driver + WebKitWebDriver. Run from anywhere; needs the apt packages in
# docs/TAURI.md ("CI"). Extra arguments go to pytest (e.g. -k ready).
#
#   CARGO_TARGET_DIR   cargo's target dir (default /var/tmp/sidecar-cargo-target:
#                      outside the clone, so a repeat run reuses it)
#   SIDECAR_PREPARE    auto | nuitka | launcher (see prepare-sidecar.sh)
#   Artifacts go to dist/tauri-e2e/ (screenshots/, the .deb, junit.xml, results.json).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
repo=$(cd "$here/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/sidecar-cargo-target}
export PATH="$HOME/.cargo/bin:$PATH"

cd "$here"
# The lock, exactly (issue-log 0011), when node_modules is missing or older than the lock.
[ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund
"$here/scripts/prepare-sidecar.sh"
# One debug build serves both suites: the real bundler (externalBin copied next to the
# executable as `sidecar`) writes the .deb, and the e2e tests drive the same executable.
# `test-hooks`: the grant flow's file picks answer SIDECAR_SHELL_TEST_PICK_FILE/_FOLDER
# instead of a native dialog, which cannot be driven under Xvfb (src-tauri/src/picker.rs).
npx tauri build --debug --bundles deb --features test-hooks
if ! command -v tauri-driver >/dev/null; then
    cargo install tauri-driver --locked
fi

cd "$repo"
# Artifacts (never committed: dist/ is ignored): screenshots, the .deb, junit.xml and
# results.json, which the Milestone 0 checklist (python -m sidecar_harness checklist) reads.
artifacts="$repo/dist/tauri-e2e"
rm -rf "$artifacts" && mkdir -p "$artifacts"
export SIDECAR_SHELL_ARTIFACTS="$artifacts/screenshots"
cp "$CARGO_TARGET_DIR"/debug/bundle/deb/*.deb "$artifacts/"
basetemp=$(mktemp -d /tmp/sidecar-shell-e2e.XXXXXX)
status=0
SIDECAR_SHELL_E2E=1 SIDECAR_SHELL_APP="$CARGO_TARGET_DIR/debug/sidecar-shell" \
    .venv/bin/python -m pytest tests/tauri/test_tauri_capability.py tests/tauri/test_tauri_docs.py tests/tauri/test_tauri_deb.py tests/tauri/test_tauri_e2e.py -v \
    --basetemp "$basetemp" --junitxml "$artifacts/junit.xml" "$@" || status=$?
.venv/bin/python - "$artifacts" <<'PY'
import json, sys, xml.etree.ElementTree as ET
from pathlib import Path
out = Path(sys.argv[1])
tests = []
for case in ET.parse(out / "junit.xml").iter("testcase"):
    problem = next((c for c in case if c.tag in ("failure", "error", "skipped")), None)
    outcome = "passed" if problem is None else {"failure": "failed", "error": "failed", "skipped": "skipped"}[problem.tag]
    detail = "" if problem is None else " - " + (problem.get("message") or "").splitlines()[0][:300] if (problem.get("message") or "") else ""
    name = f"{case.get('classname')}::{case.get('name')}"
    tests.append({"name": name, "outcome": outcome, "evidence": f"{name} {outcome} in {float(case.get('time', 0)):.1f}s{detail}"})
(out / "results.json").write_text(json.dumps({"tests": tests}, indent=1) + "\n")
print(f"e2e: {sum(t['outcome'] == 'passed' for t in tests)}/{len(tests)} passed; results in {out}/results.json")
PY
exit "$status"
