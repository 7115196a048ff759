#!/usr/bin/env bash
# The main job. Until the launch harness lands (issue 4) this runs the sidecar
# from source and prints a short report of a real exchange with it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/python -m sidecar.demo "$@"
