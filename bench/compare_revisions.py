#!/usr/bin/env python3
"""Before/after: the sidecar from source at two git revisions, interleaved in one run.

    .venv/bin/python bench/compare_revisions.py --before REV [--after REV] [--rounds 5] [--quick] [--out dist/bench]

``--after`` defaults to the working tree. Each revision is checked out into a
temporary ``git worktree`` and run with this venv's Python
(``PYTHONPATH=<worktree>``, started from a neutral directory so the working
tree's own package cannot shadow it). Both sidecars get a copy of the same
DuckDB file (1M rows x 4 columns, bench/transfer.py's) and are measured in
alternating order each round:

* ``system.ping``: sequential round trips (3000 after 300 warm-up per round)
* a small ``db.query`` (``SELECT i, i * 2 FROM range(10)``): 500 after 50 per round
* the 1M-row paged transfer of bench/transfer.py: keyset pages of 100 000
  through ``db.query`` until every row is on the host, ids checked (one per round)

This is how the figures for a fix are quoted: both sides in the same run, on
the same machine, medians. The dependencies are this venv's, so a revision
that needs different ones is not comparable this way.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _machine import machine_info
from _outputs import bar_chart, markdown_table, standard_arguments, write_outputs
from _paths import REPO
from _peer_stdio import StdioPeer
from _stats import ratio, summarize
from _subjects import clean_env, remove_tree, sidecar_command
from _transfer_data import create_database, sidecar_data_dir
from _transfer_paths import paged_query

QUERY = {"sql": "SELECT i, i * 2 AS doubled FROM range(10) t(i)"}


def worktree(revision: str, into: Path) -> Path:
    """Check ``revision`` out into ``into`` (a detached git worktree)."""
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(into), revision], check=True)
    return into


def run(
    before: str, after: str | None, rounds: int, rows: int, page: int, seq: tuple[int, int], python: Path
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="sidecar-bench-compare-"))
    machine = machine_info()
    trees = {"before": worktree(before, work / "before")}
    trees["after"] = worktree(after, work / "after") if after else REPO
    labels = {"before": before, "after": after or "working tree"}
    peers: dict[str, StdioPeer] = {}
    try:
        env = clean_env(work)
        seed = work / "seed.duckdb"
        create_database(seed, rows)
        for side, tree in trees.items():
            data = sidecar_data_dir(work, side, seed)
            command = sidecar_command("source", data, env, python)
            assert command is not None
            command.env["PYTHONPATH"] = str(tree)
            command.cwd = str(work)
            peers[side] = StdioPeer(command)
            peers[side].call("db.query", {"sql": "SELECT 42"})  # DuckDB loaded, file open
        samples: dict[str, dict[str, list[float]]] = {s: {"ping": [], "query": [], "paged": []} for s in peers}
        for r in range(rounds):
            order = list(peers) if r % 2 == 0 else list(peers)[::-1]
            for side in order:
                peer = peers[side]
                samples[side]["ping"] += peer.sequential_us("system.ping", None, seq[0], seq[0] // 10)
                samples[side]["query"] += peer.sequential_us("db.query", QUERY, seq[1], seq[1] // 10)
                samples[side]["paged"].append(paged_query(peer, rows, page).seconds)
            print(f"round {r + 1}/{rounds} done", file=sys.stderr)
        exits = {side: peer.close() for side, peer in peers.items()}
    finally:
        for peer in peers.values():
            peer.kill()
        for side in ("before", "after"):
            if trees.get(side) is not None and trees[side] != REPO:
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(trees[side])], check=False)
        remove_tree(work)
    results = {
        side: {
            "revision": labels[side],
            "ping_us": summarize(s["ping"]),
            "query_us": summarize(s["query"]),
            "paged_s": summarize(s["paged"], digits=3),
            "exit_status": exits[side],
        }
        for side, s in samples.items()
    }
    return {"machine": machine, "rounds": rounds, "rows": rows, "page_size": page, "results": results}


def render(document: dict[str, Any]) -> str:
    b, a = document["results"]["before"], document["results"]["after"]
    m = document["machine"]
    rows = [
        [
            "system.ping p50 (us)",
            b["ping_us"]["p50"],
            a["ping_us"]["p50"],
            ratio(b["ping_us"]["p50"], a["ping_us"]["p50"]),
        ],
        [
            "system.ping p95 (us)",
            b["ping_us"]["p95"],
            a["ping_us"]["p95"],
            ratio(b["ping_us"]["p95"], a["ping_us"]["p95"]),
        ],
        [
            "small db.query p50 (us)",
            b["query_us"]["p50"],
            a["query_us"]["p50"],
            ratio(b["query_us"]["p50"], a["query_us"]["p50"]),
        ],
        [
            f"{document['rows']:,} rows paged (s, median)",
            b["paged_s"]["p50"],
            a["paged_s"]["p50"],
            ratio(b["paged_s"]["p50"], a["paged_s"]["p50"]),
        ],
    ]
    return (
        f"### Before/after: `{b['revision']}` vs `{a['revision']}` ({m['date_utc']}, {m['cpu']}, {m['cpus']} CPUs)\n\n"
        f"{document['rounds']} rounds, the two sidecars alternating; pages of {document['page_size']:,} rows.\n\n"
        + markdown_table(["measure", "before", "after", "before / after"], rows)
    )


def chart(document: dict[str, Any]) -> Callable[[Path], None]:
    b, a = document["results"]["before"], document["results"]["after"]

    def draw(path: Path) -> None:
        bar_chart(
            path,
            "Before / after (lower is better)",
            ["ping p50 us", "query p50 us / 100", "paged 1M s x 100"],
            {
                "before": [b["ping_us"]["p50"], b["query_us"]["p50"] / 100, b["paged_s"]["p50"] * 100],
                "after": [a["ping_us"]["p50"], a["query_us"]["p50"] / 100, a["paged_s"]["p50"] * 100],
            },
            "see labels",
        )

    return draw


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    standard_arguments(parser)
    parser.add_argument("--before", required=True, help="git revision measured as 'before'")
    parser.add_argument("--after", default=None, help="git revision measured as 'after' (default: the working tree)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if args.quick:
        document = run(args.before, args.after, 1, 20_000, 5_000, (200, 50), args.python)
    else:
        document = run(args.before, args.after, args.rounds, 1_000_000, 100_000, (3000, 500), args.python)
    write_outputs(args.out, "compare", document, render(document), chart(document))
    return 0


if __name__ == "__main__":
    sys.exit(main())
