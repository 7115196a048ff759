"""The column-major layout of ``db.query`` (``layout: "columns"``): one JSON array per column.

Fetching rows costs a Python object per value (``fetchall`` of a million rows
of four columns is ~0.8 s on the bench machine before any encoding). Here
DuckDB builds each column's JSON array text itself (``to_json(list(...))``)
and the text is spliced into the response unparsed (``msgspec.Raw``), so no
Python object exists per value. The values are those of the row layout: the
aggregate runs over the same lossless projection (values.py, plans.py), and
only where DuckDB's JSON would differ from the row layout's does a column go
through Python:

* a column with a Python decoder (BLOB, TIMETZ, INTERVAL, MAP, and lists or
  structs holding them or floats) is aggregated as a DuckDB list, fetched and
  decoded per value as the row layout does;
* DOUBLE and FLOAT are DuckDB's JSON when every value is finite and no zero
  is negative (DuckDB writes NaN and the infinities as bare words and drops
  the sign of -0.0); the statement checks that with ``bool_and`` and, when
  it fails, the caller runs it again with that column through Python.

Order: an aggregate is not ordered by its input, so every column is listed
``ORDER BY`` a row number taken over the (limited) projection, which is in
the statement's order; all columns therefore follow the rows' order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import msgspec

from sidecar.database import values

#: The row number of each row of the page (the order every column is listed in).
_ROW_NUMBER: Final = "_sidecar_rn"


@dataclass
class Columns:
    """A page in the column layout: one JSON array per column (msgspec.Raw or a decoded list)."""

    data: list[Any]
    row_count: int
    truncated: bool


def columns_sql(plan_sql: str, decoders: list[values.Decoder | None], limit: int, through_python: set[int]) -> str:
    """The statement aggregating the projection ``plan_sql`` into one value per column.

    Its row: the number of rows (up to ``limit + 1``), then per column its JSON
    array text or (for a decoder column, or one in ``through_python``) its DuckDB
    list, then per DOUBLE column taken as JSON the check that its JSON is exact.
    """
    names = ", ".join(f"_c{i}" for i in range(len(decoders)))
    page = (
        f"SELECT *, row_number() OVER () AS {_ROW_NUMBER} "
        f"FROM (\n{plan_sql}\nLIMIT {int(limit) + 1}) AS _sidecar_page({names})"
    )
    kept = f"FILTER (WHERE {_ROW_NUMBER} <= {int(limit)})"
    exprs = ["count(*)"]
    checks = []
    for index, decoder in enumerate(decoders):
        listed = f"list(_c{index} ORDER BY {_ROW_NUMBER}) {kept}"
        if index in through_python or (decoder is not None and decoder is not values.float_decoder):
            exprs.append(listed)
            continue
        exprs.append(f"CAST(to_json({listed}) AS VARCHAR)")
        if decoder is values.float_decoder:
            value = f"_c{index}"
            checks.append(
                f"bool_and({value} IS NULL OR (isfinite({value}) AND NOT ({value} = 0 AND signbit({value}))))"
            )
    return f"SELECT {', '.join(exprs + checks)} FROM ({page})"


def inexact_doubles(decoders: list[values.Decoder | None], through_python: set[int], row: tuple[Any, ...]) -> set[int]:
    """The DOUBLE columns whose DuckDB JSON in ``row`` (from :func:`columns_sql`) is not exact."""
    doubles = [
        index
        for index, decoder in enumerate(decoders)
        if decoder is values.float_decoder and index not in through_python
    ]
    checks = row[1 + len(decoders) :]
    return {index for index, exact in zip(doubles, checks, strict=True) if exact is False}


def decode_columns(
    decoders: list[values.Decoder | None], through_python: set[int], row: tuple[Any, ...], limit: int
) -> Columns:
    """The page from the row of :func:`columns_sql` (whose DOUBLE checks all held)."""
    count = int(row[0])
    data: list[Any] = []
    for index, decoder in enumerate(decoders):
        value = row[1 + index]
        if isinstance(value, str):
            data.append(msgspec.Raw(value.encode()))
        elif value is None:  # no row: list() of nothing is NULL
            data.append([])
        elif decoder is None:
            data.append(value)
        else:
            data.append([decoder(item) for item in value])
    return Columns(data, min(count, limit), count > limit)


def transpose(rows: list[Any], width: int) -> list[Any]:
    """Rows (already encoded losslessly) as one list per column."""
    if not rows:
        return [[] for _ in range(width)]
    return [list(column) for column in zip(*rows, strict=True)]
