"""The engine inside the sidecar's life: lazy start, system.status, settings, discovery, shutdown."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import duckdb
import pytest

from sidecar_host import RpcCallError
from tests.fixtures.engine.support import collecting
from tests.support import running_sidecar

pytestmark = pytest.mark.anyio

LONG_QUERY = "SELECT count(*) FROM range(4000000000) t(i) WHERE i % 7 = 3"
ENGINE_METHODS = {
    "db.query",
    "db.export",
    "db.tables",
    "db.describe",
    "jobs.submit",
    "jobs.get",
    "jobs.list",
    "jobs.cancel",
    "jobs.events",
    "runs.get",
    "runs.list",
    "reports.get",
    "schedules.create",
    "schedules.get",
    "schedules.list",
    "schedules.update",
    "schedules.delete",
    "schedules.pause",
    "schedules.resume",
    "schedules.run_now",
    "schedules.history",
    "files.grant",
    "files.revoke",
    "files.grants",
    "secrets.set",
    "secrets.get",
    "secrets.delete",
    "secrets.list",
    "settings.get",
    "settings.set",
}


def _mapped(pid: int, needle: str) -> bool:
    """True if a file whose path contains ``needle`` is mapped into process ``pid``."""
    return any(needle in line for line in Path(f"/proc/{pid}/maps").read_text().splitlines())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/maps")
async def test_ready_loads_no_database_and_status_works_before_the_engine(data_dir: Path) -> None:
    async with running_sidecar(data_dir) as sidecar:
        assert sidecar.boot is not None
        pid = int(sidecar.boot.fields["pid"])
        status = await sidecar.call("system.status")
        assert status["engine_started"] is False and status["jobs_by_status"] == {}
        assert status["queue_depth"] == 0 and status["workers"] == {"active": 0, "idle": 0}
        assert status["duckdb_bytes"] == 0 and status["rss_bytes"] > 10_000_000
        assert not _mapped(pid, "_duckdb"), "DuckDB was loaded before any engine call"
        assert not _mapped(pid, "cryptography"), "the keychain stack was loaded before any secrets call"
        await sidecar.call("jobs.list")  # starts the engine (job store), still no DuckDB
        assert not _mapped(pid, "_duckdb")
        await sidecar.call("db.query", {"sql": "CREATE TABLE t AS SELECT 1 AS a", "allow_write": True})
        assert _mapped(pid, "_duckdb")
        status = await sidecar.call("system.status")
        assert status["engine_started"] is True and status["duckdb_bytes"] > 0
        assert status["workers"] == {"active": 0, "idle": 2}
        assert status["jobs_by_status"] == {"queued": 0, "running": 0, "succeeded": 0, "failed": 0, "canceled": 0}


async def test_discovery_lists_every_engine_method_with_its_params(data_dir: Path) -> None:
    async with running_sidecar(data_dir) as sidecar:
        document = await sidecar.call("rpc.discover")
    methods = {method["name"]: method for method in document["methods"]}
    assert set(methods) >= ENGINE_METHODS
    db_query_params = ["sql", "params", "limit", "timeout_ms", "allow_write", "layout"]
    assert [p["name"] for p in methods["db.query"]["params"]] == db_query_params
    assert [p["name"] for p in methods["db.query"]["params"] if p["required"]] == ["sql"]
    assert [p["name"] for p in methods["jobs.submit"]["params"]] == ["type", "payload", "run_id"]
    for name in ENGINE_METHODS:
        assert methods[name].get("summary"), f"{name} has no summary"
    schemas = document["components"]["schemas"]
    assert "JobRecord" in schemas and "RunReport" in schemas and "Settings" in schemas
    notes = {note["name"]: note["params"]["schema"]["$ref"] for note in document["x-notifications"]}
    assert notes == {
        "engine.state_reset": "#/components/schemas/StateReset",
        "job.progress": "#/components/schemas/JobProgressNote",
        "job.status": "#/components/schemas/JobStatusNote",
        "schedule.fired": "#/components/schemas/ScheduleFiredNote",
        "schedule.skipped": "#/components/schemas/ScheduleSkippedNote",
    }


async def test_settings_are_typed_validated_and_persisted(data_dir: Path) -> None:
    async with running_sidecar(data_dir) as sidecar:
        defaults = (await sidecar.call("settings.get"))["settings"]
        assert defaults["query_default_limit"] == 10_000 and defaults["jobs_concurrency"] == 2
        changed = await sidecar.call("settings.set", {"values": {"jobs_concurrency": 3, "query_default_limit": 5}})
        assert changed["settings"]["jobs_concurrency"] == 3 and changed["path"] == str(data_dir / "settings.json")
        for values, path in (
            ({"bogus": 1}, "$.values.bogus"),
            ({"jobs_concurrency": "many"}, "$.values.jobs_concurrency"),
            ({"jobs_concurrency": 0}, "$.values.jobs_concurrency"),
            ({"query_default_limit": 200_000}, "$.values.query_default_limit"),
            ({"duckdb_memory_limit": "lots"}, "$.values.duckdb_memory_limit"),
        ):
            with pytest.raises(RpcCallError) as refused:
                await sidecar.call("settings.set", {"values": values})
            assert refused.value.code == -32602 and refused.value.data["path"] == path, values
        rows = await sidecar.call("db.query", {"sql": "SELECT * FROM range(100)"})
        assert rows["row_count"] == 5 and rows["truncated"] is True
        assert (await sidecar.call("system.status"))["workers"]["idle"] == 3
    stored = json.loads((data_dir / "settings.json").read_text())
    assert stored["jobs_concurrency"] == 3 and stored["query_default_limit"] == 5
    assert sorted(p.name for p in data_dir.iterdir() if "settings" in p.name) == ["settings.json"]
    async with running_sidecar(data_dir) as sidecar:
        assert (await sidecar.call("settings.get"))["settings"] == {
            **defaults,
            "jobs_concurrency": 3,
            "query_default_limit": 5,
        }


@pytest.mark.parametrize("how", ["system.shutdown", "stdin EOF", "SIGTERM"])
async def test_every_shutdown_path_closes_duckdb_cleanly(data_dir: Path, how: str) -> None:
    async with running_sidecar(data_dir) as sidecar, collecting(sidecar) as notes:
        await sidecar.call("db.query", {"sql": "CREATE TABLE t AS SELECT * FROM range(1000) r(i)", "allow_write": True})
        assert (data_dir / "engine.duckdb.wal").exists(), "expected uncheckpointed changes"
        job = await sidecar.call("jobs.submit", {"type": "export", "payload": {"sql": LONG_QUERY}})
        await notes.status(job["job_id"], "running")
        if how == "system.shutdown":
            await sidecar.call("system.shutdown")
        elif how == "stdin EOF":
            await sidecar.close_stdin()
        else:
            sidecar.send_signal(signal.SIGTERM)
        assert await sidecar.wait(10) == 0, "\n".join(sidecar.stderr_tail(40))
        assert sidecar.shutdown is not None
        assert sidecar.shutdown.fields["reason"] == ("signal" if how == "SIGTERM" else "normal")
        interrupted = await notes.status(job["job_id"], "failed", timeout=1)
        assert interrupted.params["error"]["kind"] == "interrupted"
        requeued = interrupted.params["requeued_as"]  # an export is idempotent: queued again
        assert requeued
    assert not (data_dir / "engine.duckdb.wal").exists(), "DuckDB was not checkpointed at shutdown"
    with duckdb.connect(str(data_dir / "engine.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM t").fetchone() == (1000,)
    if how == "SIGTERM":  # once is enough: the re-queued export runs at the next start
        async with running_sidecar(data_dir) as sidecar, collecting(sidecar) as notes:
            await sidecar.call("jobs.list")
            await notes.status(requeued, "running")
            record = await sidecar.call("jobs.get", {"job_id": requeued})
            assert record["retry_of"] == job["job_id"]
            assert (await sidecar.call("jobs.cancel", {"job_id": requeued}))["canceled"] is True
