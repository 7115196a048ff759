"""Job progress: monotonic, at most 10 notifications a second, fed by DuckDB.

A job sets its progress whenever it likes (or installs a *source*, a
function polled every tick, such as "bytes of finished files plus DuckDB's
``query_progress()`` of the current one"); one ticker per job sends
``job.progress`` only from its loop, every TICK at most, so the rate limit
holds whatever the job does. Values never go down: a lower value is ignored.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Final

import anyio

#: Minimum time between two job.progress notifications of one job (10 per second).
log = logging.getLogger("sidecar.jobs")

TICK_S: Final = 0.1
#: How often the progress is also written to the job store.
PERSIST_EVERY_S: Final = 1.0

Send = Callable[[float, str | None], Awaitable[None]]
Source = Callable[[], float | None]


class Progress:
    """The progress of one running job."""

    def __init__(self, send: Send, persist: Send) -> None:
        self.value = 0.0
        self.message: str | None = None
        self._send = send
        self._persist = persist
        self._source: Source | None = None
        self._sent: tuple[float, str | None] | None = (0.0, None)  # "started at 0" needs no notification
        self._sent_at = float("-inf")
        self._persisted: tuple[float, str | None] | None = None
        self._persisted_at = time.monotonic()

    def set(self, value: float | None = None, message: str | None = None) -> None:
        """Raise the progress to ``value`` (0..1; lower values are ignored) and/or set the message."""
        if value is not None:
            value = min(max(float(value), 0.0), 1.0)
            if value > self.value:
                self.value = value
        if message is not None:
            self.message = message

    @contextlib.contextmanager
    def source(self, source: Source) -> Iterator[None]:
        """Poll ``source`` every tick while the block runs (e.g. DuckDB's query progress)."""
        self._source = source
        try:
            yield
        finally:
            self._source = None

    async def run(self) -> None:
        """The ticker: poll the source, send what changed, persist now and then. Runs until cancelled."""
        while True:
            await anyio.sleep(TICK_S)
            if self._source is not None:
                self.set(self._source())
            await self._emit()
            if time.monotonic() - self._persisted_at >= PERSIST_EVERY_S:
                await self._save()

    async def flush(self) -> None:
        """Send the last change (still keeping the rate limit) and persist it."""
        wait = self._sent_at + TICK_S - time.monotonic()
        if wait > 0:
            await anyio.sleep(wait)
        await self._emit()
        await self._save()

    async def _emit(self) -> None:
        current = (self.value, self.message)
        if current != self._sent:
            self._sent = current
            self._sent_at = time.monotonic()
            await self._send(*current)

    async def _save(self) -> None:
        current = (self.value, self.message)
        self._persisted_at = time.monotonic()
        if current != self._persisted:
            try:
                await self._persist(*current)
            except (sqlite3.Error, OSError) as exc:  # progress is a courtesy: a full disk must not end the job
                log.warning("progress not recorded", extra={"ctx": {"error": str(exc)}})
                return
            self._persisted = current
