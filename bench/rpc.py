#!/usr/bin/env python3
"""RPC latency and throughput: the sidecar against what a user would pick instead.

    .venv/bin/python bench/rpc.py [--rounds 3] [--quick] [--out dist/bench]

Subjects (a binary that is not built is skipped and recorded as such):

* ``source``       the sidecar, ``python -m sidecar``
* ``nuitka``       the Nuitka onefile binary (dist/nuitka), ``pyinstaller`` likewise
* ``fastapi``      bench/subjects/fastapi_server.py: FastAPI on uvicorn (uvloop,
                   httptools) over localhost HTTP, one keep-alive connection
* ``mcp``          bench/subjects/mcp_stdio_server.py: the MCP Python SDK's
                   stdio server, which reads stdin through worker threads
* ``source-hostpoll`` the sidecar from source with a client that polls its
                   read for up to 50 us before sleeping in it (what the
                   sidecar's own reader does; an idle host costs nothing):
                   the round trip without the host's own wake-up (a
                   reference for host authors, not a contender)
* ``floor``        bench/subjects/stdio_floor.py: a blocking read-answer loop,
                   the cheapest Python stdio answerer (ping only); not a
                   contender, the floor under every stdio design

Operations: ``ping`` (``system.ping``; MCP's ``ping``; ``GET /ping``), a
small query (``SELECT i, i * 2 FROM range(10)``: ``db.query``; the MCP tool
``query``; ``POST /query``), each on its own DuckDB cursor in a worker thread,
and a 10,000-row page of (BIGINT, DOUBLE, VARCHAR, TIMESTAMP) as JSON
(``db.query``; FastAPI's ``POST /rows``, the rows encoded with msgspec, its
fastest JSON; not asked of MCP), sequential only, also in ``db.query``'s column
layout (``layout: "columns"``, one JSON array per column; "columns page" below).

* sequential: one request at a time, the round trip of each, pooled over the
  rounds; p50 (median) and p95 quoted.
* pipelined: N requests written back to back (HTTP/1.1 pipelining for
  FastAPI) while the answers are read; requests/s, the median of the rounds.

All subjects run for the whole run and are measured in interleaved rounds
(round r visits them in a rotated order), so a busy machine slows them alike.
The client is a thin blocking one (bench/_peer_stdio.py) and checks every answer.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _machine import machine_info
from _outputs import bar_chart, markdown_table, skipped_line, standard_arguments, write_outputs
from _peer_http import fastapi_peer
from _peer_stdio import StdioPeer
from _stats import ratio, summarize
from _subjects import SIDECAR_PACKAGERS, binary_path, clean_env, python_subject, remove_tree, sidecar_command

QUERY_SQL = "SELECT i, i * 2 AS doubled FROM range(10) t(i)"
PAGE_ROWS = 10_000
PAGE_SQL = (
    "SELECT i AS id, i * 0.25::DOUBLE AS x, 'name-' || i AS name, "
    f"TIMESTAMP '2024-01-01' + i * INTERVAL 1 SECOND AS ts FROM range({PAGE_ROWS}) t(i)"
)
HOST_POLL_S = 50e-6
TARGET_PING_P50_US = 50.0
TARGET_PING_VS_FASTAPI = 20.0  # issue 14, target 6 (issue 7 asked 30x)
TARGET_QUERY_VS_FASTAPI = 0.5  # issue 14, target 1: at most half FastAPI's p50
TARGET_PAGE_VS_FASTAPI = 0.5  # issue 14, target 2
TARGET_PIPELINED_PER_S = 50_000


@dataclass
class Subject:
    """One contender: how to start it and what its ping and query requests are."""

    name: str
    what: str
    start: Callable[[], Any]
    ping: tuple[str, Any]
    query: tuple[str, Any] | None
    page: tuple[str, Any] | None = None
    page_columns: tuple[str, Any] | None = None


@dataclass
class Counts:
    ping_seq: int
    query_seq: int
    ping_pipe: int
    query_pipe: int
    page_seq: int


def subjects(work: Path, python: Path) -> tuple[list[Subject], dict[str, str]]:
    """The subjects that can run here, and the skipped ones with why."""
    env = clean_env(work)
    found: list[Subject] = []
    skipped: dict[str, str] = {}
    sidecar_ping = ("system.ping", None)
    sidecar_query = ("db.query", {"sql": QUERY_SQL})
    sidecar_page = ("db.query", {"sql": PAGE_SQL, "limit": PAGE_ROWS})
    sidecar_page_columns = ("db.query", {"sql": PAGE_SQL, "limit": PAGE_ROWS, "layout": "columns"})
    for variant in ("source", *SIDECAR_PACKAGERS):
        command = sidecar_command(variant, work / f"data-{variant}", env, python)
        if command is None:
            skipped[variant] = f"not built ({binary_path(variant)} is missing)"
            continue
        what = "the sidecar from source" if variant == "source" else f"the {variant} onefile binary"
        found.append(
            Subject(
                variant,
                what,
                lambda command=command: StdioPeer(command),  # type: ignore[misc]
                sidecar_ping,
                sidecar_query,
                sidecar_page,
                sidecar_page_columns,
            )
        )
        if variant == "source":
            # The same sidecar with a host that polls its read for up to 50 us before sleeping: what
            # is left of a round trip without the host's own wake-up (not a target, a reference).
            polled = sidecar_command("source", work / "data-source-hostpoll", env, python)
            assert polled is not None
            found.append(
                Subject(
                    "source-hostpoll",
                    "the sidecar from source, host polls 50 us before sleeping (reference)",
                    lambda polled=polled: StdioPeer(polled, host_polls=HOST_POLL_S),
                    sidecar_ping,
                    sidecar_query,
                )
            )
    found.append(
        Subject(
            "fastapi",
            "FastAPI/uvicorn, localhost HTTP keep-alive",
            lambda: fastapi_peer(work / "fastapi.duckdb", env, python),
            ("/ping", None),
            ("/query", {"sql": QUERY_SQL}),
            ("/rows", {"sql": PAGE_SQL}),
        )
    )
    mcp = python_subject("mcp_stdio_server.py", "--db", str(work / "mcp.duckdb"), env=env, python=python)
    found.append(
        Subject(
            "mcp",
            "MCP Python SDK stdio server (thread-read stdin)",
            lambda: StdioPeer(mcp, ready="mcp"),
            ("ping", None),
            ("tools/call", {"name": "query", "arguments": {"sql": QUERY_SQL}}),
        )
    )
    floor = python_subject("stdio_floor.py", env=env, python=python)
    found.append(
        Subject(
            "floor",
            "blocking stdio loop, ping only (reference)",
            lambda: StdioPeer(floor),
            ("system.ping", None),
            None,
        )
    )
    return found, skipped


def measure(
    peer: Any, subject: Subject, counts: Counts, samples: dict[str, list[float]], rates: dict[str, list[float]]
) -> None:
    """One round of the four operations on an open peer."""
    samples["ping"] += peer.sequential_us(*subject.ping, counts.ping_seq, counts.ping_seq // 10)
    rates["ping"].append(peer.pipelined_per_s(*subject.ping, counts.ping_pipe))
    if subject.query is not None:
        samples["query"] += peer.sequential_us(*subject.query, counts.query_seq, counts.query_seq // 10)
        rates["query"].append(peer.pipelined_per_s(*subject.query, counts.query_pipe))
    if subject.page is not None:
        samples["page"] += peer.sequential_us(*subject.page, counts.page_seq, max(2, counts.page_seq // 10))
    if subject.page_columns is not None:
        warm = max(2, counts.page_seq // 10)
        samples["page_columns"] += peer.sequential_us(*subject.page_columns, counts.page_seq, warm)


def run(rounds: int, counts: Counts, python: Path) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="sidecar-bench-rpc-"))
    machine = machine_info()
    found, skipped = subjects(work, python)
    peers: dict[str, Any] = {}
    samples = {s.name: {"ping": [], "query": [], "page": [], "page_columns": []} for s in found}
    rates = {s.name: {"ping": [], "query": [], "page": [], "page_columns": []} for s in found}
    try:
        for subject in found:
            peers[subject.name] = subject.start()
            if subject.query is not None:  # open the database, warm the paths
                method, params = subject.query
                peers[subject.name].sequential_us(method, params, 20, 0)
        for r in range(rounds):
            order = found[r % len(found) :] + found[: r % len(found)]
            for subject in order:
                measure(peers[subject.name], subject, counts, samples[subject.name], rates[subject.name])
                print(f"round {r + 1}/{rounds}: {subject.name} done", file=sys.stderr)
        exits = {name: peer.close() for name, peer in peers.items()}
    finally:
        for peer in peers.values():
            peer.kill()
        remove_tree(work)

    results: dict[str, Any] = {}
    for subject in found:
        entry: dict[str, Any] = {"what": subject.what, "exit_status": exits[subject.name]}
        for op in ("ping", "query", "page", "page_columns"):
            if samples[subject.name][op]:
                entry[f"{op}_sequential_us"] = summarize(samples[subject.name][op])
            if rates[subject.name][op]:
                entry[f"{op}_pipelined_per_s"] = round(
                    sorted(rates[subject.name][op])[len(rates[subject.name][op]) // 2]
                )
        results[subject.name] = entry
    return {
        "machine": machine,
        "rounds": rounds,
        "counts": counts.__dict__,
        "query_sql": QUERY_SQL,
        "page_sql": PAGE_SQL,
        "subjects": results,
        "skipped": skipped,
        "targets": targets(results),
    }


def _p50(results: dict[str, Any], name: str, op: str) -> float | None:
    entry = results.get(name, {}).get(f"{op}_sequential_us")
    return entry["p50"] if entry else None


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The targets of issues 7 and 14 this script measures, each with the value and whether it is met."""
    ping = _p50(results, "source", "ping")
    vs_fastapi = ratio(_p50(results, "fastapi", "ping"), ping)
    query_share = ratio(_p50(results, "source", "query"), _p50(results, "fastapi", "query"))
    page_share = ratio(_p50(results, "source", "page"), _p50(results, "fastapi", "page"))
    columns_share = ratio(_p50(results, "source", "page_columns"), _p50(results, "fastapi", "page"))
    pipelined = results.get("source", {}).get("ping_pipelined_per_s")
    return [
        {
            "target": f"ping p50 from source <= {TARGET_PING_P50_US:.0f} us",
            "value": ping,
            "met": ping is not None and ping <= TARGET_PING_P50_US,
        },
        {
            "target": f"ping p50 >= {TARGET_PING_VS_FASTAPI:.0f}x faster than FastAPI",
            "value": vs_fastapi,
            "met": vs_fastapi is not None and vs_fastapi >= TARGET_PING_VS_FASTAPI,
        },
        {
            "target": f"small query p50 <= {TARGET_QUERY_VS_FASTAPI}x FastAPI's",
            "value": query_share,
            "met": query_share is not None and query_share <= TARGET_QUERY_VS_FASTAPI,
        },
        {
            "target": f"{PAGE_ROWS:,}-row page p50 <= {TARGET_PAGE_VS_FASTAPI}x FastAPI's",
            "value": page_share,
            "met": page_share is not None and page_share <= TARGET_PAGE_VS_FASTAPI,
        },
        {
            "target": f"{PAGE_ROWS:,}-row page, layout columns, p50 <= {TARGET_PAGE_VS_FASTAPI}x FastAPI's rows",
            "value": columns_share,
            "met": columns_share is not None and columns_share <= TARGET_PAGE_VS_FASTAPI,
        },
        {
            "target": f">= {TARGET_PIPELINED_PER_S:,} pipelined pings/s from source",
            "value": pipelined,
            "met": pipelined is not None and pipelined >= TARGET_PIPELINED_PER_S,
        },
    ]


