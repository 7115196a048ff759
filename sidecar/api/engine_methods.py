"""Register every engine method: db.*, jobs.*, runs.*, reports.get, secrets.*, settings.*.

Handlers are thin: decode (msgspec did it), get the engine, call one
service, shape the result. Only light modules are imported here (Structs,
the runtime); DuckDB, keyring, PyYAML and the job runners load on first use.
"""

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread

from sidecar.database.errors import is_duckdb_error, to_application_error
from sidecar.database.messages import (
    DescribeParams,
    DescribeResult,
    ExportParams,
    ExportResult,
    QueryParams,
    QueryResult,
    TablesResult,
)
from sidecar.engine.runtime import EngineRuntime
from sidecar.common.ids import parse_uuid
from sidecar.jobs.messages import (
    CancelResult,
    EventsParams,
    EventsResult,
    JobIdParams,
    ListParams,
    ListResult,
    SubmitParams,
    SubmitResult,
)
from sidecar.jobs.model import JobRecord
from sidecar.pipelines.messages import ReportResult, RunIdParams, RunsListParams, RunsListResult
from sidecar.pipelines.records import RunRecord
from sidecar.protocol import ApplicationError, ErrorCode, RpcError
from sidecar.secrets.store import (
    SecretDeleteResult,
    SecretGetResult,
    SecretListResult,
    SecretNameParams,
    SecretSetParams,
    SecretSetResult,
)
from sidecar.rpc.registry import Registry
from sidecar.rpc.dispatcher import RequestContext
from sidecar.settings.store import SettingsGetResult, SettingsSetParams

if TYPE_CHECKING:
    from sidecar.database.handle import QueryHandle

T = TypeVar("T")


