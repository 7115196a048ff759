"""The ``wordfreq.scan`` job: count the words of a text file into a DuckDB table.

The file goes through the engine's file rules (imports/, or a path the host granted):
the app never opens a path the engine would refuse. Reading is chunked, each chunk in
a worker thread, so a cancel (jobs.cancel, shutdown) stops the job between chunks; the
table is written in one transaction on an interruptible DuckDB cursor, so a cancelled
or failed scan leaves no half-written table. Progress: bytes read, then the write.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Final

import anyio
import anyio.to_thread

from sidecar.sdk import ApplicationError, JobContext, JobType, QueryHandle, RetryPolicy
from wordfreq_app.counting import count_words
from wordfreq_app.messages import ScanPayload, ScanResult

#: Bytes read per chunk (a cancel waits at most one chunk).
CHUNK_BYTES: Final = 1 << 20
#: The comment every table the job writes carries: wordfreq.tables finds them by it.
TABLE_COMMENT: Final = "wordfreq.scan"
#: The share of the progress bar the reading takes; the write takes the rest.
READ_SHARE: Final = 0.9


async def run_scan(context: JobContext, payload: ScanPayload) -> ScanResult:
    """Count ``payload.source`` into ``payload.table``."""
    path = await anyio.to_thread.run_sync(_readable_file, context, payload.source)
    size = path.stat().st_size
    counts: Counter[str] = Counter()
    with path.open("rb") as file:
        while True:
            lines = await anyio.to_thread.run_sync(file.readlines, CHUNK_BYTES)
            if not lines:
                break
            # Whole lines only: a UTF-8 character never spans a newline, so each chunk decodes alone.
            await anyio.to_thread.run_sync(count_chunk, lines, counts)
            context.progress.set(READ_SHARE * file.tell() / max(size, 1), f"counted {counts.total()} words")
    context.progress.set(READ_SHARE, f"writing {len(counts)} words to {payload.table}")

    async def write(handle: QueryHandle) -> None:
        await handle.run(_write_table, payload.table, counts)

    await context.services.database.using(write)
    context.progress.set(1.0, f"{payload.table}: {len(counts)} words")
    return ScanResult(table=payload.table, total=counts.total(), distinct=len(counts), bytes=size)


def count_chunk(lines: list[bytes], counts: Counter[str]) -> None:
    """Add the words of whole lines of UTF-8 (undecodable bytes count as U+FFFD, not as letters)."""
    count_words(b"".join(lines).decode("utf-8", errors="replace"), counts)


def _readable_file(context: JobContext, source: str) -> Path:
    path = context.services.files.readable(source)  # forbidden_path outside imports/ and the grants
    if not path.is_file():
        raise ApplicationError("source_not_found", f"{source!r} is not a readable file", source=source)
    return path


def _write_table(cursor: Any, table: str, counts: Counter[str]) -> None:
    """Replace ``table`` with the counts, in one transaction (the name is checked by ScanPayload)."""
    words = list(counts)
    cursor.execute("BEGIN TRANSACTION")
    try:
        cursor.execute(
            f'CREATE OR REPLACE TABLE "{table}" AS '
            "SELECT unnest($words::VARCHAR[]) AS word, unnest($counts::BIGINT[]) AS count",
            {"words": words, "counts": [counts[word] for word in words]},
        )
        cursor.execute(f"COMMENT ON TABLE \"{table}\" IS '{TABLE_COMMENT}'")
        cursor.execute("COMMIT")
    except BaseException:
        cursor.execute("ROLLBACK")
        raise


SCAN = JobType(
    name="wordfreq.scan",
    payload=ScanPayload,
    run=run_scan,
    retry=RetryPolicy(max_attempts=2, retryable=frozenset({"transaction", "conflict"})),
    idempotent=True,  # re-running replaces the table with the same counts
    summary="count the words of a text file into a DuckDB table",
)
