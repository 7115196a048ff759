"""db.query's prepared statements stay correct (prepared.py, ready_cursors.py): real DuckDB files,
the real Database and run_query, no sidecar process.

A remembered plan runs as a statement prepared on a reused cursor; each test makes the
second and later calls of a text go through such a statement (checked with DuckDB's own
``duckdb_prepared_statements()``), then changes what the text reads and asks again.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from sidecar.database import prepared
from sidecar.database.database import Database
from sidecar.database.query import Rows, run_query

pytestmark = pytest.mark.anyio


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(tmp_path / "engine.duckdb", allowed_directories=[f"{tmp_path}/"])
    await database.open()
    try:
        yield database
    finally:
        await database.close()


async def _read(database: Database, sql: str, params: Any = None, layout: str = "rows") -> tuple[Rows, list[str]]:
    """A read-only db.query as the API runs it (sidecar/api/db.py), and the statements prepared on
    its cursor after it."""
    epoch = database.write_epoch
    verdict = database.plans.self_contained.get((epoch, sql)) if params is None else False

    def work(cursor: Any, handle: Any) -> tuple[Rows, list[str]]:
        rows = run_query(
            cursor,
            sql,
            params,
            100,
            False,
            database.plans,
            handle.read_only_begun,
            layout,
            handle.prepared,
            epoch if verdict is None else None,
        )
        names = [str(row[0]) for row in cursor.execute("SELECT name FROM duckdb_prepared_statements()").fetchall()]
        return rows, names

    async def run(handle: Any) -> tuple[Rows, list[str]]:
        return await handle.run(work, handle)  # type: ignore[no-any-return]

    return await database.using(run, read_only=True, reused=verdict is True)  # type: ignore[no-any-return]


async def _write(database: Database, sql: str) -> None:
    async def run(handle: Any) -> Any:
        return await handle.run(run_query, sql, None, 100, True, database.plans)

    await database.using(run)


async def _warm(database: Database, sql: str, layout: str = "rows") -> Rows:
    """Ask ``sql`` until the cursor that answers holds a prepared statement (every kept cursor gets one)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows, names = await _read(database, sql, layout=layout)
        if names:
            return rows
    raise AssertionError(f"{sql!r} never ran as a prepared statement")


async def test_a_repeated_query_runs_prepared_and_answers_as_the_text_does(database: Database) -> None:
    sql = "SELECT i, i * 2 AS doubled, TIMESTAMP '2024-01-02 03:04:05' AS ts FROM range(3) t(i)"
    first, _ = await _read(database, sql)
    warm = await _warm(database, sql)
    assert warm == first
    assert warm.rows == [(0, 0, "2024-01-02T03:04:05"), (1, 2, "2024-01-02T03:04:05"), (2, 4, "2024-01-02T03:04:05")]
    # The column layout keeps plans with rendered columns only (query.select_columns).
    dated = "SELECT i, DATE '2024-01-01' + CAST(i AS INTEGER) AS d FROM range(3) t(i)"
    columns_first, _ = await _read(database, dated, layout="columns")
    assert await _warm(database, dated, layout="columns") == columns_first


async def test_now_and_random_are_evaluated_on_every_call(database: Database) -> None:
    sql = "SELECT now() AS at, random() AS r"
    await _warm(database, sql)
    seen = set()
    for _ in range(4):
        rows, _ = await _read(database, sql)
        seen.add(tuple(rows.rows[0]))
        time.sleep(0.002)
    assert len(seen) == 4, seen


async def test_a_write_retires_what_was_prepared_before_it(database: Database) -> None:
    await _write(database, "CREATE TABLE t AS SELECT 1 AS a")
    sql = "SELECT * FROM t"
    assert (await _warm(database, sql)).rows == [(1,)]
    await _write(database, "ALTER TABLE t ADD COLUMN b VARCHAR DEFAULT 'x'")
    await _write(database, "INSERT INTO t VALUES (2, 'y')")
    for _ in range(4):  # every kept cursor: none runs a statement prepared before the writes
        handle = await database.handle(read_only=True)
        try:
            assert handle.prepared is None or len(handle.prepared) == 0
        finally:
            handle.close()
    rows, _ = await _read(database, sql)
    assert [(c.name, c.type) for c in rows.columns] == [("a", "INTEGER"), ("b", "VARCHAR")]
    assert sorted(rows.rows) == [(1, "x"), (2, "y")]
    await _write(database, "CREATE OR REPLACE TABLE t AS SELECT 'text' AS a")
    rows, _ = await _read(database, sql)
    assert rows.rows == [("text",)] and rows.columns[0].type == "VARCHAR"


