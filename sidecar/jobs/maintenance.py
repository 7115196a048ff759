"""The ``maintenance.compact`` job: CHECKPOINT, VACUUM, ANALYZE the engine database."""

from __future__ import annotations

from typing import Any

from msgspec import Struct

from sidecar.database.handle import QueryHandle
from sidecar.jobs.types import JobContext, JobType, RetryPolicy


class CompactPayload(Struct, forbid_unknown_fields=True):
    """checkpoint: write the WAL into the file. vacuum: reclaim deleted rows' space where DuckDB can.
    analyze: refresh the optimizer's statistics. All default true.
    """

    checkpoint: bool = True
    vacuum: bool = True
    analyze: bool = True


class CompactResult(Struct):
    """steps: the statements run. bytes_before, bytes_after: database plus WAL size around the job."""

    steps: list[str]
    bytes_before: int
    bytes_after: int


def _statement(cursor: Any, sql: str) -> None:
    cursor.execute(sql)


async def run_compact(context: JobContext, payload: CompactPayload) -> CompactResult:
    """Run the chosen steps in order; progress by steps."""
    database = context.services.database
    steps = [
        sql
        for wanted, sql in (
            (payload.vacuum, "VACUUM"),
            (payload.analyze, "ANALYZE"),
            (payload.checkpoint, "CHECKPOINT"),
        )
        if wanted
    ]
    before = database.file_bytes()

    async def work(handle: QueryHandle) -> None:
        for index, sql in enumerate(steps):
            context.progress.set(index / max(len(steps), 1), f"{sql} ({index + 1} of {len(steps)})")
            await handle.run(_statement, sql)

    await database.using(work)
    return CompactResult(steps=steps, bytes_before=before, bytes_after=database.file_bytes())


COMPACT = JobType(
    name="maintenance.compact",
    payload=CompactPayload,
    run=run_compact,
    retry=RetryPolicy(max_attempts=3, retryable=frozenset({"transaction", "conflict"})),
    idempotent=True,
    summary="CHECKPOINT, VACUUM and ANALYZE the engine database",
)
