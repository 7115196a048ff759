"""db.query's column layout (sidecar/database/columns.py) is exactly the transpose of the row layout:
real DuckDB files, the real run_query, no sidecar process.

Both layouts are encoded as the wire encodes them (msgspec, DuckDB's JSON spliced in as Raw),
decoded, and encoded again before they are compared, so -0.0 against 0.0 or 1 against 1.0
would show as a difference.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import msgspec
import pytest

from sidecar.common.errors import ApplicationError
from sidecar.database.plans import Plans
from sidecar.database.query import Rows, run_query
from tests.fixtures.engine.typed_values import EXPECTED, TYPED


@pytest.fixture
def connection(tmp_path: Path) -> Iterator[Any]:
    con = duckdb.connect(str(tmp_path / "columns.duckdb"))
    yield con
    con.close()


def _query(
    con: Any, plans: Plans | None, sql: str, layout: str, limit: int = 1000, params: Any = None, write: bool = False
) -> Rows:
    cursor = con.cursor()
    try:
        return run_query(cursor, sql, params, limit, write, plans if not write else None, False, layout)
    finally:
        cursor.close()


def _wire(value: Any) -> Any:
    """What a host decodes from ``value`` once encoded as the sidecar encodes it."""
    return msgspec.json.decode(msgspec.json.encode(value))


def _assert_transposed(by_rows: Rows, by_columns: Rows) -> None:
    assert by_columns.rows == [] and by_columns.data is not None
    assert by_columns.columns == by_rows.columns
    assert (by_columns.count, by_columns.truncated) == (len(by_rows.rows), by_rows.truncated)
    rows = _wire(by_rows.rows)
    transposed = [[row[index] for row in rows] for index in range(len(by_rows.columns))]
    assert msgspec.json.encode(_wire(by_columns.data)) == msgspec.json.encode(transposed)


def test_every_typed_value_is_the_row_layouts_value(connection: Any) -> None:
    plans = Plans()
    by_rows = _query(connection, plans, TYPED, "rows")
    for _ in range(2):  # the second call goes through the plan the first one left
        by_columns = _query(connection, plans, TYPED, "columns")
        _assert_transposed(by_rows, by_columns)
    names = [column.name for column in by_columns.columns]
    got = dict(zip(names, _wire(by_columns.data), strict=True))
    for name, want in EXPECTED.items():
        assert got[name] == [want], name


#: Many rows, out of storage order, every delicate type, the doubles DuckDB's JSON cannot write
#: (NaN, infinities, -0.0) in some rows only, NULLs in every column.
MANY = r"""
SELECT
  i, i::UBIGINT * 1000000000000 AS ub, (i * 12345678901)::HUGEINT AS huge, (i / 7)::DECIMAL(18,4) AS dec,
  CASE WHEN i % 5000 = 1 THEN 'nan'::DOUBLE WHEN i % 5000 = 2 THEN '-infinity'::DOUBLE
       WHEN i % 5000 = 3 THEN '-0.0'::DOUBLE ELSE i / 3.0 END AS dbl,
  (i / 10.0)::FLOAT AS f, 1.0 / (i + 1) AS finite, 'é"\' || i AS s, CASE WHEN i % 3 = 0 THEN NULL ELSE i END AS n,
  TIMESTAMP_NS '2024-01-01 00:00:00.000000001' + i * INTERVAL 1 SECOND AS tns,
  CASE WHEN i % 1000 = 4 THEN 'infinity'::TIMESTAMP ELSE TIMESTAMP '0044-03-15 (BC)' + i * INTERVAL 1 DAY END AS ts,
  DATE '9999-12-30' + (i % 4)::INTEGER AS d, to_days(i::INTEGER) + INTERVAL 1 MONTH AS iv, ('x' || i)::BLOB AS b,
  [i, NULL] AS l, [i / 2.0, 'nan'::DOUBLE] AS ld, {'a': i, 'w': DATE '2024-01-01'} AS st, MAP {i: 'v'} AS m,
  ['a', 'b'][i % 2 + 1]::ENUM('a', 'b') AS e, TIMETZ '01:02:03+05:30' AS ttz, i % 2 = 0 AS flag
