"""db.query, db.export, db.tables, db.describe against a real sidecar and a real engine.duckdb."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import duckdb
import pytest

from sidecar_host import RpcCallError
from tests.fixtures.engine.support import LONG_QUERY
from tests.fixtures.engine.typed_values import EXPECTED, TYPED
from tests.support import running_sidecar

pytestmark = pytest.mark.anyio


async def test_values_are_encoded_without_loss(data_dir: Path) -> None:
    async with running_sidecar(data_dir) as sidecar:
        result = await sidecar.call("db.query", {"sql": TYPED})
    names = [column["name"] for column in result["columns"]]
    row = result["rows"][0]
    got = dict(zip(names, row, strict=True))
    for name, want in EXPECTED.items():
        assert got[name] == want, (name, got[name])
    # TIMESTAMPTZ is rendered in the session's offset: the instant must be exact.
    assert got["tz"].startswith("20") and got["tz"][10] == "T" and got["tz"][-6] in "+-"
    # Duplicate column names stay distinct columns.
    assert names[-2:] == ["dup", "dup"] and row[-2:] == ["x", "y"]
    types = {column["name"]: column["type"] for column in result["columns"]}
    assert types["dec"] == "DECIMAL(10,3)" and types["huge"] == "HUGEINT" and types["st"].startswith("STRUCT(")
    assert result["row_count"] == 1 and result["truncated"] is False and result["elapsed_ms"] >= 0


async def test_the_column_layout_is_the_transposed_row_layout(data_dir: Path) -> None:
    """layout "columns" through the real sidecar: the same values per column as the rows give, a
    truncated page and an empty one, and a layout that does not exist refused at $.layout."""
    many = "SELECT i, i / 4.0 AS x, 'n' || i AS s, TIMESTAMP_NS '2024-01-01' + i * INTERVAL 1 SECOND AS ts FROM range(50) t(i)"
    async with running_sidecar(data_dir) as sidecar:
        for sql, limit in ((TYPED, 10), (f"{many} ORDER BY i DESC", 20), (f"{many} WHERE i < 0", 20)):
            rows = await sidecar.call("db.query", {"sql": sql, "limit": limit})
            columns = await sidecar.call("db.query", {"sql": sql, "limit": limit, "layout": "columns"})
            assert columns["rows"] == [] and columns["columns"] == rows["columns"]
            width = len(rows["columns"])
            assert columns["data"] == [[row[index] for row in rows["rows"]] for index in range(width)]
            assert (columns["row_count"], columns["truncated"]) == (rows["row_count"], rows["truncated"])
            assert "data" not in rows
        assert columns["data"] == [[], [], [], []]
        with pytest.raises(RpcCallError) as wrong:
            await sidecar.call("db.query", {"sql": "SELECT 1", "layout": "cols"})
        assert wrong.value.code == -32602 and wrong.value.data["path"] == "$.layout"


async def test_read_only_unless_allowed_and_stable_error_kinds(data_dir: Path) -> None:
    async with running_sidecar(data_dir) as sidecar:
        with pytest.raises(RpcCallError) as refused:
            await sidecar.call("db.query", {"sql": "CREATE TABLE t AS SELECT 1 AS a"})
        assert refused.value.code == -32000 and refused.value.kind == "read_only"
        # A SELECT-like statement that would write inside a read-only transaction is stopped by DuckDB too.
        with pytest.raises(RpcCallError) as sneaky:
            await sidecar.call("db.query", {"sql": "SELECT 1; CREATE TABLE t AS SELECT 1 AS a"})
        assert sneaky.value.kind == "read_only"

        made = await sidecar.call(
            "db.query",
            {
                "sql": "CREATE TABLE t (a INTEGER PRIMARY KEY, b VARCHAR); INSERT INTO t SELECT i, 'v' || i FROM range(25) r(i)",
                "allow_write": True,
            },
        )
        assert made["columns"] == [{"name": "Count", "type": "BIGINT"}] and made["rows"] == [[25]]

        page = await sidecar.call("db.query", {"sql": "SELECT * FROM t ORDER BY a", "limit": 10})
        assert page["row_count"] == 10 and page["truncated"] is True and page["rows"][0] == [0, "v0"]
        exact = await sidecar.call("db.query", {"sql": "SELECT * FROM t", "limit": 25})
        assert exact["truncated"] is False and exact["row_count"] == 25
        bound = await sidecar.call("db.query", {"sql": "SELECT b FROM t WHERE a = ? OR b = $2", "params": [3, "v4"]})
        assert sorted(row[0] for row in bound["rows"]) == ["v3", "v4"]
        named = await sidecar.call("db.query", {"sql": "SELECT b FROM t WHERE a = $x", "params": {"x": 7}})
        assert named["rows"] == [["v7"]]

        with pytest.raises(RpcCallError) as too_many:
            await sidecar.call("db.query", {"sql": "SELECT 1", "limit": 100_001})
        assert too_many.value.code == -32602 and too_many.value.data["path"] == "$.limit"

        cases = {
            "SELEC 1": "sql_syntax",
            "SELECT * FROM no_such_table": "catalog",
            "SELECT no_such_column FROM t": "binder",
            "SELECT 'abc'::INTEGER": "conversion",
            f"SELECT * FROM read_csv('{data_dir / 'imports' / 'absent.csv'}')": "io",
            "SELECT * FROM read_csv('/nonexistent/file.csv')": "forbidden_path",  # outside DuckDB's sandbox
        }
        for sql, kind in cases.items():
            with pytest.raises(RpcCallError) as failed:
                await sidecar.call("db.query", {"sql": sql})
            assert failed.value.code == -32000 and failed.value.kind == kind, (sql, failed.value.data)
            assert failed.value.data["duckdb_error"].endswith(("Exception", "Error"))
        with pytest.raises(RpcCallError) as duplicate:
            await sidecar.call("db.query", {"sql": "INSERT INTO t VALUES (1, 'again')", "allow_write": True})
        assert duplicate.value.kind == "constraint"

        tables = await sidecar.call("db.tables")
        assert tables["tables"] == [
            {"schema": "main", "name": "t", "kind": "table", "column_count": 2, "estimated_rows": 25}
        ]
        described = await sidecar.call("db.describe", {"table": "t"})
        assert described["row_count"] == 25 and described["kind"] == "table"
        assert [(c["name"], c["type"], c["nullable"]) for c in described["columns"]] == [
            ("a", "INTEGER", False),
            ("b", "VARCHAR", True),
        ]
        with pytest.raises(RpcCallError) as missing:
            await sidecar.call("db.describe", {"table": "nope"})
        assert missing.value.kind == "catalog"
    # The file on disk holds the committed table (checked with DuckDB directly, after a clean shutdown).
    with duckdb.connect(str(data_dir / "engine.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM t").fetchone() == (25,)
    assert not (data_dir / "engine.duckdb.wal").exists(), "shutdown did not checkpoint"


async def test_timeout_interrupts_the_query_and_the_sidecar_stays_healthy(data_dir: Path) -> None:
    async with running_sidecar(data_dir) as sidecar:
        await sidecar.call("db.query", {"sql": "SELECT 1"})  # open the database first
        started = time.monotonic()
        with pytest.raises(RpcCallError) as timed_out:
            await sidecar.call("db.query", {"sql": LONG_QUERY, "timeout_ms": 300})
        took = time.monotonic() - started
        assert timed_out.value.code == -32004 and timed_out.value.kind == "timeout"
        assert timed_out.value.data["timeout_ms"] == 300
        assert took < 1.5, f"timeout answered after {took:.2f} s"
        assert (await sidecar.call("db.query", {"sql": "SELECT 2 AS two"}))["rows"] == [[2]]
        status = await sidecar.call("system.status")
        assert status["inflight"] == [] and status["engine_started"] is True


async def test_rpc_cancel_interrupts_a_running_query(data_dir: Path) -> None:
    async with running_sidecar(data_dir) as sidecar:
        await sidecar.call("db.query", {"sql": "SELECT 1"})
        outcome: dict[str, Any] = {}

        async def long_query() -> None:
            try:
                await sidecar.call("db.query", {"sql": LONG_QUERY})
            except RpcCallError as exc:
                outcome["error"] = exc
                outcome["at"] = time.monotonic()

        async with anyio.create_task_group() as tg:
            query_id = sidecar.next_request_id
            tg.start_soon(long_query)
            await anyio.sleep(0.5)
            cancel_at = time.monotonic()
            assert (await sidecar.call("rpc.cancel", {"id": query_id}))["cancelled"] is True
        assert outcome["error"].code == -32001
        assert outcome["at"] - cancel_at < 1.0
        pong = await sidecar.call("system.ping")
        assert pong["pong"] is True
        assert (await sidecar.call("db.query", {"sql": "SELECT 3"}))["rows"] == [[3]]


async def test_export_writes_parquet_csv_and_json(data_dir: Path, tmp_path: Path) -> None:
    chosen = tmp_path / "out" / "chosen.csv"
    chosen.parent.mkdir()
    async with running_sidecar(data_dir) as sidecar:
        await sidecar.grant(chosen.parent, "write")  # as a host does after a "save to folder" dialog
        await sidecar.call(
            "db.query",
            {"sql": "CREATE TABLE s AS SELECT i AS id, i * 1.5 AS v FROM range(1000) r(i)", "allow_write": True},
        )
        parquet = await sidecar.call("db.export", {"sql": "SELECT * FROM s WHERE id < ?", "params": [600]})
        assert parquet["row_count"] == 600 and parquet["path"].endswith(".parquet")
        assert Path(parquet["path"]).parent == data_dir / "exports"
        assert parquet["bytes"] == Path(parquet["path"]).stat().st_size > 0
        csv = await sidecar.call("db.export", {"sql": "SELECT * FROM s", "format": "csv", "path": str(chosen)})
        assert csv["path"] == str(chosen) and csv["row_count"] == 1000
        js = await sidecar.call(
            "db.export", {"sql": "SELECT id FROM s LIMIT 3", "format": "json", "path": "three.jsonl"}
        )
        assert js["path"] == str(data_dir / "exports" / "three.jsonl")
        with pytest.raises(RpcCallError) as refused:
            await sidecar.call("db.export", {"sql": "DELETE FROM s", "path": "nope.parquet"})
        assert refused.value.kind == "read_only"
        with pytest.raises(RpcCallError) as broken:
            await sidecar.call("db.export", {"sql": "SELECT * FROM missing_table", "path": "broken.parquet"})
        assert broken.value.kind == "catalog"
    assert (
        not (data_dir / "exports" / "nope.parquet").exists() and not (data_dir / "exports" / "broken.parquet").exists()
    )
    assert [p.name for p in (data_dir / "exports").iterdir() if p.name.startswith(".")] == [], "partial files left"
    with duckdb.connect() as con:
        assert con.execute(f"SELECT count(*), max(id) FROM read_parquet('{parquet['path']}')").fetchone() == (600, 599)
        assert con.execute(f"SELECT count(*) FROM read_csv('{chosen}')").fetchone() == (1000,)
    assert Path(js["path"]).read_text().splitlines() == ['{"id":0}', '{"id":1}', '{"id":2}']


async def test_repeated_texts_stay_exact_across_writes_and_never_show_each_other(data_dir: Path) -> None:
    """A text asked again and again runs as a statement prepared on a reused cursor
    (sidecar/database/prepared.py): through the real sidecar its answers stay those of a first
    call across writes that change its table, and a text that lists a cursor's prepared
    statements (as a hostile page could send) never sees another request's SQL."""
    host = "SELECT 'hunter2' AS pw, a FROM t ORDER BY a"
    peeks = [
        "SELECT name, statement FROM duckdb_prepared_statements()",
        "SELECT * FROM query('SELECT statement FROM duckdb_' || 'prepared_statements()')",
    ]
    async with running_sidecar(data_dir) as sidecar:
        await sidecar.call("db.query", {"sql": "CREATE TABLE t AS SELECT 1 AS a", "allow_write": True})
        for _ in range(12):
            assert (await sidecar.call("db.query", {"sql": host}))["rows"] == [["hunter2", 1]]
            for peek in peeks:
                assert (await sidecar.call("db.query", {"sql": peek}))["rows"] == []
        await sidecar.call("db.query", {"sql": "INSERT INTO t VALUES (2)", "allow_write": True})
        assert (await sidecar.call("db.query", {"sql": host}))["rows"] == [["hunter2", 1], ["hunter2", 2]]
        await sidecar.call(
            "db.query", {"sql": "CREATE OR REPLACE TABLE t AS SELECT 'x' AS a, 3 AS b", "allow_write": True}
        )
        for _ in range(6):
            answer = await sidecar.call("db.query", {"sql": host})
            assert answer["rows"] == [["hunter2", "x"]]
            assert [c["type"] for c in answer["columns"]] == ["VARCHAR", "VARCHAR"]
        for peek in peeks:
            assert (await sidecar.call("db.query", {"sql": peek}))["rows"] == []
