"""Clean-up that only a packaged (frozen) sidecar needs.

A PyInstaller onefile bootstrap unpacks the app into ``$TMPDIR/_MEIxxxxxx``
and deletes it when its child exits. When the bootstrap itself is SIGKILLed
(what Tauri's ``kill()`` sends) nobody deletes it: ~120 MB left behind per
killed launch (issue-log 0002). The child knows when that happened (its
shutdown reason is ``parent_exit``) and removes the folder itself as its very
last step; Linux and macOS let a process delete files it has mapped.

The bootstrap's own removal is no better: after a SIGTERM or a graceful stop it
deletes the folder once its child has exited, and on a busy machine that took
longer than the hosts' 3 s stop step; the host then SIGKILLed it half-way, its
deletion order had already taken our marker, and the rest of the folder stayed
for ever (the first PyInstaller launch soak, issue-log 0040). So the child does
all of it, the same way whatever ended it: at its very last step it renames its
folder aside (one atomic rename), leaves an empty folder under the old name for
the bootstrap to remove in no time, and deletes the renamed one for at most
:data:`REMOVAL_BUDGET_S`. Each sidecar marks its folder (``.in-use``, held with a
shared lock for its whole life, see :mod:`sidecar.daemon.cache_cleanup`) and
every removal deletes the marker last: whatever a cut-short removal leaves is
still recognisably a dead sidecar's folder, and a later start sweeps it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Final

from sidecar.daemon import watchdog

#: The marker a running sidecar holds a shared lock on, in its extraction folder.
IN_USE: Final = ".in-use"
#: The removal of the extraction folder at exit ends this long after the shutdown began (a
#: later start sweeps the rest): the whole stop fits the hosts' shortest step, 2 s after stdin
#: is closed. On an idle machine the payload goes in ~50 ms; with the CPUs three times
#: oversubscribed, 0.5 s deleted a tenth of its files.
REMOVAL_BUDGET_S: Final = 1.5
#: Appended to the folder's name when the sidecar takes it out of the bootstrap's hands.
ASIDE_SUFFIX: Final = "-exited"


def pyinstaller_extraction_dir() -> Path | None:
    """``sys._MEIPASS`` in a PyInstaller onefile build, else None (source, Nuitka)."""
    folder = getattr(sys, "_MEIPASS", None)
    if not getattr(sys, "frozen", False) or not folder:
        return None
    return Path(folder)


def remove_extraction_folder(folder: Path, deadline: float | None = None) -> bool:
    """Delete ``folder``, its ``.in-use`` marker last; stop once ``time.monotonic()`` passes
    ``deadline``. Errors are ignored (what stays is swept later). True if nothing is left.

    The largest files go first: cut short, the removal has freed most of the space (the
    payload is ~760 entries, and a handful of shared libraries are most of its 130 MB)."""
    marker = folder / IN_USE
    files: list[tuple[int, str]] = []
    folders: list[str] = []
    for root, dirs, names in os.walk(folder, topdown=False):
        for name in names:
            path = os.path.join(root, name)
            with contextlib.suppress(OSError):
                files.append((os.lstat(path).st_size, path))
        for name in dirs:  # a symlink to a folder is listed here, never walked: it goes as a file
            path = os.path.join(root, name)
            if os.path.islink(path):
                files.append((0, path))
            else:
                folders.append(path)
    files.sort(reverse=True)
    for _, path in files:
        if deadline is not None and time.monotonic() > deadline:
            return False
        if path != str(marker):
            with contextlib.suppress(OSError):
                os.unlink(path)
    for path in folders:  # bottom-up, as walked
        with contextlib.suppress(OSError):
            os.rmdir(path)
    with contextlib.suppress(OSError):
        marker.unlink()
    with contextlib.suppress(OSError):
        folder.rmdir()
    return not folder.exists()


def remove_own_extraction(reason: str | None, budget_s: float = REMOVAL_BUDGET_S) -> bool:
    """The last step of a PyInstaller onefile sidecar: take its extraction folder out of the
    bootstrap's hands and delete it until ``budget_s`` after the shutdown began (after now
    if no shutdown deadline was armed). True if there was a folder to handle.

    Nothing may be imported after this: the code we run from is gone."""
    folder = pyinstaller_extraction_dir()
    if folder is None or not folder.name.startswith("_MEI"):
        return False
    began = watchdog.armed_at()
    deadline = (time.monotonic() if began is None else began) + budget_s
    aside = folder.with_name(f"{folder.name}{ASIDE_SUFFIX}")
    try:
        folder.rename(aside)  # Windows refuses while its DLLs are loaded: then as before
    except OSError:
        if reason == "parent_exit":  # the bootstrap is gone: nobody else will delete it
            remove_extraction_folder(folder, deadline)
        return True
    if reason != "parent_exit":
        with contextlib.suppress(OSError):  # the bootstrap removes this one when we have exited
            folder.mkdir(mode=0o700)
    remove_extraction_folder(aside, deadline)
    return True
