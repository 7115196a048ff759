#!/usr/bin/env bash
# The main job: build the Nuitka sidecar, then run the launch-reliability
# harness against it (20 launches, plus SIGKILL and SIGTERM cycles) and print
# its report. Outputs: dist/nuitka/ (binary + manifest), dist/harness/
# (report.json, report.md, latency.png), docs/packaging-decision.md.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build-nuitka.sh
name="sidecar-$(.venv/bin/python build/buildinfo.py triple)$(.venv/bin/python build/buildinfo.py exe-suffix)"
exec .venv/bin/python -m sidecar_harness --binary "dist/nuitka/$name" --launches 20 --kill --term --out dist/harness "$@"