def render(document: dict[str, Any]) -> str:
    results = document["subjects"]
    source_ping = _p50(results, "source", "ping")
    source_query = _p50(results, "source", "query")
    rows = []
    for name, entry in results.items():
        ping, query = entry.get("ping_sequential_us"), entry.get("query_sequential_us")
        page = entry.get("page_sequential_us")
        page_columns = entry.get("page_columns_sequential_us")
        rows.append(
            [
                f"`{name}`",
                entry["what"],
                ping and ping["p50"],
                ping and ping["p95"],
                query and query["p50"],
                query and query["p95"],
                entry.get("ping_pipelined_per_s") and f"{entry['ping_pipelined_per_s']:,}",
                entry.get("query_pipelined_per_s") and f"{entry['query_pipelined_per_s']:,}",
                page and page["p50"],
                page_columns and page_columns["p50"],
                ratio(ping and ping["p50"], source_ping),
                ratio(query and query["p50"], source_query),
            ]
        )
    m = document["machine"]
    out = [
        f"### RPC latency and throughput ({m['date_utc']}, {m['cpu']}, {m['cpus']} CPUs)\n",
        f"{document['rounds']} interleaved rounds; per round {document['counts']['ping_seq']} sequential pings, "
        f"{document['counts']['query_seq']} sequential queries (`{document['query_sql']}`), "
        f"{document['counts']['ping_pipe']} pipelined pings, {document['counts']['query_pipe']} pipelined queries "
        f"and {document['counts']['page_seq']} sequential {PAGE_ROWS:,}-row pages (`{document['page_sql']}`). "
        "Latency in microseconds, round trip as the host sees it.\n",
        markdown_table(
            [
                "subject",
                "what",
                "ping p50",
                "ping p95",
                "query p50",
                "query p95",
                "pings/s pipelined",
                "queries/s pipelined",
                f"{PAGE_ROWS // 1000}k-row page p50",
                f"{PAGE_ROWS // 1000}k columns page p50",
                "ping p50 / source",
                "query p50 / source",
            ],
            rows,
        ),
    ]
    if document["skipped"]:
        out.append(skipped_line(document["skipped"]))
    out.append(
        markdown_table(
            ["target", "measured", "met"],
            [[t["target"], t["value"], "yes" if t["met"] else "**no**"] for t in document["targets"]],
        )
    )
    return "\n".join(out)


def chart(document: dict[str, Any]) -> Callable[[Path], None]:
    results = document["subjects"]
    names = list(results)

    def draw(path: Path) -> None:
        bar_chart(
            path,
            "Sequential round trip p50 (log scale, lower is better)",
            names,
            {
                "ping p50 (us)": [_p50(results, n, "ping") for n in names],
                "small query p50 (us)": [_p50(results, n, "query") for n in names],
                f"{PAGE_ROWS:,}-row page p50 (us)": [_p50(results, n, "page") for n in names],
                f"{PAGE_ROWS:,}-row page, columns, p50 (us)": [_p50(results, n, "page_columns") for n in names],
            },
            "microseconds",
            log=True,
        )

    return draw


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    standard_arguments(parser)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.quick:
        counts, rounds = Counts(ping_seq=200, query_seq=50, ping_pipe=500, query_pipe=100, page_seq=5), 1
    else:
        counts = Counts(ping_seq=5000, query_seq=1000, ping_pipe=20000, query_pipe=2000, page_seq=100)
        rounds = args.rounds
    document = run(rounds, counts, args.python)
    write_outputs(args.out, "rpc", document, render(document), chart(document))
    return 0


if __name__ == "__main__":
    sys.exit(main())
