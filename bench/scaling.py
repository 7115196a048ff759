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
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from _common import (
    BenchError,
    Command,
    StdioPeer,
    clean_env,
    machine_info,
    markdown_table,
    ratio,
    remove_tree,
    sidecar_command,
    standard_arguments,
    summarize,
    write_outputs,
)

#: A CPU-bound query that runs for hours (the tests' LONG_QUERY over 250x the rows): cancelled, never finished.
BUSY_QUERY = "SELECT count(*) FROM range(1000000000000) t(i) WHERE i % 7 = 3"
MB = 1_000_000
GB = 1_000_000_000
#: Free space needed before the 1 GB file is written (file + DuckDB's copy + slack).
FREE_FOR_GB_FILE = 4 * GB
POLL_S = 0.05
WAIT_TIMEOUT_S = 120.0
SAMPLE_ROWS = 100_000

#: The generated table: id BIGINT, a DOUBLE, b VARCHAR, c TIMESTAMP.
GENERATOR_SQL = """
SELECT i::BIGINT AS id,
       ((i * 7919) % 1000003) / 100.0 AS a,
       'item-' || (i % 9973)::VARCHAR || '-' || chr(65 + (i % 26)::INTEGER) AS b,
       TIMESTAMP '2024-01-01 00:00:00' + to_seconds(i % 31536000) AS c
FROM range({bounds}) t(i)
"""


# ----------------------------------------------------------------------- helpers


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its descendants so far."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def tree_threads(pid: int) -> int | None:
    """Threads of ``pid`` and its descendants."""
    try:
        root = psutil.Process(pid)
        return sum(p.num_threads() for p in [root, *root.children(recursive=True)])
    except psutil.NoSuchProcess:
        return None


def wait_for(peer: StdioPeer, what: str, check: Any, timeout: float = WAIT_TIMEOUT_S) -> dict[str, Any]:
    """Poll ``system.status`` until ``check(status)`` holds; the last status."""
    deadline = time.monotonic() + timeout
    while True:
        status = peer.call("system.status")
        if check(status):
            return status
        if time.monotonic() > deadline:
            raise BenchError(
                f"timed out waiting for {what}: jobs_by_status={status.get('jobs_by_status')}, "
                f"workers={status.get('workers')}, queue_depth={status.get('queue_depth')}"
            )
        time.sleep(POLL_S)


def running_count(status: dict[str, Any]) -> int:
    return int(status.get("jobs_by_status", {}).get("running", 0))


# ------------------------------------------------------------- part 1: ping under jobs


