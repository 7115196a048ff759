"""The engine's parts wired together (imported on the first engine call, never before READY).

The one shutdown hook, registered first thing in :meth:`Engine.start`, runs on
every shutdown path before SHUTDOWN: it stops the pool (running jobs are
interrupted and recorded), then checkpoints and closes DuckDB, then closes
the job store, in that order.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from anyio.abc import TaskGroup

from sidecar._version import __version__
from sidecar.database.database import Database
from sidecar.database.files import database_file
from sidecar.engine.status import STATUS_PROVIDER, EngineFigures, WorkerCounts, rss_bytes
from sidecar.engine.services import Services
from sidecar.jobs.pool import JobPool
from sidecar.jobs.store import JOBS_SCHEMA, STATE_FILE, JobStore, StateDB
from sidecar.pipelines.ledger import LEDGER_SCHEMA, RunLedger
from sidecar.secrets.store import SecretStore
from sidecar.rpc.dispatcher import Session
from sidecar.settings.store import SettingsStore

log = logging.getLogger("sidecar.engine")


class Engine:
    """Every engine part of this process, wired together."""

    def __init__(self, session: Session, task_group: TaskGroup) -> None:
        state = session.state
        self._session = session
        self._task_group = task_group
        self._lifecycle = state["lifecycle"]
        paths = state["paths"]
        self.settings = SettingsStore(paths.data_dir)
        self.state_db = StateDB(paths.data_dir / STATE_FILE)
        self.jobs = JobStore(self.state_db)
        self.ledger = RunLedger(self.state_db)
        self.database = Database(
            database_file(paths.data_dir),
            options=lambda: {
                "threads": self.settings.current.duckdb_threads,
                "memory_limit": self.settings.current.duckdb_memory_limit,
            },
        )
        self.secrets = SecretStore(state["config"].app_name)
        self.services = Services(
            paths=paths, settings=self.settings, database=self.database, secrets=self.secrets,
            ledger=self.ledger, notify=self._notify, app_version=__version__,
        )
        self.pool: JobPool | None = None

    async def start(self) -> None:
        """Read settings, open the job store, recover and start the pool (no DuckDB yet)."""
        self._lifecycle.hooks.append(self.close)  # first: a half-started engine is still closed
        await self.settings.load()
        await self.state_db.open([JOBS_SCHEMA, LEDGER_SCHEMA])
        from sidecar.engine.job_types import job_types  # the job runners, only now that they can run

        self.pool = JobPool(self.jobs, job_types(), self.services, self._notify)
        await self.pool.start(self._task_group)
        self._session.state[STATUS_PROVIDER] = self.figures

    async def close(self) -> None:
        """The shutdown hook: stop jobs, checkpoint and close DuckDB, close the job store."""
        if self.pool is not None:
            await self.pool.stop()
        await self.database.close()
        await self.state_db.close()

    async def _notify(self, method: str, params: Any) -> None:
        try:
            await self._session.notify(method, params)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            log.debug("notification after the output closed", extra={"ctx": {"method": method}})

    def figures(self) -> EngineFigures:
        """The engine part of system.status (no I/O but a stat and /proc)."""
        pool = self.pool
        active = pool.active if pool else 0
        return EngineFigures(
            engine_started=True,
            queue_depth=pool.queue_depth if pool else 0,
            workers=WorkerCounts(active=active, idle=max((pool.concurrency if pool else 0) - active, 0)),
            jobs_by_status=dict(pool.counts) if pool else {},
            duckdb_bytes=self.database.file_bytes(),
            rss_bytes=rss_bytes(),
        )
