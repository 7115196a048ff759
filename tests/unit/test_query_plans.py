"""db.query's remembered plans and pre-begun read-only cursors stay correct (plans.py,
ready_cursors.py): real DuckDB files, the real Database and run_query, no sidecar process.

Every test runs the same SQL text at least twice, so the second call goes through what
the first one left behind, and changes what that text binds to in between.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from sidecar.common.errors import ApplicationError, RpcError
from sidecar.database.database import Database
from sidecar.database.plans import Plans
from sidecar.database.query import Rows, run_query


@pytest.fixture
def connection(tmp_path: Path) -> Iterator[Any]:
    con = duckdb.connect(str(tmp_path / "plans.duckdb"))
    yield con
    con.close()


def _read(con: Any, plans: Plans, sql: str, params: Any = None, limit: int = 1000) -> Rows:
    """A read-only db.query on a cursor of its own, as the API runs it."""
    cursor = con.cursor()
    try:
        return run_query(cursor, sql, params, limit, False, plans)
    finally:
        cursor.close()


def _columns(rows: Rows) -> list[tuple[str, str]]:
    return [(column.name, column.type) for column in rows.columns]


def test_a_repeated_select_is_planned_once_and_answers_the_same(connection: Any) -> None:
    plans = Plans()
    sql = "SELECT i, i * 2 AS doubled, TIMESTAMP '2024-01-02 03:04:05' AS ts FROM range(3) t(i)"
    first = _read(connection, plans, sql)
    assert plans.get(sql) is not None
    second = _read(connection, plans, sql)
    assert first == second
    assert second.rows == [(0, 0, "2024-01-02T03:04:05"), (1, 2, "2024-01-02T03:04:05"), (2, 4, "2024-01-02T03:04:05")]
    plain = "SELECT i, i * 2 AS doubled FROM range(3) t(i)"
    assert _read(connection, plans, plain) == _read(connection, plans, plain)
    assert _read(connection, plans, plain, limit=2).truncated is True


@pytest.mark.parametrize(
    ("change", "want_columns", "want_row"),
    [
        ("ALTER TABLE t RENAME COLUMN a TO z", [("z", "INTEGER"), ("ts", "TIMESTAMP")], (1, "2024-01-02T03:04:05")),
        ("ALTER TABLE t ADD COLUMN extra VARCHAR DEFAULT 'e'", None, None),
        ("ALTER TABLE t ALTER a TYPE DOUBLE", [("a", "DOUBLE"), ("ts", "TIMESTAMP")], (1.0, "2024-01-02T03:04:05")),
        ("ALTER TABLE t ALTER ts TYPE DATE", [("a", "INTEGER"), ("ts", "DATE")], (1, "2024-01-02")),
        (
            "ALTER TABLE t ALTER ts TYPE TIMESTAMP_NS",
            [("a", "INTEGER"), ("ts", "TIMESTAMP_NS")],
            (1, "2024-01-02T03:04:05"),
        ),
        ("ALTER TABLE t ALTER ts TYPE VARCHAR", [("a", "INTEGER"), ("ts", "VARCHAR")], (1, "2024-01-02 03:04:05")),
    ],
)
def test_schema_changes_between_two_calls_are_seen(
    connection: Any, change: str, want_columns: list[tuple[str, str]] | None, want_row: tuple[Any, ...] | None
) -> None:
    plans = Plans()
    connection.execute("CREATE TABLE t (a INTEGER, ts TIMESTAMP)")
    connection.execute("INSERT INTO t VALUES (1, TIMESTAMP '2024-01-02 03:04:05')")
    for sql in ("SELECT * FROM t", "SELECT a FROM t", "SELECT * FROM t WHERE a > 5"):
        _read(connection, plans, sql)
        _read(connection, plans, sql)
    connection.execute(change)
    fresh = Plans()  # what a first call after the change answers
    for sql in ("SELECT * FROM t", "SELECT * FROM t WHERE a > 5"):
        if "RENAME" in change and "WHERE" in sql:
            continue
        got = _read(connection, plans, sql)
        assert (
            _columns(got) == _columns(_read(connection, fresh, sql)) and got.rows == _read(connection, fresh, sql).rows
        )
    whole = _read(connection, plans, "SELECT * FROM t")
    if want_columns is not None:
        assert _columns(whole) == want_columns and whole.rows == [want_row]
    else:
        assert _columns(whole)[-1] == ("extra", "VARCHAR") and whole.rows == [(1, "2024-01-02T03:04:05", "e")]
    if "RENAME" in change:
        with pytest.raises(duckdb.BinderException):
            _read(connection, plans, "SELECT a FROM t")


def test_an_empty_result_reports_the_columns_of_now(connection: Any) -> None:
    plans = Plans()
    connection.execute("CREATE TABLE e (a INTEGER, ts TIMESTAMP)")
    sql = "SELECT * FROM e"
    assert _columns(_read(connection, plans, sql)) == [("a", "INTEGER"), ("ts", "TIMESTAMP")]
    connection.execute("ALTER TABLE e ALTER ts TYPE DATE")
    assert _columns(_read(connection, plans, sql)) == [("a", "INTEGER"), ("ts", "DATE")]
    connection.execute("ALTER TABLE e RENAME COLUMN a TO b")
    assert _columns(_read(connection, plans, sql)) == [("b", "INTEGER"), ("ts", "DATE")]


def test_a_file_the_query_reads_can_change_its_columns(connection: Any, tmp_path: Path) -> None:
    """No catalog change at all: only the CSV file under the same SQL text is rewritten."""
    plans = Plans()
    csv = tmp_path / "input.csv"
    sql = f"SELECT * FROM read_csv('{csv}')"
    csv.write_text("a,b\n1,2024-01-02 03:04:05\n")
    assert _columns(_read(connection, plans, sql)) == [("a", "BIGINT"), ("b", "TIMESTAMP")]
    assert _columns(_read(connection, plans, sql)) == [("a", "BIGINT"), ("b", "TIMESTAMP")]
    csv.write_text("x,b\n1,2024-01-02 03:04:05\n")  # a renamed column, same types
    assert _columns(_read(connection, plans, sql)) == [("x", "BIGINT"), ("b", "TIMESTAMP")]
    csv.write_text("x,b\n1,2024-01-02\n")  # the rendered column's type changes
    got = _read(connection, plans, sql)
    assert _columns(got) == [("x", "BIGINT"), ("b", "DATE")] and got.rows == [(1, "2024-01-02")]
    csv.write_text("x,b,c\n1,2024-01-02,3\n")  # one more column
    assert [name for name, _ in _columns(_read(connection, plans, sql))] == ["x", "b", "c"]
    csv.write_text("x\n1\n")  # one column left
    assert _read(connection, plans, sql).rows == [(1,)]


def test_parameters_of_another_type_give_their_own_columns(connection: Any) -> None:
    plans = Plans()
    sql = "SELECT ? AS v"
    assert _columns(_read(connection, plans, sql, [1])) == [("v", "INTEGER")]
    got = _read(connection, plans, sql, ["text"])
    assert _columns(got) == [("v", "VARCHAR")] and got.rows == [("text",)]
    rendered = "SELECT $1 AS v, DATE '2024-01-01' AS d"
    assert _read(connection, plans, rendered, [1.5]).rows == [(1.5, "2024-01-01")]
    got = _read(connection, plans, rendered, ["2024-01-01"])
    assert _columns(got)[0] == ("v", "VARCHAR") and got.rows == [("2024-01-01", "2024-01-01")]
    named = "SELECT $x AS v"
    assert _read(connection, plans, named, {"x": 7}).rows == [(7,)]
    assert _read(connection, plans, named, {"x": "seven"}).rows == [("seven",)]


def test_duplicate_names_are_never_planned_and_stay_distinct(connection: Any) -> None:
    plans = Plans()
    for sql in ("SELECT 1 AS a, 2 AS a", "SELECT 1 AS a, 2 AS A", "SELECT 1 AS a, 2 AS a_1"):
        first = _read(connection, plans, sql)
        assert first == _read(connection, plans, sql) and len(first.columns) == 2
        assert plans.get(sql) is None
    assert _read(connection, plans, "SELECT 'x' AS dup, 'y' AS dup").rows == [("x", "y")]


def test_writes_stay_refused_and_multi_statement_text_is_checked_every_time(connection: Any) -> None:
    plans = Plans()
    for _ in range(2):
        with pytest.raises(ApplicationError) as refused:
            _read(connection, plans, "CREATE TABLE w AS SELECT 1 AS a")
        assert refused.value.kind == "read_only"
    cursor = connection.cursor()
    run_query(cursor, "CREATE TABLE w AS SELECT 1 AS a", None, 10, True, plans)
    cursor.close()
    with pytest.raises(ApplicationError) as still:
        _read(connection, plans, "CREATE TABLE w AS SELECT 1 AS a")
    assert still.value.kind == "read_only"
    for _ in range(2):
        with pytest.raises(ApplicationError) as sneaky:
            _read(connection, plans, "SELECT 1; DROP TABLE w")
        assert sneaky.value.kind == "read_only"
        assert _read(connection, plans, "SELECT 1 AS x; SELECT a FROM w").rows == [(1,)]
        with pytest.raises(RpcError):
            _read(connection, plans, "SELECT 1; SELECT ?", [1])
    connection.execute("CREATE SEQUENCE seq")
    for _ in range(2):  # a SELECT that would write is stopped by the READ ONLY transaction
        with pytest.raises(duckdb.Error, match="read-only"):
            _read(connection, plans, "SELECT nextval('seq') AS n")


def test_a_query_that_raises_the_guards_text_itself_still_fails(connection: Any) -> None:
    plans = Plans()
    sql = "SELECT error('sidecar: stale plan') AS e FROM range(1)"
    for _ in range(2):
        with pytest.raises(duckdb.Error, match="stale plan"):
            _read(connection, plans, sql)


@pytest.mark.anyio
async def test_ready_cursors_see_what_was_committed_after_they_began(tmp_path: Path) -> None:
    database = Database(tmp_path / "engine.duckdb")
    try:

        async def read(sql: str) -> Rows:
            async def work(handle: Any) -> Rows:
                return await handle.run(run_query, sql, None, 100, False, database.plans, handle.read_only_begun)

            return await database.using(work, read_only=True)  # type: ignore[no-any-return]

        async def write(sql: str) -> None:
            async def work(handle: Any) -> Rows:
                return await handle.run(run_query, sql, None, 100, True, database.plans)

            await database.using(work)

        await database.open()
        await read("SELECT 1 AS one")  # starts the thread that keeps cursors ready
        begun = False
        deadline = time.monotonic() + 5
        while not begun and time.monotonic() < deadline:
            handle = await database.handle(read_only=True)
            begun = handle.read_only_begun
            handle.close()
        assert begun, "no pre-begun cursor was ever handed out"
        time.sleep(0.2)  # the next ready cursors are begun before the table exists
        await write("CREATE TABLE late AS SELECT 41 AS n")
        await write("INSERT INTO late VALUES (42)")
        for _ in range(3):
            assert (await read("SELECT n FROM late ORDER BY n")).rows == [(41,), (42,)]
        with pytest.raises(ApplicationError):
            await read("INSERT INTO late VALUES (43)")
    finally:
        await database.close()
    assert not (tmp_path / "engine.duckdb.wal").exists(), "ready cursors kept the close from checkpointing"
    with duckdb.connect(str(tmp_path / "engine.duckdb"), read_only=True) as check:
        assert check.execute("SELECT count(*) FROM late").fetchone() == (2,)


def test_double_columns_keep_nan_infinities_nulls_and_overflowing_sums(connection: Any) -> None:
    """decode_rows skips a DOUBLE column whose sum is finite; everything else goes value by value."""
    plans = Plans()
    cases = {
        "SELECT x FROM (VALUES (1.5::DOUBLE), (2.25)) v(x)": [(1.5,), (2.25,)],
        "SELECT x FROM (VALUES (1.5::DOUBLE), ('nan'::DOUBLE)) v(x)": [(1.5,), ("NaN",)],
        "SELECT x FROM (VALUES ('-inf'::DOUBLE), (NULL)) v(x)": [("-Infinity",), (None,)],
        "SELECT x FROM (VALUES (1.7e308::DOUBLE), (1.7e308), ('inf'::DOUBLE)) v(x)": [
            (1.7e308,),
            (1.7e308,),
            ("Infinity",),
        ],
        "SELECT x FROM (VALUES (1.7e308::DOUBLE), (1.7e308)) v(x)": [(1.7e308,), (1.7e308,)],
    }
    for sql, want in cases.items():
        for _ in range(2):
            assert [tuple(row) for row in _read(connection, plans, sql).rows] == want, sql
