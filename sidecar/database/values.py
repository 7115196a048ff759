"""Lossless JSON for DuckDB values.

Python's conversion of DuckDB values loses information (INTERVAL months
become 30 days, TIMESTAMP_NS loses nanoseconds, ``infinity`` dates become
9999-12-31, TIMESTAMPTZ needs pytz). So the query itself is rewritten: a
projection, built from each column's type, has DuckDB render the delicate
leaves as text (also inside lists, structs and maps), and a decoder compiled
once per column turns that text into the JSON form hosts get:

=====================================  ======================================
DuckDB type                            JSON
=====================================  ======================================
BOOLEAN, integers up to (U)BIGINT      true/false, number (exact in the text)
FLOAT, DOUBLE                          number; "NaN", "Infinity", "-Infinity"
DECIMAL, HUGEINT, UHUGEINT, BIGNUM     string with every digit ("12.340")
VARCHAR, ENUM, JSON, UUID, BIT         string
BLOB                                   base64 string
DATE                                   "2024-01-02"; BC years astronomical ("-0043-03-15")
TIME, TIME_NS                          "03:04:05.123456789"
TIMETZ                                 "03:04:05+05:30"
TIMESTAMP (_S, _MS, _NS)               "2024-01-02T03:04:05.123456789"
TIMESTAMPTZ                            "2024-01-02T03:04:05.123+00:00" (the session's offset)
INTERVAL                               ISO 8601 duration "P1Y2M3DT4H5M6.789S"
                                       (per-component signs: "P-1DT-1S")
LIST, ARRAY                            array
STRUCT                                 object
MAP                                    array of {"key": k, "value": v} (keys of any type, order kept)
UNION                                  {"tag": member name, "value": DuckDB's text of the value}
infinite dates and timestamps          "infinity", "-infinity"
anything else                          DuckDB's text form
=====================================  ======================================
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
import re
import uuid
from collections.abc import Callable
from typing import Any, Final

Decoder = Callable[[Any], Any]

_PASS: Final = frozenset(
    {
        "boolean",
        "tinyint",
        "smallint",
        "integer",
        "bigint",
        "utinyint",
        "usmallint",
        "uinteger",
        "ubigint",
        "varchar",
        "enum",
        "double",
        "blob",
    }
)
_AS_TEXT: Final = frozenset({"decimal", "hugeint", "uhugeint", "bignum", "varint", "uuid", "bit"})
_TEMPORAL: Final = frozenset(
    {
        "date",
        "time",
        "time_ns",
        "time with time zone",
        "timestamp",
        "timestamp_s",
        "timestamp_ms",
        "timestamp_ns",
        "timestamp with time zone",
        "interval",
    }
)


def _children(duck_type: Any) -> list[tuple[str, Any]]:
    try:
        return list(duck_type.children)
    except Exception:  # DuckDB raises for types that are not nested
        return []


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def needs_rewrite(duck_type: Any) -> bool:
    """True when DuckDB must render some part of this type before Python sees it."""
    kind = duck_type.id
    if kind in _PASS:
        return False
    if kind in ("list", "array"):
        return needs_rewrite(_children(duck_type)[0][1])
    if kind == "struct":
        return any(needs_rewrite(child) for _, child in _children(duck_type))
    return True  # map (always as entries), union, text and temporal types, the unknown


def projection(duck_type: Any, expr: str, depth: int = 0) -> str:
    """A SQL expression rendering ``expr`` (of ``duck_type``) for :func:`decoder`."""
    kind = duck_type.id
    if not needs_rewrite(duck_type):
        return expr
    if kind == "float":
        # Through text, so 0.1::FLOAT arrives as 0.1 rather than 0.10000000149011612.
        return f"CAST(CAST({expr} AS VARCHAR) AS DOUBLE)"
    if kind in ("list", "array"):
        var = f"_v{depth}"
        inner = projection(_children(duck_type)[0][1], var, depth + 1)
        return f"list_transform({expr}, lambda {var}: {inner})"
    if kind == "struct":
        fields = ", ".join(
            f"{_quote_ident(name)} := {projection(child, f'struct_extract({expr}, {quote_literal(name)})', depth + 1)}"
            for name, child in _children(duck_type)
        )
        return f"CASE WHEN {expr} IS NULL THEN NULL ELSE struct_pack({fields}) END"
    if kind == "map":
        children = dict(_children(duck_type))
        var = f"_v{depth}"
        key = projection(children["key"], f"struct_extract({var}, 'key')", depth + 1)
        value = projection(children["value"], f"struct_extract({var}, 'value')", depth + 1)
        return f"list_transform(map_entries({expr}), lambda {var}: struct_pack(key := {key}, value := {value}))"
    if kind == "union":
        return (
            f"CASE WHEN {expr} IS NULL THEN NULL ELSE "
            f"struct_pack(tag := CAST(union_tag({expr}) AS VARCHAR), value := CAST({expr} AS VARCHAR)) END"
        )
    if kind == "date" or kind in _TIMESTAMPS:
        return _iso_temporal(kind, expr)
    return f"CAST({expr} AS VARCHAR)"


_TIMESTAMPS: Final = frozenset({"timestamp", "timestamp_s", "timestamp_ms", "timestamp_ns", "timestamp with time zone"})


def _iso_temporal(kind: str, expr: str) -> str:
    """SQL rendering a DATE or TIMESTAMP* as its final ISO 8601 text, inside DuckDB.

    Done in SQL rather than by a Python decoder because it is per value: for a
    million timestamps the Python rewrite cost ~1.5 s, DuckDB's string
    functions a few milliseconds. A four-digit AD year (the common case) only
    needs the space turned into "T". Other years get ISO's astronomical
    numbering (1 BC is 0000, 44 BC is -0043, 12345 is +12345) in front of
    DuckDB's month, day and time; the year is read from DuckDB's text because
    year() of a TIMESTAMPTZ counts in eras. An offset DuckDB writes as "+05"
    becomes "+05:00".
    """
    text = f"CAST({expr} AS VARCHAR)"
    digits = f"CAST(regexp_extract({text}, '^(\\d+)', 1) AS BIGINT)"
    bc = f"contains({text}, ' (BC)')"
    if kind == "date":
        common = text
        rest = f"regexp_extract({text}, '^\\d+(-\\d\\d-\\d\\d)', 1)"
    else:
        common = f"replace({text}, ' ', 'T')"
        rest = f"regexp_replace({text}, '^\\d+(-\\d\\d-\\d\\d)(?: \\(BC\\))? ', '\\1T')"
    iso_year = (
        f"CASE WHEN {bc} THEN (CASE WHEN {digits} = 1 THEN '0000' "
        f"ELSE '-' || lpad(CAST({digits} - 1 AS VARCHAR), 4, '0') END) "
        f"WHEN {digits} > 9999 THEN '+' || CAST({digits} AS VARCHAR) "
        f"ELSE lpad(CAST({digits} AS VARCHAR), 4, '0') END"
    )
    if kind == "timestamp with time zone":
        # A four-digit year of DuckDB's text depends on the session's offset: read from the text.
        common_case = f"substr({text}, 5, 1) = '-' AND NOT {bc}"
    else:
        # Years 1 to 9999 AD by a comparison of the value (the same rows as a four-digit AD year in
        # its text): one cast to text per value instead of three, which halved the rendering's cost.
        common_case = (
            f"CAST({expr} AS {'DATE' if kind == 'date' else 'TIMESTAMP'}) BETWEEN {_COMMON_RANGE[kind == 'date']}"
        )
    rendered = (
        f"CASE WHEN {expr} IS NULL THEN NULL WHEN {common_case} THEN {common} "
        f"WHEN NOT isfinite({expr}) THEN {text} ELSE {iso_year} || {rest} END"
    )
    if kind == "timestamp with time zone":
        return f"regexp_replace({rendered}, '([+-]\\d\\d)$', '\\1:00')"
    return rendered


#: The values whose DuckDB text has a four-digit AD year (by [is_date]).
_COMMON_RANGE: Final = {
    False: "TIMESTAMP '0001-01-01 00:00:00' AND TIMESTAMP '9999-12-31 23:59:59.999999'",
    True: "DATE '0001-01-01' AND DATE '9999-12-31'",
}


def decoder(duck_type: Any) -> Decoder | None:
    """A function turning a value fetched through :func:`projection` into JSON; None for identity."""
    kind = duck_type.id
    if kind in ("float", "double"):
        return float_decoder
    if kind == "blob":
        return _blob
    if kind == "time with time zone":
        return _timetz
    if kind == "interval":
        return _interval
    if kind in ("list", "array"):
        inner = decoder(_children(duck_type)[0][1])
        return None if inner is None else _list_of(inner)
    if kind == "struct":
        fields = [(name, decoder(child)) for name, child in _children(duck_type)]
        if all(dec is None for _, dec in fields):
            return None
        return _struct_of([(name, dec) for name, dec in fields if dec is not None])
    if kind == "map":
        children = dict(_children(duck_type))
        return _entries_of(decoder(children["key"]), decoder(children["value"]))
    return None  # text, numbers, union (already {"tag", "value"})


def _nullable(fn: Decoder) -> Decoder:
    def decode(value: Any) -> Any:
        return None if value is None else fn(value)

    return decode


def _float_value(value: float) -> float | str:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def float_decoder(value: float | None) -> float | str | None:
    # value - value is 0.0 exactly for finite floats (nan and inf give nan): one
    # arithmetic test instead of two function calls, since this runs per value.
    if value is None or value - value == 0.0:
        return value
    return _float_value(value)


_blob = _nullable(lambda value: base64.b64encode(bytes(value)).decode("ascii"))


def _list_of(inner: Decoder) -> Decoder:
    return _nullable(lambda items: [inner(item) for item in items])


def _struct_of(fields: list[tuple[str, Decoder | None]]) -> Decoder:
    def decode(value: dict[str, Any]) -> dict[str, Any]:
        out = dict(value)
        for name, dec in fields:
            assert dec is not None
            out[name] = dec(out.get(name))
        return out

    return _nullable(decode)


def _entries_of(key: Decoder | None, value: Decoder | None) -> Decoder:
    def decode(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {
                "key": key(entry["key"]) if key else entry["key"],
                "value": value(entry["value"]) if value else entry["value"],
            }
            for entry in entries
        ]

    return _nullable(decode)


# ------------------------------------------------------------ DuckDB text -> ISO 8601 (per-value rewrites)

_TIMETZ = re.compile(r"^(?P<time>\d\d:\d\d:\d\d(?:\.\d+)?)(?P<tz>[+-]\d\d(?::\d\d){0,2})$")


def _iso_offset(tz: str) -> str:
    return tz + ":00" if len(tz) == 3 else tz  # "+05" -> "+05:00"


def _timetz_text(text: str) -> str:
    match = _TIMETZ.match(text)
    return text if match is None else match["time"] + _iso_offset(match["tz"])


_timetz = _nullable(_timetz_text)

_INTERVAL_PART = re.compile(r"(-?\d+) (year|month|day)s?")
_INTERVAL_TIME = re.compile(r"(-?)(\d+):(\d\d):(\d\d)(?:\.(\d+))?$")


def interval_to_iso(text: str) -> str:
    """DuckDB's interval text ("1 year 2 months 3 days 04:05:06.5") as an ISO 8601 duration."""
    years = months = days = 0
    for number, unit in _INTERVAL_PART.findall(text):
        if unit == "year":
            years = int(number)
        elif unit == "month":
            months = int(number)
        else:
            days = int(number)
    date_part = "".join(f"{n}{u}" for n, u in ((years, "Y"), (months, "M"), (days, "D")) if n)
    time_part = ""
    match = _INTERVAL_TIME.search(text)
    if match:
        sign, hours, minutes, seconds, fraction = match.groups()
        pieces = []
        if int(hours):
            pieces.append(f"{sign}{int(hours)}H")
        if int(minutes):
            pieces.append(f"{sign}{int(minutes)}M")
        if int(seconds) or (fraction and int(fraction)):
            frac = f".{fraction.rstrip('0')}" if fraction and int(fraction) else ""
            pieces.append(f"{sign}{int(seconds)}{frac}S")
        time_part = "".join(pieces)
    if not date_part and not time_part:
        return "PT0S"
    return "P" + date_part + ("T" + time_part if time_part else "")


_interval = _nullable(interval_to_iso)


def timedelta_to_iso(delta: dt.timedelta) -> str:
    """A Python timedelta (days, seconds, microseconds) as an ISO 8601 duration."""
    sign = "-" if delta < dt.timedelta(0) else ""
    delta = abs(delta)
    hours, rest = divmod(delta.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    pieces = [f"{hours}H" if hours else "", f"{minutes}M" if minutes else ""]
    if seconds or delta.microseconds:
        fraction = f".{delta.microseconds:06d}".rstrip("0") if delta.microseconds else ""
        pieces.append(f"{seconds}{fraction}S")
    time_part = "".join(pieces)
    body = (f"{delta.days}D" if delta.days else "") + (f"T{time_part}" if time_part else "")
    return f"{sign}P{body}" if body else "PT0S"


# ------------------------------------------------------------ fallback for unprojected results


def plain(value: Any) -> Any:
    """JSON for a value Python's own conversion produced (results that could not be projected)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)
    if isinstance(value, float):
        return _float_value(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return timedelta_to_iso(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return str(value)
