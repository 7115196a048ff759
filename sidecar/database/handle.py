"""One cursor and the worker thread running on it, interruptible from the loop.

anyio cannot stop a thread: cancelling the task that awaits
``to_thread.run_sync`` leaves DuckDB running. So a :class:`QueryHandle`
runs blocking work abandon-on-cancel, and when the awaiting task is cancelled
(rpc.cancel, jobs.cancel, a timeout, shutdown) it calls ``interrupt()`` on
its cursor, again and again, until the thread has really returned. Repeating
matters: DuckDB forgets an interrupt that lands between two statements.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Final, TypeVar

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread

from sidecar.database import thread_priority
from sidecar.database.prepared import PreparedStatements

log = logging.getLogger("sidecar.engine")

T = TypeVar("T")

#: How often a cancelled handle re-sends interrupt() while its thread still runs.
INTERRUPT_EVERY_S: Final = 0.02
#: How long a cancelled handle waits for its thread before giving up on it.
INTERRUPT_PATIENCE_S: Final = 3.0


class QueryHandle:
    """A DuckDB cursor owned by one request or job.

    cursor: the duckdb cursor (a connection of its own to the shared database).
    cancelled: set once the owner was cancelled; work checks it between statements.
    read_only_begun: the cursor came with a READ ONLY transaction begun (closing it rolls back).
    background: the owner is a job: its work runs in a thread of its own at idle priority
    (thread_priority.idle_current_thread) instead of the shared worker threads requests use.
    prepared: the statements prepared on this cursor (prepared.py), for a cursor that is reused.
    give_back: called instead of closing the cursor when the handle closes with its thread
    returned and nothing cancelled (the cursor is reused, ready_cursors.py).
    """

    def __init__(
        self,
        cursor: Any,
        on_close: Callable[[QueryHandle], None] | None = None,
        read_only_begun: bool = False,
        background: bool = False,
        prepared: PreparedStatements | None = None,
        give_back: Callable[[], None] | None = None,
    ) -> None:
        self.cursor = cursor
        self.read_only_begun = read_only_begun
        self.background = background
        self.prepared = prepared
        self._give_back = give_back
        self.cancelled = False
        self._busy = threading.Event()
        self._busy.set()  # "set" means idle: no thread is running on the cursor
        self._on_close = on_close
        self._closed = False

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """Run ``work(cursor, *args)`` in a worker thread; cancellation interrupts it."""
        done = threading.Event()
        gate = threading.Lock()
        phase = ["waiting"]  # waiting -> running, or waiting -> abandoned (the work never starts)

        def target() -> T:
            with gate:
                if phase[0] == "abandoned" or self.cancelled:
                    phase[0] = "abandoned"
                    raise _CancelledBeforeStart()
                phase[0] = "running"
            try:
                if not self.background:
                    thread_priority.lower_current_thread()
                return work(self.cursor, *args)
            finally:
                done.set()
                self._busy.set()

        self._busy.clear()
        try:
            if self.background:
                return await _in_idle_thread(target)
            return await anyio.to_thread.run_sync(target, abandon_on_cancel=True)
        except anyio.get_cancelled_exc_class():
            self.cancelled = True
            with gate:
                started = phase[0] == "running"
                phase[0] = phase[0] if started else "abandoned"
            if started:  # cancelled before a thread picked it up: nothing runs, nothing to stop
                with anyio.CancelScope(shield=True):
                    await self._stop(done)
            raise
        finally:
            if phase[0] == "abandoned":
                self._busy.set()

    async def _stop(self, done: threading.Event) -> None:
        """Interrupt until the thread has returned (bounded)."""
        with anyio.move_on_after(INTERRUPT_PATIENCE_S):
            while not done.is_set():
                self.interrupt()
                await anyio.sleep(INTERRUPT_EVERY_S)
        if not done.is_set():
            log.error("a DuckDB query ignored interrupt()", extra={"ctx": {"waited_s": INTERRUPT_PATIENCE_S}})

    def interrupt(self) -> None:
        """Ask DuckDB to stop the statement running on this cursor (thread-safe)."""
        self.cancelled = True
        try:
            self.cursor.interrupt()
        except Exception:  # a closed cursor has nothing left to interrupt
            pass

    def progress(self) -> float | None:
        """DuckDB's progress of the running statement, 0..1, or None when it has none."""
        try:
            value = float(self.cursor.query_progress())
        except Exception:  # no statement running, or the cursor is closed
            return None
        if value < 0:
            return None
        return min(value / 100.0, 1.0)

    @property
    def idle(self) -> bool:
        """True when no thread is running on the cursor."""
        return self._busy.is_set()

    def close(self) -> None:
        """Close the cursor (only once its thread has returned)."""
        if self._closed:
            return
        self._closed = True
        if self._on_close is not None:
            self._on_close(self)
        if not self._busy.is_set():
            return  # a stuck thread still uses it; the database close will end it
        if self._give_back is not None and not self.cancelled:
            self._give_back()
            return
        try:
            self.cursor.close()
        except Exception:  # already closed with the database
            pass


async def _in_idle_thread(target: Callable[[], T]) -> T:
    """``to_thread.run_sync(target, abandon_on_cancel=True)`` in a new thread at idle priority.

    A thread of its own because a thread cannot leave SCHED_IDLE again without
    privilege, so one of the shared workers (which also run requests) must never
    enter it. A thread per job run costs ~0.1 ms against a job's seconds.
    """
    token = anyio.lowlevel.current_token()
    finished = anyio.Event()
    outcome: list[tuple[bool, Any]] = []

    def body() -> None:
        thread_priority.idle_current_thread()
        try:
            outcome.append((True, target()))
        except BaseException as exc:  # handed to the awaiting task, as to_thread would
            outcome.append((False, exc))
        finally:
            try:
                anyio.from_thread.run_sync(finished.set, token=token)
            except Exception:  # the event loop has ended: nobody waits for this any more
                pass

    threading.Thread(target=body, name="sidecar-job-duckdb", daemon=True).start()
    await finished.wait()
    succeeded, value = outcome[0]
    if succeeded:
        return value  # type: ignore[no-any-return]
    raise value


class _CancelledBeforeStart(Exception):
    """Raised in the worker when the owner was cancelled before the work began."""
