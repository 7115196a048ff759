"""bench/scaling.py, part 1: system.ping latency and throughput while 0..N busy DuckDB jobs run."""

from __future__ import annotations

import time
from typing import Any

from _peer_stdio import StdioPeer
from _process_tree import tree_cpu_seconds, tree_threads
from _stats import ratio, summarize
from _subjects import BenchError, Command

#: A CPU-bound query that runs for hours (the tests' LONG_QUERY over 250x the rows): cancelled, never finished.
BUSY_QUERY = "SELECT count(*) FROM range(1000000000000) t(i) WHERE i % 7 = 3"
#: How often the sidecar is polled: system.status while jobs start and stop, jobs.get while an ingest runs.
POLL_S = 0.05
WAIT_TIMEOUT_S = 120.0


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
