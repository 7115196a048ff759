"""``db.tables`` and ``db.describe``: what the engine database holds (worker-thread functions)."""

from __future__ import annotations

from typing import Any

from sidecar.common.errors import ApplicationError
from sidecar.database.messages import ColumnInfo, DescribeResult, TableInfo

_TABLES = """
SELECT schema_name, table_name, 'table' AS kind, column_count, estimated_size
FROM duckdb_tables() WHERE NOT internal AND NOT temporary AND database_name = current_database()
UNION ALL
SELECT schema_name, view_name, 'view', column_count, NULL
FROM duckdb_views() WHERE NOT internal AND NOT temporary AND database_name = current_database()
ORDER BY 1, 2
"""

_OBJECT = """
SELECT 'table' FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = ? AND table_name = ?
UNION ALL
SELECT 'view' FROM duckdb_views() WHERE database_name = current_database() AND schema_name = ? AND view_name = ?
"""

_COLUMNS = """
SELECT column_name, data_type, is_nullable, column_default
FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = ? AND table_name = ?
ORDER BY column_index
"""


def list_tables(cursor: Any) -> list[TableInfo]:
    """Every user table and view of the engine database."""
    rows = cursor.execute(_TABLES).fetchall()
    return [
        TableInfo(schema=s, name=n, kind=k, column_count=int(c), estimated_rows=None if e is None else int(e))
        for s, n, k, c, e in rows
    ]


def describe(cursor: Any, schema: str, table: str) -> DescribeResult:
    """Columns (and the row count of a table); unknown names -> data.kind catalog."""
    found = cursor.execute(_OBJECT, [schema, table, schema, table]).fetchall()
    if not found:
        raise ApplicationError("catalog", f"no table or view named {schema}.{table}", schema=schema, table=table)
    kind = found[0][0]
    columns = [
        ColumnInfo(name=n, type=t, nullable=bool(nullable), default=d)
        for n, t, nullable, d in cursor.execute(_COLUMNS, [schema, table]).fetchall()
    ]
    row_count = None
    if kind == "table":
        quoted = ".".join('"' + part.replace('"', '""') + '"' for part in (schema, table))
        row_count = int(cursor.execute(f"SELECT count(*) FROM {quoted}").fetchone()[0])
    return DescribeResult(schema=schema, name=table, kind=kind, columns=columns, row_count=row_count)
