"""SIGKILL in the middle of an ingest: committed tables survive, the job is marked interrupted.

The ingest runs in one DuckDB transaction, so the killed replace of ``sales``
never commits; the next start replays DuckDB's WAL (dropping the
uncommitted work), and the engine's recovery turns the job the dead process
left ``running`` into ``failed`` with kind ``interrupted``, announced by a
``job.status`` notification.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.fixtures.engine.support import collecting, write_csv
from tests.support import running_sidecar, wait_gone

pytestmark = pytest.mark.anyio


async def test_sigkill_mid_ingest_then_restart(data_dir: Path, tmp_path: Path) -> None:
    small = write_csv(tmp_path / "small.csv", 10)
    big = tmp_path / "big"
    big.mkdir()
    for index in range(8):
        write_csv(big / f"chunk-{index}.csv", 250_000, offset=index * 250_000)

    async with running_sidecar(data_dir) as sidecar, collecting(sidecar) as notes:
        await sidecar.grant(tmp_path, "write")  # the test's files live outside the data dir
        for table in ("keep", "sales"):
            job = await sidecar.call(
                "jobs.submit", {"type": "ingest", "payload": {"source": str(small), "table": table}}
            )
            assert (await notes.finished(job["job_id"])).params["status"] == "succeeded"
        doomed = await sidecar.call(
            "jobs.submit", {"type": "ingest", "payload": {"source": str(big / "*.csv"), "table": "sales"}}
        )
        moving = await notes.wait(
            lambda n: (
                n.method == "job.progress" and n.params["job_id"] == doomed["job_id"] and n.params["progress"] > 0
            ),
            timeout=30,
        )
        assert moving.params["progress"] < 1.0, "the ingest finished before it could be killed"
        pid = sidecar.pid
        os.killpg(pid, signal.SIGKILL)  # the whole group: a onefile bootstrap's child too
        assert await sidecar.wait(10) == -signal.SIGKILL
        assert sidecar.boot is not None
        assert wait_gone([int(sidecar.boot.fields["pid"])], 5) == []
        finished = [n for n in notes.of("job.status", doomed["job_id"]) if n.params["status"] != "running"]
        assert [n.params["status"] for n in finished] == ["queued"], "the job ended before the kill"

    async with running_sidecar(data_dir) as sidecar, collecting(sidecar) as notes:
        # No engine call yet: the engine starts itself after READY because a job store exists.
        recovered = await notes.status(doomed["job_id"], "failed", timeout=5)
        listed = await sidecar.call("jobs.list")
        assert recovered.params["previous"] == "running" and recovered.params["recovered"] is True
        assert (
            recovered.params["error"]["kind"] == "interrupted" and recovered.params["error"]["class"] == "interrupted"
        )
        record = await sidecar.call("jobs.get", {"job_id": doomed["job_id"]})
        assert record["status"] == "failed" and record["error"]["kind"] == "interrupted"
        assert {job["job_id"]: job["status"] for job in listed["jobs"]}[doomed["job_id"]] == "failed"
        # Committed tables are intact; the uncommitted replace left no trace.
        for table in ("keep", "sales"):
            rows = await sidecar.call("db.query", {"sql": f"SELECT count(*), min(id), max(id) FROM {table}"})
            assert rows["rows"] == [[10, 0, 9]], (table, rows)
        tables = await sidecar.call("db.tables")
        assert sorted(t["name"] for t in tables["tables"]) == ["keep", "sales"]
        status = await sidecar.call("system.status")
        assert status["jobs_by_status"]["failed"] == 1 and status["jobs_by_status"]["succeeded"] == 2
        assert status["jobs_by_status"]["running"] == 0
