"""bench/transfer.py's outputs: the JSON entry of each route and the markdown report."""

from __future__ import annotations

import statistics
from typing import Any

from _outputs import markdown_table, skipped_line
from _stats import summarize
from _transfer_data import MB
from _transfer_paths import RSS_INTERVAL_S, Transfer
from _transfer_subjects import Route


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
        "seconds": summarize(seconds, 3),
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
        markdown_table(
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
        'page is decoded on the host, ids checked complete and in order. Columns: the same pages with `layout: "columns"` (one JSON array per column), decoded with msgspec and kept as one list per column. Export: the time of the `db.export` call '
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
        lines.append(skipped_line(document["skipped"]))
    return "\n".join(lines)
