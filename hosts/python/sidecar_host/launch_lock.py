"""The launch lock: sidecar launches on one machine pass spawn -> BOOT one at a time.

Why (issue-log 0012): a Nuitka onefile bootstrap checks its cached extraction folder by
mmapping each file and rewrites a file whose CRC differs in place. Two bootstraps started
together on an empty cache write the same files while the other has them mapped, and one
dies of SIGBUS. The bootstrap is Nuitka's C code, so the hosts serialise it: each host takes
an exclusive advisory lock before spawning and drops it when BOOT arrives (by then the
bootstrap has checked or written every file and started the engine), when the process exits
before BOOT, when READY is given up on, or when the spawn fails. A warm start waits only for
another launch's bootstrap (~100 ms); a cold one for its extraction (a few seconds).

Where: ONE lock file per user and app name for every sidecar binary of that app, in the
system temp dir:

* Unix: ``/tmp/sidecar-launch-<uid>-<app>.lock``. ``/tmp`` itself, not ``$TMPDIR``: two hosts
  started from different shells or session managers must agree, and ``$TMPDIR`` is the
  variable most often set differently (test runners, sudo, macOS launchd). The uid keeps
  users apart (their extraction caches are apart too) and the file is opened with
  ``O_NOFOLLOW``, mode 0600, and used only if it is ours.
* Windows: ``<GetTempPath()>\\sidecar-launch-<app>.lock`` (the per-user ``%TMP%``/``%TEMP%``).

``<app>`` is the app name the binary was built with (its extraction folder is
``<cache>/<app>/sidecar/...``, so launches of different apps never share files), every
character outside ``[A-Za-z0-9._-]`` replaced by ``_``; default ``PlutoDuck``.

Why not one lock per binary (a hash of its canonical path): the extraction folder is
``<cache>/<app>/sidecar/<version>-<build id>``, shared by every copy of one build, and
copies are normal (``dist/nuitka/``, ``src-tauri/binaries/``, the target dir, ``/usr/bin`` of
the .deb, a test's temp copy): a per-path lock lets two copies race. Why not a hash of the
content or the build id: a host would have to read 35 MB per launch, or dig the build id out
of Nuitka's bootstrap data (the manifest is not shipped), and two builds of the same sources
share a folder without being byte-identical. A lock that is too wide costs a wait of one
other launch's bootstrap, rarely, and never a crash; a lock that is too narrow costs the
crash. Not next to the binary: ``/usr/bin`` is not writable. Not in the cache folder: hosts
do not know it (it is compiled into the binary).

Every host (Python here, Rust in ``tauri-shell/sidecar-host``, any later one) must compute
the same path and lock the same way: ``flock(LOCK_EX)`` on POSIX (never ``fcntl``/``lockf``
record locks: on Linux they do not conflict with ``flock``), byte 0 exclusively on
Windows (``msvcrt.locking`` here, ``LockFileEx`` in Rust; the ranges overlap). The lock
file is never inherited by the child: it is opened close-on-exec / non-inheritable, and a
child holding a copy would keep the lock for its whole life.

A held lock is waited for at most ``wait`` seconds, polling; after that, or when the file
cannot be opened or locked, the launch goes ahead without it (the reason is kept in
:attr:`LaunchLock.problem`): the lock is a guard for one race, never a reason not to start.
"""

from __future__ import annotations

import errno
import os
import re
import sys
import time
from pathlib import Path
from typing import Final

import anyio

#: Longest wait for another launch's lock before starting without it: far longer than a
#: queue of first launches (8 at once: 2-4 s for the last one here), shorter than a
#: user's patience. A holder keeps it at most its own READY timeout (or until it dies).
LAUNCH_LOCK_WAIT_S: Final = 30.0
#: How often a held lock is tried again.
LAUNCH_LOCK_POLL_S: Final = 0.02


#: The app name of this repository's own app (the sidecar's default, sidecar/daemon/build_info.py).
DEFAULT_APP_NAME: Final = "PlutoDuck"
_UNSAFE_IN_NAME: Final = re.compile(r"[^A-Za-z0-9._-]")


def default_lock_path(app_name: str = DEFAULT_APP_NAME) -> Path:
    """The lock file every host on this machine uses for this user and app (see the module docstring)."""
    app = _UNSAFE_IN_NAME.sub("_", app_name)
    if sys.platform == "win32":  # pragma: no cover - Windows only
        return Path(_windows_temp_dir()) / f"sidecar-launch-{app}.lock"
    return Path("/tmp") / f"sidecar-launch-{os.getuid()}-{app}.lock"


class LaunchLock:
    """One launch's hold on the lock file.

    path: the lock file. waited_s: how long acquiring took.
    held: True while the lock is held. problem: why the launch went ahead without the
    lock (the file could not be opened, or another launch held it past the wait), else None.
    held_s: how long it was held, once released.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.waited_s = 0.0
        self.problem: str | None = None
        self.held_s: float | None = None
        self._fd: int | None = None
        self._since = 0.0

    @property
    def held(self) -> bool:
        return self._fd is not None

    @classmethod
    async def acquire(cls, path: Path, wait: float = LAUNCH_LOCK_WAIT_S) -> LaunchLock:
        """Take the lock on ``path``, waiting up to ``wait`` seconds; never raises for a lock problem."""
        lock = cls(path)
        started = time.monotonic()
        try:
            fd = _open(path)
        except OSError as exc:
            lock.problem = f"cannot open {path}: {exc.strerror or exc}"
            return lock
        try:
            while not _try_lock(fd):
                if time.monotonic() - started >= wait:
                    lock.problem = f"{path} still held by another launch after {wait:g}s"
                    os.close(fd)
                    break
                await anyio.sleep(LAUNCH_LOCK_POLL_S)
            else:
                lock._fd = fd
                lock._since = time.monotonic()
        except OSError as exc:
            os.close(fd)
            lock.problem = f"cannot lock {path}: {exc.strerror or exc}"
        except BaseException:  # cancelled while waiting
            os.close(fd)
            raise
        lock.waited_s = time.monotonic() - started
        return lock

    def release(self) -> None:
        """Drop the lock (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        self.held_s = time.monotonic() - self._since
        try:
            _unlock(fd)
        finally:
            os.close(fd)


def is_locked(path: Path) -> bool:
    """Whether some other open file holds the lock on ``path`` now (for tests and diagnostics)."""
    try:
        fd = _open(path)
    except OSError:
        return False
    try:
        if _try_lock(fd):
            _unlock(fd)
            return False
        return True
    finally:
        os.close(fd)


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import ctypes
    import msvcrt

    def _windows_temp_dir() -> str:
        buffer = ctypes.create_unicode_buffer(32768)
        length = ctypes.windll.kernel32.GetTempPathW(len(buffer), buffer)  # type: ignore[attr-defined]  # Windows only; mypy checks as Linux
        return buffer.value[:length] if length else os.environ.get("TEMP", ".")

    def _open(path: Path) -> int:
        # Handles are non-inheritable by default (PEP 446); O_NOINHERIT says so explicitly.
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOINHERIT, 0o600)  # type: ignore[attr-defined]  # Windows only; mypy checks as Linux

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)  # msvcrt.locking locks from the file position: byte 0
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]  # Windows only; mypy checks as Linux
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EDEADLK):  # locked by another handle
                return False
            raise
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]  # Windows only; mypy checks as Linux

else:
    import fcntl

    def _open(path: Path) -> int:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        if os.fstat(fd).st_uid != os.getuid():  # another user's file in a shared /tmp: not ours to trust
            os.close(fd)
            raise PermissionError(1, "owned by another user")
        return fd

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
