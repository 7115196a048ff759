"""The ``export`` job: db.export as a job (progress from DuckDB, cancellable, retried)."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from msgspec import Meta, Struct

from sidecar.database.export import default_name, write_export
from sidecar.database.handle import QueryHandle
from sidecar.database.messages import ExportFormat, QueryParamValues
from sidecar.files.staging import export_scratch, export_target
from sidecar.jobs.types import JobContext, JobEnvironment, JobType, RetryPolicy


class ExportPayload(Struct, forbid_unknown_fields=True, omit_defaults=True):
    """sql: one SELECT-like statement. format: parquet (default), csv or json.
    path: relative to the data dir's exports folder, or absolute inside it or inside a path granted for
    writing (files.grant); default: a new file in exports/. params: placeholder values.
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
    access = context.services.files
    target = await anyio.to_thread.run_sync(export_target, access, payload.path, default_name(payload.format))

    async def work(handle: QueryHandle) -> Any:
        async with export_scratch(access, target) as scratch:
            with context.progress.source(handle.progress):
                return await handle.run(write_export, payload.sql, payload.params, payload.format, target, scratch)

    written = await context.services.database.using(work, progress=True)
    return ExportJobResult(path=str(written.path), bytes=written.bytes, row_count=written.row_count)


async def prepare_export(
    services: JobEnvironment, payload: ExportPayload, run_id: str | None, job_id: str
) -> tuple[dict[str, Any], str | None]:
    """jobs.submit answers forbidden_path itself for a target the engine may never write
    (the stored payload is the one given: omit_defaults leaves out what the host left out)."""
    import msgspec

    if payload.path is not None:
        await anyio.to_thread.run_sync(services.files.writable, payload.path)
    return msgspec.to_builtins(payload), run_id


EXPORT = JobType(
    name="export",
    payload=ExportPayload,
    run=run_export,
    retry=RetryPolicy(max_attempts=2, retryable=frozenset({"conflict", "network"})),
    idempotent=True,  # it rewrites the same file from the same query
    summary="write a SELECT's rows to a Parquet, CSV or JSON file",
    prepare=prepare_export,
)
