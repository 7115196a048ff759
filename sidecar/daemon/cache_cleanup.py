"""Remove the extraction folders older builds of a Nuitka onefile sidecar left behind.

The Nuitka bootstrap unpacks into ``{CACHE_DIR}/PlutoDuck/sidecar/<version>-<build id>/``
once and reuses it; an upgraded app unpacks into a new folder and nothing ever
deletes the old one (~125 MB each). The sidecar does it itself, carefully:

* every running sidecar holds a *shared* lock on ``<its folder>/.in-use`` for
  its whole life;
* a while after READY, in a thread, it deletes each sibling folder that is not
  a symlink, whose newest file is older than :data:`MIN_AGE_S` (so a folder
  being unpacked right now by another first launch is left alone), and whose
  ``.in-use`` it can lock *exclusively* (so no running sidecar uses it).

Errors are ignored: clean-up is a courtesy, never a reason to fail.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Final

log = logging.getLogger("sidecar.cache")

#: A sibling folder must be untouched this long before it may go.
MIN_AGE_S: Final = 600.0
#: Wait this long after READY before sweeping (startup has priority).
SWEEP_DELAY_S: Final = 5.0
IN_USE: Final = ".in-use"
_FOLDER: Final = re.compile(r"^\d+\.\d+\.\d+.*-[0-9a-zA-Z]+$")
_held: list[int] = []  # the fd of our shared lock, kept open for the process's life


def own_extraction_folder() -> Path | None:
    """Our unpacked folder when we run from a Nuitka onefile cache folder, else None."""
    if not os.environ.get("NUITKA_ONEFILE_PARENT"):
        return None
    folder = Path(sys.executable).resolve().parent
    if folder.parent.name != "sidecar" or not _FOLDER.match(folder.name):
        return None
    return folder


def mark_in_use(folder: Path) -> bool:
    """Hold a shared lock on ``folder/.in-use`` until the process ends."""
    try:
        fd = os.open(folder / IN_USE, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return False
    _held.append(fd)
    return True


def sweep(own: Path, min_age_s: float = MIN_AGE_S, now: float | None = None) -> list[Path]:
    """Delete the unused, old sibling folders of ``own``; returns what was deleted."""
    now = time.time() if now is None else now
    removed = []
    for sibling in own.parent.iterdir():
        if sibling == own or sibling.is_symlink() or not sibling.is_dir() or not _FOLDER.match(sibling.name):
            continue
        try:
            if now - _newest_mtime(sibling) < min_age_s:
                continue
            fd = os.open(sibling / IN_USE, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails while any sidecar uses it
            except OSError:
                continue
            finally:
                os.close(fd)
            shutil.rmtree(sibling)
            removed.append(sibling)
        except OSError as exc:
            log.debug("cache folder left alone", extra={"ctx": {"folder": str(sibling), "error": str(exc)}})
    if removed:
        log.info("old extraction folders removed", extra={"ctx": {"folders": [p.name for p in removed]}})
    return removed


def _newest_mtime(folder: Path) -> float:
    newest = folder.stat().st_mtime
    for root, dirs, files in os.walk(folder):
        for name in (*dirs, *files):
            try:
                newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
            except OSError:
                continue
    return newest


async def start_after_ready() -> None:
    """Startup hook: mark our folder in use now, sweep the others a little later, in a thread."""
    own = own_extraction_folder()
    if own is None or not mark_in_use(own):
        return
    import anyio
    import anyio.to_thread

    await anyio.sleep(SWEEP_DELAY_S)
    await anyio.to_thread.run_sync(sweep, own, abandon_on_cancel=True)
