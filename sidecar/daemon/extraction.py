"""Clean-up that only a packaged (frozen) sidecar needs.

A PyInstaller onefile bootstrap unpacks the app into ``$TMPDIR/_MEIxxxxxx``
and deletes it when its child exits. When the bootstrap itself is SIGKILLed
(what Tauri's ``kill()`` sends) nobody deletes it: ~120 MB left behind per
killed launch (issue-log 0002). The child knows when that happened (its
shutdown reason is ``parent_exit``) and removes the folder itself as its very
last step; Linux and macOS let a process delete files it has mapped.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def pyinstaller_extraction_dir() -> Path | None:
    """``sys._MEIPASS`` in a PyInstaller onefile build, else None (source, Nuitka)."""
    folder = getattr(sys, "_MEIPASS", None)
    if not getattr(sys, "frozen", False) or not folder:
        return None
    return Path(folder)


def remove_orphaned_extraction(reason: str) -> bool:
    """After a ``parent_exit`` shutdown, delete the extraction folder the dead bootstrap cannot."""
    folder = pyinstaller_extraction_dir()
    if reason != "parent_exit" or folder is None or not folder.name.startswith("_MEI"):
        return False
    shutil.rmtree(folder, ignore_errors=True)
    return True
