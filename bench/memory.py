#!/usr/bin/env python3
"""Memory: resident set of each subject's process tree at three points, and the binaries' sizes.

    .venv/bin/python bench/memory.py [--repeats 1] [--rows 1000000] [--quick] [--out dist/bench]

Subjects (a binary that is not built is skipped and recorded as such):

* ``source``       the sidecar, ``python -m sidecar``
* ``nuitka``       the Nuitka onefile binary (dist/nuitka)
* ``pyinstaller``  the PyInstaller onefile binary (dist/pyinstaller)
* ``fastapi``      bench/subjects/fastapi_server.py, FastAPI on uvicorn

Each subject is started fresh (its own copy of the ``bench_rows`` table that
bench/transfer.py builds, ``--rows`` rows) and its process tree's RSS
(``tree_rss_bytes``: the process and all its descendants) is read:

1. right after the ready point: the READY line (the sidecar), the first
   ``GET /health`` answered 200 (FastAPI);
2. after DuckDB is loaded: after a first small query (``db.query SELECT 42``;
   ``POST /query``). The sidecar imports DuckDB and opens engine.duckdb on its
   first engine method; FastAPI has both done before it serves /health;
3. the peak during the transfer of every row, sampled every 5 ms: the paged
   ``db.query`` path of bench/transfer.py for the sidecars, ``GET /table`` for
   FastAPI (the same functions, imported). The RSS right after the transfer is
   recorded too: what the process keeps.

Binaries are launched once beforehand (the first launch fills Nuitka's
extraction cache; its READY figure is recorded apart), so the measured launches
are the ones every later start makes. Subjects run one at a time (nothing else of ours holds memory meanwhile); with
``--repeats`` above 1 each repeat starts every subject afresh, in a rotated
order, and the median of each figure is quoted. A PyInstaller onefile (and a
Nuitka one built with ``--bootstrap nuitka``) runs as two processes, a bootstrap
that unpacks and a child that is the sidecar; the tree RSS counts both. The
Nuitka onefile's exec launcher becomes the sidecar itself: one process. MB are
10^6 bytes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from _machine import machine_info
from _outputs import bar_chart, markdown_table, skipped_line, standard_arguments, write_outputs
from _paths import REPO
from _peer_http import fastapi_peer
from _peer_stdio import StdioPeer
from _process_tree import tree_rss_bytes
from _subjects import SIDECAR_PACKAGERS, Command, binary_path, clean_env, remove_tree, sidecar_command
from _transfer_data import (
    COLUMNS,
    FULL_PAGE,
    FULL_ROWS,
    MB,
    QUICK_PAGE,
    QUICK_ROWS,
    TABLE,
    create_database,
    fastapi_database,
    sidecar_data_dir,
)
from _transfer_paths import fastapi_table, paged_query
from _transfer_subjects import launch_once, warm_up_fastapi, warm_up_sidecar

PEAK_INTERVAL_S = 0.005


@dataclass
class Sample:
    """One fresh run of one subject: RSS in bytes at each point, the tree's process count, the transfer's time."""

    ready: int | None
    duckdb: int | None
    peak: int | None
    after: int | None
    processes: int
    transfer_s: float
    exit_status: int


def process_count(pid: int) -> int:
    """``pid`` and its descendants."""
    import psutil

    try:
        return 1 + len(psutil.Process(pid).children(recursive=True))
    except psutil.NoSuchProcess:
        return 0


def measure_sidecar(command: Command, rows: int, page_size: int) -> Sample:
    """RSS after READY, after SELECT 42, peak during the paged db.query transfer, after it."""
    with StdioPeer(command) as peer:
        ready = tree_rss_bytes(peer.pid)
        processes = process_count(peer.pid)
        warm_up_sidecar(peer)
        loaded = tree_rss_bytes(peer.pid)
        moved = paged_query(peer, rows, page_size, rss_interval_s=PEAK_INTERVAL_S)
        after = tree_rss_bytes(peer.pid)
        status = peer.close()
    return Sample(ready, loaded, moved.peak_rss, after, processes, moved.seconds, status)


def measure_fastapi(database: Path, env: dict[str, str], python: Path, rows: int) -> Sample:
    """RSS after the first /health 200, after POST /query SELECT 42, peak during GET /table, after it."""
    with fastapi_peer(database, env, python) as peer:
        ready = tree_rss_bytes(peer.pid)
        processes = process_count(peer.pid)
        warm_up_fastapi(peer)
        loaded = tree_rss_bytes(peer.pid)
        moved = fastapi_table(peer, rows, rss_interval_s=PEAK_INTERVAL_S)
        after = tree_rss_bytes(peer.pid)
        status = peer.close()
    return Sample(ready, loaded, moved.peak_rss, after, processes, moved.seconds, status)


def binary_sizes() -> dict[str, dict[str, Any]]:
    """Bytes and MB of each built sidecar binary."""
    sizes = {}
    for packager in SIDECAR_PACKAGERS:
        path = binary_path(packager)
        if path.is_file():
            size = path.stat().st_size
            sizes[packager] = {"path": str(path.relative_to(REPO)), "bytes": size, "mb": round(size / MB, 1)}
    return sizes


def median_mb(values: list[int | None]) -> float | None:
    """The median of the known values, in MB."""
    known = [v for v in values if v]
    return round(statistics.median(known) / MB, 1) if known else None


def summarize_subject(what: str, samples: list[Sample]) -> dict[str, Any]:
    """The JSON entry of one subject: median MB at each point, plus the raw samples."""
    return {
        "what": what,
        "processes": max(s.processes for s in samples),
        "after_ready_mb": median_mb([s.ready for s in samples]),
        "after_duckdb_mb": median_mb([s.duckdb for s in samples]),
        "peak_transfer_mb": median_mb([s.peak for s in samples]),
        "after_transfer_mb": median_mb([s.after for s in samples]),
        "transfer_s": round(statistics.median(s.transfer_s for s in samples), 3),
        "samples": [asdict(s) for s in samples],
    }


def render(document: dict[str, Any]) -> str:
    """The markdown report."""
    cfg = document["config"]
    m = document["machine"]
    sizes = document["binary_sizes"]
    lines = [
        f"# Memory: process-tree RSS of each subject (transfer of {cfg['rows']:,} rows)",
        "",
        f"{m['cpu']}, {m['cpus']} CPUs, {m['memory_gib']} GiB, {m['os']}, Python {m['python']}, "
        f"DuckDB {m['versions']['duckdb']}; {cfg['repeats']} fresh start(s) per subject"
        + (", medians" if cfg["repeats"] > 1 else "")
        + (" (--quick: sizes too small to quote)" if cfg["quick"] else "")
        + ".",
        "",
    ]
    rows = []
    for name, s in document["subjects"].items():
        size = sizes.get(name, {}).get("mb")
        rows.append(
            [
                f"`{name}`",
                s["what"],
                s["processes"],
                s["after_ready_mb"],
                s["after_duckdb_mb"],
                s["peak_transfer_mb"],
                s["after_transfer_mb"],
                s["transfer_s"],
                size,
            ]
        )
    lines.append(
        markdown_table(
            [
                "subject",
                "what",
                "processes",
                "after READY MB",
                "after DuckDB MB",
                "peak in transfer MB",
                "after transfer MB",
                "transfer s",
                "binary MB",
            ],
            rows,
        )
    )
    if sizes:
        lines.append(
            "Binary sizes: " + "; ".join(f"`{p}` {v['mb']} MB ({v['bytes']:,} bytes)" for p, v in sizes.items()) + "."
        )
        lines.append("")
    lines += [
        "Notes:",
        "",
        "- RSS is of the whole process tree (the process and its descendants). A PyInstaller onefile binary "
        "(and a Nuitka one with Nuitka's own bootstrap) runs as two processes, the bootstrap that unpacks the "
        "payload and the child that is the sidecar; the figures count both (`processes` column). The Nuitka "
        "onefile's exec launcher (build/launcher) replaces itself with the unpacked program: one process.",
        "- After READY: the moment the READY line is read (sidecar) or the first `GET /health` answers 200 (FastAPI). "
        "The sidecar loads DuckDB on its first engine method, so its READY figure is without DuckDB; "
        "FastAPI imports DuckDB and opens the database before it serves, so its two first figures hardly differ.",
        "- Binaries are measured as every launch but the first runs them: one launch beforehand fills the "
        "extraction cache (a private XDG_CACHE_HOME). The first launch after an install differs (it unpacks: "
        "what it wrote may stay in the page cache, and a bootstrap that stays alive keeps its own memory). "
        "After READY on that first launch: "
        + (", ".join(f"`{k}` {v} MB" for k, v in document["first_launch_after_ready_mb"].items()) or "-")
        + ".",
        "- After DuckDB: after a first small query (`db.query` `SELECT 42`; `POST /query`).",
        "- Peak in transfer: sampled every "
        f"{PEAK_INTERVAL_S * 1000:g} ms during the transfer of every row (sidecars: paged `db.query`, "
        f"pages of {cfg['page_size']:,}; FastAPI: `GET /table`, the whole result in one body), as in "
        "bench/transfer.py. After transfer: what the process keeps once the rows were delivered.",
        "- MB = 10^6 bytes.",
        "",
    ]
    if document["skipped"]:
        lines.append(skipped_line(document["skipped"]))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    standard_arguments(parser)
    parser.add_argument("--repeats", type=int, default=1, help="fresh starts per subject (default 1)")
    parser.add_argument(
        "--rows",
        type=int,
        default=None,
        help=f"table rows (default {FULL_ROWS:,}; --quick {QUICK_ROWS:,})",
    )
    parser.add_argument(
        "--page-size",
        type=int,
        default=None,
        help=f"db.query limit per page (default {FULL_PAGE:,}; --quick {QUICK_PAGE:,})",
    )
    args = parser.parse_args()
    rows = args.rows or (QUICK_ROWS if args.quick else FULL_ROWS)
    page_size = args.page_size or (QUICK_PAGE if args.quick else FULL_PAGE)

    machine = machine_info()
    work = Path(tempfile.mkdtemp(prefix="sidecar-bench-memory-"))
    try:
        env = clean_env(work)
        database = work / "bench.duckdb"
        create_database(database, rows)
        runners: dict[str, tuple[str, Callable[[int], Sample]]] = {}
        skipped: dict[str, str] = {}
        first_launch: dict[str, int | None] = {}
        for variant in ("source", *SIDECAR_PACKAGERS):
            if variant != "source" and not binary_path(variant).is_file():
                skipped[variant] = f"not built ({binary_path(variant)} is missing)"
                continue

            def run_sidecar(repeat: int, variant: str = variant) -> Sample:
                data_dir = sidecar_data_dir(work, f"{variant}-{repeat}", database)
                command = sidecar_command(variant, data_dir, env, args.python)
                assert command is not None
                return measure_sidecar(command, rows, page_size)

            what = "python -m sidecar" if variant == "source" else f"{variant} onefile binary"
            runners[variant] = (what, run_sidecar)
            if variant != "source":
                # The first launch (empty extraction cache); the measured ones come after it.
                first = sidecar_command(variant, work / f"data-{variant}-first", env, args.python)
                assert first is not None
                first_launch[variant] = launch_once(first)

        def run_fastapi(repeat: int) -> Sample:
            return measure_fastapi(fastapi_database(work, f"fastapi-{repeat}", database), env, args.python, rows)

        runners["fastapi"] = ("FastAPI on uvicorn", run_fastapi)

        names = list(runners)
        samples: dict[str, list[Sample]] = {name: [] for name in names}
        for repeat in range(args.repeats):
            turn = repeat % len(names)
            for name in names[turn:] + names[:turn]:
                sample = runners[name][1](repeat)
                samples[name].append(sample)
                print(
                    f"repeat {repeat + 1}/{args.repeats} {name:<12} ready {sample.ready} duckdb {sample.duckdb} "
                    f"peak {sample.peak} bytes",
                    file=sys.stderr,
                )
    finally:
        remove_tree(work)

    subjects = {name: summarize_subject(runners[name][0], samples[name]) for name in names}
    document: dict[str, Any] = {
        "machine": machine,
        "config": {
            "rows": rows,
            "page_size": page_size,
            "repeats": args.repeats,
            "quick": args.quick,
            "peak_interval_s": PEAK_INTERVAL_S,
            "table": f"{TABLE}({', '.join(COLUMNS)})",
        },
        "skipped": skipped,
        "binary_sizes": binary_sizes(),
        "first_launch_after_ready_mb": {k: round(v / MB, 1) if v else None for k, v in first_launch.items()},
        "subjects": subjects,
    }

    def chart(path: Path) -> None:
        bar_chart(
            path,
            f"Process-tree RSS, MB (transfer of {rows:,} rows; lower is better)",
            names,
            {
                "after READY": [subjects[n]["after_ready_mb"] for n in names],
                "after DuckDB": [subjects[n]["after_duckdb_mb"] for n in names],
                "peak in transfer": [subjects[n]["peak_transfer_mb"] for n in names],
            },
            "MB",
        )

    write_outputs(args.out, "memory", document, render(document), chart)
    return 0


if __name__ == "__main__":
    sys.exit(main())
