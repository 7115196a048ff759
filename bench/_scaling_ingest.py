"""bench/scaling.py, part 2: CSV files of growing size generated with DuckDB, then ingested by jobs."""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from _peer_stdio import StdioPeer
from _scaling_jobs import POLL_S
from _stats import summarize
from _subjects import BenchError, Command

MB = 1_000_000
GB = 1_000_000_000
#: Free space needed before the 1 GB file is written (file + DuckDB's copy + slack).
FREE_FOR_GB_FILE = 4 * GB
SAMPLE_ROWS = 100_000

#: The generated table: id BIGINT, a DOUBLE, b VARCHAR, c TIMESTAMP.
GENERATOR_SQL = """
SELECT i::BIGINT AS id,
       ((i * 7919) % 1000003) / 100.0 AS a,
       'item-' || (i % 9973)::VARCHAR || '-' || chr(65 + (i % 26)::INTEGER) AS b,
       TIMESTAMP '2024-01-01 00:00:00' + to_seconds(i % 31536000) AS c
FROM range({bounds}) t(i)
"""


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
