"""Where the bench finds things, and the import path every bench module relies on.

The bench scripts are run as files (``python bench/rpc.py``), so their shared
modules are imported by bare name from bench/. Importing this module also puts
build/ (for buildinfo, the target triple and product name the build scripts
use) and the repository root (so ``sidecar`` is the source tree's) first on
``sys.path``.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
SUBJECTS = BENCH / "subjects"
DEFAULT_OUT = REPO / "dist" / "bench"
DEFAULT_PYTHON = REPO / ".venv" / "bin" / "python"

sys.path.insert(0, str(REPO / "build"))
import buildinfo  # noqa: E402

sys.path.insert(0, str(REPO))

__all__ = ["BENCH", "DEFAULT_OUT", "DEFAULT_PYTHON", "REPO", "SUBJECTS", "buildinfo"]
