"""The run's shared facts: why it is stopping, what runs at shutdown, where background work lives."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import anyio
import anyio.abc
import msgspec

from sidecar.common.shutdown import ShutdownReason

log = logging.getLogger("sidecar.server")


ShutdownHook = Callable[[], Awaitable[None]]


class Lifecycle(msgspec.Struct):
    """Shared facts about this run.

    started: monotonic time the process started (for uptime).
    reason: why we are stopping, once decided (the first request wins).
    hooks: coroutines run during shutdown, in reverse order of registration.
    stopping: set once a shutdown was requested.
    background: a task group for work that outlives any one request (the engine's job
    pool); cancelled after the shutdown hooks ran, just before SHUTDOWN.
    """

    started: float
    reason: ShutdownReason | None = None
    hooks: list[ShutdownHook] = msgspec.field(default_factory=list)
    stopping: anyio.Event = msgspec.field(default_factory=anyio.Event)
    background: anyio.abc.TaskGroup | None = None

    def request_shutdown(self, reason: ShutdownReason) -> None:
        """Ask the server to stop; later requests keep the first reason."""
        if self.reason is None:
            self.reason = reason
            log.info("shutdown requested", extra={"ctx": {"reason": reason}})
        self.stopping.set()

    def uptime_ms(self) -> int:
        """Milliseconds since the process started."""
        return int((time.monotonic() - self.started) * 1000)