async def _bounded(method: str, timeout_ms: int | None, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work``; past ``timeout_ms`` it is cancelled (its query interrupted) and -32004 answers."""
    if timeout_ms is None:
        return await _duckdb_errors(work)
    with anyio.move_on_after(timeout_ms / 1000):
        return await _duckdb_errors(work)
    raise RpcError(
        ErrorCode.REQUEST_TIMEOUT,
        f"{method} ran past its timeout of {timeout_ms} ms and was interrupted",
        data={"method": method, "timeout_ms": timeout_ms},
    )


async def _duckdb_errors(work: Callable[[], Awaitable[T]]) -> T:
    try:
        return await work()
    except Exception as exc:  # DuckDB and OS errors become -32000 with a stable kind
        if is_duckdb_error(exc) or isinstance(exc, OSError):
            raise to_application_error(exc) from exc
        raise


def register_engine_methods(registry: Registry) -> EngineRuntime:
    """Add the engine's methods; returns the runtime (its ``start_after_ready`` is a startup hook)."""
    runtime = EngineRuntime()
    _register_db(registry, runtime)
    _register_jobs(registry, runtime)
    _register_runs(registry, runtime)
    _register_secrets_and_settings(registry, runtime)
    return runtime


def _register_db(registry: Registry, runtime: EngineRuntime) -> None:
    @registry.method("db.query")
    async def db_query(ctx: RequestContext, params: QueryParams) -> QueryResult:
        """Run SQL and return rows encoded without loss (read-only unless allow_write)."""
        engine = await runtime.engine(ctx)
        settings = engine.settings.current
        limit = settings.query_default_limit if params.limit is None else params.limit
        if limit > settings.query_max_limit:
            raise RpcError(
                ErrorCode.INVALID_PARAMS,
                f"limit {limit} is above the maximum {settings.query_max_limit} (setting query_max_limit)",
                data={"path": "$.limit", "detail": f"at most {settings.query_max_limit}"},
            )
        from sidecar.database.query import run_query

        started = time.monotonic()

        async def work(handle: "QueryHandle") -> Any:
            return await handle.run(run_query, params.sql, params.params, limit, params.allow_write)

        rows = await _bounded("db.query", params.timeout_ms, lambda: engine.database.using(work))
        return QueryResult(
            columns=rows.columns, rows=rows.rows, row_count=len(rows.rows), truncated=rows.truncated,
            elapsed_ms=round((time.monotonic() - started) * 1000, 3),
        )

    @registry.method("db.export")
    async def db_export(ctx: RequestContext, params: ExportParams) -> ExportResult:
        """Write a SELECT's rows to a Parquet, CSV or JSON file and return its path, size and row count."""
        engine = await runtime.engine(ctx)
        from sidecar.database.export import resolve_target, write_export

        target = resolve_target(engine.services.paths.data_dir, params.format, params.path)
        started = time.monotonic()

        async def work(handle: "QueryHandle") -> Any:
            return await handle.run(write_export, params.sql, params.params, params.format, target)

        written = await _bounded("db.export", params.timeout_ms, lambda: engine.database.using(work))
        return ExportResult(
            path=str(written.path), bytes=written.bytes, row_count=written.row_count,
            elapsed_ms=round((time.monotonic() - started) * 1000, 3),
        )

    @registry.method("db.tables")
    async def db_tables(ctx: RequestContext) -> TablesResult:
        """List the user tables and views of the engine database."""
        engine = await runtime.engine(ctx)
        from sidecar.database.catalog import list_tables

        tables = await _duckdb_errors(lambda: engine.database.using(lambda handle: handle.run(list_tables)))
        return TablesResult(tables=tables)

    @registry.method("db.describe")
    async def db_describe(ctx: RequestContext, params: DescribeParams) -> DescribeResult:
        """Columns of a table or view (and a table's row count)."""
        engine = await runtime.engine(ctx)
        from sidecar.database.catalog import describe

        return await _duckdb_errors(
            lambda: engine.database.using(lambda handle: handle.run(describe, params.schema, params.table))
        )


def _register_jobs(registry: Registry, runtime: EngineRuntime) -> None:
    @registry.method("jobs.submit")
    async def jobs_submit(ctx: RequestContext, params: SubmitParams) -> SubmitResult:
        """Queue a job (ingest, export, pipeline.run, maintenance.compact); progress arrives as notifications."""
        engine = await runtime.engine(ctx)
        assert engine.pool is not None
        record = await engine.pool.submit(params.type, params.payload, params.run_id)
        return SubmitResult(job_id=record.job_id, status=record.status, run_id=record.run_id)

    @registry.method("jobs.get")
    async def jobs_get(ctx: RequestContext, params: JobIdParams) -> JobRecord:
        """One job's record."""
        engine = await runtime.engine(ctx)
        record = await engine.jobs.get(params.job_id)
        if record is None:
            raise ApplicationError("job_not_found", f"no job with id {params.job_id}", job_id=params.job_id)
        return record

    @registry.method("jobs.list")
    async def jobs_list(ctx: RequestContext, params: ListParams) -> ListResult:
        """Jobs, newest first, optionally filtered by status and type."""
        engine = await runtime.engine(ctx)
        return ListResult(jobs=await engine.jobs.list(params.status, params.type, params.limit))

    @registry.method("jobs.cancel")
    async def jobs_cancel(ctx: RequestContext, params: JobIdParams) -> CancelResult:
        """Cancel a queued or running job (its query is interrupted); answers once it has stopped."""
        engine = await runtime.engine(ctx)
        assert engine.pool is not None
        record, canceled = await engine.pool.cancel(params.job_id)
        return CancelResult(job=record, canceled=canceled)

    @registry.method("jobs.events")
    async def jobs_events(ctx: RequestContext, params: EventsParams) -> EventsResult:
        """A job's event log: transitions and retries, oldest first."""
        engine = await runtime.engine(ctx)
        if await engine.jobs.get(params.job_id) is None:
            raise ApplicationError("job_not_found", f"no job with id {params.job_id}", job_id=params.job_id)
        events = await engine.jobs.events(params.job_id, params.limit)
        return EventsResult(events=events)  # type: ignore[arg-type]


def _register_runs(registry: Registry, runtime: EngineRuntime) -> None:
    @registry.method("runs.get")
    async def runs_get(ctx: RequestContext, params: RunIdParams) -> RunRecord:
        """A pipeline run from the ledger: status, steps, transitions."""
        engine = await runtime.engine(ctx)
        run_id = parse_uuid(params.run_id)
        record = await engine.ledger.get(run_id) if run_id else None
        if record is None:
            raise ApplicationError("run_not_found", f"no run with id {params.run_id}", run_id=params.run_id)
        return record

    @registry.method("runs.list")
    async def runs_list(ctx: RequestContext, params: RunsListParams) -> RunsListResult:
        """Pipeline runs from the ledger, newest first."""
        engine = await runtime.engine(ctx)
        return RunsListResult(runs=await engine.ledger.list(params.status, params.limit))

    @registry.method("reports.get")
    async def reports_get(ctx: RequestContext, params: RunIdParams) -> ReportResult:
        """Paths of a run's report.html and metadata.json, and the metadata itself."""
        engine = await runtime.engine(ctx)
        from sidecar.pipelines.report import HTML_FILE, METADATA_FILE, read_metadata, report_dir

        run_id = parse_uuid(params.run_id)  # run ids are UUIDs: nothing else can name a folder
        if run_id is None:
            raise ApplicationError("report_not_found", f"no report for run {params.run_id}", run_id=params.run_id)
        folder = report_dir(engine.services.paths.data_dir, run_id)
        try:
            metadata = await anyio.to_thread.run_sync(read_metadata, folder)
        except FileNotFoundError:
            raise ApplicationError("report_not_found", f"no report for run {params.run_id}", run_id=params.run_id) from None
        return ReportResult(
            run_id=run_id, report_path=str(folder / HTML_FILE), metadata_path=str(folder / METADATA_FILE), metadata=metadata
        )


def _register_secrets_and_settings(registry: Registry, runtime: EngineRuntime) -> None:
    @registry.method("secrets.set")
    async def secrets_set(ctx: RequestContext, params: SecretSetParams) -> SecretSetResult:
        """Store a secret in the OS keychain (never on disk, never logged)."""
        engine = await runtime.engine(ctx)
        created = await engine.secrets.set(params.name, params.value)
        return SecretSetResult(name=params.name, created=created)

    @registry.method("secrets.get")
    async def secrets_get(ctx: RequestContext, params: SecretNameParams) -> SecretGetResult:
        """Read a secret's value from the OS keychain."""
        engine = await runtime.engine(ctx)
        return SecretGetResult(name=params.name, value=await engine.secrets.get(params.name))

    @registry.method("secrets.delete")
    async def secrets_delete(ctx: RequestContext, params: SecretNameParams) -> SecretDeleteResult:
        """Remove a secret from the OS keychain."""
        engine = await runtime.engine(ctx)
        return SecretDeleteResult(name=params.name, deleted=await engine.secrets.delete(params.name))

    @registry.method("secrets.list")
    async def secrets_list(ctx: RequestContext) -> SecretListResult:
        """The names of the stored secrets (never their values)."""
        engine = await runtime.engine(ctx)
        return SecretListResult(names=await engine.secrets.names())

    @registry.method("settings.get")
    async def settings_get(ctx: RequestContext) -> SettingsGetResult:
        """Every engine setting with its current value."""
        engine = await runtime.engine(ctx)
        return SettingsGetResult(settings=engine.settings.current, path=str(engine.settings.path))

    @registry.method("settings.set")
    async def settings_set(ctx: RequestContext, params: SettingsSetParams) -> SettingsGetResult:
        """Change settings (validated; unknown keys are -32602), persisted atomically."""
        engine = await runtime.engine(ctx)
        settings = await engine.settings.update(params.values)
        return SettingsGetResult(settings=settings, path=str(engine.settings.path))
