"""bench/scaling.py's outputs: the markdown report and the two-panel chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from _outputs import markdown_table
from _scaling_ingest import MB


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
