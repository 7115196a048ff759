"""Checking a sidecar command before spawning it, so a wrong path fails with the path named."""

from __future__ import annotations

import os
import shutil

from sidecar_host.errors import BinaryNotFound


def check_executable(program: str) -> None:
    """Fail early, naming the path, when the program cannot be run."""
    if os.sep in program or (os.altsep and os.altsep in program):
        if not os.path.exists(program):
            raise BinaryNotFound(os.path.abspath(program), "no such file")
        if not os.access(program, os.X_OK):
            raise BinaryNotFound(os.path.abspath(program), "not executable")
    elif shutil.which(program) is None:
        raise BinaryNotFound(program, "not found on PATH")
