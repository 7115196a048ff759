"""Remove the extraction folders that older or dead sidecars left behind.

Nuitka: the exec launcher (build/launcher; Nuitka's own onefile bootstrap on Windows) unpacks
into ``{CACHE_DIR}/<app name>/sidecar/<version>-<build id>/``
(the app name the binary was built with, sidecar.daemon.build_info) once and reuses it; an upgraded app unpacks into a new folder and nothing ever
deletes the old one (~125 MB each). PyInstaller: the bootstrap unpacks into a
fresh ``$TMPDIR/_MEIxxxxxx`` per launch and deletes it after its child; when the
bootstrap was SIGKILLed the child deletes it itself, and on a busy disk the
watchdog may cut that short (issue-log 0040). The sidecar cleans up itself, carefully:

* every running sidecar holds a *shared* lock on ``<its folder>/.in-use`` for
  its whole life, taken before BOOT;
* a while after READY, in a thread, it deletes each sibling folder that is not
  a symlink, whose ``.in-use`` it can lock *exclusively* (so no running sidecar
  uses it), and that is old enough: for Nuitka, its newest file is older than
  :data:`MIN_AGE_S` (so a folder being unpacked right now by another first
  launch is left alone); for PyInstaller, a ``_MEI*`` folder whose ``.in-use``
  already exists (only our sidecars make one, so other apps' folders are never
  touched) and is older than :data:`LEFTOVER_MIN_AGE_S`.

Only the own app's folders: a Nuitka sidecar sweeps ``<its app name>/sidecar/`` (and nothing
when the folder it runs from is not named so); a PyInstaller sidecar writes its app name into
its marker and sweeps only ``_MEI*`` folders whose marker names the same app (an empty marker,
from a build before app names, counts as the default app's), so two apps built from this kit
never delete each other's extractions.

Errors are ignored: clean-up is a courtesy, never a reason to fail.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from sidecar.daemon.build_info import DEFAULT_APP_NAME, build_info
from sidecar.daemon.extraction import IN_USE, pyinstaller_extraction_dir, remove_extraction_folder

log = logging.getLogger("sidecar.cache")

#: A sibling folder must be untouched this long before it may go.
MIN_AGE_S: Final = 600.0
#: A dead PyInstaller sidecar's marker must be this old before its folder may go (a
#: marker is created a moment before its lock is taken: never race that moment).
LEFTOVER_MIN_AGE_S: Final = 10.0
#: Wait this long after READY before sweeping (startup has priority).
SWEEP_DELAY_S: Final = 5.0
_FOLDER: Final = re.compile(r"^\d+\.\d+\.\d+.*-[0-9a-zA-Z]+$")
_held: list[int] = []  # the fd of our shared lock, kept open for the process's life


def own_extraction_folder() -> Path | None:
    """Our unpacked folder when we run from a Nuitka cache folder, else None.

    Two ways in: Nuitka's onefile bootstrap (it sets ``NUITKA_ONEFILE_PARENT`` in its child) and
    the exec launcher (build/launcher: it sets ``SIDECAR_LAUNCHER_DIR`` to the folder it execs
    from). Either way the folder must be the one our executable is in: a variable inherited
    from elsewhere (a shell, a parent sidecar) names nothing of ours.
    """
    launcher_dir = os.environ.get("SIDECAR_LAUNCHER_DIR")
    if not launcher_dir and not os.environ.get("NUITKA_ONEFILE_PARENT"):
        return None  # from source or PyInstaller: no path work before BOOT
    folder = Path(sys.executable).resolve().parent
    if launcher_dir and Path(launcher_dir).resolve() != folder:
        return None
    if folder.parent.name != "sidecar" or not _FOLDER.match(folder.name):
        return None
    if folder.parent.parent.name != build_info().app_name:
        return None  # not <our app>/sidecar/: whose siblings these are is not ours to judge
    return folder


def mark_in_use(folder: Path, app_name: str | None = None) -> bool:
    """Hold a shared lock on ``folder/.in-use`` until the process ends; ``app_name`` is written
    into a new (empty) marker, so sweepers of other apps leave the folder alone."""
    try:
        fd = os.open(folder / IN_USE, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return False
    if app_name is not None:
        try:
            if os.fstat(fd).st_size == 0:
                os.pwrite(fd, app_name.encode(), 0)
        except OSError:
            pass  # a marker without a name is still a marker
    _held.append(fd)
    return True


def marker_app(marker: Path) -> str:
    """The app name in a marker (empty: written before app names, i.e. the default app)."""
    with marker.open("rb") as fh:
        return fh.read(256).decode("utf-8", "replace").strip() or DEFAULT_APP_NAME


def sweep(own: Path, min_age_s: float = MIN_AGE_S, now: float | None = None) -> list[Path]:
    """Delete the unused, old sibling folders of ``own``; returns what was deleted."""
    import shutil  # here, not at the top: this module loads before BOOT, the sweep runs 5 s after READY

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


def sweep_pyinstaller_leftovers(
    own: Path, min_age_s: float = LEFTOVER_MIN_AGE_S, now: float | None = None, app_name: str | None = None
) -> list[Path]:
    """Delete the ``_MEI*`` siblings of ``own`` that a dead sidecar of ``app_name`` (default: the
    built-in app name) marked; returns what was deleted."""
    now = time.time() if now is None else now
    app_name = build_info().app_name if app_name is None else app_name
    removed = []
    for sibling in own.parent.iterdir():
        if sibling == own or not sibling.name.startswith("_MEI") or sibling.is_symlink() or not sibling.is_dir():
            continue
        marker = sibling / IN_USE
        try:
            info = marker.lstat()  # none: another app's folder, or one still starting: not ours to touch
            if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or now - info.st_mtime < min_age_s:
                continue
            if marker_app(marker) != app_name:
                continue  # another app's sidecar: its own sweep handles it
            fd = os.open(marker, os.O_RDWR)  # never O_CREAT: only a folder a sidecar marked
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails while its sidecar runs
            except OSError:
                continue
            finally:
                os.close(fd)
            remove_extraction_folder(sibling)
            removed.append(sibling)
        except OSError as exc:
            log.debug("extraction folder left alone", extra={"ctx": {"folder": str(sibling), "error": str(exc)}})
    if removed:
        log.info("dead sidecars' extraction folders removed", extra={"ctx": {"folders": [p.name for p in removed]}})
    return removed


Sweeper = Callable[[Path], list[Path]]
_marked: list[tuple[Path, Sweeper]] = []  # our folder once marked, and how its siblings are swept


def mark_own_folder() -> bool:
    """Mark the folder we run from in use (Nuitka cache or PyInstaller ``_MEI``); False if none.

    Called first thing at startup, before BOOT: a host may SIGKILL the bootstrap right
    after READY, and a removal the watchdog then cuts short must still leave the marker.
    """
    if _marked:
        return True
    nuitka = own_extraction_folder()
    pyinstaller = pyinstaller_extraction_dir()
    if nuitka is not None:
        own, sweeper = nuitka, sweep
    elif pyinstaller is not None and pyinstaller.name.startswith("_MEI"):
        own, sweeper = pyinstaller, sweep_pyinstaller_leftovers
    else:
        return False
    if not mark_in_use(own, build_info().app_name):
        return False
    _marked.append((own, sweeper))
    return True


async def start_after_ready() -> None:
    """Startup hook: sweep the siblings of our (marked) folder a little later, in a thread."""
    if not mark_own_folder():
        return
    own, sweeper = _marked[0]
    import anyio
    import anyio.to_thread

    await anyio.sleep(SWEEP_DELAY_S)
    await anyio.to_thread.run_sync(sweeper, own, abandon_on_cancel=True)
