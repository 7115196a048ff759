"""The ``ingest`` job: load CSV, Parquet or JSON files into a table, in one transaction.

The source is a path or a glob (or the name of a secret holding one, for a
connection string or a signed URL that must not be stored in the payload).
Every file it names must be inside the data dir's imports/ or exports/ folder
or a path the host granted (relative paths are under imports/): each matched
file is resolved, then checked, so neither ``..`` nor a symlink leads out.
Granted files outside DuckDB's sandbox are staged for it (sidecar.files.staging).
URL sources are refused unless the host allowed the network; then the file is
downloaded into the job's staging folder first.
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
from sidecar.files.access import FileAccess, forbidden_path
from sidecar.files.network import download, is_url, network_disabled
from sidecar.files.staging import stage_for_reading, staging_folder
from sidecar.jobs.types import JobContext, JobEnvironment, JobType, RetryPolicy
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


class IngestPayload(Struct, forbid_unknown_fields=True, omit_defaults=True):
    """table: the target table (letters, digits, underscore).
    source: a file path or glob (``data/*.csv``; relative: under the data dir's imports/ folder), or an
    http(s) URL when the host allowed the network.
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
    """table: the table loaded. rows: rows added. files: files read. bytes: their total size (a URL: the bytes downloaded).
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


def expand_source(access: FileAccess, source: str) -> list[tuple[Path, int]]:
    """The files a path or glob names, resolved, checked against the engine's reach, sorted, with sizes."""
    if "\x00" in source:
        raise forbidden_path(source, "holds a NUL character")
    pattern = os.path.expanduser(source)
    if not os.path.isabs(pattern):
        pattern = os.path.join(access.imports_dir, pattern)
    if glob.has_magic(pattern):
        # The folder part is checked too, so a glob over a forbidden folder says so instead of "nothing matched".
        access.readable(_glob_root(pattern))
        matched = sorted(glob.glob(pattern))
    else:
        matched = [pattern]
    files = []
    for path in matched:
        resolved = access.readable(path)  # every match, after resolution: a symlink in a granted folder may point out
        if resolved.is_file():
            files.append((resolved, resolved.stat().st_size))
    if not files:
        raise ApplicationError("source_not_found", "no readable file matches the source")
    return files


def _glob_root(pattern: str) -> str:
    """The longest leading folder of ``pattern`` without wildcards."""
    parts = Path(pattern).parts
    for index, part in enumerate(parts):
        if glob.has_magic(part):
            return str(Path(*parts[:index]))
    return str(Path(pattern).parent)


def _gather(access: FileAccess, network: bool, source: str, folder: Path) -> list[tuple[str, int, str]]:
    """(path DuckDB reads, size, original name) for each file of the source (runs in a worker thread)."""
    if is_url(source):
        if not network:
            raise network_disabled(source)
        downloaded, size = download(source, folder)
        return [(str(downloaded), size, downloaded.name)]  # the name, not the URL: it may hold a signature
    files = expand_source(access, source)
    staged = stage_for_reading(access, [path for path, _ in files], folder)
    return [(str(path), size, str(original)) for path, (original, size) in zip(staged, files, strict=True)]


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


def _load(cursor: Any, table: str, mode: str, fmt: str, files: list[tuple[str, int, str]], position: _Position) -> int:
    select = f"SELECT * FROM {_READERS[fmt]}(?)"
    target = _quote(table)
    rows = 0
    cursor.execute("BEGIN TRANSACTION")
    try:
        for index, (path, size, _) in enumerate(files):
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
    services = context.services
    async with staging_folder(services.files) as folder:
        files = await anyio.to_thread.run_sync(_gather, services.files, services.network, source, folder)
        return await _ingest(context, payload, files)


async def _ingest(context: JobContext, payload: IngestPayload, files: list[tuple[str, int, str]]) -> IngestResult:
    fmt = payload.format or infer_format(files[0][2])
    total = sum(size for _, size, _ in files)
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


def _check_reach(access: FileAccess, network: bool, source: str) -> None:
    """At submit: refuse a source the engine may never read (its files need not exist yet)."""
    if is_url(source):
        if not network:
            raise network_disabled(source)
        return
    pattern = os.path.expanduser(source)
    if not os.path.isabs(pattern):
        pattern = os.path.join(access.imports_dir, pattern)
    access.readable(_glob_root(pattern) if glob.has_magic(pattern) else pattern)


async def prepare_ingest(
    services: JobEnvironment, payload: IngestPayload, run_id: str | None, job_id: str
) -> tuple[dict[str, Any], str | None]:
    """jobs.submit answers forbidden_path or network_disabled itself, instead of a job that fails later
    (a source held in a secret is checked when the job runs: its value is read only then). The stored
    payload is the one given (omit_defaults leaves out what the host left out)."""
    import anyio.to_thread
    import msgspec

    if payload.source is not None:
        await anyio.to_thread.run_sync(_check_reach, services.files, services.network, payload.source)
    return msgspec.to_builtins(payload), run_id


INGEST = JobType(
    name="ingest",
    payload=IngestPayload,
    run=run_ingest,
    retry=RetryPolicy(max_attempts=3, retryable=frozenset({"io", "source_not_found", "network", "conflict"})),
    idempotent=False,  # append is not, and a crash-causing ingest must not loop
    summary="load CSV, Parquet or JSON files (path or glob) into a table, atomically",
    prepare=prepare_ingest,
)
