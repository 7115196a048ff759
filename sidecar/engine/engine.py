"""The one engine object: built when the process starts, its parts started on first use.

Before READY nothing heavy happens: :class:`Engine` only remembers where its
files go. The first engine method (or, when a previous run left a job store,
the startup hook right after READY) calls :meth:`Engine.started`, which
builds and opens the parts: settings, the sqlite state store with the job
store and run ledger, the worker pool with its start-up recovery, the
scheduler (which handles what came due while no sidecar ran), the
keychain store, and the DuckDB database (opened on its first use). Their
modules load only then, so DuckDB, keyring and PyYAML never delay READY.

Background work (the job dispatcher and the jobs themselves) runs in the
task group handed to :meth:`Engine.attach`, which outlives any one request.
:meth:`Engine.close`, the one shutdown hook, stops the scheduler, then the pool (running
jobs are interrupted and recorded), then checkpoints and closes DuckDB and the state
store side by side, waiting at most ``CLOSE_FLUSH_S`` for the disk.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup
from msgspec import Struct

from sidecar.daemon.paths import DataPaths
from sidecar.engine.status import EngineFigures, WorkerCounts, idle_figures, rss_bytes
from sidecar.files.access import FileAccess

if TYPE_CHECKING:
    from sidecar.common.errors import ApplicationError
    from sidecar.database.database import Database
    from sidecar.jobs.pool import JobPool
    from sidecar.jobs.store import JobStore
    from sidecar.jobs.types import JobType
    from sidecar.pipelines.ledger import RunLedger
    from sidecar.schedules.scheduler import Scheduler
    from sidecar.secrets.store import SecretStore
    from sidecar.settings.store import SettingsStore
    from sidecar.state.store import StateDB

log = logging.getLogger("sidecar.engine")

#: Sends a notification to the host.
Notify = Callable[[str, Any], Awaitable[None]]

#: How long closing DuckDB and the state store may wait for the disk at shutdown (both flush).
CLOSE_FLUSH_S: Final = 0.5


class StateReset(Struct):
    """A damaged state store was replaced (``engine.state_reset``; ``system.status.state_reset``).

    at: when (ISO 8601 UTC). moved_to: where the damaged file now is (kept, never deleted).
    reason: what sqlite said. lost: what the fresh store no longer has.
    """

    at: str
    moved_to: str
    reason: str
    lost: list[str]


class EngineNotRunning(RuntimeError):
    """The engine was used outside the server's life (no background task group attached)."""


