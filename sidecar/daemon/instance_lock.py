"""One sidecar per data dir: an OS file lock held for the life of the process.

The lock is advisory (``flock`` on POSIX, ``msvcrt.locking`` on Windows) and
belongs to the open file, so the OS drops it when the process dies in any
way, SIGKILL included: a crash never leaves a stale lock behind. The holder
writes its pid into the file so a refused second instance can name it.
"""

from __future__ import annotations

import os
from pathlib import Path

_PID_OFFSET = 16  # byte 0 is the locked region on Windows (unreadable there); the pid sits after it


class DataDirLocked(Exception):
    """Another live process holds the lock.

    holder_pid: the pid written by the holder, or None if it could not be read.
    """

    def __init__(self, path: Path, holder_pid: int | None) -> None:
        self.path = path
        self.holder_pid = holder_pid
        who = f"pid {holder_pid}" if holder_pid else "another process"
        super().__init__(f"data dir {path.parent} is in use by {who} (lock file {path})")


class InstanceLock:
    """The single-instance lock on ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`DataDirLocked` at once (never waits)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock(fd)
        except OSError:
            holder = _read_pid(fd)
            os.close(fd)
            raise DataDirLocked(self.path, holder) from None
        os.ftruncate(fd, 0)
        os.lseek(fd, _PID_OFFSET, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (closing the file releases it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _read_pid(fd: int) -> int | None:
    try:
        os.lseek(fd, _PID_OFFSET, os.SEEK_SET)
        raw = os.read(fd, 32).replace(b"\0", b"")
        return int(raw.strip() or b"0") or None
    except (OSError, ValueError):
        return None


if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]  # msvcrt's stubs exist only when checking for Windows

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
