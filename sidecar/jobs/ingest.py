"""The ``ingest`` job: load CSV, Parquet or JSON files into a table, in one transaction.

The source is a path or a glob (or the name of a secret holding one, for a
connection string or a signed URL that must not be stored in the payload).
All files go in one DuckDB transaction: an interrupted or failed ingest
leaves the table exactly as it was (``replace`` of an existing table
included). Progress is by bytes: finished files plus DuckDB's own progress
through the current one.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from msgspec import Meta, Struct

from sidecar.common.errors import ApplicationError
from sidecar.database.handle import QueryHandle
from sidecar.database.query import rollback_quietly
from sidecar.jobs.types import JobContext, JobType, RetryPolicy
from sidecar.secrets.store import SecretName

Identifier = Annotated[str, Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
IngestFormat = Literal["csv", "parquet", "json"]

_READERS: Final = {"csv": "read_csv", "parquet": "read_parquet", "json": "read_json_auto"}
_BY_SUFFIX: Final = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}
_COMPRESSION: Final = (".gz", ".zst", ".zstd")


class IngestPayload(Struct, forbid_unknown_fields=True):
    """table: the target table (letters, digits, underscore).
    source: a file path or glob (``data/*.csv``), or a URL DuckDB can read.
    source_secret: instead of source, the name of a secret whose value is the source.
    format: csv, parquet or json; inferred from the first file's extension when absent.
    mode: replace (default: the table becomes the files' rows) or append (rows are added, by column name).
    """

    table: Identifier
    source: Annotated[str, Meta(min_length=1)] | None = None
    source_secret: SecretName | None = None
    format: IngestFormat | None = None
    mode: Literal["replace", "append"] = "replace"

    def __post_init__(self) -> None:
        if (self.source is None) == (self.source_secret is None):
            raise ValueError("give exactly one of source and source_secret")


class IngestResult(Struct):
    """table: the table loaded. rows: rows added. files: files read. bytes: their total size (0 for URLs).
    format, mode: as used."""

    table: str
    rows: int
    files: int
    bytes: int
    format: str
    mode: str


@dataclass
class _Position:
    current: int = 0
    done_bytes: int = 0


def _is_url(source: str) -> bool:
    return "://" in source


def expand_source(source: str) -> list[tuple[str, int]]:
    """The files a source names, sorted, with their sizes (a URL stays as it is, size 0)."""
    if _is_url(source):
        return [(source, 0)]
    pattern = os.path.expanduser(source)
    paths = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
    files = [(path, os.path.getsize(path)) for path in paths if os.path.isfile(path)]
    if not files:
        raise ApplicationError("source_not_found", "no readable file matches the source")
    return files


def infer_format(path: str) -> str:
    """csv, parquet or json from the file name (compression suffixes skipped)."""
    name = path.lower()
    for suffix in _COMPRESSION:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    fmt = _BY_SUFFIX.get(Path(name).suffix)
    if fmt is None:
        raise ApplicationError("invalid_input", f"cannot tell the format of {Path(path).name!r}: give payload.format")
    return fmt


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _load(cursor: Any, table: str, mode: str, fmt: str, files: list[tuple[str, int]], position: _Position) -> int:
    select = f"SELECT * FROM {_READERS[fmt]}(?)"
    target = _quote(table)
    rows = 0
    cursor.execute("BEGIN TRANSACTION")
    try:
        for index, (path, size) in enumerate(files):
            position.current = index
            if index == 0 and mode == "replace":
                sql = f"CREATE OR REPLACE TABLE {target} AS {select}"
            else:
                if index == 0:
                    cursor.execute(f"CREATE TABLE IF NOT EXISTS {target} AS {select} LIMIT 0", [path])
                sql = f"INSERT INTO {target} BY NAME {select}"
            rows += int(cursor.execute(sql, [path]).fetchone()[0])
            position.done_bytes += size
        cursor.execute("COMMIT")
    except BaseException:
        rollback_quietly(cursor)
        raise
    return rows


async def run_ingest(context: JobContext, payload: IngestPayload) -> IngestResult:
    """Load the files; progress by bytes (files when sizes are unknown)."""
    import anyio.to_thread

    if payload.source_secret is not None:
        source = await context.services.secrets.get(payload.source_secret)
    else:
        assert payload.source is not None
        source = payload.source
    files = await anyio.to_thread.run_sync(expand_source, source)
    fmt = payload.format or infer_format(files[0][0])
    total = sum(size for _, size in files)
    position = _Position()
    context.log(20, "ingest started", table=payload.table, files=len(files), bytes=total, format=fmt, mode=payload.mode)

    async def work(handle: QueryHandle) -> int:
        def fraction() -> float:
            inner = handle.progress() or 0.0
            context.progress.set(message=f"file {position.current + 1} of {len(files)}")
            if total:
                return (position.done_bytes + inner * files[position.current][1]) / total
            return (position.current + inner) / len(files)

        with context.progress.source(fraction):
            return await handle.run(_load, payload.table, payload.mode, fmt, files, position)

    rows = await context.services.database.using(work, progress=True)
    context.log(20, "ingest committed", table=payload.table, rows=rows)
    return IngestResult(table=payload.table, rows=rows, files=len(files), bytes=total, format=fmt, mode=payload.mode)


INGEST = JobType(
    name="ingest",
    payload=IngestPayload,
    run=run_ingest,
    retry=RetryPolicy(max_attempts=3, retryable=frozenset({"io", "source_not_found", "network", "conflict"})),
    idempotent=False,  # append is not, and a crash-causing ingest must not loop
    summary="load CSV, Parquet or JSON files (path or glob) into a table, atomically",
)