class Engine:
    """Every engine part of this process. Its parts exist once :meth:`started` returned.

    paths: the data folders. app_version: the sidecar's version (for reports).
    files: what the engine may read and write on disk (its folders and the host's grants; from the start).
    network: whether the host allowed URL sources (``--allow-network``).
    app_job_types: the job types of the loaded app packages (sidecar.apps), run by the pool
    beside the built-in ones.
    settings, state, jobs, ledger, database, secrets, pool, scheduler: the parts (after start).
    """

    settings: SettingsStore
    state: StateDB
    jobs: JobStore
    ledger: RunLedger
    database: Database
    secrets: SecretStore
    pool: JobPool
    scheduler: Scheduler

    def __init__(
        self,
        paths: DataPaths,
        app_name: str,
        app_version: str,
        notify: Notify,
        *,
        network: bool = False,
        app_job_types: Mapping[str, JobType] | None = None,
    ) -> None:
        self._paths = paths
        self._app_job_types = dict(app_job_types or {})
        self.files = FileAccess(paths.data_dir, (paths.logs_dir, paths.cache_dir))
        self.network = network
        self._app_name = app_name
        self._app_version = app_version
        self._notify = notify
        self._background: TaskGroup | None = None
        self._lock: anyio.Lock | None = None
        self._started = False
        #: Why the state store could not be opened (None: it is open, or not tried yet).
        self._state_error: ApplicationError | None = None
        #: Set when a damaged state store was moved aside and replaced by a fresh one.
        self.state_reset: StateReset | None = None

    @property
    def paths(self) -> DataPaths:
        """The data folders."""
        return self._paths

    @property
    def app_version(self) -> str:
        """The sidecar's version."""
        return self._app_version

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

    async def with_state(self) -> Engine:
        """The started engine with its state store (jobs, the run ledger) open. When the store could
        not be opened (a full disk, a failing file) it is tried again here, so jobs come back as
        soon as the cause is gone, without a restart; until then this raises that error."""
        engine = await self.started()
        if self._state_error is None:
            return engine
        assert self._lock is not None and self._background is not None
        async with self._lock:
            if self._state_error is not None:
                with anyio.CancelScope(shield=True):
                    await self._open_state(self._background)
        if self._state_error is not None:
            raise self._state_error
        return engine

    async def _start(self, background: TaskGroup) -> None:
        # The engine's modules load here, on first use, never before READY.
        from sidecar.database.database import Database
        from sidecar.database.files import database_file
        from sidecar.secrets.store import SecretStore
        from sidecar.settings.store import SettingsStore

        data_dir = self._paths.data_dir
        self.settings = SettingsStore(data_dir)
        settings = self.settings
        self.database = Database(
            database_file(data_dir),
            options=lambda: {
                "threads": settings.current.duckdb_threads,
                "memory_limit": settings.current.duckdb_memory_limit,
            },
            allowed_directories=self.files.sandbox_dirs(),
        )
        await anyio.to_thread.run_sync(self._prepare_folders)
        self.secrets = SecretStore(self._app_name)
        await self.settings.load()
        await self._open_state(background)

    def _prepare_folders(self) -> None:
        """Create imports/ and exports/ (private), and empty staging/ of what a killed run left."""
        from sidecar.files.staging import sweep_staging

        for folder in (self.files.imports_dir, self.files.exports_dir):
            try:
                folder.mkdir(mode=0o700, exist_ok=True)
            except OSError as exc:  # e.g. a full disk: what needs the folder reports it when it runs
                log.warning("cannot create folder", extra={"ctx": {"path": str(folder), "error": str(exc)}})
        removed = sweep_staging(self.files)
        if removed:
            log.info("staging leftovers removed", extra={"ctx": {"entries": removed}})

    async def _open_state(self, background: TaskGroup) -> None:
        """Open the state store and start the job pool; on a failure that is not a bug, remember
        it (jobs.* and runs.* answer it) and leave DuckDB, settings and secrets working."""
        import sqlite3

        from sidecar.common.disk import disk_full_error, is_disk_full
        from sidecar.common.errors import ApplicationError
        from sidecar.engine.job_types import job_types
        from sidecar.jobs.pool import JobPool
        from sidecar.jobs.store import JOBS_SCHEMA, JobStore
        from sidecar.pipelines.ledger import LEDGER_SCHEMA, RunLedger
        from sidecar.schedules.scheduler import Scheduler
        from sidecar.schedules.store import SCHEDULES_SCHEMA, ScheduleStore
        from sidecar.state.store import STATE_FILE, StateDamaged, StateDB

        schemas = [JOBS_SCHEMA, LEDGER_SCHEMA, SCHEDULES_SCHEMA]

        self.state = StateDB(self._paths.data_dir / STATE_FILE)
        self.jobs = JobStore(self.state)
        self.ledger = RunLedger(self.state)
        try:
            try:
                await self.state.open(schemas)
            except StateDamaged as damaged:
                await self._reset_damaged_state(damaged)
                await self.state.open(schemas)
            pool = JobPool(self.jobs, job_types(self.ledger, self._app_job_types), self)
            await pool.start(background)
            scheduler = Scheduler(ScheduleStore(self.state), pool, self.notify)
            await scheduler.start(background)
        except (sqlite3.Error, OSError) as exc:
            await self.state.close()
            if is_disk_full(exc):
                self._state_error = disk_full_error(exc, "opening the state store (jobs, run ledger)")
            else:
                self._state_error = ApplicationError(
                    "state_unavailable", f"the state store (jobs, run ledger) cannot be used: {exc}", detail=str(exc)
                )
            log.error("state store unavailable", extra={"ctx": {"error": str(exc), "kind": self._state_error.kind}})
            return
        self.pool = pool
        self.scheduler = scheduler
        self._state_error = None

    async def _reset_damaged_state(self, damaged: BaseException) -> None:
        """Move a damaged state file aside (never delete it) and start a fresh one, announced by
        ``engine.state_reset`` and in ``system.status`` (``state_reset``)."""
        from sidecar.common.clock import utc_now
        from sidecar.state.store import set_aside

        await self.state.close()
        stamp = utc_now().replace(":", "").replace(".", "")
        moved = await anyio.to_thread.run_sync(set_aside, self.state.path, stamp)
        self.state_reset = StateReset(
            at=utc_now(),
            moved_to=str(moved),
            reason=str(damaged),
            lost=["job history", "pipeline run ledger", "schedules and their firing history"],
        )
        log.error(
            "state store damaged: moved aside, starting a fresh one",
            extra={"ctx": {"moved_to": str(moved), "error": str(damaged)}},
        )
        await self.notify("engine.state_reset", self.state_reset)

    async def close(self) -> None:
        """The shutdown hook: stop the scheduler and jobs, then close DuckDB and the state store.

        Both closes flush to disk, so they run side by side and together wait at most
        CLOSE_FLUSH_S: on a saturated disk one flush took seconds (issue-log 0040). What
        is not flushed by then is already in the write-ahead logs, which replay at the
        next start; the process does not wait for the threads still flushing.
        """
        if not hasattr(self, "settings"):
            return  # never started
        if hasattr(self, "scheduler"):
            await self.scheduler.stop()  # first: no firing may queue a job into a stopping pool
        if hasattr(self, "pool"):
            await self.pool.stop()
        closes: dict[str, Callable[[], Awaitable[None]]] = {"engine.duckdb": self.database.close}
        if hasattr(self, "state"):
            closes["state.sqlite3"] = self.state.close
        pending = set(closes)

        async def close_one(name: str) -> None:
            try:
                await closes[name]()
            except Exception:  # one file's failure must not cancel the other's close
                log.exception("closing a file failed", extra={"ctx": {"file": name}})
            pending.discard(name)

        with anyio.move_on_after(CLOSE_FLUSH_S):
            async with anyio.create_task_group() as tg:
                for name in closes:
                    tg.start_soon(close_one, name)
        if pending:
            log.warning(
                "files not flushed at shutdown: their write-ahead logs replay at the next start",
                extra={"ctx": {"files": sorted(pending), "waited_s": CLOSE_FLUSH_S}},
            )

    def figures(self) -> EngineFigures:
        """The engine part of system.status (no I/O but a stat and /proc; never waits)."""
        if not self._started or not hasattr(self, "pool"):
            figures = idle_figures(self._paths.data_dir)
            figures.engine_started = self._started
            return figures
        pool = self.pool
        active = pool.active
        return EngineFigures(
            engine_started=True,
            queue_depth=pool.queue_depth,
            workers=WorkerCounts(active=active, idle=max(pool.concurrency - active, 0)),
            jobs_by_status=dict(pool.counts),
            duckdb_bytes=self.database.file_bytes(),
            rss_bytes=rss_bytes(),
            scheduler=self.scheduler.figures(),
        )
