"""``db.query`` inside a worker thread: statements, the read-only guard, lossless rows.

Every statement is checked by its parsed type before anything runs (DuckDB's
parser decides, not a pattern over the text). Some types are refused always
(``forbidden_statement``): they would change the engine's configuration
(SET, RESET, USE, PRAGMA), its set of databases (ATTACH, DETACH), its code
(INSTALL, LOAD), or write files (COPY, EXPORT: exports go through db.export,
which confines their target). DuckDB's own sandbox refuses file access outside
the engine's folders whatever the statement (database.py): this check is the
other of the two layers, the one that also keeps SQL from changing DuckDB's
settings, and it gives the clearer error.

Read-only (the default) is enforced twice: only SELECT-like and EXPLAIN
statements are accepted, and they run in a ``READ ONLY`` transaction that is
always rolled back, so even a side effect DuckDB allows in a SELECT cannot
reach the file.

The rows of a SELECT-like last statement are fetched through a projection
built from its column types (see values.py); other statements (EXPLAIN, an
INSERT's count) go through Python's conversion plus :func:`values.plain`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from sidecar.common.errors import ApplicationError, ErrorCode, RpcError
from sidecar.database import columns, values
from sidecar.database import prepared as prepared_statements
from sidecar.database.errors import duckdb_kind
from sidecar.database.messages import Column
from sidecar.database.plans import GUARD_ERROR, ROW_ALIAS, Plan, Plans, described, guard_clause, row_type
from sidecar.database.prepared import PreparedStatements

READ_ONLY_TYPES: Final = frozenset({"SELECT", "EXPLAIN"})
#: Types that change data or the catalog, accepted with allow_write (MULTI: PIVOT's CREATE TYPE + SELECT).
WRITE_TYPES: Final = frozenset(
    {
        "INSERT",
        "UPDATE",
        "DELETE",
        "MERGE_INTO",
        "CREATE",
        "CREATE_FUNC",
        "DROP",
        "ALTER",
        "TRANSACTION",
        "VACUUM",
        "MULTI",
    }
)
#: Why each refused type is refused (every type in neither set above is refused too).
_FORBIDDEN_WHY: Final = {
    "SET": "SET, RESET and USE change the engine's configuration",
    "VARIABLE_SET": "SET VARIABLE changes the session's configuration",
    "PRAGMA": "PRAGMA statements change or bypass the engine's configuration (use the duckdb_* table functions)",
    "ATTACH": "ATTACH opens other database files",
    "DETACH": "DETACH closes the engine's databases",
    "LOAD": "INSTALL and LOAD add code to the engine",
    "EXTENSION": "extension statements add code to the engine",
    "COPY": "COPY reads or writes files directly (use db.export, or an ingest job)",
    "COPY_DATABASE": "COPY FROM DATABASE writes other databases",
    "EXPORT": "EXPORT DATABASE writes files directly (use db.export)",
    "CALL": "CALL runs table functions with side effects (use SELECT * FROM f() for the ones without)",
    "PREPARE": "PREPARE keeps a statement past this check (use params instead)",
    "EXECUTE": "EXECUTE runs a statement this check did not see (use params instead)",
}
#: EXPLAIN [ANALYZE] [(options)] in front of the statement it explains (ANALYZE runs it).
_EXPLAIN_PREFIX: Final = re.compile(r"^\s*EXPLAIN\s+(?:ANALY[SZ]E\s+)?(?:\([^)]*\)\s*)?", re.IGNORECASE)


@dataclass
class Rows:
    """What a statement produced: its columns, up to ``limit`` rows, and whether more existed.

    In the column layout ``rows`` is empty and ``data`` holds one JSON array per column
    (columns.py); ``row_count`` is then the rows those arrays hold.
    """

    columns: list[Column]
    rows: list[Any]  # tuples or lists, both encoded as JSON arrays
    truncated: bool
    data: list[Any] | None = None
    row_count: int | None = None

    @property
    def count(self) -> int:
        """Rows returned, in either layout."""
        return len(self.rows) if self.row_count is None else self.row_count


def split_statements(cursor: Any, sql: str) -> list[Any]:
    """Parse ``sql`` into DuckDB statements (a syntax error raises DuckDB's ParserException)."""
    statements = list(cursor.extract_statements(sql))
    if not statements:
        raise RpcError(ErrorCode.INVALID_PARAMS, "sql holds no statement", data={"path": "$.sql", "detail": "empty"})
    return statements


def statement_type(statement: Any) -> str:
    """The statement's type name, e.g. SELECT, INSERT, CREATE (UNKNOWN for one the Python
    binding has no name for, e.g. UPDATE EXTENSIONS, which it fails to convert)."""
    try:
        kind = statement.type
    except ValueError:
        return "UNKNOWN"
    return str(getattr(kind, "name", kind))


def check_statements(cursor: Any, statements: list[Any], allow_write: bool) -> None:
    """Refuse what no request may run (forbidden_statement) and, unless ``allow_write``,
    what would change the database (read_only). Nothing has run when this raises."""
    for statement in statements:
        kind = statement_type(statement)
        if kind == "EXPLAIN":
            # EXPLAIN ANALYZE runs the statement it explains: check that one as if it were alone.
            inner = _EXPLAIN_PREFIX.sub("", statement_text(statement), count=1)
            check_statements(cursor, split_statements(cursor, inner), allow_write)
            continue
        if kind in READ_ONLY_TYPES or (allow_write and kind in WRITE_TYPES):
            continue
        if kind in WRITE_TYPES:
            raise ApplicationError(
                "read_only",
                f"{kind} statements change the database: pass allow_write: true to run them",
                statement_type=kind,
            )
        why = _FORBIDDEN_WHY.get(kind, f"{kind} statements are not accepted")
        raise ApplicationError("forbidden_statement", f"refused: {why}", statement_type=kind)


def run_query(
    cursor: Any,
    sql: str,
    params: Any,
    limit: int,
    allow_write: bool,
    plans: Plans | None = None,
    begun: bool = False,
    layout: str = "rows",
    prepared: PreparedStatements | None = None,
    check_in_epoch: int | None = None,
) -> Rows:
    """Run every statement of ``sql``; return the rows of the last one.

    plans: what earlier calls learnt about ``sql`` (plans.py); None runs without.
    begun: the cursor already holds a READ ONLY transaction (Database.handle(read_only=True));
    closing the cursor rolls it back.
    layout: "rows" (arrays of values) or "columns" (one array per column, columns.py).
    prepared: the statements prepared on ``cursor`` (prepared.py), given only for a text that
    ``plans.self_contained`` found self-contained: its remembered plan runs as one of them; None
    runs text.
    check_in_epoch: the write epoch the cursor was handed out in, for a text without params not
    checked in it yet: once the text has a remembered plan (from its second call), one EXPLAIN
    decides whether its later calls may go prepared, kept in ``plans.self_contained``.
    """
    statements = _checked_statements(cursor, sql, params, allow_write, plans)
    if allow_write:
        return _run_all(cursor, statements, params, limit, None, layout, read_only=False)
    # The plan from a call before this one, if this text is to be checked (read before this call
    # replaces it): a text checked on its first call would pay an EXPLAIN even if never repeated.
    to_check: str | None = None
    if check_in_epoch is not None and plans is not None and len(statements) == 1 and statements[0][0] == "SELECT":
        text = _text_of(statements[0][1])
        to_check = text if plans.get(text) is not None else None
    if not begun:
        cursor.execute("BEGIN TRANSACTION READ ONLY")
    try:
        rows = _run_all(cursor, statements, params, limit, plans, layout, read_only=True, prepared=prepared)
        if to_check is not None and plans is not None and check_in_epoch is not None:
            plans.self_contained.put((check_in_epoch, sql), _self_contained_plan(cursor, plans.get(to_check)))
        return rows
    finally:
        if not begun:
            rollback_quietly(cursor)


def _text_of(statement: Any) -> str:
    return statement if isinstance(statement, str) else statement_text(statement)


def _self_contained_plan(cursor: Any, plan: Plan | None) -> bool:
    """Whether ``plan`` (the text's remembered plan) reads only the database and itself."""
    if plan is None or plan.guarded_sql is None:
        return False
    try:
        return prepared_statements.self_contained(cursor, plan.guarded_sql)
    except Exception:  # an EXPLAIN that fails decides nothing: the text keeps running as text
        return False


def _checked_statements(
    cursor: Any, sql: str, params: Any, allow_write: bool, plans: Plans | None
) -> list[tuple[str, Any]]:
    """(type, statement) for each statement of ``sql``, checked; a single one that passed before comes
    from ``plans`` as its text (the check is a function of the text alone)."""
    known = plans.checked.get((sql, allow_write)) if plans is not None else None
    if known is not None:
        return [known]
    statements = split_statements(cursor, sql)
    if params is not None and len(statements) > 1:
        raise RpcError(
            ErrorCode.INVALID_PARAMS,
            "params can only be used with a single statement",
            data={"path": "$.params", "detail": f"sql holds {len(statements)} statements"},
        )
    check_statements(cursor, statements, allow_write)
    typed = [(statement_type(statement), statement) for statement in statements]
    if plans is not None and len(typed) == 1:
        plans.checked.put((sql, allow_write), (typed[0][0], statement_text(typed[0][1])))
    return typed


def rollback_quietly(cursor: Any) -> None:
    """ROLLBACK if a transaction is open (after an interrupt there may be none)."""
    try:
        cursor.execute("ROLLBACK")
    except Exception:  # no transaction left to roll back, or the connection is gone
        pass


def _run_all(
    cursor: Any,
    statements: list[tuple[str, Any]],
    params: Any,
    limit: int,
    plans: Plans | None,
    layout: str,
    *,
    read_only: bool,
    prepared: PreparedStatements | None = None,
) -> Rows:
    for _, statement in statements[:-1]:
        cursor.execute(statement)
    kind, last = statements[-1]
    if kind == "SELECT":
        text = _text_of(last)
        if layout == "columns" and read_only:
            # DuckDB's JSON per column may need a second run (a NaN, an infinity or -0.0 in a
            # DOUBLE column): harmless in a READ ONLY transaction, not where the SELECT may write
            # (nextval() would advance twice), so a writable one is fetched once as rows below.
            return select_columns(cursor, plans, text, params, limit, prepared)
        if not read_only:
            rows = fetch_writable_select(cursor, text, params, limit)
        elif plans is not None:
            rows = select_planned(cursor, plans, text, params, limit, prepared)
        else:
            rows = fetch_select(cursor, text, params, limit)
    else:
        cursor.execute(last, params) if params is not None else cursor.execute(last)
        rows = _fetch_plain(cursor, limit)
    if layout == "columns":
        data = columns.transpose(rows.rows, len(rows.columns))
        return Rows(rows.columns, [], rows.truncated, data, len(rows.rows))
    return rows


def statement_text(statement: Any) -> str:
    """The statement's SQL without its trailing semicolon."""
    return str(statement.query).strip().rstrip(";").strip()


def select_relation(cursor: Any, sql: str, params: Any) -> Any:
    """Bind a SELECT-like statement without running it (DuckDB relations are lazy)."""
    return cursor.sql(sql, params=params) if params is not None else cursor.sql(sql)


def lossless_projection(
    relation: Any, sql: str, limit: int | None
) -> tuple[list[Column], str, list[values.Decoder | None]]:
    """The SQL that renders every column of ``sql`` losslessly, and each column's decoder.

    ``relation`` is ``sql`` bound (not run), for its column names and types. The
    statement is wrapped as a subquery rather than registered as a view over the
    relation: creating that temporary view cost about 3 ms per query, ten times
    the query itself.
    """
    plan = make_plan(relation, sql)
    return plan.columns, _limited(plan.sql, limit), plan.decoders


def make_plan(relation: Any, sql: str) -> Plan:
    """The projection of ``sql`` (bound as ``relation``), guarded where its row type can be (plans.py)."""
    types = list(relation.types)
    names = [str(name) for name in relation.columns]
    columns = [Column(name=name, type=str(duck_type)) for name, duck_type in zip(names, types, strict=True)]
    decoders = [values.decoder(duck_type) for duck_type in types]
    expected = row_type(names, types)
    # The newlines keep a trailing "-- comment" in sql from swallowing the parenthesis.
    wrapped = f"FROM (\n{sql}\n) AS {ROW_ALIAS}"
    if expected is not None and not any(values.needs_rewrite(duck_type) for duck_type in types):
        star = f"SELECT * {wrapped}"
        return Plan(columns, star, star, decoders, expected, [(c.name, c.type) for c in columns])
    # Positional references (#1, #2 ...): duplicate column names (SELECT 1 AS a, 2 AS a) stay distinct,
    # and the subquery keeps its own names, which typeof() of the row (the guard) compares.
    exprs = ", ".join(values.projection(duck_type, f"#{i + 1}") for i, duck_type in enumerate(types))
    unguarded = f"SELECT {exprs} {wrapped}"
    guarded = None if expected is None else f"{unguarded} WHERE {guard_clause(expected)}"
    return Plan(columns, unguarded, guarded, decoders, expected)


def _limited(sql: str, limit: int | None) -> str:
    return sql if limit is None else f"{sql} LIMIT {int(limit)}"


def fetch_select(cursor: Any, sql: str, params: Any, limit: int) -> Rows:
    """Rows of one SELECT-like statement, at most ``limit``, encoded losslessly."""
    return _fetch_fresh(cursor, sql, params, limit)[0]


#: The name a writable SELECT's result goes by in the projection over it (fetch_writable_select).
_ONCE: Final = "_sidecar_once"


def fetch_writable_select(cursor: Any, sql: str, params: Any, limit: int) -> Rows:
    """Rows of a SELECT that may write (allow_write: ``nextval()``), run exactly once.

    DuckDB runs such a statement when it is bound (a relation over it would write again on every
    read) and keeps its result; the lossless projection then reads that kept result instead of
    running the text a second time, which advanced a sequence twice per call. The projection over
    a relation costs ~1-3 ms more than over the text, paid only with allow_write.
    """
    relation = select_relation(cursor, sql, params)
    plan = make_plan(relation, f"SELECT * FROM {_ONCE}")
    return _rows(plan, relation.query(_ONCE, _limited(plan.sql, limit + 1)), limit)


def _fetch_fresh(cursor: Any, sql: str, params: Any, limit: int) -> tuple[Rows, Plan | None]:
    """Bind, then fetch; also the plan for the next call (None if this result does not confirm it)."""
    relation = select_relation(cursor, sql, params)
    plan = make_plan(relation, sql)
    result = _execute(cursor, _limited(plan.sql, limit + 1), params)
    if plan.described is not None and described(result.description) != plan.described:
        return _rows(plan, result, limit), None  # DuckDB describes it otherwise than the bind: never planned
    return _rows(plan, result, limit), plan


def _execute(cursor: Any, sql: str, params: Any) -> Any:
    return cursor.execute(sql, params) if params is not None else cursor.execute(sql)


def _execute_planned(cursor: Any, prepared: PreparedStatements | None, sql: str, params: Any) -> Any:
    """A remembered plan's ``sql`` run as a prepared statement where it may be (prepared.py), else as text."""
    if prepared is not None and params is None:
        result = prepared.execute(cursor, sql)
        if result is not None:
            return result
    return _execute(cursor, sql, params)


def _rows(plan: Plan, result: Any, limit: int) -> Rows:
    fetched = result.fetchall()
    truncated = len(fetched) > limit
    return Rows(plan.columns, decode_rows(fetched[:limit], plan.decoders), truncated)


def select_planned(
    cursor: Any, plans: Plans, sql: str, params: Any, limit: int, prepared: PreparedStatements | None = None
) -> Rows:
    """Like :func:`fetch_select`, inside a READ ONLY transaction, through the plan of an earlier call
    when it still holds (plans.py): one DuckDB statement instead of a bind and a statement."""
    plan = plans.get(sql)
    stale: Plan | None = None
    if plan is not None and plan.guarded_sql is not None:
        try:
            result = _execute_planned(cursor, prepared, _limited(plan.guarded_sql, limit + 1), params)
        except Exception as exc:
            _restart_if_stale(cursor, exc)
            stale = plan
        else:
            if plan.described is not None and described(result.description) != plan.described:
                stale = plan  # other columns now (a file the query reads changed, say)
            else:
                rows = _rows(plan, result, limit)
                if rows.rows or plan.described is not None:
                    return rows
                # No row reached the guard: the columns may be stale; bind afresh below.
    rows, fresh = _fetch_fresh(cursor, sql, params, limit)
    plans.put(sql, fresh, stale)
    return rows


def _restart_if_stale(cursor: Any, exc: Exception) -> None:
    """Re-raise ``exc`` unless it says a remembered plan is stale; then begin a fresh READ ONLY transaction.

    Stale: the guard's error, or a binder error of the old projection over columns of
    another type (raised before anything ran). Any other error is the query's own.
    """
    if GUARD_ERROR not in str(exc) and duckdb_kind(exc) not in ("binder", "catalog"):
        raise exc
    # The error aborted the transaction: start a fresh READ ONLY one for the bind that follows.
    cursor.execute("ROLLBACK")
    cursor.execute("BEGIN TRANSACTION READ ONLY")


def select_columns(
    cursor: Any, plans: Plans | None, sql: str, params: Any, limit: int, prepared: PreparedStatements | None = None
) -> Rows:
    """A SELECT's page in the column layout (columns.py), through the same plans as the row layout.

    A remembered plan runs with its guard (a plan of pass-through columns gets one here: the
    aggregate's description cannot show the rows' columns); a stale one, or an empty page,
    binds afresh exactly as :func:`select_planned` does.
    """
    plan = plans.get(sql) if plans is not None else None
    stale: Plan | None = None
    if plan is not None and plan.guarded_sql is not None and plan.row_type is not None:
        guarded = plan.guarded_sql if plan.described is None else f"{plan.sql} WHERE {guard_clause(plan.row_type)}"
        try:
            page = _columns_page(cursor, guarded, plan.decoders, params, limit, prepared)
        except Exception as exc:
            _restart_if_stale(cursor, exc)
            stale = plan
        else:
            if page.row_count:
                return Rows(plan.columns, [], page.truncated, page.data, page.row_count)
    fresh = make_plan(select_relation(cursor, sql, params), sql)
    page = _columns_page(cursor, fresh.sql, fresh.decoders, params, limit)
    if plans is not None and fresh.described is None:
        # Plans of pass-through columns are confirmed by a row page's description, so only the row
        # layout keeps them; a rendered plan is guarded and kept here just as there.
        plans.put(sql, fresh, stale)
    return Rows(fresh.columns, [], page.truncated, page.data, page.row_count)


def _columns_page(
    cursor: Any,
    plan_sql: str,
    decoders: list[values.Decoder | None],
    params: Any,
    limit: int,
    prepared: PreparedStatements | None = None,
) -> columns.Columns:
    """The page's row from DuckDB; ``prepared`` only for a remembered plan (a fresh one runs as text)."""
    through_python: set[int] = set()
    while True:
        sql = columns.columns_sql(plan_sql, decoders, limit, through_python)
        row = _execute_planned(cursor, prepared, sql, params).fetchone()
        inexact = columns.inexact_doubles(decoders, through_python, row)
        if not inexact:
            return columns.decode_columns(decoders, through_python, row, limit)
        # NaN, an infinity or -0.0: DuckDB's JSON would lose it, so those columns come through Python
        # (the same READ ONLY snapshot; every column of the answer is from this second run).
        through_python |= inexact


def decode_rows(fetched: list[tuple[Any, ...]], decoders: list[values.Decoder | None]) -> list[Any]:
    """Apply each column's decoder; columns without one pass through untouched.

    Rows stay the tuples DuckDB returned (msgspec encodes them as arrays)
    unless a decoder changed something: most decoded columns (every finite
    DOUBLE) come out equal to what went in, and rebuilding 100 000 rows to
    change nothing cost ten times the decoding itself.
    """
    active = [(index, dec) for index, dec in enumerate(decoders) if dec is not None]
    if not active or not fetched:
        return fetched
    changed: dict[int, list[Any]] = {}
    for index, dec in active:
        column = [row[index] for row in fetched]
        if dec is values.float_decoder and _all_finite(column):
            continue  # the DOUBLE decoder only ever changes NaN and the infinities
        decoded = list(map(dec, column))
        if decoded != column:  # nan != "NaN", a blob != its base64 text: any real change shows
            changed[index] = decoded
    if not changed:
        return fetched
    columns: list[Any] = list(zip(*fetched, strict=True))
    for index, decoded in changed.items():
        columns[index] = decoded
    return list(zip(*columns, strict=True))


def _all_finite(column: list[Any]) -> bool:
    """True when every value is a finite float, tested by one C-level sum instead of a call per value
    (a NULL makes sum() raise, NaN or an infinity makes it non-finite, and so does an overflow of
    finite values, which then takes the per-value path: never a wrong "finite")."""
    try:
        total = sum(column)
    except TypeError:
        return False
    return bool(total - total == 0.0)


def _fetch_plain(cursor: Any, limit: int) -> Rows:
    if cursor.description is None:
        return Rows([], [], False)
    columns = [Column(name=str(d[0]), type=str(d[1])) for d in cursor.description]
    fetched = cursor.fetchmany(limit + 1)
    truncated = len(fetched) > limit
    return Rows(columns, [[values.plain(v) for v in record] for record in fetched[:limit]], truncated)
