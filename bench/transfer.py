#!/usr/bin/env python3
"""Result transfer: a million DuckDB rows to the host, by three routes, side by side.

    .venv/bin/python bench/transfer.py [--repeats 5] [--rows 1000000] [--page-size 100000]
                                       [--sidecars source,nuitka,pyinstaller] [--quick] [--out dist/bench]

The table ``bench_rows`` (``id BIGINT, x DOUBLE, name VARCHAR, ts TIMESTAMP``,
``--rows`` rows, fixed random seed) is created once in a DuckDB file by this
process and copied to every subject: a sidecar gets it as
``<data-dir>/engine.duckdb``, the FastAPI subject as ``--db PATH``.

Paths (a binary that is not built is skipped and recorded as such):

* ``query/<variant>``  paged ``db.query`` through the sidecar (``source`` is
  ``python -m sidecar``; ``nuitka``/``pyinstaller`` the built binaries): keyset
  pages ``SELECT * FROM bench_rows WHERE id > $after ORDER BY id`` with
  ``limit`` = ``--page-size`` until ``truncated`` is false. The clock runs from
  the first request until the last page is decoded on the host (msgspec, as
  ``StdioPeer.call`` does); the rows are kept, as a host would keep them.
* ``export/<variant>`` ``db.export`` to Parquet, handed over by path: the time
  of the call. The file must exist and hold every row; it is deleted after each
  repeat. Reading it back is left out (the host reads it when and how it likes).
* ``json/fastapi``     ``GET /table/bench_rows`` on bench/subjects/fastapi_server.py
  (uvicorn, keep-alive), the body decoded with ``msgspec.json.decode``.

Every subject is started once (a binary after one launch that fills its
extraction cache) and warmed with one small query (so DuckDB's
import and the database opening are not in the figures), then the paths are
run ``--repeats`` times in interleaved rounds (round r visits them in a rotated
order), so a busy machine slows them alike. Quoted: the median and the minimum.
After the clock stops every result is checked: the row count, and for the paged
query that the ids arrive complete and in order.

Also recorded per path: the peak resident memory of the subject's process tree
during the transfer (sampled every 20 ms: a sample costs about a millisecond of
the host's CPU, and finer sampling would slow the host-side decoding being
timed; the peak is the largest over the repeats, and since a process may keep
memory it freed, later transfers start higher: the rise of the peak over the
RSS at each transfer's start is quoted too), and the bytes that crossed the pipe
or socket (request and answer lines for the sidecar, the HTTP body for FastAPI).
MB are 10^6 bytes.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _common as c
import msgspec

TABLE = "bench_rows"
PAGE_SQL = f"SELECT * FROM {TABLE} WHERE id > $after ORDER BY id"
EXPORT_SQL = f"SELECT * FROM {TABLE}"
COLUMNS = ["id", "x", "name", "ts"]
FULL_ROWS = 1_000_000
FULL_PAGE = 100_000
QUICK_ROWS = 20_000
QUICK_PAGE = 5_000
RSS_INTERVAL_S = 0.02
TARGET_S = 1.0
MB = 1e6
SIDECAR_VARIANTS = ("source", *c.SIDECAR_PACKAGERS)

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


# ------------------------------------------------------------------- the data


def create_database(path: Path, rows: int) -> None:
    """The ``bench_rows`` table in a fresh DuckDB file, written by this process."""
    import duckdb

    connection = duckdb.connect(str(path))
    try:
        connection.execute("SELECT setseed(0.42)")
        connection.execute(
            f"CREATE TABLE {TABLE} AS SELECT i AS id, random() AS x, 'name-' || i AS name, "
            f"TIMESTAMP '2024-01-01' + i * INTERVAL 1 SECOND AS ts FROM range({int(rows)}) t(i)"
        )
    finally:
        connection.close()


def sidecar_data_dir(work: Path, name: str, database: Path) -> Path:
    """A data dir for one sidecar with ``database`` copied in as engine.duckdb."""
    from sidecar.database.files import DB_FILE_NAME

    data_dir = work / f"data-{name}"
    data_dir.mkdir(mode=0o700, parents=True)
    shutil.copyfile(database, data_dir / DB_FILE_NAME)
    return data_dir


def fastapi_database(work: Path, name: str, database: Path) -> Path:
    """A private copy of ``database`` for the FastAPI subject (it holds DuckDB's file lock)."""
    folder = work / f"db-{name}"
    folder.mkdir(parents=True)
    copy = folder / "bench.duckdb"
    shutil.copyfile(database, copy)
    return copy


# -------------------------------------------------------------- the transfers


def rpc(peer: c.StdioPeer, method: str, params: Any) -> tuple[Any, int]:
    """One request through ``peer``: its result and the bytes written and read (a JSON-RPC error raises)."""
    request_id = peer.next_id()
    frame = c.request_frame(request_id, method, params)
    line = peer.call_raw(frame)
    answer = _decode(line)
    if not isinstance(answer, dict) or answer.get("id") != request_id:
        raise c.BenchError(f"expected the answer to id {request_id}, got {line[:200]!r}")
    if "error" in answer:
        raise c.BenchError(f"{method} failed: {answer['error']}")
    return answer["result"], len(frame) + len(line)


def launch_once(command: c.Command) -> int | None:
    """Start ``command`` to READY and close it; the tree RSS at READY.

    For a Nuitka onefile binary the first launch fills its extraction cache, and
    that bootstrap keeps about 37 MB resident for its whole life (a warm one
    about 5 MB): launching once first measures the binary as every later
    launch runs it.
    """
    with c.StdioPeer(command) as peer:
        rss = c.tree_rss_bytes(peer.pid)
        peer.close()
    return rss


def warm_up_sidecar(peer: c.StdioPeer) -> None:
    """A first small query: the engine starts (DuckDB imported, engine.duckdb opened)."""
    result, _ = rpc(peer, "db.query", {"sql": "SELECT 42 AS answer"})
    if result["rows"] != [[42]]:
        raise c.BenchError(f"SELECT 42 answered {result['rows']!r}")


def warm_up_fastapi(peer: c.HttpPeer) -> None:
    """A first small query through ``POST /query``."""
    answer = _decode(peer.post("/query", {"sql": "SELECT 42 AS answer"}))
    if answer["rows"] != [[42]]:
        raise c.BenchError(f"SELECT 42 answered {answer['rows']!r}")


def check_rows(rows: list[Any], expected: int, ordered: bool) -> None:
    """``expected`` rows of four columns; with ``ordered`` the ids are 0..expected-1 in order."""
    if len(rows) != expected:
        raise c.BenchError(f"received {len(rows)} rows, expected {expected}")
    if rows and len(rows[0]) != len(COLUMNS):
        raise c.BenchError(f"rows have {len(rows[0])} columns, expected {len(COLUMNS)}")
    if ordered and any(row[0] != index for index, row in enumerate(rows)):
        raise c.BenchError("the paged ids are not 0..N-1 in order")


def paged_query(peer: c.StdioPeer, rows: int, page_size: int, rss_interval_s: float = RSS_INTERVAL_S) -> Transfer:
    """Every row by keyset-paged db.query, timed until the last page is decoded on the host."""
    received: list[Any] = []
    wire = 0
    pages = 0
    after = -1
    start_rss = c.tree_rss_bytes(peer.pid)
    with c.PeakRss(peer.pid, rss_interval_s) as peak:
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
        raise c.BenchError(f"unexpected columns {result['columns']!r}")
    return Transfer(seconds, len(received), wire, None, start_rss, peak.peak or None, pages)


def export_parquet(peer: c.StdioPeer, rows: int, target: Path, rss_interval_s: float = RSS_INTERVAL_S) -> Transfer:
    """db.export of the whole table to a Parquet file at ``target``, timed over the call; the file is deleted."""
    params = {"sql": EXPORT_SQL, "format": "parquet", "path": str(target)}
    start_rss = c.tree_rss_bytes(peer.pid)
    with c.PeakRss(peer.pid, rss_interval_s) as peak:
        start = time.perf_counter()
        result, wire = rpc(peer, "db.export", params)
        seconds = time.perf_counter() - start
    try:
        if not target.is_file():
            raise c.BenchError(f"db.export answered but {target} does not exist")
        file_bytes = target.stat().st_size
        if result["row_count"] != rows or result["bytes"] != file_bytes:
            raise c.BenchError(f"db.export answered {result!r}; expected {rows} rows, {file_bytes} bytes")
        import duckdb

        counted = duckdb.connect().execute("SELECT count(*) FROM read_parquet(?)", [str(target)]).fetchone()[0]
        if counted != rows:
            raise c.BenchError(f"{target} holds {counted} rows, expected {rows}")
    finally:
        target.unlink(missing_ok=True)
    return Transfer(seconds, rows, wire, file_bytes, start_rss, peak.peak or None)


def fastapi_table(peer: c.HttpPeer, rows: int, rss_interval_s: float = RSS_INTERVAL_S) -> Transfer:
    """GET /table/bench_rows, timed until the JSON body is decoded on the host.

    uvicorn drops a keep-alive connection idle for 5 s (a paged query of a
    million rows takes longer), so a fresh connection is opened and used once
    (GET /health) before the clock starts.
    """
    peer.connection.close()
    peer.get("/health")
    start_rss = c.tree_rss_bytes(peer.pid)
    with c.PeakRss(peer.pid, rss_interval_s) as peak:
        start = time.perf_counter()
        body = peer.get(f"/table/{TABLE}")
        document = _decode(body)
        seconds = time.perf_counter() - start
    if document["row_count"] != rows:
        raise c.BenchError(f"/table answered row_count {document['row_count']}, expected {rows}")
    check_rows(document["rows"], rows, ordered=False)
    return Transfer(seconds, len(document["rows"]), len(body), None, start_rss, peak.peak or None)


# ------------------------------------------------------------------- the run


@dataclass
class Route:
    """One measured path: its name, what it is, and the transfer it runs (given the repeat index)."""

    name: str
    what: str
    pid: int
    run: Callable[[int], Transfer]


def start_subjects(
    stack: ExitStack,
    work: Path,
    database: Path,
    python: Path,
    rows: int,
    page_size: int,
    exports: Path,
    variants: list[str],
) -> tuple[list[Route], dict[str, Any], dict[str, str]]:
    """Start every subject that can run here (warmed), and the routes through them."""
    env = c.clean_env(work)
    routes: list[Route] = []
    peers: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for variant in SIDECAR_VARIANTS:
        if variant not in variants:
            skipped[variant] = "left out (--sidecars)"
            continue
        command = c.sidecar_command(variant, sidecar_data_dir(work, variant, database), env, python)
        if command is None:
            skipped[variant] = f"not built ({c.binary_path(variant)} is missing)"
            continue
        if variant != "source":
            launch_once(command)  # the extraction cache warm, as for every launch but the first
        peer = stack.enter_context(c.StdioPeer(command))
        warm_up_sidecar(peer)
        peers[variant] = peer
        routes.append(
            Route(
                f"query/{variant}",
                f"paged db.query, sidecar {variant}",
                peer.pid,
                lambda _r, p=peer: paged_query(p, rows, page_size),
            )
        )
        routes.append(
            Route(
                f"export/{variant}",
                f"db.export Parquet by path, sidecar {variant}",
                peer.pid,
                lambda r, p=peer, v=variant: export_parquet(p, rows, exports / f"{v}-{r}.parquet"),
            )
        )
    http = stack.enter_context(c.fastapi_peer(fastapi_database(work, "fastapi", database), env, python))
    warm_up_fastapi(http)
    peers["fastapi"] = http
    routes.append(
        Route("json/fastapi", "GET /table JSON, FastAPI on uvicorn", http.pid, lambda _r: fastapi_table(http, rows))
    )
    return routes, peers, skipped


def summarize_route(route: Route, runs: list[Transfer], rss_before: int | None) -> dict[str, Any]:
    """The JSON entry of one path."""
    seconds = [t.seconds for t in runs]
    median = statistics.median(seconds)
    last = runs[-1]
    peaks = [t.peak_rss for t in runs if t.peak_rss]
    rises = [t.peak_rss - t.start_rss for t in runs if t.peak_rss and t.start_rss]
    moved = last.file_bytes if last.file_bytes is not None else last.wire_bytes
    return {
        "what": route.what,
        "seconds": c.summarize(seconds, 3),
        "samples_s": [round(s, 4) for s in seconds],
        "rows": last.rows,
        "rows_per_s": round(last.rows / median),
        "pages": last.pages,
        "wire_bytes": last.wire_bytes,
        "file_bytes": last.file_bytes,
        "mb_moved": round(moved / MB, 1) if moved is not None else None,
        "rss_before_mb": round(rss_before / MB, 1) if rss_before else None,
        "peak_rss_bytes": max(peaks) if peaks else None,
        "peak_rss_mb": round(max(peaks) / MB, 1) if peaks else None,
        "peak_rise_mb": round(max(rises) / MB, 1) if rises else None,
        "start_rss_mb": [round(t.start_rss / MB, 1) if t.start_rss else None for t in runs],
    }


def render(document: dict[str, Any]) -> str:
    """The markdown report."""
    cfg = document["config"]
    m = document["machine"]
    lines = [
        f"# Result transfer: {cfg['rows']:,} rows x 4 columns to the host",
        "",
        f"{m['cpu']}, {m['cpus']} CPUs, {m['os']}, Python {m['python']}, DuckDB {m['versions']['duckdb']}; "
        f"load average {m['load_average']}; {cfg['repeats']} interleaved repeats per path, page size {cfg['page_size']:,}"
        + (" (--quick: sizes too small to quote)" if cfg["quick"] else "")
        + ".",
        "",
    ]
    rows = []
    for name, p in document["paths"].items():
        moved = (
            "-" if p["mb_moved"] is None else f"{p['mb_moved']} ({'file' if p['file_bytes'] is not None else 'wire'})"
        )
        rows.append(
            [
                f"`{name}`",
                p["what"],
                p["seconds"]["p50"],
                p["seconds"]["min"],
                f"{p['rows_per_s']:,}",
                p["time_vs_fastapi"],
                moved,
                p["rss_before_mb"],
                p["peak_rss_mb"],
                p["peak_rise_mb"],
            ]
        )
    lines.append(
        c.markdown_table(
            [
                "path",
                "what",
                "median s",
                "min s",
                "rows/s (median)",
                "time / FastAPI's",
                "MB moved",
                "RSS before MB",
                "peak RSS MB",
                "peak rise MB",
            ],
            rows,
        )
    )
    best = document["best"]
    target = document["target"]
    lines += [
        f"Best path: `{best['path']}`, median {best['median_s']} s. Target (best path <= {target['seconds']} s): "
        f"**{'met' if target['met'] else 'not met'}**.",
        "",
        f"Best path that delivers the rows decoded on the host (not as a file): "
        f"`{document['best_rows_on_host']['path']}`, median {document['best_rows_on_host']['median_s']} s.",
        "",
    ]
    lines += [
        "Method: every subject started once (binaries: after one launch that fills the extraction cache) and warmed with `SELECT 42`; paths run in rotated order each repeat. "
        "Paged query: keyset pages (`WHERE id > $after ORDER BY id`) until `truncated` is false, timed until every "
        "page is decoded on the host, ids checked complete and in order. Export: the time of the `db.export` call "
        "(Parquet written, handed over by path; the host's own read of the file is not included), file checked "
        "and deleted. FastAPI: `GET /table/bench_rows`, body decoded with msgspec. "
        "time / FastAPI's: the path's median over `json/fastapi`'s (below 1: quicker than FastAPI). "
        "MB moved: bytes over the pipe (request + answer lines) or the HTTP body, or the Parquet file size. "
        "Peak RSS: the subject's process tree (onefile binaries: bootstrap + child), sampled every "
        f"{int(RSS_INTERVAL_S * 1000)} ms, largest over the repeats; RSS before: after the warm-up, before the "
        "first transfer; peak rise: the largest peak over the RSS at that transfer's start (a process keeps memory "
        "it freed, so a path sharing a process with a hungrier one shows that one's peak). MB = 10^6 bytes.",
        "",
    ]
    if document["skipped"]:
        lines.append(c.skipped_line(document["skipped"]))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.standard_arguments(parser)
    parser.add_argument("--repeats", type=int, default=None, help="timed transfers per path (default 5; --quick 1)")
    parser.add_argument(
        "--rows", type=int, default=None, help=f"table rows (default {FULL_ROWS:,}; --quick {QUICK_ROWS:,})"
    )
    parser.add_argument(
        "--page-size",
        type=int,
        default=None,
        help=f"db.query limit per page (default {FULL_PAGE:,}, the sidecar's query_max_limit; --quick {QUICK_PAGE:,})",
    )
    parser.add_argument(
        "--sidecars",
        default=",".join(SIDECAR_VARIANTS),
        help="sidecar variants to measure, comma-separated (default: all; a missing binary is skipped)",
    )
    args = parser.parse_args()
    variants = [v.strip() for v in args.sidecars.split(",") if v.strip()]
    if unknown := set(variants) - set(SIDECAR_VARIANTS):
        parser.error(f"unknown sidecar variants: {', '.join(sorted(unknown))}")
    rows = args.rows or (QUICK_ROWS if args.quick else FULL_ROWS)
    page_size = args.page_size or (QUICK_PAGE if args.quick else FULL_PAGE)
    repeats = args.repeats or (1 if args.quick else 5)

    machine = c.machine_info()
    work = Path(tempfile.mkdtemp(prefix="sidecar-bench-transfer-"))
    try:
        database = work / "bench.duckdb"
        create_database(database, rows)
        exports = work / "exports"
        exports.mkdir()
        with ExitStack() as stack:
            routes, peers, skipped = start_subjects(
                stack, work, database, args.python, rows, page_size, exports, variants
            )
            rss_before = {r.name: c.tree_rss_bytes(r.pid) for r in routes}
            runs: dict[str, list[Transfer]] = {r.name: [] for r in routes}
            for repeat in range(repeats):
                turn = repeat % len(routes)
                for route in routes[turn:] + routes[:turn]:
                    transfer = route.run(repeat)
                    runs[route.name].append(transfer)
                    print(f"repeat {repeat + 1}/{repeats} {route.name:<20} {transfer.seconds:8.3f} s", file=sys.stderr)
            exit_status = {name: peer.close() for name, peer in peers.items()}
    finally:
        c.remove_tree(work)

    paths = {r.name: summarize_route(r, runs[r.name], rss_before[r.name]) for r in routes}
    best_name = min(paths, key=lambda name: paths[name]["seconds"]["p50"])
    best_median = paths[best_name]["seconds"]["p50"]
    decoded = [name for name in paths if not name.startswith("export/")]
    best_decoded = min(decoded, key=lambda name: paths[name]["seconds"]["p50"])
    fastapi = paths["json/fastapi"]["seconds"]["p50"]
    for entry in paths.values():
        entry["time_vs_fastapi"] = round(entry["seconds"]["p50"] / fastapi, 2) if fastapi else None
    document: dict[str, Any] = {
        "machine": machine,
        "config": {
            "rows": rows,
            "page_size": page_size,
            "repeats": repeats,
            "quick": args.quick,
            "rss_interval_s": RSS_INTERVAL_S,
            "table": f"{TABLE}({', '.join(COLUMNS)})",
        },
        "skipped": skipped,
        "paths": paths,
        "best": {"path": best_name, "median_s": best_median},
        "best_rows_on_host": {"path": best_decoded, "median_s": paths[best_decoded]["seconds"]["p50"]},
        "target": {"seconds": TARGET_S, "met": best_median <= TARGET_S},
        "exit_status": exit_status,
    }
    names = list(paths)

    def chart(path: Path) -> None:
        c.bar_chart(
            path,
            f"Transfer of {rows:,} rows to the host: median seconds (lower is better)",
            names,
            {"median s": [paths[n]["seconds"]["p50"] for n in names]},
            "seconds",
        )

    c.write_outputs(args.out, "transfer", document, render(document), chart)
    return 0


if __name__ == "__main__":
    sys.exit(main())
