"""The subjects of bench/transfer.py, started and warmed, and the routes through them."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from _peer_http import HttpPeer, fastapi_peer
from _peer_stdio import StdioPeer
from _process_tree import tree_rss_bytes
from _subjects import SIDECAR_PACKAGERS, BenchError, Command, binary_path, clean_env, sidecar_command
from _transfer_data import fastapi_database, sidecar_data_dir
from _transfer_paths import Transfer, export_parquet, fastapi_table, paged_columns, paged_query, rpc

_decode = msgspec.json.decode

SIDECAR_VARIANTS = ("source", *SIDECAR_PACKAGERS)


def launch_once(command: Command) -> int | None:
    """Start ``command`` to READY and close it; the tree RSS at READY.

    For a Nuitka onefile binary the first launch fills its extraction cache, and
    that bootstrap keeps about 37 MB resident for its whole life (a warm one
    about 5 MB): launching once first measures the binary as every later
    launch runs it.
    """
    with StdioPeer(command) as peer:
        rss = tree_rss_bytes(peer.pid)
        peer.close()
    return rss


def warm_up_sidecar(peer: StdioPeer) -> None:
    """A first small query: the engine starts (DuckDB imported, engine.duckdb opened)."""
    result, _ = rpc(peer, "db.query", {"sql": "SELECT 42 AS answer"})
    if result["rows"] != [[42]]:
        raise BenchError(f"SELECT 42 answered {result['rows']!r}")


def warm_up_fastapi(peer: HttpPeer) -> None:
    """A first small query through ``POST /query``."""
    answer = _decode(peer.post("/query", {"sql": "SELECT 42 AS answer"}))
    if answer["rows"] != [[42]]:
        raise BenchError(f"SELECT 42 answered {answer['rows']!r}")


@dataclass
class Route:
    """One measured path: its name, what it is, and the transfer it runs (given the repeat index)."""

    name: str
    what: str
    pid: int
    run: Callable[[int], Transfer]


def start_subjects(
    stack: ExitStack,
    work: Path,
    database: Path,
    python: Path,
    rows: int,
    page_size: int,
    variants: list[str],
) -> tuple[list[Route], dict[str, Any], dict[str, str]]:
    """Start every subject that can run here (warmed), and the routes through them."""
    env = clean_env(work)
    routes: list[Route] = []
    peers: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for variant in SIDECAR_VARIANTS:
        if variant not in variants:
            skipped[variant] = "left out (--sidecars)"
            continue
        data_dir = sidecar_data_dir(work, variant, database)
        command = sidecar_command(variant, data_dir, env, python)
        if command is None:
            skipped[variant] = f"not built ({binary_path(variant)} is missing)"
            continue
        if variant != "source":
            launch_once(command)  # the extraction cache warm, as for every launch but the first
        peer = stack.enter_context(StdioPeer(command))
        warm_up_sidecar(peer)
        peers[variant] = peer
        routes.append(
            Route(
                f"query/{variant}",
                f"paged db.query, sidecar {variant}",
                peer.pid,
                lambda _r, p=peer: paged_query(p, rows, page_size),
            )
        )
        routes.append(
            Route(
                f"columns/{variant}",
                f"paged db.query, layout columns, sidecar {variant}",
                peer.pid,
                lambda _r, p=peer: paged_columns(p, rows, page_size),
            )
        )
        routes.append(
            Route(
                f"export/{variant}",
                f"db.export Parquet by path, sidecar {variant}",
                peer.pid,
                # Inside the sidecar's own exports/ folder: the only place it writes without a grant.
                lambda r, p=peer, v=variant, d=data_dir: export_parquet(p, rows, d / "exports" / f"{v}-{r}.parquet"),
            )
        )
    http = stack.enter_context(fastapi_peer(fastapi_database(work, "fastapi", database), env, python))
    warm_up_fastapi(http)
    peers["fastapi"] = http
    routes.append(
        Route("json/fastapi", "GET /table JSON, FastAPI on uvicorn", http.pid, lambda _r: fastapi_table(http, rows))
    )
    return routes, peers, skipped
