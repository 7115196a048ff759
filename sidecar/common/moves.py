"""Moving a finished file into place atomically, also across filesystems."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path


def move_into_place(written: Path, target: Path) -> None:
    """Move a finished file to ``target`` atomically: a rename, or a copy next to it then a rename."""
    try:
        os.replace(written, target)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    partial = target.with_name(f".{target.name}.partial-{os.urandom(4).hex()}")
    try:
        shutil.copyfile(written, partial)
        with open(partial, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(written)