def ping_under_jobs(command: Command, levels: list[int], samples: int, warmup: int, pipelined: int) -> dict[str, Any]:
    """Ping latency and throughput with 0..N busy export jobs running in one sidecar."""
    results: list[dict[str, Any]] = []
    with StdioPeer(command) as peer:
        settings = peer.call("settings.set", {"values": {"jobs_concurrency": max(levels)}})["settings"]
        if settings["jobs_concurrency"] != max(levels):
            raise BenchError(f"jobs_concurrency is {settings['jobs_concurrency']} after settings.set")
        duckdb_threads = peer.call("db.query", {"sql": "SELECT current_setting('threads')"})["rows"][0][0]
        for level in levels:
            job_ids = [
                peer.call("jobs.submit", {"type": "export", "payload": {"sql": BUSY_QUERY}})["job_id"]
                for _ in range(level)
            ]
            started = time.perf_counter()
            wait_for(
                peer,
                f"{level} running jobs",
                lambda s, n=level: running_count(s) == n and s["workers"]["active"] == n and s["queue_depth"] == 0,
            )
            all_running_s = time.perf_counter() - started
            notifications_before = peer.notifications
            threads = tree_threads(peer.pid)
            cpu_before, wall_before = tree_cpu_seconds(peer.pid), time.perf_counter()
            latencies = peer.sequential_us("system.ping", None, samples, warmup)
            per_s = peer.pipelined_per_s("system.ping", None, pipelined)
            cpu_after, wall_after = tree_cpu_seconds(peer.pid), time.perf_counter()
            still = running_count(peer.call("system.status"))
            if still != level:
                raise BenchError(f"{level} jobs: only {still} still running after the measurement")
            cancel_start = time.perf_counter()
            for job_id in job_ids:
                answer = peer.call("jobs.cancel", {"job_id": job_id})
                if not answer["canceled"] or answer["job"]["status"] != "canceled":
                    raise BenchError(f"jobs.cancel did not cancel {job_id}: {answer['job']['status']}")
            cancel_s = time.perf_counter() - cancel_start
            wait_for(peer, "no running job", lambda s: running_count(s) == 0 and s["workers"]["active"] == 0)
            results.append(
                {
                    "jobs": level,
                    "seconds_until_all_running": round(all_running_s, 3),
                    "ping_us": summarize(latencies),
                    "pipelined_per_s": round(per_s),
                    "sidecar_cpu_percent": round(100 * (cpu_after - cpu_before) / (wall_after - wall_before)),
                    "sidecar_threads": threads,
                    "notifications_during_measurement": peer.notifications - notifications_before,
                    "cancel_all_s": round(cancel_s, 3),
                }
            )
            print(
                f"  {level:>2} jobs: ping p50 {results[-1]['ping_us']['p50']} us, p95 {results[-1]['ping_us']['p95']} us, "
                f"pipelined {results[-1]['pipelined_per_s']}/s, CPU {results[-1]['sidecar_cpu_percent']} %",
                flush=True,
            )
        status = peer.call("system.status")
        exit_status = peer.close()
    base = results[0]
    for row in results:
        row["p50_vs_0_jobs"] = ratio(row["ping_us"]["p50"], base["ping_us"]["p50"])
        row["p95_vs_0_jobs"] = ratio(row["ping_us"]["p95"], base["ping_us"]["p95"])
        row["pipelined_slowdown_vs_0_jobs"] = ratio(base["pipelined_per_s"], row["pipelined_per_s"])
    return {
        "query": BUSY_QUERY,
        "job_type": "export",
        "jobs_concurrency": max(levels),
        "duckdb_threads_setting": settings.get("duckdb_threads"),
        "duckdb_threads_effective": int(duckdb_threads),
        "samples": samples,
        "warmup": warmup,
        "pipelined_requests": pipelined,
        "levels": results,
        "jobs_by_status_at_end": status.get("jobs_by_status"),
        "exit_status": exit_status,
    }


# ------------------------------------------------------------------ part 2: ingest


def write_csv(con: Any, path: Path, rows: int) -> int:
    """COPY ``rows`` generated rows to ``path`` (CSV with a header); its size in bytes."""
    sql = GENERATOR_SQL.format(bounds=f"0, {rows}")
    con.execute(f"COPY ({sql}) TO '{path}' (FORMAT csv, HEADER)")
    return path.stat().st_size


