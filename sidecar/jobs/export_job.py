"""The ``export`` job: db.export as a job (progress from DuckDB, cancellable, retried)."""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta, Struct

from sidecar.database.export import resolve_target, write_export
from sidecar.database.handle import QueryHandle
from sidecar.database.messages import ExportFormat, QueryParamValues
from sidecar.jobs.types import JobContext, JobType, RetryPolicy


class ExportPayload(Struct, forbid_unknown_fields=True):
    """sql: one SELECT-like statement. format: parquet (default), csv or json.
    path: absolute, or relative to the exports folder (default: a new file there). params: placeholder values.
    """

    sql: Annotated[str, Meta(min_length=1)]
    format: ExportFormat = "parquet"
    path: str | None = None
    params: QueryParamValues = None


class ExportJobResult(Struct):
    """path: the file written. bytes: its size. row_count: rows written."""

    path: str
    bytes: int
    row_count: int


async def run_export(context: JobContext, payload: ExportPayload) -> ExportJobResult:
    """Write the file; progress is DuckDB's progress through the query."""
    target = resolve_target(context.services.paths.data_dir, payload.format, payload.path)

    async def work(handle: QueryHandle) -> Any:
        with context.progress.source(handle.progress):
            return await handle.run(write_export, payload.sql, payload.params, payload.format, target)

    written = await context.services.database.using(work, progress=True)
    return ExportJobResult(path=str(written.path), bytes=written.bytes, row_count=written.row_count)


EXPORT = JobType(
    name="export",
    payload=ExportPayload,
    run=run_export,
    retry=RetryPolicy(max_attempts=2, retryable=frozenset({"conflict", "network"})),
    idempotent=True,  # it rewrites the same file from the same query
    summary="write a SELECT's rows to a Parquet, CSV or JSON file",
)
