"""Clean-up that only a packaged (frozen) sidecar needs.

A PyInstaller onefile bootstrap unpacks the app into ``$TMPDIR/_MEIxxxxxx``
and deletes it when its child exits. When the bootstrap itself is SIGKILLed
(what Tauri's ``kill()`` sends) nobody deletes it: ~120 MB left behind per
killed launch (issue-log 0002). The child knows when that happened (its
shutdown reason is ``parent_exit``) and removes the folder itself as its very
last step; Linux and macOS let a process delete files it has mapped.

On a busy disk that removal can take longer than the 0.9 s the watchdog gives
a ``parent_exit`` (issue-log 0040), so it may be cut short. Each sidecar marks
its folder (``.in-use``, held with a shared lock for its whole life, see
:mod:`sidecar.daemon.cache_cleanup`) and every removal deletes the marker
last: whatever a cut-short removal leaves is still recognisably a dead
sidecar's folder, and a later start sweeps it.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from pathlib import Path
from typing import Final

#: The marker a running sidecar holds a shared lock on, in its extraction folder.
IN_USE: Final = ".in-use"


def pyinstaller_extraction_dir() -> Path | None:
    """``sys._MEIPASS`` in a PyInstaller onefile build, else None (source, Nuitka)."""
    folder = getattr(sys, "_MEIPASS", None)
    if not getattr(sys, "frozen", False) or not folder:
        return None
    return Path(folder)


def remove_extraction_folder(folder: Path) -> None:
    """Delete ``folder``, its ``.in-use`` marker last (errors ignored: what stays is swept later)."""
    with contextlib.suppress(OSError):
        for entry in folder.iterdir():
            if entry.name == IN_USE:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    entry.unlink()
    with contextlib.suppress(OSError):
        (folder / IN_USE).unlink()
    with contextlib.suppress(OSError):
        folder.rmdir()


def remove_orphaned_extraction(reason: str | None) -> bool:
    """After a ``parent_exit`` shutdown, delete the extraction folder the dead bootstrap cannot."""
    folder = pyinstaller_extraction_dir()
    if reason != "parent_exit" or folder is None or not folder.name.startswith("_MEI"):
        return False
    remove_extraction_folder(folder)
    return True
