"""The engine's DuckDB database: one file, opened on first use, closed cleanly.

``engine.duckdb`` lives in the data dir. Opening it imports duckdb (about
160 ms) and may replay a WAL left by a killed process, so it happens in a
worker thread the first time a request or job needs it, never before READY.
Each request or job gets a cursor of its own (a :class:`QueryHandle`);
closing the database interrupts whatever still runs, checkpoints (so the
next start has no WAL to replay) and closes the file.

DuckDB is sandboxed as soon as it is open, before any cursor exists: it may
open files only in the folders it is given (``allowed_directories``) and
never installs or loads an extension by itself (docs/SECURITY.md). The order
matters: the folders can only be set while external access is still on, and
once it is off DuckDB refuses to turn it on again or to change the folders
while the database runs. The configuration is not locked
(``lock_configuration``): a locked one also refuses the per-connection
``SET enable_progress_bar`` that jobs need for their progress (DuckDB takes it
neither globally nor at connect time). What a lock would add, refusing SET
from SQL, is done by the statement check every outside SQL text goes
through (query.check_statements), which refuses SET, RESET, PRAGMA and the rest.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import anyio
import anyio.to_thread

from sidecar.common.errors import ApplicationError
from sidecar.database import thread_priority
from sidecar.database.errors import clean_message, is_duckdb_error, open_failure_kind
from sidecar.database.files import database_bytes
from sidecar.database.handle import QueryHandle
from sidecar.database.plans import Plans
from sidecar.database.ready_cursors import ReadyCursors

log = logging.getLogger("sidecar.engine")

#: Settings of a cursor whose owner reads query_progress(): progress tracked, never drawn on a
#: terminal. Only jobs ask for them: each SET costs a statement (~0.1-0.2 ms), which
#: dominated a small db.query when every cursor got them.
_PROGRESS_SETUP: Final = (
    "SET enable_progress_bar = true",
    "SET enable_progress_bar_print = false",
)
#: The sandbox, applied in this order right after the file is open (see the module doc).
_SANDBOX_AFTER_FOLDERS: Final = (
    "SET enable_external_access = false",
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET allow_community_extensions = false",
)


class Database:
    """The shared DuckDB connection and the cursors handed out from it.

    path: the database file.
    options: called at open for DuckDB's config (threads, memory_limit; absent keys: DuckDB's defaults).
    allowed_directories: the only folders DuckDB may open files in (each ending in a separator).
    """

    def __init__(
        self,
        path: Path,
        *,
        options: Callable[[], dict[str, Any]] | None = None,
        allowed_directories: list[str] | None = None,
    ) -> None:
        self.path = path
        self._options = options
        self._allowed_directories = list(allowed_directories or [])
        self._connection: Any = None
        self._ready: ReadyCursors | None = None
        #: What db.query learnt about the SQL texts it ran (plans.py); for this database only.
        self.plans = Plans()
        self._lock: anyio.Lock | None = None
        self._handles: set[QueryHandle] = set()
        self._closed = False
        self.duckdb_version: str | None = None
        #: Moves when a handle that may write is handed out and when it closes: statements prepared
        #: in an older epoch are never run again (prepared.py).
        self.write_epoch = 0

    @property
    def is_open(self) -> bool:
        """True once the file was opened (and until it is closed)."""
        return self._connection is not None

    async def open(self) -> None:
        """Open the file if needed (in a worker thread; concurrent callers wait for one open)."""
        if self._connection is not None:
            return
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            if self._connection is not None:
                return
            if self._closed:
                raise ApplicationError("shutting_down", "the database is closed: the sidecar is stopping")
            started = time.monotonic()
            try:
                options = self._options() if self._options is not None else {}
                connection, version = await anyio.to_thread.run_sync(self._connect, options)
            except Exception as exc:
                if not is_duckdb_error(exc) and not isinstance(exc, OSError):
                    raise
                kind = open_failure_kind(exc)  # never "locked" for a damaged file ("block" holds "lock")
                raise ApplicationError(kind, f"cannot open {self.path}: {clean_message(exc)}") from exc
            self._connection = connection
            self._ready = ReadyCursors(connection, lambda: self.write_epoch)
            self.duckdb_version = version
            log.info(
                "database opened",
                extra={
                    "ctx": {"path": str(self.path), "duckdb": version, "ms": round((time.monotonic() - started) * 1000)}
                },
            )

    def _connect(self, options: dict[str, Any]) -> tuple[Any, str]:
        import duckdb  # first use only (heavy): never on the path to READY

        before = thread_priority.thread_ids()
        connection = duckdb.connect(str(self.path), config={k: v for k, v in options.items() if v is not None})
        thread_priority.lower_threads_started_since(before)
        try:
            _sandbox(connection, self._allowed_directories)
        except BaseException:
            connection.close()  # never hand out a connection that is not sandboxed
            raise
        return connection, duckdb.__version__

    async def handle(self, progress: bool = False, read_only: bool = False, reused: bool = False) -> QueryHandle:
        """A fresh cursor for one request or job (opens the database on first use).

        ``progress``: the owner will read ``QueryHandle.progress()`` (jobs do;
        requests do not). ``read_only``: the owner never writes; the cursor may come with a
        READ ONLY transaction already begun (``QueryHandle.read_only_begun``; see
        ready_cursors.py). Any other handle moves :attr:`write_epoch` when it is handed out
        and when it closes. ``reused`` (with ``read_only``): the owner runs only texts
        ``plans.self_contained`` found self-contained in this epoch, so the cursor may be one that
        holds earlier requests' prepared statements (``QueryHandle.prepared``), and it is
        given back for reuse when the handle closes.
        """
        await self.open()
        if self._closed or self._connection is None:
            raise ApplicationError("shutting_down", "the database is closed: the sidecar is stopping")
        ready = self._ready
        begun = None if not read_only or ready is None else ready.take(reused)
        if ready is not None and begun is not None:
            statements = begun.statements
            handle = QueryHandle(
                begun.cursor,
                on_close=self._handles.discard,
                read_only_begun=True,
                prepared=statements if reused and statements.reusable else None,
                give_back=functools.partial(ready.give_back, begun) if reused else None,
            )
            self._handles.add(handle)
            return handle
        if not read_only:
            self.write_epoch += 1
        if progress:
            cursor = await anyio.to_thread.run_sync(_new_progress_cursor, self._connection)
        else:
            # A bare cursor is a few microseconds of in-memory setup (no I/O, no statement):
            # cheaper than the thread hop that would carry it.
            cursor = self._connection.cursor()
        handle = QueryHandle(
            cursor, on_close=self._closed_handle if not read_only else self._handles.discard, background=progress
        )
        self._handles.add(handle)
        return handle

    def _closed_handle(self, handle: QueryHandle) -> None:
        """A handle that may have written is done: what it changed ends the epoch it began."""
        self._handles.discard(handle)
        self.write_epoch += 1

    async def using(
        self,
        work: Callable[[QueryHandle], Awaitable[Any]],
        progress: bool = False,
        read_only: bool = False,
        reused: bool = False,
    ) -> Any:
        """Run ``work`` with a fresh handle, closing it afterwards."""
        handle = await self.handle(progress, read_only, reused)
        try:
            return await work(handle)
        finally:
            handle.close()

    async def close(self) -> None:
        """Interrupt running statements, CHECKPOINT, close the file. Idempotent."""
        self._closed = True
        connection, self._connection = self._connection, None
        ready, self._ready = self._ready, None
        if connection is None:
            return
        for handle in list(self._handles):
            handle.interrupt()
        with anyio.move_on_after(1.0):
            while any(not handle.idle for handle in self._handles):
                await anyio.sleep(0.02)
        started = time.monotonic()
        # Abandon-on-cancel: the shutdown hook's time bound must hold even if a checkpoint hangs.
        await anyio.to_thread.run_sync(
            _checkpoint_and_close, connection, list(self._handles), ready, abandon_on_cancel=True
        )
        self._handles.clear()
        log.info(
            "database closed", extra={"ctx": {"path": str(self.path), "ms": round((time.monotonic() - started) * 1000)}}
        )

    def file_bytes(self) -> int:
        """Size of the database file plus its WAL."""
        return database_bytes(self.path.parent)


def _sandbox(connection: Any, folders: list[str]) -> None:
    connection.execute("SET allowed_directories = ?", [folders])
    for statement in _SANDBOX_AFTER_FOLDERS:
        connection.execute(statement)


def _new_progress_cursor(connection: Any) -> Any:
    cursor = connection.cursor()
    for statement in _PROGRESS_SETUP:
        cursor.execute(statement)
    return cursor


def _checkpoint_and_close(connection: Any, handles: list[QueryHandle], ready: ReadyCursors | None) -> None:
    if ready is not None:
        ready.close()
    for handle in handles:
        try:
            handle.cursor.close()
        except Exception:  # a cursor whose thread was stuck; the connection close below ends it
            pass
    try:
        connection.execute("CHECKPOINT")
    except Exception as exc:  # still close the file: the WAL replays at the next open
        log.warning("checkpoint at close failed", extra={"ctx": {"error": clean_message(exc)}})
    connection.close()
