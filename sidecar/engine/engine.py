"""The one engine object: built when the process starts, its parts started on first use.

Before READY nothing heavy happens: :class:`Engine` only remembers where its
files go. The first engine method (or, when a previous run left a job store,
the startup hook right after READY) calls :meth:`Engine.started`, which
builds and opens the parts: settings, the sqlite state store with the job
store and run ledger, the worker pool with its start-up recovery, the
keychain store, and the DuckDB database (opened on its first use). Their
modules load only then, so DuckDB, keyring and PyYAML never delay READY.

Background work (the job dispatcher and the jobs themselves) runs in the
task group handed to :meth:`Engine.attach`, which outlives any one request.
:meth:`Engine.close`, the one shutdown hook, stops the pool (running jobs
are interrupted and recorded), then checkpoints and closes DuckDB, then
closes the state store, in that order.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskGroup

from sidecar.daemon.paths import DataPaths
from sidecar.engine.status import EngineFigures, WorkerCounts, idle_figures, rss_bytes

if TYPE_CHECKING:
    from sidecar.database.database import Database
    from sidecar.jobs.pool import JobPool
    from sidecar.jobs.store import JobStore
    from sidecar.pipelines.ledger import RunLedger
    from sidecar.secrets.store import SecretStore
    from sidecar.settings.store import SettingsStore
    from sidecar.state.store import StateDB

log = logging.getLogger("sidecar.engine")

#: Sends a notification to the host.
Notify = Callable[[str, Any], Awaitable[None]]


class EngineNotRunning(RuntimeError):
    """The engine was used outside the server's life (no background task group attached)."""


class Engine:
    """Every engine part of this process. Its parts exist once :meth:`started` returned.

    paths: the data folders. app_version: the sidecar's version (for reports).
    settings, state, jobs, ledger, database, secrets, pool: the parts (after start).
    """

    settings: SettingsStore
    state: StateDB
    jobs: JobStore
    ledger: RunLedger
    database: Database
    secrets: SecretStore
    pool: JobPool

    def __init__(self, paths: DataPaths, app_name: str, app_version: str, notify: Notify) -> None:
        self._paths = paths
        self._app_name = app_name
        self._app_version = app_version
        self._notify = notify
        self._background: TaskGroup | None = None
        self._lock: anyio.Lock | None = None
        self._started = False

    @property
    def paths(self) -> DataPaths:
        """The data folders."""
        return self._paths

    @property
    def app_version(self) -> str:
        """The sidecar's version."""
        return self._app_version

    @property
    def is_started(self) -> bool:
        """Whether the parts exist (the first engine method has run)."""
        return self._started

    def attach(self, background: TaskGroup) -> None:
        """Give the engine the task group its job pool runs in (the server's background group)."""
        self._background = background

    async def notify(self, method: str, params: Any) -> None:
        """Send a notification to the host; quietly dropped once the output has closed."""
        try:
            await self._notify(method, params)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            log.debug("notification after the output closed", extra={"ctx": {"method": method}})

    async def started(self) -> Engine:
        """The engine with its parts open, starting them once (concurrent callers wait for the first)."""
        if self._started:
            return self
        if self._background is None:
            raise EngineNotRunning("the engine runs only inside the server (sidecar.app.serve)")
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            if not self._started:
                with anyio.CancelScope(shield=True):  # short, and a half-built engine helps nobody
                    await self._start(self._background)
                self._started = True
                log.info("engine started")
        return self

    async def start_if_state_exists(self) -> None:
        """Startup hook (after READY): when a previous run left a job store, start now, so
        interrupted jobs are marked (and announced with job.status) and queued ones resume
        without waiting for the host's first call."""
        from sidecar.state.store import STATE_FILE

        if (self._paths.data_dir / STATE_FILE).exists():
            await self.started()

    async def _start(self, background: TaskGroup) -> None:
        # The engine's modules load here, on first use, never before READY.
        from sidecar.database.database import Database
        from sidecar.database.files import database_file
        from sidecar.engine.job_types import job_types
        from sidecar.jobs.pool import JobPool
        from sidecar.jobs.store import JOBS_SCHEMA, JobStore
        from sidecar.pipelines.ledger import LEDGER_SCHEMA, RunLedger
        from sidecar.secrets.store import SecretStore
        from sidecar.settings.store import SettingsStore
        from sidecar.state.store import STATE_FILE, StateDB

        data_dir = self._paths.data_dir
        self.settings = SettingsStore(data_dir)
        self.state = StateDB(data_dir / STATE_FILE)
        self.jobs = JobStore(self.state)
        self.ledger = RunLedger(self.state)
        settings = self.settings
        self.database = Database(
            database_file(data_dir),
            options=lambda: {
                "threads": settings.current.duckdb_threads,
                "memory_limit": settings.current.duckdb_memory_limit,
            },
        )
        self.secrets = SecretStore(self._app_name)
        await self.settings.load()
        await self.state.open([JOBS_SCHEMA, LEDGER_SCHEMA])
        self.pool = JobPool(self.jobs, job_types(self.ledger), self)
        await self.pool.start(background)

    async def close(self) -> None:
        """The shutdown hook: stop jobs, checkpoint and close DuckDB, close the state store."""
        if not hasattr(self, "settings"):
            return  # never started
        if hasattr(self, "pool"):
            await self.pool.stop()
        await self.database.close()
        await self.state.close()

    def figures(self) -> EngineFigures:
        """The engine part of system.status (no I/O but a stat and /proc; never waits)."""
        if not self._started:
            return idle_figures(self._paths.data_dir)
        pool = self.pool
        active = pool.active
        return EngineFigures(
            engine_started=True,
            queue_depth=pool.queue_depth,
            workers=WorkerCounts(active=active, idle=max(pool.concurrency - active, 0)),
            jobs_by_status=dict(pool.counts),
            duckdb_bytes=self.database.file_bytes(),
            rss_bytes=rss_bytes(),
        )
