"""One pipeline step inside a worker thread: its statements in one transaction.

Returns the rows it affected (DuckDB's Count of INSERT/UPDATE/DELETE/CTAS/COPY,
or for a step ending in a SELECT the rows that SELECT returned) and, for
such a step, a lossless preview of its first rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from sidecar.database.query import (
    Rows,
    check_statements,
    fetch_select,
    rollback_quietly,
    select_relation,
    split_statements,
    statement_text,
    statement_type,
)

#: The table a CREATE TABLE ... AS or INSERT INTO statement writes (best effort, for the report's preview).
_TARGET: Final = re.compile(
    r"^\s*(?:CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP(?:ORARY)?\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    r"|INSERT\s+(?:OR\s+\w+\s+)?INTO\s+)"
    r"(?P<name>(?:\"[^\"]+\"|[A-Za-z_][A-Za-z0-9_]*)(?:\.(?:\"[^\"]+\"|[A-Za-z_][A-Za-z0-9_]*))*)",
    re.IGNORECASE,
)


@dataclass
class StepOutcome:
    """rows_affected: see the module doc. preview: the SELECT's first rows, if the step ends in one.
    target: the table the last statement writes, when it can be told."""

    rows_affected: int
    preview: Rows | None
    target: str | None


def execute_step(cursor: Any, sql: str, preview_rows: int) -> StepOutcome:
    """Run a step's statements; one transaction unless the step manages its own."""
    statements = split_statements(cursor, sql)
    check_statements(cursor, statements, allow_write=True)  # the same refusals as db.query's, before anything runs
    managed = any(statement_type(statement) == "TRANSACTION" for statement in statements)
    if not managed:
        cursor.execute("BEGIN TRANSACTION")
    try:
        affected = 0
        preview = None
        for index, statement in enumerate(statements):
            if index == len(statements) - 1 and statement_type(statement) == "SELECT":
                preview, count = _select_rows(cursor, statement_text(statement), preview_rows)
                affected += count
            else:
                cursor.execute(statement)
                affected += _count(cursor)
        if not managed:
            cursor.execute("COMMIT")
    except BaseException:
        if not managed:
            rollback_quietly(cursor)
        raise
    match = _TARGET.match(statement_text(statements[-1]))
    return StepOutcome(affected, preview, match.group("name") if match else None)


def _count(cursor: Any) -> int:
    description = cursor.description
    if description and len(description) == 1 and description[0][0] == "Count":
        row = cursor.fetchone()
        return int(row[0]) if row and row[0] is not None else 0
    return 0


def _select_rows(cursor: Any, sql: str, preview_rows: int) -> tuple[Rows, int]:
    # Two bounded reads instead of one unbounded one: DuckDB relations do not stream, and a
    # step's SELECT can be large. The count lets DuckDB prune every column it does not need.
    preview = fetch_select(cursor, sql, None, preview_rows)
    relation = select_relation(cursor, sql, None)
    count = int(relation.query("_sidecar_rows", "SELECT count(*) FROM _sidecar_rows").fetchall()[0][0])
    return preview, count


def preview_table(cursor: Any, table: str, preview_rows: int) -> Rows:
    """The first rows of ``table`` (a name as written in SQL, possibly schema-qualified)."""
    return fetch_select(cursor, f"SELECT * FROM {table}", None, preview_rows)


def preview_table_read_only(cursor: Any, table: str, preview_rows: int) -> Rows:
    """:func:`preview_table` inside a READ ONLY transaction (the name comes from the definition)."""
    cursor.execute("BEGIN TRANSACTION READ ONLY")
    try:
        return preview_table(cursor, table, preview_rows)
    finally:
        rollback_quietly(cursor)
