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

Two kinds are kept. Fresh cursors have never run anything; any read-only
request may take one, and it is closed after the request. A request for a
text found self-contained (prepared.py) takes a *reused* cursor instead, if
there is one (the last given back first, so a client asking one thing at a
time keeps finding its statements prepared), else a fresh one; either way
the cursor comes back after the request (:meth:`ReadyCursors.give_back`) and
the thread begins it again (ROLLBACK, then BEGIN) off the request's path,
keeping the statements prepared on it. A cursor whose statements are of an
older epoch (something wrote since) or full is closed instead, and so is one
that fails to roll back or begin, or one more than :data:`KEPT`.

The thread sleeps until a cursor is taken or given back (no work while
nothing is asked), runs at the DuckDB threads' lower priority, and is ended
with the database.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from sidecar.database import thread_priority
from sidecar.database.prepared import PreparedStatements

log = logging.getLogger("sidecar.engine")

#: Cursors kept ready: two, so a request arriving while the next one is being made still finds one.
READY: Final = 2
#: Cursors given back kept at most (each holds its prepared statements).
KEPT: Final = 3


@dataclass
class ReadCursor:
    """A cursor inside a READ ONLY transaction, and the statements prepared on it."""

    cursor: Any
    statements: PreparedStatements


class ReadyCursors:
    """Pre-begun read-only cursors on ``connection`` (the shared DuckDB connection).

    epoch: the database's write epoch now (prepared.py); a cursor is reused only within one.
    """

    def __init__(self, connection: Any, epoch: Callable[[], int], size: int = READY, kept: int = KEPT) -> None:
        self._connection = connection
        self._epoch = epoch
        self._size = size
        self._kept = kept
        self._ready: collections.deque[ReadCursor] = collections.deque()  # fresh: never ran anything
        self._reused: list[ReadCursor] = []  # given back and begun again; taken from the end
        self._returned: collections.deque[ReadCursor] = collections.deque()
        self._wanted = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    def take(self, reused: bool = False) -> ReadCursor | None:
        """A cursor inside a READ ONLY transaction, or None if none is ready yet (then one is being made).

        reused: a cursor given back before may do (the last one given back first), for a text
        that may run where earlier requests' statements are prepared; otherwise a fresh one.
        """
        with self._wanted:
            if reused and self._reused:
                return self._reused.pop()
            ready = self._ready.popleft() if self._ready else None
            if self._closed:
                return ready
            self._start()
            self._wanted.notify()
        return ready

    def give_back(self, ready: ReadCursor) -> None:
        """Return a cursor whose request is over (its thread has returned) to be begun again."""
        with self._wanted:
            if not self._closed:
                self._returned.append(ready)
                self._start()
                self._wanted.notify()
                return
        _close_quietly(ready.cursor)

    def close(self) -> None:
        """Stop making cursors and close the ready ones (before the connection closes)."""
        with self._wanted:
            self._closed = True
            kept = list(self._ready) + self._reused + list(self._returned)
            self._ready, self._reused, self._returned = collections.deque(), [], collections.deque()
            self._wanted.notify()
        for ready in kept:
            _close_quietly(ready.cursor)
        if self._thread is not None:
            self._thread.join(timeout=1.0)

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._fill, name="sidecar-ready-cursors", daemon=True)
            self._thread.start()

    def _fill(self) -> None:
        thread_priority.lower_current_thread()
        while True:
            with self._wanted:
                while not self._closed and not self._returned and len(self._ready) >= self._size:
                    self._wanted.wait()
                if self._closed:
                    return
                returned = self._returned.popleft() if self._returned else None
            if returned is not None:
                reused = self._reuse(returned)
                with self._wanted:
                    if reused is not None and not self._closed and len(self._reused) < self._kept:
                        self._reused.append(reused)
                        continue
                if reused is not None:
                    _close_quietly(reused.cursor)
                continue
            try:
                ready = self._fresh()
            except Exception as exc:  # the connection is closing; requests begin their own meanwhile
                log.debug("no ready cursor", extra={"ctx": {"error": str(exc)}})
                with self._wanted:
                    if not self._closed:
                        self._wanted.wait(timeout=1.0)
                continue
            with self._wanted:
                if self._closed:
                    _close_quietly(ready.cursor)
                    return
                self._ready.append(ready)

    def _fresh(self) -> ReadCursor:
        cursor = self._connection.cursor()
        try:
            cursor.execute("BEGIN TRANSACTION READ ONLY")
        except BaseException:
            _close_quietly(cursor)
            raise
        return ReadCursor(cursor, PreparedStatements(self._epoch(), self._epoch))

    def _reuse(self, returned: ReadCursor) -> ReadCursor | None:
        """``returned`` begun again, or None (then it is closed) when it must not be reused."""
        if not returned.statements.reusable:
            _close_quietly(returned.cursor)
            return None
        try:
            returned.cursor.execute("ROLLBACK")
            returned.cursor.execute("BEGIN TRANSACTION READ ONLY")
        except Exception as exc:  # a cursor in a state of its own: a fresh one replaces it
            log.debug("cursor not reused", extra={"ctx": {"error": str(exc)}})
            _close_quietly(returned.cursor)
            return None
        return returned


def _close_quietly(cursor: Any) -> None:
    try:
        cursor.close()
    except Exception:  # already closed with the connection
        pass
