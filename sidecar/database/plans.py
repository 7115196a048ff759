"""What ``db.query`` learns about a SQL text once instead of on every call.

Each DuckDB round trip costs ~50 us (parsing) to ~300 us (binding) on the
2-vCPU machine the benchmarks run on, and a read-only query used to need
four of them before its rows: parse and check the statements, BEGIN, bind
the statement for its column types, run the projection, ROLLBACK. Two
things are kept per SQL text here, in small LRU maps shared by the worker
threads:

* the statement check (``checked``): a pure function of the text and of
  ``allow_write`` (DuckDB's parser decides, nothing in the catalog), so a
  text that passed once passes again; only single statements are kept.
* the lossless projection of a SELECT (:class:`Plan`): its column names,
  types, projected SQL and decoders. Those depend on the catalog, on the
  files a query reads and on the types of its parameters, all of which can
  change between two calls with the same text, so a plan is a guess that
  checks itself: its SQL carries a *guard*, a WHERE clause comparing the
  row type DuckDB binds now (``typeof`` of the whole row: every name and
  type in order) with the one the plan was made for. DuckDB folds that
  comparison while planning: when it holds the filter disappears (no cost
  per row), when it does not every row raises :data:`GUARD_ERROR` and the
  caller binds afresh. A result without rows never reached the guard, so
  the caller binds afresh for it too (an empty result is cheap to redo).
  The guard costs DuckDB ~0.2 ms of binding, so a row with nothing to render
  (numbers, text, lists and structs of them) goes without: its projection is
  ``SELECT *`` over the statement, and the result's own description (every
  name and type, in order) is compared with the plan's after it ran.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from sidecar.database import values
from sidecar.database.messages import Column

#: The guard's error text: unique, so the caller can tell a stale plan from the query's own errors.
GUARD_ERROR: Final = "sidecar: stale plan"
#: The alias of the user's statement inside a projection (typeof of it is the row type).
ROW_ALIAS: Final = "_sidecar_rows"
#: Plans and checked texts kept (least recently used dropped first).
MAX_ENTRIES: Final = 256
#: DuckDB's names for the second of two equal column names ("a" -> "a_1"): see :func:`row_type`.
_DEDUPED: Final = re.compile(r"^(.*)_\d+$")

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class Plan:
    """A SELECT's lossless projection, made for one row type.

    columns: names and DuckDB types as the host gets them. sql: the projection
    (no LIMIT). guarded_sql: the same with its guard, None when the row type
    cannot be guarded (row_type). decoders: per column, see values.py.
    row_type: the row type the guard compares against (kept to tell a real
    change from a guard that can never hold).
    described: for a row of pass-through columns only (nothing to render), the
    projection is ``SELECT *`` and needs no guard: the result's description
    names every column and type as they are now, and must equal this.
    """

    columns: list[Column]
    sql: str
    guarded_sql: str | None
    decoders: list[values.Decoder | None]
    row_type: str | None
    described: list[tuple[str, str]] | None = None


class _Lru(Generic[K, V]):
    """A bounded map shared by worker threads (one lock around each operation)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: K, item: V) -> None:
        with self._lock:
            self._items[key] = item
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def __contains__(self, key: K) -> bool:
        with self._lock:
            return key in self._items


class Plans:
    """The checked statements and the SELECT plans of one database."""

    def __init__(self, size: int = MAX_ENTRIES) -> None:
        self.checked: _Lru[tuple[str, bool], tuple[str, str]] = _Lru(size)
        self._plans: _Lru[str, Plan] = _Lru(size)
        # Texts whose guard failed although nothing had changed: never planned again.
        self._unplannable: _Lru[str, bool] = _Lru(size)
        #: Per (write epoch, text): whether its plan is self-contained, i.e. may run prepared on a
        #: reused cursor (prepared.py). Absent: not checked yet in that epoch.
        self.self_contained: _Lru[tuple[int, str], bool] = _Lru(size)

    def get(self, sql: str) -> Plan | None:
        """The plan last made for ``sql``, if any."""
        return self._plans.get(sql)

    def put(self, sql: str, plan: Plan | None, stale: Plan | None = None) -> None:
        """Keep ``plan`` for ``sql`` (None: the statement cannot be guarded).

        ``stale``: the plan whose guard just failed. If the fresh plan expects
        the same row type, the guard cannot hold for this text (DuckDB renders
        its row type differently from ours), so the text is not planned again.
        """
        if stale is not None and plan is not None and plan.row_type == stale.row_type:
            self._unplannable.put(sql, True)
            plan = None
        if plan is None or plan.guarded_sql is None or sql in self._unplannable:
            return
        self._plans.put(sql, plan)


def row_type(names: list[str], types: list[Any]) -> str | None:
    """The text ``typeof`` gives for a row of these columns, or None when it cannot be trusted.

    DuckDB renders it through the same type printer as a STRUCT type, so the
    struct type is built and printed (its quoting of keywords and odd names is
    DuckDB's own). Equal names (case-insensitive) are renamed inside a row
    ("a", "a_1"), which could make two different name lists print alike, so
    such rows, and rows with a name that looks like such a rename of another,
    are not guarded.
    """
    import duckdb

    folded = [name.lower() for name in names]
    if len(set(folded)) != len(folded):
        return None
    for name in folded:
        renamed = _DEDUPED.match(name)
        if renamed is not None and renamed.group(1) in folded:
            return None
    return str(duckdb.struct_type(dict(zip(names, types, strict=True))))


def guard_clause(expected_row_type: str) -> str:
    """The WHERE clause that holds only while the statement binds to ``expected_row_type``."""
    expected = values.quote_literal(expected_row_type)
    return f"typeof({ROW_ALIAS}) = {expected} OR error({values.quote_literal(GUARD_ERROR)})"


def described(description: Any) -> list[tuple[str, str]]:
    """A DB-API description as (name, type text) pairs, what :attr:`Plan.described` holds."""
    return [(str(column[0]), str(column[1])) for column in description or []]
