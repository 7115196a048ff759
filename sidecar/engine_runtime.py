"""The engine's composition root: built on first use, closed by one shutdown hook.

Registration (before READY) creates only an :class:`EngineRuntime`: no
files, no imports of duckdb or keyring. The first engine method builds the
:class:`Engine` (settings, the sqlite job store and run ledger, the worker
pool with its start-up recovery) and the first DuckDB use opens the database.

Background work (the job dispatcher and the jobs themselves) needs a task
group that outlives any one request: :meth:`EngineRuntime.hosting` wraps the
server's ``serve`` in one. The engine's shutdown hook, which the server runs
on every shutdown path before SHUTDOWN, stops the pool (running jobs are
interrupted and recorded), then checkpoints and closes DuckDB, then closes
the job store, in that order.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from anyio.abc import TaskGroup

from sidecar.server.session import RequestContext

if TYPE_CHECKING:
    from sidecar.engine_core import Engine

log = logging.getLogger("sidecar.engine")

T = TypeVar("T")


class EngineRuntime:
    """Made at registration; hands out the one :class:`Engine`, built on first use."""

    def __init__(self) -> None:
        self._task_group: TaskGroup | None = None
        self._engine: Engine | None = None
        self._lock: anyio.Lock | None = None

    def hosting(self, serve: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
        """Wrap the server's ``serve`` so engine background tasks have a task group around it."""

        async def run(*args: Any) -> T:
            async with anyio.create_task_group() as tg:
                self._task_group = tg
                try:
                    return await serve(*args)
                finally:
                    tg.cancel_scope.cancel()  # the shutdown hook already stopped the jobs

        return run

    async def engine(self, ctx: RequestContext) -> Engine:
        """The engine, started on the first call."""
        if self._engine is not None:
            return self._engine
        if self._task_group is None:
            raise RuntimeError("the engine needs EngineRuntime.hosting around serve()")
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            if self._engine is None:
                from sidecar.engine_core import Engine  # the engine's modules load on first use

                engine = Engine(ctx.session, self._task_group)
                with anyio.CancelScope(shield=True):  # short, and a half-built engine helps nobody
                    await engine.start()
                self._engine = engine
                log.info("engine started")
        return self._engine
