"""Damaged files in a cleanly stopped data dir, then a restart (real files, a real sidecar process).

A damaged state store (state.sqlite3: truncated, garbled header, garbled pages) is moved aside
and replaced by a fresh one, announced by ``engine.state_reset`` and in ``system.status``;
DuckDB, settings and secrets never notice. A damaged engine.duckdb answers
``database_corrupt`` (never ``database_locked``) while jobs and settings keep working.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from sidecar_host import RpcCallError
from tests.support import running_sidecar


def _truncate(path: Path) -> None:
    os.truncate(path, 100)


def _garble_header(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.write(b"this is not sqlite" * 4)


def _garble_pages(path: Path) -> None:
    size = path.stat().st_size
    with path.open("r+b") as handle:
        for offset in range(4096, size, 8192):  # every other page after the first
            handle.seek(offset)
            handle.write(b"\xa5" * 4096)


async def _prepare(data_dir: Path) -> None:
    """A data dir with jobs in its state store and a table in DuckDB, stopped cleanly."""
    async with running_sidecar(data_dir) as sidecar:
        await sidecar.call("db.query", {"sql": "CREATE TABLE kept AS SELECT 7 AS seven", "allow_write": True})
        await sidecar.call("settings.set", {"values": {"query_default_limit": 77}})
        for n in range(40):  # enough rows for several pages
            job = await sidecar.call(
                "jobs.submit", {"type": "export", "payload": {"sql": f"SELECT {n} AS n", "format": "csv"}}
            )
        with anyio.fail_after(30):
            while (await sidecar.call("jobs.get", {"job_id": job["job_id"]}))["status"] in ("queued", "running"):
                await anyio.sleep(0.05)
    assert sidecar.stop_result is not None and sidecar.stop_result.exit_status == 0


@pytest.mark.anyio
@pytest.mark.parametrize("damage", [_truncate, _garble_header, _garble_pages])
async def test_a_damaged_state_store_is_moved_aside_and_replaced(
    damage: Callable[[Path], None], data_dir: Path
) -> None:
    await _prepare(data_dir)
    damage(data_dir / "state.sqlite3")
    async with running_sidecar(data_dir) as sidecar:
        with anyio.fail_after(10):
            note = await sidecar.notifications.receive()  # the engine starts after READY: a state store exists
        assert note.method == "engine.state_reset"
        jobs = await sidecar.call("jobs.list", {})
        assert jobs["jobs"] == []  # a fresh store: the history is what was lost
        status = await sidecar.call("system.status")
        reset = status["state_reset"]
        assert (
            reset["lost"] == ["job history", "pipeline run ledger", "schedules and their firing history"]
            and reset["reason"]
        )
        moved = Path(reset["moved_to"])
        assert moved.parent == data_dir and moved.name.startswith("state.sqlite3.damaged-") and moved.is_file()
        # Everything else never noticed.
        assert (await sidecar.call("db.query", {"sql": "SELECT seven FROM kept"}))["rows"] == [[7]]
        assert (await sidecar.call("settings.get"))["settings"]["query_default_limit"] == 77
        job = await sidecar.call("jobs.submit", {"type": "export", "payload": {"sql": "SELECT 1", "format": "csv"}})
        with anyio.fail_after(30):
            while (done := await sidecar.call("jobs.get", {"job_id": job["job_id"]}))["status"] in (
                "queued",
                "running",
            ):
                await anyio.sleep(0.05)
        assert done["status"] == "succeeded"
    async with running_sidecar(data_dir) as sidecar:  # the fresh store is sound: no second reset
        assert (await sidecar.call("system.status"))["state_reset"] is None
        assert len((await sidecar.call("jobs.list", {}))["jobs"]) == 1


@pytest.mark.anyio
async def test_a_damaged_engine_database_is_database_corrupt_and_the_rest_works(data_dir: Path) -> None:
    await _prepare(data_dir)
    with (data_dir / "engine.duckdb").open("r+b") as handle:
        handle.write(b"\xff" * 64)
    async with running_sidecar(data_dir) as sidecar:
        with pytest.raises(RpcCallError) as caught:
            await sidecar.call("db.query", {"sql": "SELECT 1"})
        assert caught.value.kind == "database_corrupt", caught.value
        assert len((await sidecar.call("jobs.list", {}))["jobs"]) == 40
        assert (await sidecar.call("settings.get"))["settings"]["query_default_limit"] == 77
