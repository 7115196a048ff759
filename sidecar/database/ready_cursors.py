"""Cursors whose READ ONLY transaction is already begun, made before a request needs one.

``BEGIN TRANSACTION READ ONLY`` is a DuckDB statement of its own (~150 us
here, most of it parsing), paid by every read-only ``db.query`` before its
first row. A transaction begun early changes nothing a query sees: DuckDB
starts its snapshot of a database at the transaction's first statement that
touches it, not at BEGIN, and an idle read-only transaction holds no lock
and does not stop a CHECKPOINT (both checked in
tests/unit/test_query_plans.py). So one thread keeps a few such cursors
ready, and a request takes one instead of beginning its own; closing the
cursor rolls the transaction back.

The thread sleeps until a cursor is taken (no work while nothing is asked),
runs at the DuckDB threads' lower priority, and is ended with the database.
"""

from __future__ import annotations

import collections
import logging
import threading
from typing import Any, Final

from sidecar.database import thread_priority

log = logging.getLogger("sidecar.engine")

#: Cursors kept ready: two, so a request arriving while the next one is being made still finds one.
READY: Final = 2


class ReadyCursors:
    """Pre-begun read-only cursors on ``connection`` (the shared DuckDB connection)."""

    def __init__(self, connection: Any, size: int = READY) -> None:
        self._connection = connection
        self._size = size
        self._ready: collections.deque[Any] = collections.deque()
        self._wanted = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    def take(self) -> Any | None:
        """A cursor inside a READ ONLY transaction, or None if none is ready yet (then one is being made)."""
        with self._wanted:
            cursor = self._ready.popleft() if self._ready else None
            if self._closed:
                return cursor
            if self._thread is None:
                self._thread = threading.Thread(target=self._fill, name="sidecar-ready-cursors", daemon=True)
                self._thread.start()
            self._wanted.notify()
        return cursor

    def close(self) -> None:
        """Stop making cursors and close the ready ones (before the connection closes)."""
        with self._wanted:
            self._closed = True
            ready, self._ready = list(self._ready), collections.deque()
            self._wanted.notify()
        for cursor in ready:
            _close_quietly(cursor)
        if self._thread is not None:
            self._thread.join(timeout=1.0)

    def _fill(self) -> None:
        thread_priority.lower_current_thread()
        while True:
            with self._wanted:
                while not self._closed and len(self._ready) >= self._size:
                    self._wanted.wait()
                if self._closed:
                    return
            try:
                cursor = self._connection.cursor()
                cursor.execute("BEGIN TRANSACTION READ ONLY")
            except Exception as exc:  # the connection is closing; requests begin their own meanwhile
                log.debug("no ready cursor", extra={"ctx": {"error": str(exc)}})
                with self._wanted:
                    if not self._closed:
                        self._wanted.wait(timeout=1.0)
                continue
            with self._wanted:
                if self._closed:
                    _close_quietly(cursor)
                    return
                self._ready.append(cursor)


def _close_quietly(cursor: Any) -> None:
    try:
        cursor.close()
    except Exception:  # already closed with the connection
        pass
