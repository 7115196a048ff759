#!/usr/bin/env python3
"""How the sidecar's costs grow: ping latency under running jobs, ingest throughput by file size.

    .venv/bin/python bench/scaling.py [--quick] [--out DIR] [--variant source|nuitka] [--python PY]

Writes ``<out>/scaling.json`` (starting with ``"machine"``), ``scaling.md`` and
one chart, ``scaling.png`` (left: ping p50/p95 per number of running jobs;
right: ingest MB/s per file size). Nothing here asserts a speed.

Method, part 1 (ping under load). One sidecar (``--variant``, default the
source tree) in a fresh data dir; ``settings.set`` raises ``jobs_concurrency``
to the largest level (16). For each level (0, 4, 16 jobs running; ``--quick``:
0, 2, 4) the script submits that many ``export`` jobs of a CPU-bound DuckDB
query that would run for hours (a filtered count over ``range(10^12)``, the
tests' LONG_QUERY made longer), polls ``system.status`` until
``jobs_by_status.running`` and ``workers.active`` both equal the level, then
measures ``system.ping``: sequential round trips (3000 after 300 warm-up;
``--quick`` 300 after 30) and pipelined requests per second (20000 written
back to back). It checks that every job is still running afterwards, records
the sidecar's CPU use over the measurement (psutil, the process tree: ~200 %
on 2 cores means DuckDB kept both busy), then ``jobs.cancel`` of every job
(timed) and polls until none runs. The ``job.progress``/``job.status``
notifications the jobs send are skipped and counted by the peer.

DuckDB's ``threads`` stays at its default (the ``duckdb_threads`` setting is
null: DuckDB's default, the number of cores). Every running query has its own
calling thread inside DuckDB plus the shared pool, so with 16 jobs on a 2-core
machine the event loop's thread (and the bench client's) competes for the CPU
with ~17 busy threads: the latency growth measured here is the OS scheduler's
share, not the event loop waiting on DuckDB (DuckDB runs in worker threads
with the GIL released; bench/RESULTS.md has the probe behind this).

Method, part 2 (ingest). CSV files of about 10 MB, 100 MB and 1 GB (decimal
units; ``--quick``: 1 MB and 5 MB) are generated in the bench process with the
``duckdb`` module: ``COPY (SELECT ...) TO file (HEADER)`` of columns
``id BIGINT, a DOUBLE, b VARCHAR, c TIMESTAMP``; the row count comes from the
bytes per row of a 100 000-row sample, and the actual file size is reported.
The 1 GB file is only written when at least 4 GB are free (else it is skipped
with the reason recorded). A second sidecar (fresh data dir) first runs one
small untimed ingest (engine start, CSV reader warm-up); then, per file,
``jobs.submit ingest {table, source: absolute path, format: csv, mode:
replace}`` and ``jobs.get`` every 50 ms until ``succeeded`` (``failed`` or
``canceled`` stop the run). Time is from just before the submit is written to
the ``jobs.get`` answer that shows ``succeeded``, so it includes up to one poll
interval. ``result.rows`` must equal the generated row count. MB/s = file bytes
/ 10^6 / seconds. The 10 MB and 100 MB files run 3 times (the median is
reported), the 1 GB file once. The files were just written, so they are read
from the OS page cache: this is parse + insert speed, not disk speed.

Every sidecar is closed politely (stdin closed; the peer checks that stdout
held nothing but protocol lines); the temporary work dir (data dirs, CSV
files) is removed at the end, also after a failure.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _machine import machine_info
from _outputs import standard_arguments, write_outputs
from _scaling_ingest import GB, MB, generate_csvs, ingest_throughput, write_csv
from _scaling_jobs import POLL_S, ping_under_jobs
from _scaling_report import draw_chart, render_markdown
from _subjects import clean_env, remove_tree, sidecar_command


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    standard_arguments(parser)
    parser.add_argument(
        "--variant",
        choices=("source", "nuitka"),
        default="source",
        help="the sidecar from the source tree or the built Nuitka binary",
    )
    args = parser.parse_args()

    if args.quick:
        levels, samples, warmup, pipelined = [0, 2, 4], 300, 30, 2000
        targets, repeats = [("1 MB", 1 * MB), ("5 MB", 5 * MB)], 1
    else:
        levels, samples, warmup, pipelined = [0, 4, 16], 3000, 300, 20000
        targets, repeats = [("10 MB", 10 * MB), ("100 MB", 100 * MB), ("1 GB", GB)], 3

    work = Path(tempfile.mkdtemp(prefix="sidecar-bench-scaling-"))
    try:
        env = clean_env(work)
        ping_command = sidecar_command(args.variant, work / "data-ping", env, python=args.python)
        ingest_command = sidecar_command(args.variant, work / "data-ingest", env, python=args.python)
        if ping_command is None or ingest_command is None:
            print(
                f"the {args.variant} binary is not built (build it first, e.g. build/nuitka); nothing measured",
                file=sys.stderr,
            )
            return 2
        machine = machine_info()
        print(f"ping under jobs ({args.variant}): levels {levels}", flush=True)
        ping = ping_under_jobs(ping_command, levels, samples, warmup, pipelined)
        print("generating CSV files", flush=True)
        skipped: dict[str, str] = {}
        # In the ingest sidecar's imports/ folder: the files it may read without a grant.
        imports = work / "data-ingest" / "imports"
        files = generate_csvs(imports, targets, skipped)
        warmup_file = imports / "warmup.csv"
        import duckdb

        with duckdb.connect() as con:
            write_csv(con, warmup_file, 1000)
        print("ingest", flush=True)
        ingest_rows = ingest_throughput(ingest_command, files, warmup_file, repeats)
        for item in files:
            item["path"].unlink(missing_ok=True)
    finally:
        remove_tree(work)

    cpus = machine["cpus"]
    top = ping["levels"][-1]
    notes = [
        f"DuckDB runs with its default thread count ({ping['duckdb_threads_effective']} = the number of cores; the "
        f"`duckdb_threads` setting is null). Each running query also has its own calling thread, so with "
        f"{top['jobs']} jobs on {cpus} cores the ping's event loop competes with about {top['jobs'] + 1} busy DuckDB "
        f"threads for the CPU (sidecar CPU use {top['sidecar_cpu_percent']} % during that measurement).",
        "DuckDB runs in worker threads (anyio.to_thread); the event loop itself never waits on a query. "
        "system.ping is answered inline, so its latency under load is scheduling delay for the loop's thread "
        "plus the loop's own extra work (job.progress ticks: one per job every 100 ms, "
        "`query_progress()` polled on the loop; progress saved to sqlite once a second per job).",
        "A round trip also needs the bench client's own thread scheduled on the same cores, so under load it "
        "measures the machine's wake-up delay at both ends (bench/RESULTS.md has the probe that separates the two).",
        "Ratios (× 0 jobs) are level / 0-jobs level for latency and 0-jobs / level for pipelined throughput.",
        "Ingest time runs from the jobs.submit request to the first jobs.get answer that shows succeeded "
        f"(polled every {POLL_S * 1000:.0f} ms), so it includes job bookkeeping and up to one poll interval; "
        "MB = 10^6 bytes; the files come from the page cache (just written).",
        "Other benchmarks may share this machine: compare levels within one run, not across runs.",
    ]
    document = {
        "machine": machine,
        "variant": args.variant,
        "mode": "quick" if args.quick else "full",
        "ping_under_jobs": ping,
        "ingest": {
            "columns": "id BIGINT, a DOUBLE, b VARCHAR, c TIMESTAMP",
            "poll_interval_ms": round(POLL_S * 1000),
            "files": ingest_rows,
            "skipped": skipped,
        },
        "notes": notes,
    }
    write_outputs(args.out, "scaling", document, render_markdown(document), lambda p: draw_chart(document, p))
    return 0


if __name__ == "__main__":
    sys.exit(main())
