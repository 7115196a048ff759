"""The engine's durable state: sqlite3 in WAL mode (``state.sqlite3`` in the data dir), shared by
the job store and the pipeline run ledger.

Why sqlite3 and not a DuckDB table:
* job bookkeeping is many tiny transactions (every transition, every progress
  checkpoint) while DuckDB ingests run long write transactions: DuckDB's
  optimistic concurrency would turn concurrent job updates into conflicts, and
  a job could not record "failed" while its own failing transaction holds on;
* jobs.list/jobs.get and the startup recovery must work without importing
  or opening DuckDB (no 160 ms import, no WAL replay of a huge ingest first),
  and even when engine.duckdb is damaged or locked;
* WAL mode with synchronous=NORMAL: a committed transition survives a killed
  process (only a power loss can drop the last few), readers never block
  the writer, and sqlite3 ships with Python.

The file is used from worker threads, one at a time (a capacity limiter of
one), so the event loop never waits on a disk sync.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")

STATE_FILE: Final = "state.sqlite3"


class StateDB:
    """The sqlite3 file shared by the job store and the run ledger."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = None
        self._limiter: anyio.CapacityLimiter | None = None

    async def open(self, schemas: Sequence[str]) -> None:
        """Open (creating tables as needed)."""
        self._limiter = anyio.CapacityLimiter(1)
        self._connection = await anyio.to_thread.run_sync(_connect, self.path, list(schemas), limiter=self._limiter)

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """Run ``work(connection, *args)`` in a worker thread, one call at a time."""
        if self._connection is None or self._limiter is None:
            raise RuntimeError("state database is not open")
        return await anyio.to_thread.run_sync(work, self._connection, *args, limiter=self._limiter)

    async def close(self) -> None:
        """Close the file: sqlite checkpoints the WAL into it, which flushes to disk.

        Cancellable (the shutdown bounds it): a close given up on goes on in its thread,
        and if the process ends first, the WAL is still there and replays at the next open.
        """
        connection, self._connection = self._connection, None
        if connection is not None and self._limiter is not None:
            await anyio.to_thread.run_sync(connection.close, limiter=self._limiter, abandon_on_cancel=True)


@contextlib.contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """One explicit write transaction (the connection is in autocommit mode otherwise)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


class StateDamaged(sqlite3.DatabaseError):
    """The state file is not a sound sqlite database (its header, a page, or quick_check said so)."""


def _connect(path: Path, schemas: list[str]) -> sqlite3.Connection:
    connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA foreign_keys=ON")
        # quick_check reads every page's structure (not the index contents): it finds a
        # garbled page that the first queries might not touch, in milliseconds for this file.
        problems = [row[0] for row in connection.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise StateDamaged("quick_check: " + "; ".join(str(p) for p in problems[:5]))
        for schema in schemas:
            connection.executescript(schema)
    except sqlite3.DatabaseError as exc:
        connection.close()
        if isinstance(exc, StateDamaged) or _damaged(exc):
            raise StateDamaged(str(exc)) from exc
        raise
    except BaseException:
        connection.close()
        raise
    return connection


def _damaged(exc: sqlite3.DatabaseError) -> bool:
    """sqlite's words for a file that is not (or no longer) a sound database."""
    text = str(exc).lower()
    return "file is not a database" in text or "malformed" in text or "corrupt" in text


def set_aside(path: Path, stamp: str) -> Path:
    """Move a damaged state file (and its -wal/-shm companions) to ``<name>.damaged-<stamp>``;
    returns the new path of the main file. Nothing is deleted: what it held can still be read."""
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        source = path.with_name(path.name + suffix)
        if source.exists():
            source.replace(target.with_name(target.name + suffix))
    return target
