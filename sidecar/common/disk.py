"""One name for "the disk is full", whichever layer noticed it (the OS, sqlite, DuckDB).

Every part of the engine that writes (settings, the state store, DuckDB, exports, logs)
reports a full disk as the same error: ``-32000`` with ``data.kind = "disk_full"``, never
as ``io``, ``transaction`` or an unhandled exception (docs/PROTOCOL.md section 11.2).
"""

from __future__ import annotations

import errno
from typing import Final

from sidecar.common.errors import ApplicationError

#: errno values that mean "no room": no space on the device, or the user's quota is used up.
DISK_FULL_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EDQUOT})
#: How sqlite, DuckDB and the C library word it (matched case-insensitively).
_DISK_FULL_MARKERS: Final = ("database or disk is full", "no space left on device", "disk quota exceeded")


def is_disk_full(exc: BaseException) -> bool:
    """True when ``exc`` (or the exception it was raised from) says the disk is full."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in DISK_FULL_ERRNOS:
            return True
        lowered = str(current).lower()
        if any(marker in lowered for marker in _DISK_FULL_MARKERS):
            return True
        current = current.__cause__ or current.__context__
    return False


def disk_full_error(exc: BaseException, what: str) -> ApplicationError:
    """The ``disk_full`` error for a write (``what``: e.g. "saving the settings") that found no room."""
    return ApplicationError(
        "disk_full",
        f"{what} failed: the disk holding the data dir is full (free some space; nothing else was changed)",
        detail=str(exc),
    )