async def test_a_file_rewritten_between_calls_is_read_afresh(database: Database, tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    await _write(database, f"CREATE VIEW over_file AS SELECT * FROM read_csv('{data}')")
    texts = [f"SELECT * FROM read_csv('{data}')", f"SELECT * FROM '{data}'", "SELECT * FROM over_file"]
    for sql in texts:
        for _ in range(4):
            rows, names = await _read(database, sql)
            assert rows.rows == [(1, 2)]
            assert names == [], f"{sql!r} was prepared: a rewritten file would be read with the old columns"
    data.write_text("x,y,z\nq,2.5,3\n")
    for sql in texts:
        rows, _ = await _read(database, sql)
        assert [c.name for c in rows.columns] == ["x", "y", "z"] and rows.rows == [("q", 2.5, 3)]


async def test_params_and_functions_bound_while_binding_run_as_text(database: Database) -> None:
    for _ in range(4):
        rows, names = await _read(database, "SELECT ? + 1 AS n", [41])
        assert rows.rows == [(42,)] and names == []
        rows, names = await _read(database, "SELECT current_setting('threads') AS t")
        assert names == []


@pytest.mark.parametrize(
    ("sql", "contained"),
    [
        ("SELECT i FROM range(10) t(i)", True),
        ("SELECT * FROM t WHERE a > 0", True),
        ("SELECT * FROM t, range(3) r(j) ORDER BY a LIMIT 2", True),
        ("SELECT * FROM (VALUES (1), (2)) v(x)", True),
        ("WITH c AS (SELECT 1 AS one) SELECT * FROM c", True),
        ("SELECT * FROM generate_series(1, 3)", True),
        ("SELECT * FROM read_csv('{csv}')", False),
        ("SELECT * FROM '{csv}'", False),
        ("SELECT * FROM v", False),
        ("SELECT * FROM duckdb_tables()", False),
        ("SELECT getvariable('x') AS x", False),
        ("SELECT CURRENT_SETTING ('threads') AS t", False),
    ],
)
def test_only_plans_reading_the_database_and_themselves_are_self_contained(
    tmp_path: Path, sql: str, contained: bool
) -> None:
    data = tmp_path / "f.csv"
    data.write_text("a\n1\n")
    with duckdb.connect(str(tmp_path / "c.duckdb")) as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS a")
        con.execute(f"CREATE VIEW v AS SELECT * FROM read_csv('{data}')")
        assert prepared.self_contained(con, sql.format(csv=data)) is contained


async def test_a_full_cursor_is_replaced_not_reused(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prepared, "MAX_PREPARED", 2)
    for n in range(12):
        rows, names = await _read(database, f"SELECT {n} AS n")
        rows, names = await _read(database, f"SELECT {n} AS n")
        assert rows.rows == [(n,)]
        assert len(names) <= 2


async def test_no_text_can_read_what_other_requests_prepared(database: Database) -> None:
    """The host's texts are prepared on reused cursors; a page's text that lists a cursor's prepared
    statements (directly, or through query() so that no name shows in the text) only ever runs on a
    cursor that never held one."""
    await _write(database, "CREATE TABLE t AS SELECT 1 AS a")
    host = "SELECT 'hunter2' AS pw, a FROM t"
    await _warm(database, host)
    peeks = [
        "SELECT name, statement FROM duckdb_prepared_statements()",
        "SELECT * FROM query('SELECT statement FROM duckdb_' || 'prepared_statements()')",
    ]
    for _ in range(6):
        await _read(database, host)
        for peek in peeks:
            rows, names = await _read(database, peek)
            assert rows.rows == [] and names == [], rows.rows
