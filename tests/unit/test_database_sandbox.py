"""DuckDB's sandbox holds on its own: with the statement check bypassed (raw SQL on a cursor of
the engine's Database), files outside the allowed folders stay unreachable and external access
cannot be turned back on. Real DuckDB files on disk, no sidecar process.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sidecar.database.database import Database
from sidecar.database.errors import duckdb_kind
from sidecar.database.query import check_statements, split_statements
from sidecar.files.access import FileAccess

pytestmark = pytest.mark.anyio


async def test_the_sandbox_refuses_outside_files_and_setting_it_back(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    access = FileAccess(data)
    for folder in (access.imports_dir, access.exports_dir):
        folder.mkdir()
    (access.imports_dir / "in.csv").write_text("a\n1\n")
    (tmp_path / "out.csv").write_text("a\n2\n")
    database = Database(data / "engine.duckdb", allowed_directories=access.sandbox_dirs())
    handle = await database.handle()
    cursor = handle.cursor

    def raw(sql: str) -> object:
        return cursor.execute(sql).fetchall()

    try:
        assert raw(f"SELECT * FROM read_csv('{access.imports_dir / 'in.csv'}')") == [(1,)]
        for sql in (
            f"SELECT * FROM read_csv('{tmp_path / 'out.csv'}')",
            f"SELECT * FROM read_csv('{access.imports_dir / '..' / '..' / 'out.csv'}')",
            f"COPY (SELECT 1) TO '{tmp_path / 'written.csv'}'",
            f"ATTACH '{tmp_path / 'other.duckdb'}' AS other",
            "SELECT * FROM read_text('/etc/hostname')",
        ):
            with pytest.raises(Exception) as refused:
                raw(sql)
            assert duckdb_kind(refused.value) == "forbidden_path", (sql, refused.value)
        with pytest.raises(Exception) as reopen:
            raw("SET enable_external_access = true")
        assert "external access" in str(reopen.value).lower()
        with pytest.raises(Exception) as widen:
            raw(f"SET allowed_directories = ['{tmp_path}/']")
        assert "allowed_directories" in str(widen.value)
        with pytest.raises(Exception) as install:
            raw("INSTALL httpfs")
        assert duckdb_kind(install.value) in ("forbidden_path", "io", "network"), install.value
        assert raw("SELECT current_setting('enable_external_access')") == [(False,)]
    finally:
        handle.close()
        await database.close()
    assert not (tmp_path / "written.csv").exists() and not (tmp_path / "other.duckdb").exists()


@pytest.mark.parametrize(
    ("sql", "allow_write", "kind"),
    [
        ("SELECT 1", False, None),
        ("EXPLAIN ANALYZE SELECT 1", False, None),
        ("EXPLAIN (FORMAT json) SELECT 1", False, None),
        ("CREATE TABLE t (a INT)", False, "read_only"),
        ("CREATE TABLE t (a INT)", True, None),
        ("EXPLAIN ANALYZE INSERT INTO t VALUES (1)", False, "read_only"),
        ("EXPLAIN ANALYZE COPY (SELECT 1) TO 'x.csv'", True, "forbidden_statement"),
        ("SELECT 1; SET threads = 1", True, "forbidden_statement"),
        ("UPDATE EXTENSIONS", True, "forbidden_statement"),
        ("PIVOT (SELECT 1 AS k, 2 AS v) ON k USING sum(v)", False, "read_only"),
        ("PIVOT (SELECT 1 AS k, 2 AS v) ON k USING sum(v)", True, None),
        ("COPY FROM DATABASE a TO b", True, "forbidden_statement"),
        ("IMPORT DATABASE 'x'", True, "forbidden_statement"),
    ],
)
def test_statement_check(sql: str, allow_write: bool, kind: str | None) -> None:
    import duckdb

    from sidecar.common.errors import ApplicationError

    cursor = duckdb.connect()
    statements = split_statements(cursor, sql)
    if kind is None:
        check_statements(cursor, statements, allow_write)
        return
    with pytest.raises(ApplicationError) as refused:
        check_statements(cursor, statements, allow_write)
    assert refused.value.kind == kind
