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
* ``columns/<variant>`` the same pages with ``layout: "columns"`` (one JSON array
  per column, DuckDB's own JSON where it is exact); the host decodes each page with
  msgspec and extends one list per column; the ids must be 0..N-1 in order.
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
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from _machine import machine_info
from _outputs import bar_chart, standard_arguments, write_outputs
from _process_tree import tree_rss_bytes
from _subjects import remove_tree
from _transfer_data import COLUMNS, FULL_PAGE, FULL_ROWS, QUICK_PAGE, QUICK_ROWS, TABLE, create_database
from _transfer_paths import RSS_INTERVAL_S, Transfer
from _transfer_report import render, summarize_route
from _transfer_subjects import SIDECAR_VARIANTS, start_subjects

TARGET_S = 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    standard_arguments(parser)
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

    machine = machine_info()
    work = Path(tempfile.mkdtemp(prefix="sidecar-bench-transfer-"))
    try:
        database = work / "bench.duckdb"
        create_database(database, rows)
        with ExitStack() as stack:
            routes, peers, skipped = start_subjects(stack, work, database, args.python, rows, page_size, variants)
            rss_before = {r.name: tree_rss_bytes(r.pid) for r in routes}
            runs: dict[str, list[Transfer]] = {r.name: [] for r in routes}
            for repeat in range(repeats):
                turn = repeat % len(routes)
                for route in routes[turn:] + routes[:turn]:
                    transfer = route.run(repeat)
                    runs[route.name].append(transfer)
                    print(f"repeat {repeat + 1}/{repeats} {route.name:<20} {transfer.seconds:8.3f} s", file=sys.stderr)
            exit_status = {name: peer.close() for name, peer in peers.items()}
    finally:
        remove_tree(work)

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
        bar_chart(
            path,
            f"Transfer of {rows:,} rows to the host: median seconds (lower is better)",
            names,
            {"median s": [paths[n]["seconds"]["p50"] for n in names]},
            "seconds",
        )

    write_outputs(args.out, "transfer", document, render(document), chart)
    return 0


if __name__ == "__main__":
    sys.exit(main())
