"""The engine's composition root: built on first use, closed by one shutdown hook.

Registration (before READY) creates only an :class:`EngineRuntime`: no
files, no imports of duckdb or keyring. The first engine method builds the
:class:`Engine` (settings, the sqlite job store and run ledger, the worker
pool with its start-up recovery) and the first DuckDB use opens the database.

Background work (the job dispatcher and the jobs themselves) runs in the
server's background task group (``Lifecycle.background``), which outlives any
one request. When a previous run left a job store, the engine starts right
after READY (:meth:`EngineRuntime.start_after_ready`) to recover it. The engine's shutdown hook, which the server runs
on every shutdown path before SHUTDOWN, stops the pool (running jobs are
interrupted and recorded), then checkpoints and closes DuckDB, then closes
the job store, in that order.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio

from sidecar.rpc.dispatcher import RequestContext, Session

if TYPE_CHECKING:
    from sidecar.engine.engine import Engine

log = logging.getLogger("sidecar.engine")



class EngineRuntime:
    """Made at registration; hands out the one :class:`Engine`, built on first use."""

    def __init__(self) -> None:
        self._engine: Engine | None = None
        self._lock: anyio.Lock | None = None

    async def start_after_ready(self, session: Session) -> None:
        """Startup hook (runs in the background after READY): when a previous run left a
        job store, start the engine now so interrupted jobs are marked (and announced
        with job.status) and queued ones resume without waiting for the host's first call."""
        from sidecar.jobs.store import STATE_FILE

        if (session.state["paths"].data_dir / STATE_FILE).exists():
            await self.engine_for(session)

    async def engine(self, ctx: RequestContext) -> Engine:
        """The engine, started on the first call."""
        return await self.engine_for(ctx.session)

    async def engine_for(self, session: Session) -> Engine:
        """The engine of ``session``'s process, started once."""
        if self._engine is not None:
            return self._engine
        background = session.state["lifecycle"].background
        if background is None:
            raise RuntimeError("the engine runs only inside sidecar.server.app.serve")
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            if self._engine is None:
                from sidecar.engine.engine import Engine  # the engine's modules load on first use

                engine = Engine(session, background)
                with anyio.CancelScope(shield=True):  # short, and a half-built engine helps nobody
                    await engine.start()
                self._engine = engine
                log.info("engine started")
        return self._engine
