"""``db.export`` and the ``export`` job: a SELECT written to a Parquet, CSV or JSON file.

The query runs in a READ ONLY transaction (an export never changes the
database) and DuckDB writes a temporary file inside its sandbox (next to the
target when that is in exports/, else in a staging folder), moved into place
only when COPY succeeded: a cancelled or failed export never leaves a
half-written file where the host expects a good one, and DuckDB never writes
outside the engine's folders. Where the target may be is decided before
(``FileAccess.writable``); this module only writes.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sidecar.common.errors import ApplicationError
from sidecar.common.moves import move_into_place
from sidecar.database.query import check_statements, rollback_quietly, split_statements, statement_text

_FORMAT_OPTIONS: Final = {"parquet": "FORMAT parquet", "csv": "FORMAT csv, HEADER true", "json": "FORMAT json"}
_EXTENSIONS: Final = {"parquet": ".parquet", "csv": ".csv", "json": ".jsonl"}


@dataclass(frozen=True)
class Written:
    """path: the file written. bytes: its size. row_count: rows COPY wrote."""

    path: Path
    bytes: int
    row_count: int


def default_name(fmt: str) -> str:
    """A new file name for an export given no path."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return f"export-{stamp}-{os.urandom(3).hex()}{_EXTENSIONS[fmt]}"


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def write_export(cursor: Any, sql: str, params: Any, fmt: str, target: Path, scratch: Path) -> Written:
    """COPY the single SELECT in ``sql`` to ``target`` (runs in a worker thread).

    ``scratch``: a folder inside DuckDB's sandbox for the temporary file (``target``'s own
    folder when that is inside it)."""
    statements = split_statements(cursor, sql)
    if len(statements) != 1:
        raise ApplicationError("invalid_input", f"an export takes exactly one SELECT statement, got {len(statements)}")
    check_statements(cursor, statements, allow_write=False)
    if target.is_dir():
        raise ApplicationError("io", f"{target} is a folder: give a file path")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ApplicationError(
            "permission" if isinstance(exc, PermissionError) else "io",
            f"cannot create {target.parent}: {exc.strerror or exc}",
        ) from exc
    scratch.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = scratch / f".{target.name}.partial-{os.urandom(4).hex()}"
    copy = f"COPY (\n{statement_text(statements[0])}\n) TO {_sql_literal(str(partial))} ({_FORMAT_OPTIONS[fmt]})"
    cursor.execute("BEGIN TRANSACTION READ ONLY")
    try:
        result = cursor.execute(copy, params) if params is not None else cursor.execute(copy)
        row_count = int(result.fetchone()[0])
        move_into_place(partial, target)
    finally:
        rollback_quietly(cursor)
        _remove(partial)
    return Written(path=target.absolute(), bytes=target.stat().st_size, row_count=row_count)


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