FROM range(130000) t(i)
ORDER BY hash(i)
"""


def test_a_large_page_out_of_storage_order_is_the_transposed_rows(connection: Any) -> None:
    plans = Plans()
    for limit in (125_000, 0, 1):
        _assert_transposed(
            _query(connection, plans, MANY, "rows", limit), _query(connection, plans, MANY, "columns", limit)
        )
    page = _query(connection, plans, MANY, "columns", 125_000)
    assert page.truncated is True and page.count == 125_000


def test_doubles_duckdb_cannot_write_come_through_python(connection: Any) -> None:
    sql = "SELECT x FROM (VALUES (1.5), ('nan'::DOUBLE), ('infinity'::DOUBLE), ('-0.0'::DOUBLE), (NULL), (1e308)) v(x)"
    page = _query(connection, Plans(), sql, "columns")
    assert msgspec.json.encode(page.data) == b'[[1.5,"NaN","Infinity",-0.0,null,1e308]]'
    _assert_transposed(_query(connection, Plans(), sql, "rows"), page)


def test_a_remembered_plan_that_went_stale_answers_as_a_first_call(connection: Any) -> None:
    connection.execute("CREATE TABLE t AS SELECT 1 AS a, TIMESTAMP '2024-01-02 03:04:05' AS ts")
    connection.execute("CREATE TABLE p AS SELECT 1 AS a, 'x' AS b")
    plans = Plans()
    for sql in ("SELECT * FROM t", "SELECT * FROM p"):
        _query(connection, plans, sql, "rows")  # plans made by the row layout, guarded or not
        _query(connection, plans, sql, "columns")
    connection.execute("ALTER TABLE t ALTER ts TYPE VARCHAR")
    connection.execute("ALTER TABLE p RENAME COLUMN b TO c")
    connection.execute("ALTER TABLE p ADD COLUMN d DOUBLE DEFAULT 2.5")
    for sql in ("SELECT * FROM t", "SELECT * FROM p"):
        _assert_transposed(_query(connection, Plans(), sql, "rows"), _query(connection, plans, sql, "columns"))
    assert _query(connection, plans, "SELECT * FROM p", "columns").columns[-1].name == "d"
    connection.execute("DELETE FROM t")
    empty = _query(connection, plans, "SELECT * FROM t", "columns")
    assert (empty.data, empty.count, empty.truncated) == ([[], []], 0, False)


def test_params_other_statements_and_the_read_only_guard(connection: Any) -> None:
    plans = Plans()
    sql = "SELECT $n::INTEGER + i AS v, $label AS s FROM range(3) t(i)"
    page = _query(connection, plans, sql, "columns", params={"n": 10, "label": "x"})
    assert _wire(page.data) == [[10, 11, 12], ["x", "x", "x"]]
    write = "CREATE TABLE w (a INTEGER); INSERT INTO w VALUES (1), (2)"
    with pytest.raises(ApplicationError) as refused:
        _query(connection, plans, write, "columns")
    assert refused.value.kind == "read_only"
    inserted = _query(connection, None, write, "columns", write=True)
    assert (_wire(inserted.data), inserted.count) == ([[2]], 1)
    explained = _query(connection, plans, "EXPLAIN SELECT 1", "columns")
    assert len(explained.data or []) == len(explained.columns) == 2 and explained.count == 1
    selected = _query(connection, None, "INSERT INTO w VALUES (3); SELECT a FROM w ORDER BY a", "columns", write=True)
    assert _wire(selected.data) == [[1, 2, 3]]


def test_dates_and_timestamps_at_the_edges_of_four_digit_years_render_iso(connection: Any) -> None:
    """The common-case test of the temporal rendering (values._iso_temporal) is a range comparison:
    the values just inside and outside it, and the infinities, keep their ISO text in both layouts."""
    cases = {
        "TIMESTAMP '0001-01-01 00:00:00'": "0001-01-01T00:00:00",
        "TIMESTAMP '9999-12-31 23:59:59.999999'": "9999-12-31T23:59:59.999999",
        "TIMESTAMP '10000-01-01 00:00:00'": "+10000-01-01T00:00:00",
        "TIMESTAMP '0001-01-01' - INTERVAL 1 SECOND": "0000-12-31T23:59:59",
        "TIMESTAMP '0044-03-15 (BC)'": "-0043-03-15T00:00:00",
        "'-infinity'::TIMESTAMP": "-infinity",
        "'infinity'::TIMESTAMP_NS": "infinity",
        "TIMESTAMP_MS '0010-01-02 03:04:05.5'": "0010-01-02T03:04:05.5",
        "TIMESTAMP_S '2024-01-02 03:04:05'": "2024-01-02T03:04:05",
        "DATE '0001-01-01'": "0001-01-01",
        "DATE '9999-12-31'": "9999-12-31",
        "DATE '10000-01-01'": "+10000-01-01",
        "DATE '0001-01-01' - 1": "0000-12-31",
        "'-infinity'::DATE": "-infinity",
    }
    sql = "SELECT " + ", ".join(f"{literal} AS c{index}" for index, literal in enumerate(cases))
    by_rows = _query(connection, Plans(), sql, "rows")
    assert list(by_rows.rows[0]) == list(cases.values())
    _assert_transposed(by_rows, _query(connection, Plans(), sql, "columns"))


def test_a_writable_select_runs_once_even_when_a_double_needs_python(connection: Any) -> None:
    """With allow_write the final SELECT may have effects (nextval): the column layout must not
    run it a second time for a NaN, an infinity or -0.0 the way a READ ONLY page may."""
    connection.execute("CREATE SEQUENCE ticks START 1")
    sql = "SELECT nextval('ticks') AS tick, x FROM (VALUES ('NaN'::DOUBLE), (-0.0::DOUBLE), (1.5)) AS v(x)"
    by_columns = _query(connection, None, sql, "columns", write=True)
    assert _wire(by_columns.data) == [[1, 2, 3], ["NaN", -0.0, 1.5]]
    assert connection.execute("SELECT nextval('ticks')").fetchone() == (4,)


def test_a_writable_select_runs_once_in_the_row_layout_too(connection: Any) -> None:
    connection.execute("CREATE SEQUENCE ticks START 1")
    sql = "SELECT nextval('ticks') AS tick, INTERVAL 1 MONTH AS every FROM range(3)"
    by_rows = _query(connection, None, sql, "rows", write=True)
    assert _wire(by_rows.rows) == [[1, "P1M"], [2, "P1M"], [3, "P1M"]]  # still the lossless encoding
    limited = _query(connection, None, sql, "rows", limit=2, write=True)
    assert (_wire(limited.rows), limited.truncated) == ([[4, "P1M"], [5, "P1M"]], True)
    assert connection.execute("SELECT nextval('ticks')").fetchone() == (7,)
