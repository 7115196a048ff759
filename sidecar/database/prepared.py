"""The engine's own planned SQL, prepared once per cursor and run by name.

A remembered plan (plans.py) still cost DuckDB a parse, a bind and an
optimisation on every call: 355 us of the 10-row small query's ~1 ms on the
2-vCPU bench machine, against 45 us to ``EXECUTE`` the same statement
prepared (DuckDB 2.0.1; an in-process probe, 2000 calls each). DuckDB's
Python API has no prepared-statement object, but its SQL does (``PREPARE
name AS ...`` / ``EXECUTE name``), and a prepared statement lives on its
connection (cursor) across transactions. So some read-only cursors are kept
and reused (ready_cursors.py), each with the statements prepared on it.

What is prepared: only the engine's planned SQL of a remembered plan (the
user's PREPARE and EXECUTE stay refused, query.check_statements), only
without parameters (EXECUTE takes its arguments as SQL literals; a call with
``params`` runs the text as before), and only for a text whose plan reads
nothing that can change without DuckDB's catalog knowing. DuckDB rebinds a
prepared statement when the catalog changed, but not when a file changed:

* every leaf of the text's plan (``EXPLAIN``, once per text and epoch, on the
  text's second call) must be a scan of the database's own tables or a table
  built from the statement itself (range, VALUES, a CTE): a file read through
  ``read_csv``, a ``'data.parquet'`` replacement scan or a view over one is
  never prepared, so a file rewritten between two calls is bound afresh as
  before (tests/unit/test_prepared.py);
* a text naming a function DuckDB evaluates while binding
  (``current_setting``, ``getvariable``, ``getenv``) is never prepared;
* every write goes through a writable handle of the one Database, which
  moves its *epoch* when it starts and when it ends: statements prepared in
  an older epoch are not run again, and their cursor is closed instead of
  being reused, so no statement outlives a catalog change and DuckDB's own
  rebind is never relied on.

Who sees a reused cursor: only texts found self-contained in the current
epoch run on one (the same check as above). Every other text, one run for
the first time included, gets a cursor that never held a prepared statement
and is closed after it. This matters because DuckDB lists a connection's
prepared statements, SQL included, to anyone who asks
(``duckdb_prepared_statements()``, also reachable through ``query('...')``
with the name spelt in pieces): a page's text must never see the host's. A
text that reads that list is not self-contained, so it never lands on a
cursor holding one.

``now()``, ``random()`` and the data read are evaluated on each EXECUTE, not
when preparing (tested). What a reused cursor carries from one request to
the next besides these statements: nothing a self-contained read-only text
can create (temporary objects and settings need statements the check
refuses), except the seed ``setseed()`` leaves for the connection's
``random()``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Final

#: Statements prepared on one cursor at most; a full cursor is replaced when it is next reused.
MAX_PREPARED: Final = 64
#: Plan leaves that read nothing outside DuckDB's catalog and the statement itself.
_SELF_CONTAINED_LEAVES: Final = frozenset(
    {
        "SEQ_SCAN",
        "INDEX_SCAN",
        "RANGE",
        "GENERATE_SERIES",
        "COLUMN_DATA_SCAN",
        "DUMMY_SCAN",
        "EMPTY_RESULT",
        "CTE_SCAN",
        "DELIM_SCAN",
        "CHUNK_SCAN",
        "RECURSIVE_CTE_SCAN",
    }
)
#: Functions DuckDB folds into the plan while binding (their value would be kept by a prepared plan).
_BOUND_WHILE_BINDING: Final = re.compile(r"\b(current_setting|getvariable|getenv)\s*\(", re.IGNORECASE)


def self_contained(cursor: Any, sql: str) -> bool:
    """True when ``sql``'s plan reads only the database's tables and itself (see the module doc)."""
    if _BOUND_WHILE_BINDING.search(sql):
        return False
    rows = cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}").fetchall()
    leaves: list[str] = []
    for _, text in rows:
        for node in json.loads(text):
            _collect_leaves(node, leaves)
    return bool(leaves) and all(leaf in _SELF_CONTAINED_LEAVES for leaf in leaves)


def _collect_leaves(node: dict[str, Any], leaves: list[str]) -> None:
    children = node.get("children") or []
    if not children:
        leaves.append(str(node.get("name", "")).strip().upper())
    for child in children:
        _collect_leaves(child, leaves)


class PreparedStatements:
    """The statements prepared on one cursor, valid while the database's epoch is ``epoch``.

    current_epoch: the database's epoch now (Database.write_epoch).
    """

    def __init__(self, epoch: int, current_epoch: Callable[[], int]) -> None:
        self.epoch = epoch
        self._current_epoch = current_epoch
        self._names: dict[str, str] = {}

    @property
    def reusable(self) -> bool:
        """True while these statements may still run and there is room for more."""
        return self.epoch == self._current_epoch() and len(self._names) < MAX_PREPARED

    def __len__(self) -> int:
        return len(self._names)

    def execute(self, cursor: Any, sql: str) -> Any | None:
        """``sql`` run as a statement prepared on ``cursor`` (prepared on its first call here), or
        None once the epoch moved or the cursor is full (then the caller runs the text).

        Only for the planned SQL of a text found self-contained in this epoch (Plans.self_contained).
        An error of PREPARE or EXECUTE is the statement's own and propagates as the text's would.
        """
        if self.epoch != self._current_epoch():
            return None
        name = self._names.get(sql)
        if name is None:
            if len(self._names) >= MAX_PREPARED:
                return None
            name = f"sidecar_prepared_{len(self._names)}"
            cursor.execute(f"PREPARE {name} AS {sql}")
            self._names[sql] = name
        return cursor.execute(f"EXECUTE {name}")
