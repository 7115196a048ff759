"""The timed transfers of bench/transfer.py: every row of the table to the host by one route.

Each returns a ``Transfer``: the seconds on the clock, the rows and bytes
moved, and the subject's tree RSS. Results are checked only after the clock
stops: the row count, and for the paged query that the ids arrive complete and
in order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from _peer_http import HttpPeer
from _peer_stdio import StdioPeer, request_frame
from _process_tree import PeakRss, tree_rss_bytes
from _subjects import BenchError
from _transfer_data import COLUMNS, TABLE

PAGE_SQL = f"SELECT * FROM {TABLE} WHERE id > $after ORDER BY id"
EXPORT_SQL = f"SELECT * FROM {TABLE}"
RSS_INTERVAL_S = 0.02

_decode = msgspec.json.decode


@dataclass
class Transfer:
    """One timed transfer: seconds, rows received, bytes over the pipe/socket, file bytes, tree RSS at start and peak."""

    seconds: float
    rows: int
    wire_bytes: int | None
    file_bytes: int | None
    start_rss: int | None
    peak_rss: int | None
    pages: int | None = None


def rpc(peer: StdioPeer, method: str, params: Any) -> tuple[Any, int]:
    """One request through ``peer``: its result and the bytes written and read (a JSON-RPC error raises)."""
    request_id = peer.next_id()
    frame = request_frame(request_id, method, params)
    line = peer.call_raw(frame)
    answer = _decode(line)
    if not isinstance(answer, dict) or answer.get("id") != request_id:
        raise BenchError(f"expected the answer to id {request_id}, got {line[:200]!r}")
    if "error" in answer:
        raise BenchError(f"{method} failed: {answer['error']}")
    return answer["result"], len(frame) + len(line)


def check_rows(rows: list[Any], expected: int, ordered: bool) -> None:
    """``expected`` rows of four columns; with ``ordered`` the ids are 0..expected-1 in order."""
    if len(rows) != expected:
        raise BenchError(f"received {len(rows)} rows, expected {expected}")
    if rows and len(rows[0]) != len(COLUMNS):
        raise BenchError(f"rows have {len(rows[0])} columns, expected {len(COLUMNS)}")
    if ordered and any(row[0] != index for index, row in enumerate(rows)):
        raise BenchError("the paged ids are not 0..N-1 in order")


def paged_query(peer: StdioPeer, rows: int, page_size: int, rss_interval_s: float = RSS_INTERVAL_S) -> Transfer:
    """Every row by keyset-paged db.query, timed until the last page is decoded on the host."""
    received: list[Any] = []
    wire = 0
    pages = 0
    after = -1
    start_rss = tree_rss_bytes(peer.pid)
    with PeakRss(peer.pid, rss_interval_s) as peak:
        start = time.perf_counter()
        while True:
            result, moved = rpc(peer, "db.query", {"sql": PAGE_SQL, "params": {"after": after}, "limit": page_size})
            page = result["rows"]
            received.extend(page)
            wire += moved
            pages += 1
            if not result["truncated"] or not page:
                break
            after = page[-1][0]
        seconds = time.perf_counter() - start
    check_rows(received, rows, ordered=True)
    if [column["name"] for column in result["columns"]] != COLUMNS:
        raise BenchError(f"unexpected columns {result['columns']!r}")
    return Transfer(seconds, len(received), wire, None, start_rss, peak.peak or None, pages)


def paged_columns(peer: StdioPeer, rows: int, page_size: int, rss_interval_s: float = RSS_INTERVAL_S) -> Transfer:
    """Every row by keyset-paged db.query in the column layout (``layout: "columns"``), timed until the
    last page is decoded on the host; the host keeps one list per column, extended page by page."""
    kept: list[list[Any]] = [[] for _ in COLUMNS]
    wire = 0
    pages = 0
    after = -1
    params: dict[str, Any] = {"sql": PAGE_SQL, "limit": page_size, "layout": "columns"}
    start_rss = tree_rss_bytes(peer.pid)
    with PeakRss(peer.pid, rss_interval_s) as peak:
        start = time.perf_counter()
        while True:
            result, moved = rpc(peer, "db.query", {**params, "params": {"after": after}})
            data = result["data"]
            for column, values in zip(kept, data, strict=True):
                column.extend(values)
            wire += moved
            pages += 1
            if not result["truncated"] or not data[0]:
                break
            after = data[0][-1]
        seconds = time.perf_counter() - start
    if any(len(column) != rows for column in kept) or kept[0] != list(range(rows)):
        raise BenchError(f"received columns of {[len(c) for c in kept]} values, expected ids 0..{rows - 1}")
    if [column["name"] for column in result["columns"]] != COLUMNS:
        raise BenchError(f"unexpected columns {result['columns']!r}")
    return Transfer(seconds, rows, wire, None, start_rss, peak.peak or None, pages)


def export_parquet(peer: StdioPeer, rows: int, target: Path, rss_interval_s: float = RSS_INTERVAL_S) -> Transfer:
    """db.export of the whole table to a Parquet file at ``target``, timed over the call; the file is deleted."""
    params = {"sql": EXPORT_SQL, "format": "parquet", "path": str(target)}
    start_rss = tree_rss_bytes(peer.pid)
    with PeakRss(peer.pid, rss_interval_s) as peak:
        start = time.perf_counter()
        result, wire = rpc(peer, "db.export", params)
        seconds = time.perf_counter() - start
    try:
        if not target.is_file():
            raise BenchError(f"db.export answered but {target} does not exist")
        file_bytes = target.stat().st_size
        if result["row_count"] != rows or result["bytes"] != file_bytes:
            raise BenchError(f"db.export answered {result!r}; expected {rows} rows, {file_bytes} bytes")
        import duckdb

        counted = duckdb.connect().execute("SELECT count(*) FROM read_parquet(?)", [str(target)]).fetchone()[0]
        if counted != rows:
            raise BenchError(f"{target} holds {counted} rows, expected {rows}")
    finally:
        target.unlink(missing_ok=True)
    return Transfer(seconds, rows, wire, file_bytes, start_rss, peak.peak or None)


def fastapi_table(peer: HttpPeer, rows: int, rss_interval_s: float = RSS_INTERVAL_S) -> Transfer:
    """GET /table/bench_rows, timed until the JSON body is decoded on the host.

    uvicorn drops a keep-alive connection idle for 5 s (a paged query of a
    million rows takes longer), so a fresh connection is opened and used once
    (GET /health) before the clock starts.
    """
    peer.connection.close()
    peer.get("/health")
    start_rss = tree_rss_bytes(peer.pid)
    with PeakRss(peer.pid, rss_interval_s) as peak:
        start = time.perf_counter()
        body = peer.get(f"/table/{TABLE}")
        document = _decode(body)
        seconds = time.perf_counter() - start
    if document["row_count"] != rows:
        raise BenchError(f"/table answered row_count {document['row_count']}, expected {rows}")
    check_rows(document["rows"], rows, ordered=False)
    return Transfer(seconds, len(document["rows"]), len(body), None, start_rss, peak.peak or None)