def bytes_per_row(con: Any, sample: Path, rows: int) -> float:
    """Average CSV bytes per row of a file of ``rows`` rows, from a sample spread over its ids."""
    step = max(1, rows // SAMPLE_ROWS)
    count = len(range(0, rows, step))
    sql = GENERATOR_SQL.format(bounds=f"0, {rows}, {step}")
    con.execute(f"COPY ({sql}) TO '{sample}' (FORMAT csv, HEADER)")
    size = sample.stat().st_size
    sample.unlink()
    return size / count


def rows_for(con: Any, sample: Path, target: int) -> int:
    """The row count whose CSV is about ``target`` bytes (ids gain digits as files grow: two passes)."""
    rows = max(1, round(target / bytes_per_row(con, sample, SAMPLE_ROWS)))
    return max(1, round(target / bytes_per_row(con, sample, rows)))


def generate_csvs(folder: Path, targets: list[tuple[str, int]], reasons: dict[str, str]) -> list[dict[str, Any]]:
    """One CSV per target size that fits on the disk; the others get a reason in ``reasons``."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    files = []
    for label, target in targets:
        free = shutil.disk_usage(folder).free
        if target >= GB and free < FREE_FOR_GB_FILE:
            reasons[label] = f"skipped: {free / GB:.1f} GB free, {FREE_FOR_GB_FILE / GB:.0f} GB needed"
            print(f"  {label}: {reasons[label]}", flush=True)
            continue
        rows = rows_for(con, folder / "sample.csv", target)
        path = folder / f"data-{label}.csv"
        started = time.perf_counter()
        size = write_csv(con, path, rows)
        files.append(
            {
                "label": label,
                "target_bytes": target,
                "path": path,
                "rows": rows,
                "bytes": size,
                "generate_s": round(time.perf_counter() - started, 2),
            }
        )
        print(f"  generated {label}: {size / MB:.1f} MB, {rows} rows in {files[-1]['generate_s']} s", flush=True)
    con.close()
    return files


def ingest_once(peer: StdioPeer, table: str, path: Path) -> tuple[float, dict[str, Any]]:
    """Seconds from submit to ``succeeded`` seen by the host, and the job's result."""
    started = time.perf_counter()
    job_id = peer.call(
        "jobs.submit",
        {
            "type": "ingest",
            "payload": {"table": table, "source": str(path.resolve()), "format": "csv", "mode": "replace"},
        },
    )["job_id"]
    while True:
        record = peer.call("jobs.get", {"job_id": job_id})
        if record["status"] == "succeeded":
            return time.perf_counter() - started, record["result"]
        if record["status"] in ("failed", "canceled"):
            raise BenchError(f"ingest of {path.name} {record['status']}: {record.get('error')}")
        time.sleep(POLL_S)


def ingest_throughput(
    command: Command, files: list[dict[str, Any]], warmup_file: Path, repeats_small: int
) -> list[dict[str, Any]]:
    """Per generated file: ingest seconds (median of the repeats) and MB/s."""
    rows_out = []
    with StdioPeer(command) as peer:
        ingest_once(peer, "warmup", warmup_file)
        for item in files:
            repeats = 1 if item["target_bytes"] >= GB else repeats_small
            seconds = []
            for _ in range(repeats):
                elapsed, result = ingest_once(peer, f"t_{item['label'].replace(' ', '')}", item["path"])
                if result["rows"] != item["rows"]:
                    raise BenchError(f"{item['label']}: ingested {result['rows']} rows, generated {item['rows']}")
                if result.get("bytes") not in (None, item["bytes"]):
                    raise BenchError(f"{item['label']}: job read {result['bytes']} bytes, the file has {item['bytes']}")
                seconds.append(elapsed)
            median = statistics.median(seconds)
            rows_out.append(
                {
                    "label": item["label"],
                    "rows": item["rows"],
                    "bytes": item["bytes"],
                    "generate_s": item["generate_s"],
                    "runs": repeats,
                    "seconds": summarize(seconds, 3),
                    "mb_per_s": round(item["bytes"] / MB / median, 1),
                    "rows_per_s": round(item["rows"] / median),
                }
            )
            print(
                f"  ingest {item['label']}: {median:.3f} s median of {repeats}, {rows_out[-1]['mb_per_s']} MB/s",
                flush=True,
            )
        peer.close()
    return rows_out


# ----------------------------------------------------------------------- outputs


def render_markdown(document: dict[str, Any]) -> str:
    ping = document["ping_under_jobs"]
    ingest = document["ingest"]
    machine = document["machine"]
    out = [
        f"# Scaling ({document['variant']})\n\n",
        f"{machine['cpu']}, {machine['cpus']} CPUs, {machine['memory_gib']} GiB, {machine['os']}; "
        f"load average at start {machine['load_average']}; {document['mode']} run.\n\n",
        "## system.ping while jobs run\n\n",
        f"Jobs: `export` of `{ping['query']}` (CPU-bound, cancelled after the measurement); "
        f"jobs_concurrency {ping['jobs_concurrency']}; DuckDB threads {ping['duckdb_threads_effective']} "
        f"(setting `duckdb_threads` = {json.dumps(ping['duckdb_threads_setting'])}, i.e. DuckDB's default). "
        f"Sequential: {ping['samples']} round trips after {ping['warmup']} warm-up; pipelined: "
        f"{ping['pipelined_requests']} requests.\n\n",
    ]
    out.append(
        markdown_table(
            [
                "jobs running",
                "p50 µs",
                "p95 µs",
                "max µs",
                "p50 × 0 jobs",
                "p95 × 0 jobs",
                "pipelined req/s",
                "slowdown × 0 jobs",
                "sidecar CPU %",
                "threads",
                "notifications",
                "cancel all s",
            ],
            [
                [
                    r["jobs"],
                    r["ping_us"]["p50"],
                    r["ping_us"]["p95"],
                    r["ping_us"]["max"],
                    r["p50_vs_0_jobs"],
                    r["p95_vs_0_jobs"],
                    r["pipelined_per_s"],
                    r["pipelined_slowdown_vs_0_jobs"],
                    r["sidecar_cpu_percent"],
                    r["sidecar_threads"],
                    r["notifications_during_measurement"],
                    r["cancel_all_s"],
                ]
                for r in ping["levels"]
            ],
        )
    )
    out.append("\n## Ingest (CSV, jobs.submit ingest, mode replace)\n\n")
    out.append(
        markdown_table(
            ["file", "rows", "MB", "runs", "s p50", "s min", "s max", "MB/s", "rows/s"],
            [
                [
                    r["label"],
                    r["rows"],
                    round(r["bytes"] / MB, 1),
                    r["runs"],
                    r["seconds"]["p50"],
                    r["seconds"]["min"],
                    r["seconds"]["max"],
                    r["mb_per_s"],
                    r["rows_per_s"],
                ]
                for r in ingest["files"]
            ],
        )
    )
    for label, reason in ingest["skipped"].items():
        out.append(f"\n{label}: {reason}\n")
    out.append("\n## Notes\n\n")
    out.extend(f"* {note}\n" for note in document["notes"])
    return "".join(out)


def draw_chart(document: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ping = document["ping_under_jobs"]["levels"]
    ingest = document["ingest"]["files"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6))
    width = 0.38
    xs = range(len(ping))
    for offset, key in ((0.0, "p50"), (width, "p95")):
        values = [r["ping_us"][key] for r in ping]
        bars = left.bar([x + offset for x in xs], values, width, label=key)
        left.bar_label(bars, labels=[f"{v:.0f}" for v in values], fontsize=7, padding=2)
    left.set_xticks([x + width / 2 for x in xs], [f"{r['jobs']} jobs" for r in ping], fontsize=8)
    everything = [r["ping_us"][key] for r in ping for key in ("p50", "p95")]
    if max(everything) > 20 * min(everything):
        left.set_yscale("log")  # a p95 in milliseconds would flatten the p50 bars
    left.set_ylabel("system.ping round trip, µs")
    left.set_title("Ping latency while busy DuckDB jobs run", fontsize=10)
    left.legend(fontsize=8)
    if ingest:
        values = [r["mb_per_s"] for r in ingest]
        bars = right.bar(range(len(ingest)), values, 0.6, color="tab:green")
        right.bar_label(bars, labels=[f"{v:.1f}" for v in values], fontsize=7, padding=2)
        right.set_xticks(
            range(len(ingest)),
            [f"{r['label']}\n({r['bytes'] / MB:.1f} MB, {r['runs']} runs)" for r in ingest],
            fontsize=8,
        )
    right.set_ylabel("MB/s (file bytes / seconds to succeeded)")
    right.set_title("CSV ingest throughput by file size", fontsize=10)
    fig.suptitle(f"sidecar scaling ({document['variant']}, {document['machine']['cpus']} CPUs)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -------------------------------------------------------------------------- main


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
        files = generate_csvs(work / "csv", targets, skipped)
        warmup_file = work / "csv" / "warmup.csv"
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
