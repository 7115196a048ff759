"""``db.*``: SQL on the engine database, exports, the catalog.

Only light modules are imported here (Structs); DuckDB loads on first use."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread

from sidecar.api.context import Ctx
from sidecar.common.errors import ErrorCode, RpcError
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
from sidecar.rpc.registry import Registry

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


def register_db_methods(registry: Registry) -> None:
    """Add db.query, db.export, db.tables and db.describe."""

    @registry.method("db.query")
    async def db_query(ctx: Ctx, params: QueryParams) -> QueryResult:
        """Run SQL and return rows encoded without loss (read-only unless allow_write)."""
        engine = await ctx.app.engine.started()
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

        database = engine.database
        plans = database.plans
        epoch = database.write_epoch
        # A text found self-contained may run where earlier requests' statements are prepared
        # (database/prepared.py); any other runs on a cursor that never held one, and one not
        # checked yet in this epoch is checked by run_query once it has a plan.
        preparable = params.params is None and not params.allow_write
        verdict = plans.self_contained.get((epoch, params.sql)) if preparable else False
        reused = verdict is True

        async def work(handle: QueryHandle) -> Any:
            return await handle.run(
                run_query,
                params.sql,
                params.params,
                limit,
                params.allow_write,
                plans,
                handle.read_only_begun,
                params.layout,
                handle.prepared,
                epoch if verdict is None else None,
            )

        read_only = not params.allow_write
        rows = await _bounded(
            "db.query", params.timeout_ms, lambda: database.using(work, read_only=read_only, reused=reused)
        )
        return QueryResult(
            columns=rows.columns,
            rows=rows.rows,
            row_count=rows.count,
            truncated=rows.truncated,
            elapsed_ms=round((time.monotonic() - started) * 1000, 3),
            data=rows.data,
        )

    @registry.method("db.export")
    async def db_export(ctx: Ctx, params: ExportParams) -> ExportResult:
        """Write a SELECT's rows to a Parquet, CSV or JSON file and return its path, size and row count."""
        engine = await ctx.app.engine.started()
        from sidecar.database.export import default_name, write_export
        from sidecar.files.staging import export_scratch, export_target

        target = await anyio.to_thread.run_sync(export_target, engine.files, params.path, default_name(params.format))
        started = time.monotonic()

        async def work(handle: QueryHandle) -> Any:
            async with export_scratch(engine.files, target) as scratch:
                return await handle.run(write_export, params.sql, params.params, params.format, target, scratch)

        written = await _bounded("db.export", params.timeout_ms, lambda: engine.database.using(work))
        return ExportResult(
            path=str(written.path),
            bytes=written.bytes,
            row_count=written.row_count,
            elapsed_ms=round((time.monotonic() - started) * 1000, 3),
        )

    @registry.method("db.tables")
    async def db_tables(ctx: Ctx) -> TablesResult:
        """List the user tables and views of the engine database."""
        engine = await ctx.app.engine.started()
        from sidecar.database.catalog import list_tables

        tables = await _duckdb_errors(
            lambda: engine.database.using(lambda handle: handle.run(list_tables), read_only=True)
        )
        return TablesResult(tables=tables)

    @registry.method("db.describe")
    async def db_describe(ctx: Ctx, params: DescribeParams) -> DescribeResult:
        """Columns of a table or view (and a table's row count)."""
        engine = await ctx.app.engine.started()
        from sidecar.database.catalog import describe

        return await _duckdb_errors(
            lambda: engine.database.using(
                lambda handle: handle.run(describe, params.schema, params.table), read_only=True
            )
        )
