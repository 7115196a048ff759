"""A damaged or locked engine.duckdb is reported as what it is, when it is opened and when a
query reads a damaged page (real DuckDB files on disk, no sidecar process).

Damaged files used to be reported as ``database_locked`` because the open path matched
"lock" anywhere in DuckDB's message, and "block" holds it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sidecar.common.errors import ApplicationError
from sidecar.database.database import Database
from sidecar.database.errors import is_duckdb_error, to_application_error
from sidecar.database.query import run_query


@pytest.fixture(scope="module")
def good_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import duckdb

    path = tmp_path_factory.mktemp("db") / "good.duckdb"
    connection = duckdb.connect(str(path))
    connection.execute("CREATE TABLE t AS SELECT range AS i, 'row ' || range AS s FROM range(200000)")
    connection.close()
    return path


def _truncate(path: Path) -> None:
    os.truncate(path, 4096)


def _garble_header(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.write(b"\xff" * 64)


def _garble_first_block(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.seek(4096)
        handle.write(b"\x5a" * 4096)


def _garble_pages(path: Path) -> None:
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.seek(size // 2)
        handle.write(b"\x5a" * 65536)


async def _open_and_count(path: Path) -> object:
    database = Database(path)
    try:

        async def count(handle: object) -> object:
            return await handle.run(run_query, "SELECT count(*), sum(i), max(s) FROM t", None, 10, False)  # type: ignore[attr-defined]

        try:
            return await database.using(count)
        except Exception as exc:  # as the db.* methods do (sidecar/api/db.py)
            if is_duckdb_error(exc):
                raise to_application_error(exc) from exc
            raise
    finally:
        await database.close()


@pytest.mark.anyio
@pytest.mark.parametrize("damage", [_truncate, _garble_header, _garble_first_block, _garble_pages])
async def test_a_damaged_file_is_database_corrupt(
    damage: Callable[[Path], None], good_file: Path, tmp_path: Path
) -> None:
    path = tmp_path / "engine.duckdb"
    shutil.copy(good_file, path)
    damage(path)
    with pytest.raises(ApplicationError) as caught:
        await _open_and_count(path)
    assert caught.value.kind == "database_corrupt", caught.value.message


@pytest.mark.anyio
async def test_a_file_held_by_another_process_is_database_locked(good_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "engine.duckdb"
    shutil.copy(good_file, path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(30)",
            str(path),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        with pytest.raises(ApplicationError) as caught:
            await _open_and_count(path)
        assert caught.value.kind == "database_locked", caught.value.message
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.anyio
async def test_a_healthy_copy_opens(good_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "engine.duckdb"
    shutil.copy(good_file, path)
    rows = await _open_and_count(path)
    assert list(rows.rows[0])[:2] == [200000, "19999900000"]  # type: ignore[attr-defined]
