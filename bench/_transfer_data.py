"""The table bench/transfer.py moves (also used by bench/memory.py and compare_revisions.py).

``bench_rows`` (``id BIGINT, x DOUBLE, name VARCHAR, ts TIMESTAMP``) is created
once per run by the bench process with a fixed random seed, then every subject
gets its own copy of the file: DuckDB holds a lock on the file it opens.
"""

from __future__ import annotations

import shutil
from pathlib import Path

TABLE = "bench_rows"
COLUMNS = ["id", "x", "name", "ts"]
FULL_ROWS = 1_000_000
FULL_PAGE = 100_000
QUICK_ROWS = 20_000
QUICK_PAGE = 5_000
#: Every figure is quoted in decimal megabytes.
MB = 1e6


def create_database(path: Path, rows: int) -> None:
    """The ``bench_rows`` table in a fresh DuckDB file, written by this process."""
    import duckdb

    connection = duckdb.connect(str(path))
    try:
        connection.execute("SELECT setseed(0.42)")
        connection.execute(
            f"CREATE TABLE {TABLE} AS SELECT i AS id, random() AS x, 'name-' || i AS name, "
            f"TIMESTAMP '2024-01-01' + i * INTERVAL 1 SECOND AS ts FROM range({int(rows)}) t(i)"
        )
    finally:
        connection.close()


def sidecar_data_dir(work: Path, name: str, database: Path) -> Path:
    """A data dir for one sidecar with ``database`` copied in as engine.duckdb."""
    from sidecar.database.files import DB_FILE_NAME

    data_dir = work / f"data-{name}"
    data_dir.mkdir(mode=0o700, parents=True)
    shutil.copyfile(database, data_dir / DB_FILE_NAME)
    return data_dir


def fastapi_database(work: Path, name: str, database: Path) -> Path:
    """A private copy of ``database`` for the FastAPI subject (it holds DuckDB's file lock)."""
    folder = work / f"db-{name}"
    folder.mkdir(parents=True)
    copy = folder / "bench.duckdb"
    shutil.copyfile(database, copy)
    return copy
